"""The deadlines of the life cycle, and the scheduler that issues what a passed deadline calls for.

A :class:`Deadline` says, from the case value alone, when a case falls due (``due``), in which
states that can happen (``states``) and which command its passing issues (``command``). The life
cycle's own are in :data:`LIFE_CYCLE`; a later stage adds one with :meth:`DeadlineScheduler.register`.

One :class:`DeadlineScheduler` runs on every node (its loop is a
:class:`~server.outbound.runner.LeasedRunner`)::

    every round (and at once at start-up):
      cases in a watched state ──▶ due(case) <= now ?            (the case itself holds its deadlines)
        ──▶ claim (case, kind, due_at) in ``deadlines``           (INSERT, or take over a lapsed lease)
        ──▶ one transaction: the command (actor ``system``), its audit entries, the claim settled

- **Crash-safe.** Nothing lives only in memory: a deadline is part of the case, so a node that
  starts (or restarts after a crash) finds every deadline that passed while it was down and issues
  it in its first round. A node that dies holding a claim holds it only until its lease runs out.
- **Once per cluster.** Nodes on one PostgreSQL claim a deadline with a conditional write (an insert
  that does nothing on conflict; an UPDATE … WHERE the lease ran out and nothing was settled), like
  :meth:`server.e_service.store.ServiceStore.claim_due`. The command, its audit entries and the claim's
  settlement (``UPDATE … WHERE claimed_by = this node AND done_at IS NULL``) commit together, under
  the case's optimistic lock, so a node whose lease ran out mid-way cannot issue it a second time.

Which deadlines exist today (``server/domain/lifecycle.py``):

- **the mediation period** (:data:`PERIOD_REMINDER`, :data:`PERIOD_OVERDUE`): ``Period.deadline`` (30 days from
  acceptance by default) comes near → :class:`RemindPeriod` (``period.reminder``), then passes →
  :class:`FlagOverdue` (``period.overdue``; the ``cases.overdue`` column), in every state where the period
  runs (:data:`~server.domain.lifecycle.PERIOD_STATES`).
- **signing** (:data:`SIGNING`): ``Signing.deadline`` passed in ``signing`` → :class:`ExpireSigning`
  (``signing_expired``; the mediator can redraft or schedule another session).
- **service**: ``Service.deadline`` (and each service's ``deadline`` row) is watched by the delivery
  worker (``server.outbound.delivery``: ``flag_overdue`` flags the recipient and issues
  ``RecordServiceFailure`` for the agreement's), so it is not registered here.
- **the 30-day confirmation window** (:data:`CONFIRMATION_WINDOW`): a ``served`` case whose
  agreement took effect more than 30 days ago is closed (:class:`CloseCase` with the reason). Until
  the scheduler's round, ``ApplyForConfirmation`` (and preparing an application) is refused with
  ``confirmation_deadline_passed`` naming the day the window ended.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain import lifecycle as lc
from server.errors import ConcurrentUpdate, MediationError
from server.outbound.runner import LeasedRunner
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository, LoadedCase, records_from_events

logger = logging.getLogger(__name__)

ACTOR = "system"
"""Who issues a deadline's command in the audit trail."""

LEASE = timedelta(minutes=2)
"""How long a claim keeps other nodes off a deadline while its command is being issued."""


Listener = Callable[[str, lc.Case, datetime], Awaitable[None]]
"""``listener(kind, case_after, now)``: told after a deadline's command committed."""


@dataclass(frozen=True)
class Deadline:
    """A deadline of the life cycle and the command its passing issues."""

    kind: str
    """Its name in the ``deadlines`` table (at most 32 characters), e.g. ``signing``."""
    states: frozenset[lc.CaseState]
    """The states in which a case can have this deadline (only cases in them are looked at)."""
    due: Callable[[lc.Case], datetime | None]
    """When the case falls due (a pure function of the case), or None when it has no such deadline."""
    command: Callable[[lc.Case], lc.Command]
    """The command to issue once it has passed."""


def _signing_due(case: lc.Case) -> datetime | None:
    return case.signing.deadline if case.signing is not None else None


SIGNING = Deadline("signing", frozenset({lc.CaseState.SIGNING}), _signing_due, lambda _case: lc.ExpireSigning())
"""Signatures still missing at the signing deadline: the round expires."""


def _confirmation_due(case: lc.Case) -> datetime | None:
    if case.agreement_effective_at is None:
        return None
    # an application is allowed up to and including the window's last instant
    return case.agreement_effective_at + lc.CONFIRMATION_WINDOW + timedelta(seconds=1)


CONFIRMATION_WINDOW = Deadline(
    "confirmation_window",
    frozenset({lc.CaseState.SERVED}),
    _confirmation_due,
    lambda _case: lc.CloseCase(
        reason="司法确认申请期限（调解协议生效后30日）届满 The 30 days for applying for judicial confirmation ended"
    ),
)
"""A served agreement for which no confirmation was applied for within 30 days: the case closes
(the agreement stays a binding contract; only the court's confirmation can no longer be sought)."""


