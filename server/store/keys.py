"""Case data keys: the per-case key that encrypts recordings at rest, kept only wrapped.

``recording.vault.Vault`` wraps and unwraps the keys; this store keeps them, one per case,
and settles a race between two nodes creating a case's key at once (the first one stays).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store import schema as t


class CaseKeyStore:
    """Reads and writes the cases' wrapped data keys."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def case_key(self, case_id: str) -> bytes | None:
        """A case's wrapped data key, if it has one."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.case_keys.c.wrapped).where(t.case_keys.c.case_id == case_id))).first()
        return bytes(row.wrapped) if row is not None else None

    async def add_case_key(self, case_id: str, wrapped: bytes, now: datetime) -> bytes:
        """Store a wrapped data key; if another writer was first, return theirs."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.case_keys).values(case_id=case_id, wrapped=wrapped, created_at=now))
        except IntegrityError:
            existing = await self.case_key(case_id)
            if existing is None:
                raise
            return existing
        return wrapped
