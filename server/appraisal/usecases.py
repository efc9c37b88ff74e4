"""Online appraisal (在线鉴定) inside a case: who may do what, and what each step stores and audits.

1. **The roster**: the open appraisal institutions (organisations of kind ``appraisal``) with the specialties their
   administrators set; any staff account reads it, filtered by specialty.
2. **The mediator starts** an appraisal on the case (the subject, what exactly, which party asked). Each **party
   consents** from their join page (agree, or object with a reason). The institution is then **agreed** (the
   mediator records the one the parties agreed on) or **drawn** from the roster's open institutions listing the
   subject (the candidates, the seed from :mod:`secrets`, the result, who drew and when: in the case's audit trail
   and on the appraisal). Either needs every party's agreement: one objection blocks the appointment.
3. **Appointment**: the fee and who pays it; the platform renders and seals the appointment notice (a case
   document the parties read) in the same transaction, then serves it on every party who consented to electronic
   service (``server.e_service``; the others are named in the answer).
4. **Materials**: the mediator picks case documents; the chosen institution's appraisers see exactly those on
   their desk (``/appraisal``), nothing else of the case; another institution gets 404.
5. **The opinion**: an appraiser of the institution uploads a PDF that must carry at least one signature that is
   intact, verifies and chains to a trusted CA (:func:`e_sign.verify.verify_pdf`); otherwise 422
   ``unsigned_opinion`` says what was found. It becomes a case document of upload kind ``appraisal_opinion``.
6. **Re-appraisal**: a party applies with reasons; the mediator grants (a new round starts, consenting again) or
   refuses with reasons. **Evaluations**: the mediator and each party score an opinion once (1-5, a comment);
   the justice bureau's officers read them per institution (no names of parties).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.appraisal.render import AppointmentNotice, ConsentLine, render_notice
from server.appraisal.store import Appraisal, AppraisalStore, Evaluation, canonical
from server.cases.usecases import Access, CaseService, added_record, document_view
from server.documents.sealed import render_sealed
from server.domain import appraisal as ap
from server.domain import audit
from server.domain.appraisal import AppraisalState, Command
from server.domain.documents import check_upload
from server.domain.lifecycle import END_STATES as CASE_END_STATES
from server.domain.organisations import Organisation, require_admin_of
from server.domain.participants import Participant
from server.domain.roles import PARTY_ROLES, AccountKind, Action, Role, may, role_name
from server.e_service.usecases import ServingService
from server.errors import Duplicate, Forbidden, IllegalTransition, InvalidCommand, NotFound, UnsignedOpinion
from server.identity.access import Principal
from server.signing.usecases import Keys
from server.store import schema as t
from server.store.repository import AuditRecord, DocumentRecord

NOTICE_KIND = "appraisal_notice"
"""The document kind of the sealed appointment notice (the platform's own)."""
OPINION_KIND = "appraisal_opinion"
"""The upload kind of an institution's opinion."""
MAX_MATERIALS = 50
"""At most this many documents are sent to an institution."""
SERVICE_HOURS = 72
"""The deadline of the notice's electronic service."""
DESK_STATES = frozenset({AppraisalState.APPOINTED, AppraisalState.OPINION, AppraisalState.SUPERSEDED})
"""The states in which the institution sees an appraisal on its desk."""


def _sha(text: str) -> dict[str, str]:
    return {"text_sha256": audit.sha256_text(text)} if text else {}


class AppraisalService:
    """The roster, the appraisal's steps on a case, the institution's desk and the bureau's evaluations."""

    def __init__(self, cases: CaseService, store: AppraisalStore, serving: ServingService, keys: Keys) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store
        self.serving = serving
        """Serves the appointment notice on the parties."""
        self.keys = keys
        """Seals the notice; its trust roots check the opinion's signatures."""

    # ------------------------------------------------------------------ the roster

    async def _account_organisation(self, principal: Principal) -> str:
        if not principal.is_account:
            raise Forbidden("Only staff accounts use the roster of appraisal institutions")
        return (await self.cases.accounts.account(principal.subject_id)).organisation_id

    async def _roster(self, specialty: str | None) -> list[tuple[Organisation, tuple[str, ...]]]:
        institutions = await self.store.institutions()
        specialties = await self.store.specialties([o.id for o in institutions])
        return [
            (o, specialties.get(o.id, ()))
            for o in institutions
            if specialty is None or specialty in specialties.get(o.id, ())
        ]

    @staticmethod
    def _institution_view(o: Organisation, specialties: Sequence[str]) -> dict[str, Any]:
        return {
            "id": o.id,
            "name": o.name,
            "region": o.region,
            "specialties": list(specialties),
            "specialty_names": [ap.SPECIALTIES[s] for s in specialties],
        }

    async def roster(self, principal: Principal, specialty: str | None) -> list[dict[str, Any]]:
        """The open appraisal institutions (those listing ``specialty`` when given)."""
        await self._account_organisation(principal)
        if specialty is not None:
            ap.check_subject(specialty)
        return [self._institution_view(o, s) for o, s in await self._roster(specialty)]

    async def set_specialties(
        self, principal: Principal, organisation_id: str, specialties: Sequence[str]
    ) -> dict[str, Any]:
        """An institution's administrator sets what it appraises."""
        own = await self._account_organisation(principal)
        require_admin_of(principal.account_kind, own, organisation_id)
        checked = ap.check_specialties(specialties)
        institution = next((o for o in await self.store.institutions() if o.id == organisation_id), None)
        if institution is None:
            raise InvalidCommand("Only an open appraisal institution lists specialties")
        await self.store.set_specialties(organisation_id, checked)
        return self._institution_view(institution, checked)

    # ------------------------------------------------------------------ reading on the case

    async def _mediator(self, principal: Principal, case_id: str) -> Access:
        access = await self.cases.access(principal, case_id)
        if access.role is not Role.MEDIATOR:
            raise Forbidden("Only the case's mediator drives an appraisal")
        return access

    async def _party(self, principal: Principal, case_id: str) -> Access:
        access = await self.cases.access(principal, case_id)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only a party of the case does this, for themselves")
        return access

    async def _appraisal(self, case_id: str, appraisal_id: str) -> Appraisal:
        try:
            found = await self.store.get(appraisal_id)
        except NotFound:
            raise NotFound("No such appraisal on this case") from None
        if found.case_id != case_id:
            raise NotFound("No such appraisal on this case")
        return found

    async def appraisals(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The case's appraisals as the caller may see them (a party: their own consent's reason and evaluation)."""
        access = await self.cases.require(principal, case_id, Action.READ_DOCUMENTS)
        staff = may(access.role, Action.READ_ALL_DOCUMENTS)
        people = await self.repo.participants(case_id)
        docs = {d.id: d for d in await self.repo.documents(case_id)}
        names = await self.store.names()
        out = [await self._view(a, access, staff, people, docs, names) for a in await self.store.of_case(case_id)]
        return {"case_id": case_id, "appraisals": out, "specialties": dict(ap.SPECIALTIES), "payers": dict(ap.PAYERS)}

    async def _view(
        self,
        a: Appraisal,
        access: Access,
        staff: bool,
        people: Sequence[Participant],
        docs: dict[str, DocumentRecord],
        names: dict[str, str],
    ) -> dict[str, Any]:
        consents = await self.store.consents(a.id)
        parties = _answering(people)
        me = next((p for p in people if p.id == access.participant_id), None)
        mine = _speaks_for(me) if me is not None else access.participant_id
        evaluations = await self.store.evaluations(a.id)
        reappraisals = await self.store.reappraisals(a.id)
        materials = await self.store.materials(a.id) if staff else []
        draw = dict(a.draw) if a.draw else None
        if draw is not None:
            draw["candidate_names"] = [names.get(c, c) for c in draw["candidates"]]
        return {
            "id": a.id,
            "round": a.round,
            "subject": a.subject,
            "subject_name": ap.SPECIALTIES.get(a.subject, a.subject),
            "description": a.description,
            "requested_by": a.requested_by,
            "state": a.state.value,
            "institution": {"id": a.institution_id, "name": names.get(a.institution_id, "")}
            if a.institution_id
            else None,
            "choice": a.choice,
            "draw": draw,
            "fee": a.fee,
            "fee_payer": a.fee_payer,
            "notice": document_view(docs[a.notice_document_id]) if a.notice_document_id in docs else None,
            "opinion": document_view(docs[a.opinion_document_id]) if a.opinion_document_id in docs else None,
            "opinion_check": a.opinion_check,
            "consents": [
                {
                    "participant_id": p.id,
                    "name": p.display_name,
                    "role": p.role.value,
                    "role_name": role_name(p.role),
                    "answer": None if p.id not in consents else ("agree" if consents[p.id][0].agree else "object"),
                    "reason": consents[p.id][0].reason if p.id in consents and (staff or p.id == mine) else "",
                    "at": consents[p.id][1].isoformat() if p.id in consents else None,
                }
                for p in parties
            ],
            "materials": [document_view(docs[d]) for d in materials if d in docs],
            "reappraisals": [
                {
                    "id": r.id,
                    "participant_id": r.participant_id,
                    "reasons": r.reasons if staff or r.participant_id == access.participant_id else "",
                    "at": r.at.isoformat(),
                    "decision": r.decision,
                    "decision_reasons": r.decision_reasons,
                    "decided_at": r.decided_at.isoformat() if r.decided_at else None,
                    "next_appraisal_id": r.next_appraisal_id,
                }
                for r in reappraisals
                if staff or r.participant_id == access.participant_id or r.decision is not None
            ],
            "evaluations": [_evaluation_view(e) for e in evaluations if staff or e.evaluator == access.participant_id],
            "evaluated": any(e.evaluator == access.participant_id for e in evaluations),
            "answers_for": mine if access.role in PARTY_ROLES else None,
        }

    # ------------------------------------------------------------------ the mediator starts, the parties consent

    async def start(
        self,
        principal: Principal,
        case_id: str,
        subject: str,
        description: str,
        requested_by: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Start an appraisal on the case (consenting)."""
        await self._mediator(principal, case_id)
        ap.check_subject(subject)
        description = ap.check_text(description, "what is to be appraised", required=False)
        if requested_by is not None:
            people = {p.id: p for p in await self.repo.participants(case_id)}
            if requested_by not in people or people[requested_by].role not in PARTY_ROLES:
                raise InvalidCommand("The appraisal is asked for by a party of this case")
        appraisal_id = str(uuid.uuid4())

        def records(loaded: Any) -> list[AuditRecord]:
            if loaded.case.state in CASE_END_STATES:
                raise IllegalTransition("start an appraisal", loaded.case.state.value)
            details = {"appraisal_id": appraisal_id, "subject": subject, "requested_by": requested_by}
            return [AuditRecord(principal.actor, "appraisal.started", details)]

        async def work(conn: Any) -> None:
            round_ = await self.store.next_round(conn, case_id)
            await self.store.insert(
                conn,
                t.appraisals,
                _new_row(appraisal_id, case_id, round_, subject, description, requested_by, None, principal.actor, now),
            )

        await self.store.write(case_id, records, work, now)
        return await self._one(principal, case_id, appraisal_id)

    async def _one(self, principal: Principal, case_id: str, appraisal_id: str) -> dict[str, Any]:
        view = await self.appraisals(principal, case_id)
        return next(a for a in view["appraisals"] if a["id"] == appraisal_id)

    async def consent(
        self, principal: Principal, case_id: str, appraisal_id: str, agree: bool, reason: str, now: datetime
    ) -> dict[str, Any]:
        """A party agrees to the appraisal, or objects with a reason (the newest answer counts)."""
        access = await self._party(principal, case_id)
        await self._appraisal(case_id, appraisal_id)
        speaks_for = _speaks_for(await self.repo.participant(access.participant_id))
        answer = ap.consent(speaks_for, agree, reason)
        details = {"appraisal_id": appraisal_id, "participant_id": speaks_for, "agree": agree}
        details |= {"by": access.participant_id} if speaks_for != access.participant_id else {}
        details |= _sha(answer.reason)

        async def work(conn: Any) -> None:
            ap.check((await self.store.locked(conn, appraisal_id)).state, Command.CONSENT)
            row = {"appraisal_id": appraisal_id, "participant_id": speaks_for, "agree": agree}
            await self.store.insert(conn, t.appraisal_consents, {**row, "reason": answer.reason, "at": now})

        await self.store.write(
            case_id, lambda _l: [AuditRecord(principal.actor, "appraisal.consent", details)], work, now
        )
        return await self._one(principal, case_id, appraisal_id)

    # ------------------------------------------------------------------ the institution: agreed or drawn

    async def _party_ids(self, case_id: str) -> list[str]:
        return [p.id for p in _answering(await self.repo.participants(case_id))]

    async def choose(
        self, principal: Principal, case_id: str, appraisal_id: str, organisation_id: str, now: datetime
    ) -> dict[str, Any]:
        """Record the institution every party agreed on (it must be on the roster for the subject)."""
        await self._mediator(principal, case_id)
        a = await self._appraisal(case_id, appraisal_id)
        if organisation_id not in {o.id for o, _ in await self._roster(a.subject)}:
            raise InvalidCommand("The institution is not an open appraisal institution listing this specialty")
        await self._set_institution(principal, case_id, appraisal_id, Command.CHOOSE, organisation_id, None, now)
        return await self._one(principal, case_id, appraisal_id)

    async def draw(self, principal: Principal, case_id: str, appraisal_id: str, now: datetime) -> dict[str, Any]:
        """Draw the institution at random from the roster's open institutions listing the subject; recorded."""
        await self._mediator(principal, case_id)
        a = await self._appraisal(case_id, appraisal_id)
        candidates = [o.id for o, _ in await self._roster(a.subject)]
        drawn = ap.draw(candidates, secrets.token_hex(16))
        record = {
            "candidates": list(drawn.candidates),
            "seed": drawn.seed,
            "result": drawn.result,
            "rule": "sha256(seed|sorted ids) mod n",
            "by": principal.actor,
            "at": now.isoformat(),
        }
        await self._set_institution(principal, case_id, appraisal_id, Command.DRAW, drawn.result, record, now)
        return await self._one(principal, case_id, appraisal_id)

    async def _set_institution(
        self,
        principal: Principal,
        case_id: str,
        appraisal_id: str,
        command: Command,
        organisation_id: str,
        drawn: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        parties = await self._party_ids(case_id)
        details: dict[str, Any] = {"appraisal_id": appraisal_id, "institution_id": organisation_id}
        if drawn is not None:
            details["draw"] = drawn
        action = "appraisal.drawn" if drawn is not None else "appraisal.agreed"

        async def work(conn: Any) -> None:
            state = ap.step(appraisal_id, (await self.store.locked(conn, appraisal_id)).state, command)
            ap.check_consents(parties, await self.store.consents_in(conn, appraisal_id))
            values = {
                "state": state.value,
                "institution_id": organisation_id,
                "choice": "drawn" if drawn is not None else "agreed",
                "draw": canonical(drawn) if drawn is not None else None,
                "updated_at": now,
            }
            await self.store.update_appraisal(conn, appraisal_id, values)

        await self.store.write(case_id, lambda _l: [AuditRecord(principal.actor, action, details)], work, now)

    # ------------------------------------------------------------------ appointment: fee, payer, the sealed notice

    async def appoint(
        self, principal: Principal, case_id: str, appraisal_id: str, fee: str, payer: str, now: datetime
    ) -> dict[str, Any]:
        """Record the fee and its payer, seal the appointment notice onto the case, serve it on the parties."""
        await self._mediator(principal, case_id)
        amount, payer = ap.check_fee(fee, payer)
        a = await self._appraisal(case_id, appraisal_id)
        ap.check(a.state, Command.APPOINT)
        loaded = await self.repo.load_case(case_id)
        notice = await self._notice(a, loaded.case.number, loaded.case.title, f"{amount}", payer, now)
        sealed = await render_sealed(render_notice, notice, self.keys, loaded.case.number, "鉴定委托通知书", now)
        title = "鉴定委托通知书" + (f"（第 {a.round} 次鉴定）" if a.round > 1 else "")
        doc = await self.cases.platform_document(
            case_id,
            sealed,
            kind=NOTICE_KIND,
            title=title,
            media_type="application/pdf",
            visibility="parties",
            now=now,
            actor=principal.actor,
        )
        details = {"appraisal_id": appraisal_id, "fee": f"{amount}", "payer": payer, "document_id": doc.id}

        async def work(conn: Any) -> None:
            state = ap.step(appraisal_id, (await self.store.locked(conn, appraisal_id)).state, Command.APPOINT)
            await self.store.insert_document(conn, doc)
            values = {"state": state.value, "fee": f"{amount}", "fee_payer": payer, "notice_document_id": doc.id}
            await self.store.update_appraisal(conn, appraisal_id, {**values, "updated_at": now})

        records = [added_record(principal.actor, doc), AuditRecord(principal.actor, "appraisal.appointed", details)]
        await self.store.write(case_id, lambda _l: records, work, now)
        served = await self._serve(principal, case_id, doc, now)
        return {**await self._one(principal, case_id, appraisal_id), "service": served}

    async def _notice(
        self, a: Appraisal, number: str, title: str, fee: str, payer: str, now: datetime
    ) -> AppointmentNotice:
        people = await self.repo.participants(a.case_id)
        by_id = {p.id: p for p in people}
        consents = await self.store.consents(a.id)
        names = await self.store.names()
        asked = by_id.get(a.requested_by or "")
        return AppointmentNotice(
            case_number=number,
            case_title=title,
            round=a.round,
            subject=a.subject,
            description=a.description,
            requested_by=f"{role_name(asked.role)} {asked.display_name}" if asked else "调解员依职权",
            consents=[
                ConsentLine(p.display_name, role_name(p.role), consents[p.id][1] if p.id in consents else None)
                for p in _answering(people)
            ],
            institution=names.get(a.institution_id or "", ""),
            choice=a.choice or "agreed",
            candidates=[names.get(c, c) for c in (a.draw or {}).get("candidates", [])],
            seed=(a.draw or {}).get("seed", ""),
            fee=fee,
            payer=payer,
            mediator=next((p.display_name for p in people if p.role is Role.MEDIATOR), ""),
            issued_at=now,
        )

    async def _serve(self, principal: Principal, case_id: str, doc: DocumentRecord, now: datetime) -> dict[str, Any]:
        """Serve the notice on every party who consented to electronic service; name the others."""
        consents = await self.serving.store.consents(case_id)
        parties = [p for p in await self.repo.participants(case_id) if p.role in PARTY_ROLES]
        reachable = [p.id for p in parties if consents.get(p.id, {}).get("channels")]
        unreachable = [p.display_name for p in parties if p.id not in reachable]
        if not reachable:
            return {"service_id": None, "not_served_electronically": unreachable}
        view = await self.serving.serve_as(
            principal.actor, case_id, doc.id, reachable, SERVICE_HOURS, now, purpose=NOTICE_KIND
        )
        return {"service_id": view["id"], "not_served_electronically": unreachable}

    # ------------------------------------------------------------------ materials

    async def send_materials(
        self, principal: Principal, case_id: str, appraisal_id: str, document_ids: Sequence[str], now: datetime
    ) -> dict[str, Any]:
        """The case documents the institution receives (replacing an earlier choice)."""
        await self._mediator(principal, case_id)
        await self._appraisal(case_id, appraisal_id)
        chosen = list(dict.fromkeys(document_ids))
        if len(chosen) > MAX_MATERIALS:
            raise InvalidCommand(f"Send at most {MAX_MATERIALS} documents")
        on_case = {d.id for d in await self.repo.documents(case_id)}
        if any(d not in on_case for d in chosen):
            raise InvalidCommand("Send only documents of this case")
        details = {"appraisal_id": appraisal_id, "document_ids": sorted(chosen)}

        async def work(conn: Any) -> None:
            ap.check((await self.store.locked(conn, appraisal_id)).state, Command.SEND_MATERIALS)
            await self.store.replace_materials(conn, appraisal_id, chosen)
            await self.store.update_appraisal(conn, appraisal_id, {"updated_at": now})

        records = [AuditRecord(principal.actor, "appraisal.materials_sent", details)]
        await self.store.write(case_id, lambda _l: records, work, now)
        return await self._one(principal, case_id, appraisal_id)

    # ------------------------------------------------------------------ the institution's desk

    async def _appraiser(self, principal: Principal) -> str:
        if principal.account_kind is not AccountKind.APPRAISER:
            raise Forbidden("Only an appraisal institution's appraisers work its desk")
        return (await self.cases.accounts.account(principal.subject_id)).organisation_id

    async def _entrusted(self, principal: Principal, appraisal_id: str) -> Appraisal:
        """The appraisal, if the caller is an appraiser of the institution it was entrusted to; else NotFound."""
        if principal.account_kind is not AccountKind.APPRAISER:
            raise NotFound("No such appraisal")
        own = (await self.cases.accounts.account(principal.subject_id)).organisation_id
        try:
            a = await self.store.get(appraisal_id)
        except NotFound:
            raise NotFound("No such appraisal") from None
        if a.institution_id != own or a.state not in DESK_STATES:
            raise NotFound("No such appraisal")
        return a

    async def desk(self, principal: Principal) -> dict[str, Any]:
        """The appraisals entrusted to the caller's institution."""
        own = await self._appraiser(principal)
        items = [await self._desk_view(a, full=False) for a in await self.store.of_institution(own)]
        return {"appraisals": items}

    async def desk_item(self, principal: Principal, appraisal_id: str) -> dict[str, Any]:
        """One entrusted appraisal with its materials."""
        return await self._desk_view(await self._entrusted(principal, appraisal_id), full=True)

    async def _desk_view(self, a: Appraisal, full: bool) -> dict[str, Any]:
        number, _title = await self.store.case_number(a.case_id)
        view: dict[str, Any] = {
            "id": a.id,
            "case_number": number,
            "round": a.round,
            "subject": a.subject,
            "subject_name": ap.SPECIALTIES.get(a.subject, a.subject),
            "description": a.description,
            "state": a.state.value,
            "fee": a.fee,
            "fee_payer": a.fee_payer,
            "updated_at": a.updated_at.isoformat(),
            "materials": [],
            "opinion": None,
            "opinion_check": a.opinion_check,
        }
        if full:
            docs = {d.id: d for d in await self.repo.documents(a.case_id)}
            view["materials"] = [document_view(docs[d]) for d in await self.store.materials(a.id) if d in docs]
            if a.opinion_document_id in docs:
                view["opinion"] = document_view(docs[a.opinion_document_id])
        return view

    async def material(self, principal: Principal, appraisal_id: str, document_id: str) -> tuple[DocumentRecord, bytes]:
        """A document sent to the institution (NotFound for any other document of the case)."""
        a = await self._entrusted(principal, appraisal_id)
        allowed = set(await self.store.materials(a.id))
        if a.opinion_document_id:
            allowed.add(a.opinion_document_id)
        doc = next((d for d in await self.repo.documents(a.case_id) if d.id == document_id), None)
        if doc is None or document_id not in allowed:
            raise NotFound("No such material of this appraisal")
        return doc, await self.cases.blobs.get(doc.sha256)

    async def submit_opinion(
        self, principal: Principal, appraisal_id: str, pdf: bytes, now: datetime
    ) -> dict[str, Any]:
        """The institution's signed opinion (PDF): refused without a valid signature; a case document."""
        from e_sign.verify import verify_pdf

        a = await self._entrusted(principal, appraisal_id)
        ap.check(a.state, Command.SUBMIT_OPINION)
        refused = check_upload(OPINION_KIND, "application/pdf", pdf)
        if refused:
            raise InvalidCommand(refused)
        report = await asyncio.to_thread(verify_pdf, pdf, self.keys.trust_roots)  # about 0.3 s a signature
        signatures = [
            {
                "field": s.field_name,
                "signer": s.signer_name,
                "intact": s.intact,
                "valid": s.valid,
                "chain_ok": s.chain_ok,
                "timestamp_ok": s.timestamp_ok,
                "problems": list(s.problems),
            }
            for s in report.signatures
        ]
        good = [s for s in report.signatures if s.intact and s.valid and s.chain_ok]
        if not good:
            found = "; ".join(report.reasons) or "no valid signature"
            raise UnsignedOpinion(f"The opinion must carry a valid signature; found: {found}")
        check = {"signatures": signatures, "valid_signatures": len(good), "problems": list(report.problems)}
        title = "鉴定意见书" + (f"（第 {a.round} 次鉴定）" if a.round > 1 else "")
        doc = await self.cases.platform_document(
            a.case_id,
            pdf,
            kind=OPINION_KIND,
            title=title,
            media_type="application/pdf",
            visibility="parties",
            now=now,
            actor=principal.actor,
        )
        details = {"appraisal_id": a.id, "document_id": doc.id, "sha256": doc.sha256, "valid_signatures": len(good)}

        async def work(conn: Any) -> None:
            state = ap.step(a.id, (await self.store.locked(conn, a.id)).state, Command.SUBMIT_OPINION)
            await self.store.insert_document(conn, doc)
            values = {"state": state.value, "opinion_document_id": doc.id, "opinion_check": canonical(check)}
            await self.store.update_appraisal(conn, a.id, {**values, "updated_at": now})

        records = [added_record(principal.actor, doc), AuditRecord(principal.actor, "appraisal.opinion", details)]
        await self.store.write(a.case_id, lambda _l: records, work, now)
        return await self.desk_item(principal, a.id)

    # ------------------------------------------------------------------ re-appraisal

    async def apply_reappraisal(
        self, principal: Principal, case_id: str, appraisal_id: str, reasons: str, now: datetime
    ) -> dict[str, Any]:
        """A party applies for a new appraisal, with reasons."""
        access = await self._party(principal, case_id)
        await self._appraisal(case_id, appraisal_id)
        reasons = ap.check_text(reasons, "the reasons for a new appraisal", required=True)
        row_id = str(uuid.uuid4())
        details = {"appraisal_id": appraisal_id, "application_id": row_id, "participant_id": access.participant_id}
        details |= _sha(reasons)

        async def work(conn: Any) -> None:
            ap.check((await self.store.locked(conn, appraisal_id)).state, Command.APPLY_REAPPRAISAL)
            if await self.store.pending_reappraisal(conn, appraisal_id) is not None:
                raise Duplicate("An application for a new appraisal is already waiting for the mediator")
            values = {
                "id": row_id,
                "appraisal_id": appraisal_id,
                "participant_id": access.participant_id,
                "reasons": reasons,
                "at": now,
                "decision_reasons": "",
            }
            await self.store.insert(conn, t.appraisal_reappraisals, values)

        records = [AuditRecord(principal.actor, "appraisal.reappraisal_applied", details)]
        await self.store.write(case_id, lambda _l: records, work, now)
        return await self._one(principal, case_id, appraisal_id)

    async def decide_reappraisal(
        self, principal: Principal, case_id: str, appraisal_id: str, grant: bool, reasons: str, now: datetime
    ) -> dict[str, Any]:
        """Grant the waiting application (this round is superseded, a new one starts) or refuse it with reasons."""
        await self._mediator(principal, case_id)
        a = await self._appraisal(case_id, appraisal_id)
        reasons = ap.check_text(reasons, "the reasons for refusing", required=not grant)
        next_id = str(uuid.uuid4()) if grant else None
        details: dict[str, Any] = {"appraisal_id": appraisal_id, "granted": grant, "next_appraisal_id": next_id}
        details |= _sha(reasons)

        async def work(conn: Any) -> None:
            state = (await self.store.locked(conn, appraisal_id)).state
            ap.check(state, Command.DECIDE_REAPPRAISAL)
            pending = await self.store.pending_reappraisal(conn, appraisal_id)
            if pending is None:
                raise InvalidCommand("No application for a new appraisal is waiting")
            decision = {
                "decision": "granted" if grant else "refused",
                "decision_reasons": reasons,
                "decided_at": now,
                "next_appraisal_id": next_id,
            }
            await self.store.decide_reappraisal(conn, pending.id, decision)
            if next_id is not None:
                superseded = ap.supersede(appraisal_id, state)
                await self.store.update_appraisal(conn, appraisal_id, {"state": superseded.value, "updated_at": now})
                round_ = await self.store.next_round(conn, case_id)
                row = _new_row(
                    next_id,
                    case_id,
                    round_,
                    a.subject,
                    a.description,
                    pending.participant_id,
                    appraisal_id,
                    principal.actor,
                    now,
                )
                await self.store.insert(conn, t.appraisals, row)

        records = [AuditRecord(principal.actor, "appraisal.reappraisal_decided", details)]
        await self.store.write(case_id, lambda _l: records, work, now)
        return await self.appraisals(principal, case_id)

    # ------------------------------------------------------------------ evaluations

    async def evaluate(
        self, principal: Principal, case_id: str, appraisal_id: str, score: int, comment: str, now: datetime
    ) -> dict[str, Any]:
        """The mediator or a party scores the opinion (1-5, a comment), once."""
        access = await self.cases.access(principal, case_id)
        if access.role is not Role.MEDIATOR and access.role not in PARTY_ROLES:
            raise Forbidden("Only the mediator and the parties evaluate an appraisal opinion")
        a = await self._appraisal(case_id, appraisal_id)
        ap.check_score(score)
        comment = ap.check_text(comment, "a comment", required=False)
        row_id = str(uuid.uuid4())
        details = {"appraisal_id": appraisal_id, "evaluation_id": row_id, "score": score} | _sha(comment)

        async def work(conn: Any) -> None:
            locked = await self.store.locked(conn, appraisal_id)
            ap.check(locked.state, Command.EVALUATE)
            if await self.store.has_evaluated(conn, appraisal_id, access.participant_id):
                raise Duplicate("You have already evaluated this opinion")
            values = {
                "id": row_id,
                "appraisal_id": appraisal_id,
                "institution_id": locked.institution_id,
                "evaluator": access.participant_id,
                "evaluator_role": access.role.value,
                "score": score,
                "comment": comment,
                "at": now,
            }
            await self.store.insert(conn, t.appraisal_evaluations, values)

        assert a.id == appraisal_id
        records = [AuditRecord(principal.actor, "appraisal.evaluated", details)]
        await self.store.write(case_id, lambda _l: records, work, now)
        return await self._one(principal, case_id, appraisal_id)

    async def bureau(self, principal: Principal) -> dict[str, Any]:
        """Every institution's evaluations (average, count, each one), for the justice bureau's officers."""
        if principal.account_kind is not AccountKind.BUREAU_OFFICER:
            raise Forbidden("Only a justice bureau's officers read the evaluations of appraisal opinions")
        evaluations = await self.store.evaluations()
        names = await self.store.names()
        out = []
        for institution_id in sorted({e.institution_id for e in evaluations}, key=lambda i: names.get(i, i)):
            mine = [e for e in evaluations if e.institution_id == institution_id]
            out.append(
                {
                    "institution_id": institution_id,
                    "name": names.get(institution_id, ""),
                    "count": len(mine),
                    "average": round(sum(e.score for e in mine) / len(mine), 2),
                    "evaluations": [_evaluation_view(e, anonymous=True) for e in mine],
                }
            )
        return {"institutions": out}


PARTY_ORDER = (Role.APPLICANT, Role.RESPONDENT, Role.INSURER, Role.AGENT)
"""The order parties are listed in (then the order the case lists them)."""
assert set(PARTY_ORDER) == PARTY_ROLES, "every party role is listed"


def _parties(people: Sequence[Participant]) -> list[Participant]:
    return [p for role in PARTY_ORDER for p in people if p.role is role]


def _answering(people: Sequence[Participant]) -> list[Participant]:
    """The parties whose consent an appraisal needs: an agent answers for the party they act for (an agent acting
    for nobody on the case answers for themselves)."""
    ids = {p.id for p in people}
    return [p for p in _parties(people) if not (p.role is Role.AGENT and p.represents in ids)]


def _speaks_for(p: Participant) -> str:
    """Whose consent a participant gives: an agent's is the party's they act for."""
    return p.represents if p.role is Role.AGENT and p.represents else p.id


def _evaluation_view(e: Evaluation, anonymous: bool = False) -> dict[str, Any]:
    view = {
        "id": e.id,
        "appraisal_id": e.appraisal_id,
        "evaluator_role": e.evaluator_role,
        "evaluator_role_name": role_name(e.evaluator_role),
        "score": e.score,
        "comment": e.comment,
        "at": e.at.isoformat(),
    }
    if not anonymous:
        view["evaluator"] = e.evaluator
    return view


def _new_row(
    appraisal_id: str,
    case_id: str,
    round_: int,
    subject: str,
    description: str,
    requested_by: str | None,
    previous_id: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": appraisal_id,
        "case_id": case_id,
        "round": round_,
        "subject": subject,
        "description": description,
        "requested_by": requested_by,
        "state": AppraisalState.CONSENTING.value,
        "previous_id": previous_id,
        "created_at": now,
        "created_by": actor,
        "updated_at": now,
    }
