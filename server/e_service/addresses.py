"""The address for service (送达地址确认书): where documents reach a party, confirmed by the party.

At intake each party confirms, on their own link, the addresses where documents are served on them
(a mainland mobile number for SMS, an e-mail address, a postal address and who takes the post there)
and whether, and by which channels, they accept electronic service; they read :data:`NOTICE` (documents
sent there count as served, in this mediation and in a later lawsuit or enforcement; changes must be
reported) and confirm. A confirmation

- is an append-only row (``service_addresses``): re-confirming adds a row, the newest counts;
- is rendered to a platform-sealed PDF (送达地址确认书) kept on the case, readable by the staff on the
  case and by that party (:meth:`ServiceAddresses.document`), never by the other side;
- records the consent to electronic service with the same channels, so serving uses it; and the
  confirmed phone and e-mail become the participant's contacts, so service (and every later message)
  goes to them rather than to what the mediator typed;
- is audited (``service.address_confirmed``, ``service.consent``, ``document.added``) without a phone,
  an e-mail or an address in the details;
- is limited to :data:`MAX_PER_HOUR` per party in an hour, counted from those audit entries (each one
  renders and seals a PDF, about 1.5 s of CPU): more is refused with 429 and ``Retry-After``.

Later stages (the record of a failed mediation, a lawsuit) read it with
:meth:`ServiceAddresses.confirmed_address`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import added_record
from server.documents.pdf import DocumentBuilder, SignatureBox
from server.domain.roles import PARTY_ROLES, Action, Role, role_name
from server.domain.time import beijing_time
from server.e_service.address_store import AddressRow, AddressStore, confirmation_rows
from server.e_service.store import CHANNELS
from server.e_service.usecases import ServingService
from server.errors import Forbidden, InvalidCommand, NotFound, TooManyAttempts
from server.identity.access import Principal
from server.store.repository import AuditRecord, DocumentRecord, LoadedCase

KIND = "service_address"
"""The kind of the confirmation's PDF among the case's documents."""
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
"""A mainland mobile number (11 digits, no country code)."""
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_ADDRESS = 200
"""Characters of a postal address, and of the name of who takes post there."""
CHANNEL_NAMES = {"email": "电子邮件", "sms": "手机短信", "inbox": "平台站内信"}
NOTICE: tuple[str, ...] = (
    "为便于您及时收到法律文书，保证调解和诉讼程序顺利进行，请如实填写确切的送达地址。",
    "您确认的送达地址适用于本案调解程序；调解不成转入诉讼的，适用于人民法院的诉讼程序"
    "（包括一审、二审、再审）和执行程序。",
    "您同意电子送达的，法律文书到达您确认的手机号码、电子邮箱或平台站内信（特定系统）之日为送达之日。",
    "送达地址发生变更的，您应当及时在本页面重新确认或告知调解员、人民法院；未及时告知的，"
    "原确认的地址仍为有效送达地址。",
    "因您提供的送达地址不准确、送达地址变更未及时告知，或您本人、您指定的代收人拒绝签收，"
    "导致法律文书未能被您实际接收的，文书退回之日视为送达之日。",
)
"""The legal notice the party reads before confirming (the courts' standard 告知事项); the page shows
these very lines and the PDF prints them."""
MAX_PER_HOUR = 5
"""Confirmations one party may make in an hour (each renders and seals a PDF: about 1.5 s of CPU)."""
ACKNOWLEDGEMENT = "本人已阅读上述告知事项，确认以上送达地址真实、准确、有效，并承诺送达地址变更时及时告知。"


@dataclass(frozen=True)
class AddressForm:
    """What a party confirms (each address optional; see :func:`check_form`)."""

    phone: str | None
    """Mainland mobile number for SMS."""
    email: str | None
    """E-mail address."""
    postal_address: str | None
    """Postal address (at most :data:`MAX_ADDRESS` characters)."""
    postal_recipient: str | None
    """Who takes post there (default: the party)."""
    electronic: bool
    """Whether they accept electronic service."""
    channels: Sequence[str]
    """The channels of electronic service they accept (none when ``electronic`` is false)."""


@dataclass(frozen=True)
class ConfirmedAddress:
    """A party's address for service as they confirmed it last (what later stages serve on)."""

    case_id: str
    participant_id: str
    phone: str | None
    email: str | None
    postal_address: str | None
    postal_recipient: str | None
    channels: tuple[str, ...]
    """The channels of electronic service accepted (empty: service by post only)."""
    document_id: str
    """The 送达地址确认书 PDF."""
    confirmed_at: datetime


def check_form(form: AddressForm) -> AddressForm:
    """The form with its text trimmed and its channels in order; :class:`InvalidCommand` naming what is wrong
    (never the value)."""
    clean = {
        "phone": (form.phone or "").strip() or None,
        "email": (form.email or "").strip() or None,
        "postal_address": (form.postal_address or "").strip() or None,
        "postal_recipient": (form.postal_recipient or "").strip() or None,
    }
    if clean["phone"] and not MOBILE.match(clean["phone"]):
        raise InvalidCommand("The mobile number must be a mainland mobile number of 11 digits (1[3-9]…)")
    if clean["email"] and (len(clean["email"]) > 254 or not EMAIL.match(clean["email"])):
        raise InvalidCommand("The e-mail address is not one")
    for field in ("postal_address", "postal_recipient"):
        value = clean[field]
        if value and (len(value) > MAX_ADDRESS or any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value)):
            raise InvalidCommand(f"The {field.replace('_', ' ')} has at most {MAX_ADDRESS} characters of text")
    unknown = set(form.channels) - set(CHANNELS)
    if unknown or len(set(form.channels)) != len(form.channels):
        raise InvalidCommand("Name each channel once: email, sms or inbox")
    channels = sorted(form.channels, key=CHANNELS.index)
    if form.electronic and not channels:
        raise InvalidCommand("Pick at least one channel of electronic service, or decline electronic service")
    if not form.electronic and channels:
        raise InvalidCommand("Channels are picked only when electronic service is accepted")
    if "sms" in channels and not clean["phone"]:
        raise InvalidCommand("Service by SMS needs a mobile number")
    if "email" in channels and not clean["email"]:
        raise InvalidCommand("Service by e-mail needs an e-mail address")
    if not form.electronic and not clean["postal_address"]:
        raise InvalidCommand("Without electronic service a postal address is needed")
    if clean["postal_recipient"] and not clean["postal_address"]:
        raise InvalidCommand("A recipient of post needs a postal address")
    return AddressForm(electronic=form.electronic, channels=tuple(channels), **clean)


