"""The lists of the referral desks, read from the ``cases`` index columns in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from server.store import schema as t


@dataclass(frozen=True)
class TrackedCase:
    """One case as the referral desks list it (no personal data of the parties)."""

    id: str
    number: str
    kind: str
    title: str
    state: str
    referral_kind: str
    court_case_number: str
    organisation_id: str | None
    organisation_name: str
    court_id: str | None
    court_name: str
    holder_account_id: str | None
    holder_name: str
    referred_at: datetime | None
    accepted_at: datetime | None
    agreement_at: datetime | None
    ended_at: datetime | None
    period_deadline: datetime | None
    overdue: bool


@dataclass(frozen=True)
class CaseHome:
    """Where a case belongs: for the access checks of the desks."""

    organisation_id: str | None
    court_id: str | None
    holder_account_id: str | None
    state: str


class ReferralStore:
    """Reads the desks' lists."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def home(self, case_id: str) -> CaseHome | None:
        """The organisation, court and holder of a case (None: no such case)."""
        c = t.cases.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(c.organisation_id, c.court_id, c.holder_account_id, c.state).where(c.id == case_id)
                )
            ).first()
        return CaseHome(row.organisation_id, row.court_id, row.holder_account_id, row.state) if row else None

    async def cases(self, where: Sequence[ColumnElement[bool]], limit: int = 200) -> list[TrackedCase]:
        """Cases matching ``where``, the most recently referred first."""
        c = t.cases
        org = t.organisations.alias("org")
        court = t.organisations.alias("court")
        holder = t.accounts.alias("holder")
        query = (
            select(
                c.c.id,
                c.c.number,
                c.c.kind,
                c.c.title,
                c.c.state,
                c.c.referral_kind,
                c.c.court_case_number,
                c.c.organisation_id,
                org.c.name.label("organisation_name"),
                c.c.court_id,
                court.c.name.label("court_name"),
                c.c.holder_account_id,
                holder.c.display_name.label("holder_name"),
                c.c.referred_at,
                c.c.accepted_at,
                c.c.agreement_at,
                c.c.ended_at,
                c.c.period_deadline,
                c.c.overdue,
            )
            .select_from(
                c.outerjoin(org, org.c.id == c.c.organisation_id)
                .outerjoin(court, court.c.id == c.c.court_id)
                .outerjoin(holder, holder.c.id == c.c.holder_account_id)
            )
            .where(and_(*where))
            .order_by(c.c.referred_at.desc(), c.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TrackedCase(
                id=r.id,
                number=r.number,
                kind=r.kind,
                title=r.title,
                state=r.state,
                referral_kind=r.referral_kind,
                court_case_number=r.court_case_number,
                organisation_id=r.organisation_id,
                organisation_name=r.organisation_name or "",
                court_id=r.court_id,
                court_name=r.court_name or "",
                holder_account_id=r.holder_account_id,
                holder_name=r.holder_name or "",
                referred_at=r.referred_at,
                accepted_at=r.accepted_at,
                agreement_at=r.agreement_at,
                ended_at=r.ended_at,
                period_deadline=r.period_deadline,
                overdue=bool(r.overdue),
            )
            for r in rows
        ]
