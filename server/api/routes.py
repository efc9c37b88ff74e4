"""The ``/api/v1`` routes: one table of endpoints, each with its schemas and errors.

The table (:data:`ENDPOINTS`) both registers the aiohttp routes and generates
the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from server import __version__
from server.api import schemas as s
from server.api.problems import ApiError
from server.cases import CaseService, NewParticipant, document_view
from server.domain import lifecycle as lc
from server.domain.documents import UPLOAD_MEDIA_TYPES
from server.domain.roles import Action
from server.domain.views import participant_view
from server.errors import Unauthenticated
from server.identity.access import Authenticator, IssuedToken, Principal
from server.store.repository import LoadedCase

API = "/api/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

SERVICE: web.AppKey[CaseService] = web.AppKey("service", CaseService)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock", Callable[[], datetime])  # type: ignore[arg-type]
SETTINGS_MAX_BODY: web.AppKey[int] = web.AppKey("max_body", int)
SETTINGS_MAX_DOC: web.AppKey[int] = web.AppKey("max_doc", int)
BASE_URL: web.AppKey[str] = web.AppKey("base_url", str)
RECORDINGS: web.AppKey[Any] = web.AppKey("recordings", object)
TRANSCRIBER: web.AppKey[Any] = web.AppKey("transcriber", object)
"""The live transcript's worker pool (None when the transcript is off)."""


@dataclass(frozen=True)
class Endpoint:
    """One API operation."""

    method: str
    """HTTP method."""
    path: str
    """Path under the server root."""
    handler: Handler
    """The aiohttp handler."""
    summary: str
    """One line for the OpenAPI document."""
    operation_id: str
    """Stable operation name."""
    response: type[BaseModel] | None
    """Schema of a successful response body (None: no JSON body)."""
    status: int = 200
    """Status of success."""
    body: type[BaseModel] | None = None
    """Schema of the JSON request body."""
    query: type[BaseModel] | None = None
    """Schema of the query string."""
    auth: bool = True
    """Whether a bearer token is required."""
    errors: tuple[int, ...] = ()
    """Problem statuses this operation can answer with (the OpenAPI document adds 400/413/415/500,
    401 where a token is required, and 408/422 where a body or a query is read)."""
    raw_body: str | tuple[str, ...] | None = None
    """Media type(s) of a raw (non-JSON) request body: exactly those the handler accepts."""
    raw_response: str | tuple[str, ...] | None = None
    """Media type(s) of a raw response body (several: the stored document's own type)."""
    tags: tuple[str, ...] = field(default_factory=tuple)
    """OpenAPI tags."""


# ---------------------------------------------------------------- helpers


def now(request: web.Request) -> datetime:
    """The request's clock (injectable for tests)."""
    return request.app[CLOCK]()


async def principal(request: web.Request, *, service_link: bool = False) -> Principal:
    """The authenticated caller, from ``Authorization: Bearer …`` (a service link only where asked for)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send a token: Authorization: Bearer <token>")
    return await request.app[AUTH].authenticate(token.strip(), now(request), service_link=service_link)


async def body(request: web.Request, model: type[M], limit: int | None = None) -> M:
    """Read and validate a JSON body (the whole body, size-limited, JSON media type only).

    ``limit`` raises the default cap (``max_body_bytes``) for the few bodies that carry more
    (the handwritten mark of a signature).
    """
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json")
    raw = await read_all(request, limit or request.app[SETTINGS_MAX_BODY])
    return model.model_validate_json(raw or b"null")


BODY_IDLE_TIMEOUT = 30.0
"""Seconds a request body may stall between two pieces before the request is refused (408)."""

_CHUNK = 64 * 1024


async def read_all(request: web.Request, limit: int) -> bytes:
    """The whole request body, however many pieces it arrives in; 413 past ``limit`` bytes.

    ``StreamReader.read(n)`` returns only what is already buffered, so one call cut bodies
    from slow phones short. This reads until the end of the body; a body that stalls for
    :data:`BODY_IDLE_TIMEOUT` seconds is refused with 408 rather than holding a handler.
    """
    too_large = ApiError(413, "payload_too_large", f"The body is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_TIMEOUT):
                chunk = await request.content.read(min(_CHUNK, limit + 1 - len(data)))
        except TimeoutError:
            raise ApiError(408, "request_timeout", "The body stopped arriving; send it again") from None
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise too_large
    if request.content_length is not None and len(data) != request.content_length:
        raise ApiError(400, "bad_request", "The body ended before its Content-Length")
    return bytes(data)


def query(request: web.Request, model: type[M]) -> M:
    """Validate the query string; repeated keys become lists."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        list_field = key in model.model_fields and "list" in str(model.model_fields[key].annotation)
        data[key] = values if list_field else values[-1]
    return model.model_validate(data)


