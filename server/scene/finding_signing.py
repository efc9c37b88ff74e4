"""Both drivers sign the electronic accident finding on their phones: a one-time code by SMS, their mark,
a PAdES signature.

1. **Issued** the first time anyone of the report asks for it once the officer made the finding (state
   FOUND): rendered in a worker thread (:mod:`server.scene.finding`, its hash recorded), every signature
   field created at once and locked (``e_sign.pades.prepare_signature_fields``: the unit's seal, driver 1,
   driver 2, each ``/P 2`` since the drivers sign in any order), then certified for the police unit by the
   platform (``server.documents.sealed.seal``: the first signature, a certification that allows only
   filling in the drivers' fields). Two requests issuing at once: the store keeps one, the other re-reads.
2. A driver asks for a **one-time code**, sent to the phone on their part of the report through the
   notifier. As for the agreement (``server.signing``): only an HMAC is stored (key
   ``server.identity.keys.FINDING_CODES``), 5 minutes, 5 tries, one a minute, 10 codes and 20 wrong guesses
   a Beijing day, decided by the store's conditional UPDATEs; the code is bound to the file it was sent for.
3. The driver **signs** with the code and a handwritten mark (PNG): a PAdES B-T signature with a fresh event
   certificate from the platform CA and the platform's time-stamp, appended to the newest file. Both drivers
   at once: each stores its file at the next place of the chain (the store's version check), the later one
   re-reads the file with the earlier signature and signs that; both end up in the PDF. The second signature
   completes the finding: the store records the signed file. Each signature is told to the report
   (:meth:`SceneAccess.record_signed`, the scene stage's hook), which moves to SIGNED with the second; a crash
   between storing and telling is mended by the next :meth:`FindingService.status`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from server.documents.marks import read_mark
from server.documents.sealed import SealingKeys
from server.domain.codes import MAX_ATTEMPTS, check_usable, code_refusal, code_rule
from server.domain.roles import AccountKind
from server.domain.scene import SceneReport, SceneState
from server.domain.time import BEIJING
from server.errors import (
    DeliveryFailed,
    Forbidden,
    IllegalTransition,
    InvalidCommand,
    NotFound,
    ServiceUnavailable,
)
from server.identity.access import Principal
from server.notify import Message, Notifier, mask_address
from server.organisations.store import OrganisationStore
from server.scene.finding import DRIVER_LABELS, POLICE_SIGNER, driver_field, finding_facts, render_finding
from server.scene.finding_store import FindingFile, FindingRecord, FindingStore, NewCode
from server.store.accounts import AccountStore
from server.store.blobs import BlobStore

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
SIGN_RETRIES = 10
REASON = "本人已阅读本道路交通事故认定书"
LOCATION = "交通事故快处快赔"
FINDING_STATES = frozenset({SceneState.FOUND, SceneState.SIGNED, SceneState.MEDIATION, SceneState.CLOSED})
"""States in which a report may have its finding document (CLOSED: if one was issued before)."""


@dataclass(frozen=True)
class Asker:
    """Who asks about a report's finding, as :class:`SceneReports` found them."""

    report: SceneReport
    """The report, as loaded for this request."""
    driver: int | None
    """Their driver number (a scene link of this report); None: an officer of the report's police unit."""


class SceneAccess(Protocol):
    """What the finding needs of the scene stage (:class:`server.scene.usecases.SceneService` is one)."""

    async def load(self, report_id: str) -> SceneReport:
        """The report as stored; NotFound."""
        ...

    async def record_signed(self, report_id: str, driver: int, document_id: str, now: datetime) -> SceneReport:
        """Driver ``driver`` signed the finding (``document_id``: here the signed file's SHA-256); when both
        have, the report moves FOUND → SIGNED. IllegalTransition once it is no longer FOUND."""
        ...


class Names(Protocol):
    """Who the document names as its makers (:class:`SceneReports` is one)."""

    async def names(self, report: SceneReport) -> tuple[str, str]:
        """(the police unit's name, the finding officer's name)."""
        ...


