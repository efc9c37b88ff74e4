"""Relief fund advances (救助基金垫付) and recovery (追偿): the application's states and rules, pure.

Where the liable driver fled (肇事逃逸), was uninsured (未投保交强险), or the rescue costs passed the
compulsory insurance's limit (抢救费用超过交强险责任限额), a party may ask the road-accident social relief
fund to advance costs (rescue, funeral, other). The fund's officer decides; once the advance is paid, the
fund recovers it from the liable party.

```
submitted --AskMore--> more_requested --Resubmit--> submitted
submitted --Approve--> approved --Pay--> paid
submitted --Refuse--> refused
```

The legal moves are data (:data:`MOVES`); :func:`move` is the one place a state changes.
Recovery is derived, never stored: :func:`recovery_status` follows from the advanced sum, the sums
recovered and whether the rest was written off. Worked example::

    advanced 10,000.00; recovered 4,000.00 then 6,000.00
    -> open, then partly_recovered, then recovered (outstanding 0.00)
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from server.domain.compensation import Money
from server.errors import IllegalTransition, InvalidCommand

log = logging.getLogger(__name__)


class Ground(enum.StrEnum):
    """Why the fund is asked (the grounds the relief fund rules name)."""

    FLED = "fled"
    """肇事逃逸: the liable driver fled."""
    UNINSURED = "uninsured"
    """未投保交强险: the liable vehicle had no compulsory insurance."""
    OVER_LIMIT = "over_limit"
    """抢救费用超过交强险责任限额: the rescue costs passed the compulsory insurance's limit."""


class AdvanceKind(enum.StrEnum):
    """What the advance pays for."""

    RESCUE = "rescue"
    """抢救费."""
    FUNERAL = "funeral"
    """丧葬费."""
    OTHER = "other"
    """其他."""


GROUND_NAMES: Mapping[str, str] = MappingProxyType(
    {Ground.FLED: "肇事逃逸", Ground.UNINSURED: "未投保交强险", Ground.OVER_LIMIT: "抢救费用超过交强险责任限额"}
)
ADVANCE_NAMES: Mapping[str, str] = MappingProxyType(
    {AdvanceKind.RESCUE: "抢救费", AdvanceKind.FUNERAL: "丧葬费", AdvanceKind.OTHER: "其他"}
)


class ReliefState(enum.StrEnum):
    """Where an application stands."""

    SUBMITTED = "submitted"
    """With the fund, waiting for its decision."""
    MORE_REQUESTED = "more_requested"
    """Back with the applicant: the fund asked for more material."""
    APPROVED = "approved"
    """Approved for an amount; not yet paid."""
    PAID = "paid"
    """Advanced (已垫付): recovery from the liable party runs."""
    REFUSED = "refused"
    """Refused, with reasons."""


END_STATES = frozenset({ReliefState.PAID, ReliefState.REFUSED})
OPEN_STATES = frozenset({ReliefState.SUBMITTED, ReliefState.MORE_REQUESTED, ReliefState.APPROVED})
"""An open application blocks another by the same party on the same ground."""


class Move(enum.StrEnum):
    """What someone does to an application."""

    ASK_MORE = "ask_more"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    REFUSE = "refuse"
    PAY = "pay"


MOVES: Mapping[Move, tuple[frozenset[ReliefState], ReliefState]] = MappingProxyType(
    {
        Move.ASK_MORE: (frozenset({ReliefState.SUBMITTED}), ReliefState.MORE_REQUESTED),
        Move.RESUBMIT: (frozenset({ReliefState.MORE_REQUESTED}), ReliefState.SUBMITTED),
        Move.APPROVE: (frozenset({ReliefState.SUBMITTED}), ReliefState.APPROVED),
        Move.REFUSE: (frozenset({ReliefState.SUBMITTED, ReliefState.APPROVED}), ReliefState.REFUSED),
        Move.PAY: (frozenset({ReliefState.APPROVED}), ReliefState.PAID),
    }
)
"""Each move: the states it is legal in, and the state it leads to."""

assert set(MOVES) == set(Move), "every move has its row"
assert not any(s in END_STATES for legal, _ in MOVES.values() for s in legal), "nothing leaves an end state"


def move(state: ReliefState, what: Move, application_id: str = "") -> ReliefState:
    """The state after ``what``; :class:`IllegalTransition` where it is not legal."""
    legal, after = MOVES[what]
    if state not in legal:
        raise IllegalTransition(f"{what.value.replace('_', ' ')} a relief application", state.value)
    log.info("[relief=%s] %s -> %s", application_id or "-", state.value, after.value)
    return after


MAX_TEXT = 1000
"""At most this many characters of a payee, reason or note."""
MAX_EVIDENCE = 20
"""At most this many documents attached to one application."""


def amount(value: str, what: str) -> Money:
    """An amount of money as text, more than zero (the domain's bounds: 16 + 2 digits, no exponent)."""
    money = Money.parse(value, what)
    if money.fen == 0:
        raise InvalidCommand(f"{what}: the amount must be more than 0")
    return money


def approved_amount(value: str, asked: Money) -> Money:
    """The amount approved: more than zero and no more than asked."""
    money = amount(value, "approved amount")
    if money > asked:
        raise InvalidCommand("approved amount: no more than the amount asked")
    return money


class RecoveryStatus(enum.StrEnum):
    """Where the recovery of a paid advance stands (derived)."""

    OPEN = "open"
    PARTLY_RECOVERED = "partly_recovered"
    RECOVERED = "recovered"
    WRITTEN_OFF = "written_off"


RECOVERY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        RecoveryStatus.OPEN: "待追偿",
        RecoveryStatus.PARTLY_RECOVERED: "部分追回",
        RecoveryStatus.RECOVERED: "已追回",
        RecoveryStatus.WRITTEN_OFF: "已核销",
    }
)


@dataclass(frozen=True)
class Recovery:
    """The recovery of one advance, as figures."""

    advanced: Money
    """What the fund paid."""
    recovered: Money
    """The sum recovered so far."""
    written_off: bool
    """Whether the rest was written off (with a reason)."""

    @property
    def outstanding(self) -> Money:
        """What remains to recover (nothing once written off)."""
        if self.written_off:
            return Money(0)
        return Money(max(self.advanced.fen - self.recovered.fen, 0))

    @property
    def status(self) -> RecoveryStatus:
        """Open, partly recovered, recovered or written off."""
        if self.recovered >= self.advanced:
            return RecoveryStatus.RECOVERED
        if self.written_off:
            return RecoveryStatus.WRITTEN_OFF
        if self.recovered.fen > 0:
            return RecoveryStatus.PARTLY_RECOVERED
        return RecoveryStatus.OPEN


def check_recovery(recovery: Recovery, received: Money) -> None:
    """A sum recovered: more than zero, not past what is outstanding, not after the rest was written off."""
    if recovery.written_off:
        raise IllegalTransition("record a recovery", RecoveryStatus.WRITTEN_OFF.value)
    if recovery.status is RecoveryStatus.RECOVERED:
        raise IllegalTransition("record a recovery", RecoveryStatus.RECOVERED.value)
    if received > recovery.outstanding:
        raise InvalidCommand("recovered amount: no more than what is outstanding")


def check_write_off(recovery: Recovery) -> None:
    """Only an outstanding recovery may be written off."""
    status = recovery.status
    if status in (RecoveryStatus.RECOVERED, RecoveryStatus.WRITTEN_OFF):
        raise IllegalTransition("write off a recovery", status.value)
