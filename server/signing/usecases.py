"""Signing the agreement from a phone: a one-time code, the handwritten mark, a PAdES signature.

1. The mediator **opens signing** on the current draft: every signer's field is
   created in the PDF at once, each locked (``e_sign.pades.prepare_signature_fields``),
   and that file becomes the first ``agreement_signing`` document; the life cycle
   records the signers (the mediator last) and the deadline.
2. A signer asks for a **one-time code**, sent to their registered phone (or
   e-mail) through the notifier. Only an HMAC of the code is stored (under a key
   derived for codes alone, ``server.identity.keys``); it expires after
   :data:`CODE_TTL`, allows :data:`MAX_ATTEMPTS` tries, is spent by the one
   request that matches (a conditional UPDATE), and a new code voids the old.
   The code is bound to the SHA-256 of the signing file it was sent for, which the
   message names (title and the first 8 hex digits): it signs that file, or that
   file with other signers' signatures appended, and nothing else.
   Limits per signer, decided by the store so that they hold across nodes and
   requests at the same moment: one code a minute (:data:`RESEND_AFTER`),
   :data:`MAX_CODES_PER_DAY` codes and :data:`MAX_WRONG_PER_DAY` wrong guesses a
   day (Beijing time); past them, ``429 too_many_attempts`` names the time to try
   again (and ``Retry-After``), and reaching a daily cap is an audit entry.
3. The signer **signs** with the code and their mark: the server adds their PAdES
   B-T signature (a fresh event certificate from the platform CA, the platform's
   timestamp) to the newest signed file as an incremental update, stores it, and
   the life cycle records the signature. Two signers at the same moment: each
   stores under the case's version lock, so the later one re-reads the file with
   the earlier signature in it and signs that one; both end up in the PDF.
   A crash between storing and recording leaves the signature in the file; the
   signer's retry records it without signing twice.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import io
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from e_sign.ca import PlatformCA
from e_sign.tsa import InProcessTimeStamper, TimestampAuthority
from server.agreement.usecases import TERMS_KIND
from server.cases.usecases import CaseService, document_view
from server.documents.marks import read_mark
from server.domain import lifecycle as lc
from server.domain.codes import (
    MAX_ATTEMPTS,
    MAX_CODES_PER_DAY,
    MAX_WRONG_PER_DAY,
    check_usable,
    code_refusal,
    code_rule,
    next_day,
)
from server.domain.roles import Action, Role, role_name
from server.domain.time import BEIJING
from server.errors import (
    ConcurrentUpdate,
    DeliveryFailed,
    Forbidden,
    InvalidCommand,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from server.identity.access import Principal
from server.notify import Message, Notifier, mask_address
from server.signing.store import NewSigningCode, SigningCodeStore
from server.store.repository import AuditRecord, DocumentRecord

logger = logging.getLogger(__name__)

SIGNING_KIND = "agreement_signing"
CODE_TTL = timedelta(minutes=5)
PREFIX_CACHE = 1024
TSA_TIMEOUT_S = 10
CERTIFICATE_KIND = "signing_certificate"


@dataclass(frozen=True)
class Keys:
    """What signing needs from the platform: its CA and timestamp authority (``e_sign``)."""

    ca: PlatformCA
    """The platform CA."""
    tsa: TimestampAuthority
    """The platform's own timestamp authority (:class:`e_sign.tsa.TimestampAuthority`); it also serves
    ``POST /api/v1/tsa``."""
    tsa_url: str = ""
    """An external RFC 3161 timestamp authority to use instead of the platform's own ("" for our own)."""
    tsa_roots: tuple[x509.Certificate, ...] = ()
    """Certificates (``cryptography``) the external authority's tokens chain to: trusted when verifying."""
    courts_dir: Path | None = None
    """Where each court's own signing CA lives (one folder per court); None: no court keys."""

    def court_ca(self, court: str, now: datetime) -> PlatformCA:
        """The court's own CA (its key signs the court's rulings), created the first time it is needed."""
        if self.courts_dir is None:
            raise InvalidCommand("No folder for court keys is configured")
        folder = self.courts_dir / hashlib.sha256(court.encode()).hexdigest()[:16]
        return PlatformCA.load_or_create(folder, now, name=court)

    def court_roots(self) -> list[x509.Certificate]:
        """Every court CA certificate there is."""
        if self.courts_dir is None or not self.courts_dir.exists():
            return []
        return [x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(self.courts_dir.glob("*/ca.pem"))]

    def timestamper(self) -> TimeStamper:
        """The pyHanko time-stamper for a new signature: the external authority over HTTP, or our own."""
        if self.tsa_url:
            return HTTPTimeStamper(self.tsa_url, timeout=TSA_TIMEOUT_S)
        return InProcessTimeStamper(self.tsa)

    @property
    def trust_roots(self) -> list[x509.Certificate]:
        """What a signature made here must chain to: the platform CA, and an external TSA's roots."""
        return [self.ca.certificate, *self.tsa_roots, *self.court_roots()]


