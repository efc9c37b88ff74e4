"""The rosters' pure rules (``server.domain.rosters``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.domain.organisations import OrganisationKind
from server.domain.roles import AccountKind
from server.domain.rosters import (
    ProfileFigures,
    RosterEntry,
    RosterStatus,
    Specialty,
    add_years,
    check_member_mediator,
    check_member_organisation,
    check_profile_text,
    check_specialties,
    check_term,
    check_transition,
    join_specialties,
    parse_specialties,
    require_court_admin,
    require_court_reader,
)
from server.errors import Forbidden, IllegalTransition, InvalidCommand, NotFound

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_specialties_are_a_fixed_vocabulary_kept_once_each_in_its_order() -> None:
    assert check_specialties(["family", "traffic", "family"]) == (Specialty.TRAFFIC, Specialty.FAMILY)
    with pytest.raises(InvalidCommand, match="Unknown specialty"):
        check_specialties(["traffic", "astrology"])
    with pytest.raises(InvalidCommand, match="at least one"):
        check_specialties([])
    with pytest.raises(InvalidCommand):
        check_specialties(["Traffic"])  # the values are exact


def test_stored_specialties_round_trip_and_skip_what_a_later_vocabulary_added() -> None:
    chosen = (Specialty.FINANCE, Specialty.INSURANCE)
    assert join_specialties(chosen) == "finance,insurance"
    assert parse_specialties(join_specialties(chosen)) == chosen
    assert parse_specialties("traffic,maritime,") == (Specialty.TRAFFIC,)
    assert parse_specialties("") == ()


def test_a_term_starts_before_it_ends_and_lasts_at_most_five_years() -> None:
    check_term(T0, T0 + timedelta(seconds=1))
    check_term(T0, T0.replace(year=2031))  # exactly five years
    with pytest.raises(InvalidCommand, match="at most 5 years"):
        check_term(T0, T0.replace(year=2031) + timedelta(seconds=1))
    with pytest.raises(InvalidCommand, match="start before"):
        check_term(T0, T0)
    with pytest.raises(InvalidCommand, match="start before"):
        check_term(T0, T0 - timedelta(days=1))
    with pytest.raises(InvalidCommand, match="time zone"):
        check_term(T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(days=1))
    # another zone: the same instants compare
    east8 = timezone(timedelta(hours=8))
    check_term(T0.astimezone(east8), T0.replace(year=2031))


def test_five_years_from_the_29th_of_february_end_on_the_28th() -> None:
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert add_years(leap, 5) == datetime(2033, 2, 28, tzinfo=UTC)
    check_term(leap, datetime(2033, 2, 28, tzinfo=UTC))
    with pytest.raises(InvalidCommand):
        check_term(leap, datetime(2033, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        (OrganisationKind.PEOPLES_MEDIATION, True),
        (OrganisationKind.INDUSTRY_MEDIATION, True),
        (OrganisationKind.COURT, False),
        (OrganisationKind.APPRAISAL, False),
        (OrganisationKind.INSURER, False),
    ],
)
def test_only_mediation_organisations_and_their_mediators_are_invited(kind: OrganisationKind, allowed: bool) -> None:
    if allowed:
        check_member_organisation(kind)
        check_member_mediator(AccountKind.MEDIATOR, kind)
    else:
        with pytest.raises(InvalidCommand):
            check_member_organisation(kind)
        with pytest.raises(InvalidCommand):
            check_member_mediator(AccountKind.MEDIATOR, kind)


@pytest.mark.parametrize("kind", [AccountKind.ORG_ADMIN, AccountKind.JUDGE, AccountKind.CLERK])
def test_only_mediators_are_invited_as_persons(kind: AccountKind) -> None:
    with pytest.raises(InvalidCommand, match="Only mediators"):
        check_member_mediator(kind, OrganisationKind.PEOPLES_MEDIATION)


def test_suspend_restore_and_remove_follow_the_transitions() -> None:
    a, s, r = RosterStatus.ACTIVE, RosterStatus.SUSPENDED, RosterStatus.REMOVED
    allowed = {(a, s), (a, r), (s, a), (s, r), (r, a)}
    for current in RosterStatus:
        for new in RosterStatus:
            if (current, new) in allowed:
                check_transition(current, new)
            else:
                with pytest.raises(IllegalTransition):
                    check_transition(current, new)


def _entry(status: RosterStatus, start: datetime, end: datetime) -> RosterEntry:
    return RosterEntry("e", "court", "org", None, (Specialty.TRAFFIC,), start, end, status, T0, "cli", T0)


def test_an_entry_is_active_from_its_start_until_just_before_its_end() -> None:
    end = T0 + timedelta(days=365)
    entry = _entry(RosterStatus.ACTIVE, T0, end)
    assert not entry.is_active(T0 - timedelta(microseconds=1))
    assert entry.is_active(T0)
    assert entry.is_active(end - timedelta(microseconds=1))
    assert not entry.is_active(end)
    suspended = _entry(RosterStatus.SUSPENDED, T0, end)
    assert suspended.in_term(T0) and not suspended.is_active(T0)
    assert not _entry(RosterStatus.REMOVED, T0, end).is_active(T0)


def test_profile_texts_have_limits_and_no_control_characters() -> None:
    check_profile_text("律师", "从事交通事故调解十年。\n曾任审判员。")
    check_profile_text("q" * 200, "i" * 2000)
    with pytest.raises(InvalidCommand, match="qualification"):
        check_profile_text("q" * 201, "")
    with pytest.raises(InvalidCommand, match="introduction"):
        check_profile_text("", "i" * 2001)
    for bad in ("律\n师", "律\t师", "律\x00师", "律\x85师", "律\u2028师"):
        with pytest.raises(InvalidCommand, match="control"):
            check_profile_text(bad, "")
    for bad in ("a\tb", "a\rb", "a\x1bb", "a\ufeffb"):
        with pytest.raises(InvalidCommand, match="control"):
            check_profile_text("", bad)


def test_the_success_rate_is_agreements_over_decided_cases() -> None:
    assert ProfileFigures(5, 5, 0, 0, 0).success_rate is None
    assert ProfileFigures(10, 3, 7, 3, 4).success_rate == pytest.approx(3 / 7)
    assert ProfileFigures(2, 1, 1, 1, 0).success_rate == 1.0  # an agreement not yet ended counts
    assert ProfileFigures(1, 0, 1, 0, 1).success_rate == 0.0


def test_a_court_roster_is_read_by_its_judges_clerks_and_administrators_only() -> None:
    court = OrganisationKind.COURT
    for kind in (AccountKind.JUDGE, AccountKind.CLERK, AccountKind.ORG_ADMIN):
        require_court_reader(kind, "c1", court, "c1")
    with pytest.raises(Forbidden):
        require_court_reader(AccountKind.MEDIATOR, "c1", court, "c1")  # the court's own mediator
    with pytest.raises(NotFound):
        require_court_reader(AccountKind.ORG_ADMIN, "c2", court, "c1")  # another court
    with pytest.raises(NotFound):
        require_court_reader(AccountKind.ORG_ADMIN, "m1", OrganisationKind.PEOPLES_MEDIATION, "m1")  # no court
    require_court_admin(AccountKind.ORG_ADMIN, "c1", court, "c1")
    for kind in (AccountKind.JUDGE, AccountKind.CLERK):
        with pytest.raises(Forbidden):
            require_court_admin(kind, "c1", court, "c1")
    with pytest.raises(NotFound):
        require_court_admin(AccountKind.JUDGE, "c2", court, "c1")
