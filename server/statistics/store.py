"""The statistics' SQL: every figure is aggregated by the database over the ``cases`` index columns.

Nothing here loads a case: each query groups (``GROUP BY``, window functions) and returns one row per
group, on SQLite and PostgreSQL alike. The two differ in two expressions only, chosen by the engine's
dialect: days between two moments (``julianday`` on SQLite, ``extract(epoch …)`` on PostgreSQL) and the
Beijing calendar month of a moment. Medians are taken with ``row_number()`` and ``count()`` over each group
(the middle row, or the mean of the two middle rows), the same way on both.
"""

from __future__ import annotations

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
        """The totals, each grouping's groups (keyed; unnamed) and the counts by state."""
        conds = where.conditions()
        async with self.engine.connect() as conn:
            totals = (await self._tallies(conn, None, conds)).get("", Tally(""))
            grouped = {g: await self._tallies(conn, self.key_of(g), conds) for g in GROUPINGS}
        return {"totals": totals, **grouped}

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
        for row in (await conn.execute(self._medians(key, conds))).all():
            tally = out.get("" if key is None else row.key)
            if tally is None:
                continue
            if row.measure == "agreement":
                tally.median_days_to_agreement = days(row.median)
            else:
                tally.median_days_to_confirmation = days(row.median)
        for row in (await conn.execute(satisfaction_by(key, *conds))).all():
            tally = out.get("" if key is None else row.key)
            if tally is not None:
                tally.ratings = int(row.ratings)
                tally.satisfaction = average_score(row.average)
        return out

    def _medians(self, key: ColumnElement[Any] | None, conds: list[ColumnElement[bool]]) -> Any:
        """Per group, the median days from referral to agreement and from referral to confirmation."""
        group = literal_column("''") if key is None else key

        def measure(name: str, moment: ColumnElement[Any]) -> Any:
            return select(
                group.label("key"),
                literal_column(f"'{name}'").label("measure"),
                self.days_between(moment, c.c.referred_at).label("d"),
            ).where(*conds, moment.is_not(None), c.c.referred_at.is_not(None))

        both = union_all(measure("agreement", c.c.agreement_at), measure("confirmation", c.c.confirmed_at)).subquery()
        part = (both.c.key, both.c.measure)
        ranked = select(
            both.c.key,
            both.c.measure,
            both.c.d,
            func.row_number().over(partition_by=part, order_by=both.c.d).label("rn"),
            func.count().over(partition_by=part).label("n"),
        ).subquery()
        middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
        return (
            select(ranked.c.key, ranked.c.measure, func.avg(ranked.c.d).label("median"))
            .where(middle)
            .group_by(ranked.c.key, ranked.c.measure)
        )

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
