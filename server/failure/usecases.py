"""When mediation fails (调解不成转诉讼): the record of undisputed facts, the parties' answers, and the
document the court receives.

1. The mediator **drafts** the record (无争议事实记载): the facts nobody disputes (the accident's time and
   place, the liability finding, what was already paid) and the points still disputed. Each redraft is a
   new version; answers belong to a version, so a redraft starts with none.
2. Each party (applicant, respondent, their agent, the insurer) **answers** the newest version from their
   join page: confirm, or object with a note. An answer to a version that is no longer the newest is
   refused (409 ``stale_record``); answering again replaces one's answer (both are in the audit trail).
3. The mediator **ends the mediation as failed** with a reason: the server renders and seals the
   document (the facts, the disputed points, each party's answer or that they did not answer, the
   mediator and the date) and stores it on the case *in the same transaction* as ``FailMediation``, so
   the case is never failed without its document, nor a document kept for a mediation that did not
   fail. A request repeated (or sent twice at once) finds the failed case and answers with the one
   document it has.
4. **Who sees it**: the mediator (and a judge on the case) everything; a party the record and their own
   answer; the staff of the court that referred the case (judges, clerks and administrators of the
   organisation in ``cases.court_id``) the record, every answer and the document, though they are not on
   the case. Everyone else: 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.cases.usecases import RETRIES, Access, CaseService, added_record, document_view
from server.documents.sealed import SealingKeys, render_sealed
from server.domain import audit
from server.domain import lifecycle as lc
from server.domain.lifecycle import Case, CaseState
from server.domain.participants import Participant
from server.domain.roles import PARTY_ROLES, AccountKind, Action, Role, may, role_name
from server.errors import ConcurrentUpdate, Forbidden, IllegalTransition, InvalidCommand, NotFound
from server.failure.render import FactsDocument, PartyLine, render_facts
from server.failure.store import Answer, FactRecord, FactStore, Item, items_json
from server.identity.access import Principal
from server.store.repository import AuditRecord, DocumentRecord, records_from_events

KIND = "undisputed_facts"
"""The document kind of the sealed record the court receives."""
KINDS = ("fact", "dispute")
"""What an item of the record may be."""
ANSWERS = ("confirm", "object")
"""What a party may answer."""
MAX_ITEMS = 50
MAX_TEXT = 500
"""At most this many items, each at most this many characters (a note too)."""
OPEN_STATES = lc.LEGAL_STATES[lc.FailMediation] | {CaseState.IN_SESSION}
"""Where the record may be drafted and answered: wherever the mediation may still fail (and during a session)."""
PARTY_ORDER = (Role.APPLICANT, Role.RESPONDENT, Role.INSURER, Role.AGENT)
"""The order parties are listed in (then the order they were added)."""
assert set(PARTY_ORDER) == PARTY_ROLES, "every party role is listed"
COURT_STAFF = frozenset({AccountKind.JUDGE, AccountKind.CLERK, AccountKind.ORG_ADMIN})
"""Account kinds of a court that read the record of a case their court referred."""


def checked_items(items: Sequence[tuple[str, str]]) -> tuple[Item, ...]:
    """The record's items, checked (InvalidCommand says what is wrong; never quotes the text)."""
    if not items:
        raise InvalidCommand("The record needs at least one item")
    if len(items) > MAX_ITEMS:
        raise InvalidCommand(f"The record has more than {MAX_ITEMS} items")
    out = []
    for n, (kind, text) in enumerate(items, start=1):
        if kind not in KINDS:
            raise InvalidCommand(f'Item {n}: the kind is "fact" or "dispute"')
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidCommand(f"Item {n}: give 1 to {MAX_TEXT} characters")
        out.append(Item(kind, text))
    return tuple(out)


def _open(what: str) -> Any:
    def check(case: Case) -> None:
        if case.state not in OPEN_STATES:
            raise IllegalTransition(what, case.state.value)

    return check


def _parties(participants: Sequence[Participant]) -> list[Participant]:
    """The parties, applicants first, then respondents, insurers and agents."""
    return [p for role in PARTY_ORDER for p in participants if p.role is role]


def _role_label(p: Participant, names: dict[str, str]) -> str:
    label = role_name(p.role)
    if p.role is Role.AGENT and p.represents in names:
        label += f"（代理{names[p.represents]}）"
    return label


