"""The intake's tables: agencies' key ids, the nonces seen, and one row per police case number of an agency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store import schema as t


@dataclass(frozen=True)
class IntakeKey:
    """A key id of an agency (its secret is derived, never stored)."""

    id: str
    organisation_id: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Intake:
    """A police case number of an agency, and the case it filed (None while it is being filed)."""

    id: str
    organisation_id: str
    police_case_number: str
    fingerprint: str
    received_at: datetime
    case_id: str | None


class IntakeStore:
    """SQL of the intake (``intake_keys``, ``intake_nonces``, ``police_intakes``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ keys

    async def add_key(self, key: IntakeKey, max_active: int) -> bool:
        """Record a new key of the agency, unless it already holds ``max_active`` active keys (False)."""
        k = t.intake_keys
        async with self.engine.begin() as conn:
            active = await conn.scalar(
                select(func.count())
                .select_from(k)
                .where(k.c.organisation_id == key.organisation_id, k.c.revoked_at.is_(None))
            )
            if (active or 0) >= max_active:
                return False
            await conn.execute(
                insert(k).values(id=key.id, organisation_id=key.organisation_id, created_at=key.created_at)
            )
        return True

    async def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Revoke a key (False when there is no such active key)."""
        k = t.intake_keys
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(k).where(k.c.id == key_id, k.c.revoked_at.is_(None)).values(revoked_at=now)
            )
        return bool(done.rowcount)

    async def key(self, key_id: str) -> IntakeKey | None:
        """A key by its id."""
        k = t.intake_keys
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(k).where(k.c.id == key_id))).one_or_none()
        return IntakeKey(row.id, row.organisation_id, row.created_at, row.revoked_at) if row else None

    async def keys(self, organisation_id: str) -> list[IntakeKey]:
        """An agency's keys, the oldest first."""
        k = t.intake_keys
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(k).where(k.c.organisation_id == organisation_id).order_by(k.c.created_at))
        return [IntakeKey(r.id, r.organisation_id, r.created_at, r.revoked_at) for r in rows]

    # ------------------------------------------------------------------ nonces

    async def first_use(self, key_id: str, nonce: str, now: datetime, keep: timedelta) -> bool:
        """Remember a request's nonce: False when it was seen before (on any node). Prunes nonces past ``keep``."""
        n = t.intake_nonces
        try:
            async with self.engine.begin() as conn:
                await conn.execute(delete(n).where(n.c.seen_at < now - keep))
                await conn.execute(insert(n).values(key_id=key_id, nonce=nonce, seen_at=now))
        except IntegrityError:
            return False
        return True

    # ------------------------------------------------------------------ police case numbers

    async def claim(
        self,
        intake_id: str,
        organisation_id: str,
        number: str,
        fingerprint: str,
        document: str,
        key_id: str,
        now: datetime,
    ) -> bool:
        """Claim the agency's police case number for this request (False: another request holds it)."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.police_intakes).values(
                        id=intake_id,
                        organisation_id=organisation_id,
                        police_case_number=number,
                        fingerprint=fingerprint,
                        document=document,
                        key_id=key_id,
                        received_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def intake(self, organisation_id: str, number: str) -> Intake | None:
        """The row of the agency's police case number, if any."""
        p = t.police_intakes
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(p).where(p.c.organisation_id == organisation_id, p.c.police_case_number == number)
                )
            ).one_or_none()
        if row is None:
            return None
        return Intake(
            row.id, row.organisation_id, row.police_case_number, row.fingerprint, row.received_at, row.case_id
        )

    async def filed(self, intake_id: str, case_id: str) -> None:
        """The claimed number filed its case."""
        p = t.police_intakes
        async with self.engine.begin() as conn:
            await conn.execute(update(p).where(p.c.id == intake_id).values(case_id=case_id))

    async def release(self, intake_id: str, older_than: datetime | None = None) -> None:
        """Give a claim up: nothing was filed (or, with ``older_than``, its request died before filing)."""
        p = t.police_intakes
        where = [p.c.id == intake_id, p.c.case_id.is_(None)]
        if older_than is not None:
            where.append(p.c.received_at < older_than)
        async with self.engine.begin() as conn:
            await conn.execute(delete(p).where(*where))

    async def document_of_case(self, case_id: str) -> str | None:
        """The canonical document (JSON) that filed a case, if the police's system filed it."""
        p = t.police_intakes
        async with self.engine.connect() as conn:
            return await conn.scalar(select(p.c.document).where(p.c.case_id == case_id))
