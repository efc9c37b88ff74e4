"""Webhooks: every change of a case's state, POSTed and signed to the configured URLs.

A transactional outbox. The writer side is one statement in
``CaseRepository._append``: for each ``case.state_changed`` audit entry it
inserts an ``outbox_events`` row *in the transaction that changes the state*,
so an event exists if and only if the change was committed, and it carries
the audit entry's ``seq`` and hash (a receiver can check it against the trail).

The sender side is :class:`WebhookDispatcher`, one asyncio task per server
node, every ``poll_interval`` seconds or at once when :meth:`~WebhookDispatcher.poke`\\ d::

    outbox_events ──(1) enqueue──▶ webhook_deliveries (one row per event and URL, "pending")
                  ──(2) claim────▶ UPDATE … SET next_attempt_at = now + timeout + margin
                                   WHERE … AND next_attempt_at = <the value read>   (a lease)
                  ──(3) POST─────▶ 2xx: "delivered"; anything else: again after 2 s, 4 s, 8 s …
                                   (at most 10 min apart), "failed" after 15 attempts

- **At least once.** A receiver may see an event twice (a node that dies after
  the POST and before recording it; a lease that ran out): it deduplicates by
  ``event_id`` (also in the ``X-Mediation-Event`` header).
- **Never twice at the same time.** A delivery is sent only by the node whose
  conditional UPDATE moved ``next_attempt_at`` from the value it read, so two
  nodes sharing a PostgreSQL database never send the same delivery at once.
- **In order per case and URL.** An event is not sent while an earlier event of
  the same case is still pending for that URL. An event that *failed* (15
  attempts) no longer holds the later ones back; the receiver sees the gap in
  ``audit_seq``.
- **A URL added later** receives the whole backlog of the outbox, oldest first.

Requests: ``Content-Type: application/json``, ``X-Mediation-Event`` (the event
id), ``X-Mediation-Timestamp`` (Unix seconds) and ``X-Mediation-Signature``
(:func:`server.notify.sign_webhook` over the timestamp and the body; check it
with :func:`server.notify.check_webhook_signature`). The body is
``{"event_id", "type", "case_id", "case_number", "old", "new", "at",
"audit_seq", "audit_hash"}``: no personal data. Logs name event ids, status
codes and a masked host, never a body or a whole URL (it may carry a token).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from server.notify import sign_webhook
from server.store import schema as t

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Mediation-Event"
TIMESTAMP_HEADER = "X-Mediation-Timestamp"
SIGNATURE_HEADER = "X-Mediation-Signature"

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

MAX_ATTEMPTS = 15
"""Attempts before a delivery is given up (``failed``)."""
BASE_DELAY = 2.0
"""Seconds before the second attempt; each later wait doubles."""
MAX_DELAY = 600.0
"""The longest wait between two attempts."""
LEASE_MARGIN = 30.0
"""Seconds a claim outlives the request's timeout (slow event loop, clock skew between nodes)."""
SCAN_WINDOW = 500
"""How far below the newest enqueued event id new events are looked for: on PostgreSQL ids are
drawn before commit, so a transaction may commit an id lower than one already seen."""


def endpoint_key(url: str) -> str:
    """How a URL is named in the store: the SHA-256 hex of the URL (a URL may carry a token)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def parse_urls(text: str) -> list[str]:
    """The comma-separated URLs of the ``webhook_urls`` setting, each once, in order."""
    return list(dict.fromkeys(u.strip() for u in text.split(",") if u.strip()))


def masked_host(url: str) -> str:
    """A URL as it may be logged: scheme and a masked host, ``https://h***.example.org/…``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    labels = host.split(".")
    if host.replace(".", "").isdigit() and len(labels) == 4:
        host = ".".join(labels[:2] + ["*", "*"])
    elif len(labels) > 2:
        host = labels[0][:1] + "***." + ".".join(labels[-2:])
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


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


