"""The relief stage's store: applications, their evidence, steps and recoveries.

Every write goes through :meth:`CaseRepository.write_audited`: the rows and the case's audit entry land in one
transaction under the case's version lock, so two decisions on one application (or two applications by one
party on one ground) cannot both pass their checks. Payees, notes and reasons are personal text: the audit
trail carries ids, states and amounts, never them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.compensation import Money
from server.domain.lifecycle import Case
from server.domain.organisations import OrganisationKind
from server.domain.relief import OPEN_STATES, ReliefState
from server.errors import NotFound
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository, LoadedCase

ATTEMPTS = 5


@dataclass(frozen=True)
class Application:
    """One application as stored."""

    id: str
    case_id: str
    fund_id: str
    participant_id: str
    """The party the advance is for."""
    ground: str
    advance_kind: str
    asked: Money
    payee: str
    description: str
    state: ReliefState
    note: str
    """The fund's latest note: what more it needs, or why it refused."""
    approved: Money | None
    payment_reference: str | None
    paid_on: str | None
    liable_participant_id: str | None
    """The liable party, once identified (None: unknown, fled)."""
    written_off_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Step:
    """One step in an application's history."""

    action: str
    note: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class Received:
    """One sum recovered."""

    amount: Money
    received_on: str
    reference: str
    at: datetime


def _application(r: Any) -> Application:
    return Application(
        r.id,
        r.case_id,
        r.fund_id,
        r.participant_id,
        r.ground,
        r.advance_kind,
        Money(r.asked_fen),
        r.payee,
        r.description,
        ReliefState(r.state),
        r.note,
        Money(r.approved_fen) if r.approved_fen is not None else None,
        r.payment_reference,
        r.paid_on,
        r.liable_participant_id,
        r.written_off_reason,
        r.created_at,
        r.updated_at,
    )


Work = Callable[[AsyncConnection], Awaitable[None]]


class ReliefStore:
    """Reads and writes the relief tables on the case store's engine."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        self.engine = cases.engine

    # ------------------------------------------------------------------ funds

    async def open_funds(self) -> list[tuple[str, str, str]]:
        """The relief funds that take applications: (id, name, region), by region and name."""
        o = t.organisations
        query = (
            select(o.c.id, o.c.name, o.c.region)
            .where(and_(o.c.kind == OrganisationKind.RELIEF_FUND.value, o.c.disabled.is_(False)))
            .order_by(o.c.region, o.c.name)
        )
        async with self.engine.connect() as conn:
            return [(r.id, r.name, r.region) for r in (await conn.execute(query)).all()]

    async def fund_name(self, fund_id: str) -> str:
        """A fund's name ('' if there is none), open or not."""
        o = t.organisations
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(o.c.name).where(o.c.id == fund_id))).first()
        return "" if row is None else str(row.name)

    async def case_numbers(self, fund_id: str) -> dict[str, str]:
        """The case number of each case with an application to this fund (one query)."""
        ra, c = t.relief_applications, t.cases
        query = select(c.c.id, c.c.number).join(ra, ra.c.case_id == c.c.id).where(ra.c.fund_id == fund_id).distinct()
        async with self.engine.connect() as conn:
            return {r.id: r.number for r in (await conn.execute(query)).all()}

    async def fund_is_open(self, fund_id: str) -> bool:
        """Whether ``fund_id`` is a relief fund that takes applications."""
        return any(f[0] == fund_id for f in await self.open_funds())

    # ------------------------------------------------------------------ reading

    async def get(self, application_id: str) -> Application:
        """One application; NotFound if there is none."""
        ra = t.relief_applications
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ra).where(ra.c.id == application_id))).first()
        if row is None:
            raise NotFound("No such relief application")
        return _application(row)

    async def of_case(self, case_id: str) -> list[Application]:
        """A case's applications, oldest first."""
        ra = t.relief_applications
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(ra).where(ra.c.case_id == case_id).order_by(ra.c.created_at))).all()
        return [_application(r) for r in rows]

    async def of_fund(self, fund_id: str) -> list[Application]:
        """A fund's applications, newest change first."""
        ra = t.relief_applications
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(ra).where(ra.c.fund_id == fund_id).order_by(ra.c.updated_at.desc()))
            ).all()
        return [_application(r) for r in rows]

    async def evidence(self, application_id: str) -> list[str]:
        """The ids of the documents attached, in the order attached."""
        re = t.relief_evidence
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(re.c.document_id).where(re.c.application_id == application_id).order_by(re.c.id)
                )
            ).all()
        return [r.document_id for r in rows]

    async def steps(self, application_id: str) -> list[Step]:
        """The application's history, oldest first."""
        rs = t.relief_steps
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(rs).where(rs.c.application_id == application_id).order_by(rs.c.id))).all()
        return [Step(r.action, r.note, r.at, r.actor) for r in rows]

    async def recoveries(self, application_id: str) -> list[Received]:
        """The sums recovered, oldest first."""
        rr = t.relief_recoveries
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(rr).where(rr.c.application_id == application_id).order_by(rr.c.id))).all()
        return [Received(Money(r.amount_fen), r.received_on, r.reference, r.at) for r in rows]

    async def recovered_by_application(self, fund_id: str) -> dict[str, int]:
        """Fen recovered per application of a fund (one SQL aggregation)."""
        rr, ra = t.relief_recoveries, t.relief_applications
        query = (
            select(rr.c.application_id, func.sum(rr.c.amount_fen))
            .join(ra, ra.c.id == rr.c.application_id)
            .where(ra.c.fund_id == fund_id)
            .group_by(rr.c.application_id)
        )
        async with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in (await conn.execute(query)).all()}

    # ------------------------------------------------------------------ writing

    async def write(self, case_id: str, records: list[AuditRecord], work: Work, now: datetime) -> None:
        """Run ``work`` (which reads under the case's lock, refuses by raising, and writes its rows) in one
        transaction with the case's audit ``records``: a refusal rolls the audit entries back with it."""

        def decide(loaded: LoadedCase) -> tuple[Case | None, list[AuditRecord]]:
            return None, records

        await self.cases.write_audited(case_id, decide, work, now, ATTEMPTS)


