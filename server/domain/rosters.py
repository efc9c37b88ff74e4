"""A court's roster of invited mediation organisations and mediators (特邀调解组织和调解员名册).

A court invites mediation organisations, or single mediators of such organisations, to
mediate the cases it refers; each member is on its roster for a term (at most
:data:`MAX_TERM_YEARS` years), for some specialties (:class:`Specialty`), and is active,
suspended or removed (:class:`RosterStatus`). A court refers cases only to members that
are active and in their term (:meth:`RosterEntry.is_active`).

A mediator's profile (qualification, specialties, introduction) is shown beside the
figures computed from the cases they hold (:class:`ProfileFigures`).

Pure rules only: ``server.rosters`` keeps the records and applies these rules to who is asking.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from server.domain.organisations import OrganisationKind
from server.domain.roles import AccountKind
from server.errors import Forbidden, IllegalTransition, InvalidCommand, NotFound


class Specialty(enum.StrEnum):
    """The kinds of dispute a roster member mediates (a fixed vocabulary)."""

    TRAFFIC = "traffic"
    FINANCE = "finance"
    FAMILY = "family"
    LABOUR = "labour"
    PROPERTY = "property"
    MEDICAL = "medical"
    CONSUMER = "consumer"
    INSURANCE = "insurance"
    OTHER = "other"


SPECIALTY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        Specialty.TRAFFIC: "道路交通",
        Specialty.FINANCE: "金融",
        Specialty.FAMILY: "婚姻家庭",
        Specialty.LABOUR: "劳动争议",
        Specialty.PROPERTY: "物业",
        Specialty.MEDICAL: "医疗纠纷",
        Specialty.CONSUMER: "消费",
        Specialty.INSURANCE: "保险",
        Specialty.OTHER: "其他",
    }
)
"""Each specialty in Chinese, as the pages name it."""

assert set(SPECIALTY_NAMES) == set(Specialty), "every specialty needs its name"


class RosterStatus(enum.StrEnum):
    """Where a member stands on a roster."""

    ACTIVE = "active"
    """Invited: the court may refer cases to it (within its term)."""
    SUSPENDED = "suspended"
    """Paused: no new referrals until restored."""
    REMOVED = "removed"
    """Off the roster (the entry stays, for the record)."""


ROSTER_STATUS_NAMES: Mapping[str, str] = MappingProxyType(
    {RosterStatus.ACTIVE: "在册", RosterStatus.SUSPENDED: "暂停", RosterStatus.REMOVED: "已除名"}
)
"""Each status in Chinese."""

assert set(ROSTER_STATUS_NAMES) == set(RosterStatus), "every roster status needs its name"

TRANSITIONS: Mapping[RosterStatus, frozenset[RosterStatus]] = MappingProxyType(
    {
        RosterStatus.ACTIVE: frozenset({RosterStatus.SUSPENDED, RosterStatus.REMOVED}),
        RosterStatus.SUSPENDED: frozenset({RosterStatus.ACTIVE, RosterStatus.REMOVED}),
        RosterStatus.REMOVED: frozenset({RosterStatus.ACTIVE}),
    }
)
"""Which status each status may change to: suspend, restore (a suspended or removed member), remove."""

MEMBER_KINDS: frozenset[OrganisationKind] = frozenset(
    {OrganisationKind.PEOPLES_MEDIATION, OrganisationKind.INDUSTRY_MEDIATION}
)
"""The organisations a court may invite, and whose mediators it may invite."""

MAX_TERM_YEARS = 5
"""Longest term of an invitation, in years."""
MAX_SPECIALTIES = len(Specialty)
"""A member has at most every specialty once."""
MAX_QUALIFICATION = 200
"""Longest qualification text (e.g. 律师、退休法官), in characters."""
MAX_INTRODUCTION = 2000
"""Longest introduction, in characters."""


def add_years(moment: datetime, years: int) -> datetime:
    """The same moment ``years`` later (29 February becomes 28 February in a common year)."""
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])
    return moment.replace(year=year, day=day)


def check_term(start: datetime, end: datetime) -> None:
    """InvalidCommand unless the term starts before it ends and lasts at most :data:`MAX_TERM_YEARS` years."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidCommand("A term's start and end need a time zone")
    if not start < end:
        raise InvalidCommand("A term must start before it ends")
    if end > add_years(start, MAX_TERM_YEARS):
        raise InvalidCommand(f"A term lasts at most {MAX_TERM_YEARS} years")


def check_specialties(values: Iterable[str]) -> tuple[Specialty, ...]:
    """The specialties named, once each, in the vocabulary's order; InvalidCommand for an unknown or none."""
    chosen: set[Specialty] = set()
    for value in values:
        try:
            chosen.add(Specialty(value))
        except ValueError:
            raise InvalidCommand(f"Unknown specialty: {value[:40]!r}") from None
    if not chosen:
        raise InvalidCommand("Name at least one specialty")
    return tuple(s for s in Specialty if s in chosen)


