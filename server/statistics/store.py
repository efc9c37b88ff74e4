"""The statistics' SQL: every figure is aggregated by the database over the ``cases`` index columns.

Nothing here loads a case: each query groups (``GROUP BY``, window functions) and returns one row per
group, on SQLite and PostgreSQL alike. The two differ in two expressions only, chosen by the engine's
dialect: days between two moments (``julianday`` on SQLite, ``extract(epoch …)`` on PostgreSQL) and the
Beijing calendar month of a moment; and medians: PostgreSQL's ``percentile_cont(0.5)``, on SQLite the middle
row (or the mean of the two middle rows) by ``row_number()`` and ``count()`` over each group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    extract,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.assessment.store import average_score, satisfaction_by
from server.statistics.figures import Tally, days
from server.store import schema as t

c = t.cases


@dataclass(frozen=True)
class CaseFilter:
    """Which cases the figures cover: the caller's scope and the filters they chose (None: no condition)."""

    court_scope: str | None = None
    """Court staff: cases this court referred, or that it holds itself."""
    organisation_id: str | None = None
    """Cases this organisation holds (the scope of its administrator, or a filter)."""
    holder_account_id: str | None = None
    """Cases this mediator holds (a mediator's scope)."""
    court_id: str | None = None
    """Cases this court referred (a filter)."""
    start: datetime | None = None
    """Referred at or after this moment."""
    end: datetime | None = None
    """Referred before this moment."""

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions on ``cases``."""
        out: list[ColumnElement[bool]] = []
        if self.court_scope is not None:
            out.append(or_(c.c.court_id == self.court_scope, c.c.organisation_id == self.court_scope))
        if self.organisation_id is not None:
            out.append(c.c.organisation_id == self.organisation_id)
        if self.holder_account_id is not None:
            out.append(c.c.holder_account_id == self.holder_account_id)
        if self.court_id is not None:
            out.append(c.c.court_id == self.court_id)
        if self.start is not None:
            out.append(c.c.referred_at >= self.start)
        if self.end is not None:
            out.append(c.c.referred_at < self.end)
        return out


@dataclass(frozen=True)
class Named:
    """An organisation or an account, as a selector lists it."""

    id: str
    """Its id."""
    name: str
    """Its name."""


GROUPINGS = ("organisation", "mediator", "month")
"""The groupings below the totals (``by_organisation``, ``by_mediator``, ``by_month``)."""


class StatisticsStore:
    """Aggregates over ``cases``, ``session_ratings`` and ``confirmation_applications``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ dialect-aware expressions

    def days_between(self, later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
        """Days (with a fraction) from ``earlier`` to ``later``."""
        if self.postgres:
            return extract("epoch", later - earlier) / 86400.0
        return func.julianday(later) - func.julianday(earlier)

    def month_of(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        """The Beijing calendar month of a moment, ``YYYY-MM``."""
        if self.postgres:
            # constants written out, not bound: PostgreSQL must see the GROUP BY's expression as the SELECT's
            return func.to_char(func.timezone(literal_column("'Asia/Shanghai'"), moment), literal_column("'YYYY-MM'"))
        return func.strftime(literal_column("'%Y-%m'"), moment, literal_column("'+8 hours'"))

    def key_of(self, grouping: str) -> ColumnElement[Any]:
        """The expression a grouping groups by."""
        if grouping == "organisation":
            return c.c.organisation_id
        if grouping == "mediator":
            return c.c.holder_account_id
        if grouping == "month":
            return self.month_of(c.c.referred_at)
        raise ValueError(grouping)

    # ------------------------------------------------------------------ the figures

    async def figures(self, where: CaseFilter) -> dict[str, Any]:
        """The totals and each grouping's groups (keyed; unnamed), with their counts by state.

        The four groupings are asked for at once, each on its own connection: the database works on them
        side by side (PostgreSQL in its own processes, SQLite in aiosqlite's threads, readers never
        blocking one another under WAL).
        """
        conds = where.conditions()

        async def grouped(key: ColumnElement[Any] | None) -> dict[str, Tally]:
            async with self.engine.connect() as conn:
                return await self._tallies(conn, key, conds)

        totals, *groups = await asyncio.gather(grouped(None), *(grouped(self.key_of(g)) for g in GROUPINGS))
        return {"totals": totals.get("", Tally("")), **dict(zip(GROUPINGS, groups, strict=True))}

    async def _tallies(
        self, conn: AsyncConnection, key: ColumnElement[Any] | None, conds: list[ColumnElement[bool]]
    ) -> dict[str, Tally]:
        decided = or_(c.c.agreement_at.is_not(None), c.c.ended_at.is_not(None))
        success = c.c.agreement_at.is_not(None)
        overdue = and_(c.c.overdue == true(), c.c.ended_at.is_(None))
        keyed = () if key is None else (key.label("key"),)
        counts = (
            select(
                *keyed,
                c.c.state,
                func.count().label("cases"),
                func.sum(case((decided, 1), else_=0)).label("decided"),
                func.sum(case((success, 1), else_=0)).label("successes"),
                func.sum(case((overdue, 1), else_=0)).label("overdue"),
            )
            .where(*conds)
            .group_by(*(() if key is None else (key,)), c.c.state)
        )
        out: dict[str, Tally] = {}
        for row in (await conn.execute(counts)).all():
            k = "" if key is None else row.key
            if k is None:
                continue  # a case nobody holds yet has no mediator (counted in the totals)
            out.setdefault(k, Tally(k)).add_state(
                row.state, int(row.cases), int(row.decided or 0), int(row.successes or 0), int(row.overdue or 0)
            )
        for k, (agreement, confirmation) in (await self._medians(conn, key, conds)).items():
            tally = out.get(k)
            if tally is not None:
                tally.median_days_to_agreement = days(agreement)
                tally.median_days_to_confirmation = days(confirmation)
        for row in (await conn.execute(satisfaction_by(key, *conds))).all():
            tally = out.get("" if key is None else row.key)
            if tally is not None:
                tally.ratings = int(row.ratings)
                tally.satisfaction = average_score(row.average)
        return out

    async def _medians(
        self, conn: AsyncConnection, key: ColumnElement[Any] | None, conds: list[ColumnElement[bool]]
    ) -> dict[str, tuple[Any, Any]]:
        """Per group, the median days from referral to agreement and from referral to confirmation.

        PostgreSQL has the aggregate (``percentile_cont(0.5)``, which skips the cases without the moment);
        SQLite has not, so there each group's days are ranked (``row_number()`` and ``count()`` over the
        group) and the middle one, or the mean of the middle two, is kept. Both give the same number.
        """
        to_agreement = self.days_between(c.c.agreement_at, c.c.referred_at)
        to_confirmation = self.days_between(c.c.confirmed_at, c.c.referred_at)
        out: dict[str, tuple[Any, Any]] = {}
        if self.postgres:
            keyed = () if key is None else (key.label("key"),)
            query = select(
                *keyed,
                func.percentile_cont(0.5).within_group(to_agreement).label("agreement"),
                func.percentile_cont(0.5).within_group(to_confirmation).label("confirmation"),
            ).where(*conds)
            if key is not None:
                query = query.group_by(key)
            for row in (await conn.execute(query)).all():
                out["" if key is None else row.key] = (row.agreement, row.confirmation)
            return out
        group = literal_column("''") if key is None else key

        def measure(name: str, moment: ColumnElement[Any], d: ColumnElement[Any]) -> Any:
            return select(group.label("key"), literal_column(f"'{name}'").label("measure"), d.label("d")).where(
                *conds, moment.is_not(None), c.c.referred_at.is_not(None)
            )

        both = union_all(
            measure("agreement", c.c.agreement_at, to_agreement),
            measure("confirmation", c.c.confirmed_at, to_confirmation),
        ).subquery()
        part = (both.c.key, both.c.measure)
        ranked = select(
            both.c.key,
            both.c.measure,
            both.c.d,
            func.row_number().over(partition_by=part, order_by=both.c.d).label("rn"),
            func.count().over(partition_by=part).label("n"),
        ).subquery()
        middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
        query = (
            select(ranked.c.key, ranked.c.measure, func.avg(ranked.c.d).label("median"))
            .where(middle)
            .group_by(ranked.c.key, ranked.c.measure)
        )
        for middle_row in (await conn.execute(query)).all():
            k, median = middle_row.key, middle_row.median
            agreement, confirmation = out.get(k, (None, None))
            out[k] = (median, confirmation) if middle_row.measure == "agreement" else (agreement, median)
        return out

    async def claim_payments(self, where: CaseFilter) -> list[tuple[str, str, float]]:
        """The paid one-click claims (一键理赔, ``server.claims``) on the cases ``where`` covers: each one's insurer
        (id and name) and the days from its submission to its payment in full."""
        k, o = t.claims, t.organisations
        query = (
            select(k.c.insurer_id, o.c.name, self.days_between(k.c.paid_at, k.c.submitted_at).label("d"))
            .select_from(k.join(c, c.c.id == k.c.case_id).join(o, o.c.id == k.c.insurer_id))
            .where(*where.conditions(), k.c.state == "paid", k.c.paid_at.is_not(None))
        )
        async with self.engine.connect() as conn:
            return [(r.insurer_id, r.name, float(r.d)) for r in (await conn.execute(query)).all()]

    # ------------------------------------------------------------------ names, selectors, judges

    async def organisation_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Each organisation's name."""
        if not ids:
            return {}
        o = t.organisations
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(o.c.id, o.c.name).where(o.c.id.in_(list(ids))))).all()
        return {r.id: r.name for r in rows}

    async def account_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Each account's display name."""
        if not ids:
            return {}
        a = t.accounts
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(a.c.id, a.c.display_name).where(a.c.id.in_(list(ids))))).all()
        return {r.id: r.display_name for r in rows}

    async def choices(self, scope: CaseFilter) -> tuple[list[str], list[str]]:
        """The courts that referred and the organisations that hold any case in the scope (for the selectors
        and to check a filter)."""
        conds = scope.conditions()
        async with self.engine.connect() as conn:
            courts = (
                await conn.execute(select(c.c.court_id).distinct().where(*conds, c.c.court_id.is_not(None)))
            ).all()
            organisations = (
                await conn.execute(
                    select(c.c.organisation_id).distinct().where(*conds, c.c.organisation_id.is_not(None))
                )
            ).all()
        return [r[0] for r in courts], [r[0] for r in organisations]

    async def judges(
        self, court_id: str, organisation_id: str | None, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        """The court's judges' workload: rulings made on the confirmation applications they took, and those they
        took and have not ruled on yet (applications submitted in the period; of one organisation's cases)."""
        ca, a = t.confirmation_applications, t.accounts
        conds: list[ColumnElement[bool]] = [a.c.organisation_id == court_id]
        if organisation_id is not None:
            conds.append(c.c.organisation_id == organisation_id)
        if start is not None:
            conds.append(ca.c.submitted_at >= start)
        if end is not None:
            conds.append(ca.c.submitted_at < end)
        query = (
            select(
                a.c.id,
                a.c.display_name,
                func.sum(case((ca.c.ruling_document_id.is_not(None), 1), else_=0)).label("rulings"),
                func.sum(case((ca.c.ruling_document_id.is_(None), 1), else_=0)).label("pending"),
            )
            .select_from(ca.join(a, a.c.id == ca.c.judge_account_id).join(c, c.c.id == ca.c.case_id))
            .where(*conds)
            .group_by(a.c.id, a.c.display_name)
            .order_by(a.c.display_name, a.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {"account_id": r.id, "name": r.display_name, "rulings": int(r.rulings), "pending": int(r.pending)}
            for r in rows
        ]
