"""The claims' pure rules: legal moves for every (state, action) pair, payments, the working-day deadline, authority."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.domain import claims as rules
from server.domain.claims import Authorisation, ClaimAction, ClaimState
from server.domain.compensation import Money
from server.errors import BeyondAuthorisation, IllegalTransition, InvalidCommand

ALLOWED = {
    (ClaimAction.ACCEPT, ClaimState.SUBMITTED),
    (ClaimAction.PAY, ClaimState.SUBMITTED),
    (ClaimAction.PAY, ClaimState.ACCEPTED),
    (ClaimAction.REFUSE, ClaimState.SUBMITTED),
    (ClaimAction.REFUSE, ClaimState.ACCEPTED),
    (ClaimAction.CHOOSE_SHOP, ClaimState.SUBMITTED),
    (ClaimAction.CHOOSE_SHOP, ClaimState.ACCEPTED),
}


@pytest.mark.parametrize("action", list(ClaimAction))
@pytest.mark.parametrize("state", list(ClaimState))
def test_every_action_in_every_state(action: ClaimAction, state: ClaimState) -> None:
    if (action, state) in ALLOWED:
        rules.check(action, state)
    else:
        with pytest.raises(IllegalTransition, match=f'state "{state.value}"'):
            rules.check(action, state)


def test_end_states_allow_nothing_and_every_state_has_its_chinese_name() -> None:
    assert all(state not in states for states in rules.LEGAL.values() for state in rules.END_STATES)
    assert set(rules.STATE_NAMES) == set(ClaimState)
    assert rules.STATE_NAMES[ClaimState.PAID] == "已支付"


def test_payments_settle_the_claim_only_when_it_is_paid_in_full() -> None:
    amount = Money.parse("15000")
    assert rules.after_payment(amount, Money(0), Money.parse("5000")) is ClaimState.ACCEPTED
    assert rules.after_payment(amount, Money.parse("5000"), Money.parse("10000")) is ClaimState.PAID
    with pytest.raises(InvalidCommand, match="exceed"):
        rules.after_payment(amount, Money.parse("5000"), Money.parse("10000.01"))
    with pytest.raises(InvalidCommand, match="more than 0"):
        rules.after_payment(amount, Money(0), Money(0))


def test_the_deadline_counts_working_days_after_the_beijing_day_of_submission() -> None:
    friday = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    assert rules.payment_due(friday, 10) == date(2026, 12, 18)
    assert rules.payment_due(friday, 10, [date(2026, 12, 7)]) == date(2026, 12, 21)
    assert rules.payment_due(friday, 1) == date(2026, 12, 7)  # the weekend skipped
    # 20:00 UTC on Friday is already Saturday in Beijing: the count starts from Saturday
    late = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    assert rules.payment_due(late, 1) == date(2026, 12, 7)
    # Golden Week: 1-7 October are holidays, so the deadline moves past them
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    assert rules.payment_due(datetime(2026, 9, 30, 1, tzinfo=UTC), 1, holidays) == date(2026, 10, 8)
    for days in (0, 61):
        with pytest.raises(InvalidCommand):
            rules.payment_due(friday, days)


def test_working_days_left_and_overdue() -> None:
    due = date(2026, 12, 18)  # a Friday
    assert rules.working_days_left(date(2026, 12, 4), due) == 10
    assert rules.working_days_left(due, due) == 0
    assert rules.working_days_left(date(2026, 12, 21), due) == -1  # Monday after: one working day late
    assert rules.working_days_left(date(2026, 12, 19), due) == -1  # a Saturday after: late, by less than a day
    assert not rules.is_overdue(due, datetime(2026, 12, 18, 15, 59, tzinfo=UTC))  # 23:59 in Beijing
    assert rules.is_overdue(due, datetime(2026, 12, 18, 16, 0, tzinfo=UTC))  # midnight in Beijing


def _authorisation(**changes: object) -> Authorisation:
    values: dict[str, object] = {
        "id": "a1",
        "account_id": "adjuster",
        "regions": ("330106",),
        "any_region": False,
        "limit": Money.parse("20000"),
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2026, 12, 31),
    }
    values.update(changes)
    return Authorisation(**values)  # type: ignore[arg-type]


def test_an_authorisation_covers_its_amount_region_and_term() -> None:
    a = _authorisation()
    today = date(2026, 6, 1)
    assert a.covers(Money.parse("20000"), "330106", today)
    assert not a.covers(Money.parse("20000.01"), "330106", today)
    assert not a.covers(Money.parse("100"), "330107", today)
    assert _authorisation(any_region=True).covers(Money.parse("100"), "110101", today)  # 异地出单
    assert not a.covers(Money.parse("100"), "330106", date(2027, 1, 1))
    assert not a.covers(Money.parse("100"), "330106", date(2025, 12, 31))
    assert not _authorisation(revoked=True).covers(Money.parse("100"), "330106", today)


def test_an_authorisation_is_sound_or_refused() -> None:
    with pytest.raises(InvalidCommand):
        _authorisation(valid_to=date(2025, 12, 31))
    with pytest.raises(InvalidCommand):
        _authorisation(limit=Money(0))
    with pytest.raises(InvalidCommand):
        _authorisation(regions=())


def test_the_acting_authorisation_is_the_adjusters_smallest_that_covers_the_claim() -> None:
    small, large = _authorisation(id="small", limit=Money.parse("5000")), _authorisation(id="large")
    others = _authorisation(id="other", account_id="someone else", limit=Money.parse("1000000"))
    today = date(2026, 6, 1)
    found = rules.acting_authorisation([large, small, others], "adjuster", Money.parse("4000"), "330106", today)
    assert found.id == "small"
    found = rules.acting_authorisation([large, small, others], "adjuster", Money.parse("15000"), "330106", today)
    assert found.id == "large"
    with pytest.raises(BeyondAuthorisation) as refused:
        rules.acting_authorisation([large, small, others], "adjuster", Money.parse("50000"), "330106", today)
    assert refused.value.code == "beyond_authorisation" and refused.value.status == 403
