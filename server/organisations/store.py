"""Organisations and the record of what was done to their accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.domain.organisations import Organisation, OrganisationKind
from server.errors import Duplicate, NotFound
from server.store import schema as t


@dataclass(frozen=True)
class OrganisationEvent:
    """One thing done to an organisation's accounts."""

    at: datetime
    """When."""
    actor: str
    """Who (``account:<id>``, or ``cli`` for the command line)."""
    action: str
    """``account.created``, ``account.disabled``, ``account.password_reset``, ``account.contacts_set``."""
    account_id: str | None
    """Which account."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "account_id": self.account_id}


def _organisation(row: Any) -> Organisation:
    return Organisation(
        id=row.id,
        kind=OrganisationKind(row.kind),
        name=row.name,
        created_at=row.created_at,
        region=row.region,
        disabled=bool(row.disabled),
    )


class OrganisationStore:
    """Reads and writes organisations and their events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, organisation: Organisation) -> None:
        """Record an organisation; Duplicate if its name is taken."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.organisations).values(
                        id=organisation.id,
                        kind=organisation.kind.value,
                        name=organisation.name,
                        region=organisation.region,
                        created_at=organisation.created_at,
                        disabled=organisation.disabled,
                    )
                )
        except IntegrityError:
            raise Duplicate("An organisation with this name already exists") from None

    async def get(self, organisation_id: str) -> Organisation:
        """One organisation; NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.organisations).where(t.organisations.c.id == organisation_id))).first()
        if row is None:
            raise NotFound("No such organisation")
        return _organisation(row)

    async def by_name(self, name: str) -> Organisation | None:
        """The organisation of this name, if any."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.organisations).where(t.organisations.c.name == name))).first()
        return None if row is None else _organisation(row)

    async def all(self) -> list[Organisation]:
        """Every organisation, by kind and name."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(t.organisations).order_by(t.organisations.c.kind, t.organisations.c.name))
            ).all()
        return [_organisation(r) for r in rows]

    async def record(self, organisation_id: str, event: OrganisationEvent) -> None:
        """Append one event."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.organisation_events).values(
                    organisation_id=organisation_id,
                    at=event.at,
                    actor=event.actor,
                    action=event.action,
                    account_id=event.account_id,
                )
            )

    async def events(self, organisation_id: str, limit: int = 200) -> list[OrganisationEvent]:
        """The latest events, newest first."""
        e = t.organisation_events
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(e).where(e.c.organisation_id == organisation_id).order_by(e.c.id.desc()).limit(limit)
                )
            ).all()
        return [OrganisationEvent(r.at, r.actor, r.action, r.account_id) for r in rows]
