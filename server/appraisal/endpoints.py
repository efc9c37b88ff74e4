"""The appraisal stage's endpoints: the roster, the appraisal on a case, the institution's desk, the bureau's view."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints

from server.appraisal.usecases import MAX_MATERIALS, AppraisalService
from server.domain.appraisal import MAX_TEXT, SPECIALTIES
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, query, raw_body, respond, stored_file

APPRAISALS: web.AppKey[AppraisalService] = web.AppKey("appraisals", AppraisalService)

MAX_OPINION = 20 * 1024 * 1024
"""The largest opinion PDF accepted (bytes)."""

Specialty = Literal[
    "injury", "disability", "vehicle_damage", "pathology", "toxicology", "traffic_trace", "vehicle_safety"
]
assert set(get_args(Specialty)) == set(SPECIALTIES), "the schema names every specialty"
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), s._TRIM]
Amount = Annotated[str, StringConstraints(min_length=1, max_length=12, pattern=r"^[0-9]{1,7}(\.[0-9]{1,2})?$")]


class AppraisalRosterQuery(s.Strict):
    """Filter the roster by one specialty."""

    specialty: Specialty | None = None


class AppraisalSpecialtiesRequest(s.Strict):
    """What an appraisal institution appraises (its administrator sets it)."""

    specialties: list[Specialty] = Field(max_length=len(SPECIALTIES))


class StartAppraisalRequest(s.Strict):
    """Start an appraisal on the case: the subject, what exactly, which party asked (none: the mediator's motion)."""

    subject: Specialty
    description: Text = ""
    requested_by: s.Uuid | None = None


class AppraisalConsentRequest(s.Strict):
    """A party agrees to the appraisal, or objects with a reason."""

    agree: bool
    reason: Text = ""


class AppraisalChooseRequest(s.Strict):
    """The institution all the parties agreed on."""

    organisation_id: s.Uuid


class AppraisalAppointRequest(s.Strict):
    """The fee (yuan) and who pays it."""

    fee: Amount
    payer: Literal["applicant", "respondent", "insurer", "shared"]


class AppraisalMaterialsRequest(s.Strict):
    """The case documents sent to the institution."""

    document_ids: list[s.Uuid] = Field(max_length=MAX_MATERIALS)


class AppraisalReappraisalRequest(s.Strict):
    """A party's application for a new appraisal."""

    reasons: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=s.NOT_BLANK), s._TRIM]


class AppraisalDecisionRequest(s.Strict):
    """The mediator grants the waiting application, or refuses it with reasons."""

    grant: bool
    reasons: Text = ""


class AppraisalEvaluationRequest(s.Strict):
    """A score of the opinion (1-5) and a comment."""

    score: s.Count = Field(ge=1, le=5)
    comment: Text = ""


class AppraisalInstitutionOut(s.Open):
    """An appraisal institution on the roster."""

    id: str
    name: str
    region: str
    specialties: list[str]
    specialty_names: list[str]


class AppraisalRosterOut(s.Open):
    """The open appraisal institutions."""

    institutions: list[AppraisalInstitutionOut]


class AppraisalOut(s.Open):
    """One round of an appraisal on the case (see the stage's docstring for each field)."""

    id: str
    round: int
    subject: str
    subject_name: str
    description: str
    state: Literal["consenting", "chosen", "appointed", "opinion", "superseded"]
    institution: dict[str, Any] | None
    choice: Literal["agreed", "drawn"] | None
    draw: dict[str, Any] | None = Field(description="The recorded draw: candidates, seed, result, rule, by, at")
    fee: str | None
    fee_payer: str | None
    notice: s.DocumentOut | None
    opinion: s.DocumentOut | None
    opinion_check: dict[str, Any] | None
    consents: list[dict[str, Any]]
    materials: list[s.DocumentOut]
    reappraisals: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    evaluated: bool
    answers_for: str | None = Field(
        description="The party whose consent the caller gives (an agent: the party they act for)"
    )


