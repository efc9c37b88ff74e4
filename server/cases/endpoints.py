"""The case's own endpoints: creating and listing cases, participants and their links,
sessions and the life-cycle commands, documents, the audit trail and the chat log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime

from server.cases.invitations import Invitations
from server.cases.usecases import CaseService, NewParticipant, document_view
from server.domain import lifecycle as lc
from server.domain.documents import UPLOAD_MEDIA_TYPES
from server.domain.roles import Action
from server.domain.views import participant_view
from server.http import schemas as s
from server.http.kit import (
    _CASE,
    API,
    RECORDINGS,
    SETTINGS_MAX_DOC,
    Endpoint,
    Handler,
    body,
    case_id,
    expected_version,
    link_out,
    now,
    principal,
    query,
    raw_body,
    respond,
    stored_file,
)
from server.http.problems import ApiError
from server.identity.access import Principal
from server.store.repository import LoadedCase

SERVICE: web.AppKey[CaseService] = web.AppKey("service", CaseService)
INVITATIONS: web.AppKey[Invitations] = web.AppKey("invitations", Invitations)


async def case_response(request: web.Request, who: Principal, cid: str, status: int = 200) -> web.Response:
    """The case as the caller sees it, with its version as ETag."""
    view = await request.app[SERVICE].view(who, cid)
    return respond(view, status, {"ETag": f'"{view["version"]}"'})


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


class InvitationRequest(s.Strict):
    """How to send a person their join link."""

    channel: Literal["sms", "email"]


class InvitationOut(s.Open):
    """An invitation sent: where to (masked), whether the channel took it, and until when the link works."""

    participant_id: str
    channel: Literal["sms", "email"]
    to: str
    accepted: bool
    sent_at: AwareDatetime
    expires_at: AwareDatetime


async def invite(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, InvitationRequest)
    sent = await request.app[INVITATIONS].invite(
        who, case_id(request), request.match_info["participant_id"], req.channel, now(request)
    )
    return respond(sent, 201)


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
    return stored_file(data, doc.media_type, doc.sha256)


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
    verdicts = await request.app[RECORDINGS].verify(cid, now(request))
    return respond({"ok": all(v.ok for v in verdicts), "sessions": [v.as_dict() for v in verdicts]})


async def chat(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"lines": await request.app[SERVICE].chat(who, case_id(request))})


UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/png", "text/plain")
"""What an upload may be (the contract test holds this to what ``addDocument`` takes)."""

DOCUMENT_MEDIA_TYPES = (*UPLOAD_TYPES, "application/json")
"""What a stored document can be: an upload's type, or a platform document's (PDF; JSON manifests and indexes)."""

_RW = (401, 403, 404, 409, 412, 422)


ENDPOINTS: tuple[Endpoint, ...] = (
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
        "POST",
        f"{_CASE}/participants/{{participant_id}}/invitation",
        invite,
        "Send a person a fresh join link by SMS or e-mail (their older join links stop working)",
        "inviteParticipant",
        InvitationOut,
        status=201,
        body=InvitationRequest,
        errors=(401, 403, 404, 422, 429, 502),
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
