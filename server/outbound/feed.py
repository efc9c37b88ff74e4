"""The aggregation feed: a case's events, in a documented exchange format, pushed until acknowledged.

A local platform's cases reach an aggregating platform (the national traffic-dispute platform) as
they happen. The feed rides on the webhooks' machinery (:mod:`server.outbound.webhooks`): the same
transactional outbox, the same leases, the same signed requests, one more kind of outbox event.

- **Written with the change.** :func:`write_feed_events` runs inside ``CaseRepository._append``
  (the composition root hands it to the repository, which does not import this layer): for each
  audit entry whose action is one of :data:`DATA_FIELDS` it inserts a ``feed`` outbox event *in the
  transaction that records the entry*. The case part of the document is read from the ``cases`` row
  in that same transaction, after the write moved it, so it is the case as that transaction left it.
- **Nothing personal.** The document carries ids, codes, states and times: never names, phone
  numbers, ID numbers, addresses, titles or free text (a decline's reason, a comment). Each event
  type's ``data`` is cut down to the fields named in :data:`DATA_FIELDS`.
- **Acknowledged, never given up.** :class:`FeedDispatcher` is a :class:`WebhookDispatcher` over the
  ``feed`` events that retries until the receiver answers 2xx (2 s, 4 s, 8 s … at most every 10
  minutes), keeps each case's events in order (a later event waits for the earlier one), and logs
  how many events wait and for how long (:meth:`FeedDispatcher.report_backlog`).

The format, its JSON Schema and how a receiver checks and acknowledges a request are in
``docs/feed.md`` and ``docs/feed.schema.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from aiohttp import web
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain.audit import timestamp
from server.outbound.webhook_store import FEED, PENDING
from server.outbound.webhooks import MAX_DELAY, WebhookDispatcher
from server.store import schema as t

logger = logging.getLogger(__name__)

FORMAT = "mediation-feed/1"
"""The format's name and major version; a change a receiver must know of bumps the number."""

DATA_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "case.filed": ("number", "kind"),
        "case.referred": ("referral_kind", "organisation_id", "court_id"),
        "case.assigned": ("mediator_account_id",),
        "assignment.accepted": ("mediator_account_id",),
        "assignment.declined": ("mediator_account_id",),  # not the reason: free text
        "period.started": ("deadline",),
        "period.extended": ("deadline",),
        "period.overdue": ("deadline",),
        "case.state_changed": ("old", "new"),
        "session.started": ("session_id",),
        "session.ended": ("session_id",),
        "agreement.drafted": ("document_id", "version"),
        "signing.signed": ("signer_id",),
        "service.effective": ("recipient_id",),
        "confirmation.ruled": ("confirmed",),
        "case.ended": ("outcome",),
    }
)
"""The audit actions the feed carries, each with the fields of its ``data`` (taken from the audit
entry's details; ids, codes, states, times and flags only)."""

REPORT_EVERY = 60.0
"""Seconds between two looks at the feed's backlog (logged while it is not empty)."""


# ------------------------------------------------------------------ the writer (in the case's transaction)


