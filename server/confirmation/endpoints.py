"""Endpoints of judicial confirmation: the application and each party's confirmation, the court's
queue, taking an application, one-click verification of the packet, requests for more material,
the parties' material, and the ruling."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field

from e_sign.verify import verify_pdf
from server.cases.endpoints import SERVICE
from server.cases.usecases import document_view
from server.confirmation.usecases import MATERIAL_TYPES, ConfirmationService
from server.domain.roles import Action
from server.errors import NotFound
from server.http import schemas as s
from server.http.kit import _CASE, API, RECORDINGS, Endpoint, body, case_id, now, principal, query, raw_body, respond
from server.signing.endpoints import SIGNING, report_view

CONFIRMATIONS: web.AppKey[ConfirmationService] = web.AppKey("confirmations", ConfirmationService)
MAX_MATERIAL = 20 * 1024 * 1024


class PrepareRequest(s.Strict):
    """The court the parties apply to."""

    court: str = Field(min_length=2, max_length=200)


class RequestMaterial(s.Strict):
    """What the court needs, and by when (days)."""

    text: str = Field(min_length=2, max_length=4000)
    days: s.Count = Field(default=7, ge=1, le=30)


class RulingRequest(s.Strict):
    """Confirm the agreement or reject the application (a rejection needs reasons)."""

    confirmed: bool
    reasons: str = Field(default="", max_length=8000)


class MaterialQuery(s.Strict):
    """The material's title."""

    model_config = ConfigDict(extra="forbid", strict=False)
    title: s.Name


class ConfirmationView(s.Open):
    court: str
    state: str
    apply_by: str | None
    prepared_at: str
    applicants: list[dict[str, Any]]
    submitted_at: str | None
    review_deadline: str | None
    packet_document_id: str | None
    ruling_document_id: str | None
    confirmed: bool | None


class PacketIndex(s.Open):
    """The submitted packet's index: the application, every document with its SHA-256, the applicants."""

    format: str
    court: str
    case: dict[str, Any]
    submitted_at: str
    application: dict[str, Any]
    documents: list[dict[str, Any]]
    applicants: list[dict[str, Any]]


class QueueView(s.Open):
    applications: list[dict[str, Any]]


class CourtsView(s.Open):
    courts: list[str]


class VerificationView(s.Open):
    ok: bool
    agreement: dict[str, Any]
    recordings: dict[str, Any]
    audit: dict[str, Any]
    documents: list[dict[str, Any]]


class RulingView(s.Open):
    document: dict[str, Any]
    confirmed: bool
    service: dict[str, Any]


class RequestView(s.Open):
    document: dict[str, Any]
    service: dict[str, Any]


async def courts(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"courts": await request.app[CONFIRMATIONS].courts(who)})


async def prepare(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, PrepareRequest)
    return respond(await request.app[CONFIRMATIONS].prepare(who, case_id(request), req.court, now(request)), 201)


async def status(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CONFIRMATIONS].status(who, case_id(request)))


async def confirm(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CONFIRMATIONS].confirm(who, case_id(request), now(request)))


async def packet(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CONFIRMATIONS].packet(who, case_id(request)))


async def verify(request: web.Request) -> web.Response:
    """One click: the agreement's signatures, the recordings' hash chains, the audit chain, the packet's hashes."""
    who = await principal(request)
    cid = case_id(request)
    await request.app[SERVICE].require(who, cid, Action.READ_AUDIT)
    index = await request.app[CONFIRMATIONS].packet(who, cid)
    documents = []
    agreement_pdf = b""
    for entry in [index["application"], *index["documents"]]:
        doc, data = await request.app[SERVICE].read_document(who, cid, entry["id"])
        documents.append(
            {
                "id": doc.id,
                "title": doc.title,
                "sha256": entry["sha256"],
                "intact": hashlib.sha256(data).hexdigest() == entry["sha256"],
            }
        )
        if entry["id"] == index["documents"][0]["id"]:
            agreement_pdf = data
    report = await asyncio.to_thread(verify_pdf, agreement_pdf, request.app[SIGNING].trust_roots)
    verdicts = await request.app[RECORDINGS].verify(cid, now(request))
    _entries, chain = await request.app[SERVICE].audit_trail(who, cid)
    recordings = {"ok": all(v.ok for v in verdicts), "sessions": [v.as_dict() for v in verdicts]}
    audit = {"ok": chain.ok, "entries": chain.entries, "problem": chain.problem or None}
    ok = report.ok and recordings["ok"] and chain.ok and all(d["intact"] for d in documents)
    return respond(
        {"ok": ok, "agreement": report_view(report), "recordings": recordings, "audit": audit, "documents": documents}
    )


