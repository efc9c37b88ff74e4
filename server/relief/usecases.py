"""Relief fund advances (救助基金垫付) and recovery (追偿): who may do what, and the views.

1. **Applying.** A party on the applicant side (the applicant, or an agent for them) applies from their join
   page, or the case's mediator on their behalf: a ground, the kind of advance, the amount asked, the payee,
   a description, and evidence (documents of the case the caller may read, or uploads made for the application,
   kept as staff documents: the other side never reads a party's medical records through this). The fund is
   one the caller picks from the open relief funds. One open application per party and ground.
2. **The fund decides.** Only fund officers (``fund_officer``) of the chosen fund see it; they read the
   application and the documents attached to it (never the rest of the case), ask for more material (the
   applicant answers with a note and more documents), approve an amount no more than asked (then record the
   payment: reference and date) or refuse with reasons. Every step is kept (``relief_steps``) and shown to the
   applicant and the mediator.
3. **Recovery.** Once paid, the officers name the liable party (a participant of the case, or nobody yet: fled),
   record each sum recovered, or write the rest off with a reason; the status is derived
   (:class:`server.domain.relief.Recovery`); the desk shows per fund what was advanced, recovered, outstanding.

Everyone else gets 404: a party of another case, another fund's officer, a mediator not on the case.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.cases.usecases import CaseService, document_view
from server.domain import relief as rd
from server.domain.compensation import Money
from server.domain.documents import check_upload
from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role, role_name
from server.domain.time import BEIJING
from server.errors import Duplicate, Forbidden, IllegalTransition, InvalidCommand, NotFound, TooManyAttempts
from server.identity.access import Principal, new_id
from server.relief import store as rs
from server.relief.store import Application, ReliefStore
from server.store.repository import AuditRecord, DocumentRecord

log = logging.getLogger(__name__)

UPLOADS_PER_HOUR = 30
UPLOAD_WINDOW = timedelta(hours=1)
"""A caller keeps at most this many documents on a case in an hour through the relief fund's upload (counted from
the stored documents, so the cap holds on every node and across restarts)."""


@dataclass(frozen=True)
class NewApplication:
    """What an applicant (or the mediator for them) sends."""

    fund_id: str
    """The relief fund asked."""
    ground: str
    """A :class:`~server.domain.relief.Ground`."""
    advance_kind: str
    """A :class:`~server.domain.relief.AdvanceKind`."""
    amount: str
    """Yuan, as text."""
    payee: str
    """The hospital, funeral home or person to be paid."""
    description: str
    """What happened, in the applicant's words."""
    documents: tuple[str, ...]
    """Case documents attached as evidence."""
    participant_id: str | None = None
    """For the mediator: the party it is for (a party applies for themselves or whom they represent)."""


def _day(value: str, what: str, now: datetime) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(f"{what}: give a date as YYYY-MM-DD") from None
    if len(value) != 10 or day > now.astimezone(BEIJING).date():
        raise InvalidCommand(f"{what}: a date as YYYY-MM-DD, not in the future")
    return day.isoformat()