async def write_feed_events(
    conn: AsyncConnection, case_id: str, entries: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Insert a ``feed`` outbox event for each of ``entries`` (audit rows just inserted on ``conn``:
    ``seq``, ``at``, ``action``, ``details`` as JSON text, ``hash``) that the feed carries."""
    chosen = [e for e in entries if e["action"] in DATA_FIELDS]
    if not chosen:
        return
    case = await case_snapshot(conn, case_id)
    rows = [
        {
            "case_id": case_id,
            "seq": e["seq"],
            "action": e["action"],
            "kind": FEED,
            "payload": json.dumps(feed_document(e, case), ensure_ascii=False, sort_keys=True, separators=(",", ":")),
            "at": now,
        }
        for e in chosen
    ]
    await conn.execute(insert(t.outbox_events), rows)


def feed_document(entry: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """The document of one audit entry (without ``event_id``: the outbox event's id, added when sent)."""
    details = json.loads(entry["details"])
    fields = DATA_FIELDS[entry["action"]]
    return {
        "format": FORMAT,
        "type": entry["action"],
        "at": entry["at"],
        "case": dict(case),
        "audit_seq": entry["seq"],
        "audit_hash": entry["hash"],
        "data": {k: details[k] for k in fields if k in details},
    }


CASE_COLUMNS = (
    *("id", "number", "kind", "state", "referral_kind", "referred_at", "accepted_at", "agreement_at"),
    *("confirmed_at", "ended_at", "period_deadline", "overdue"),
)
"""The ``cases`` columns a document shows (never ``title``: it may name people)."""
ORGANISATION_FIELDS = ("id", "name", "kind", "region")
"""What a document shows of the organisation that holds the case and of the referring court."""


async def case_snapshot(conn: AsyncConnection, case_id: str) -> dict[str, Any]:
    """The ``case`` part of a document, from the ``cases`` row as ``conn`` sees it now."""
    c = t.cases
    org, court = t.organisations.alias("organisation"), t.organisations.alias("court")
    row = (
        await conn.execute(
            select(
                *(c.c[k] for k in CASE_COLUMNS),
                *(org.c[k].label(f"organisation_{k}") for k in ORGANISATION_FIELDS),
                *(court.c[k].label(f"court_{k}") for k in ORGANISATION_FIELDS),
            )
            .select_from(c.outerjoin(org, org.c.id == c.c.organisation_id).outerjoin(court, court.c.id == c.c.court_id))
            .where(c.c.id == case_id)
        )
    ).one()

    def organisation(prefix: str) -> dict[str, Any] | None:
        if getattr(row, f"{prefix}_id") is None:
            return None
        return {k: getattr(row, f"{prefix}_{k}") for k in ORGANISATION_FIELDS}

    def when(value: datetime | None) -> str | None:
        return timestamp(value) if value is not None else None

    return {
        "id": row.id,
        "number": row.number,
        "kind": row.kind,
        "state": row.state,
        "organisation": organisation("organisation"),
        "court": organisation("court"),
        "referral_kind": row.referral_kind,
        "referred_at": when(row.referred_at),
        "accepted_at": when(row.accepted_at),
        "agreement_at": when(row.agreement_at),
        "confirmed_at": when(row.confirmed_at),
        "ended_at": when(row.ended_at),
        "period_deadline": when(row.period_deadline),
        "overdue": bool(row.overdue),
    }


# ------------------------------------------------------------------ the sender


@dataclass(frozen=True)
class Backlog:
    """What waits for the feed's receivers."""

    events: int
    """Deliveries not acknowledged yet (one per event and URL)."""
    oldest_s: float
    """Seconds since the oldest of them was written (0 without any)."""


class FeedDispatcher(WebhookDispatcher):
    """The aggregation feed's sender: a :class:`WebhookDispatcher` over the outbox's ``feed`` events
    that never gives an event up and reports its backlog (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        urls: Sequence[str],
        secret: bytes,
        clock: Callable[[], datetime],
        timeout: float = 10.0,
        *,
        report_every: float = REPORT_EVERY,
        **tuning: Any,
    ) -> None:
        """As :class:`WebhookDispatcher` (``tuning``: its retry settings, ``max_delay`` at most 10 minutes
        by default); ``report_every``: seconds between two looks at the backlog."""
        tuning.setdefault("max_delay", MAX_DELAY)
        super().__init__(engine, urls, secret, clock, timeout, max_attempts=None, kind=FEED, name="feed", **tuning)
        self.report_every = timedelta(seconds=report_every)
        self.backlog = Backlog(0, 0.0)
        """As of the last look."""
        self._next_report: datetime | None = None

    async def run_round(self) -> int:
        """One round (:meth:`WebhookDispatcher.run_round`), then the backlog when it is time to look."""
        done = await super().run_round()
        now = self.clock()
        if self._next_report is None or now >= self._next_report:
            self._next_report = now + self.report_every
            await self.report_backlog(now)
        return done

    async def report_backlog(self, now: datetime) -> Backlog:
        """Count what waits and log it (a warning while anything waits; one line when it is cleared)."""
        e, d = t.outbox_events, t.webhook_deliveries
        query = (
            select(func.count(), func.min(e.c.at))
            .select_from(d.join(e, e.c.id == d.c.event_id))
            .where(d.c.status == PENDING, d.c.endpoint.in_(self.outbox.endpoints))
        )
        async with self.outbox.engine.connect() as conn:
            count, oldest = (await conn.execute(query)).one()
        before, self.backlog = self.backlog, Backlog(int(count), (now - oldest).total_seconds() if oldest else 0.0)
        if self.backlog.events:
            logger.warning(
                "feed: %d events not acknowledged yet, the oldest written %.0f s ago",
                self.backlog.events,
                self.backlog.oldest_s,
            )
        elif before.events:
            logger.info("feed: every event acknowledged")
        return self.backlog


FEED_SENDER: web.AppKey[FeedDispatcher] = web.AppKey("feed", FeedDispatcher)
"""The node's feed sender (present only when ``feed_urls`` is set)."""


async def poke_feed_after_write(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a successful write wakes the feed's sender at once (the change is committed)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or response.status >= 400:
        return
    sender = request.app.get(FEED_SENDER)
    if sender is not None:
        sender.poke()