async def open_application_of(conn: AsyncConnection, case_id: str, participant_id: str, ground: str) -> str | None:
    """The id of an open application by this party on this ground, if there is one."""
    ra = t.relief_applications
    row = (
        await conn.execute(
            select(ra.c.id).where(
                and_(
                    ra.c.case_id == case_id,
                    ra.c.participant_id == participant_id,
                    ra.c.ground == ground,
                    ra.c.state.in_([s.value for s in OPEN_STATES]),
                )
            )
        )
    ).first()
    return None if row is None else str(row.id)


async def locked_application(conn: AsyncConnection, application_id: str) -> Application:
    """The application as this transaction reads it."""
    ra = t.relief_applications
    row = (await conn.execute(select(ra).where(ra.c.id == application_id))).first()
    if row is None:
        raise NotFound("No such relief application")
    return _application(row)


async def recovered_fen(conn: AsyncConnection, application_id: str) -> int:
    """Fen recovered so far, as this transaction reads it."""
    rr = t.relief_recoveries
    total = (
        await conn.execute(
            select(func.coalesce(func.sum(rr.c.amount_fen), 0)).where(rr.c.application_id == application_id)
        )
    ).scalar_one()
    return int(total)


async def insert_application(conn: AsyncConnection, values: dict[str, Any], documents: Sequence[str]) -> None:
    """The application row and its evidence."""
    await conn.execute(insert(t.relief_applications).values(**values))
    await attach(conn, str(values["id"]), documents, values["created_at"])


async def attach(conn: AsyncConnection, application_id: str, documents: Sequence[str], now: datetime) -> None:
    """Attach documents not yet attached."""
    have = set(
        (
            await conn.execute(
                select(t.relief_evidence.c.document_id).where(t.relief_evidence.c.application_id == application_id)
            )
        ).scalars()
    )
    for document_id in dict.fromkeys(documents):
        if document_id not in have:
            await conn.execute(
                insert(t.relief_evidence).values(application_id=application_id, document_id=document_id, added_at=now)
            )


async def change(conn: AsyncConnection, application_id: str, now: datetime, **values: Any) -> None:
    """Update the application row."""
    ra = t.relief_applications
    await conn.execute(update(ra).where(ra.c.id == application_id).values(updated_at=now, **values))


async def add_step(
    conn: AsyncConnection, application_id: str, action: str, note: str, at: datetime, actor: str
) -> None:
    """One step of the history."""
    await conn.execute(
        insert(t.relief_steps).values(application_id=application_id, action=action, note=note, at=at, actor=actor)
    )


async def add_recovery(conn: AsyncConnection, application_id: str, received: Received, actor: str) -> None:
    """One sum recovered."""
    await conn.execute(
        insert(t.relief_recoveries).values(
            application_id=application_id,
            amount_fen=received.amount.fen,
            received_on=received.received_on,
            reference=received.reference,
            at=received.at,
            actor=actor,
        )
    )
