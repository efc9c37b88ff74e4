"""The appraisal stage's store: institutions' specialties, appraisals, consents, materials, re-appraisal
applications and evaluations.

Every write that concerns a case goes through :meth:`CaseRepository.write_audited`: the rows land in the same
transaction as their audit entries, under the case's version lock, so two writes to one appraisal are ordered;
``work`` re-reads the appraisal inside that transaction (:meth:`AppraisalStore.locked`) and the use-case checks
its state there. Reasons and comments are personal free text: the audit trail carries their SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.appraisal import AppraisalState, ConsentAnswer
from server.domain.organisations import Organisation, OrganisationKind
from server.errors import NotFound
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository, DocumentRecord, LoadedCase

ATTEMPTS = 5
"""How often a write is tried again after another write to the case came first."""


@dataclass(frozen=True)
class Appraisal:
    """One round of an appraisal, as stored."""

    id: str
    case_id: str
    round: int
    subject: str
    description: str
    requested_by: str | None
    """The participant who asked for it (None: the mediator's own motion)."""
    state: AppraisalState
    institution_id: str | None
    choice: str | None
    """``agreed`` or ``drawn``."""
    draw: dict[str, Any] | None
    """The recorded draw: candidates, seed, result, by, at."""
    fee: str | None
    fee_payer: str | None
    notice_document_id: str | None
    opinion_document_id: str | None
    opinion_check: dict[str, Any] | None
    """What the opinion's signature check found."""
    previous_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Reappraisal:
    """A party's application for a new appraisal and the mediator's decision."""

    id: str
    appraisal_id: str
    participant_id: str
    reasons: str
    at: datetime
    decision: str | None
    """``granted``, ``refused`` or None (pending)."""
    decision_reasons: str
    decided_at: datetime | None
    next_appraisal_id: str | None


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an opinion."""

    id: str
    appraisal_id: str
    institution_id: str
    evaluator: str
    """The participant id of who evaluated."""
    evaluator_role: str
    """``mediator`` or a party role."""
    score: int
    comment: str
    at: datetime


def _appraisal(row: Any) -> Appraisal:
    return Appraisal(
        id=row.id,
        case_id=row.case_id,
        round=row.round,
        subject=row.subject,
        description=row.description,
        requested_by=row.requested_by,
        state=AppraisalState(row.state),
        institution_id=row.institution_id,
        choice=row.choice,
        draw=json.loads(row.draw) if row.draw else None,
        fee=row.fee,
        fee_payer=row.fee_payer,
        notice_document_id=row.notice_document_id,
        opinion_document_id=row.opinion_document_id,
        opinion_check=json.loads(row.opinion_check) if row.opinion_check else None,
        previous_id=row.previous_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _reappraisal(row: Any) -> Reappraisal:
    return Reappraisal(
        row.id,
        row.appraisal_id,
        row.participant_id,
        row.reasons,
        row.at,
        row.decision,
        row.decision_reasons,
        row.decided_at,
        row.next_appraisal_id,
    )


def _evaluation(row: Any) -> Evaluation:
    return Evaluation(
        row.id, row.appraisal_id, row.institution_id, row.evaluator, row.evaluator_role, row.score, row.comment, row.at
    )


def canonical(data: Any) -> str:
    """The stored form of JSON columns."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class AppraisalStore:
    """Reads and writes the appraisal stage's rows (on the case store's engine)."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        """Writes the audited rows under the case's lock."""
        self.engine = cases.engine

    # ------------------------------------------------------------------ institutions

    async def specialties(self, organisation_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Each institution's specialties (by organisation id)."""
        sp = t.appraisal_specialties
        out: dict[str, list[str]] = {o: [] for o in organisation_ids}
        if not organisation_ids:
            return {}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(sp).where(sp.c.organisation_id.in_(list(organisation_ids))))).all()
        for r in rows:
            out[r.organisation_id].append(r.specialty)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    async def set_specialties(self, organisation_id: str, specialties: Sequence[str]) -> None:
        """Replace an institution's specialties."""
        sp = t.appraisal_specialties
        async with self.engine.begin() as conn:
            await conn.execute(delete(sp).where(sp.c.organisation_id == organisation_id))
            if specialties:
                await conn.execute(
                    insert(sp), [{"organisation_id": organisation_id, "specialty": s} for s in specialties]
                )

    async def institutions(self) -> list[Organisation]:
        """The open appraisal institutions, by name."""
        o = t.organisations
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(o)
                    .where(and_(o.c.kind == OrganisationKind.APPRAISAL.value, o.c.disabled.is_(False)))
                    .order_by(o.c.name)
                )
            ).all()
        return [
            Organisation(r.id, OrganisationKind(r.kind), r.name, r.created_at, r.region, bool(r.disabled)) for r in rows
        ]

    async def names(self) -> dict[str, str]:
        """Every appraisal institution's name by id, closed ones included (an appraisal keeps naming its own)."""
        o = t.organisations
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(o.c.id, o.c.name).where(o.c.kind == OrganisationKind.APPRAISAL.value))
            ).all()
        return {r.id: r.name for r in rows}

    # ------------------------------------------------------------------ appraisals

    async def get(self, appraisal_id: str) -> Appraisal:
        """One appraisal; NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.appraisals).where(t.appraisals.c.id == appraisal_id))).first()
        if row is None:
            raise NotFound("No such appraisal")
        return _appraisal(row)

    @staticmethod
    async def locked(conn: AsyncConnection, appraisal_id: str) -> Appraisal:
        """The appraisal as the write's transaction sees it (after the case's lock was taken)."""
        row = (await conn.execute(select(t.appraisals).where(t.appraisals.c.id == appraisal_id))).first()
        if row is None:
            raise NotFound("No such appraisal")
        return _appraisal(row)

    async def of_case(self, case_id: str) -> list[Appraisal]:
        """A case's appraisals, oldest round first."""
        a = t.appraisals
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(a).where(a.c.case_id == case_id).order_by(a.c.round, a.c.id))).all()
        return [_appraisal(r) for r in rows]

    async def of_institution(self, organisation_id: str) -> list[Appraisal]:
        """The appraisals entrusted to an institution (appointed or later), newest first."""
        a = t.appraisals
        states = [s.value for s in (AppraisalState.APPOINTED, AppraisalState.OPINION, AppraisalState.SUPERSEDED)]
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(a)
                    .where(and_(a.c.institution_id == organisation_id, a.c.state.in_(states)))
                    .order_by(a.c.updated_at.desc(), a.c.id)
                )
            ).all()
        return [_appraisal(r) for r in rows]

    async def case_number(self, case_id: str) -> tuple[str, str]:
        """A case's number and title."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.cases.c.number, t.cases.c.title).where(t.cases.c.id == case_id))).one()
        return row.number, row.title

    async def consents(self, appraisal_id: str) -> dict[str, tuple[ConsentAnswer, datetime]]:
        """Each party's newest answer (with its time), by participant id."""
        c = t.appraisal_consents
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(c).where(c.c.appraisal_id == appraisal_id).order_by(c.c.id))).all()
        return {r.participant_id: (ConsentAnswer(r.participant_id, bool(r.agree), r.reason), r.at) for r in rows}

    @staticmethod
    async def consents_in(conn: AsyncConnection, appraisal_id: str) -> dict[str, ConsentAnswer]:
        """The newest answers as the write's transaction sees them."""
        c = t.appraisal_consents
        rows = (await conn.execute(select(c).where(c.c.appraisal_id == appraisal_id).order_by(c.c.id))).all()
        return {r.participant_id: ConsentAnswer(r.participant_id, bool(r.agree), r.reason) for r in rows}

    async def materials(self, appraisal_id: str) -> list[str]:
        """The ids of the documents sent to the institution."""
        m = t.appraisal_materials
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(m.c.document_id).where(m.c.appraisal_id == appraisal_id))).all()
        return sorted(r.document_id for r in rows)

    async def reappraisals(self, appraisal_id: str) -> list[Reappraisal]:
        """The applications for a new appraisal of one round, oldest first."""
        r = t.appraisal_reappraisals
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(r).where(r.c.appraisal_id == appraisal_id).order_by(r.c.at, r.c.id))
            ).all()
        return [_reappraisal(x) for x in rows]

    async def evaluations(self, appraisal_id: str | None = None) -> list[Evaluation]:
        """The evaluations of one opinion (or of every opinion), oldest first."""
        e = t.appraisal_evaluations
        query = select(e).order_by(e.c.at, e.c.id)
        if appraisal_id is not None:
            query = query.where(e.c.appraisal_id == appraisal_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_evaluation(x) for x in rows]

    # ------------------------------------------------------------------ writing

    async def write(
        self,
        case_id: str,
        records: Callable[[LoadedCase], list[AuditRecord]],
        work: Callable[[AsyncConnection], Awaitable[None]],
        now: datetime,
    ) -> None:
        """Run ``work`` with the audit ``records`` in one transaction under the case's lock."""
        await self.cases.write_audited(case_id, lambda loaded: (None, records(loaded)), work, now, ATTEMPTS)

    @staticmethod
    async def insert(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> None:
        """Insert one row in the write's transaction."""
        await conn.execute(insert(table).values(**values))

    @staticmethod
    async def update_appraisal(conn: AsyncConnection, appraisal_id: str, values: dict[str, Any]) -> None:
        """Change an appraisal's columns in the write's transaction."""
        await conn.execute(update(t.appraisals).where(t.appraisals.c.id == appraisal_id).values(**values))

    @staticmethod
    async def replace_materials(conn: AsyncConnection, appraisal_id: str, document_ids: Sequence[str]) -> None:
        """The documents sent to the institution, replaced."""
        m = t.appraisal_materials
        await conn.execute(delete(m).where(m.c.appraisal_id == appraisal_id))
        if document_ids:
            await conn.execute(insert(m), [{"appraisal_id": appraisal_id, "document_id": d} for d in document_ids])

    @staticmethod
    async def pending_reappraisal(conn: AsyncConnection, appraisal_id: str) -> Reappraisal | None:
        """The undecided application of a round, as the write's transaction sees it."""
        r = t.appraisal_reappraisals
        row = (
            await conn.execute(
                select(r).where(and_(r.c.appraisal_id == appraisal_id, r.c.decision.is_(None))).order_by(r.c.at)
            )
        ).first()
        return _reappraisal(row) if row is not None else None

    @staticmethod
    async def decide_reappraisal(conn: AsyncConnection, reappraisal_id: str, values: dict[str, Any]) -> None:
        """Record the decision on an application."""
        r = t.appraisal_reappraisals
        await conn.execute(update(r).where(r.c.id == reappraisal_id).values(**values))

    @staticmethod
    async def has_evaluated(conn: AsyncConnection, appraisal_id: str, evaluator: str) -> bool:
        """Whether this evaluator already evaluated this opinion."""
        e = t.appraisal_evaluations
        row = (
            await conn.execute(select(e.c.id).where(and_(e.c.appraisal_id == appraisal_id, e.c.evaluator == evaluator)))
        ).first()
        return row is not None

    @staticmethod
    async def next_round(conn: AsyncConnection, case_id: str) -> int:
        """The next round number of a case's appraisals."""
        a = t.appraisals
        rows = (await conn.execute(select(a.c.round).where(a.c.case_id == case_id))).all()
        return max((r.round for r in rows), default=0) + 1

    @staticmethod
    async def insert_document(conn: AsyncConnection, doc: DocumentRecord) -> None:
        """Record a case document (the notice, the opinion) in the write's transaction, with the appraisal's change."""
        await CaseRepository._insert_document(conn, doc)
