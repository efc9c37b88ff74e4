"""The case life cycle: every (state, command) pair, the pipeline, and the rules inside each step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import lifecycle as lc
from server.domain.lifecycle import END_STATES, LEGAL_STATES, Case, CaseState, Command
from server.errors import ConfirmationDeadlinePassed, DomainError, IllegalTransition, InvalidCommand

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SIGNERS = ("a", "b", "m")


MEDIATOR = "acct-m"
COURT_REFERRAL = lc.Referral(lc.ReferralKind.PRE_LITIGATION, "org-1", T0, court_id="court-1")


class Driver:
    """Drives one case through the machine, advancing a clock.

    By default the mediator files the case themselves (held, accepted, its period running); with
    ``referred`` a court refers it to an organisation's queue."""

    def __init__(self, referred: bool = False) -> None:
        self.now = T0
        if referred:
            filed = lc.file_case(
                "case-1", "(2026)道调0001", "traffic_accident", "test", self.now, referral=COURT_REFERRAL
            )
        else:
            filed = lc.file_case(
                "case-1", "(2026)道调0001", "traffic_accident", "test", self.now, mediator_account_id=MEDIATOR
            )
        self.case = filed.case
        self.events: list[lc.Event] = list(filed.events)

    def do(self, command: Command, advance: timedelta = timedelta(minutes=1)) -> Case:
        self.now += advance
        transition = lc.apply(self.case, command, self.now)
        self.case = transition.case
        self.events.extend(transition.events)
        return self.case


def drive_to(state: CaseState) -> Driver:
    """A case in ``state``, reached through legal commands only."""
    d = Driver()
    path: dict[CaseState, list[Command]] = {
        CaseState.FILED: [],
        CaseState.SESSION_SCHEDULED: [lc.ScheduleSession("s1", T0 + timedelta(hours=1))],
    }
    path[CaseState.IN_SESSION] = [*path[CaseState.SESSION_SCHEDULED], lc.StartSession("s1")]
    path[CaseState.BETWEEN_SESSIONS] = [*path[CaseState.IN_SESSION], lc.EndSession("s1")]
    path[CaseState.AGREEMENT_DRAFTED] = [*path[CaseState.BETWEEN_SESSIONS], lc.DraftAgreement("doc-1")]
    path[CaseState.SIGNING] = [*path[CaseState.AGREEMENT_DRAFTED], lc.OpenSigning(SIGNERS, T0 + timedelta(days=3))]
    path[CaseState.SIGNED] = [*path[CaseState.SIGNING], *(lc.RecordSignature(s) for s in SIGNERS)]
    path[CaseState.SERVING] = [*path[CaseState.SIGNED], lc.StartService("doc-2", ("a", "b"), T0 + timedelta(days=10))]
    path[CaseState.SERVED] = [*path[CaseState.SERVING], lc.RecordServiceEffective("a"), lc.RecordServiceEffective("b")]
    path[CaseState.SERVICE_FAILED] = [*path[CaseState.SERVING], lc.RecordServiceFailure("a")]
    path[CaseState.CONFIRMATION_APPLIED] = [*path[CaseState.SERVED], lc.ApplyForConfirmation(("a", "b"))]
    path[CaseState.CONFIRMED] = [*path[CaseState.CONFIRMATION_APPLIED], lc.RuleOnConfirmation(True)]
    path[CaseState.REJECTED] = [*path[CaseState.CONFIRMATION_APPLIED], lc.RuleOnConfirmation(False, "terms unlawful")]
    path[CaseState.MEDIATION_FAILED] = [lc.FailMediation("no agreement")]
    path[CaseState.WITHDRAWN] = [lc.Withdraw("settled privately")]
    path[CaseState.CLOSED] = [*path[CaseState.SERVED], lc.CloseCase("no confirmation sought")]
    if state in (CaseState.REFERRED, CaseState.ASSIGNED):
        d = Driver(referred=True)
        if state is CaseState.ASSIGNED:
            d.do(lc.AssignMediator(MEDIATOR))
        return d
    if state is CaseState.SIGNING_EXPIRED:
        for cmd in path[CaseState.SIGNING]:
            d.do(cmd)
        d.do(lc.RecordSignature("a"))
        d.now = T0 + timedelta(days=3)
        d.do(lc.ExpireSigning(), advance=timedelta(0))
        return d
    for cmd in path[state]:
        d.do(cmd)
    assert d.case.state is state
    return d


