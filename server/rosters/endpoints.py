"""The rosters' endpoints: a court's roster (特邀调解名册), a member organisation's view of it, mediators' profiles."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from aiohttp import web
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from server.domain.rosters import MAX_INTRODUCTION, MAX_QUALIFICATION, MAX_SPECIALTIES, RosterStatus, Specialty
from server.http import schemas as s
from server.http.kit import API, Endpoint, body, now, principal, query, respond
from server.rosters.usecases import RosterService

ROSTERS: web.AppKey[RosterService] = web.AppKey("rosters", RosterService)

SpecialtyName = Annotated[str, StringConstraints(min_length=1, max_length=32)]
"""A specialty's value (checked against the vocabulary by the domain: an unknown one is a 422 naming it)."""


SpecialtyValue = Literal[
    "traffic", "finance", "family", "labour", "property", "medical", "consumer", "insurance", "other"
]
"""A specialty in a query string (a plain enumeration: the OpenAPI document inlines it)."""
StatusValue = Literal["active", "suspended", "removed"]
"""A roster status."""

assert set(get_args(SpecialtyValue)) == {x.value for x in Specialty}, "the query's specialties are the vocabulary"
assert set(get_args(StatusValue)) == {x.value for x in RosterStatus}, "the statuses are the domain's"


class AddEntryRequest(s.Strict):
    """Put a mediation organisation, or one mediator of one, on the court's roster."""

    organisation_id: s.Uuid | None = Field(default=None, description="The organisation invited (or account_id)")
    account_id: s.Uuid | None = Field(default=None, description="The mediator invited (or organisation_id)")
    specialties: list[SpecialtyName] = Field(min_length=1, max_length=MAX_SPECIALTIES)
    term_start: AwareDatetime
    term_end: AwareDatetime = Field(description="Exclusive; at most 5 years after term_start")


class UpdateEntryRequest(s.Strict):
    """Change an entry: any of its specialties, term and status."""

    specialties: list[SpecialtyName] | None = Field(default=None, min_length=1, max_length=MAX_SPECIALTIES)
    term_start: AwareDatetime | None = None
    term_end: AwareDatetime | None = None
    status: StatusValue | None = Field(default=None, description="suspended: suspend; active: restore; removed: remove")


class RosterQuery(s.Strict):
    """Filters for a court's roster (query string)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    specialty: SpecialtyValue | None = None
    status: StatusValue | None = None
    in_term: bool = Field(default=False, description="Only entries whose term includes now")


class CandidatesQuery(s.Strict):
    """Which organisation's mediators to list too."""

    model_config = ConfigDict(extra="forbid", strict=False)

    organisation_id: s.Uuid | None = None


class ProfileRequest(s.Strict):
    """A mediator's profile."""

    qualification: Annotated[str, StringConstraints(max_length=MAX_QUALIFICATION)] = Field(
        default="", description="e.g. 律师、退休法官"
    )
    specialties: list[SpecialtyName] = Field(default_factory=list, max_length=MAX_SPECIALTIES)
    introduction: Annotated[str, StringConstraints(max_length=MAX_INTRODUCTION)] = ""


class Named(s.Open):
    """A value and its Chinese name."""

    value: str
    name: str


class EntryOut(s.Open):
    """One member of a court's roster."""

    id: str
    court_id: str
    court_name: str
    member: Literal["organisation", "mediator"]
    organisation_id: str
    organisation_name: str
    organisation_kind: str | None
    organisation_kind_name: str
    account_id: str | None
    mediator_name: str
    specialties: list[Named]
    term_start: AwareDatetime
    term_end: AwareDatetime
    status: StatusValue
    status_name: str
    in_term: bool
    active: bool
    added_at: AwareDatetime
    updated_at: AwareDatetime


class CourtOut(s.Open):
    """A court, by name."""

    id: str
    name: str


class RosterOut(s.Open):
    """A court's roster, and the words a page needs for it."""

    court: CourtOut
    may_manage: bool
    entries: list[EntryOut]
    specialties: list[Named]
    statuses: list[Named]


class CandidateOrganisation(s.Open):
    """A mediation organisation a court's administrator may invite."""

    id: str
    name: str
    kind: str
    kind_name: str
    region: str


class CandidateMediator(s.Open):
    """A mediator of that organisation."""

    id: str
    display_name: str


class CandidatesOut(s.Open):
    """What a court's administrator may pick from."""

    organisations: list[CandidateOrganisation]
    mediators: list[CandidateMediator]


class MemberMediator(s.Open):
    """One of the organisation's mediators."""

    id: str
    display_name: str
    disabled: bool


class MembershipsOut(s.Open):
    """On which courts' rosters the organisation and its mediators are."""

    organisation: CourtOut
    entries: list[EntryOut]
    mediators: list[MemberMediator]


