"""Endpoints of referral, assignment, the mediation period and the timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from server.cases.usecases import NewParticipant
from server.domain.lifecycle import CaseState, ReferralKind
from server.domain.roles import Role
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, query, respond
from server.referrals.usecases import ReferralService

REFERRALS: web.AppKey[ReferralService] = web.AppKey("referrals", ReferralService)

_ORG = f"{API}/organisations/{{organisation_id}}"


class PartyIn(s.Strict):
    """A party of a referred case (the mediator will not type them again)."""

    role: Literal["applicant", "respondent", "insurer"]
    display_name: s.Name
    phone: s.Phone | None = None
    email: s.Email | None = None
    id_number: s.IdNumber | None = None


class ApplicationRequest(s.Strict):
    """A party's direct application to a mediation organisation, as its administrator records it."""

    kind: s.Kind = Field(description="Dispute type, e.g. traffic_accident")
    title: s.Name
    parties: list[PartyIn] = Field(min_length=1, max_length=20)


class ReferralRequest(ApplicationRequest):
    """A court refers a case to a mediation organisation on its roster."""

    organisation_id: s.Uuid
    referral_kind: Literal["pre_litigation", "in_litigation"] = Field(
        description="pre_litigation: 诉前委派; in_litigation: 诉中委托 (needs the court's case number)"
    )
    court_case_number: Annotated[str, StringConstraints(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class AssignRequest(s.Strict):
    """Name the mediator who is to hold the case."""

    mediator_account_id: s.Uuid


class DeclineRequest(s.Strict):
    """Decline a case, with the reason."""

    reason: s.Name = Field(description="Why (e.g. a conflict of interest)")


class ExtensionRequest(s.Strict):
    """Ask the parties to extend the mediation period."""

    days: s.Count = Field(ge=1, le=30)
    reason: s.Name


class StatesQuery(s.Strict):
    """Which states to list (query string)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    state: list[CaseState] = Field(default_factory=list)


class IdAndName(s.Open):
    """An organisation, court or mediator by id and name."""

    id: str | None
    name: str


class TrackedCaseOut(s.Open):
    """A case as the referral desks list it."""

    id: str
    number: str
    kind: str
    title: str
    state: str
    referral_kind: Literal["own", "pre_litigation", "in_litigation", "application", "police"]
    court_case_number: str = Field(description="The court's own case number (诉中委托), or empty")
    organisation: IdAndName
    court: IdAndName | None
    holder: IdAndName | None
    referred_at: AwareDatetime | None
    accepted_at: AwareDatetime | None
    agreement_at: AwareDatetime | None
    ended_at: AwareDatetime | None
    period_deadline: AwareDatetime | None
    overdue: bool


class TrackedCases(s.Open):
    """Cases on a desk."""

    cases: list[TrackedCaseOut]


class Step(s.Open):
    """One milestone of a case."""

    at: str
    action: str
    label: str
    who: str


class Timeline(s.Open):
    """A case's progress."""

    case: dict[str, str]
    steps: list[Step]


def _parties(parties: list[PartyIn]) -> list[NewParticipant]:
    return [NewParticipant(Role(p.role), p.display_name, p.phone, p.email, p.id_number) for p in parties]


async def refer(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReferralRequest)
    out = await request.app[REFERRALS].refer(
        who,
        organisation_id=req.organisation_id,
        referral_kind=ReferralKind(req.referral_kind),
        court_case_number=req.court_case_number.strip(),
        kind=req.kind,
        title=req.title,
        parties=_parties(req.parties),
        now=now(request),
    )
    return respond(out, 201)


async def court_cases(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, StatesQuery)
    return respond({"cases": await request.app[REFERRALS].court_cases(who, q.state)})


async def apply(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ApplicationRequest)
    out = await request.app[REFERRALS].apply(
        who,
        request.match_info["organisation_id"],
        kind=req.kind,
        title=req.title,
        parties=_parties(req.parties),
        now=now(request),
    )
    return respond(out, 201)


async def organisation_cases(request: web.Request) -> web.Response:
    who = await principal(request)
    cases = await request.app[REFERRALS].organisation_cases(who, request.match_info["organisation_id"])
    return respond({"cases": cases})


async def assign(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AssignRequest)
    return respond(await request.app[REFERRALS].assign(who, case_id(request), req.mediator_account_id, now(request)))


async def accept(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[REFERRALS].accept(who, case_id(request), now(request)))


async def decline(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, DeclineRequest)
    return respond(await request.app[REFERRALS].decline(who, case_id(request), req.reason, now(request)))


async def take(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[REFERRALS].take(who, case_id(request), now(request)))


async def request_extension(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ExtensionRequest)
    view = await request.app[REFERRALS].request_extension(who, case_id(request), req.days, req.reason, now(request))
    return respond(view)


async def consent_extension(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[REFERRALS].consent_to_extension(who, case_id(request), now(request)))


async def timeline(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[REFERRALS].timeline(who, case_id(request)))


_TAGS = ("referrals",)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{API}/referrals",
        refer,
        "A court's clerk or judge refers a case with its parties to a mediation organisation on the court's roster",
        "referToMediation",
        TrackedCaseOut,
        status=201,
        body=ReferralRequest,
        errors=(401, 403, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{API}/referrals",
        court_cases,
        "The cases the caller's court referred: who holds each, its state and mediation period",
        "listCourtReferrals",
        TrackedCases,
        errors=(401, 403, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ORG}/applications",
        apply,
        "Record a party's direct application to the organisation: the case joins its queue",
        "recordApplication",
        TrackedCaseOut,
        status=201,
        body=ApplicationRequest,
        errors=(401, 403, 404, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_ORG}/cases",
        organisation_cases,
        "The organisation's cases (administrator), or its queue and the caller's assignments (mediator)",
        "listOrganisationCases",
        TrackedCases,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/assignment",
        assign,
        "The organisation's administrator names the mediator who is to hold the case",
        "assignMediator",
        TrackedCaseOut,
        body=AssignRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/assignment/accept",
        accept,
        "The named mediator accepts the case: they become its mediator and the mediation period starts",
        "acceptAssignment",
        TrackedCaseOut,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/assignment/decline",
        decline,
        "The named mediator declines the case with a reason: it goes back to the organisation's queue",
        "declineAssignment",
        TrackedCaseOut,
        body=DeclineRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/take",
        take,
        "A mediator of the organisation takes a case from its queue",
        "takeCase",
        TrackedCaseOut,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/period/extension",
        request_extension,
        "The mediator asks every party to consent to extending the mediation period",
        "requestPeriodExtension",
        s.CaseView,
        body=ExtensionRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/period/extension/consent",
        consent_extension,
        "A party consents to extending the mediation period (it takes effect once every party has)",
        "consentToPeriodExtension",
        s.CaseView,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_CASE}/timeline",
        timeline,
        "The case's progress: referred, assigned, sessions, agreement, signed, served, confirmed; who and when",
        "readCaseTimeline",
        Timeline,
        errors=(401, 404),
        tags=_TAGS,
    ),
)
