"""Electronic service (电子送达) of case documents, recipient by recipient, channel by channel.

- A party records **consent** to electronic service and the channels (e-mail, SMS, the
  platform inbox); consent is append-only and audited.
- The mediator **serves** a document (the signed agreement, the mediation record, …) on
  recipients who consented: one *delivery* per recipient and consented channel. Serving the
  signed agreement also moves the case's life cycle (signed → serving → served).
- The delivery engine (:class:`server.outbound.delivery.DeliveryWorker`) sends due deliveries:
  e-mail with the document attached and a personal link, SMS with the link, the inbox at once.
  What they mean is recorded here: a delivery the recipient's system accepted (or an SMS receipt)
  makes service on that recipient **effective** (the first channel wins,
  :meth:`ServingService.record_effective`); a failure is retried with back-off, then given up
  (:meth:`ServingService.record_failed_attempt`); a recipient not served by the deadline is
  **flagged** to the mediator (and the case goes to ``service_failed``).
- The personal link (``/served#token=…``) opens that one document and nothing else; the first
  open and the first download are recorded.
- A **proof of service** (送达回证) per recipient is a platform-sealed PDF of all of it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import CaseService, document_view
from server.domain import lifecycle as lc
from server.domain.participants import Participant
from server.domain.roles import PARTY_ROLES, Action, Role, role_name
from server.e_service.store import (
    CHANNELS,
    DeliveryRow,
    RecipientRow,
    ServiceRow,
    ServiceStore,
    consent_rows,
    recipient_update,
    requeue_rows,
    service_rows,
)
from server.errors import Forbidden, IllegalTransition, InvalidCommand, NotFound
from server.identity.access import Principal
from server.notify import Notifier, mask_address
from server.signing.usecases import Keys
from server.store.repository import AuditRecord, DocumentRecord, LoadedCase, records_from_events

logger = logging.getLogger(__name__)

INBOX_LINK_TTL = timedelta(hours=1)
"""How long the link the platform inbox hands out opens the served document."""
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=4),
)
"""Wait before attempt n+1 after n failures."""
MAX_ATTEMPTS = {True: 3, False: 6}
"""Attempts per delivery: after a permanent failure (a bounce) 3, after temporary ones 6."""
SIGNED_AGREEMENT = "agreement_signing"
PROOF_KIND = "proof_of_service"


class ServingService:
    """Consent, serving, recipients' links, what deliveries and receipts record, and proofs of service.

    ``notifier``, ``base_url`` and ``sms_receipts`` are the channels the delivery engine
    (:mod:`server.outbound.delivery`) sends through; ``poke`` wakes it after a service."""

    def __init__(
        self,
        cases: CaseService,
        store: ServiceStore,
        notifier: Notifier,
        base_url: str,
        keys: Keys,
        poke: Callable[[], None] | None = None,
        sms_receipts: bool = False,
        sms_key: bytes = b"",
    ) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store
        self.notifier = notifier
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.poke = poke or (lambda: None)
        self.sms_receipts = sms_receipts
        self.sms_key = sms_key
        """The key the SMS gateway signs its receipts with (empty: every receipt is refused)."""

    # ------------------------------------------------------------------ consent (a party)

    async def consent(self, principal: Principal, case_id: str, channels: list[str], now: datetime) -> dict[str, Any]:
        """Record the caller's consent to electronic service (an empty list withdraws it)."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only a party consents to electronic service, for themselves")
        chosen = sorted(set(channels), key=CHANNELS.index)
        participant = await self.repo.participant(access.participant_id)
        if "email" in chosen and not participant.email:
            raise InvalidCommand("No e-mail address is registered for you: ask the mediator to add it first")
        if "sms" in chosen and not participant.phone:
            raise InvalidCommand("No mobile number is registered for you: ask the mediator to add it first")
        row = {
            "id": str(uuid.uuid4()),
            "case_id": case_id,
            "participant_id": participant.id,
            "channels": ",".join(chosen),
            "at": now,
            "actor": principal.actor,
        }
        record = AuditRecord(principal.actor, "service.consent", {"participant_id": participant.id, "channels": chosen})

        async def work(conn: Any) -> None:
            await consent_rows(conn, row)

        await self.repo.write_audited(case_id, lambda _l: (None, [record]), work, now)
        return {"participant_id": participant.id, "channels": chosen, "at": now.isoformat()}

    async def consents(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Staff: every party's consent; a party: their own."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        staff = access.role not in PARTY_ROLES and access.role is not Role.OBSERVER
        current = await self.store.consents(case_id)
        people = await self.repo.participants(case_id)
        return [
            {
                "participant_id": p.id,
                "name": p.display_name,
                "role": p.role.value,
                "channels": current.get(p.id, {}).get("channels", []),
                "at": current[p.id]["at"].isoformat() if p.id in current else None,
                "addresses": {c: mask_address(c, a) for c, a in (("email", p.email), ("sms", p.phone)) if a},
            }
            for p in people
            if p.role in PARTY_ROLES and (staff or p.id == access.participant_id)
        ]

    # ------------------------------------------------------------------ serving (the mediator)

    async def serve(
        self,
        principal: Principal,
        case_id: str,
        document_id: str,
        recipients: list[str] | None,
        deadline_hours: int,
        now: datetime,
    ) -> dict[str, Any]:
        """Serve a document on recipients who consented; the signed agreement moves the life cycle."""
        await self.cases.require(principal, case_id, Action.SERVE_DOCUMENTS)
        return await self.serve_as(principal.actor, case_id, document_id, recipients, deadline_hours, now)

    async def serve_as(
        self,
        actor: str,
        case_id: str,
        document_id: str,
        recipients: list[str] | None,
        deadline_hours: int,
        now: datetime,
        purpose: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`serve` for a caller whose right was checked elsewhere (the court's rulings and requests)."""
        if not 1 <= deadline_hours <= 24 * 30:
            raise InvalidCommand("The service deadline is 1 hour to 30 days away")
        docs = await self.repo.documents(case_id)
        doc = next((d for d in docs if d.id == document_id), None)
        if doc is None:
            raise NotFound("No such document on this case")
        if doc.visibility != "parties":
            raise InvalidCommand("Only a document the parties may read can be served on them")
        people = {p.id: p for p in await self.repo.participants(case_id)}
        chosen = recipients or [p.id for p in people.values() if p.role in PARTY_ROLES]
        if not chosen or len(set(chosen)) != len(chosen):
            raise InvalidCommand("Name each recipient once")
        unknown = [r for r in chosen if r not in people or people[r].role not in PARTY_ROLES]
        if unknown:
            raise InvalidCommand("Only the parties of the case (and their agents) can be served")
        consents = await self.store.consents(case_id)
        missing = [people[r].display_name for r in chosen if not consents.get(r, {}).get("channels")]
        if missing:
            raise InvalidCommand("These recipients have not consented to electronic service: " + "、".join(missing))
        if purpose is None:
            purpose = (
                "agreement"
                if doc.kind == SIGNED_AGREEMENT
                else "record"
                if doc.kind == "mediation_record"
                else "document"
            )
        if purpose == "agreement":
            newest = max((d for d in docs if d.kind == SIGNED_AGREEMENT), key=lambda d: (d.size, d.created_at))
            if newest.id != doc.id:
                raise InvalidCommand("Serve the final signed agreement (the newest signed file)")
        deadline = now + timedelta(hours=deadline_hours)
        service = ServiceRow(str(uuid.uuid4()), case_id, doc.id, purpose, doc.title[:200], now, actor, deadline)
        deliveries = []
        for r in chosen:
            for channel in consents[r]["channels"]:
                address = {"email": people[r].email, "sms": people[r].phone}.get(channel)
                if channel != "inbox" and not address:
                    continue  # the address was removed since consenting: the other channels carry it
                deliveries.append(
                    {
                        "id": str(uuid.uuid4()),
                        "service_id": service.id,
                        "case_id": case_id,
                        "participant_id": r,
                        "channel": channel,
                        "to_masked": mask_address(channel, address) if address else "",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": "",
                        "reference": uuid.uuid4().hex,
                    }
                )
        details = {
            "service_id": service.id,
            "document_id": doc.id,
            "sha256": doc.sha256,
            "purpose": purpose,
            "recipients": chosen,
            "deliveries": len(deliveries),
            "deadline": deadline.isoformat(),
        }

        def decide(loaded: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            records = [AuditRecord(actor, "service.started", details)]
            if purpose != "agreement":
                return None, records
            transition = lc.apply(loaded.case, lc.StartService(doc.id, tuple(chosen), deadline), now)
            return transition.case, records_from_events(actor, transition.events) + records

        async def work(conn: Any) -> None:
            await service_rows(conn, service, chosen, deliveries)

        await self.repo.write_audited(case_id, decide, work, now)
        self.poke()
        return await self._service_view(service, people, staff=True)

    async def services(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Staff: every service with every recipient and delivery; a party: what was served on them."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        staff = access.role not in PARTY_ROLES
        if access.role is Role.OBSERVER:
            raise Forbidden("Observers do not see service")
        views = await self._views(case_id, staff=staff, only=None if staff else access.participant_id)
        return [v for v in views if v["recipients"]]

    async def export_section(self, case_id: str) -> tuple[str, Any]:
        """The ``service`` section of a case's export: every service, recipient and delivery."""
        return "service", await self._views(case_id, staff=True)

    async def _views(self, case_id: str, *, staff: bool, only: str | None = None) -> list[dict[str, Any]]:
        """Every service of a case: three queries in all, however many services there are."""
        people = {p.id: p for p in await self.repo.participants(case_id)}
        recipients = await self.store.recipients(case_id)
        deliveries = await self.store.deliveries(case_id)
        return [
            await self._service_view(
                service,
                people,
                staff=staff,
                only=only,
                recipients=[r for r in recipients if r.service_id == service.id],
                deliveries=[d for d in deliveries if d.service_id == service.id],
            )
            for service in await self.store.services(case_id)
        ]

    async def _service_view(
        self,
        service: ServiceRow,
        people: dict[str, Participant],
        *,
        staff: bool,
        only: str | None = None,
        recipients: list[RecipientRow] | None = None,
        deliveries: list[DeliveryRow] | None = None,
    ) -> dict[str, Any]:
        """One service as callers see it (its recipients and deliveries fetched unless given)."""
        if recipients is None:
            recipients = await self.store.recipients(service.case_id, service.id)
        if deliveries is None:
            deliveries = await self.store.deliveries(service.case_id, service.id)
        return {
            "id": service.id,
            "document_id": service.document_id,
            "purpose": service.purpose,
            "title": service.title,
            "started_at": service.created_at.isoformat(),
            "deadline": service.deadline.isoformat(),
            "recipients": [
                {
                    "participant_id": r.participant_id,
                    "name": people[r.participant_id].display_name if r.participant_id in people else "",
                    "effective_at": _iso(r.effective_at),
                    "effective_channel": r.effective_channel,
                    "opened_at": _iso(r.opened_at),
                    "downloaded_at": _iso(r.downloaded_at),
                    "flagged_at": _iso(r.flagged_at),
                    "deliveries": [
                        _delivery_view(d, staff) for d in deliveries if d.participant_id == r.participant_id
                    ],
                }
                for r in recipients
                if only is None or r.participant_id == only
            ],
        }

    async def retry(
        self, principal: Principal, case_id: str, service_id: str, deadline_hours: int, now: datetime
    ) -> dict[str, Any]:
        """Try the flagged (or failed) recipients of a service again, with the contacts they have now."""
        await self.cases.require(principal, case_id, Action.SERVE_DOCUMENTS)
        service = await self.store.service(service_id)
        if service is None or service.case_id != case_id:
            raise NotFound("No such service on this case")
        recipients = await self.store.recipients(case_id, service_id)
        deliveries = await self.store.deliveries(case_id, service_id)
        again = [
            r.participant_id
            for r in recipients
            if r.effective_at is None
            and (
                r.flagged_at is not None
                or any(d.status == "failed" for d in deliveries if d.participant_id == r.participant_id)
            )
        ]
        if not again:
            raise InvalidCommand("No recipient of this service is waiting for another try")
        deadline = now + timedelta(hours=deadline_hours)

        def decide(loaded: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            records = [AuditRecord(principal.actor, "service.retried", {"service_id": service_id, "recipients": again})]
            case = loaded.case
            if service.purpose == "agreement" and case.state is lc.CaseState.SERVICE_FAILED:
                transition = lc.apply(case, lc.RetryService(), now)
                case = transition.case
                records = records_from_events(principal.actor, transition.events) + records
                if case.service is not None:
                    case = replace(case, service=replace(case.service, deadline=deadline))
                return case, records
            return None, records

        async def work(conn: Any) -> None:
            from sqlalchemy import update

            from server.store import schema as t

            await requeue_rows(conn, service_id, again, now)
            await conn.execute(update(t.services).where(t.services.c.id == service_id).values(deadline=deadline))

        await self.repo.write_audited(case_id, decide, work, now)
        self.poke()
        people = {p.id: p for p in await self.repo.participants(case_id)}
        fresh = await self.store.service(service_id)
        assert fresh is not None
        return await self._service_view(fresh, people, staff=True)

    # ------------------------------------------------------------------ the recipient's link

    async def _link_target(self, principal: Principal) -> tuple[ServiceRow, DocumentRecord, RecipientRow]:
        if principal.service_id is None or principal.case_id is None:
            raise Forbidden("Open the link that came with the document")
        service = await self.store.service(principal.service_id)
        if service is None or service.case_id != principal.case_id:
            raise NotFound("No such service")
        recipient = next(
            (
                r
                for r in await self.store.recipients(service.case_id, service.id)
                if r.participant_id == principal.subject_id
            ),
            None,
        )
        if recipient is None:
            raise NotFound("Nothing was served on you here")
        doc = next((d for d in await self.repo.documents(service.case_id) if d.id == service.document_id), None)
        if doc is None:
            raise NotFound("The served document is missing")
        return service, doc, recipient

    async def served(self, principal: Principal, now: datetime) -> dict[str, Any]:
        """What the link opens: the served document's description. The first call records the opening."""
        service, doc, recipient = await self._link_target(principal)
        if recipient.opened_at is None:
            await self._mark(service, principal.subject_id, "opened_at", now, "service.opened")
        case = (await self.repo.load_case(service.case_id)).case
        return {
            "case_number": case.number,
            "case_title": case.title,
            "service_id": service.id,
            "title": service.title,
            "served_at": service.created_at.isoformat(),
            "effective_at": _iso(recipient.effective_at),
            "document": document_view(doc),
        }

    async def served_record(self, principal: Principal, now: datetime, *, download: bool) -> DocumentRecord:
        """The served document's metadata; a download (or else an opening) is recorded the first time."""
        service, doc, recipient = await self._link_target(principal)
        if download and recipient.downloaded_at is None:
            await self._mark(service, principal.subject_id, "downloaded_at", now, "service.downloaded")
        elif recipient.opened_at is None:
            await self._mark(service, principal.subject_id, "opened_at", now, "service.opened")
        return doc

    async def served_document(
        self, principal: Principal, now: datetime, *, download: bool
    ) -> tuple[DocumentRecord, bytes]:
        """The served document and its bytes (see :meth:`served_record`)."""
        doc = await self.served_record(principal, now, download=download)
        return doc, await self.cases.blobs.get(doc.sha256)

    async def _mark(self, service: ServiceRow, pid: str, column: str, now: datetime, action: str) -> None:
        record = AuditRecord(f"participant:{pid}", action, {"service_id": service.id, "participant_id": pid})
        if not await self._first_time(service, pid, column, {column: now}, lambda _l: (None, [record]), now):
            logger.info("%s already recorded for service %s", action, service.id)

    async def _first_time(
        self,
        service: ServiceRow,
        pid: str,
        column: str,
        values: dict[str, Any],
        decide: Callable[[LoadedCase], tuple[lc.Case | None, list[AuditRecord]]],
        now: datetime,
    ) -> bool:
        """Set ``values`` on a recipient whose ``column`` is still empty, with ``decide``'s audit records and
        life-cycle change, in one transaction; False (and nothing written, audit included) when another
        node or request set it first."""

        async def work(conn: Any) -> None:
            if not await recipient_update(conn, service.id, pid, column, values):
                raise _AlreadyRecorded  # rolls back the audit records and the case's new version

        try:
            await self.repo.write_audited(service.case_id, decide, work, now)
        except _AlreadyRecorded:
            return False
        return True

    async def inbox(self, principal: Principal, case_id: str, now: datetime) -> list[dict[str, Any]]:
        """A party's platform inbox: what was served on them, each with a short-lived personal link (one that
        still has more than half an hour is handed out again, not a new one per listing)."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        if access.role not in PARTY_ROLES:
            raise Forbidden("The inbox is a party's")
        participant = await self.repo.participant(access.participant_id)
        out = []
        for view in await self.services(principal, case_id):
            mine = view["recipients"][0]
            if not any(d["channel"] == "inbox" and d["status"] == "accepted" for d in mine["deliveries"]):
                continue  # only what reached the inbox (other channels bring their own link)
            link = await self.cases.auth.service_link(participant, view["id"], INBOX_LINK_TTL, now)
            out.append({**view, "link": f"/served#token={link.token}"})
        return out

    # ------------------------------------------------------------------ proof of service

    async def proof(
        self, principal: Principal, case_id: str, service_id: str, participant_id: str, now: datetime
    ) -> DocumentRecord:
        """A sealed proof of service (送达回证) of one recipient, as it stands now, kept on the case."""
        from server.documents.sealed import render_sealed
        from server.e_service.proof import ChannelLine, ProofFacts, render_proof

        await self.cases.require(principal, case_id, Action.SERVE_DOCUMENTS)
        service = await self.store.service(service_id)
        if service is None or service.case_id != case_id:
            raise NotFound("No such service on this case")
        recipient = next(
            (r for r in await self.store.recipients(case_id, service_id) if r.participant_id == participant_id), None
        )
        if recipient is None:
            raise NotFound("This participant is not a recipient of the service")
        person = await self.repo.participant(participant_id)
        doc = next(d for d in await self.repo.documents(case_id) if d.id == service.document_id)
        case = (await self.repo.load_case(case_id)).case
        consent = (await self.store.consents(case_id)).get(participant_id)
        lines = [
            ChannelLine(
                d.channel, d.to_masked, d.status, d.attempts, d.sent_at, d.accepted_at, d.failed_at, d.last_error
            )
            for d in await self.store.deliveries(case_id, service_id)
            if d.participant_id == participant_id
        ]
        facts = ProofFacts(
            case_number=case.number,
            case_title=case.title,
            document_title=service.title,
            document_id=doc.id,
            sha256=doc.sha256,
            size=doc.size,
            recipient=person.display_name,
            recipient_role=role_name(person.role),
            served_by="在线调解平台",
            started_at=service.created_at,
            deadline=service.deadline,
            consent_at=consent["at"] if consent else None,
            consent_channels=consent["channels"] if consent else [],
            channels=lines,
            effective_at=recipient.effective_at,
            effective_channel=recipient.effective_channel,
            opened_at=recipient.opened_at,
            downloaded_at=recipient.downloaded_at,
            issued_at=now,
        )
        sealed = await render_sealed(render_proof, facts, self.keys, case.number, "送达回证", now)
        return await self.cases.add_made_document(
            principal,
            case_id,
            sealed,
            kind=PROOF_KIND,
            title=f"送达回证（{person.display_name}）",
            media_type="application/pdf",
            visibility="staff",
            now=now,
        )

    # ------------------------------------------------------------------ what the deliveries record

    async def record_failed_attempt(
        self, service: ServiceRow, delivery: DeliveryRow, attempts: int, permanent: bool, error: str, now: datetime
    ) -> str:
        """Record a failed attempt (a send, or an SMS the phone did not receive); schedule the next one
        with back-off (:data:`BACKOFF`), or give up after :data:`MAX_ATTEMPTS`. Returns the new status."""
        last = attempts >= MAX_ATTEMPTS[permanent]
        status = "failed" if last else "retrying"
        wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
        await self.store.finish(
            delivery.id,
            {
                "status": status,
                "attempts": attempts,
                "failed_at": now,
                "last_error": error[:200],
                "next_attempt_at": None if last else now + wait,
            },
        )
        record = AuditRecord(
            "system",
            "service.delivery_failed",
            {
                "service_id": service.id,
                "delivery_id": delivery.id,
                "channel": delivery.channel,
                "attempts": attempts,
                "permanent": permanent,
                "given_up": last,
            },
        )
        await self.repo.record(service.case_id, [record], now)
        return status

    async def sms_receipt(self, reference: str, delivered: bool, error: str, now: datetime) -> str:
        """The gateway's report on one message: on the phone (service effective), or failed (retried)."""
        delivery = await self.store.by_reference(reference)
        if delivery is None or delivery.channel != "sms":
            raise NotFound("No such message")
        if delivery.status != "sent":
            return delivery.status  # a repeated or late receipt changes nothing
        service = await self.store.service(delivery.service_id)
        assert service is not None
        if not delivered:
            detail = f"the phone did not receive it: {error}" if error else "the phone did not receive it"
            return await self.record_failed_attempt(service, delivery, delivery.attempts, True, detail, now)
        await self.store.finish(delivery.id, {"status": "accepted", "accepted_at": now})
        await self.record_effective(service, delivery.participant_id, "sms", now)
        return "accepted"

    async def record_effective(self, service: ServiceRow, pid: str, channel: str, now: datetime) -> None:
        """Service on ``pid`` took effect through ``channel`` (the first accepted channel wins)."""
        current = next(
            (r for r in await self.store.recipients(service.case_id, service.id) if r.participant_id == pid), None
        )
        if current is None or current.effective_at is not None:
            return
        record = AuditRecord(
            "system", "service.effective", {"service_id": service.id, "participant_id": pid, "channel": channel}
        )

        def decide(loaded: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            case = loaded.case
            if (
                service.purpose == "agreement"
                and case.service is not None
                and case.service.document_id == service.document_id
                and case.service.recipients.get(pid) is not lc.ServiceStatus.EFFECTIVE
            ):
                try:
                    transition = lc.apply(case, lc.RecordServiceEffective(pid), now)
                except (IllegalTransition, InvalidCommand):
                    return None, [record]
                return transition.case, records_from_events("system", transition.events) + [record]
            return None, [record]

        values = {"effective_at": now, "effective_channel": channel}
        if not await self._first_time(service, pid, "effective_at", values, decide, now):
            logger.info("service %s took effect earlier on another channel", service.id)

    async def flag_overdue(self, now: datetime) -> int:
        """Flag every recipient not served by their service's deadline; returns how many."""
        flagged = 0
        for service, recipient in await self.store.overdue(now):
            pid = recipient.participant_id

            def decide(
                loaded: LoadedCase, service: ServiceRow = service, pid: str = pid
            ) -> tuple[lc.Case | None, list[AuditRecord]]:
                case = loaded.case
                rec = [AuditRecord("system", "service.flagged", {"service_id": service.id, "participant_id": pid})]
                if (
                    service.purpose == "agreement"
                    and case.state is lc.CaseState.SERVING
                    and case.service is not None
                    and case.service.recipients.get(pid) is lc.ServiceStatus.PENDING
                ):
                    transition = lc.apply(case, lc.RecordServiceFailure(pid), now)
                    return transition.case, records_from_events("system", transition.events) + rec
                return None, rec

            if not await self._first_time(service, pid, "flagged_at", {"flagged_at": now}, decide, now):
                continue  # another node flagged them (or service took effect) since the list was read
            logger.warning("service %s: a recipient was not served by the deadline (flagged)", service.id)
            flagged += 1
        return flagged


class _AlreadyRecorded(Exception):
    """Raised inside a write when its conditional update found the recipient's column already set."""


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _delivery_view(d: DeliveryRow, staff: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "channel": d.channel,
        "to": d.to_masked,
        "status": d.status,
        "attempts": d.attempts,
        "sent_at": _iso(d.sent_at),
        "accepted_at": _iso(d.accepted_at),
        "failed_at": _iso(d.failed_at),
    }
    if staff:
        view["id"] = d.id
        view["last_error"] = d.last_error
        view["next_attempt_at"] = _iso(d.next_attempt_at)
    return view
