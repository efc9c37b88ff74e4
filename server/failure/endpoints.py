"""The failure stage's endpoints: the record of undisputed facts, the parties' answers, failing the
mediation with the record, and the referring court's view of it."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from server.failure.usecases import MAX_ITEMS, MAX_TEXT, FailureService
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, respond, stored_file

FAILURES: web.AppKey[FailureService] = web.AppKey("failures", FailureService)

DRAFT_BODY_LIMIT = MAX_ITEMS * (MAX_TEXT * 12 + 64) + 1024
"""The largest record the schema allows, every character sent as a JSON escape (a surrogate pair: 12 bytes):
about 300 KB, above the 64 KiB of other bodies (50 items of 500 Chinese characters are 75 KB of UTF-8)."""

_TRIM = AfterValidator(str.strip)
"""White space off both ends after the checks (the documented ``maxLength`` is the raw length)."""
ItemText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=s.NOT_BLANK), _TRIM]
Note = Annotated[str, StringConstraints(max_length=MAX_TEXT), _TRIM]


class FactItem(s.Strict):
    """One line of the record: an undisputed fact, or a point still disputed."""

    kind: Literal["fact", "dispute"]
    text: ItemText


class DraftFactsRequest(s.Strict):
    """A new version of the record of undisputed facts (无争议事实记载)."""

    items: list[FactItem] = Field(min_length=1, max_length=MAX_ITEMS)


class AnswerRequest(s.Strict):
    """A party's answer to one version: confirm, or object (an objection needs a note)."""

    answer: Literal["confirm", "object"]
    note: Note = ""


class FailRequest(s.Strict):
    """Why the mediation failed (调解不成的原因)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=s.NOT_BLANK), _TRIM]


class FactItemOut(s.Open):
    """One line of the record."""

    kind: Literal["fact", "dispute"]
    text: str


class FactRecordOut(s.Open):
    """A version of the record."""

    version: int
    items: list[FactItemOut]
    drafted_at: AwareDatetime


class FactAnswerOut(s.Open):
    """A party and their answer to the current version (``answer`` null: not answered)."""

    participant_id: str
    name: str
    role: str
    role_name: str
    answer: Literal["confirm", "object"] | None
    note: str
    at: AwareDatetime | None


class FactsView(s.Open):
    """The record of undisputed facts as the caller may see it (a party: only their own answer)."""

    case_id: str
    state: str
    open: bool = Field(description="Whether the record may still be drafted and answered")
    record: FactRecordOut | None
    answers: list[FactAnswerOut]
    document: s.DocumentOut | None = Field(description="The sealed record, once the mediation failed (staff only)")


class CourtFactsView(FactsView):
    """The record as the referring court reads it."""

    number: str
    title: str
    reason: str


class AnswerOut(s.Open):
    """The answer as kept."""

    version: int
    participant_id: str
    answer: Literal["confirm", "object"]
    note: str
    at: AwareDatetime


class FailedOut(s.Open):
    """The case ended as failed, with the sealed record."""

    state: str
    reason: str
    document: s.DocumentOut


def _version(request: web.Request) -> int:
    raw = request.match_info["version"]
    if not raw.isdigit() or len(raw) > 6:
        raise web.HTTPNotFound()
    return int(raw)


async def draft(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, DraftFactsRequest, DRAFT_BODY_LIMIT)
    items = [(i.kind, i.text) for i in req.items]
    return respond(await request.app[FAILURES].draft(who, case_id(request), items, now(request)))


async def read(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[FAILURES].read(who, case_id(request)))


async def answer(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AnswerRequest)
    out = await request.app[FAILURES].answer(
        who, case_id(request), _version(request), req.answer, req.note, now(request)
    )
    return respond(out, 201)


async def fail(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, FailRequest)
    return respond(await request.app[FAILURES].fail(who, case_id(request), req.reason, now(request)))


async def court_read(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[FAILURES].record_for_court(who, case_id(request)))


async def court_document(request: web.Request) -> web.Response:
    who = await principal(request)
    doc, data = await request.app[FAILURES].document_for_court(who, case_id(request))
    return stored_file(data, doc.media_type, doc.sha256, 'attachment; filename="undisputed-facts.pdf"')


_COURT_CASE = f"{API}/court/cases/{{case_id}}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "PUT",
        f"{_CASE}/facts",
        draft,
        "Draft (or redraft) the record of undisputed facts: a new version, which the parties answer afresh",
        "draftUndisputedFacts",
        FactsView,
        body=DraftFactsRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("failure",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/facts",
        read,
        "The record of undisputed facts with the parties' answers (a party sees only their own)",
        "readUndisputedFacts",
        FactsView,
        errors=(401, 403, 404),
        tags=("failure",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/facts/{{version}}/answers",
        answer,
        "A party confirms the current version of the record, or objects to it with a note",
        "answerUndisputedFacts",
        AnswerOut,
        status=201,
        body=AnswerRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("failure",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/failure",
        fail,
        "End the mediation as failed (调解不成转诉讼): the sealed record of undisputed facts goes with the case",
        "failMediationWithFacts",
        FailedOut,
        body=FailRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("failure",),
    ),
    Endpoint(
        "GET",
        f"{_COURT_CASE}/facts",
        court_read,
        "The record of undisputed facts of a case the caller's court referred (its judges, clerks, administrators)",
        "readUndisputedFactsForCourt",
        CourtFactsView,
        errors=(401, 404),
        tags=("court",),
    ),
    Endpoint(
        "GET",
        f"{_COURT_CASE}/facts/document",
        court_document,
        "The sealed record of undisputed facts (PDF) of a failed case the caller's court referred",
        "readUndisputedFactsDocumentForCourt",
        None,
        raw_response="application/pdf",
        errors=(401, 404),
        tags=("court",),
    ),
)
