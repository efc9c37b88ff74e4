"""Endpoints of the mediation agreement: the calculator, drafts (versions) and comments."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field

from server.agreement.service import AgreementService
from server.agreement.signing import SigningService
from server.api import schemas as s
from server.api.routes import _CASE, Endpoint, body, case_id, now, principal, respond
from server.domain.roles import Action

AGREEMENTS: web.AppKey[AgreementService] = web.AppKey("agreements", AgreementService)
SIGNINGS: web.AppKey[SigningService] = web.AppKey("signings", SigningService)


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


class OpenSigningRequest(s.Strict):
    """Open signing on the current draft."""

    deadline_hours: s.Count = Field(default=72, ge=1, le=720)


MAX_MARK_CHARS = 360_000
"""The longest handwritten mark accepted (base64 of a PNG)."""

SIGN_BODY_LIMIT = MAX_MARK_CHARS + 4096
"""A signature's body: the mark plus the code or password and the JSON around them."""


class SignRequest(s.Strict):
    """A signature: the one-time code and the handwritten mark."""

    code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="A party's one-time code")
    password: str | None = Field(default=None, max_length=256, description="The mediator's account password")
    mark_png: str = Field(min_length=16, max_length=MAX_MARK_CHARS, description="The handwritten mark, PNG, base64")


class OpenedSigning(s.Open):
    """The file prepared for signing, its signers in order, and the deadline."""

    document: dict[str, Any]
    signers: list[dict[str, Any]]
    deadline: str


class SigningView(s.Open):
    """Who signs, who signed when, the newest file, and the completion certificate once all have signed."""

    state: str
    deadline: str
    document: dict[str, Any]
    certificate: dict[str, Any] | None
    you: dict[str, Any]
    signers: list[dict[str, Any]]


class SignedView(s.Open):
    """The newest file after a signature; the certificate when it was the last one."""

    state: str
    document: dict[str, Any]
    certificate: dict[str, Any] | None = None


class CodeSent(s.Open):
    """Where the code went (masked)."""

    channel: str
    to: str
    expires_at: str


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


async def open_signing(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, OpenSigningRequest)
    return respond(await request.app[SIGNINGS].open(who, case_id(request), req.deadline_hours, now(request)), 201)


async def signing_status(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SIGNINGS].status(who, case_id(request), now(request)))


async def send_code(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SIGNINGS].send_code(who, case_id(request), now(request)), 201)


async def sign(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, SignRequest, SIGN_BODY_LIMIT)
    return respond(
        await request.app[SIGNINGS].sign(who, case_id(request), req.code, req.password, req.mark_png, now(request)), 201
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{_CASE}/signing",
        open_signing,
        "Open signing on the current draft: every signer's field prepared, the mediator last",
        "openSigning",
        OpenedSigning,
        status=201,
        body=OpenSigningRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("signing",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/signing",
        signing_status,
        "Who signs, who has signed and when, and the newest signed file",
        "readSigning",
        SigningView,
        errors=(401, 403, 404),
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/signing/code",
        send_code,
        "Send the signer a one-time code to their registered phone or e-mail",
        "sendSigningCode",
        CodeSent,
        status=201,
        errors=(401, 403, 404, 422, 429, 503),
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/signing/sign",
        sign,
        "Sign: the one-time code and the handwritten mark; a PAdES B-T signature is added to the PDF",
        "sign",
        SignedView,
        status=201,
        body=SignRequest,
        errors=(401, 403, 404, 409, 422, 429, 503),
        tags=("signing",),
    ),
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