class AppraisalsOut(s.Open):
    """The case's appraisals."""

    case_id: str
    appraisals: list[AppraisalOut]


class AppraisalDeskItemOut(s.Open):
    """An appraisal entrusted to the caller's institution (its materials only on the item itself)."""

    id: str
    case_number: str
    round: int
    subject: str
    subject_name: str
    description: str
    state: str
    fee: str | None
    fee_payer: str | None
    updated_at: AwareDatetime = Field(description="When the appraisal last changed (appointed, materials, opinion)")
    materials: list[s.DocumentOut]
    opinion: s.DocumentOut | None
    opinion_check: dict[str, Any] | None


class AppraisalDeskOut(s.Open):
    """The institution's desk."""

    appraisals: list[AppraisalDeskItemOut]


class AppraisalEvaluationsOut(s.Open):
    """The evaluations of appraisal opinions per institution (no evaluator's name)."""

    institutions: list[dict[str, Any]]


def _appraisal_id(request: web.Request) -> str:
    return request.match_info["appraisal_id"]


async def roster(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, AppraisalRosterQuery)
    return respond({"institutions": await request.app[APPRAISALS].roster(who, q.specialty)})


async def set_specialties(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalSpecialtiesRequest)
    org = request.match_info["organisation_id"]
    return respond(await request.app[APPRAISALS].set_specialties(who, org, list(req.specialties)))


async def start(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, StartAppraisalRequest)
    out = await request.app[APPRAISALS].start(
        who, case_id(request), req.subject, req.description, req.requested_by, now(request)
    )
    return respond(out, 201)


async def list_appraisals(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPRAISALS].appraisals(who, case_id(request)))


async def consent(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalConsentRequest)
    service = request.app[APPRAISALS]
    out = await service.consent(who, case_id(request), _appraisal_id(request), req.agree, req.reason, now(request))
    return respond(out, 201)


async def choose(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalChooseRequest)
    service = request.app[APPRAISALS]
    return respond(
        await service.choose(who, case_id(request), _appraisal_id(request), req.organisation_id, now(request))
    )


async def draw(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPRAISALS].draw(who, case_id(request), _appraisal_id(request), now(request)))


async def appoint(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalAppointRequest)
    service = request.app[APPRAISALS]
    out = await service.appoint(who, case_id(request), _appraisal_id(request), req.fee, req.payer, now(request))
    return respond(out)


async def materials(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalMaterialsRequest)
    service = request.app[APPRAISALS]
    out = await service.send_materials(who, case_id(request), _appraisal_id(request), req.document_ids, now(request))
    return respond(out)


async def apply_reappraisal(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalReappraisalRequest)
    service = request.app[APPRAISALS]
    out = await service.apply_reappraisal(who, case_id(request), _appraisal_id(request), req.reasons, now(request))
    return respond(out, 201)


async def decide_reappraisal(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalDecisionRequest)
    service = request.app[APPRAISALS]
    out = await service.decide_reappraisal(
        who, case_id(request), _appraisal_id(request), req.grant, req.reasons, now(request)
    )
    return respond(out)


async def evaluate(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AppraisalEvaluationRequest)
    service = request.app[APPRAISALS]
    out = await service.evaluate(who, case_id(request), _appraisal_id(request), req.score, req.comment, now(request))
    return respond(out, 201)


async def desk(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPRAISALS].desk(who))


async def desk_item(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPRAISALS].desk_item(who, _appraisal_id(request)))


async def material(request: web.Request) -> web.Response:
    who = await principal(request)
    doc, data = await request.app[APPRAISALS].material(who, _appraisal_id(request), request.match_info["document_id"])
    return stored_file(data, doc.media_type, doc.sha256)


async def opinion(request: web.Request) -> web.Response:
    who = await principal(request)
    data = await raw_body(request, MAX_OPINION)
    return respond(await request.app[APPRAISALS].submit_opinion(who, _appraisal_id(request), data, now(request)), 201)


async def bureau(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[APPRAISALS].bureau(who))


