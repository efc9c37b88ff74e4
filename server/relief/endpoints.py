"""The relief stage's endpoints: a party's (or the mediator's) application from the case, the fund's desk."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from server.cases.endpoints import UPLOAD_TYPES
from server.domain.documents import UPLOAD_MEDIA_TYPES
from server.domain.relief import MAX_EVIDENCE, MAX_TEXT
from server.http import schemas as s
from server.http.kit import (
    _CASE,
    API,
    SETTINGS_MAX_DOC,
    Endpoint,
    body,
    case_id,
    now,
    principal,
    query,
    raw_body,
    respond,
    stored_file,
)
from server.http.problems import ApiError
from server.relief.usecases import NewApplication, ReliefService

RELIEF: web.AppKey[ReliefService] = web.AppKey("relief", ReliefService)

_TRIM = AfterValidator(str.strip)
Yuan = Annotated[
    str,
    StringConstraints(max_length=19, pattern=r"^[0-9]{1,16}(\.[0-9]{1,2})?$"),
    Field(description="Yuan as text: at most 16 digits, 2 decimals, no exponent", examples=["12345.67"]),
]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), _TRIM]
Needed = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=s.NOT_BLANK), _TRIM]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=s.NOT_BLANK), _TRIM]
Day = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[0-9a-zA-Z-]+$")]
Ids = Annotated[list[Id], Field(max_length=MAX_EVIDENCE)]


class ReliefApplicationRequest(s.Strict):
    """An application to a relief fund (救助基金垫付申请)."""

    fund_id: Id
    ground: Literal["fled", "uninsured", "over_limit"]
    advance_kind: Literal["rescue", "funeral", "other"]
    amount: Yuan
    payee: Needed
    description: Text = ""
    documents: Ids = []
    participant_id: Id | None = Field(None, description="The mediator names the applicant it is for")


class ReliefResubmitRequest(s.Strict):
    """The applicant's answer to a request for more material."""

    note: Text = ""
    documents: Ids = []


class ReliefDecisionRequest(s.Strict):
    """The fund's decision: approve (an amount no more than asked), refuse (reasons) or ask for more (a note)."""

    decision: Literal["approve", "refuse", "ask_more"]
    amount: Yuan | None = None
    payee: Needed | None = Field(None, description="On approval: whom the fund pays, if not the payee asked")
    note: Text = ""


class ReliefPaymentRequest(s.Strict):
    """The payment of an approved advance."""

    reference: Reference
    paid_on: Day


class ReliefLiableRequest(s.Strict):
    """The liable party the fund recovers from (null: not identified, fled)."""

    participant_id: Id | None


class ReliefRecoveryRequest(s.Strict):
    """A sum recovered from the liable party."""

    amount: Yuan
    received_on: Day
    reference: Reference


class ReliefWriteOffRequest(s.Strict):
    """Why the rest is written off."""

    reason: Needed


class ReliefStepOut(s.Open):
    action: str
    note: str
    at: AwareDatetime


class ReliefReceivedOut(s.Open):
    amount: str
    received_on: str
    reference: str


class ReliefRecoveryOut(s.Open):
    status: Literal["open", "partly_recovered", "recovered", "written_off"]
    status_name: str
    advanced: str
    recovered: str
    outstanding: str
    liable_participant_id: str | None
    liable_name: str
    written_off_reason: str | None
    received: list[ReliefReceivedOut]


class ReliefApplicationOut(s.Open):
    """An application as its applicant, the case's mediator and the fund's officers see it."""

    id: str
    case_id: str
    fund_id: str
    fund_name: str
    participant_id: str
    party_name: str
    ground: str
    ground_name: str
    advance_kind: str
    advance_name: str
    asked: str
    payee: str
    description: str
    state: Literal["submitted", "more_requested", "approved", "paid", "refused"]
    note: str
    approved: str | None
    payment_reference: str | None
    paid_on: str | None
    evidence: list[s.DocumentOut]
    steps: list[ReliefStepOut]
    recovery: ReliefRecoveryOut | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ReliefPartyOut(s.Open):
    participant_id: str
    name: str
    role_name: str


class ReliefFundApplicationOut(ReliefApplicationOut):
    """An application as the fund's officers see it."""

    case_number: str
    parties: list[ReliefPartyOut]


class ReliefFundOut(s.Open):
    id: str
    name: str
    region: str


class ReliefApplicantOut(s.Open):
    participant_id: str
    name: str


class CaseReliefOut(s.Open):
    """The case's applications the caller may read, the open funds, and whom the caller may apply for."""

    applications: list[ReliefApplicationOut]
    funds: list[ReliefFundOut]
    applicants: list[ReliefApplicantOut]


class ReliefDeskRow(s.Open):
    id: str
    case_number: str
    state: str
    ground: str
    advance_kind: str
    asked: str
    approved: str | None
    recovery_status: str | None
    outstanding: str | None
    updated_at: AwareDatetime


class ReliefFigures(s.Open):
    advanced: str
    recovered: str
    outstanding: str


class ReliefDeskOut(s.Open):
    """The fund's queue and its recovery figures."""

    applications: list[ReliefDeskRow]
    figures: ReliefFigures


def _application(request: web.Request) -> str:
    return request.match_info["application_id"]