class SigningService:
    """Opens signing, sends codes, adds signatures."""

    def __init__(
        self, cases: CaseService, keys: Keys, notifier: Notifier, secret: bytes, codes: SigningCodeStore
    ) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.codes = codes
        """The one-time codes and their limits."""
        self.keys = keys
        self.notifier = notifier
        self.secret = secret
        """The key of the stored code hashes (derived for codes alone: never the token key)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._prefixes: dict[tuple[str, str], bool] = {}  # (file, longer file) -> longer one extends it

    # ------------------------------------------------------------------ helpers

    async def _terms(self, case_id: str) -> dict[str, Any]:
        docs = [d for d in await self.repo.documents(case_id) if d.kind == TERMS_KIND]
        if not docs:
            raise NotFound("No draft of the agreement")
        versions = [json.loads(await self.cases.blobs.get(d.sha256)) for d in docs]  # few; times may tie
        stored: dict[str, Any] = max(versions, key=lambda v: int(v["version"]))
        return stored

    async def _current(self, case_id: str) -> DocumentRecord:
        """The newest file of the signing round on the current draft.

        Each round's files start with its draft's bytes (the fields, then each signature, are
        incremental updates), and the version lock keeps the chain linear: the newest is the longest
        that extends the current draft. A round on an earlier draft (expired, then redrafted and
        re-opened) may hold longer files: they extend another draft and are never taken for this one.
        """
        documents = await self.repo.documents(case_id)
        docs = [d for d in documents if d.kind == SIGNING_KIND]
        if not docs:
            raise NotFound("Signing has not been opened")
        terms = await self._terms(case_id)
        draft = next((d for d in documents if d.id == terms.get("pdf_document_id")), None)
        ours = [d for d in docs if draft is not None and await self._extends(draft, d)]
        if not ours:
            raise NotFound("Signing has not been opened on the current draft")
        return max(ours, key=lambda d: (d.size, d.created_at))

    async def _extends(self, base: DocumentRecord, doc: DocumentRecord) -> bool:
        """Whether ``doc`` is ``base`` with updates appended (its first ``base.size`` bytes are ``base``)."""
        if doc.sha256 == base.sha256:
            return True
        if doc.size <= base.size:
            return False
        key = (base.sha256, doc.sha256)  # content addresses: the answer never changes
        if key not in self._prefixes:
            head = (await self.cases.blobs.get(doc.sha256))[: base.size]
            if len(self._prefixes) >= PREFIX_CACHE:
                del self._prefixes[next(iter(self._prefixes))]
            self._prefixes[key] = hashlib.sha256(head).hexdigest() == base.sha256
        return self._prefixes[key]

    def _hash(self, code_id: str, code: str) -> str:
        return hmac.new(self.secret, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ the mediator

    async def open(self, principal: Principal, case_id: str, hours: int, now: datetime) -> dict[str, Any]:
        """Prepare every signer's field on the current draft and start collecting signatures."""
        from e_sign.pades import prepare_signature_fields
        from server.documents.pdf import SignatureBox

        await self.cases.require(principal, case_id, Action.DRAFT_AGREEMENT)
        if not 1 <= hours <= 24 * 30:
            raise InvalidCommand("The signing deadline is 1 hour to 30 days away")
        terms = await self._terms(case_id)
        signers = [s["participant_id"] for s in terms["signers"]]
        deadline = now + timedelta(hours=hours)
        loaded = await self.repo.load_case(case_id)
        lc.apply(loaded.case, lc.OpenSigning(tuple(signers), deadline), now)  # refused before anything is stored
        draft = next(d for d in await self.repo.documents(case_id) if d.id == terms["pdf_document_id"])
        boxes = [
            SignatureBox(s["participant_id"], s["role"], int(s["page"]), tuple(s["box"])) for s in terms["signers"]
        ]
        prepared = await asyncio.to_thread(prepare_signature_fields, await self.cases.blobs.get(draft.sha256), boxes)
        doc = await self.cases.add_made_document(
            principal,
            case_id,
            prepared,
            kind=SIGNING_KIND,
            title=f"调解协议书（第 {terms['version']} 稿，签署中）",
            media_type="application/pdf",
            visibility="parties",
            now=now,
        )
        await self.cases.execute(
            principal, case_id, lc.OpenSigning(tuple(signers), deadline), Action.DRAFT_AGREEMENT, now
        )
        return {"document": document_view(doc), "signers": signers, "deadline": deadline.isoformat()}

    # ------------------------------------------------------------------ signers

    async def _signer(self, principal: Principal, case_id: str) -> tuple[str, lc.Case, str]:
        """Whose block the caller signs, the case, and who acts: the signer, or their agent.

        An agent (代理人) the mediator added for a party signs that party's block with their own
        phone or e-mail; the signature's certificate names the agent, acting for the party.
        """
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        case = (await self.repo.load_case(case_id)).case
        if case.signing is None:
            raise Forbidden("You are not a signer of this agreement")
        if access.participant_id in case.signing.signers:
            return access.participant_id, case, access.participant_id
        if access.role is Role.AGENT:
            agent = await self.repo.participant(access.participant_id)
            if agent.represents in case.signing.signers:
                return agent.represents, case, agent.id
        raise Forbidden("You are not a signer of this agreement")

    async def send_code(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """Send the signer a one-time code to their registered phone (or e-mail)."""
        _block, case, pid = await self._signer(principal, case_id)  # codes go to whoever acts
        if case.state is not lc.CaseState.SIGNING:
            raise InvalidCommand("The agreement is not open for signing")
        channel, to = await self._contact(principal, pid)
        if not to:
            raise InvalidCommand("No phone number or e-mail address is registered for you: ask the mediator")
        document = await self._current(case_id)  # the file this code signs
        code = f"{secrets.randbelow(10**6):06d}"
        code_id = str(uuid.uuid4())
        new = NewSigningCode(
            code_id, case_id, pid, self._hash(code_id, code), channel, now, now + CODE_TTL, document.sha256
        )
        stored, limits = await self.codes.add_signing_code(new, code_rule(now))
        if not stored:
            raise code_refusal(limits, now)
        text = (
            f"您的调解协议签署验证码为 {code}，{int(CODE_TTL.total_seconds() // 60)} 分钟内有效，"
            f"仅用于签署《{document.title}》（文件 SHA-256 前 8 位 {document.sha256[:8]}），请勿告诉他人。"
        )
        try:
            await self.notifier.send(
                Message(channel, to, f"案件 {case.number} 签署验证码", text, now, kind="signing_code")
            )
        except DeliveryFailed as exc:
            # the undelivered code is void and not counted, so the signer may ask again at once
            await self.codes.void_signing_code(new, now)
            if exc.permanent:
                raise InvalidCommand(f"The code could not be delivered: {exc}; ask the mediator") from exc
            raise ServiceUnavailable(f"The code could not be delivered now: {exc}; try again later") from exc
        if limits is not None and limits.codes_sent >= MAX_CODES_PER_DAY:
            await self._limit_reached(principal, case_id, pid, "signing.code_limit_reached", MAX_CODES_PER_DAY, now)
        return {"channel": channel, "to": mask_address(channel, to), "expires_at": (now + CODE_TTL).isoformat()}

    async def _contact(self, principal: Principal, pid: str) -> tuple[str, str | None]:
        """Where the signer's codes go: their phone, else their e-mail (a mediator's are on their account)."""
        holder: Any = await self.cases.accounts.account(principal.subject_id) if principal.is_account else None
        if holder is None or not (holder.phone or holder.email):
            holder = await self.repo.participant(pid)
        return ("sms", holder.phone) if holder.phone else ("email", holder.email)

    async def _verify_with(self, principal: Principal, pid: str) -> str:
        """``code`` for everyone with a phone or e-mail on record; a mediator without one uses the password."""
        if not principal.is_account:
            return "code"
        _channel, to = await self._contact(principal, pid)
        return "code" if to else "password"

    async def sign(
        self, principal: Principal, case_id: str, code: str | None, password: str | None, mark_b64: str, now: datetime
    ) -> dict[str, Any]:
        """Check the code (a party) or the password (the mediator's account), add the signature, record it."""
        pid, case, acting = await self._signer(principal, case_id)
        mark = read_mark(mark_b64)
        lc.apply(case, lc.RecordSignature(pid), now)  # not your turn, already signed, deadline: refused first
        if await self._verify_with(principal, acting) == "password":
            await self._password(principal, password)
            channel, bound = "password", None
        else:
            channel, bound = await self._code(principal, case_id, acting, code, now)
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            out = await self._add_signature(principal, case_id, pid, acting, mark, channel, now, bound)
        if out["state"] != lc.CaseState.SIGNING.value:  # the last signature: the agreement is signed
            certificate = await self._certificate_if_possible(case_id, now)
            out["certificate"] = document_view(certificate) if certificate else None
        return out

    async def _certificate_if_possible(self, case_id: str, now: datetime) -> DocumentRecord | None:
        """The certificate, or None (logged) when the timestamp authority is away: the next status makes it."""
        from e_sign import TimestampError

        try:
            return await self.certificate(case_id, now)
        except TimestampError:
            logger.warning("completion certificate postponed: the timestamp authority did not answer")
            return None

    async def _password(self, principal: Principal, password: str | None) -> None:
        """A mediator signs with their account: the password again, throttled like a login."""
        if not password:
            raise Unauthenticated("Enter your password to sign")
        account = await self.cases.accounts.account(principal.subject_id)
        if not await self.cases.auth.throttle.verify(account.username, password, account.password_hash):
            raise Unauthenticated("Wrong password")

    async def _code(
        self, principal: Principal, case_id: str, pid: str, code: str | None, now: datetime
    ) -> tuple[str, DocumentRecord]:
        """A party proves control of their phone or e-mail: the newest code, unexpired, unused, within tries
        (the code's and the day's), sent for the file being signed. The channel, and the file it was sent for."""
        if not code:
            raise Forbidden("Enter the code that was sent to you")
        latest = check_usable(await self.codes.latest_signing_code(case_id, pid), now)
        bound = await self._bound_file(case_id, latest["document_sha256"])
        rule = code_rule(now)
        counted = await self.codes.count_code_guess(case_id, pid, rule)  # a wrong guess until shown right
        if counted is None:
            raise code_refusal(await self.codes.code_limits(case_id, pid), now)
        matched = hmac.compare_digest(latest["code_hash"], self._hash(latest["id"], code.strip()))
        if not await self.codes.spend_signing_code(latest["id"], matched, now, MAX_ATTEMPTS, counted_on=rule.day):
            if counted.wrong_guesses >= MAX_WRONG_PER_DAY:
                await self._limit_reached(
                    principal, case_id, pid, "signing.guess_limit_reached", MAX_WRONG_PER_DAY, now
                )
            raise Forbidden("The code is wrong" if not matched else "The code was already used")
        return str(latest["channel"]), bound

    async def _bound_file(self, case_id: str, sha256: str | None) -> DocumentRecord:
        """The signing file a code was sent for, if the file to be signed now still extends it."""
        changed = Forbidden("The agreement to sign is not the one the code was sent for: ask for a new code")
        current = await self._current(case_id)
        docs = [d for d in await self.repo.documents(case_id) if d.kind == SIGNING_KIND and d.sha256 == sha256]
        if not docs or not await self._extends(docs[0], current):
            raise changed
        return docs[0]

    async def _limit_reached(
        self, principal: Principal, case_id: str, pid: str, action: str, limit: int, now: datetime
    ) -> None:
        """An audit entry when a signer reaches a daily cap (once a day and cap: the request that reaches it)."""
        details = {"participant_id": pid, "limit": limit, "until": next_day(now).isoformat()}
        await self.repo.record(case_id, [AuditRecord(principal.actor, action, details)], now)
        logger.warning("[case=%s] %s for participant %s", case_id, action, pid)

    async def _add_signature(
        self,
        principal: Principal,
        case_id: str,
        pid: str,
        acting: str,
        mark: bytes,
        channel: str,
        now: datetime,
        bound: DocumentRecord | None = None,
    ) -> dict[str, Any]:
        """Sign the newest file (one that extends ``bound``, the file the code was sent for) and record it."""
        from e_sign import TimestampError
        from e_sign.ca import SignerIdentity
        from e_sign.pades import sign_pdf
        from server.documents.fonts import signature_font
        from server.documents.pdf import SignatureBox

        participant = await self.repo.participant(pid)
        address = (await self._contact(principal, acting))[1] if channel != "password" else None
        verified: dict[str, str] = {"channel": channel, "to": mask_address(channel, address) if address else ""}
        name, role = participant.display_name, None
        if acting != pid:  # an agent signs the party's block: the certificate names the agent
            agent = await self.repo.participant(acting)
            name, role = f"{agent.display_name}（代理{participant.display_name}）", "代理人"
            verified["agent_id"] = agent.id
        terms = await self._terms(case_id)
        place = next(s for s in terms["signers"] if s["participant_id"] == pid)
        field = SignatureBox(pid, "", int(place["page"]), tuple(place["box"])).field_name  # as opened
        for _attempt in range(10):
            loaded = await self.repo.load_case(case_id)
            current = await self._current(case_id)
            if bound is not None and not await self._extends(bound, current):
                raise Forbidden("The agreement to sign is not the one the code was sent for: ask for a new code")
            pdf = await self.cases.blobs.get(current.sha256)
            if field in await asyncio.to_thread(_signed_fields, pdf):
                break  # signed and stored before a crash: only the record is missing
            number = loaded.case.number
            final = loaded.case.signing is not None and pid == loaded.case.signing.signers[-1]
            font = await asyncio.to_thread(signature_font)  # the documents' face, looked up once
            try:
                signed: bytes = await asyncio.to_thread(
                    functools.partial(
                        sign_pdf,
                        pdf,
                        field_name=field,
                        page=int(place["page"]),
                        box=tuple(place["box"]),
                        signer=SignerIdentity(acting, name, number, role or place["role"]),
                        ca=self.keys.ca,
                        timestamper=self.keys.timestamper(),
                        mark_png=mark,
                        reason="本人已阅读并同意本调解协议",
                        location="在线调解平台",
                        now=now.astimezone(BEIJING),  # the mark's printed time, in the signers' time zone
                        final=final,
                        font=font,
                    )
                )
            except TimestampError as exc:
                # the code is spent, but nothing was signed: the signer asks for a new code and tries again
                raise ServiceUnavailable("The timestamp authority did not answer: try again in a minute") from exc
            ref = await self.cases.blobs.put(signed)
            doc = DocumentRecord(
                str(uuid.uuid4()),
                case_id,
                SIGNING_KIND,
                f"调解协议书（第 {terms['version']} 稿）" if final else current.title,
                ref.sha256,
                ref.size,
                "application/pdf",
                "parties",
                now,
                principal.actor,
            )
            records = [
                AuditRecord(
                    principal.actor,
                    "document.added",
                    {"document_id": doc.id, "kind": SIGNING_KIND, "sha256": ref.sha256, "size": ref.size},
                ),
                AuditRecord(
                    principal.actor,
                    "signature.added",
                    {"participant_id": pid, "field": field, "document_id": doc.id, **verified},
                ),
            ]
            try:
                await self.repo.add_document(loaded, doc, records)  # under the case's version lock
                break
            except ConcurrentUpdate:
                continue  # someone signed meanwhile: sign their file instead
        else:
            raise ConcurrentUpdate("The agreement kept changing while signing; try again")
        loaded_case = await self.cases.execute(principal, case_id, lc.RecordSignature(pid), Action.READ_CASE, now)
        current = await self._current(case_id)
        return {"document": document_view(current), "state": loaded_case.case.state.value}

    async def status(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """Who signs, who signed when, the newest file and, once everyone has signed, the certificate."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        case = (await self.repo.load_case(case_id)).case
        if case.signing is None:
            raise NotFound("Signing has not been opened")
        names = {p.id: p for p in await self.repo.participants(case_id)}
        current = await self._current(case_id)
        complete = len(case.signing.signed) == len(case.signing.signers)
        certificate = await self._certificate_if_possible(case_id, now) if complete else None  # after a crash too
        you = access.participant_id
        if access.role is Role.AGENT and you not in case.signing.signers:
            agent = await self.repo.participant(you)
            you = agent.represents if agent.represents in case.signing.signers else you
        return {
            "state": case.state.value,
            "deadline": case.signing.deadline.isoformat(),
            "document": document_view(current),
            "certificate": document_view(certificate) if certificate else None,
            "you": {
                "participant_id": you,
                "signer": you in case.signing.signers,
                "signed": you in case.signing.signed,
                "verify_with": await self._verify_with(principal, access.participant_id)
                if you in case.signing.signers
                else "code",
                "acting_for": you if you != access.participant_id else None,
            },
            "signers": [
                {
                    "participant_id": s,
                    "name": names[s].display_name if s in names else "",
                    "role": names[s].role.value if s in names else "",
                    "signed_at": case.signing.signed[s].isoformat() if s in case.signing.signed else None,
                }
                for s in case.signing.signers
            ],
        }

    async def certificate(self, case_id: str, now: datetime) -> DocumentRecord:
        """The completion certificate of a fully signed agreement: made once, signed by the platform."""
        for _attempt in range(5):
            existing = [d for d in await self.repo.documents(case_id) if d.kind == CERTIFICATE_KIND]
            if existing:
                return existing[0]
            loaded = await self.repo.load_case(case_id)
            signing = loaded.case.signing
            if signing is None or len(signing.signed) != len(signing.signers):
                raise InvalidCommand("The agreement is not signed by everyone yet")
            pdf = await self._certificate_pdf(loaded.case, now)
            ref = await self.cases.blobs.put(pdf)
            doc = DocumentRecord(
                str(uuid.uuid4()),
                case_id,
                CERTIFICATE_KIND,
                "电子签署完成证明",
                ref.sha256,
                ref.size,
                "application/pdf",
                "parties",
                now,
                "system",
            )
            record = AuditRecord(
                "system",
                "document.added",
                {"document_id": doc.id, "kind": CERTIFICATE_KIND, "sha256": ref.sha256, "size": ref.size},
            )
            try:
                await self.repo.add_document(loaded, doc, [record])
                return doc
            except ConcurrentUpdate:
                continue  # another request made it (or the case moved on): look again
        raise ConcurrentUpdate("The case kept changing while the certificate was made; try again")

    async def _certificate_pdf(self, case: lc.Case, now: datetime) -> bytes:
        from e_sign.verify import verify_pdf
        from server.documents.sealed import render_sealed
        from server.signing.certificate import (
            CertificateFacts,
            SignedBy,
            render_certificate,
        )

        assert case.signing is not None
        final = await self._current(case.id)
        pdf = await self.cases.blobs.get(final.sha256)
        report = await asyncio.to_thread(verify_pdf, pdf, self.keys.trust_roots)
        entries, _head = await self.repo.audit_trail(case.id)
        added = [e.details_dict() for e in entries if e.action == "signature.added"]
        verified: dict[str, dict[str, Any]] = {str(d["participant_id"]): d for d in added}
        names = {p.id: p for p in await self.repo.participants(case.id)}
        terms = await self._terms(case.id)
        fields = {s["participant_id"]: f"Signature_{s['participant_id']}" for s in terms["signers"]}
        checks = {c.field_name: c for c in report.signatures}
        agent_of = {p: str(d["agent_id"]) for p, d in verified.items() if d.get("agent_id")}
        signers = []
        for pid in case.signing.signers:
            check = checks.get(fields.get(pid, ""))
            person = names.get(pid)
            signers.append(
                SignedBy(
                    name=_signed_by(person.display_name if person else pid, names.get(agent_of.get(pid, ""))),
                    role=role_name(person.role) if person else "",
                    signed_at=case.signing.signed[pid],
                    channel=str(verified.get(pid, {}).get("channel", "")),
                    to=str(verified.get(pid, {}).get("to", "")),
                    timestamp_time=check.timestamp_time if check else None,
                    valid=bool(check and check.ok),
                )
            )
        problems = list(report.reasons) + [
            f"{s.name}：文件中没有该签署人的签名"
            for s, pid in zip(signers, case.signing.signers, strict=True)
            if fields.get(pid) not in checks
        ]
        facts = CertificateFacts(
            case_number=case.number,
            case_title=case.title,
            document_title=f"调解协议书（第 {terms['version']} 稿）",
            document_id=final.id,
            sha256=final.sha256,
            size=final.size,
            revisions=report.revisions,
            signers=signers,
            problems=problems,
            issued_at=now,
        )
        return await render_sealed(render_certificate, facts, self.keys, case.number, "签署完成证明", now)


def _signed_by(name: str, agent: Any) -> str:
    """The signer as the certificate names them: the party, and the agent who signed for them."""
    return f"{name}（由代理人{agent.display_name}代签）" if agent is not None else name


def _signed_fields(pdf: bytes) -> set[str]:
    """The names of the fields that already hold a signature (read, not validated: cheap)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    return {s.field_name for s in PdfFileReader(io.BytesIO(pdf), strict=False).embedded_regular_signatures}
