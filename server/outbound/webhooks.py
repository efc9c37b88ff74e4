"""Webhooks: every change of a case's state, POSTed and signed to the configured URLs.

A transactional outbox. The writer side is one statement in
``CaseRepository._append``: for each ``case.state_changed`` audit entry it
inserts an ``outbox_events`` row *in the transaction that changes the state*,
so an event exists if and only if the change was committed, and it carries
the audit entry's ``seq`` and hash (a receiver can check it against the trail).

The sender side is :class:`WebhookDispatcher`, a job of the
:class:`~server.outbound.runner.LeasedRunner` on every server node, every
``poll_interval`` seconds or at once when :meth:`~WebhookDispatcher.poke`\\ d::

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
- **The aggregation feed** (:mod:`server.outbound.feed`) is this dispatcher over the outbox's other
  kind of event (``kind = 'feed'``: a documented document for more audit actions than state
  changes), to its own URLs with its own key, never given up; the webhooks' events and body stay
  as they are.

The pieces: this module holds the settings, the job (what an attempt's outcome
means: delivered, again after a back-off, given up) and the aiohttp hook;
:mod:`server.outbound.webhook_store` the outbox's SQL with its leases;
:mod:`server.outbound.webhook_client` the signed HTTP request.

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
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from server.outbound.runner import LeasedRunner
from server.outbound.webhook_client import WebhookClient, masked_host
from server.outbound.webhook_store import DELIVERED, FAILED, WEBHOOK, Claimed, WebhookOutbox, endpoint_key

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 15
"""Attempts before a delivery is given up (``failed``)."""
BASE_DELAY = 2.0
"""Seconds before the second attempt; each later wait doubles."""
MAX_DELAY = 600.0
"""The longest wait between two attempts."""
LEASE_MARGIN = 30.0
"""Seconds a claim outlives the request's timeout (slow event loop, clock skew between nodes)."""
COOL_DOWN = 2.0
"""The least wait after a failed round (e.g. the database is away): not two warnings a second while it lasts."""


def parse_urls(text: str) -> list[str]:
    """The comma-separated URLs of the ``webhook_urls`` setting, each once, in order."""
    return list(dict.fromkeys(u.strip() for u in text.split(",") if u.strip()))


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
        max_attempts: int | None = MAX_ATTEMPTS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        poll_interval: float = 0.5,
        lease_margin: float = LEASE_MARGIN,
        batch: int = 50,
        kind: str = WEBHOOK,
        name: str = "webhooks",
    ) -> None:
        """``urls``: http(s) URLs; ``secret``: the key that signs requests; ``clock``: the server's clock;
        ``timeout``: seconds per request. The keyword arguments tune retries (tests shorten them;
        ``max_attempts`` None: never given up); ``kind``: the outbox events sent (the aggregation feed's
        are ``feed``, :mod:`server.outbound.feed`), ``name``: the task's and the log's name."""
        if not urls:
            raise ValueError("WebhookDispatcher needs at least one URL")
        if len(secret) < 32:
            raise ValueError("The webhook secret must be at least 32 bytes")
        for url in urls:
            if not url.startswith(("https://", "http://")):
                raise ValueError("webhook URLs must be http:// or https:// URLs")
        self.urls = {endpoint_key(u, kind): u for u in urls}
        self.outbox = WebhookOutbox(engine, self.urls, kind)
        self.name = name
        self.client = WebhookClient(secret, timeout)
        self.clock = clock
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=timeout + lease_margin)
        self.batch = batch
        self.runner = LeasedRunner(self, name, cool_down=max(poll_interval, COOL_DOWN))

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(masked_host(u) for u in self.urls.values())}])"

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Start delivering in the background."""
        if self.runner.running:
            return
        self.client.open()
        self.runner.start()
        logger.info("%s: delivering to %s", self.name, ", ".join(masked_host(u) for u in self.urls.values()))

    async def close(self) -> None:
        """Stop; a delivery cut off mid-request keeps its lease and is sent again when it runs out."""
        await self.runner.close()
        await self.client.close()

    def poke(self) -> None:
        """Look for new events now rather than at the next poll (after a write)."""
        self.runner.poke()

    def pause(self, done: int) -> float:
        """0 after a round that sent something (later events of those cases may be due now), else the poll."""
        return 0.0 if done else self.poll_interval

    async def run_round(self) -> int:
        """One round: enqueue new events, claim what is due, send it. Returns how many were sent."""
        if not self.client.is_open:
            raise RuntimeError("WebhookDispatcher.start() was not called")
        await self.outbox.enqueue(self.clock())
        now = self.clock()
        claimed = await self.outbox.claim(now, now + self.lease, self.batch)
        outcomes = await asyncio.gather(*(self._deliver(c) for c in claimed), return_exceptions=True)
        for claim, outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # its lease runs out and it is tried again
                logger.warning("%s: event %s: %s", self.name, claim.event_id, type(outcome).__name__)
        return len(claimed)

    # ------------------------------------------------------------------ one attempt

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 2 s, 4 s, 8 s … at most ``max_delay``."""
        return timedelta(seconds=min(self.base_delay * 2 ** min(attempts - 1, 30), self.max_delay))

    async def _deliver(self, claim: Claimed) -> None:
        """POST one claimed delivery and record what came of it: delivered, again later, or given up."""
        url = self.urls[claim.endpoint]
        status = await self.client.post(url, claim.event_id, claim.body, int(self.clock().timestamp()))
        attempts = claim.attempts + 1
        now = self.clock()
        values: dict[str, Any] = {"attempts": attempts, "last_status": status}
        if status is not None and 200 <= status < 300:
            values.update(status=DELIVERED, delivered_at=now)
            logger.info("%s: event %s delivered to %s (%s)", self.name, claim.event_id, masked_host(url), status)
        elif self.max_attempts is not None and attempts >= self.max_attempts:
            values.update(status=FAILED)
            logger.warning(
                "%s: event %s to %s failed for good after %d attempts (last: %s)",
                self.name,
                claim.event_id,
                masked_host(url),
                attempts,
                status if status is not None else "no answer",
            )
        else:
            delay = self.retry_delay(attempts)
            values.update(next_attempt_at=now + delay)
            logger.info(
                "%s: event %s to %s: %s (attempt %d); again in %.0f s",
                self.name,
                claim.event_id,
                masked_host(url),
                status if status is not None else "no answer",
                attempts,
                delay.total_seconds(),
            )
        try:
            recorded = await self.outbox.settle(claim, values)
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the event is sent again
            logger.warning("%s: outcome of event %s not recorded (%s)", self.name, claim.event_id, type(exc).__name__)
            return
        if not recorded:
            logger.warning("%s: lease on event %s ran out before its outcome was recorded", self.name, claim.event_id)


WEBHOOKS: web.AppKey[WebhookDispatcher] = web.AppKey("webhooks", WebhookDispatcher)
"""The node's dispatcher (present only when ``webhook_urls`` is set)."""


async def poke_after_write(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a successful write wakes the dispatcher at once (the change is committed)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or response.status >= 400:
        return
    dispatcher = request.app.get(WEBHOOKS)
    if dispatcher is not None:
        dispatcher.poke()