async def raw_body(request: web.Request, limit: int) -> bytes:
    """A non-JSON body (a document, a timestamp query): the whole of it, at most ``limit`` bytes, not empty."""
    data = await read_all(request, limit)
    if not data:
        raise ApiError(422, "validation_failed", "The body is empty")
    return data


def expected_version(request: web.Request) -> int | None:
    """The client's If-Match version, if sent."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, "bad_request", 'If-Match must be a case version, e.g. "3"')
    return int(text)


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response that caches nothing."""
    h = {"Cache-Control": "no-store"}
    h.update(headers or {})
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json", headers=h
    )


def case_id(request: web.Request) -> str:
    """The ``{case_id}`` path segment (any text: unknown ids are simply not found)."""
    return request.match_info["case_id"]


async def case_response(request: web.Request, who: Principal, cid: str, status: int = 200) -> web.Response:
    """The case as the caller sees it, with its version as ETag."""
    view = await request.app[SERVICE].view(who, cid)
    return respond(view, status, {"ETag": f'"{view["version"]}"'})


def link_out(request: web.Request, issued: IssuedToken) -> dict[str, Any]:
    """A join link: the token rides in the fragment, so it never reaches server logs or Referer."""
    return {
        "join_url": f"{request.app[BASE_URL]}/join#token={issued.token}",
        "token": issued.token,
        "expires_at": issued.expires_at.isoformat(),
    }


# ---------------------------------------------------------------- handlers


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[SERVICE].repo.ping()
        db = "ok"
    except Exception:  # noqa: BLE001 - health reports, never raises
        db = "unreachable"
    pool = request.app.get(TRANSCRIBER)
    if pool is None:
        transcript = "off"
    else:
        transcript = "unavailable" if not pool.available else ("ready" if pool.engine else "loading")
    return respond(
        {
            "status": "ok" if db == "ok" else "degraded",
            "database": db,
            "transcript": transcript,
            "version": __version__,
        },
        200 if db == "ok" else 503,
    )


async def login(request: web.Request) -> web.Response:
    req = await body(request, s.LoginRequest)
    issued, account = await request.app[AUTH].login(req.username, req.password, now(request))
    return respond(
        {
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(),
            "account": {
                "id": account.id,
                "username": account.username,
                "display_name": account.display_name,
                "kind": account.kind.value,
                "organization": account.organization,
            },
        }
    )


async def logout(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[AUTH].logout(who, now(request))
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def me(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SERVICE].me(who))


async def create_case(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, s.CreateCaseRequest)
    loaded = await request.app[SERVICE].create_case(who, req.kind, req.title, now(request), number=req.number)
    response = await case_response(request, who, loaded.case.id, 201)
    response.headers["Location"] = f"{API}/cases/{loaded.case.id}"
    return response


async def list_cases(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, s.ListCasesQuery)
    items, total = await request.app[SERVICE].list_cases(
        who, states=q.state, kind=q.kind, query=q.q, limit=q.limit, offset=q.offset
    )
    return respond(
        {
            "items": [
                {
                    "id": c.id,
                    "number": c.number,
                    "kind": c.kind,
                    "title": c.title,
                    "state": c.state.value,
                    "filed_at": c.filed_at.isoformat(),
                    "updated_at": c.updated_at.isoformat(),
                    "your_role": c.role.value,
                }
                for c in items
            ],
            "total": total,
            "limit": q.limit,
            "offset": q.offset,
        }
    )


async def read_case(request: web.Request) -> web.Response:
    who = await principal(request)
    return await case_response(request, who, case_id(request))


async def add_participant(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, s.AddParticipantRequest)
    added = await request.app[SERVICE].add_participant(
        who,
        case_id(request),
        NewParticipant(
            role=req.role,
            display_name=req.display_name,
            phone=req.phone,
            email=req.email,
            id_number=req.id_number,
            account_username=req.account_username,
            represents=req.represents,
        ),
        now(request),
    )
    return respond(
        {
            "participant": participant_view(added.participant, contacts=True, full_id=True),
            "link": link_out(request, added.link) if added.link else None,
        },
        201,
    )


async def reissue_link(request: web.Request) -> web.Response:
    who = await principal(request)
    issued = await request.app[SERVICE].reissue_link(
        who, case_id(request), request.match_info["participant_id"], now(request)
    )
    return respond(link_out(request, issued), 201)


async def revoke_link(request: web.Request) -> web.Response:
    who = await principal(request)
    count = await request.app[SERVICE].revoke_links(
        who, case_id(request), request.match_info["participant_id"], now(request)
    )
    return respond({"revoked": count})