_ONE = f"{_CASE}/appraisals/{{appraisal_id}}"
_DESK = f"{API}/appraisal/desk"
_TAGS = ("appraisal",)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/appraisal/institutions",
        roster,
        "The roster of open appraisal institutions (filter: one specialty); staff accounts",
        "listAppraisalInstitutions",
        AppraisalRosterOut,
        query=AppraisalRosterQuery,
        errors=(401, 403),
        tags=_TAGS,
    ),
    Endpoint(
        "PUT",
        f"{API}/appraisal/institutions/{{organisation_id}}/specialties",
        set_specialties,
        "An appraisal institution's administrator sets what it appraises",
        "setAppraisalSpecialties",
        AppraisalInstitutionOut,
        body=AppraisalSpecialtiesRequest,
        errors=(401, 403, 404, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/appraisals",
        start,
        "The mediator starts an appraisal (在线鉴定) on the case: the parties consent next",
        "startAppraisal",
        AppraisalOut,
        status=201,
        body=StartAppraisalRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_CASE}/appraisals",
        list_appraisals,
        "The case's appraisals (a party sees their own reasons and evaluation only)",
        "listAppraisals",
        AppraisalsOut,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/consent",
        consent,
        "A party agrees to the appraisal, or objects with a reason (an objection blocks the appointment)",
        "consentToAppraisal",
        AppraisalOut,
        status=201,
        body=AppraisalConsentRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/institution",
        choose,
        "The mediator records the institution every party agreed on",
        "chooseAppraisalInstitution",
        AppraisalOut,
        body=AppraisalChooseRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/draw",
        draw,
        "The mediator draws the institution at random from the roster's matching open institutions (recorded)",
        "drawAppraisalInstitution",
        AppraisalOut,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/appointment",
        appoint,
        "The fee and who pays it; the sealed appointment notice is served on the parties",
        "appointAppraisal",
        AppraisalOut,
        body=AppraisalAppointRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "PUT",
        f"{_ONE}/materials",
        materials,
        "The case documents sent to the institution (its appraisers see these and nothing else of the case)",
        "sendAppraisalMaterials",
        AppraisalOut,
        body=AppraisalMaterialsRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/reappraisal",
        apply_reappraisal,
        "A party applies for a new appraisal, with reasons",
        "applyForReappraisal",
        AppraisalOut,
        status=201,
        body=AppraisalReappraisalRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/reappraisal/decision",
        decide_reappraisal,
        "The mediator grants the application (a new round starts) or refuses it with reasons",
        "decideReappraisal",
        AppraisalsOut,
        body=AppraisalDecisionRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/evaluations",
        evaluate,
        "The mediator or a party evaluates the opinion (score 1-5, a comment), once",
        "evaluateAppraisalOpinion",
        AppraisalOut,
        status=201,
        body=AppraisalEvaluationRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _DESK,
        desk,
        "The appraisals entrusted to the caller's institution (its appraisers)",
        "listAppraisalDesk",
        AppraisalDeskOut,
        errors=(401, 403),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/{{appraisal_id}}",
        desk_item,
        "One entrusted appraisal with the materials sent",
        "readAppraisalDeskItem",
        AppraisalDeskItemOut,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/{{appraisal_id}}/materials/{{document_id}}",
        material,
        "A document sent to the institution (any other document of the case: 404)",
        "readAppraisalMaterial",
        None,
        raw_response=("application/pdf", "image/jpeg", "image/png", "text/plain"),
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DESK}/{{appraisal_id}}/opinion",
        opinion,
        "The institution uploads its signed opinion (PDF; refused without a valid signature: unsigned_opinion)",
        "submitAppraisalOpinion",
        AppraisalDeskItemOut,
        status=201,
        raw_body="application/pdf",
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{API}/appraisal/evaluations",
        bureau,
        "The evaluations of appraisal opinions per institution (a justice bureau's officers)",
        "readAppraisalEvaluations",
        AppraisalEvaluationsOut,
        errors=(401, 403),
        tags=_TAGS,
    ),
)