def parse_specialties(stored: str) -> tuple[Specialty, ...]:
    """Specialties as stored (comma-separated); unknown ones (from a later vocabulary) are skipped."""
    known = {s.value for s in Specialty}
    return tuple(Specialty(v) for v in stored.split(",") if v in known)


def join_specialties(specialties: Iterable[Specialty]) -> str:
    """Specialties as stored: comma-separated."""
    return ",".join(s.value for s in specialties)


def check_member_organisation(kind: OrganisationKind) -> None:
    """InvalidCommand unless an organisation of this kind may be on a court's roster."""
    if kind not in MEMBER_KINDS:
        raise InvalidCommand(f"Only mediation organisations can be on a court's roster, not a {kind.value}")


def check_member_mediator(account_kind: AccountKind, organisation_kind: OrganisationKind) -> None:
    """InvalidCommand unless the account is a mediator of a mediation organisation."""
    if account_kind is not AccountKind.MEDIATOR:
        raise InvalidCommand(f"Only mediators can be on a court's roster, not a {account_kind.value}")
    check_member_organisation(organisation_kind)


def check_transition(current: RosterStatus, new: RosterStatus) -> None:
    """IllegalTransition unless a member's status may change from ``current`` to ``new``."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"make a roster entry {new.value}", current.value)


def check_profile_text(qualification: str, introduction: str) -> None:
    """InvalidCommand if a profile's texts are too long or carry control characters (line breaks aside)."""
    if len(qualification) > MAX_QUALIFICATION:
        raise InvalidCommand(f"A qualification has at most {MAX_QUALIFICATION} characters")
    if len(introduction) > MAX_INTRODUCTION:
        raise InvalidCommand(f"An introduction has at most {MAX_INTRODUCTION} characters")
    if any(_is_control(c) for c in qualification) or any(_is_control(c) and c != "\n" for c in introduction):
        raise InvalidCommand("Text must not contain control characters")


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029\ufeff\ufff9\ufffa\ufffb"


@dataclass(frozen=True)
class RosterEntry:
    """One member of one court's roster, with the names the pages show."""

    id: str
    court_id: str
    organisation_id: str | None
    """The invited organisation (``None`` for a mediator's entry)."""
    account_id: str | None
    """The invited mediator (``None`` for an organisation's entry)."""
    specialties: tuple[Specialty, ...]
    term_start: datetime
    term_end: datetime
    status: RosterStatus
    added_at: datetime
    added_by: str
    updated_at: datetime
    organisation_name: str = ""
    """The invited organisation's name, or the mediator's organisation's."""
    organisation_kind: OrganisationKind | None = None
    """That organisation's kind."""
    member_organisation_id: str = ""
    """That organisation's id (the invited one, or the mediator's)."""
    mediator_name: str = ""
    """The mediator's display name (empty for an organisation's entry)."""
    court_name: str = ""
    """The court's name."""

    def in_term(self, now: datetime) -> bool:
        """Whether ``now`` lies within the term (its start included, its end not)."""
        return self.term_start <= now < self.term_end

    def is_active(self, now: datetime) -> bool:
        """Whether the court may refer cases to this member now."""
        return self.status is RosterStatus.ACTIVE and self.in_term(now)


@dataclass(frozen=True)
class ProfileFigures:
    """What a mediator's cases say of them, counted from ``cases``."""

    handled: int
    """Cases they hold or held."""
    open: int
    """Of those, not ended yet."""
    ended: int
    """Of those, ended."""
    agreements: int
    """Of those, where an agreement took effect."""
    ended_without_agreement: int
    """Ended with no agreement."""

    @property
    def success_rate(self) -> float | None:
        """Agreements over agreements and failures; ``None`` while there is neither."""
        decided = self.agreements + self.ended_without_agreement
        return None if decided == 0 else self.agreements / decided


COURT_READERS: frozenset[AccountKind] = frozenset({AccountKind.ORG_ADMIN, AccountKind.JUDGE, AccountKind.CLERK})
"""A court's staff who read its roster (its administrators also manage it)."""


def require_court_reader(
    account_kind: AccountKind, own_organisation: str, own_kind: OrganisationKind, court_id: str
) -> None:
    """The caller must be a judge, clerk or administrator of exactly this court.

    NotFound for anyone outside it (and for a roster asked of an organisation that is no
    court), Forbidden for the court's own mediators."""
    if own_organisation != court_id or own_kind is not OrganisationKind.COURT:
        raise NotFound("No such roster")
    if account_kind not in COURT_READERS:
        raise Forbidden("Only the court's judges, clerks and administrators read its roster")


def require_court_admin(
    account_kind: AccountKind, own_organisation: str, own_kind: OrganisationKind, court_id: str
) -> None:
    """The caller must be an administrator of exactly this court (NotFound outside it, Forbidden inside)."""
    require_court_reader(account_kind, own_organisation, own_kind, court_id)
    if account_kind is not AccountKind.ORG_ADMIN:
        raise Forbidden("Only the court's administrators manage its roster")