async def schedule_session(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, s.ScheduleSessionRequest)
    cid = case_id(request)
    _, session_id = await request.app[SERVICE].schedule_session(
        who,
        cid,
        req.starts_at.astimezone(UTC),
        timedelta(minutes=req.duration_minutes),
        now(request),
        expected_version(request),
    )
    view = await request.app[SERVICE].view(who, cid)
    return respond({"session_id": session_id, "case": view}, 201, {"ETag": f'"{view["version"]}"'})


def _session_command(make: Callable[[str], lc.Command]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = await principal(request)
        cid = case_id(request)
        await _run(request, who, cid, make(request.match_info["session_id"]), Action.RUN_SESSION)
        return await case_response(request, who, cid)

    return handler


def _reason_command(make: Callable[[str], lc.Command]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = await principal(request)
        req = await body(request, s.ReasonRequest)
        cid = case_id(request)
        await _run(request, who, cid, make(req.reason), Action.CHANGE_STATE)
        return await case_response(request, who, cid)

    return handler


async def _run(request: web.Request, who: Principal, cid: str, command: lc.Command, action: Action) -> LoadedCase:
    return await request.app[SERVICE].execute(who, cid, command, action, now(request), expected_version(request))


async def add_document(request: web.Request) -> web.Response:
    who = await principal(request)
    meta = query(request, s.DocumentQuery)
    data = await raw_body(request, request.app[SETTINGS_MAX_DOC])
    media_type = request.content_type or "application/octet-stream"
    if media_type not in UPLOAD_MEDIA_TYPES:
        raise ApiError(415, "unsupported_media_type", "Documents must be PDF, JPEG, PNG or plain text")
    doc = await request.app[SERVICE].add_document(
        who,
        case_id(request),
        data,
        kind=meta.kind,
        title=meta.title,
        media_type=media_type,
        visibility=meta.visibility,
        now=now(request),
    )
    return respond(document_view(doc), 201)


async def read_document(request: web.Request) -> web.Response:
    who = await principal(request)
    doc, data = await request.app[SERVICE].read_document(who, case_id(request), request.match_info["document_id"])
    return web.Response(
        body=data,
        content_type=doc.media_type,
        headers={
            "Cache-Control": "no-store",
            "ETag": f'"{doc.sha256}"',
            "Content-Disposition": "attachment",
            "X-Content-SHA256": doc.sha256,
        },
    )


async def audit_trail(request: web.Request) -> web.Response:
    who = await principal(request)
    entries, verdict = await request.app[SERVICE].audit_trail(who, case_id(request))
    return respond(
        {
            "entries": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "details": e.details_dict(),
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in entries
            ],
            "verification": {
                "ok": verdict.ok,
                "entries": verdict.entries,
                "first_bad_seq": verdict.first_bad_seq,
                "problem": verdict.problem or None,
                "summary": verdict.describe(),
            },
        }
    )


async def verify_recording(request: web.Request) -> web.Response:
    who = await principal(request)
    cid = case_id(request)
    await request.app[SERVICE].require(who, cid, Action.READ_AUDIT)
    verdicts = await request.app[RECORDINGS].verify(cid)
    return respond({"ok": all(v.ok for v in verdicts), "sessions": [v.as_dict() for v in verdicts]})


async def chat(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"lines": await request.app[SERVICE].chat(who, case_id(request))})


async def openapi(request: web.Request) -> web.Response:
    from server.api.openapi import document  # the document is built from the endpoint tables
    from server.api.table import ENDPOINTS as ALL

    return respond(document(ALL))


# ---------------------------------------------------------------- the table