class SceneReports:
    """Who may see and sign a report's finding: its drivers (by their scene link) and its unit's officers."""

    def __init__(self, scenes: SceneAccess, accounts: AccountStore, organisations: OrganisationStore) -> None:
        self.scenes = scenes
        self.accounts = accounts
        self.organisations = organisations

    async def driver(self, driver_id: str, report_id: str) -> Asker:
        """A driver whose scene link (already checked to open ``report_id``) names ``driver_id``."""
        report = await self.scenes.load(report_id)
        for d in report.drivers:
            if d.id == driver_id:
                return Asker(report, d.number)
        raise NotFound("No such scene report")

    async def officer(self, principal: Principal, report_id: str) -> Asker:
        """An officer of the report's police unit; 403 for other accounts, 404 for officers of other units."""
        if not principal.is_account or principal.account_kind is not AccountKind.POLICE_OFFICER:
            raise Forbidden("Only traffic police officers follow the signing of accident findings")
        account = await self.accounts.account(principal.subject_id)
        report = await self.scenes.load(report_id)
        if not account.organisation_id or report.police_unit_id != account.organisation_id:
            raise NotFound("No such scene report")
        return Asker(report, None)

    async def names(self, report: SceneReport) -> tuple[str, str]:
        """(the police unit's name, the finding officer's name) as the document prints them."""
        unit = (await self.organisations.get(report.police_unit_id)).name
        officer_id = report.finding.officer_account_id if report.finding is not None else None
        officer = (await self.accounts.account(officer_id)).display_name if officer_id else ""
        return unit, officer