class ServiceAddresses:
    """Parties confirm their addresses for service; staff and the party read them; later stages serve on them."""

    def __init__(self, serving: ServingService, store: AddressStore) -> None:
        self.serving = serving
        self.cases = serving.cases
        self.repo = serving.repo
        self.store = store

    async def confirm(self, principal: Principal, case_id: str, form: AddressForm, now: datetime) -> dict[str, Any]:
        """The caller (a party) confirms their own address for service; returns it as they now read it."""
        from server.documents.sealed import render_sealed

        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only a party confirms an address for service, for themselves")
        form = check_form(form)
        await self._within_limit(case_id, access.participant_id, now)
        person = await self.repo.participant(access.participant_id)
        case = (await self.repo.load_case(case_id)).case
        facts = ConfirmationFacts(
            case_number=case.number,
            case_title=case.title,
            party=person.display_name,
            party_role=role_name(person.role),
            form=form,
            confirmed_at=now,
        )
        pdf = await render_sealed(render_confirmation, facts, self.serving.keys, case.number, "送达地址确认书", now)
        doc = await self.cases.platform_document(
            case_id,
            pdf,
            kind=KIND,
            title=f"送达地址确认书（{person.display_name}）"[:200],
            media_type="application/pdf",
            visibility="staff",  # the party reads their own through this stage, the other side never
            now=now,
            actor=principal.actor,
        )
        row = AddressRow(
            case_id,
            person.id,
            form.phone,
            form.email,
            form.postal_address,
            form.postal_recipient,
            tuple(form.channels),
            doc.id,
            now,
            principal.actor,
        )
        details = {
            "participant_id": person.id,
            "document_id": doc.id,
            "sha256": doc.sha256,
            "electronic": form.electronic,
            "channels": list(form.channels),
            "addresses": [k for k in ("phone", "email", "postal_address") if getattr(form, k)],
        }
        records = [
            added_record(principal.actor, doc),
            AuditRecord(principal.actor, "service.address_confirmed", details),
            AuditRecord(
                principal.actor, "service.consent", {"participant_id": person.id, "channels": list(form.channels)}
            ),
        ]

        def decide(_loaded: LoadedCase) -> tuple[None, list[AuditRecord]]:
            return None, records

        async def work(conn: Any) -> None:
            await confirmation_rows(conn, row, doc, str(uuid.uuid4()))

        await self.repo.write_audited(case_id, decide, work, now)
        return _view(person.id, person.display_name, person.role, row, prefill=None)

    async def _within_limit(self, case_id: str, participant_id: str | None, now: datetime) -> None:
        """TooManyAttempts (429 with Retry-After) once the party confirmed MAX_PER_HOUR times in the last hour."""
        entries, _ = await self.repo.audit_trail(case_id)
        hour_ago = now - timedelta(hours=1)
        confirmed = sorted(
            at
            for e in entries
            if e.action == "service.address_confirmed"
            and e.details_dict().get("participant_id") == participant_id
            and (at := datetime.fromisoformat(e.at)) > hour_ago
        )
        if len(confirmed) >= MAX_PER_HOUR:
            wait = max(1, int((confirmed[-MAX_PER_HOUR] + timedelta(hours=1) - now).total_seconds()) + 1)
            raise TooManyAttempts(
                f"The address for service was confirmed {len(confirmed)} times in the last hour", retry_after=wait
            )

    async def addresses(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Staff on the case: every party's confirmation; a party: their own (with the contacts the mediator
        entered to start from while none is confirmed); an observer: 403."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        staff = access.role in (Role.MEDIATOR, Role.JUDGE)
        if not staff and access.role not in PARTY_ROLES:
            raise Forbidden("Addresses for service are read by the parties (their own) and the staff")
        newest = await self.store.newest(case_id)
        return [
            _view(p.id, p.display_name, p.role, newest.get(p.id), prefill={"phone": p.phone, "email": p.email})
            for p in await self.repo.participants(case_id)
            if p.role in PARTY_ROLES and (staff or p.id == access.participant_id)
        ]

    async def document(self, principal: Principal, case_id: str, participant_id: str) -> tuple[DocumentRecord, bytes]:
        """The newest 送达地址确认书 of a party: for the staff on the case and that party (others: 404)."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        staff = access.role in (Role.MEDIATOR, Role.JUDGE)
        if not staff and participant_id != access.participant_id:
            raise NotFound("No address for service of this participant")
        row = (await self.store.newest(case_id)).get(participant_id)
        if row is None:
            raise NotFound("No address for service is confirmed yet")
        doc = next((d for d in await self.repo.documents(case_id) if d.id == row.document_id), None)
        if doc is None:
            raise NotFound("The confirmation's document is missing")
        return doc, await self.cases.blobs.get(doc.sha256)

    async def confirmed_address(self, case_id: str, participant_id: str) -> ConfirmedAddress | None:
        """A party's newest confirmed address for service, or None: for stages that serve on them later (the
        record of a failed mediation, a lawsuit). The caller has checked who asks."""
        row = (await self.store.newest(case_id)).get(participant_id)
        if row is None:
            return None
        return ConfirmedAddress(
            row.case_id,
            row.participant_id,
            row.phone,
            row.email,
            row.postal_address,
            row.postal_recipient,
            row.channels,
            row.document_id,
            row.confirmed_at,
        )


def _view(pid: str, name: str, role: Role, row: AddressRow | None, prefill: dict[str, Any] | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "participant_id": pid,
        "name": name,
        "role": role.value,
        "confirmed": row is not None,
        "confirmed_at": row.confirmed_at.isoformat() if row else None,
        "phone": row.phone if row else None,
        "email": row.email if row else None,
        "postal_address": row.postal_address if row else None,
        "postal_recipient": row.postal_recipient if row else None,
        "electronic": bool(row.channels) if row else None,
        "channels": list(row.channels) if row else [],
        "document_id": row.document_id if row else None,
    }
    if prefill is not None:
        view["entered"] = {k: v for k, v in prefill.items() if v}
    return view


# ---------------------------------------------------------------------- the PDF


@dataclass(frozen=True)
class ConfirmationFacts:
    """What the 送达地址确认书 shows."""

    case_number: str
    case_title: str
    party: str
    party_role: str
    form: AddressForm
    confirmed_at: datetime


def render_confirmation(f: ConfirmationFacts) -> tuple[bytes, SignatureBox]:
    """The confirmation's PDF (unsigned) and the box of the platform's seal."""
    form = f.form
    doc = DocumentBuilder(
        "送达地址确认书",
        created_at=f.confirmed_at,
        case_number=f.case_number,
        subtitle="Confirmation of the address for service",
        footer_note="在线调解平台",
    )
    doc.fields(
        [
            ("案由", f.case_title),
            ("受送达人", f"{f.party}（{f.party_role}）"),
        ]
    )
    doc.heading("告知事项", 2)
    for i, line in enumerate(NOTICE, 1):
        doc.paragraph(f"{i}. {line}", indent=False)
    doc.heading("送达地址", 2)
    electronic = (
        "同意。接受以下方式电子送达：" + "、".join(CHANNEL_NAMES[c] for c in form.channels)
        if form.electronic
        else "不同意，以邮寄方式送达"
    )
    doc.fields(
        [
            ("手机号码", form.phone or "—"),
            ("电子邮箱", form.email or "—"),
            ("邮寄地址", form.postal_address or "—"),
            ("收件人", form.postal_recipient or (f.party if form.postal_address else "—")),
            ("是否同意电子送达", electronic),
        ]
    )
    doc.heading("受送达人确认", 2)
    doc.paragraph(ACKNOWLEDGEMENT)
    doc.fields(
        [
            ("确认人", f.party),
            ("确认方式", "通过本人调解链接在线确认"),
            ("确认时间", f"{beijing_time(f.confirmed_at)}（北京时间）"),
        ]
    )
    box = doc.signature_block("platform", "在线调解平台（电子签章）")
    return doc.render(), box
