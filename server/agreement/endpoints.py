"""Endpoints of the mediation agreement: the calculator, drafts (versions) and comments."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field

from server.agreement.usecases import AgreementService
from server.domain.roles import Action
from server.http import schemas as s
from server.http.kit import _CASE, Endpoint, body, case_id, now, principal, respond

AGREEMENTS: web.AppKey[AgreementService] = web.AppKey("agreements", AgreementService)


class Claim(s.Strict):
    """A traffic-accident compensation claim for the calculator (money as text: "12000.00")."""

    model_config = ConfigDict(extra="forbid", strict=False)
    items: list[dict[str, Any]] = Field(max_length=40)
    vehicles: list[dict[str, Any]] = Field(max_length=10)
    victim_share: int | str = 0
    emotional_distress_first: bool = True


class TermsRequest(s.Strict):
    """A draft of the agreement."""

    model_config = ConfigDict(extra="forbid", strict=False)
    facts: str = Field(min_length=1, max_length=4000)
    claim: Claim | None = None
    obligations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    other_terms: list[str] = Field(default_factory=list, max_length=30)


class CommentRequest(s.Strict):
    """A comment on one version."""

    text: str = Field(min_length=1, max_length=2000)


class SplitView(s.Open):
    """Who pays what: per payer and per item, with the explanation."""

    currency: str
    payers: list[dict[str, Any]]
    items: list[dict[str, Any]]
    grand_total: str
    recovered: str
    explanation: list[str]


class DraftView(s.Open):
    """A stored version of the agreement."""

    version: int
    document: dict[str, Any]
    terms: dict[str, Any]


class DraftsView(s.Open):
    """Every version with its comments."""

    drafts: list[dict[str, Any]]


class CommentView(s.Open):
    """A stored comment."""

    id: str
    version: int
    participant_id: str
    text: str
    at: str


async def calculate(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[AGREEMENTS].cases.require(who, case_id(request), Action.DRAFT_AGREEMENT)
    claim = await body(request, Claim)
    return respond(AgreementService.preview(claim.model_dump()).as_dict())


async def draft(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, TermsRequest)
    stored = await request.app[AGREEMENTS].draft(who, case_id(request), req.model_dump(), now(request))
    return respond({"version": stored.version, "document": stored.pdf, "terms": stored.terms}, 201)


async def drafts(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"drafts": await request.app[AGREEMENTS].drafts(who, case_id(request))})


async def comment(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, CommentRequest)
    raw = request.match_info["version"]
    if not raw.isdigit() or len(raw) > 6:
        raise web.HTTPNotFound()
    out = await request.app[AGREEMENTS].comment(who, case_id(request), int(raw), req.text, now(request))
    return respond(out, 201)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{_CASE}/agreement/calculate",
        calculate,
        "The compensation calculator: split a claim between compulsory and commercial insurers and the parties",
        "calculateCompensation",
        SplitView,
        body=Claim,
        errors=(401, 403, 404, 422),
        tags=("agreement",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/agreement/drafts",
        draft,
        "Draft (or redraft) the agreement: a new version, its PDF and terms readable by the parties",
        "draftAgreement",
        DraftView,
        status=201,
        body=TermsRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("agreement",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/agreement/drafts",
        drafts,
        "Every version of the agreement with its terms, split, signers and comments",
        "readAgreementDrafts",
        DraftsView,
        errors=(401, 403, 404),
        tags=("agreement",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/agreement/drafts/{{version}}/comments",
        comment,
        "Comment on a version of the agreement (parties and the mediator)",
        "commentAgreementDraft",
        CommentView,
        status=201,
        body=CommentRequest,
        errors=(401, 403, 404, 422),
        tags=("agreement",),
    ),
)