def _reminder_due(case: lc.Case) -> datetime | None:
    period = case.period
    if period is None or period.reminded_for == period.deadline:
        return None
    return period.deadline - lc.PERIOD_REMINDER


PERIOD_REMINDER = Deadline("period_reminder", lc.PERIOD_STATES, _reminder_due, lambda _case: lc.RemindPeriod())
"""The mediation period ends within :data:`~server.domain.lifecycle.PERIOD_REMINDER`: the mediator is reminded
(once per deadline: an extension brings a new reminder)."""


def _overdue_due(case: lc.Case) -> datetime | None:
    period = case.period
    return period.deadline if period is not None and period.overdue_at is None else None


PERIOD_OVERDUE = Deadline("period_overdue", lc.PERIOD_STATES, _overdue_due, lambda _case: lc.FlagOverdue())
"""The mediation period passed without a signed agreement: the case is flagged overdue (an extension with
every party's consent clears the flag)."""


LIFE_CYCLE: tuple[Deadline, ...] = (SIGNING, CONFIRMATION_WINDOW, PERIOD_REMINDER, PERIOD_OVERDUE)
"""The life cycle's deadlines that this scheduler issues."""


@dataclass(frozen=True)
class Issued:
    """What a round did about one passed deadline."""

    case_id: str
    """The case."""
    kind: str
    """The deadline's kind."""
    due_at: datetime
    """When it fell due."""
    outcome: str
    """``issued``, ``moot`` (the case moved on first) or ``refused`` (the life cycle refused the command)."""


class _Moot(Exception):
    """The case no longer has this deadline passed (someone acted first)."""


class _LostClaim(Exception):
    """Another node took the claim over (ours lapsed): it issues the command, not us."""