def _answer_view(p: Participant, names: dict[str, str], answer: Answer | None) -> dict[str, Any]:
    return {
        "participant_id": p.id,
        "name": p.display_name,
        "role": p.role.value,
        "role_name": _role_label(p, names),
        "answer": answer.answer if answer else None,
        "note": answer.note if answer else "",
        "at": answer.at.isoformat() if answer else None,
    }


def _record_view(record: FactRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "version": record.version,
        "items": [{"kind": i.kind, "text": i.text} for i in record.items],
        "drafted_at": record.drafted_at.isoformat(),
    }


class FailureService:
    """The record of undisputed facts, the parties' answers, failing the mediation with it, the court's view."""

    def __init__(self, cases: CaseService, store: FactStore, keys: SealingKeys) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store
        """The record's versions and answers."""
        self.keys = keys
        """What seals the document (the platform's CA and time-stamper)."""

    # ------------------------------------------------------------------ the mediator drafts

    async def draft(
        self, principal: Principal, case_id: str, items: Sequence[tuple[str, str]], now: datetime
    ) -> dict[str, Any]:
        """A new version of the record (answers to earlier versions no longer count); the mediator's view."""
        access = await self.cases.require(principal, case_id, Action.EDIT_RECORD)
        checked = checked_items(items)
        digest = audit.sha256_text(items_json(checked))
        facts = sum(1 for i in checked if i.kind == "fact")

        def record(version: int) -> AuditRecord:
            details = {"version": version, "facts": facts, "disputes": len(checked) - facts, "sha256": digest}
            return AuditRecord(principal.actor, "facts.drafted", details)

        await self.store.draft(
            case_id, checked, principal.actor, now, _open("draft the record of undisputed facts"), record
        )
        return await self._view(access, case_id)

    # ------------------------------------------------------------------ reading

    async def read(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The current record; every party's answer for the mediator (and a judge on the case), one's own for a party."""
        access = await self.cases.require(principal, case_id, Action.READ_DOCUMENTS)
        return await self._view(access, case_id)

    async def _view(self, access: Access, case_id: str) -> dict[str, Any]:
        staff = may(access.role, Action.READ_ALL_DOCUMENTS)
        loaded = await self.repo.load_case(case_id)
        record = await self.store.newest(case_id)
        answers = await self.store.answers(case_id, record.version) if record else {}
        participants = await self.repo.participants(case_id)
        names = {p.id: p.display_name for p in participants}
        parties = [p for p in _parties(participants) if staff or p.id == access.participant_id]
        document = await self._document(case_id) if staff else None
        return {
            "case_id": case_id,
            "state": loaded.case.state.value,
            "open": loaded.case.state in OPEN_STATES,
            "record": _record_view(record),
            "answers": [_answer_view(p, names, answers.get(p.id)) for p in parties],
            "document": document_view(document) if document else None,
        }

    async def _document(self, case_id: str) -> DocumentRecord | None:
        return next((d for d in await self.repo.documents(case_id) if d.kind == KIND), None)

    # ------------------------------------------------------------------ the parties answer

    async def answer(
        self, principal: Principal, case_id: str, version: int, answer: str, note: str, now: datetime
    ) -> dict[str, Any]:
        """A party confirms the version they read, or objects to it with a note."""
        access = await self.cases.access(principal, case_id)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only the parties confirm or object to the record of undisputed facts")
        note = note.strip()
        if answer not in ANSWERS:
            raise InvalidCommand('Answer "confirm" or "object"')
        if len(note) > MAX_TEXT:
            raise InvalidCommand(f"A note has at most {MAX_TEXT} characters")
        if answer == "object" and not note:
            raise InvalidCommand("An objection says what is wrong: add a note")
        await self.store.version(case_id, version)  # NotFound for a version never drafted
        given = Answer(version, access.participant_id, answer, note, now)
        details = {"version": version, "participant_id": access.participant_id, "answer": answer}
        if note:
            details["note_sha256"] = audit.sha256_text(note)
        record = AuditRecord(principal.actor, "facts.answered", details)
        await self.store.answer(case_id, given, _open("answer the record of undisputed facts"), record, now)
        return {
            "version": version,
            "participant_id": access.participant_id,
            "answer": answer,
            "note": note,
            "at": now.isoformat(),
        }

    # ------------------------------------------------------------------ failing the mediation with the record

    async def fail(self, principal: Principal, case_id: str, reason: str, now: datetime) -> dict[str, Any]:
        """End the mediation as failed: the sealed record and ``FailMediation`` land together (once)."""
        await self.cases.require(principal, case_id, Action.CHANGE_STATE)
        for attempt in range(RETRIES):
            loaded = await self.repo.load_case(case_id)
            if loaded.case.state is CaseState.MEDIATION_FAILED:
                done = await self._document(case_id)
                if done is not None:  # a repeated request (or its twin, sent at the same moment): the one document
                    return self._failed(loaded.case, done)
            transition = lc.apply(loaded.case, lc.FailMediation(reason=reason), now)  # refused before anything is made
            record = await self.store.newest(case_id)
            facts = await self._facts(loaded.case, record, reason, now)
            sealed = await render_sealed(render_facts, facts, self.keys, loaded.case.number, "无争议事实记载", now)
            doc = await self.cases.platform_document(
                case_id,
                sealed,
                kind=KIND,
                title="无争议事实记载" + (f"（第 {record.version} 稿）" if record else ""),
                media_type="application/pdf",
                visibility="staff",
                now=now,
                actor=principal.actor,
            )
            referred = {"version": record.version if record else None, "document_id": doc.id, "sha256": doc.sha256}
            records = [added_record(principal.actor, doc), AuditRecord(principal.actor, "facts.referred", referred)]
            records += records_from_events(principal.actor, transition.events)
            try:
                saved = await self.repo.save_case(loaded, transition.case, records, now, documents=(doc,))
            except ConcurrentUpdate:
                if attempt == RETRIES - 1:
                    raise
                continue  # someone answered, redrafted or failed it meanwhile: look again (and render again)
            return self._failed(saved.case, doc)
        raise AssertionError("unreachable")

    @staticmethod
    def _failed(case: Case, doc: DocumentRecord) -> dict[str, Any]:
        return {"state": case.state.value, "reason": case.outcome_reason, "document": document_view(doc)}

    async def _facts(self, case: Case, record: FactRecord | None, reason: str, now: datetime) -> FactsDocument:
        answers = await self.store.answers(case.id, record.version) if record else {}
        participants = await self.repo.participants(case.id)
        names = {p.id: p.display_name for p in participants}
        mediator = next((p.display_name for p in participants if p.role is Role.MEDIATOR), "")
        lines = []
        for p in _parties(participants):
            given = answers.get(p.id)
            lines.append(
                PartyLine(
                    p.display_name,
                    _role_label(p, names),
                    given.answer if given else None,
                    given.at if given else None,
                    given.note if given else "",
                )
            )
        items = record.items if record else ()
        return FactsDocument(
            case_number=case.number,
            case_title=case.title,
            version=record.version if record else None,
            drafted_at=record.drafted_at if record else None,
            facts=[i.text for i in items if i.kind == "fact"],
            disputes=[i.text for i in items if i.kind == "dispute"],
            parties=lines,
            mediator=mediator,
            reason=reason,
            failed_at=now,
        )

    # ------------------------------------------------------------------ the court that referred the case

    async def _court_access(self, principal: Principal, case_id: str) -> None:
        """Pass if the caller is a judge, clerk or administrator of the court in ``cases.court_id``; else NotFound."""
        if principal.account_kind not in COURT_STAFF:
            raise NotFound("No such case")
        account = await self.cases.accounts.account(principal.subject_id)
        court = await self.store.court_of(case_id)
        if court is None or court != account.organisation_id:
            raise NotFound("No such case")

    async def record_for_court(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The record, every party's answer and the sealed document, for the staff of the referring court."""
        await self._court_access(principal, case_id)
        loaded = await self.repo.load_case(case_id)
        view = await self._view(Access(Role.JUDGE, ""), case_id)
        return {**view, "number": loaded.case.number, "title": loaded.case.title, "reason": loaded.case.outcome_reason}

    async def document_for_court(self, principal: Principal, case_id: str) -> tuple[DocumentRecord, bytes]:
        """The sealed document's bytes, for the staff of the referring court (NotFound until the mediation failed)."""
        await self._court_access(principal, case_id)
        doc = await self._document(case_id)
        if doc is None:
            raise NotFound("The mediation has not been ended as failed: there is no document yet")
        return doc, await self.cases.blobs.get(doc.sha256)
