"""The leased job runner: one loop for every kind of work that leaves the server on its own schedule.

A :class:`Job` knows one round of its work (:meth:`Job.run_round`): claim its due rows in the
store with a lease, do them, record the outcome. A :class:`LeasedRunner` runs a job's rounds in
one asyncio task per node::

    start ──▶ round ──▶ wait job.pause(done) seconds, or until poked ──▶ round ──▶ …
                 └── raised: log the exception's type; the cool-down (pokes unheeded), or the usual wait

- **One round at a time.** A runner has one task and a round is awaited before the next starts;
  two nodes, or a round run by hand beside the task, are kept apart by the job's leases, never by
  the runner.
- **No lost wake-up.** The wake-up is cleared *before* a round, so a poke that arrives while the
  round runs (a new service, a committed write) leaves it set and the next round starts at once,
  not after the pause (issue 12 item 8).
- **Nothing personal in the log.** A round that raises is logged by the exception's type alone and
  without a traceback: a driver's message may carry a statement's parameters, a gateway's the
  address it was given, a traceback's frames the values. The next round tries again.
- **Stopping is safe.** :meth:`LeasedRunner.close` cancels the round wherever it is; what it had
  claimed keeps its lease until the lease runs out and is then taken over (here or on another node).

The jobs: :class:`server.outbound.delivery.DeliveryWorker` (electronic service),
:class:`server.outbound.webhooks.WebhookDispatcher` and
:class:`server.outbound.deadlines.DeadlineScheduler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

logger = logging.getLogger(__name__)


class Job(Protocol):
    """One kind of leased work, run round after round by a :class:`LeasedRunner`."""

    async def run_round(self) -> int:
        """Claim what is due (with a lease), do it, record it; returns how much it did."""
        ...

    def pause(self, done: int) -> float:
        """Seconds to wait (unless poked) after a round that did ``done``; 0: the next round at once."""
        ...


class LeasedRunner:
    """Runs a :class:`Job`'s rounds in the background on this node (see the module docstring)."""

    def __init__(self, job: Job, name: str, *, cool_down: float | None = None) -> None:
        """``name``: the task's name and the log's prefix, e.g. ``webhooks``; ``cool_down``: seconds to
        wait after a failed round whatever the pokes say (so a database that is away for a while gives
        no warning per write), then a round at once; None: the job's usual pause."""
        self.job = job
        self.name = name
        self.cool_down = cool_down
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background task is started (and not closed)."""
        return self._task is not None

    def poke(self) -> None:
        """Run a round now rather than after the pause (or right after the round that is running)."""
        self._wake.set()

    def start(self) -> None:
        """Start the rounds in the background, the first at once; a second call does nothing."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        """Stop, cancelling a round mid-way (its claims keep their leases until they run out)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the round: a poke while it runs starts the next one
            try:
                pause = self.job.pause(await self.job.run_round())
            except Exception as exc:  # noqa: BLE001 - e.g. the database is briefly away: keep going
                # only the type, never the message or a traceback: they may carry personal data
                logger.warning("%s: round failed (%s)", self.name, type(exc).__name__)
                if self.cool_down is not None:
                    await asyncio.sleep(self.cool_down)  # pokes are not heeded meanwhile (nor lost)
                    continue
                pause = self.job.pause(0)
            if pause <= 0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
