"""One-click claims (一键理赔): the claim's states, the payment deadline in working days, the insurer's authorisation.

Pure rules: no I/O, no clock (``today`` and ``now`` are passed in). The use-cases (``server.claims``) apply
them to who is asking and keep the records.

A claim's life::

    submitted ──accept──▶ accepted ──pay (the rest)──▶ paid
        │  └──pay (the whole)──────────────────────────▶ paid
        └──refuse──▶ refused ◀──refuse── accepted

    choose_shop (定修直赔): the claimant names one of the insurer's repair shops, while submitted or accepted,
    for a claim with vehicle damage; a payment may then name that shop as its payee.

- **Where a claim comes from** (:class:`ClaimSource`): a signed mediation agreement (the obligations the
  insurer owes the party) or a scene report's liability finding signed by both drivers with an agreed amount
  (快处快赔: the driver who does not pay claims it from the paying driver's insurer; no case).
- **The deadline** (:func:`payment_due`): ``days`` working days after the Beijing date of submission,
  weekends and the configured holidays skipped; a claim not paid by the end of that day is overdue
  (:func:`is_overdue`). Worked example: submitted on Friday 2026-12-04, 10 working days, no holidays →
  due on Friday 2026-12-18; with 2026-12-07 a holiday → Monday 2026-12-21.
- **Authority** (:class:`Authorisation`, 授权委托书): an adjuster acts on a claim only under an authorisation of
  their insurer that is in force on the day, covers the claim's region (or any region: policies issued in
  another region, 异地出单) and whose limit is at least the claim's amount.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

from server.domain.compensation import Money
from server.domain.time import BEIJING
from server.errors import BeyondAuthorisation, IllegalTransition, InvalidCommand

DEFAULT_WORKING_DAYS = 10
"""Working days an insurer has to pay a claim, unless configured otherwise."""

MAX_WORKING_DAYS = 60
"""The longest configurable payment deadline."""


class ClaimSource(enum.StrEnum):
    """What a claim's amounts come from."""

    AGREEMENT = "agreement"
    """The signed mediation agreement: the obligations the insurer owes the claimant."""
    SCENE_FINDING = "scene_finding"
    """A signed liability finding of a scene report with an agreed amount (快处快赔)."""


class ClaimState(enum.StrEnum):
    """Where a claim stands."""

    SUBMITTED = "submitted"
    """Started by the claimant; the deadline runs."""
    ACCEPTED = "accepted"
    """The insurer accepted it (some may already be paid)."""
    PAID = "paid"
    """Paid in full."""
    REFUSED = "refused"
    """The insurer refused it, with reasons."""


END_STATES = frozenset({ClaimState.PAID, ClaimState.REFUSED})
"""States a claim never leaves."""

OPEN_STATES = frozenset({ClaimState.SUBMITTED, ClaimState.ACCEPTED})
"""States in which the deadline runs and the insurer acts."""


class ClaimAction(enum.StrEnum):
    """What can be done to a claim."""

    ACCEPT = "accept"
    PAY = "pay"
    REFUSE = "refuse"
    CHOOSE_SHOP = "choose_shop"


LEGAL: Mapping[ClaimAction, frozenset[ClaimState]] = MappingProxyType(
    {
        ClaimAction.ACCEPT: frozenset({ClaimState.SUBMITTED}),
        ClaimAction.PAY: OPEN_STATES,
        ClaimAction.REFUSE: OPEN_STATES,
        ClaimAction.CHOOSE_SHOP: OPEN_STATES,
    }
)
"""In which states each action is legal."""

assert set(LEGAL) == set(ClaimAction), "every claim action needs its states"

STATE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        ClaimState.SUBMITTED: "已提交",
        ClaimState.ACCEPTED: "已受理",
        ClaimState.PAID: "已支付",
        ClaimState.REFUSED: "已拒赔",
    }
)
"""Each state in Chinese, as the pages show it."""


def check(action: ClaimAction, state: ClaimState) -> None:
    """IllegalTransition unless ``action`` is legal in ``state``."""
    if state not in LEGAL[action]:
        raise IllegalTransition(f"{action.value} a claim", state.value)