async def list_case(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[RELIEF].of_case(who, case_id(request)))


async def apply(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefApplicationRequest)
    new = NewApplication(
        req.fund_id,
        req.ground,
        req.advance_kind,
        req.amount,
        req.payee,
        req.description,
        tuple(req.documents),
        req.participant_id,
    )
    return respond(await request.app[RELIEF].apply(who, case_id(request), new, now(request)), 201)


async def upload(request: web.Request) -> web.Response:
    who = await principal(request)
    meta = query(request, s.DocumentQuery)
    data = await raw_body(request, request.app[SETTINGS_MAX_DOC])
    media_type = request.content_type or "application/octet-stream"
    if media_type not in UPLOAD_MEDIA_TYPES:
        raise ApiError(415, "unsupported_media_type", "Documents must be PDF, JPEG, PNG or plain text")
    out = await request.app[RELIEF].upload(
        who, case_id(request), data, kind=meta.kind, title=meta.title, media_type=media_type, now=now(request)
    )
    return respond(out, 201)


async def resubmit(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefResubmitRequest)
    out = await request.app[RELIEF].resubmit(
        who, case_id(request), _application(request), req.note, req.documents, now(request)
    )
    return respond(out)


async def desk(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[RELIEF].desk(who))


async def read(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[RELIEF].read(who, _application(request)))


async def evidence(request: web.Request) -> web.Response:
    who = await principal(request)
    doc, data = await request.app[RELIEF].evidence(who, _application(request), request.match_info["document_id"])
    return stored_file(data, doc.media_type, doc.sha256)


async def decide(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefDecisionRequest)
    out = await request.app[RELIEF].decide(
        who, _application(request), req.decision, amount=req.amount, payee=req.payee, note=req.note, now=now(request)
    )
    return respond(out)


async def pay(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefPaymentRequest)
    return respond(await request.app[RELIEF].pay(who, _application(request), req.reference, req.paid_on, now(request)))


async def liable(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefLiableRequest)
    return respond(await request.app[RELIEF].set_liable(who, _application(request), req.participant_id, now(request)))


async def recover(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefRecoveryRequest)
    out = await request.app[RELIEF].recover(
        who, _application(request), req.amount, req.received_on, req.reference, now(request)
    )
    return respond(out, 201)


async def write_off(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ReliefWriteOffRequest)
    return respond(await request.app[RELIEF].write_off(who, _application(request), req.reason, now(request)))


_FUND = f"{API}/relief/applications"
_ONE = f"{_FUND}/{{application_id}}"
_TAGS = ("relief",)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_CASE}/relief",
        list_case,
        "A case's relief fund applications the caller may read (a party: their own), and the open funds",
        "listCaseReliefApplications",
        CaseReliefOut,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/relief",
        apply,
        "Apply to a relief fund for an advance (救助基金垫付): a party of the applicant side, or the mediator for them",
        "applyForReliefAdvance",
        ReliefApplicationOut,
        status=201,
        body=ReliefApplicationRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/relief/evidence",
        upload,
        "Upload evidence for a relief application (raw body, checked from its bytes; kept as a staff document)",
        "uploadReliefEvidence",
        s.DocumentOut,
        status=201,
        query=s.DocumentQuery,
        raw_body=UPLOAD_TYPES,
        errors=(401, 403, 404, 409, 422, 429),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/relief/{{application_id}}/resubmit",
        resubmit,
        "Answer the fund's request for more material: a note and more documents; back to the fund",
        "resubmitReliefApplication",
        ReliefApplicationOut,
        body=ReliefResubmitRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _FUND,
        desk,
        "The relief fund's desk: its applications and recovery figures (advanced, recovered, outstanding)",
        "readReliefDesk",
        ReliefDeskOut,
        errors=(401, 403),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _ONE,
        read,
        "One application to the caller's fund, with its evidence, steps and recovery",
        "readReliefApplication",
        ReliefFundApplicationOut,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_ONE}/evidence/{{document_id}}",
        evidence,
        "A document attached to an application to the caller's fund (no other document of the case)",
        "readReliefEvidence",
        None,
        raw_response=UPLOAD_TYPES,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/decision",
        decide,
        "Approve an application (no more than asked), refuse it with reasons, or ask for more material",
        "decideReliefApplication",
        ReliefFundApplicationOut,
        body=ReliefDecisionRequest,
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/payment",
        pay,
        "Record the payment of an approved advance (reference, date): 已垫付",
        "payReliefAdvance",
        ReliefFundApplicationOut,
        body=ReliefPaymentRequest,
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "PUT",
        f"{_ONE}/liable",
        liable,
        "Name the liable party the fund recovers a paid advance from (null: not identified, fled)",
        "nameReliefLiableParty",
        ReliefFundApplicationOut,
        body=ReliefLiableRequest,
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/recoveries",
        recover,
        "Record a sum recovered from the liable party (追偿)",
        "recordReliefRecovery",
        ReliefFundApplicationOut,
        status=201,
        body=ReliefRecoveryRequest,
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ONE}/write-off",
        write_off,
        "Write off what remains to recover, with a reason",
        "writeOffReliefRecovery",
        ReliefFundApplicationOut,
        body=ReliefWriteOffRequest,
        errors=(401, 404, 409, 422),
        tags=_TAGS,
    ),
)
