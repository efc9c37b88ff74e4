"""The store of electronic service: consents, services, recipients and deliveries (SQLAlchemy Core).

Rows that go with an audit record are written by the ``*_rows`` functions inside
:meth:`server.store.repository.CaseRepository.write_audited`'s transaction; the
delivery worker's own bookkeeping (claims, attempts) is written here directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.store import schema as t

CHANNELS = ("email", "sms", "inbox")


@dataclass(frozen=True)
class ServiceRow:
    """One act of service."""

    id: str
    case_id: str
    document_id: str
    purpose: str
    """``agreement`` (drives the case's life cycle), ``record``, ``ruling``, ``request`` or ``document``."""
    title: str
    created_at: datetime
    created_by: str
    deadline: datetime


@dataclass(frozen=True)
class RecipientRow:
    """A recipient of one service."""

    service_id: str
    participant_id: str
    case_id: str
    effective_at: datetime | None
    effective_channel: str | None
    opened_at: datetime | None
    downloaded_at: datetime | None
    flagged_at: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    """One channel to one recipient."""

    id: str
    service_id: str
    case_id: str
    participant_id: str
    channel: str
    to_masked: str
    status: str
    """``pending``, ``sending`` (claimed by a worker), ``sent`` (handed over, no acceptance known),
    ``accepted``, ``retrying`` or ``failed``."""
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    reference: str
    sent_at: datetime | None
    accepted_at: datetime | None
    failed_at: datetime | None


def _service(r: Any) -> ServiceRow:
    return ServiceRow(r.id, r.case_id, r.document_id, r.purpose, r.title, r.created_at, r.created_by, r.deadline)


def _recipient(r: Any) -> RecipientRow:
    return RecipientRow(
        r.service_id,
        r.participant_id,
        r.case_id,
        r.effective_at,
        r.effective_channel,
        r.opened_at,
        r.downloaded_at,
        r.flagged_at,
    )


def _delivery(r: Any) -> DeliveryRow:
    return DeliveryRow(**{k: getattr(r, k) for k in DeliveryRow.__dataclass_fields__})


# ---------------------------------------------------------------------- writes inside an audited transaction


async def consent_rows(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(t.service_consents).values(**row))


async def service_rows(
    conn: AsyncConnection, service: ServiceRow, recipients: Sequence[str], deliveries: Sequence[dict[str, Any]]
) -> None:
    await conn.execute(insert(t.services).values(**service.__dict__))
    await conn.execute(
        insert(t.service_recipients),
        [{"service_id": service.id, "participant_id": p, "case_id": service.case_id} for p in recipients],
    )
    await conn.execute(insert(t.deliveries), list(deliveries))


async def recipient_update(
    conn: AsyncConnection, service_id: str, participant_id: str, only_if_null: str, values: dict[str, Any]
) -> bool:
    """Set ``values`` on a recipient if its ``only_if_null`` column is still empty (first time wins)."""
    sr = t.service_recipients
    result = await conn.execute(
        update(sr)
        .where(and_(sr.c.service_id == service_id, sr.c.participant_id == participant_id, sr.c[only_if_null].is_(None)))
        .values(**values)
    )
    return bool(result.rowcount == 1)


async def requeue_rows(conn: AsyncConnection, service_id: str, participant_ids: Sequence[str], now: datetime) -> None:
    """Failed deliveries to these recipients start again; their flags are lowered."""
    d = t.deliveries
    await conn.execute(
        update(d)
        .where(and_(d.c.service_id == service_id, d.c.participant_id.in_(participant_ids), d.c.status == "failed"))
        .values(status="pending", attempts=0, next_attempt_at=now, last_error="")
    )
    sr = t.service_recipients
    await conn.execute(
        update(sr)
        .where(and_(sr.c.service_id == service_id, sr.c.participant_id.in_(participant_ids)))
        .values(flagged_at=None)
    )


class ServiceStore:
    """Reads, and the delivery worker's bookkeeping."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def consents(self, case_id: str) -> dict[str, dict[str, Any]]:
        """Each participant's current consent: ``{participant_id: {"channels": [...], "at": datetime}}``."""
        sc = t.service_consents
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(sc).where(sc.c.case_id == case_id).order_by(sc.c.at, sc.c.id))).all()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:  # the newest row wins
            channels = [c for c in r.channels.split(",") if c]
            out[r.participant_id] = {"channels": channels, "at": r.at, "actor": r.actor}
        return out

    async def services(self, case_id: str) -> list[ServiceRow]:
        s = t.services
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(s).where(s.c.case_id == case_id).order_by(s.c.created_at, s.c.id))).all()
        return [_service(r) for r in rows]

    async def service(self, service_id: str) -> ServiceRow | None:
        s = t.services
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(s).where(s.c.id == service_id))).first()
        return _service(row) if row is not None else None

    async def recipients(self, case_id: str, service_id: str | None = None) -> list[RecipientRow]:
        sr = t.service_recipients
        query = select(sr).where(sr.c.case_id == case_id)
        if service_id is not None:
            query = query.where(sr.c.service_id == service_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(sr.c.service_id, sr.c.participant_id))).all()
        return [_recipient(r) for r in rows]

    async def deliveries(self, case_id: str, service_id: str | None = None) -> list[DeliveryRow]:
        d = t.deliveries
        query = select(d).where(d.c.case_id == case_id)
        if service_id is not None:
            query = query.where(d.c.service_id == service_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(d.c.service_id, d.c.participant_id, d.c.channel))).all()
        return [_delivery(r) for r in rows]

    async def by_reference(self, reference: str) -> DeliveryRow | None:
        """The delivery a gateway's receipt names."""
        d = t.deliveries
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(d).where(d.c.reference == reference))).first()
        return _delivery(row) if row is not None else None

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int = 20) -> list[DeliveryRow]:
        """Deliveries whose time has come, each claimed for this worker by a conditional UPDATE.

        A claim sets ``sending`` and a lease; a worker that died mid-send leaves the row to be
        claimed again when the lease runs out (so a message may, rarely, go twice: never none).
        """
        d = t.deliveries
        due = or_(
            and_(d.c.status.in_(("pending", "retrying")), d.c.next_attempt_at <= now),
            and_(d.c.status == "sending", d.c.next_attempt_at <= now),
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(d).where(due).order_by(d.c.next_attempt_at).limit(limit))).all()
        claimed = []
        for r in rows:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    update(d)
                    .where(and_(d.c.id == r.id, d.c.status == r.status, d.c.next_attempt_at == r.next_attempt_at))
                    .values(status="sending", next_attempt_at=lease_until)
                )
            if result.rowcount == 1:
                claimed.append(_delivery(r))
        return claimed

    async def finish(self, delivery_id: str, values: dict[str, Any]) -> None:
        """Record the outcome of one attempt."""
        d = t.deliveries
        async with self.engine.begin() as conn:
            await conn.execute(update(d).where(d.c.id == delivery_id).values(**values))

    async def overdue(self, now: datetime) -> list[tuple[ServiceRow, RecipientRow]]:
        """Recipients past their service's deadline, not served and not yet flagged."""
        s, sr = t.services, t.service_recipients
        query = (
            select(s, sr)
            .join(sr, sr.c.service_id == s.c.id)
            .where(and_(s.c.deadline <= now, sr.c.effective_at.is_(None), sr.c.flagged_at.is_(None)))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = []
        for r in rows:
            m = r._mapping
            service = ServiceRow(
                m[s.c.id],
                m[s.c.case_id],
                m[s.c.document_id],
                m[s.c.purpose],
                m[s.c.title],
                m[s.c.created_at],
                m[s.c.created_by],
                m[s.c.deadline],
            )
            recipient = RecipientRow(
                m[sr.c.service_id],
                m[sr.c.participant_id],
                m[sr.c.case_id],
                None,
                None,
                m[sr.c.opened_at],
                m[sr.c.downloaded_at],
                None,
            )
            out.append((service, recipient))
        return out
