"""The delivery worker: sends due deliveries and flags recipients not served by the deadline.

One asyncio task per server node. Claims are conditional UPDATEs with a lease (see
:meth:`server.store.serving.ServiceStore.claim_due`), so several nodes on one PostgreSQL
database share the work without sending a delivery twice at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from server.e_service.usecases import ServingService

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


class DeliveryWorker:
    """Runs :meth:`tick` every ``interval`` seconds, or at once when poked."""

    def __init__(self, serving: ServingService, clock: Callable[[], datetime], interval: float = 1.0) -> None:
        self.serving = serving
        self.clock = clock
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Look for work now (after a new service)."""
        self._wake.set()

    async def tick(self) -> int:
        """One round: every due delivery once, then the deadlines. Returns how many deliveries ran."""
        now = self.clock()
        claimed = await self.serving.store.claim_due(now, now + LEASE)
        for delivery in claimed:
            try:
                await self.serving.deliver(delivery, self.clock())
            except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others; its lease expires
                # only the type, as server.outbound.webhooks does: a gateway's message or a traceback's values may
                # carry the address, the text or a statement's parameters
                logger.error(
                    "delivery %s failed unexpectedly (%s); it will be tried again", delivery.id, type(exc).__name__
                )
        try:
            await self.serving.flag_overdue(self.clock())
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            logger.error("flagging overdue recipients failed (%s)", type(exc).__name__)
        return len(claimed)

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the round: a poke while it runs (a new service) starts the next one
            try:
                await self.tick()
            except Exception as exc:  # noqa: BLE001 - e.g. the database is briefly away: keep going
                logger.error("delivery round failed (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