class WebhookDispatcher:
    """Delivers the outbox to the configured URLs; one per server node (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        urls: Sequence[str],
        secret: bytes,
        clock: Callable[[], datetime],
        timeout: float = 10.0,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        poll_interval: float = 0.5,
        lease_margin: float = LEASE_MARGIN,
        batch: int = 50,
    ) -> None:
        """``urls``: http(s) URLs; ``secret``: the key that signs requests; ``clock``: the server's clock;
        ``timeout``: seconds per request. The keyword arguments tune retries (tests shorten them)."""
        if not urls:
            raise ValueError("WebhookDispatcher needs at least one URL")
        if len(secret) < 32:
            raise ValueError("The webhook secret must be at least 32 bytes")
        for url in urls:
            if not url.startswith(("https://", "http://")):
                raise ValueError("webhook URLs must be http:// or https:// URLs")
        self.engine = engine
        self.urls = {endpoint_key(u): u for u in urls}
        self._secret = secret
        self.clock = clock
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=timeout + lease_margin)
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"WebhookDispatcher([{', '.join(masked_host(u) for u in self.urls.values())}])"

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Start delivering in the background."""
        if self._task is not None:
            return
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")
        logger.info("webhooks: delivering to %s", ", ".join(masked_host(u) for u in self.urls.values()))

    async def close(self) -> None:
        """Stop; a delivery cut off mid-request keeps its lease and is sent again when it runs out."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def poke(self) -> None:
        """Look for new events now rather than at the next poll (after a write)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # a poke from now on is seen by the wait below
            try:
                busy = await self.dispatch_once()
            except Exception as exc:  # noqa: BLE001 - e.g. the database is briefly away: keep going
                # only the type: a driver's message may carry the statement's parameters
                logger.warning("webhooks: dispatch round failed (%s)", type(exc).__name__)
                await asyncio.sleep(max(self.poll_interval, 2.0))  # not two warnings a second while it lasts
                continue
            if busy:
                continue  # sent something: later events of those cases may be due now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def dispatch_once(self) -> int:
        """One round: enqueue new events, claim what is due, send it. Returns how many were sent."""
        if self._session is None:
            raise RuntimeError("WebhookDispatcher.start() was not called")
        await self._enqueue()
        claimed = await self._claim()
        outcomes = await asyncio.gather(*(self._deliver(c) for c in claimed), return_exceptions=True)
        for claim, outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # its lease runs out and it is tried again
                logger.warning("webhooks: event %s: %s", claim.event_id, type(outcome).__name__)
        return len(claimed)

    # ------------------------------------------------------------------ (1) enqueue

    async def _enqueue(self) -> None:
        """A ``pending`` delivery for every URL and every outbox event that has none yet."""
        e, d = t.outbox_events, t.webhook_deliveries
        now = self.clock()
        for endpoint in self.urls:
            newest = select(func.coalesce(func.max(d.c.event_id), 0)).where(d.c.endpoint == endpoint)
            missing = (
                select(e.c.id)
                .where(
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

    # ------------------------------------------------------------------ (2) claim

    async def _claim(self) -> list[Claimed]:
        """Lease the due deliveries whose earlier events (same case, same URL) are done."""
        e, d, c = t.outbox_events, t.webhook_deliveries, t.cases
        e2, d2 = e.alias("earlier"), d.alias("earlier_delivery")
        done = exists().where(and_(d2.c.event_id == e2.c.id, d2.c.endpoint == d.c.endpoint, d2.c.status != PENDING))
        held_back = exists().where(and_(e2.c.case_id == e.c.case_id, e2.c.id < e.c.id, ~done))
        now = self.clock()
        due = (
            select(d.c.event_id, d.c.endpoint, d.c.attempts, d.c.next_attempt_at, e.c.payload, c.c.number)
            .join(e, e.c.id == d.c.event_id)
            .join(c, c.c.id == e.c.case_id)
            .where(d.c.status == PENDING, d.c.next_attempt_at <= now, d.c.endpoint.in_(list(self.urls)), ~held_back)
            .order_by(d.c.event_id, d.c.endpoint)
            .limit(self.batch)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(due)).all()
        if not rows:
            return []
        lease_until = now + self.lease
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
                    claimed.append(Claimed(row.event_id, row.endpoint, row.attempts, lease_until, _body(row)))
        return claimed

    # ------------------------------------------------------------------ (3) send

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 2 s, 4 s, 8 s … at most ``max_delay``."""
        return timedelta(seconds=min(self.base_delay * 2 ** min(attempts - 1, 30), self.max_delay))

    async def _deliver(self, claim: Claimed) -> None:
        url = self.urls[claim.endpoint]
        status = await self._post(url, claim)
        attempts = claim.attempts + 1
        now = self.clock()
        d = t.webhook_deliveries
        values: dict[str, Any] = {"attempts": attempts, "last_status": status}
        if status is not None and 200 <= status < 300:
            values.update(status=DELIVERED, delivered_at=now)
            logger.info("webhooks: event %s delivered to %s (%s)", claim.event_id, masked_host(url), status)
        elif attempts >= self.max_attempts:
            values.update(status=FAILED)
            logger.warning(
                "webhooks: event %s to %s failed for good after %d attempts (last: %s)",
                claim.event_id,
                masked_host(url),
                attempts,
                status if status is not None else "no answer",
            )
        else:
            delay = self.retry_delay(attempts)
            values.update(next_attempt_at=now + delay)
            logger.info(
                "webhooks: event %s to %s: %s (attempt %d); again in %.0f s",
                claim.event_id,
                masked_host(url),
                status if status is not None else "no answer",
                attempts,
                delay.total_seconds(),
            )
        try:
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
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the event is sent again
            logger.warning("webhooks: outcome of event %s not recorded (%s)", claim.event_id, type(exc).__name__)
            return
        if result.rowcount != 1:
            logger.warning("webhooks: lease on event %s ran out before its outcome was recorded", claim.event_id)

    async def _post(self, url: str, claim: Claimed) -> int | None:
        """The receiver's status, or None for a timeout or a connection error."""
        assert self._session is not None
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: str(claim.event_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(self._secret, timestamp, claim.body),
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session.post(
                url, data=claim.body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                return resp.status
        except TimeoutError:
            logger.info("webhooks: event %s to %s timed out", claim.event_id, masked_host(url))
        except aiohttp.ClientError as exc:
            logger.info("webhooks: event %s to %s: %s", claim.event_id, masked_host(url), type(exc).__name__)
        return None


def _body(row: Any) -> bytes:
    """The request body: the stored event with its id and the case number."""
    payload = json.loads(row.payload)
    payload["event_id"] = row.event_id
    if row.number:
        payload["case_number"] = row.number
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


WEBHOOKS: web.AppKey[WebhookDispatcher] = web.AppKey("webhooks", WebhookDispatcher)
"""The node's dispatcher (present only when ``webhook_urls`` is set)."""


async def poke_after_write(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a successful write wakes the dispatcher at once (the change is committed)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or response.status >= 400:
        return
    dispatcher = request.app.get(WEBHOOKS)
    if dispatcher is not None:
        dispatcher.poke()
