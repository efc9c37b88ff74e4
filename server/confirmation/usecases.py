"""Judicial confirmation (司法确认): the joint application, the court's queue, and the ruling.

1. Once the signed agreement is served, the mediator **prepares** the application, naming the
   court. Each party then **confirms** online that they apply. The law gives 30 days from the
   agreement taking effect; later, every step is refused with that date in the message.
2. When the last party confirms, the platform **submits**: it assembles the packet (the sealed
   application with the parties' identities, the signed agreement, its completion certificate,
   the mediation record, the recording manifests and the proofs of service, indexed with their
   SHA-256 in a JSON document), records the joint application in the case's life cycle, and the
   application appears in that court's queue with its review deadline.
3. A judge of that court **takes** the application (they join the case as its judge: from then on
   the case's documents, recordings and transcript are theirs to read), may **ask the parties for
   more material** (a court-sealed notice, served electronically; the parties upload), and
   **rules**: the ruling (民事裁定书) is signed with the court's own key, kept on the case, served on
   every party who consented, and the case becomes ``confirmed`` or ``rejected``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import CaseService, document_view
from server.confirmation.documents import (
    Applicant,
    ApplicationFacts,
    RequestFacts,
    RulingFacts,
    render_application,
    render_request,
    render_ruling,
)
from server.confirmation.store import (
    Application,
    ConfirmationStore,
    application_update,
    confirm_rows,
    prepare_rows,
)
from server.documents.sealed import render_sealed
from server.domain import lifecycle as lc
from server.domain.participants import Participant
from server.domain.roles import PARTY_ROLES, AccountKind, Action, Role, role_name
from server.e_service.usecases import ServingService
from server.errors import ConcurrentUpdate, ConfirmationDeadlinePassed, Forbidden, InvalidCommand, NotFound
from server.identity.access import Principal
from server.signing.usecases import Keys
from server.store.repository import AuditRecord, DocumentRecord, LoadedCase, records_from_events

REVIEW_PERIOD = timedelta(days=15)
"""How long the court has to rule once the application is submitted."""
PACKET_KIND = "confirmation_packet"
APPLICATION_KIND = "confirmation_application"
REQUEST_KIND = "material_request"
MATERIAL_KIND = "supplementary_material"
RULING_KIND = "ruling"
PACKET_KINDS = {
    "agreement_signing": "调解协议",
    "signing_certificate": "签署完成证明",
    "mediation_record": "调解笔录",
    "recording_manifest": "录音录像清单",
    "proof_of_service": "送达回证",
}
MATERIAL_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


class ConfirmationService:
    """Prepare, confirm, submit; the court's queue; take, request material, rule."""

    def __init__(self, cases: CaseService, store: ConfirmationStore, serving: ServingService, keys: Keys) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store
        self.serving = serving
        self.keys = keys

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _window(case: lc.Case, now: datetime) -> datetime:
        """The last moment to apply; raises once it has passed."""
        if case.agreement_effective_at is None:
            raise InvalidCommand("The agreement has not taken effect")
        last = case.agreement_effective_at + lc.CONFIRMATION_WINDOW
        if now > last:
            raise ConfirmationDeadlinePassed(
                "Judicial confirmation must be applied for within 30 days of the agreement taking effect; "
                f"that period ended at {last.isoformat()}"
            )
        return last

    async def _application(self, case_id: str) -> Application:
        application = await self.store.application(case_id)
        if application is None:
            raise NotFound("No application for judicial confirmation has been prepared")
        return application

    async def _in_court(self, principal: Principal, case_id: str) -> tuple[Application, Any]:
        """A submitted application of the judge's own court (and the judge's account); else NotFound."""
        if principal.account_kind is not AccountKind.JUDGE:
            raise Forbidden("Only a judge of the court may do this")
        application = await self._application(case_id)
        account = await self.cases.accounts.account(principal.subject_id)
        if application.court != account.organization or application.submitted_at is None:
            raise NotFound("No such application in your court")
        return application, account

    async def _judge(self, principal: Principal, case_id: str) -> tuple[Application, Any]:
        """The judge who took this application (and their account)."""
        application, account = await self._in_court(principal, case_id)
        if application.judge_account_id != account.id:
            raise Forbidden("Take the application first (another judge may have it)")
        return application, account

    def _parties(self, case: lc.Case) -> list[str]:
        """The parties who apply: every signer of the agreement but the mediator (who signed last)."""
        assert case.signing is not None
        return list(case.signing.signers[:-1])

    # ------------------------------------------------------------------ the mediator and the parties

    async def courts(self, principal: Principal) -> list[str]:
        if not principal.is_account:
            raise Forbidden("Courts are listed for mediators and judges")
        return await self.store.courts()

    async def prepare(self, principal: Principal, case_id: str, court: str, now: datetime) -> dict[str, Any]:
        """The mediator names the court; the parties then confirm."""
        await self.cases.require(principal, case_id, Action.CHANGE_STATE)
        case = (await self.repo.load_case(case_id)).case
        if case.state is not lc.CaseState.SERVED:
            raise InvalidCommand("The signed agreement must be served on every party before applying")
        self._window(case, now)
        if court not in await self.store.courts():
            raise InvalidCommand("No such court on the platform")
        current = await self.store.application(case_id)
        if current is not None and current.submitted_at is not None:
            raise InvalidCommand("The application was already submitted")
        record = AuditRecord(principal.actor, "confirmation.prepared", {"court": court})

        async def work(conn: Any) -> None:
            await prepare_rows(conn, case_id, court, now, principal.actor)

        await self.repo.write_audited(case_id, lambda _l: (None, [record]), work, now)
        return await self.status(principal, case_id)

    async def confirm(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """A party confirms they apply; the last confirmation submits the application to the court."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        case = (await self.repo.load_case(case_id)).case
        application = await self._application(case_id)
        if application.submitted_at is not None:
            raise InvalidCommand("The application was already submitted")
        if case.signing is None or access.participant_id not in self._parties(case):
            raise Forbidden("Only the parties to the agreement apply")
        self._window(case, now)
        confirmed = await self.store.confirmations(case_id)
        if access.participant_id not in confirmed:
            record = AuditRecord(principal.actor, "confirmation.confirmed", {"participant_id": access.participant_id})

            async def work(conn: Any) -> None:
                await confirm_rows(conn, case_id, access.participant_id, now)

            await self.repo.write_audited(case_id, lambda _l: (None, [record]), work, now)
            confirmed[access.participant_id] = now
        if all(p in confirmed for p in self._parties(case)):
            await self._submit(case_id, now)
        return await self.status(principal, case_id)

    async def _submit(self, case_id: str, now: datetime) -> None:
        """Assemble the packet and put the application into the court's queue."""
        loaded = await self.repo.load_case(case_id)
        case = loaded.case
        application = await self._application(case_id)
        confirmed = await self.store.confirmations(case_id)
        parties = self._parties(case)
        people = {p.id: p for p in await self.repo.participants(case_id)}
        docs = await self.repo.documents(case_id)
        signed = [d for d in docs if d.kind == "agreement_signing"]
        agreement = max(signed, key=lambda d: (d.size, d.created_at))
        included = [agreement] + [d for d in docs if d.kind in PACKET_KINDS and d.kind != "agreement_signing"]
        mediator = next((p.display_name for p in people.values() if p.role is Role.MEDIATOR), "")
        assert case.agreement_effective_at is not None
        facts = ApplicationFacts(
            court=application.court,
            case_number=case.number,
            case_title=case.title,
            applicants=[
                Applicant(
                    people[p].display_name,
                    role_name(people[p].role),
                    people[p].id_number or "",
                    confirmed[p],
                )
                for p in parties
            ],
            mediator=mediator,
            agreement_title=agreement.title,
            agreement_sha256=agreement.sha256,
            effective_at=case.agreement_effective_at,
            included=[(PACKET_KINDS[d.kind], d.title, d.sha256) for d in included],
            submitted_at=now,
        )
        sealed = await render_sealed(
            render_application, facts, self.keys, case.number, "司法确认申请（各申请人已在线确认）", now
        )
        app_doc = await self._add(case_id, sealed, APPLICATION_KIND, "司法确认申请书", "application/pdf", "staff", now)
        packet = {
            "format": "judicial-confirmation-packet/1",
            "court": application.court,
            "case": {"id": case.id, "number": case.number, "title": case.title},
            "submitted_at": now.isoformat(),
            "agreement_effective_at": case.agreement_effective_at.isoformat(),
            "application": _entry(app_doc, "司法确认申请书"),
            "documents": [_entry(d, PACKET_KINDS[d.kind]) for d in included],
            "applicants": [
                {
                    "participant_id": p,
                    "name": people[p].display_name,
                    "role": people[p].role.value,
                    "id_number": people[p].id_number,
                    "phone": people[p].phone,
                    "confirmed_at": confirmed[p].isoformat(),
                }
                for p in parties
            ],
        }
        data = json.dumps(packet, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
        packet_doc = await self._add(
            case_id, data, PACKET_KIND, "司法确认申请材料清单", "application/json", "staff", now
        )
        review = now + REVIEW_PERIOD

        def decide(fresh: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            transition = lc.apply(fresh.case, lc.ApplyForConfirmation(tuple(parties)), now)
            records = records_from_events("system", transition.events) + [
                AuditRecord(
                    "system",
                    "confirmation.submitted",
                    {"court": application.court, "packet_document_id": packet_doc.id, "sha256": packet_doc.sha256},
                )
            ]
            return transition.case, records

        async def work(conn: Any) -> None:
            await application_update(
                conn,
                case_id,
                {"submitted_at": now, "review_deadline": review, "packet_document_id": packet_doc.id},
            )

        await self.repo.write_audited(case_id, decide, work, now)

    async def _add(
        self,
        case_id: str,
        data: bytes,
        kind: str,
        title: str,
        media_type: str,
        visibility: str,
        now: datetime,
        actor: str = "system",
    ) -> DocumentRecord:
        """Keep a document the platform made (or a party handed in), audited, under the case's lock."""
        return await self.cases.store_document(
            case_id, data, kind=kind, title=title, media_type=media_type, visibility=visibility, now=now, actor=actor
        )

    async def status(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """Where the application stands: the court, who confirmed, deadlines, packet and ruling."""
        await self.cases.require(principal, case_id, Action.READ_CASE)
        case = (await self.repo.load_case(case_id)).case
        application = await self._application(case_id)
        confirmed = await self.store.confirmations(case_id)
        people = {p.id: p for p in await self.repo.participants(case_id)}
        parties = self._parties(case) if case.signing else []
        last = case.agreement_effective_at + lc.CONFIRMATION_WINDOW if case.agreement_effective_at else None
        return {
            "court": application.court,
            "state": case.state.value,
            "apply_by": last.isoformat() if last else None,
            "prepared_at": application.prepared_at.isoformat(),
            "applicants": [
                {
                    "participant_id": p,
                    "name": people[p].display_name if p in people else "",
                    "confirmed_at": confirmed[p].isoformat() if p in confirmed else None,
                }
                for p in parties
            ],
            "submitted_at": _iso(application.submitted_at),
            "review_deadline": _iso(application.review_deadline),
            "packet_document_id": application.packet_document_id,
            "ruling_document_id": application.ruling_document_id,
            "confirmed": case.confirmation.confirmed if case.confirmation else None,
        }

    async def export_section(self, case_id: str) -> tuple[str, Any]:
        """The ``confirmation`` section of a case's export: the application, confirmations and ruling."""
        application = await self.store.application(case_id)
        if application is None:
            return "confirmation", None
        case = (await self.repo.load_case(case_id)).case
        confirmed = await self.store.confirmations(case_id)
        return "confirmation", {
            "court": application.court,
            "prepared_at": application.prepared_at.isoformat(),
            "confirmations": {p: t.isoformat() for p, t in sorted(confirmed.items())},
            "submitted_at": _iso(application.submitted_at),
            "review_deadline": _iso(application.review_deadline),
            "packet_document_id": application.packet_document_id,
            "ruling_document_id": application.ruling_document_id,
            "confirmed": case.confirmation.confirmed if case.confirmation else None,
            "ruled_at": _iso(case.confirmation.ruled_at) if case.confirmation else None,
            "reasons": case.confirmation.reasons if case.confirmation else "",
        }

    async def add_material(
        self, principal: Principal, case_id: str, data: bytes, media_type: str, title: str, now: datetime
    ) -> DocumentRecord:
        """A party hands in material the court asked for."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Material is handed in by the parties")
        application = await self._application(case_id)
        if application.submitted_at is None or application.ruling_document_id is not None:
            raise InvalidCommand("The court is not reviewing an application of this case")
        if media_type not in MATERIAL_TYPES:
            raise InvalidCommand("Material must be a PDF, JPEG or PNG file")
        doc = await self._add(case_id, data, MATERIAL_KIND, title, media_type, "parties", now, principal.actor)
        await self.repo.record(
            case_id, [AuditRecord(principal.actor, "confirmation.material", {"document_id": doc.id})], now
        )
        return doc

    # ------------------------------------------------------------------ the court

    async def queue(self, principal: Principal, now: datetime) -> list[dict[str, Any]]:
        """The judge's court's pending applications, the nearest review deadline first."""
        if principal.account_kind is not AccountKind.JUDGE:
            raise Forbidden("The court's queue is for judges")
        account = await self.cases.accounts.account(principal.subject_id)
        out = []
        for application, row in await self.store.queue(account.organization):
            assert application.review_deadline is not None
            out.append(
                {
                    "case_id": application.case_id,
                    "number": row.number,
                    "title": row.title,
                    "state": row.state,
                    "submitted_at": _iso(application.submitted_at),
                    "review_deadline": application.review_deadline.isoformat(),
                    "days_left": max(0, (application.review_deadline - now).days),
                    "taken_by_me": application.judge_account_id == account.id,
                    "taken": application.judge_account_id is not None,
                }
            )
        return out

    async def take(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """A judge of the court takes the application and joins the case as its judge."""
        _application, account = await self._in_court(principal, case_id)
        if not await self.store.take(case_id, account.id):
            raise Forbidden("Another judge of the court has taken this application")
        if await self.repo.account_role_on_case(account.id, case_id) is None:
            judge = Participant(
                id=str(uuid.uuid4()),
                case_id=case_id,
                role=Role.JUDGE,
                display_name=account.display_name,
                added_at=now,
                account_id=account.id,
            )
            record = AuditRecord(principal.actor, "participant.added", {"participant_id": judge.id, "role": "judge"})
            for attempt in range(5):
                try:
                    await self.repo.add_participant(await self.repo.load_case(case_id), judge, [record], now)
                    break
                except ConcurrentUpdate:
                    if attempt == 4:
                        raise
        return await self.status(principal, case_id)

    async def request_material(
        self, principal: Principal, case_id: str, text: str, days: int, now: datetime
    ) -> dict[str, Any]:
        """Ask the parties for more material: a court-sealed notice, served electronically."""
        application, account = await self._judge(principal, case_id)
        case = (await self.repo.load_case(case_id)).case
        facts = RequestFacts(
            application.court, case.number, account.display_name, text, now + timedelta(days=days), now
        )
        court = replace(self.keys, ca=self.keys.court_ca(application.court, now))
        sealed = await render_sealed(
            render_request, facts, court, case.number, "补充材料通知", now, _court_signer(application.court, account)
        )
        doc = await self._add(case_id, sealed, REQUEST_KIND, "补充材料通知书", "application/pdf", "parties", now)
        served = await self._serve(case_id, doc, now, purpose="request")
        return {"document": document_view(doc), "service": served}

    async def rule(
        self, principal: Principal, case_id: str, confirmed: bool, reasons: str, now: datetime
    ) -> dict[str, Any]:
        """The ruling: signed with the court's key, kept on the case, served on the parties."""
        application, account = await self._judge(principal, case_id)
        loaded = await self.repo.load_case(case_id)
        case = loaded.case
        lc.apply(case, lc.RuleOnConfirmation(confirmed, reasons), now)  # refused (with its reason) before anything
        people = {p.id: p for p in await self.repo.participants(case_id)}
        agreement_id = _packet_agreement(await self._packet(case_id))
        agreement = next(d for d in await self.repo.documents(case_id) if d.id == agreement_id)
        assert case.agreement_effective_at is not None and application.submitted_at is not None
        facts = RulingFacts(
            court=application.court,
            case_number=case.number,
            applicants=[(people[p].display_name, role_name(people[p].role)) for p in self._parties(case)],
            agreement_title=agreement.title,
            agreement_sha256=agreement.sha256,
            effective_at=case.agreement_effective_at,
            submitted_at=application.submitted_at,
            confirmed=confirmed,
            reasons=reasons,
            judge=account.display_name,
            ruled_at=now,
        )
        court = replace(self.keys, ca=self.keys.court_ca(application.court, now))
        signed = await render_sealed(
            render_ruling, facts, court, case.number, "民事裁定", now, _court_signer(application.court, account)
        )
        doc = await self._add(case_id, signed, RULING_KIND, "民事裁定书", "application/pdf", "parties", now)

        def decide(fresh: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            transition = lc.apply(fresh.case, lc.RuleOnConfirmation(confirmed, reasons), now)
            extra = AuditRecord(principal.actor, "confirmation.ruled", {"document_id": doc.id, "confirmed": confirmed})
            return transition.case, records_from_events(principal.actor, transition.events) + [extra]

        async def work(conn: Any) -> None:
            await application_update(conn, case_id, {"ruling_document_id": doc.id})

        await self.repo.write_audited(case_id, decide, work, now)
        served = await self._serve(case_id, doc, now, purpose="ruling")
        return {"document": document_view(doc), "confirmed": confirmed, "service": served}

    async def _packet(self, case_id: str) -> dict[str, Any]:
        application = await self._application(case_id)
        doc = next(d for d in await self.repo.documents(case_id) if d.id == application.packet_document_id)
        packet: dict[str, Any] = json.loads(await self.cases.blobs.get(doc.sha256))
        return packet

    async def packet(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The submitted packet's index (staff of the case: the mediator and the judge who took it)."""
        await self.cases.require(principal, case_id, Action.READ_ALL_DOCUMENTS)
        return await self._packet(case_id)

    async def _serve(self, case_id: str, doc: DocumentRecord, now: datetime, purpose: str) -> dict[str, Any]:
        """Serve a court document on every party who consented; name those who must be served otherwise."""
        consents = await self.serving.store.consents(case_id)
        parties = [p for p in await self.repo.participants(case_id) if p.role in PARTY_ROLES]
        reachable = [p.id for p in parties if consents.get(p.id, {}).get("channels")]
        unreachable = [p.display_name for p in parties if p.id not in reachable]
        if not reachable:
            return {"service_id": None, "not_served_electronically": unreachable}
        view = await self.serving.serve_as("system", case_id, doc.id, reachable, 72, now, purpose=purpose)
        return {"service_id": view["id"], "not_served_electronically": unreachable}


def _court_signer(court: str, account: Any) -> tuple[str, str, str]:
    return ("court", court, f"审判员 {account.display_name}")


def _packet_agreement(packet: dict[str, Any]) -> str:
    return str(packet["documents"][0]["id"])


def _entry(doc: DocumentRecord, kind_words: str) -> dict[str, Any]:
    return {
        "id": doc.id,
        "kind": doc.kind,
        "kind_words": kind_words,
        "title": doc.title,
        "media_type": doc.media_type,
        "size": doc.size,
        "sha256": doc.sha256,
        "created_at": doc.created_at.isoformat(),
    }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
