"""The relief fund's rules (server.domain.relief): the legal moves as a table, amounts, the derived recovery."""

from __future__ import annotations

import itertools

import pytest

from server.domain.compensation import Money
from server.domain.relief import (
    END_STATES,
    MOVES,
    Move,
    Recovery,
    RecoveryStatus,
    ReliefState,
    amount,
    approved_amount,
    check_recovery,
    check_write_off,
    move,
)
from server.errors import IllegalTransition, InvalidCommand

LEGAL = {
    (ReliefState.SUBMITTED, Move.ASK_MORE): ReliefState.MORE_REQUESTED,
    (ReliefState.MORE_REQUESTED, Move.RESUBMIT): ReliefState.SUBMITTED,
    (ReliefState.SUBMITTED, Move.APPROVE): ReliefState.APPROVED,
    (ReliefState.SUBMITTED, Move.REFUSE): ReliefState.REFUSED,
    (ReliefState.APPROVED, Move.REFUSE): ReliefState.REFUSED,
    (ReliefState.APPROVED, Move.PAY): ReliefState.PAID,
}


@pytest.mark.parametrize(("state", "what"), list(itertools.product(ReliefState, Move)))
def test_every_state_and_move(state: ReliefState, what: Move) -> None:
    if (state, what) in LEGAL:
        assert move(state, what) is LEGAL[state, what]
    else:
        with pytest.raises(IllegalTransition, match=f'in state "{state.value}"'):
            move(state, what)


def test_end_states_have_no_way_out() -> None:
    assert END_STATES == {ReliefState.PAID, ReliefState.REFUSED}
    assert all(not (legal & END_STATES) for legal, _ in MOVES.values())


@pytest.mark.parametrize("text", ["0", "0.00", "1e5", "-1", "12.345", "1000000000.01", "NaN", "", "1" * 17])
def test_amounts_out_of_bounds_are_refused(text: str) -> None:
    with pytest.raises(InvalidCommand):
        amount(text, "amount")


def test_an_approval_is_no_more_than_asked() -> None:
    asked = Money.parse("20000")
    assert approved_amount("20000.00", asked) == asked
    assert approved_amount("0.01", asked) == Money(1)
    with pytest.raises(InvalidCommand, match="no more than"):
        approved_amount("20000.01", asked)


def test_recovery_in_two_parts_then_recovered() -> None:
    advanced = Money.parse("10000")
    r0 = Recovery(advanced, Money(0), False)
    assert (r0.status, r0.outstanding) == (RecoveryStatus.OPEN, advanced)
    check_recovery(r0, Money.parse("4000"))
    r1 = Recovery(advanced, Money.parse("4000"), False)
    assert (r1.status, r1.outstanding) == (RecoveryStatus.PARTLY_RECOVERED, Money.parse("6000"))
    with pytest.raises(InvalidCommand, match="outstanding"):
        check_recovery(r1, Money.parse("6000.01"))
    r2 = Recovery(advanced, advanced, False)
    assert (r2.status, r2.outstanding) == (RecoveryStatus.RECOVERED, Money(0))
    with pytest.raises(IllegalTransition):
        check_recovery(r2, Money(1))
    with pytest.raises(IllegalTransition):
        check_write_off(r2)


def test_written_off_leaves_nothing_outstanding_and_takes_nothing_more() -> None:
    r = Recovery(Money.parse("500"), Money.parse("100"), True)
    assert (r.status, r.outstanding) == (RecoveryStatus.WRITTEN_OFF, Money(0))
    with pytest.raises(IllegalTransition):
        check_recovery(r, Money(1))
    with pytest.raises(IllegalTransition):
        check_write_off(r)
    check_write_off(Recovery(Money.parse("500"), Money.parse("100"), False))
