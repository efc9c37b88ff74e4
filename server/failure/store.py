"""The failure stage's store: the versions of the record of undisputed facts and the parties' answers.

Both are audited through the case store (:meth:`CaseRepository.write_audited`): each row is written
in the same transaction as its audit entry, under the case's version lock. The texts (items, notes)
are personal data: the audit trail carries their SHA-256, never the text, and nothing here logs them.

Why the lock matters here: a party answers the version they read. The answer's transaction checks,
after taking the case's lock, that this version is still the newest; a redraft takes the same lock,
so an answer can never land on a version that was replaced a moment before (:class:`StaleRecord`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.lifecycle import Case
from server.errors import ConcurrentUpdate, NotFound, StaleRecord
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository, LoadedCase

ATTEMPTS = 5
"""How often a write is tried again after another write to the case came first."""


@dataclass(frozen=True)
class Item:
    """One line of the record."""

    kind: str
    """``fact`` (undisputed) or ``dispute`` (a point still disputed)."""
    text: str
    """What it says."""


@dataclass(frozen=True)
class FactRecord:
    """One version of the record of undisputed facts."""

    case_id: str
    """The case."""
    version: int
    """1, 2, 3… (each redraft is a new version)."""
    items: tuple[Item, ...]
    """The facts and the disputed points, in the mediator's order."""
    drafted_at: datetime
    """When this version was drafted."""
    drafted_by: str
    """The audit actor who drafted it."""


@dataclass(frozen=True)
class Answer:
    """A party's answer to one version."""

    version: int
    """The version answered."""
    participant_id: str
    """Who answered."""
    answer: str
    """``confirm`` or ``object``."""
    note: str
    """What they added ('' if nothing)."""
    at: datetime
    """When."""


def items_json(items: Sequence[Item]) -> str:
    """The stored (and hashed) form of the items: canonical JSON."""
    return json.dumps(
        [{"kind": i.kind, "text": i.text} for i in items], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )


def _record(row: Any) -> FactRecord:
    items = tuple(Item(i["kind"], i["text"]) for i in json.loads(row.items))
    return FactRecord(row.case_id, row.version, items, row.drafted_at, row.drafted_by)


async def _newest_version(conn: AsyncConnection, case_id: str) -> int:
    fr = t.fact_records
    return int(
        (
            await conn.execute(select(func.coalesce(func.max(fr.c.version), 0)).where(fr.c.case_id == case_id))
        ).scalar_one()
    )


class FactStore:
    """Reads and writes the record's versions and answers (on the case store's engine)."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        """Writes the audited rows under the case's lock."""
        self.engine = cases.engine

    async def newest(self, case_id: str) -> FactRecord | None:
        """The current version of a case's record, if one was drafted."""
        fr = t.fact_records
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(fr).where(fr.c.case_id == case_id).order_by(fr.c.version.desc()).limit(1))
            ).first()
        return _record(row) if row is not None else None

    async def version(self, case_id: str, version: int) -> FactRecord:
        """One version of a case's record; NotFound if there is none."""
        fr = t.fact_records
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(fr).where(and_(fr.c.case_id == case_id, fr.c.version == version)))).first()
        if row is None:
            raise NotFound("No such version of the record of undisputed facts")
        return _record(row)

    async def draft(
        self,
        case_id: str,
        items: Sequence[Item],
        actor: str,
        now: datetime,
        check: Callable[[Case], None],
        audit: Callable[[int], AuditRecord],
    ) -> FactRecord:
        """Store a new version (the newest plus one) with its audit record; ``check`` may refuse it on the
        freshly loaded case. Two drafts at the same moment get two versions."""
        for attempt in range(ATTEMPTS):
            async with self.engine.connect() as conn:
                version = await _newest_version(conn, case_id) + 1

            def decide(loaded: LoadedCase, version: int = version) -> tuple[Case | None, list[AuditRecord]]:
                check(loaded.case)
                return None, [audit(version)]

            async def work(conn: AsyncConnection, version: int = version) -> None:
                await conn.execute(
                    insert(t.fact_records).values(
                        case_id=case_id, version=version, items=items_json(items), drafted_at=now, drafted_by=actor
                    )
                )

            try:
                await self.cases.write_audited(case_id, decide, work, now)
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise ConcurrentUpdate("The record was drafted by someone else at the same moment; retry") from None
                continue  # another draft took this number (its transaction, and ours, rolled back whole)
            return FactRecord(case_id, version, tuple(items), now, actor)
        raise AssertionError("unreachable")

    async def answer(
        self, case_id: str, answer: Answer, check: Callable[[Case], None], audit: AuditRecord, now: datetime
    ) -> None:
        """Keep a party's answer to a version, if that version is still the newest (else :class:`StaleRecord`,
        decided under the case's lock, so it holds against a redraft at the same moment)."""

        def decide(loaded: LoadedCase) -> tuple[Case | None, list[AuditRecord]]:
            check(loaded.case)
            return None, [audit]

        async def work(conn: AsyncConnection) -> None:
            newest = await _newest_version(conn, case_id)
            if newest != answer.version:
                raise StaleRecord(
                    f"The record of undisputed facts is now at version {newest}, not {answer.version}: "
                    "read the new version before answering"
                )
            await conn.execute(
                insert(t.fact_confirmations).values(
                    case_id=case_id,
                    version=answer.version,
                    participant_id=answer.participant_id,
                    answer=answer.answer,
                    note=answer.note,
                    at=answer.at,
                )
            )

        await self.cases.write_audited(case_id, decide, work, now, ATTEMPTS)

    async def answers(self, case_id: str, version: int) -> dict[str, Answer]:
        """Each party's newest answer to one version, by participant id."""
        fc = t.fact_confirmations
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(fc).where(and_(fc.c.case_id == case_id, fc.c.version == version)).order_by(fc.c.id)
                )
            ).all()
        return {r.participant_id: Answer(r.version, r.participant_id, r.answer, r.note, r.at) for r in rows}

    async def court_of(self, case_id: str) -> str | None:
        """The court that referred the case (``cases.court_id``), None for a case its mediator filed."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.cases.c.court_id).where(t.cases.c.id == case_id))).first()
        return None if row is None else row.court_id