def _text(value: str, what: str, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidCommand(f"{what}: required")
    if len(value) > rd.MAX_TEXT:
        raise InvalidCommand(f"{what}: at most {rd.MAX_TEXT} characters")
    return value


class ReliefService:
    """Applications to the relief fund, the fund's decisions, recovery."""

    def __init__(self, cases: CaseService, store: ReliefStore) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store

    # ------------------------------------------------------------------ access

    async def _case_side(self, principal: Principal, case_id: str) -> tuple[Role, str, list[Participant]]:
        """The caller's role and participant id on the case (a party or its mediator), and the participants."""
        access = await self.cases.access(principal, case_id)
        if access.role not in (Role.MEDIATOR, Role.APPLICANT, Role.AGENT, Role.RESPONDENT, Role.INSURER):
            raise Forbidden(f'The role "{access.role.value}" may not apply to the relief fund')
        return access.role, access.participant_id, await self.repo.participants(case_id)

    @staticmethod
    def _for_whom(role: Role, me: str, participants: Sequence[Participant]) -> set[str]:
        """The participants whose applications the caller reads (a party: their own, or whom they represent)."""
        if role is Role.MEDIATOR:
            return {p.id for p in participants}
        mine = next((p for p in participants if p.id == me), None)
        whom = {me}
        if mine is not None and mine.represents:
            whom.add(mine.represents)
        return whom

    async def _officer(self, principal: Principal, application_id: str) -> Application:
        """The application, if the caller is an officer of its fund; NotFound otherwise."""
        if principal.account_kind is not AccountKind.FUND_OFFICER:
            raise NotFound("No such relief application")
        account = await self.cases.accounts.account(principal.subject_id)
        application = await self.store.get(application_id)
        if application.fund_id != account.organisation_id:
            raise NotFound("No such relief application")
        return application

    async def _fund_of(self, principal: Principal) -> str:
        if principal.account_kind is not AccountKind.FUND_OFFICER:
            raise Forbidden("Only a relief fund's officers work its desk")
        return (await self.cases.accounts.account(principal.subject_id)).organisation_id

    # ------------------------------------------------------------------ the applicant's side

    async def funds(self) -> list[dict[str, str]]:
        """The relief funds that take applications."""
        return [{"id": i, "name": n, "region": r} for i, n, r in await self.store.open_funds()]

    async def upload(
        self, principal: Principal, case_id: str, data: bytes, *, kind: str, title: str, media_type: str, now: datetime
    ) -> dict[str, Any]:
        """Keep an upload for an application (checked from its bytes) as a staff document of the case."""
        role, me, participants = await self._case_side(principal, case_id)
        if role is not Role.MEDIATOR and not any(
            p.role is Role.APPLICANT for p in participants if p.id in self._for_whom(role, me, participants)
        ):
            raise Forbidden("Only the applicant side (or the mediator) adds evidence for the relief fund")
        refused = check_upload(kind, media_type, data)
        if refused:
            raise InvalidCommand(refused)
        recent = [
            d
            for d in await self.repo.documents(case_id)
            if d.created_by == principal.actor and now - d.created_at < UPLOAD_WINDOW
        ]
        if len(recent) >= UPLOADS_PER_HOUR:
            raise TooManyAttempts(f"At most {UPLOADS_PER_HOUR} uploads an hour; try again later")
        doc = await self.cases.store_document(
            case_id,
            data,
            kind=kind,
            title=title,
            media_type=media_type,
            visibility="staff",
            now=now,
            actor=principal.actor,
        )
        return document_view(doc)

    async def _checked_documents(
        self, principal: Principal, role: Role, case_id: str, ids: Sequence[str]
    ) -> tuple[str, ...]:
        if len(ids) > rd.MAX_EVIDENCE:
            raise InvalidCommand(f"documents: at most {rd.MAX_EVIDENCE}")
        docs = {d.id: d for d in await self.repo.documents(case_id)}
        for n, document_id in enumerate(ids, start=1):
            doc = docs.get(document_id)
            if doc is None or not self._may_attach(principal, role, doc):
                raise InvalidCommand(f"documents: item {n} is not a document of this case you may attach")
        return tuple(dict.fromkeys(ids))

    @staticmethod
    def _may_attach(principal: Principal, role: Role, doc: DocumentRecord) -> bool:
        return role is Role.MEDIATOR or doc.visibility == "parties" or doc.created_by == principal.actor

    async def apply(self, principal: Principal, case_id: str, new: NewApplication, now: datetime) -> dict[str, Any]:
        """File an application with the chosen fund (one open application per party and ground)."""
        role, me, participants = await self._case_side(principal, case_id)
        by_id = {p.id: p for p in participants}
        if role is Role.MEDIATOR:
            if new.participant_id is None:
                raise InvalidCommand("participant_id: the mediator names the party the application is for")
            whom = new.participant_id
        else:
            if new.participant_id is not None and new.participant_id not in self._for_whom(role, me, participants):
                raise Forbidden("A party applies for themselves or for whom they represent")
            whom = new.participant_id or by_id[me].represents or me
        party = by_id.get(whom)
        if party is None or party.role is not Role.APPLICANT:
            if role is not Role.MEDIATOR:
                raise Forbidden("Only the applicant side applies to the relief fund")
            raise InvalidCommand("participant_id: an applicant of this case")
        try:
            ground, kind = rd.Ground(new.ground), rd.AdvanceKind(new.advance_kind)
        except ValueError:
            raise InvalidCommand("ground or advance_kind: not one of the listed values") from None
        asked = rd.amount(new.amount, "amount")
        payee = _text(new.payee, "payee")
        description = _text(new.description, "description", required=False)
        if not await self.store.fund_is_open(new.fund_id):
            raise InvalidCommand("fund_id: not an open relief fund")
        documents = await self._checked_documents(principal, role, case_id, new.documents)
        application_id = new_id()
        values = {
            "id": application_id,
            "case_id": case_id,
            "fund_id": new.fund_id,
            "participant_id": whom,
            "ground": ground.value,
            "advance_kind": kind.value,
            "asked_fen": asked.fen,
            "payee": payee,
            "description": description,
            "state": rd.ReliefState.SUBMITTED.value,
            "note": "",
            "created_at": now,
            "updated_at": now,
        }

        async def work(conn: AsyncConnection) -> None:
            if await rs.open_application_of(conn, case_id, whom, ground.value) is not None:
                raise Duplicate("This party already has an open application on this ground")
            await rs.insert_application(conn, values, documents)
            await rs.add_step(conn, application_id, "submitted", "", now, principal.actor)

        details = {
            "application_id": application_id,
            "fund_id": new.fund_id,
            "participant_id": whom,
            "ground": ground.value,
            "advance_kind": kind.value,
            "amount": asked.plain(),
            "documents": list(documents),
        }
        await self.store.write(case_id, [AuditRecord(principal.actor, "relief.applied", details)], work, now)
        log.info("[case=%s relief=%s] applied", case_id, application_id)
        return await self._case_view(await self.store.get(application_id), participants, principal, role)

    async def of_case(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The case's applications the caller may read (a party: their own), and the open funds."""
        role, me, participants = await self._case_side(principal, case_id)
        whom = self._for_whom(role, me, participants)
        apps = [a for a in await self.store.of_case(case_id) if a.participant_id in whom]
        applicants = [
            {"participant_id": p.id, "name": p.display_name}
            for p in participants
            if p.role is Role.APPLICANT and p.id in whom
        ]
        return {
            "applications": [await self._case_view(a, participants, principal, role) for a in apps],
            "funds": await self.funds(),
            "applicants": applicants,
        }

    async def resubmit(
        self,
        principal: Principal,
        case_id: str,
        application_id: str,
        note: str,
        documents: Sequence[str],
        now: datetime,
    ) -> dict[str, Any]:
        """The applicant answers a request for more material: a note and more documents; back to the fund."""
        role, me, participants = await self._case_side(principal, case_id)
        application = await self.store.get(application_id)
        if application.case_id != case_id or application.participant_id not in self._for_whom(role, me, participants):
            raise NotFound("No such relief application")
        note = _text(note, "note", required=False)
        checked = await self._checked_documents(principal, role, case_id, documents)

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            after = rd.move(current.state, rd.Move.RESUBMIT, application_id)
            await rs.attach(conn, application_id, checked, now)
            await rs.change(conn, application_id, now, state=after.value)
            await rs.add_step(conn, application_id, "resubmitted", note, now, principal.actor)

        details = {"application_id": application_id, "documents": list(checked)}
        await self.store.write(case_id, [AuditRecord(principal.actor, "relief.resubmitted", details)], work, now)
        return await self._case_view(await self.store.get(application_id), participants, principal, role)

    # ------------------------------------------------------------------ the fund's desk

    async def desk(self, principal: Principal) -> dict[str, Any]:
        """The fund's queue and its recovery figures (advanced, recovered, outstanding)."""
        fund_id = await self._fund_of(principal)
        apps = await self.store.of_fund(fund_id)
        recovered = await self.store.recovered_by_application(fund_id)
        numbers = await self.store.case_numbers(fund_id)
        advanced = total_recovered = outstanding = 0
        rows = []
        for a in apps:
            rec = self._recovery(a, recovered.get(a.id, 0))
            if rec is not None:
                advanced += rec.advanced.fen
                total_recovered += rec.recovered.fen
                outstanding += rec.outstanding.fen
            rows.append(
                {
                    "id": a.id,
                    "case_number": numbers.get(a.case_id, ""),
                    "state": a.state.value,
                    "ground": a.ground,
                    "advance_kind": a.advance_kind,
                    "asked": a.asked.plain(),
                    "approved": a.approved.plain() if a.approved else None,
                    "recovery_status": rec.status.value if rec else None,
                    "outstanding": rec.outstanding.plain() if rec else None,
                    "updated_at": a.updated_at.isoformat(),
                }
            )
        figures = {
            "advanced": Money(advanced).plain(),
            "recovered": Money(total_recovered).plain(),
            "outstanding": Money(outstanding).plain(),
        }
        return {"applications": rows, "figures": figures}

    async def read(self, principal: Principal, application_id: str) -> dict[str, Any]:
        """One application for its fund's officers: the facts, the evidence attached, steps and recovery."""
        application = await self._officer(principal, application_id)
        return await self._fund_view(application)

    async def evidence(
        self, principal: Principal, application_id: str, document_id: str
    ) -> tuple[DocumentRecord, bytes]:
        """A document attached to the application (the only documents of the case the fund reads)."""
        application = await self._officer(principal, application_id)
        if document_id not in await self.store.evidence(application_id):
            raise NotFound("No such document attached to this application")
        doc = next((d for d in await self.repo.documents(application.case_id) if d.id == document_id), None)
        if doc is None:
            raise NotFound("No such document attached to this application")
        return doc, await self.cases.blobs.get(doc.sha256)

    async def decide(
        self,
        principal: Principal,
        application_id: str,
        decision: str,
        *,
        amount: str | None,
        note: str,
        now: datetime,
        payee: str | None = None,
    ) -> dict[str, Any]:
        """Approve (an amount no more than asked, and the payee if another than asked), refuse (with reasons) or ask
        for more material (with a note)."""
        application = await self._officer(principal, application_id)
        what = {"approve": rd.Move.APPROVE, "refuse": rd.Move.REFUSE, "ask_more": rd.Move.ASK_MORE}.get(decision)
        if what is None:
            raise InvalidCommand('decision: "approve", "refuse" or "ask_more"')
        note = _text(note, "note", required=what is not rd.Move.APPROVE)
        approved: Money | None = None
        if what is rd.Move.APPROVE:
            if amount is None:
                raise InvalidCommand("amount: an approval names the amount")
            approved = rd.approved_amount(amount, application.asked)
        elif payee is not None:
            raise InvalidCommand("payee: named only on approval")
        paid_to = _text(payee, "payee") if payee is not None else None

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            after = rd.move(current.state, what, application_id)
            values: dict[str, Any] = {"state": after.value, "note": note}
            if approved is not None:
                values["approved_fen"] = approved.fen
            if paid_to is not None:
                values["payee"] = paid_to
            await rs.change(conn, application_id, now, **values)
            await rs.add_step(conn, application_id, after.value, note, now, principal.actor)

        details: dict[str, Any] = {"application_id": application_id, "decision": decision}
        if approved is not None:
            details["amount"] = approved.plain()
        records = [AuditRecord(principal.actor, "relief.decided", details)]
        await self.store.write(application.case_id, records, work, now)
        return await self._fund_view(await self.store.get(application_id))

    async def pay(
        self, principal: Principal, application_id: str, reference: str, paid_on: str, now: datetime
    ) -> dict[str, Any]:
        """Record the payment of an approved advance: its reference and date (已垫付)."""
        application = await self._officer(principal, application_id)
        reference = _text(reference, "reference")
        day = _day(paid_on, "paid_on", now)

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            after = rd.move(current.state, rd.Move.PAY, application_id)
            await rs.change(conn, application_id, now, state=after.value, payment_reference=reference, paid_on=day)
            await rs.add_step(conn, application_id, "paid", "", now, principal.actor)

        details = {"application_id": application_id, "paid_on": day}
        await self.store.write(application.case_id, [AuditRecord(principal.actor, "relief.paid", details)], work, now)
        return await self._fund_view(await self.store.get(application_id))

    async def set_liable(
        self, principal: Principal, application_id: str, participant_id: str | None, now: datetime
    ) -> dict[str, Any]:
        """Name the liable party the fund recovers from (a participant of the case), or none yet (fled)."""
        application = await self._officer(principal, application_id)
        if participant_id is not None:
            participants = await self.repo.participants(application.case_id)
            if not any(p.id == participant_id and p.role is not Role.MEDIATOR for p in participants):
                raise InvalidCommand("participant_id: a party of the application's case")

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            if current.state is not rd.ReliefState.PAID:
                raise IllegalTransition("name the liable party", current.state.value)
            await rs.change(conn, application_id, now, liable_participant_id=participant_id)
            await rs.add_step(conn, application_id, "liable_named", "", now, principal.actor)

        details = {"application_id": application_id, "liable_participant_id": participant_id}
        records = [AuditRecord(principal.actor, "relief.liable_named", details)]
        await self.store.write(application.case_id, records, work, now)
        return await self._fund_view(await self.store.get(application_id))

    async def recover(
        self, principal: Principal, application_id: str, amount: str, received_on: str, reference: str, now: datetime
    ) -> dict[str, Any]:
        """Record a sum recovered from the liable party."""
        application = await self._officer(principal, application_id)
        received = rd.amount(amount, "amount")
        day = _day(received_on, "received_on", now)
        reference = _text(reference, "reference")

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            recovery = self._recovery(current, await rs.recovered_fen(conn, application_id))
            if recovery is None:
                raise IllegalTransition("record a recovery", current.state.value)
            rd.check_recovery(recovery, received)
            await rs.add_recovery(conn, application_id, rs.Received(received, day, reference, now), principal.actor)
            await rs.change(conn, application_id, now)
            await rs.add_step(conn, application_id, "recovered", received.plain(), now, principal.actor)

        details = {"application_id": application_id, "amount": received.plain(), "received_on": day}
        records = [AuditRecord(principal.actor, "relief.recovered", details)]
        await self.store.write(application.case_id, records, work, now)
        return await self._fund_view(await self.store.get(application_id))

    async def write_off(self, principal: Principal, application_id: str, reason: str, now: datetime) -> dict[str, Any]:
        """Write the outstanding rest off, with a reason."""
        application = await self._officer(principal, application_id)
        reason = _text(reason, "reason")

        async def work(conn: AsyncConnection) -> None:
            current = await rs.locked_application(conn, application_id)
            recovery = self._recovery(current, await rs.recovered_fen(conn, application_id))
            if recovery is None:
                raise IllegalTransition("write off a recovery", current.state.value)
            rd.check_write_off(recovery)
            await rs.change(conn, application_id, now, written_off_reason=reason)
            await rs.add_step(conn, application_id, "written_off", reason, now, principal.actor)

        details = {"application_id": application_id}
        records = [AuditRecord(principal.actor, "relief.written_off", details)]
        await self.store.write(application.case_id, records, work, now)
        return await self._fund_view(await self.store.get(application_id))

    # ------------------------------------------------------------------ views

    @staticmethod
    def _recovery(a: Application, recovered_fen: int) -> rd.Recovery | None:
        if a.state is not rd.ReliefState.PAID or a.approved is None:
            return None
        return rd.Recovery(a.approved, Money(recovered_fen), a.written_off_reason is not None)

    async def _common(self, a: Application, participants: Sequence[Participant]) -> dict[str, Any]:
        names = {p.id: p for p in participants}
        received = await self.store.recoveries(a.id)
        rec = self._recovery(a, sum(r.amount.fen for r in received))
        party = names.get(a.participant_id)
        liable = names.get(a.liable_participant_id or "")
        docs = {d.id: d for d in await self.repo.documents(a.case_id)}
        return {
            "id": a.id,
            "case_id": a.case_id,
            "fund_id": a.fund_id,
            "fund_name": await self.store.fund_name(a.fund_id),
            "participant_id": a.participant_id,
            "party_name": party.display_name if party else "",
            "ground": a.ground,
            "ground_name": rd.GROUND_NAMES[a.ground],
            "advance_kind": a.advance_kind,
            "advance_name": rd.ADVANCE_NAMES[a.advance_kind],
            "asked": a.asked.plain(),
            "payee": a.payee,
            "description": a.description,
            "state": a.state.value,
            "note": a.note,
            "approved": a.approved.plain() if a.approved else None,
            "payment_reference": a.payment_reference,
            "paid_on": a.paid_on,
            "evidence": [document_view(docs[i]) for i in await self.store.evidence(a.id) if i in docs],
            "steps": [
                {"action": s.action, "note": s.note, "at": s.at.isoformat()} for s in await self.store.steps(a.id)
            ],
            "recovery": None
            if rec is None
            else {
                "status": rec.status.value,
                "status_name": rd.RECOVERY_NAMES[rec.status],
                "advanced": rec.advanced.plain(),
                "recovered": rec.recovered.plain(),
                "outstanding": rec.outstanding.plain(),
                "liable_participant_id": a.liable_participant_id,
                "liable_name": liable.display_name if liable else "未查明（逃逸）",
                "written_off_reason": a.written_off_reason,
                "received": [
                    {"amount": r.amount.plain(), "received_on": r.received_on, "reference": r.reference}
                    for r in received
                ],
            },
            "created_at": a.created_at.isoformat(),
            "updated_at": a.updated_at.isoformat(),
        }

    async def _case_view(
        self, a: Application, participants: Sequence[Participant], principal: Principal, role: Role
    ) -> dict[str, Any]:
        """The application as a party or the mediator reads it: a party sees of the evidence only what they may
        read on the case (documents for the parties, and their own uploads)."""
        view = await self._common(a, participants)
        if role is not Role.MEDIATOR:
            docs = {d.id: d for d in await self.repo.documents(a.case_id)}
            view["evidence"] = [
                e
                for e in view["evidence"]
                if docs[e["id"]].visibility == "parties" or docs[e["id"]].created_by == principal.actor
            ]
        return view

    async def _fund_view(self, a: Application) -> dict[str, Any]:
        participants = await self.repo.participants(a.case_id)
        loaded = await self.repo.load_case(a.case_id)
        view = await self._common(a, participants)
        view["case_number"] = loaded.case.number
        view["parties"] = [
            {"participant_id": p.id, "name": p.display_name, "role_name": role_name(p.role)}
            for p in participants
            if p.role is not Role.MEDIATOR and p.role is not Role.OBSERVER
        ]
        return view