def sample(command_type: type[Command], d: Driver) -> tuple[Command, datetime]:
    """A command of this type that is valid for the driver's case if its state allows the type."""
    now = d.now + timedelta(minutes=1)
    scheduled = next((s.id for s in d.case.sessions if s.status is lc.SessionStatus.SCHEDULED), "s-x")
    running = next((s.id for s in d.case.sessions if s.status is lc.SessionStatus.IN_PROGRESS), "s-x")
    samples: dict[type[Command], Command] = {
        lc.ScheduleSession: lc.ScheduleSession("s-new", now + timedelta(days=1)),
        lc.CancelSession: lc.CancelSession(scheduled),
        lc.StartSession: lc.StartSession(scheduled),
        lc.EndSession: lc.EndSession(running),
        lc.DraftAgreement: lc.DraftAgreement("doc-new"),
        lc.OpenSigning: lc.OpenSigning(SIGNERS, now + timedelta(days=2)),
        lc.RecordSignature: lc.RecordSignature("a"),
        lc.ExpireSigning: lc.ExpireSigning(),
        lc.StartService: lc.StartService("doc-2", ("a", "b"), now + timedelta(days=5)),
        lc.RecordServiceEffective: lc.RecordServiceEffective("b"),
        lc.RecordServiceFailure: lc.RecordServiceFailure("a"),
        lc.RetryService: lc.RetryService(),
        lc.ApplyForConfirmation: lc.ApplyForConfirmation(("a", "b")),
        lc.RuleOnConfirmation: lc.RuleOnConfirmation(True),
        lc.FailMediation: lc.FailMediation("no agreement"),
        lc.Withdraw: lc.Withdraw("withdrawn"),
        lc.CloseCase: lc.CloseCase("done"),
        lc.AssignMediator: lc.AssignMediator("acct-2"),
        lc.AcceptAssignment: lc.AcceptAssignment(MEDIATOR),
        lc.DeclineAssignment: lc.DeclineAssignment(MEDIATOR, "回避：与当事人相识"),
        lc.TakeCase: lc.TakeCase("acct-2"),
        lc.RequestExtension: lc.RequestExtension(10, "等待伤残鉴定意见", ("a", "b")),
        lc.ConsentToExtension: lc.ConsentToExtension("a"),
        lc.RemindPeriod: lc.RemindPeriod(),
        lc.FlagOverdue: lc.FlagOverdue(),
    }
    if command_type is lc.ExpireSigning and d.case.signing is not None:
        now = max(now, d.case.signing.deadline)
    period = d.case.period
    if period is not None:
        if command_type is lc.ConsentToExtension and period.extension is None:
            # consent needs a pending request: the driver's case asks for one first
            d.case = replace(d.case, period=replace(period, extension=lc.ExtensionRequest(10, "r", ("a", "b"), T0)))
        if command_type is lc.RemindPeriod:
            now = max(now, period.deadline - timedelta(days=1))
        if command_type is lc.FlagOverdue:
            now = max(now, period.deadline)
    return samples[command_type], now


PAIRS = [(state, cmd) for state in CaseState for cmd in LEGAL_STATES]


@pytest.mark.parametrize(("state", "command_type"), PAIRS, ids=[f"{s.value}-{c.__name__}" for s, c in PAIRS])
def test_every_state_command_pair(state: CaseState, command_type: type[Command]) -> None:
    d = drive_to(state)
    command, now = sample(command_type, d)
    if state in LEGAL_STATES[command_type]:
        transition = lc.apply(d.case, command, now)
        assert transition.events, "a legal command always records what happened"
        changes = [e for e in transition.events if isinstance(e, lc.StateChanged)]
        assert len(changes) <= 1
        if changes:
            assert changes[0].old is state
            assert changes[0].new is transition.case.state is not state
    else:
        with pytest.raises(IllegalTransition) as info:
            lc.apply(d.case, command, now)
        assert f'in state "{state.value}"' in str(info.value)
        assert info.value.state == state.value


def test_end_states_accept_no_command() -> None:
    for command_type, states in LEGAL_STATES.items():
        assert not (states & END_STATES), command_type.__name__