class FiguresOut(s.Open):
    """Counted from the cases the mediator holds."""

    handled: int
    open: int
    ended: int
    agreements: int
    ended_without_agreement: int
    success_rate: float | None = Field(description="agreements / (agreements + ended without agreement)")


class ProfileOrganisation(s.Open):
    """The mediator's organisation."""

    id: str
    name: str
    kind_name: str


class ProfileOut(s.Open):
    """A mediator's profile and figures."""

    account_id: str
    display_name: str
    organisation: ProfileOrganisation
    qualification: str
    specialties: list[Named]
    introduction: str
    updated_at: AwareDatetime | None
    figures: FiguresOut
    may_edit: bool


def _court(request: web.Request) -> str:
    return request.match_info["court_id"]


async def read_roster(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, RosterQuery)
    return respond(
        await request.app[ROSTERS].roster(
            who,
            _court(request),
            now(request),
            specialty=None if q.specialty is None else Specialty(q.specialty),
            status=None if q.status is None else RosterStatus(q.status),
            in_term=q.in_term,
        )
    )


async def add_entry(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AddEntryRequest)
    added = await request.app[ROSTERS].add(
        who,
        _court(request),
        organisation_id=req.organisation_id,
        account_id=req.account_id,
        specialties=req.specialties,
        term_start=req.term_start,
        term_end=req.term_end,
        now=now(request),
    )
    return respond(added, 201)


async def update_entry(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, UpdateEntryRequest)
    return respond(
        await request.app[ROSTERS].update(
            who,
            _court(request),
            request.match_info["entry_id"],
            specialties=req.specialties,
            term_start=req.term_start,
            term_end=req.term_end,
            status=None if req.status is None else RosterStatus(req.status),
            now=now(request),
        )
    )


async def candidates(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, CandidatesQuery)
    return respond(await request.app[ROSTERS].candidates(who, _court(request), q.organisation_id))


async def memberships(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ROSTERS].memberships(who, request.match_info["organisation_id"], now(request)))


async def read_profile(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ROSTERS].profile(who, request.match_info["account_id"]))


async def write_profile(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ProfileRequest)
    return respond(
        await request.app[ROSTERS].set_profile(
            who,
            request.match_info["account_id"],
            qualification=req.qualification,
            specialties=req.specialties,
            introduction=req.introduction,
            now=now(request),
        )
    )


_ROSTER = f"{API}/organisations/{{court_id}}/roster"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        _ROSTER,
        read_roster,
        "A court's roster of invited mediation organisations and mediators (its judges, clerks, administrators)",
        "readCourtRoster",
        RosterOut,
        query=RosterQuery,
        errors=(401, 403, 404),
        tags=("rosters",),
    ),
    Endpoint(
        "POST",
        _ROSTER,
        add_entry,
        "Put a mediation organisation or one of its mediators on the court's roster (its administrators)",
        "addRosterEntry",
        EntryOut,
        status=201,
        body=AddEntryRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("rosters",),
    ),
    Endpoint(
        "PATCH",
        f"{_ROSTER}/{{entry_id}}",
        update_entry,
        "Change a roster entry's specialties, term or status: suspend, restore, remove (its administrators)",
        "updateRosterEntry",
        EntryOut,
        body=UpdateEntryRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("rosters",),
    ),
    Endpoint(
        "GET",
        f"{API}/organisations/{{court_id}}/roster-candidates",
        candidates,
        "The mediation organisations (and one's mediators) a court's administrator may put on its roster",
        "listRosterCandidates",
        CandidatesOut,
        query=CandidatesQuery,
        errors=(401, 403, 404),
        tags=("rosters",),
    ),
    Endpoint(
        "GET",
        f"{API}/organisations/{{organisation_id}}/memberships",
        memberships,
        "On which courts' rosters a mediation organisation and its mediators are (its administrators)",
        "listRosterMemberships",
        MembershipsOut,
        errors=(401, 403, 404),
        tags=("rosters",),
    ),
    Endpoint(
        "GET",
        f"{API}/accounts/{{account_id}}/profile",
        read_profile,
        "A mediator's profile and the figures of the cases they hold",
        "readMediatorProfile",
        ProfileOut,
        errors=(401, 403, 404),
        tags=("rosters",),
    ),
    Endpoint(
        "PUT",
        f"{API}/accounts/{{account_id}}/profile",
        write_profile,
        "Write a mediator's profile (the mediator, or their organisation's administrators)",
        "writeMediatorProfile",
        ProfileOut,
        body=ProfileRequest,
        errors=(401, 403, 404, 422),
        tags=("rosters",),
    ),
)