class FindingService:
    """Issues the finding document, sends the drivers' codes, adds their signatures."""

    def __init__(
        self,
        scenes: SceneAccess,
        names: Names,
        store: FindingStore,
        blobs: BlobStore,
        keys: SealingKeys,
        notifier: Notifier,
        secret: bytes,
    ) -> None:
        self.scenes = scenes
        self.names = names
        self.store = store
        self.blobs = blobs
        self.keys = keys
        self.notifier = notifier
        self.secret = secret
        """The key of the stored code hashes (``server.identity.keys.FINDING_CODES``)."""
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ the document

    async def _finding(self, report: SceneReport, now: datetime) -> FindingRecord:
        """The report's finding document, issued now if the finding was made and it has none yet."""
        if report.state not in FINDING_STATES:
            raise NotFound("The liability finding has not been made yet")
        existing = await self.store.finding(report.id)
        if existing is not None:
            return existing
        if report.state is not SceneState.FOUND:
            raise NotFound("This report has no electronic accident finding")
        lock = self._locks.setdefault(report.id, asyncio.Lock())
        async with lock:
            existing = await self.store.finding(report.id)
            if existing is not None:
                return existing
            rendered, certified = await self._issue(report, now)
            ref = await self.blobs.put(certified)
            first = FindingFile(0, ref.sha256, ref.size, None, now)
            if await self.store.issue(report.id, hashlib.sha256(rendered).hexdigest(), first, now):
                logger.info("[report=%s] accident finding issued (%d bytes)", report.id, ref.size)
        found = await self.store.finding(report.id)
        assert found is not None  # issued here or by the request that won
        return found

    async def _issue(self, report: SceneReport, now: datetime) -> tuple[bytes, bytes]:
        """(the rendered PDF, the certified PDF with the drivers' fields)."""
        from e_sign.pades import prepare_signature_fields
        from server.documents.sealed import seal

        unit, officer = await self.names.names(report)
        rendered, boxes = await asyncio.to_thread(render_finding, finding_facts(report, unit, officer))
        prepared = await asyncio.to_thread(
            functools.partial(prepare_signature_fields, rendered, boxes, lock_last=False)
        )
        police = next(b for b in boxes if b.signer_id == POLICE_SIGNER)
        signer = (report.police_unit_id, unit, "交通事故认定")
        certified = await seal(self.keys, prepared, police, report.number, "道路交通事故认定", now, signer)
        return rendered, certified

    async def document(self, asker: Asker, now: datetime) -> tuple[FindingFile, bytes]:
        """The newest file of the finding (signed by whoever has signed) and its bytes."""
        newest = (await self._finding(asker.report, now)).newest
        return newest, await self.blobs.get(newest.sha256)

    async def status(self, asker: Asker, now: datetime) -> dict[str, Any]:
        """Who signed when, the newest file, and whether the finding is complete."""
        report, you = asker.report, asker.driver
        record = await self._finding(report, now)
        signed_by = record.signed_by
        if report.state is SceneState.FOUND and set(signed_by) - set(report.signed_by):
            report = await self._record(report, record, now)  # a crash came between storing and recording
        return {
            "report_id": report.id,
            "number": report.number,
            "state": report.state.value,
            "you": you,
            "complete": record.signed_sha256 is not None,
            "rendered_sha256": record.rendered_sha256,
            "document": _file_view(record.newest),
            "drivers": [
                {
                    "number": d.number,
                    "label": DRIVER_LABELS.get(d.number, str(d.number)),
                    "name": d.name,
                    "signed_at": signed_by[d.number].isoformat() if d.number in signed_by else None,
                }
                for d in sorted(report.drivers, key=lambda d: d.number)
            ],
        }

    # ------------------------------------------------------------------ the drivers

    async def _record(self, report: SceneReport, record: FindingRecord, now: datetime) -> SceneReport:
        """Tell the report of every signature in the file it has not recorded yet."""
        by_driver = {f.driver: f for f in record.files if f.driver is not None}
        for number in sorted(set(by_driver) - set(report.signed_by)):
            try:
                report = await self.scenes.record_signed(report.id, number, by_driver[number].sha256, now)
            except IllegalTransition:  # recorded (and moved on) by the other driver's request meanwhile
                report = await self.scenes.load(report.id)
        return report

    @staticmethod
    def _driver(asker: Asker) -> tuple[SceneReport, int]:
        report, number = asker.report, asker.driver
        if number is None:
            raise Forbidden("Only the report's drivers sign the accident finding")
        if report.state is not SceneState.FOUND:
            raise IllegalTransition("sign the accident finding", report.state.value)
        return report, number

    def _hash(self, code_id: str, code: str) -> str:
        return hmac.new(self.secret, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()

    async def send_code(self, asker: Asker, now: datetime) -> dict[str, Any]:
        """Send the driver a one-time code by SMS to the phone on their part of the report."""
        report, number = self._driver(asker)
        record = await self._finding(report, now)
        if number in record.signed_by:
            raise IllegalTransition("ask for a code", "signed by you")
        phone = report.driver(number).phone
        if not phone:
            raise InvalidCommand("No phone number is on your part of the report")
        code = f"{secrets.randbelow(10**6):06d}"
        code_id = str(uuid.uuid4())
        new = NewCode(code_id, report.id, number, self._hash(code_id, code), now, now + CODE_TTL, record.newest.sha256)
        stored, limits = await self.store.add_code(new, code_rule(now))
        if not stored:
            raise code_refusal(limits, now)
        text = (
            f"您的道路交通事故认定书签字验证码为 {code}，{int(CODE_TTL.total_seconds() // 60)} 分钟内有效，"
            f"仅用于签署第 {report.number} 号认定书（文件 SHA-256 前 8 位 {record.newest.sha256[:8]}），请勿告诉他人。"
        )
        try:
            await self.notifier.send(
                Message("sms", phone, f"事故认定书 {report.number} 签字验证码", text, now, kind="finding_code")
            )
        except DeliveryFailed as exc:
            await self.store.void_code(new, now)  # void and not counted: the driver may ask again at once
            if exc.permanent:
                raise InvalidCommand(f"The code could not be delivered: {exc}") from exc
            raise ServiceUnavailable(f"The code could not be delivered now: {exc}; try again later") from exc
        return {"channel": "sms", "to": mask_address("sms", phone), "expires_at": (now + CODE_TTL).isoformat()}

    async def sign(self, asker: Asker, code: str, mark_b64: str, now: datetime) -> dict[str, Any]:
        """Check the driver's code, add their signature to the newest file, and complete the finding when
        both have signed. A driver who already signed gets 409 before their code is looked at."""
        report, number = self._driver(asker)
        mark = read_mark(mark_b64)
        record = await self._finding(report, now)
        if number in record.signed_by:
            raise IllegalTransition("sign the accident finding", "signed by you")
        bound = await self._code(report.id, number, code, now)
        lock = self._locks.setdefault(report.id, asyncio.Lock())
        async with lock:  # one node: no wasted signature; several nodes: the store's version check
            record = await self._add_signature(report, number, mark, bound, now)
        report = await self._record(await self.scenes.load(report.id), record, now)
        return await self.status(Asker(report, number), now)

    async def _code(self, report_id: str, number: int, code: str, now: datetime) -> str:
        """The driver proves they hold the phone: the newest code, unexpired, unused, within tries; the
        SHA-256 of the file it was sent for."""
        if not code:
            raise Forbidden("Enter the code that was sent to you")
        latest = check_usable(await self.store.latest_code(report_id, number), now)
        rule = code_rule(now)
        if await self.store.count_guess(report_id, number, rule) is None:
            raise code_refusal(await self.store.code_limits(report_id, number), now)
        matched = hmac.compare_digest(latest["code_hash"], self._hash(latest["id"], code.strip()))
        if not await self.store.spend_code(latest["id"], matched, now, MAX_ATTEMPTS, counted_on=rule.day):
            raise Forbidden("The code is wrong" if not matched else "The code was already used")
        return str(latest["document_sha256"])

    async def _add_signature(
        self, report: SceneReport, number: int, mark: bytes, bound: str, now: datetime
    ) -> FindingRecord:
        """Sign the newest file (one that holds ``bound``, the file the code was sent for) and store it at
        the next place of the chain; re-read and sign again when another driver's file took that place."""
        from e_sign import TimestampError
        from e_sign.ca import SignerIdentity
        from e_sign.pades import sign_pdf
        from server.documents.fonts import signature_font

        driver = report.driver(number)
        field = driver_field(number)
        label = DRIVER_LABELS.get(number, str(number))
        for _attempt in range(SIGN_RETRIES):
            record = await self.store.finding(report.id)
            assert record is not None
            if number in record.signed_by:
                return record  # signed meanwhile by this driver's other request
            if bound not in {f.sha256 for f in record.files}:
                raise Forbidden("The finding to sign is not the one the code was sent for: ask for a new code")
            newest = record.newest
            pdf = await self.blobs.get(newest.sha256)
            font = await asyncio.to_thread(signature_font)
            try:
                signed: bytes = await asyncio.to_thread(
                    functools.partial(
                        sign_pdf,
                        pdf,
                        field_name=field,
                        page=0,
                        box=(0, 0, 100, 100),  # unused: the field was prepared when the finding was issued
                        signer=SignerIdentity(driver.id, driver.name, report.number, label),
                        ca=self.keys.ca,
                        timestamper=self.keys.timestamper(),
                        mark_png=mark,
                        reason=REASON,
                        location=LOCATION,
                        now=now.astimezone(BEIJING),
                        font=font,
                    )
                )
            except TimestampError as exc:
                raise ServiceUnavailable("The timestamp authority did not answer: try again in a minute") from exc
            ref = await self.blobs.put(signed)
            complete = {d.number for d in report.drivers} <= {*record.signed_by, number}
            file = FindingFile(newest.seq + 1, ref.sha256, ref.size, number, now)
            if await self.store.add_file(report.id, file, now if complete else None):
                logger.info("[report=%s] driver %d signed the accident finding", report.id, number)
                done = await self.store.finding(report.id)
                assert done is not None
                return done
        raise ServiceUnavailable("The finding kept changing while signing; try again")


def _file_view(f: FindingFile) -> dict[str, Any]:
    return {"seq": f.seq, "sha256": f.sha256, "size": f.size, "created_at": f.created_at.isoformat()}