def test_every_state_is_reachable_and_every_non_end_state_can_leave() -> None:
    for state in CaseState:
        drive_to(state)
    for state in set(CaseState) - END_STATES:
        assert any(state in legal for legal in LEGAL_STATES.values()), state


def test_whole_pipeline_emits_the_story_in_order() -> None:
    d = drive_to(CaseState.CONFIRMED)
    changes = [(e.old.value, e.new.value) for e in d.events if isinstance(e, lc.StateChanged)]
    assert changes == [
        ("filed", "session_scheduled"),
        ("session_scheduled", "in_session"),
        ("in_session", "between_sessions"),
        ("between_sessions", "agreement_drafted"),
        ("agreement_drafted", "signing"),
        ("signing", "signed"),
        ("signed", "serving"),
        ("serving", "served"),
        ("served", "confirmation_applied"),
        ("confirmation_applied", "confirmed"),
    ]
    assert d.case.agreement_effective_at is not None
    assert d.case.confirmation is not None and d.case.confirmation.confirmed is True


def test_more_sessions_before_agreement() -> None:
    d = drive_to(CaseState.BETWEEN_SESSIONS)
    d.do(lc.ScheduleSession("s2", d.now + timedelta(days=1)))
    assert d.case.state is CaseState.SESSION_SCHEDULED
    d.do(lc.StartSession("s2"))
    d.do(lc.EndSession("s2"))
    assert d.case.state is CaseState.BETWEEN_SESSIONS
    assert [s.status for s in d.case.sessions] == [lc.SessionStatus.ENDED, lc.SessionStatus.ENDED]


def test_cancelling_the_only_session_returns_to_filed_or_between_sessions() -> None:
    d = drive_to(CaseState.SESSION_SCHEDULED)
    d.do(lc.CancelSession("s1"))
    assert d.case.state is CaseState.FILED
    d = drive_to(CaseState.BETWEEN_SESSIONS)
    d.do(lc.ScheduleSession("s2", d.now + timedelta(hours=2)))
    d.do(lc.CancelSession("s2"))
    assert d.case.state is CaseState.BETWEEN_SESSIONS


def test_two_scheduled_sessions_one_cancelled_stays_scheduled() -> None:
    d = drive_to(CaseState.SESSION_SCHEDULED)
    d.do(lc.ScheduleSession("s2", d.now + timedelta(days=2)))
    d.do(lc.CancelSession("s1"))
    assert d.case.state is CaseState.SESSION_SCHEDULED
    with pytest.raises(InvalidCommand, match="cancelled"):
        d.do(lc.StartSession("s1"))


def test_session_rules() -> None:
    d = drive_to(CaseState.FILED)
    with pytest.raises(InvalidCommand, match="past"):
        d.do(lc.ScheduleSession("s1", T0 - timedelta(hours=1)))
    with pytest.raises(InvalidCommand, match="twelve hours"):
        d.do(lc.ScheduleSession("s1", T0 + timedelta(hours=1), duration=timedelta(hours=13)))
    d.do(lc.ScheduleSession("s1", T0 + timedelta(hours=1)))
    with pytest.raises(InvalidCommand, match="already exists"):
        d.do(lc.ScheduleSession("s1", T0 + timedelta(hours=2)))
    with pytest.raises(InvalidCommand, match="No such session"):
        d.do(lc.StartSession("nope"))


def test_signing_order_and_rules() -> None:
    d = drive_to(CaseState.SIGNING)
    with pytest.raises(InvalidCommand, match="after everyone else"):
        d.do(lc.RecordSignature("m"))
    with pytest.raises(InvalidCommand, match="not a signer"):
        d.do(lc.RecordSignature("stranger"))
    d.do(lc.RecordSignature("b"))
    with pytest.raises(InvalidCommand, match="already signed"):
        d.do(lc.RecordSignature("b"))
    d.do(lc.RecordSignature("a"))
    assert d.case.state is CaseState.SIGNING
    d.do(lc.RecordSignature("m"))
    assert d.case.state is CaseState.SIGNED
    assert d.case.agreement_effective_at == d.now


