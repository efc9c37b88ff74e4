"""The store of judicial confirmation: applications, each party's confirmation, the courts' queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.store import schema as t


@dataclass(frozen=True)
class Application:
    case_id: str
    court: str
    prepared_at: datetime
    prepared_by: str
    submitted_at: datetime | None
    review_deadline: datetime | None
    packet_document_id: str | None
    judge_account_id: str | None
    ruling_document_id: str | None


def _application(r: Any) -> Application:
    return Application(**{k: getattr(r, k) for k in Application.__dataclass_fields__})


async def prepare_rows(conn: AsyncConnection, case_id: str, court: str, now: datetime, actor: str) -> None:
    """Name the court (again, while nothing was submitted); earlier confirmations stop counting."""
    a = t.confirmation_applications
    existing = (await conn.execute(select(a.c.case_id).where(a.c.case_id == case_id))).first()
    if existing is None:
        await conn.execute(insert(a).values(case_id=case_id, court=court, prepared_at=now, prepared_by=actor))
    else:
        await conn.execute(
            update(a).where(a.c.case_id == case_id).values(court=court, prepared_at=now, prepared_by=actor)
        )
        await conn.execute(t.confirmation_consents.delete().where(t.confirmation_consents.c.case_id == case_id))


async def confirm_rows(conn: AsyncConnection, case_id: str, participant_id: str, now: datetime) -> None:
    await conn.execute(
        insert(t.confirmation_consents).values(case_id=case_id, participant_id=participant_id, confirmed_at=now)
    )


async def application_update(conn: AsyncConnection, case_id: str, values: dict[str, Any]) -> None:
    a = t.confirmation_applications
    await conn.execute(update(a).where(a.c.case_id == case_id).values(**values))


class ConfirmationStore:
    """Reads, and the judge's claim."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def application(self, case_id: str) -> Application | None:
        a = t.confirmation_applications
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(a).where(a.c.case_id == case_id))).first()
        return _application(row) if row is not None else None

    async def confirmations(self, case_id: str) -> dict[str, datetime]:
        cc = t.confirmation_consents
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(cc).where(cc.c.case_id == case_id))).all()
        return {r.participant_id: r.confirmed_at for r in rows}

    async def queue(self, court: str) -> list[tuple[Application, Any]]:
        """Submitted, unruled applications of one court, with their cases, oldest deadline first."""
        a, c = t.confirmation_applications, t.cases
        query = (
            select(a, c.c.number, c.c.title, c.c.state)
            .join(c, c.c.id == a.c.case_id)
            .where(and_(a.c.court == court, a.c.submitted_at.is_not(None), a.c.ruling_document_id.is_(None)))
            .order_by(a.c.review_deadline, a.c.case_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(_application(r), r) for r in rows]

    async def courts(self) -> list[str]:
        """Every court that has at least one judge account."""
        acc = t.accounts
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(acc.c.organization).where(acc.c.kind == "judge").distinct().order_by(acc.c.organization)
                )
            ).all()
        return [r.organization for r in rows]

    async def take(self, case_id: str, judge_account_id: str) -> bool:
        """The judge takes the application, if nobody else has it (a conditional UPDATE)."""
        a = t.confirmation_applications
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(a)
                .where(
                    and_(
                        a.c.case_id == case_id,
                        (a.c.judge_account_id.is_(None)) | (a.c.judge_account_id == judge_account_id),
                    )
                )
                .values(judge_account_id=judge_account_id)
            )
        return bool(result.rowcount == 1)
