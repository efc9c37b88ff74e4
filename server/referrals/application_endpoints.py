"""Endpoints of a party's own application from the public page ``/apply`` (no token: public operations)."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StringConstraints

from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, query, respond
from server.referrals.applications import Application, PublicApplications

APPLICATIONS: web.AppKey[PublicApplications] = web.AppKey("applications", PublicApplications)

MAX_BODY = 8 * 1024
"""The most an application's body may weigh (its fields fit in well under 4 KiB): 413 past it."""

_TRIM = AfterValidator(str.strip)

MainlandMobile = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]
"""A mainland China mobile number, 11 digits."""
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=s.NOT_BLANK), _TRIM]
Description = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=s.NOT_BLANK), _TRIM]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class RegionQuery(s.Strict):
    """Filter the listing by region text (query string)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    region: Annotated[str, StringConstraints(max_length=50, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class PublicOrganisation(s.Open):
    """An open mediation organisation, as the public page lists it."""

    id: str
    name: str
    kind: Literal["peoples_mediation", "industry_mediation"]
    kind_name: str = Field(description="The kind in Chinese, e.g. 人民调解委员会")
    region: str


class PublicOrganisations(s.Open):
    """Open mediation organisations."""

    organisations: list[PublicOrganisation]


class ApplicationCodeRequest(s.Strict):
    """Send the applicant a one-time code by SMS."""

    organisation_id: s.Uuid
    phone: MainlandMobile


class ApplicationCodeSent(s.Open):
    """Where the code went and how long it works."""

    to: str = Field(description="The number, masked: 139****5678")
    expires_at: AwareDatetime
    resend_after_seconds: int


class ApplicantIn(s.Strict):
    """The applicant: their name and the mobile the code went to."""

    display_name: PersonName
    phone: MainlandMobile


class RespondentIn(s.Strict):
    """The other party: a name, and a mobile if known."""

    display_name: PersonName
    phone: MainlandMobile | None = None


class PublicApplicationRequest(s.Strict):
    """A party's own application to a mediation organisation, with the code sent to their mobile."""

    organisation_id: s.Uuid
    kind: Literal["traffic_accident", "financial", "family", "other"]
    description: Description = Field(description="The dispute in the applicant's words (at most 500 characters)")
    applicant: ApplicantIn
    respondent: RespondentIn
    code: Code


class AppliedCase(s.Open):
    """The case the application filed."""

    id: str
    number: str
    state: Literal["referred"]
    organisation: dict[str, str | None]


class ApplicationFiled(s.Open):
    """The case, and the applicant's personal join link (it opens their case; never forward it)."""

    case: AppliedCase
    join_url: str
    expires_at: AwareDatetime


async def list_organisations(request: web.Request) -> web.Response:
    q = query(request, RegionQuery)
    return respond({"organisations": await request.app[APPLICATIONS].organisations(q.region)})


async def send_code(request: web.Request) -> web.Response:
    req = await body(request, ApplicationCodeRequest, MAX_BODY)
    client = request.remote or "-"
    out = await request.app[APPLICATIONS].send_code(req.organisation_id, req.phone, client, now(request))
    return respond(out, 201)


async def submit(request: web.Request) -> web.Response:
    req = await body(request, PublicApplicationRequest, MAX_BODY)
    application = Application(
        organisation_id=req.organisation_id,
        kind=req.kind,
        description=req.description,
        applicant_name=req.applicant.display_name,
        applicant_phone=req.applicant.phone,
        respondent_name=req.respondent.display_name,
        respondent_phone=req.respondent.phone,
        code=req.code,
    )
    return respond(await request.app[APPLICATIONS].submit(application, now(request)), 201)


class ApplicationOut(s.Open):
    """A party's own application, as they wrote it."""

    case_id: str
    organisation: dict[str, str]
    description: str
    submitted_at: AwareDatetime


async def read_application(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPLICATIONS].read(who, case_id(request)))


_TAGS = ("applications",)
_PUBLIC = f"{API}/public"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_PUBLIC}/mediation-organisations",
        list_organisations,
        "Open people's and industry mediation organisations a party may apply to (id, name, kind, region)",
        "listPublicMediationOrganisations",
        PublicOrganisations,
        query=RegionQuery,
        auth=False,
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_PUBLIC}/applications/code",
        send_code,
        "Send a party applying for mediation a one-time code by SMS (limited per number and per address)",
        "sendApplicationCode",
        ApplicationCodeSent,
        status=201,
        body=ApplicationCodeRequest,
        auth=False,
        errors=(422, 429, 503),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_PUBLIC}/applications",
        submit,
        "A party applies to a mediation organisation with the code: the case joins its queue; their join link",
        "submitApplication",
        ApplicationFiled,
        status=201,
        body=PublicApplicationRequest,
        auth=False,
        errors=(409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_CASE}/application",
        read_application,
        "The party's own application that filed the case (the dispute in their words), for those who follow it",
        "readApplication",
        ApplicationOut,
        errors=(401, 404),
        tags=_TAGS,
    ),
)
