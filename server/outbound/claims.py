"""The claims' deadline job: flags a claim not paid by its due day, once, and tells the insurer and the mediator.

A :class:`~server.outbound.runner.Job` run by a :class:`~server.outbound.runner.LeasedRunner` on every node::

    every round: open claims whose due day (Beijing) ended, not flagged yet
      ──▶ one transaction per claim: UPDATE claims SET overdue_at … WHERE overdue_at IS NULL (the claim)
          + its step + the case's audit record ``claim.overdue``        (only one node's UPDATE wins)
      ──▶ after the commit, that node alone: SMS (or e-mail) to the insurer's administrators and the case's
          mediator, at their accounts' contacts (at most once: the flag never depends on the message)

A claim from a scene finding (快处快赔) has no case and no mediator: its flag is set in its own transaction (its
step in ``claim_events``) and the insurer's administrators are told; the report's police unit sees the flag when it
reads the claim. The mediator, the referring court and the claimant see the flag on the claim (``overdue``). Logs carry ids
and channels only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from server.claims.store import ClaimRecord, ClaimStore
from server.domain.claims import beijing_date
from server.domain.roles import AccountKind
from server.errors import NotFound
from server.notify import Message, Notifier
from server.outbound.runner import LeasedRunner
from server.store.accounts import Account, AccountStore

logger = logging.getLogger(__name__)


def overdue_text(claim: ClaimRecord) -> tuple[str, str]:
    """The subject and text of the overdue message (Chinese; no party's name)."""
    what = "快处快赔事故" if claim.scene_report_id else "案件"
    return (
        "理赔超期未付",
        f"{what} {claim.case_number} 的一键理赔（{claim.insurer_name}，金额 {claim.amount} 元）应于 "
        f"{claim.due_on.isoformat()} 前支付，至今未付，已标记为超期。请尽快处理。",
    )


class ClaimDeadlines:
    """Flags overdue claims (a :class:`~server.outbound.runner.Job`)."""

    def __init__(
        self,
        store: ClaimStore,
        accounts: AccountStore,
        notifier: Notifier,
        clock: Callable[[], datetime],
        interval: float = 300.0,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.notifier = notifier
        self.clock = clock
        self.interval = interval
        self.runner = LeasedRunner(self, "claim-deadlines", cool_down=interval)

    def start(self) -> None:
        """Start the rounds in the background."""
        self.runner.start()

    async def close(self) -> None:
        """Stop the rounds."""
        await self.runner.close()

    def pause(self, done: int) -> float:
        """The next look after ``interval`` seconds (at once while a round found a full batch)."""
        return 0 if done >= 200 else self.interval

    async def run_round(self) -> int:
        """Flag every claim whose due day has ended; returns how many this node flagged."""
        now = self.clock()
        flagged = 0
        for claim in await self.store.overdue_candidates(beijing_date(now)):
            done = await self.store.flag_overdue(claim, now)
            if done is None:
                continue
            flagged += 1
            logger.info("[case=%s] claim %s flagged overdue", claim.case_id, claim.id)
            await self._tell(claim, done.mediator_account_id, now)
        return flagged

    async def _tell(self, claim: ClaimRecord, mediator_id: str | None, now: datetime) -> None:
        people: list[Account] = [
            a
            for a in await self.accounts.accounts_of(claim.insurer_id)
            if a.kind is AccountKind.ORG_ADMIN and not a.disabled
        ]
        if mediator_id is not None:
            try:
                people.append(await self.accounts.account(mediator_id))
            except NotFound:
                pass
        subject, text = overdue_text(claim)
        for account in people:
            channel, to = ("sms", account.phone) if account.phone else ("email", account.email)
            if not to:
                logger.info("[case=%s] claim %s: account %s has no contact", claim.case_id, claim.id, account.id)
                continue
            reference = f"claim_overdue-{claim.id}-{account.id}"
            try:
                delivery = await self.notifier.send(
                    Message(channel, to, subject, text, now, reference=reference, kind="claim_overdue")
                )
            except Exception as exc:  # noqa: BLE001 - a channel's failure never undoes the flag
                logger.warning(
                    "[case=%s] claim %s: message to %s failed (%s)",
                    claim.case_id,
                    claim.id,
                    account.id,
                    type(exc).__name__,
                )
                continue
            logger.info(
                "[case=%s] claim %s overdue sent to account %s by %s: accepted=%s",
                claim.case_id,
                claim.id,
                account.id,
                channel,
                delivery.accepted,
            )
