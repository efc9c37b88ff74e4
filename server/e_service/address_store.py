"""The store of addresses for service (送达地址确认书): append-only rows of ``service_addresses``.

A confirmation is written inside :meth:`server.store.repository.CaseRepository.write_audited`'s
transaction by :func:`confirmation_rows`, together with what it means elsewhere: the PDF's document
row, the consent to electronic service with the same channels (``service_consents``, which serving
reads), and the participant's phone and e-mail, which every later message to them uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.store import schema as t
from server.store.repository import DocumentRecord


@dataclass(frozen=True)
class AddressRow:
    """One confirmation of a party's address for service."""

    case_id: str
    participant_id: str
    phone: str | None
    """Mainland mobile number for SMS (personal data)."""
    email: str | None
    """E-mail address (personal data)."""
    postal_address: str | None
    """Postal address (personal data)."""
    postal_recipient: str | None
    """Who takes post at that address."""
    channels: tuple[str, ...]
    """The channels of electronic service they accept (empty: none, documents go by post)."""
    document_id: str
    """The confirmation's PDF (送达地址确认书), a staff document of the case."""
    confirmed_at: datetime
    actor: str
    id: int = 0
    """Its place in the table (0 until stored): the highest of a participant's is their confirmation now."""


def _row(r: Any) -> AddressRow:
    return AddressRow(
        r.case_id,
        r.participant_id,
        r.phone,
        r.email,
        r.postal_address,
        r.postal_recipient,
        tuple(c for c in r.channels.split(",") if c),
        r.document_id,
        r.confirmed_at,
        r.actor,
        r.id,
    )


async def confirmation_rows(conn: AsyncConnection, row: AddressRow, document: DocumentRecord, consent_id: str) -> None:
    """Write a confirmation and what follows from it, inside an audited transaction.

    The document row is written here, not through :meth:`CaseRepository.add_document`, so that the
    PDF, the confirmation and the consent land together or not at all. A phone or e-mail left out
    keeps the one the mediator entered."""
    await conn.execute(insert(t.documents).values(**document.__dict__))
    values = {**row.__dict__, "channels": ",".join(row.channels)}
    del values["id"]
    await conn.execute(insert(t.service_addresses).values(**values))
    await conn.execute(
        insert(t.service_consents).values(
            id=consent_id,
            case_id=row.case_id,
            participant_id=row.participant_id,
            channels=",".join(row.channels),
            at=row.confirmed_at,
            actor=row.actor,
        )
    )
    contacts = {k: v for k, v in (("phone", row.phone), ("email", row.email)) if v}
    if contacts:
        p = t.participants
        await conn.execute(update(p).where(p.c.id == row.participant_id).values(**contacts))


class AddressStore:
    """Reads of confirmed addresses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def newest(self, case_id: str) -> dict[str, AddressRow]:
        """Each participant's newest confirmation on a case."""
        a = t.service_addresses
        query = select(a).where(a.c.case_id == case_id).order_by(a.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out: dict[str, AddressRow] = {}
        for r in rows:  # the newest row wins
            out[r.participant_id] = _row(r)
        return out