def after_payment(amount: Money, paid_before: Money, payment: Money) -> ClaimState:
    """The state after a payment of ``payment`` on a claim of ``amount`` of which ``paid_before`` was paid.

    InvalidCommand for a payment of nothing or one that would pay more than the claim."""
    if payment.fen <= 0:
        raise InvalidCommand("A payment must be more than 0")
    if paid_before.fen + payment.fen > amount.fen:
        raise InvalidCommand(
            f"A payment may not exceed what is left of the claim ({Money(amount.fen - paid_before.fen)})"
        )
    return ClaimState.PAID if paid_before.fen + payment.fen == amount.fen else ClaimState.ACCEPTED


# ------------------------------------------------------------------ the deadline


def beijing_date(when: datetime) -> date:
    """The calendar date in Beijing at ``when`` (an aware datetime)."""
    return when.astimezone(BEIJING).date()


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    """Monday to Friday and not a holiday."""
    return day.weekday() < 5 and day not in holidays


def payment_due(submitted: datetime, days: int, holidays: Iterable[date] = ()) -> date:
    """The last Beijing date on which the claim submitted at ``submitted`` is paid in time: ``days`` working
    days after the day of submission (the day itself does not count)."""
    if not 1 <= days <= MAX_WORKING_DAYS:
        raise InvalidCommand(f"The payment deadline is between 1 and {MAX_WORKING_DAYS} working days")
    off = frozenset(holidays)
    day, left = beijing_date(submitted), days
    while left:
        day += timedelta(days=1)
        if is_working_day(day, off):
            left -= 1
    return day


def working_days_left(today: date, due: date, holidays: Iterable[date] = ()) -> int:
    """Working days from ``today`` (exclusive) to ``due`` (inclusive); negative: working days past it
    (``due`` exclusive, ``today`` inclusive); 0 on the due day itself."""
    off = frozenset(holidays)
    if today <= due:
        span = (today + timedelta(days=n) for n in range(1, (due - today).days + 1))
        return sum(1 for d in span if is_working_day(d, off))
    late = (due + timedelta(days=n) for n in range(1, (today - due).days + 1))
    return -sum(1 for d in late if is_working_day(d, off)) or -1


def is_overdue(due: date, now: datetime) -> bool:
    """Whether a claim due on ``due`` (a Beijing date) is late at ``now``: the due day has ended in Beijing."""
    return beijing_date(now) > due


# ------------------------------------------------------------------ authority


@dataclass(frozen=True)
class Authorisation:
    """An insurer's authorisation of one adjuster (授权委托书)."""

    id: str
    """Opaque identifier."""
    account_id: str
    """The adjuster it authorises."""
    regions: tuple[str, ...]
    """Regions whose claims it covers (the region of the organisation that holds the case)."""
    any_region: bool
    """Whether it covers claims from any region (policies issued in another region, 异地出单)."""
    limit: Money
    """The largest claim it covers."""
    valid_from: date
    """First day in force (Beijing)."""
    valid_to: date
    """Last day in force (Beijing)."""
    revoked: bool = False
    """Withdrawn by the insurer."""

    def __post_init__(self) -> None:
        if self.valid_to < self.valid_from:
            raise InvalidCommand("An authorisation ends on or after the day it starts")
        if self.limit.fen <= 0:
            raise InvalidCommand("An authorisation's limit must be more than 0")
        if not self.any_region and not self.regions:
            raise InvalidCommand("Name the regions an authorisation covers, or let it cover any region")

    def in_force(self, today: date) -> bool:
        """Not withdrawn and ``today`` within its term."""
        return not self.revoked and self.valid_from <= today <= self.valid_to

    def covers(self, amount: Money, region: str, today: date) -> bool:
        """Whether it lets its adjuster act on a claim of ``amount`` from ``region`` on ``today``."""
        return self.in_force(today) and amount.fen <= self.limit.fen and (self.any_region or region in self.regions)


def acting_authorisation(
    authorisations: Iterable[Authorisation], account_id: str, amount: Money, region: str, today: date
) -> Authorisation:
    """The adjuster's authorisation that covers the claim (the one with the smallest sufficient limit, then the
    latest end); BeyondAuthorisation if none does."""
    fitting = [a for a in authorisations if a.account_id == account_id and a.covers(amount, region, today)]
    if not fitting:
        raise BeyondAuthorisation(
            "No authorisation (授权委托书) in force covers this claim's amount and region for this adjuster"
        )
    return min(fitting, key=lambda a: (a.limit.fen, -a.valid_to.toordinal()))
