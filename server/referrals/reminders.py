"""The mediator hears of the mediation period's end: by SMS (or e-mail) when it is near and when it passed.

A listener of the deadline scheduler (``server.outbound.deadlines``): told after ``RemindPeriod`` or
``FlagOverdue`` committed, it sends the case's holder one message at the contact of their account. At most
once (a node that dies between the commit and the send loses the message, never the flag, which the desks
show anyway). No personal data in logs: the case id and the channel only.
"""

from __future__ import annotations

import logging
from datetime import datetime

from server.domain import lifecycle as lc
from server.domain.time import beijing_time
from server.errors import NotFound
from server.notify import Message, Notifier
from server.store.accounts import AccountStore

logger = logging.getLogger(__name__)

KINDS = {"period_reminder", "period_overdue"}
"""The deadlines this listener speaks of (``server.outbound.deadlines``)."""


def reminder_text(kind: str, case: lc.Case) -> tuple[str, str]:
    """The subject and text of the message for ``kind`` about ``case`` (Chinese; no party's name)."""
    assert case.period is not None
    deadline = beijing_time(case.period.deadline, seconds=False)
    if kind == "period_reminder":
        return (
            "调解期限即将届满",
            f"案件 {case.number} 的调解期限将于 {deadline} 届满。请及时组织调解；如需延长，请在工作台申请并征得各方当事人同意。",
        )
    return (
        "调解期限已届满",
        f"案件 {case.number} 的调解期限已于 {deadline} 届满，尚未签署调解协议，已标记为超期。请尽快处理或征得各方同意后延长。",
    )


class PeriodReminders:
    """Tells the case's mediator that its mediation period ends soon, or has passed."""

    def __init__(self, accounts: AccountStore, notifier: Notifier) -> None:
        self.accounts = accounts
        self.notifier = notifier

    async def __call__(self, kind: str, case: lc.Case, now: datetime) -> None:
        if kind not in KINDS or case.assignment is None or case.period is None:
            return
        try:
            account = await self.accounts.account(case.assignment.mediator_account_id)
        except NotFound:
            return
        channel, to = ("sms", account.phone) if account.phone else ("email", account.email)
        if not to:
            logger.info("[case=%s] %s: the mediator has no contact to remind", case.id, kind)
            return
        subject, text = reminder_text(kind, case)
        reference = f"{kind}-{case.id}-{case.period.deadline:%Y%m%d%H%M}"
        delivery = await self.notifier.send(Message(channel, to, subject, text, now, reference=reference, kind=kind))
        logger.info("[case=%s] %s sent to the mediator by %s: accepted=%s", case.id, kind, channel, delivery.accepted)
