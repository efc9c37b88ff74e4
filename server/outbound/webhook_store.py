"""The webhook outbox in the store: deliveries enqueued per event and URL, claimed with a lease, settled.

The outbox rows themselves (``outbox_events``) are written by ``CaseRepository._append`` in the
transaction that changes a case's state; this module keeps ``webhook_deliveries``, one row per
event and URL (see :mod:`server.outbound.webhooks` for the whole design). A URL is named here by
its SHA-256 (:func:`endpoint_key`): it may carry a token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store import schema as t

PENDING = "pending"
"""Not delivered yet (due at ``next_attempt_at``; while claimed, that is the lease's end)."""
DELIVERED = "delivered"
"""The receiver answered 2xx."""
FAILED = "failed"
"""Given up after the last attempt."""

WEBHOOK = "webhook"
"""The outbox events of the webhooks: a change of state (``outbox_events.kind``)."""
FEED = "feed"
"""The outbox events of the aggregation feed (:mod:`server.outbound.feed`)."""

SCAN_WINDOW = 500
"""How far below the newest enqueued event id new events are looked for: on PostgreSQL ids are
drawn before commit, so a transaction may commit an id lower than one already seen."""


def endpoint_key(url: str, kind: str = WEBHOOK) -> str:
    """How a URL is named in the store: the SHA-256 hex of the URL (a URL may carry a token); a feed's
    URL is named apart (the same URL may be a webhook and a feed)."""
    return hashlib.sha256((url if kind == WEBHOOK else f"{kind} {url}").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claimed:
    """A delivery this node holds the lease of."""

    event_id: int
    """The outbox event."""
    endpoint: str
    """SHA-256 of the URL."""
    attempts: int
    """Attempts before this one."""
    lease_until: datetime
    """The ``next_attempt_at`` the claim wrote: the outcome is recorded only while it is still there."""
    body: bytes
    """The JSON body (never logged)."""


class WebhookOutbox:
    """The ``webhook_deliveries`` of some endpoints (SQLAlchemy Core; SQLite and PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, endpoints: Iterable[str], kind: str = WEBHOOK) -> None:
        """``endpoints``: the :func:`endpoint_key` of each configured URL; ``kind``: the outbox events
        they receive (:data:`WEBHOOK` or :data:`FEED`)."""
        self.engine = engine
        self.endpoints = list(endpoints)
        self.kind = kind

    async def enqueue(self, now: datetime) -> None:
        """A ``pending`` delivery for every endpoint and every outbox event that has none yet."""
        e, d = t.outbox_events, t.webhook_deliveries
        for endpoint in self.endpoints:
            newest = select(func.coalesce(func.max(d.c.event_id), 0)).where(d.c.endpoint == endpoint)
            missing = (
                select(e.c.id)
                .where(
                    e.c.kind == self.kind,
                    e.c.id > newest.scalar_subquery() - SCAN_WINDOW,
                    ~exists().where(and_(d.c.event_id == e.c.id, d.c.endpoint == endpoint)),
                )
                .order_by(e.c.id)
                .limit(1000)
            )
            async with self.engine.connect() as conn:
                ids = (await conn.execute(missing)).scalars().all()
            if not ids:
                continue
            rows = [
                {"event_id": i, "endpoint": endpoint, "status": PENDING, "attempts": 0, "next_attempt_at": now}
                for i in ids
            ]
            async with self.engine.begin() as conn:
                await conn.execute(self._insert_new(), rows)  # another node may have been first

    def _insert_new(self) -> Any:
        d = t.webhook_deliveries
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(d).on_conflict_do_nothing()
        return sqlite.insert(d).on_conflict_do_nothing()

    async def claim(self, now: datetime, lease_until: datetime, batch: int) -> list[Claimed]:
        """Lease (until ``lease_until``) up to ``batch`` due deliveries whose earlier events (same case,
        same endpoint) are done."""
        e, d, c = t.outbox_events, t.webhook_deliveries, t.cases
        e2, d2 = e.alias("earlier"), d.alias("earlier_delivery")
        done = exists().where(and_(d2.c.event_id == e2.c.id, d2.c.endpoint == d.c.endpoint, d2.c.status != PENDING))
        held_back = exists().where(and_(e2.c.case_id == e.c.case_id, e2.c.kind == self.kind, e2.c.id < e.c.id, ~done))
        due = (
            select(d.c.event_id, d.c.endpoint, d.c.attempts, d.c.next_attempt_at, e.c.payload, c.c.number)
            .join(e, e.c.id == d.c.event_id)
            .join(c, c.c.id == e.c.case_id)
            .where(
                d.c.status == PENDING,
                d.c.next_attempt_at <= now,
                d.c.endpoint.in_(self.endpoints),
                e.c.kind == self.kind,
                ~held_back,
            )
            .order_by(d.c.event_id, d.c.endpoint)
            .limit(batch)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(due)).all()
        if not rows:
            return []
        claimed = []
        async with self.engine.begin() as conn:
            for row in rows:  # in key order, so two nodes never lock rows in opposite orders
                result = await conn.execute(
                    update(d)
                    .where(
                        d.c.event_id == row.event_id,
                        d.c.endpoint == row.endpoint,
                        d.c.status == PENDING,
                        d.c.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=lease_until)
                )
                if result.rowcount == 1:
                    body = _body(row) if self.kind == WEBHOOK else _feed_body(row)
                    claimed.append(Claimed(row.event_id, row.endpoint, row.attempts, lease_until, body))
        return claimed

    async def settle(self, claim: Claimed, values: dict[str, Any]) -> bool:
        """Record an attempt's outcome (``values`` of ``webhook_deliveries``) while the claim still holds;
        False when its lease ran out first (another node may have it now)."""
        d = t.webhook_deliveries
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(d)
                .where(
                    d.c.event_id == claim.event_id,
                    d.c.endpoint == claim.endpoint,
                    d.c.status == PENDING,
                    d.c.next_attempt_at == claim.lease_until,
                )
                .values(**values)
            )
        return bool(result.rowcount == 1)


def _body(row: Any) -> bytes:
    """The request body: the stored event with its id and the case number."""
    payload = json.loads(row.payload)
    payload["event_id"] = row.event_id
    if row.number:
        payload["case_number"] = row.number
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _feed_body(row: Any) -> bytes:
    """A feed's request body: the stored document with its event id (:mod:`server.outbound.feed`)."""
    document = json.loads(row.payload)
    document["event_id"] = row.event_id
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