def test_signing_deadline() -> None:
    d = drive_to(CaseState.SIGNING)
    with pytest.raises(InvalidCommand, match="not passed"):
        d.do(lc.ExpireSigning())
    assert d.case.signing is not None
    d.now = d.case.signing.deadline
    with pytest.raises(InvalidCommand, match="deadline has passed"):
        d.do(lc.RecordSignature("a"))
    d.do(lc.ExpireSigning())
    assert d.case.state is CaseState.SIGNING_EXPIRED
    expired = [e for e in d.events if isinstance(e, lc.SigningExpired)]
    assert expired[0].missing == SIGNERS
    d.do(lc.DraftAgreement("doc-2"))
    assert d.case.agreement is not None and d.case.agreement.version == 2
    assert d.case.signing is None


def test_service_failure_and_retry() -> None:
    d = drive_to(CaseState.SERVICE_FAILED)
    d.do(lc.RecordServiceEffective("b"))
    assert d.case.state is CaseState.SERVICE_FAILED
    d.do(lc.RetryService())
    assert d.case.state is CaseState.SERVING
    assert d.case.service is not None
    assert d.case.service.recipients["a"] is lc.ServiceStatus.PENDING
    assert d.case.service.recipients["b"] is lc.ServiceStatus.EFFECTIVE
    d.do(lc.RecordServiceEffective("a"))
    assert d.case.state is CaseState.SERVED


def test_confirmation_window_is_30_days_from_the_last_signature() -> None:
    d = drive_to(CaseState.SERVED)
    effective = d.case.agreement_effective_at
    assert effective is not None
    on_time = lc.apply(d.case, lc.ApplyForConfirmation(("a", "b")), effective + timedelta(days=30))
    assert on_time.case.state is CaseState.CONFIRMATION_APPLIED
    with pytest.raises(ConfirmationDeadlinePassed, match="within 30 days"):
        lc.apply(d.case, lc.ApplyForConfirmation(("a", "b")), effective + timedelta(days=30, seconds=1))
    with pytest.raises(InvalidCommand, match="jointly"):
        lc.apply(d.case, lc.ApplyForConfirmation(("a",)), effective + timedelta(days=1))


def test_rejection_needs_reasons() -> None:
    d = drive_to(CaseState.CONFIRMATION_APPLIED)
    with pytest.raises(InvalidCommand, match="reasons"):
        d.do(lc.RuleOnConfirmation(False))
    d.do(lc.RuleOnConfirmation(False, "agreement harms a third party"))
    assert d.case.state is CaseState.REJECTED


def test_withdrawal_cancels_scheduled_sessions() -> None:
    d = drive_to(CaseState.SESSION_SCHEDULED)
    d.do(lc.Withdraw("settled"))
    assert d.case.state is CaseState.WITHDRAWN
    assert d.case.sessions[0].status is lc.SessionStatus.CANCELLED
    assert d.case.outcome_reason == "settled"


def test_apply_is_pure() -> None:
    d = drive_to(CaseState.SESSION_SCHEDULED)
    before = d.case
    lc.apply(before, lc.StartSession("s1"), d.now)
    assert before.state is CaseState.SESSION_SCHEDULED
    assert before.sessions[0].status is lc.SessionStatus.SCHEDULED


COMMANDS = st.sampled_from(sorted(LEGAL_STATES, key=lambda c: c.__name__))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(COMMANDS, st.integers(min_value=0, max_value=40 * 24)), max_size=25))
def test_random_command_sequences_keep_invariants(steps: list[tuple[type[Command], int]]) -> None:
    d = Driver()
    for command_type, hours in steps:
        command, now = sample(command_type, d)
        now += timedelta(hours=hours)
        before = d.case
        try:
            transition = lc.apply(before, command, now)
        except DomainError:
            continue
        assert before.state not in END_STATES
        d.case, d.now = transition.case, now
        running = [s for s in d.case.sessions if s.status is lc.SessionStatus.IN_PROGRESS]
        assert len(running) <= 1
        assert (d.case.state is CaseState.IN_SESSION) == bool(running)
        if d.case.state in (CaseState.SIGNED, CaseState.SERVING, CaseState.SERVED):
            assert d.case.agreement_effective_at is not None


# --------------------------------------------------------------------------- referral, assignment, the period


