"""Endpoints of the live transcript and the mediation record (调解笔录).

Staff read the transcript with every correction; the mediator corrects lines,
adds notes and finalises the record, which becomes a PDF case document that
the parties can read (through ``/documents``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field, RootModel

from recording.record import RecordService
from server.cases.usecases import document_view
from server.http import schemas as s
from server.http.kit import _CASE, Endpoint, body, case_id, now, principal, query, respond

RECORDS: web.AppKey[RecordService] = web.AppKey("records", RecordService)


class TranscriptQuery(s.Strict):
    """Which session."""

    model_config = ConfigDict(extra="forbid", strict=False)
    session_id: s.Uuid | None = None


class CorrectionRequest(s.Strict):
    """The corrected text of a line."""

    text: str = Field(min_length=1, max_length=4000, pattern=s.NOT_BLANK)


class NoteRequest(s.Strict):
    """A note of the mediator's in a session's record."""

    session_id: s.Uuid
    text: str = Field(min_length=1, max_length=4000, pattern=s.NOT_BLANK)
    after_line_id: s.Uuid | None = None


class FinaliseRequest(s.Strict):
    """Which session's record to finalise."""

    session_id: s.Uuid


class TranscriptLineView(s.Open):
    """A line: what was heard, and its current text after corrections."""

    id: str
    session_id: str
    participant_id: str
    speaker: str
    role: str
    started_at: str
    ended_at: str
    text: str
    original: str
    heard: str
    corrected: bool
    corrections: list[dict[str, Any]]
    language: str
    engine: str


class SessionRecordView(s.Open):
    """One session's record."""

    session_id: str
    finalised: bool
    finalised_at: str | None
    document_id: str | None
    lines: list[TranscriptLineView]
    notes: list[dict[str, Any]]


class TranscriptView(s.Open):
    """Every session's record of a case."""

    sessions: list[SessionRecordView]


class TranscriptOrRecord(RootModel[TranscriptView | SessionRecordView]):
    """Every session's record, or (with ``session_id``) that session's record alone."""


class NoteView(s.Open):
    """A stored note."""

    id: str
    session_id: str
    after_line_id: str | None
    text: str
    by: str
    at: str


class DocumentView(s.Open):
    """A stored document."""

    id: str
    kind: str
    title: str
    sha256: str


async def read_transcript(request: web.Request) -> web.Response:
    who = await principal(request)
    q = query(request, TranscriptQuery)
    records = await request.app[RECORDS].read(who, case_id(request), q.session_id)
    if q.session_id is not None:
        return respond(records[0].as_dict())
    return respond({"sessions": [r.as_dict() for r in records]})


async def correct_line(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, CorrectionRequest)
    line = await request.app[RECORDS].correct(
        who, case_id(request), request.match_info["line_id"], req.text, now(request)
    )
    return respond(line.as_dict(), 201)


async def add_note(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, NoteRequest)
    note = await request.app[RECORDS].note(
        who, case_id(request), req.session_id, req.text, req.after_line_id, now(request)
    )
    return respond(
        {
            "id": note.id,
            "session_id": note.session_id,
            "after_line_id": note.line_id,
            "text": note.text,
            "by": note.actor,
            "at": note.at.isoformat(),
        },
        201,
    )


async def finalise(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, FinaliseRequest)
    doc = await request.app[RECORDS].finalise(who, case_id(request), req.session_id, now(request))
    return respond(document_view(doc), 201)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_CASE}/transcript",
        read_transcript,
        "The live transcript of the case's sessions, with corrections and notes (mediator, judge); "
        "with session_id: that session's record alone (a SessionRecordView)",
        "readTranscript",
        TranscriptOrRecord,
        query=TranscriptQuery,
        errors=(401, 403, 404),
        tags=("record",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/transcript/lines/{{line_id}}/corrections",
        correct_line,
        "Correct a transcript line (the original and every earlier correction are kept)",
        "correctTranscriptLine",
        TranscriptLineView,
        status=201,
        body=CorrectionRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("record",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/record/notes",
        add_note,
        "Add the mediator's note to a session's record",
        "addRecordNote",
        NoteView,
        status=201,
        body=NoteRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("record",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/record/finalise",
        finalise,
        "Finalise a session's record: a PDF document the parties can read; no edits after",
        "finaliseRecord",
        DocumentView,
        status=201,
        body=FinaliseRequest,
        errors=(401, 403, 404, 409),
        tags=("record",),
    ),
)
