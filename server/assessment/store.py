"""Session ratings, and the figures an organisation sees of its mediators (aggregated in SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Label, Select, and_, distinct, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.errors import Duplicate
from server.store import schema as t


@dataclass(frozen=True)
class Rating:
    """One party's rating of one session."""

    case_id: str
    """The case."""
    session_id: str
    """The session rated."""
    participant_id: str
    """Who rated it."""
    score: int
    """1 (very dissatisfied) to 5 (very satisfied)."""
    comment: str
    """What they added ('' if nothing)."""
    at: datetime
    """When."""


@dataclass(frozen=True)
class MediatorFigures:
    """One mediator's figures in their organisation."""

    account_id: str
    """The mediator's account."""
    display_name: str
    """Their name."""
    cases: int
    """Cases they hold as mediator."""
    ratings: int
    """Ratings the parties gave their sessions."""
    average: float | None
    """Average score (None: no rating yet)."""


def satisfaction_columns() -> tuple[Label[int], Label[Any]]:
    """How ratings are summed up wherever figures show them: how many (``ratings``) and their mean (``average``)."""
    r = t.session_ratings
    return func.count(r.c.id).label("ratings"), func.avg(r.c.score).label("average")


def average_score(value: Any) -> float | None:
    """A mean score as figures show it: two decimals (None: no rating yet)."""
    return None if value is None else round(float(value), 2)


def satisfaction_by(key: ColumnElement[Any] | None, *where: ColumnElement[bool]) -> Select[Any]:
    """Ratings of the sessions of the cases that match ``where`` (conditions on ``cases``), grouped by ``key``
    (an expression over ``cases``; None: all together): columns ``key``, ``ratings``, ``average``."""
    r, c = t.session_ratings, t.cases
    query = select(
        *(() if key is None else (key.label("key"),)),
        *satisfaction_columns(),
    ).select_from(r.join(c, c.c.id == r.c.case_id))
    if where:
        query = query.where(*where)
    return query if key is None else query.group_by(key)


class RatingStore:
    """Reads and writes session ratings."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, rating: Rating) -> None:
        """Record a rating; Duplicate if this party already rated this session."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.session_ratings).values(
                        case_id=rating.case_id,
                        session_id=rating.session_id,
                        participant_id=rating.participant_id,
                        score=rating.score,
                        comment=rating.comment,
                        at=rating.at,
                    )
                )
        except IntegrityError:
            raise Duplicate("You have already rated this session") from None

    async def of(self, session_id: str, participant_id: str) -> Rating | None:
        """A party's rating of a session, if given."""
        r = t.session_ratings
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(r).where(and_(r.c.session_id == session_id, r.c.participant_id == participant_id))
                )
            ).first()
        if row is None:
            return None
        return Rating(row.case_id, row.session_id, row.participant_id, row.score, row.comment, row.at)

    async def figures(self, organisation_id: str) -> list[MediatorFigures]:
        """Each mediator account of the organisation: cases held, ratings of their cases' sessions, average score."""
        a, p, r = t.accounts, t.participants, t.session_ratings
        query = (
            select(
                a.c.id,
                a.c.display_name,
                func.count(distinct(p.c.case_id)).label("cases"),
                *satisfaction_columns(),
            )
            .select_from(a)
            .outerjoin(p, and_(p.c.account_id == a.c.id, p.c.role == "mediator"))
            .outerjoin(r, r.c.case_id == p.c.case_id)
            .where(and_(a.c.organisation_id == organisation_id, a.c.kind == "mediator"))
            .group_by(a.c.id, a.c.display_name)
            .order_by(a.c.display_name, a.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            MediatorFigures(
                row.id,
                row.display_name,
                int(row.cases),
                int(row.ratings),
                average_score(row.average),
            )
            for row in rows
        ]