_CASE = f"{API}/cases/{{case_id}}"
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/png", "text/plain")
"""What an upload may be (the contract test holds this to what ``addDocument`` takes)."""
DOCUMENT_MEDIA_TYPES = (*UPLOAD_TYPES, "application/json")
"""What a stored document can be: an upload's type, or a platform document's (PDF; JSON manifests and indexes)."""
_RW = (401, 403, 404, 409, 412, 422)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/health",
        health,
        "Liveness and database check",
        "health",
        s.Health,
        auth=False,
        errors=(503,),
        tags=("system",),
    ),
    Endpoint(
        "GET",
        f"{API}/openapi.json",
        openapi,
        "This OpenAPI document",
        "openapi",
        None,
        auth=False,
        raw_response="application/json",
        tags=("system",),
    ),
    Endpoint(
        "POST",
        f"{API}/auth/login",
        login,
        "Log in as a mediator or judge",
        "login",
        s.LoginResponse,
        body=s.LoginRequest,
        auth=False,
        errors=(401, 422, 429),
        tags=("identity",),
    ),
    Endpoint(
        "POST",
        f"{API}/auth/logout",
        logout,
        "Revoke the token in use",
        "logout",
        None,
        status=204,
        errors=(401,),
        tags=("identity",),
    ),
    Endpoint("GET", f"{API}/me", me, "Who the token belongs to", "me", s.Me, errors=(401,), tags=("identity",)),
    Endpoint(
        "POST",
        f"{API}/cases",
        create_case,
        "File a new case (mediators)",
        "createCase",
        s.CaseView,
        status=201,
        body=s.CreateCaseRequest,
        errors=(401, 403, 409, 422),
        tags=("cases",),
    ),
    Endpoint(
        "GET",
        f"{API}/cases",
        list_cases,
        "List and filter the caller's cases (mediators, judges)",
        "listCases",
        s.CaseList,
        query=s.ListCasesQuery,
        errors=(401, 403, 422),
        tags=("cases",),
    ),
    Endpoint(
        "GET",
        _CASE,
        read_case,
        "Read a case as the caller's role may see it",
        "readCase",
        s.CaseView,
        errors=(401, 403, 404),
        tags=("cases",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/participants",
        add_participant,
        "Add a participant; parties receive a join link",
        "addParticipant",
        s.AddedParticipant,
        status=201,
        body=s.AddParticipantRequest,
        errors=_RW,
        tags=("participants",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/participants/{{participant_id}}/link",
        reissue_link,
        "Revoke a party's join links and issue a new one (links to documents served on them stay good)",
        "reissueLink",
        s.JoinLink,
        status=201,
        errors=(401, 403, 404, 422),
        tags=("participants",),
    ),
    Endpoint(
        "DELETE",
        f"{_CASE}/participants/{{participant_id}}/link",
        revoke_link,
        "Revoke every join link of a participant (links to documents served on them stay good)",
        "revokeLinks",
        s.Revoked,
        errors=(401, 403, 404),
        tags=("participants",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/sessions",
        schedule_session,
        "Schedule a mediation session",
        "scheduleSession",
        s.ScheduledSession,
        status=201,
        body=s.ScheduleSessionRequest,
        errors=_RW,
        tags=("sessions",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/sessions/{{session_id}}/start",
        _session_command(lambda sid: lc.StartSession(session_id=sid)),
        "Start a scheduled session",
        "startSession",
        s.CaseView,
        errors=_RW,
        tags=("sessions",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/sessions/{{session_id}}/end",
        _session_command(lambda sid: lc.EndSession(session_id=sid)),
        "End the running session",
        "endSession",
        s.CaseView,
        errors=_RW,
        tags=("sessions",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/sessions/{{session_id}}/cancel",
        _session_command(lambda sid: lc.CancelSession(session_id=sid)),
        "Cancel a scheduled session",
        "cancelSession",
        s.CaseView,
        errors=_RW,
        tags=("sessions",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/withdraw",
        _reason_command(lambda r: lc.Withdraw(reason=r)),
        "Record the applicant's withdrawal",
        "withdrawCase",
        s.CaseView,
        body=s.ReasonRequest,
        errors=_RW,
        tags=("cases",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/refer-to-litigation",
        _reason_command(lambda r: lc.FailMediation(reason=r)),
        "Record failed mediation; refer the case to litigation",
        "referToLitigation",
        s.CaseView,
        body=s.ReasonRequest,
        errors=_RW,
        tags=("cases",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/documents",
        add_document,
        "Upload a case document (raw body; metadata in the query)",
        "addDocument",
        s.DocumentOut,
        status=201,
        query=s.DocumentQuery,
        raw_body=UPLOAD_TYPES,
        errors=(401, 403, 404, 409, 422),
        tags=("documents",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/documents/{{document_id}}",
        read_document,
        "Download a case document (in its own media type)",
        "readDocument",
        None,
        raw_response=DOCUMENT_MEDIA_TYPES,
        errors=(401, 403, 404),
        tags=("documents",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/recording/verify",
        verify_recording,
        "Verify the case's recordings: manifest signatures, every segment's seal and hash",
        "verifyRecording",
        s.RecordingVerification,
        errors=(401, 403, 404),
        tags=("recording",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/chat",
        chat,
        "Chat lines of the case's sessions (staff: all; parties: those that reached them)",
        "readChat",
        s.ChatLog,
        errors=(401, 403, 404),
        tags=("sessions",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/audit",
        audit_trail,
        "The case's audit trail and its hash-chain verification",
        "readAudit",
        s.AuditTrail,
        errors=(401, 403, 404),
        tags=("audit",),
    ),
)