async def add_material(request: web.Request) -> web.Response:
    who = await principal(request)
    meta = query(request, MaterialQuery)
    data = await raw_body(request, MAX_MATERIAL)
    doc = await request.app[CONFIRMATIONS].add_material(
        who, case_id(request), data, request.content_type, meta.title, now(request)
    )
    return respond(document_view(doc), 201)


async def request_material(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RequestMaterial)
    out = await request.app[CONFIRMATIONS].request_material(who, case_id(request), req.text, req.days, now(request))
    return respond(out, 201)


async def rule(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RulingRequest)
    out = await request.app[CONFIRMATIONS].rule(who, case_id(request), req.confirmed, req.reasons, now(request))
    return respond(out, 201)


async def queue(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"applications": await request.app[CONFIRMATIONS].queue(who, now(request))})


async def take(request: web.Request) -> web.Response:
    who = await principal(request)
    raw = request.match_info["case_id"]
    if len(raw) != 36:
        raise NotFound("No such application in your court")
    return respond(await request.app[CONFIRMATIONS].take(who, raw, now(request)))


_CONF = f"{_CASE}/confirmation"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/courts",
        courts,
        "Courts on the platform (those with judges)",
        "listCourts",
        CourtsView,
        errors=(401, 403),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        _CONF,
        prepare,
        "Prepare the joint application for judicial confirmation, naming the court (the mediator)",
        "prepareConfirmation",
        ConfirmationView,
        status=201,
        body=PrepareRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("confirmation",),
    ),
    Endpoint(
        "GET",
        _CONF,
        status,
        "Where the application stands: court, confirmations, deadlines, packet, ruling",
        "readConfirmation",
        ConfirmationView,
        errors=(401, 403, 404),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{_CONF}/confirm",
        confirm,
        "A party confirms they apply; the last confirmation submits the packet to the court's queue",
        "confirmApplication",
        ConfirmationView,
        errors=(401, 403, 404, 409, 422),
        tags=("confirmation",),
    ),
    Endpoint(
        "GET",
        f"{_CONF}/packet",
        packet,
        "The submitted packet's index: every document with its SHA-256",
        "readConfirmationPacket",
        PacketIndex,
        errors=(401, 403, 404),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{_CONF}/verify",
        verify,
        "One click: the agreement's signatures, the recordings' hash chains, the audit chain, the packet's hashes",
        "verifyConfirmationPacket",
        VerificationView,
        errors=(401, 403, 404),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{_CONF}/materials",
        add_material,
        "A party hands in material the court asked for (raw body)",
        "addConfirmationMaterial",
        s.DocumentOut,
        status=201,
        query=MaterialQuery,
        raw_body=tuple(sorted(MATERIAL_TYPES)),
        errors=(401, 403, 404, 413, 422),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{_CONF}/requests",
        request_material,
        "The judge asks the parties for more material: a court-sealed notice, served electronically",
        "requestConfirmationMaterial",
        RequestView,
        status=201,
        body=RequestMaterial,
        errors=(401, 403, 404, 422),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{_CONF}/ruling",
        rule,
        "The judge rules: confirmed (enforceable) or rejected with reasons; signed with the court's key and served",
        "ruleOnConfirmation",
        RulingView,
        status=201,
        body=RulingRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("confirmation",),
    ),
    Endpoint(
        "GET",
        f"{API}/court/applications",
        queue,
        "The judge's court's pending applications with their review deadlines",
        "listCourtApplications",
        QueueView,
        errors=(401, 403),
        tags=("confirmation",),
    ),
    Endpoint(
        "POST",
        f"{API}/court/applications/{{case_id}}/take",
        take,
        "A judge of the court takes an application and joins the case as its judge",
        "takeCourtApplication",
        ConfirmationView,
        errors=(401, 403, 404),
        tags=("confirmation",),
    ),
)