def test_a_court_referral_waits_for_a_mediator_then_the_period_runs_from_acceptance() -> None:
    d = Driver(referred=True)
    assert d.case.state is CaseState.REFERRED and d.case.period is None
    assert d.case.referral == replace(COURT_REFERRAL, at=T0)
    assert [e.action for e in d.events] == ["case.filed", "case.referred"]
    d.do(lc.AssignMediator(MEDIATOR))
    assert d.case.state is CaseState.ASSIGNED
    with pytest.raises(InvalidCommand, match="another mediator"):
        lc.apply(d.case, lc.AcceptAssignment("acct-other"), d.now)
    d.do(lc.AcceptAssignment(MEDIATOR, period=timedelta(days=30)), advance=timedelta(hours=5))
    assert d.case.state is CaseState.FILED
    assert d.case.assignment is not None and d.case.assignment.accepted_at == d.now
    assert d.case.period is not None and d.case.period.deadline == d.now + timedelta(days=30)
    assert [e.action for e in d.events][-3:] == ["assignment.accepted", "period.started", "case.state_changed"]


def test_declining_needs_a_reason_and_puts_the_case_back_in_the_queue() -> None:
    d = drive_to(CaseState.ASSIGNED)
    with pytest.raises(InvalidCommand, match="reason"):
        lc.apply(d.case, lc.DeclineAssignment(MEDIATOR, "  "), d.now)
    d.do(lc.DeclineAssignment(MEDIATOR, "与一方当事人系亲属，回避"))
    assert d.case.state is CaseState.REFERRED and d.case.assignment is None
    d.do(lc.TakeCase("acct-2"))
    assert d.case.state is CaseState.FILED
    assert d.case.assignment is not None and d.case.assignment.mediator_account_id == "acct-2"
    assert d.case.period is not None


def test_a_court_referral_names_its_court_and_an_application_none() -> None:
    bad = replace(COURT_REFERRAL, court_id=None)
    with pytest.raises(InvalidCommand, match="court"):
        lc.file_case("c", "N", "traffic_accident", "t", T0, referral=bad)
    application = lc.Referral(lc.ReferralKind.APPLICATION, "org-1", T0, court_id="court-1")
    with pytest.raises(InvalidCommand, match="court"):
        lc.file_case("c", "N", "traffic_accident", "t", T0, referral=application)


def test_an_extension_takes_effect_only_with_every_partys_consent_and_clears_overdue() -> None:
    d = Driver()
    assert d.case.period is not None
    deadline = d.case.period.deadline
    d.now = deadline
    d.do(lc.FlagOverdue(), advance=timedelta(0))
    assert d.case.period.overdue_at == deadline
    with pytest.raises(InvalidCommand, match="already"):
        lc.apply(d.case, lc.FlagOverdue(), d.now)
    with pytest.raises(InvalidCommand, match="between 1 and 30"):
        lc.apply(d.case, lc.RequestExtension(31, "r", ("a", "b")), d.now)
    d.do(lc.RequestExtension(10, "等待鉴定", ("a", "b")))
    d.do(lc.ConsentToExtension("a"))
    assert d.case.period.deadline == deadline and d.case.period.overdue_at is not None
    with pytest.raises(InvalidCommand, match="already consented"):
        lc.apply(d.case, lc.ConsentToExtension("a"), d.now)
    with pytest.raises(InvalidCommand, match="not asked"):
        lc.apply(d.case, lc.ConsentToExtension("m"), d.now)
    d.do(lc.ConsentToExtension("b"))
    assert d.case.period.deadline == deadline + timedelta(days=10)
    assert d.case.period.overdue_at is None and d.case.period.extension is None
    assert d.case.period.extensions == 1
    assert d.events[-1] == lc.PeriodExtended(deadline=deadline + timedelta(days=10))


def test_the_reminder_comes_once_per_deadline_and_not_too_early() -> None:
    d = Driver()
    assert d.case.period is not None
    deadline = d.case.period.deadline
    with pytest.raises(InvalidCommand, match="not near"):
        lc.apply(d.case, lc.RemindPeriod(), deadline - lc.PERIOD_REMINDER - timedelta(minutes=1))
    d.now = deadline - lc.PERIOD_REMINDER
    d.do(lc.RemindPeriod(), advance=timedelta(0))
    with pytest.raises(InvalidCommand, match="already reminded"):
        lc.apply(d.case, lc.RemindPeriod(), d.now)
    with pytest.raises(InvalidCommand, match="not ended"):
        lc.apply(d.case, lc.FlagOverdue(), d.now)