def node_name() -> str:
    """This process's name in claims: host, process and a random part (never personal data)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class DeadlineScheduler:
    """Issues the command of every passed deadline once, on whichever node comes first.

    A job of the :class:`~server.outbound.runner.LeasedRunner`: runs :meth:`tick` at start, then every
    ``interval`` seconds (sooner when a known deadline falls due earlier, in real time), or at once
    when poked.
    """

    def __init__(
        self,
        repo: CaseRepository,
        clock: Callable[[], datetime],
        deadlines: Iterable[Deadline] = LIFE_CYCLE,
        interval: float = 30.0,
        node: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.interval = interval
        self.node = node or node_name()
        self.lease = lease
        self._deadlines: dict[str, Deadline] = {}
        for deadline in deadlines:
            self.register(deadline)
        self._known: dict[str, tuple[int, list[tuple[Deadline, datetime]]]] = {}
        """Case id -> (version, its deadlines): a case is read again only when its version moved."""
        self.listeners: list[Listener] = []
        """Told of each command issued, after it committed (e.g. to remind the mediator by SMS or e-mail)."""
        self.runner = LeasedRunner(self, "deadlines")

    def register(self, deadline: Deadline) -> None:
        """Add a deadline kind (a later stage's, e.g. the mediation period)."""
        if not deadline.kind or len(deadline.kind) > 32 or not deadline.states:
            raise ValueError("A deadline needs a kind of 1 to 32 characters and at least one state")
        if deadline.kind in self._deadlines:
            raise ValueError(f"A deadline of kind {deadline.kind!r} is registered already")
        self._deadlines[deadline.kind] = deadline

    @property
    def deadlines(self) -> tuple[Deadline, ...]:
        """The registered deadlines."""
        return tuple(self._deadlines.values())

    # ------------------------------------------------------------------ one round

    async def tick(self) -> list[Issued]:
        """One round: every passed deadline this node could claim, settled. Returns what it settled."""
        now = self.clock()
        settled = []
        for case_id, deadline, due_at in await self._passed(now):
            if not await self._claim(case_id, deadline.kind, due_at, now):
                continue
            outcome = await self._issue(case_id, deadline, due_at)
            if outcome is not None:
                settled.append(Issued(case_id, deadline.kind, due_at, outcome))
        return settled

    async def _passed(self, now: datetime) -> list[tuple[str, Deadline, datetime]]:
        """Every (case, deadline, due time) that has passed, from the cases in a watched state."""
        states = sorted({s.value for d in self._deadlines.values() for s in d.states})
        c = t.cases
        async with self.repo.engine.connect() as conn:
            rows = (await conn.execute(select(c.c.id, c.c.version).where(c.c.state.in_(states)))).all()
        known: dict[str, tuple[int, list[tuple[Deadline, datetime]]]] = {}
        for case_id, version in rows:
            cached = self._known.get(case_id)
            if cached is None or cached[0] != version:
                loaded = await self.repo.load_case(case_id)
                cached = (loaded.version, self._due_of(loaded.case))
            known[case_id] = cached
        self._known = known  # cases that left the watched states are forgotten
        return [(cid, d, due) for cid, (_v, dues) in known.items() for d, due in dues if due <= now]

    def _due_of(self, case: lc.Case) -> list[tuple[Deadline, datetime]]:
        out = []
        for deadline in self._deadlines.values():
            if case.state in deadline.states:
                due = deadline.due(case)
                if due is not None:
                    out.append((deadline, due))
        return out

    def next_due(self) -> datetime | None:
        """The nearest deadline known from the last round (passed ones included), if any."""
        dues = [due for _v, entries in self._known.values() for _d, due in entries]
        return min(dues) if dues else None

    async def _claim(self, case_id: str, kind: str, due_at: datetime, now: datetime) -> bool:
        """Claim a passed deadline for this node: a first claim, or one whose lease ran out unsettled."""
        d = t.deadlines
        values = {"case_id": case_id, "kind": kind, "due_at": due_at, "claimed_by": self.node}
        lease_until = now + self.lease
        dialect = self.repo.engine.dialect.name
        first = (postgresql.insert(d) if dialect == "postgresql" else sqlite.insert(d)).values(
            **values, lease_until=lease_until
        )
        async with self.repo.engine.begin() as conn:
            result = await conn.execute(first.on_conflict_do_nothing())
            if result.rowcount == 1:
                return True
            result = await conn.execute(
                update(d)
                .where(
                    and_(
                        d.c.case_id == case_id,
                        d.c.kind == kind,
                        d.c.due_at == due_at,
                        d.c.done_at.is_(None),
                        d.c.lease_until <= now,
                    )
                )
                .values(claimed_by=self.node, lease_until=lease_until)
            )
            return bool(result.rowcount == 1)

    async def _settle(self, conn: AsyncConnection, case_id: str, kind: str, due_at: datetime, outcome: str) -> None:
        """Mark our claim settled; raise :class:`_LostClaim` if it is no longer ours."""
        d = t.deadlines
        result = await conn.execute(
            update(d)
            .where(
                and_(
                    d.c.case_id == case_id,
                    d.c.kind == kind,
                    d.c.due_at == due_at,
                    d.c.claimed_by == self.node,
                    d.c.done_at.is_(None),
                )
            )
            .values(done_at=self.clock(), outcome=outcome)
        )
        if result.rowcount != 1:
            raise _LostClaim

    async def _issue(self, case_id: str, deadline: Deadline, due_at: datetime) -> str | None:
        """Issue the deadline's command with its audit entries and settle the claim, in one transaction."""
        now = self.clock()

        issued: list[str] = []

        def decide(loaded: LoadedCase) -> tuple[lc.Case | None, list[AuditRecord]]:
            case = loaded.case
            if case.state not in deadline.states or deadline.due(case) != due_at or due_at > now:
                raise _Moot
            command = deadline.command(case)
            transition = lc.apply(case, command, now)
            issued[:] = [command.name]
            return transition.case, records_from_events(ACTOR, transition.events)

        async def work(conn: AsyncConnection) -> None:
            await self._settle(conn, case_id, deadline.kind, due_at, "issued")

        try:
            saved = await self.repo.write_audited(case_id, decide, work, now)
        except _LostClaim:
            return None
        except ConcurrentUpdate:
            logger.warning("[case=%s] deadline %s: the case kept changing; tried again later", case_id, deadline.kind)
            return None  # the claim's lease runs out and a later round tries again
        except _Moot:
            return await self._settle_apart(case_id, deadline, due_at, "moot")
        except MediationError as exc:  # the life cycle refused it: settle it, not retried every round
            logger.warning("[case=%s] deadline %s refused (%s)", case_id, deadline.kind, type(exc).__name__)
            return await self._settle_apart(case_id, deadline, due_at, "refused")
        logger.info("[case=%s] the %s deadline passed: %s", case_id, deadline.kind, issued[0])
        for listener in self.listeners:  # after the commit: at most once (a crash here loses a reminder, not a state)
            try:
                await listener(deadline.kind, saved.case, now)
            except Exception:  # noqa: BLE001 - a listener's failure never undoes or repeats the command
                logger.exception("[case=%s] a listener of the %s deadline failed", case_id, deadline.kind)
        return "issued"

    async def _settle_apart(self, case_id: str, deadline: Deadline, due_at: datetime, outcome: str) -> str | None:
        try:
            async with self.repo.engine.begin() as conn:
                await self._settle(conn, case_id, deadline.kind, due_at, outcome)
        except _LostClaim:
            return None
        return outcome

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Run in the background (the first round at once: deadlines that passed while down)."""
        self.runner.start()

    def poke(self) -> None:
        """Look now (e.g. after the clock was moved in a test, or an operator's request)."""
        self.runner.poke()

    async def close(self) -> None:
        """Stop; a claim held mid-way runs out and is taken over."""
        await self.runner.close()

    async def run_round(self) -> int:
        """:meth:`tick` for the runner: how many passed deadlines it settled."""
        return len(await self.tick())

    def pause(self, done: int) -> float:
        """Seconds until the next round: the interval, or sooner if a known deadline falls due first."""
        upcoming = self.next_due()
        if upcoming is None:
            return self.interval
        ahead = (upcoming - self.clock()).total_seconds()
        return min(self.interval, max(ahead + 0.05, 0.05)) if ahead > 0 else self.interval
