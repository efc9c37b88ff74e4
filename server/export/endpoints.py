"""Endpoint of the export of a closed case (format in ``docs/export.md``)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field

from server.domain.lifecycle import CaseState
from server.domain.roles import Role
from server.export.usecases import CaseExporter
from server.http import schemas as s
from server.http.kit import _CASE, Endpoint, case_id, principal, respond

EXPORTER: web.AppKey[CaseExporter] = web.AppKey("exporter", CaseExporter)


class ExportedCase(s.Open):
    """The case itself."""

    id: str
    number: str
    kind: str
    title: str
    state: CaseState
    filed_at: AwareDatetime
    agreement_effective_at: AwareDatetime | None
    outcome_reason: str


class ExportedParticipant(s.Open):
    """Someone on the case; contact details only masked."""

    id: str
    role: Role
    display_name: str
    represents: str | None
    added_at: AwareDatetime
    phone_masked: str | None
    email_masked: str | None
    id_number_masked: str | None


class ExportedSession(s.Open):
    """A mediation session."""

    id: str
    scheduled_start: AwareDatetime
    duration_minutes: int
    status: str
    started_at: AwareDatetime | None
    ended_at: AwareDatetime | None


class ExportedDocument(s.Open):
    """A case document: its metadata, content hash and download path."""

    id: str
    kind: str
    title: str
    media_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    visibility: Literal["parties", "staff"]
    created_at: AwareDatetime
    created_by: str
    download: str = Field(description="GET this path (with a staff token) for the bytes")


class ExportedLine(s.Open):
    """A final transcript line, with the newest correction as its text."""

    id: str
    session_id: str
    participant_id: str = Field(description="The speaker")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    text: str
    corrected: bool


class ExportedAudit(s.Open):
    """The audit chain at the time of the export (the export itself is its newest entry)."""

    entries: int
    head: str = Field(pattern=r"^[0-9a-f]{64}$")
    head_seq: int
    chain_intact: bool


class CaseExport(s.Open):
    """Everything the platform holds on a closed case (mediation-case-export/1); other sections may follow."""

    format: Literal["mediation-case-export/1"]
    exported_at: AwareDatetime
    case: ExportedCase
    participants: list[ExportedParticipant]
    sessions: list[ExportedSession]
    documents: list[ExportedDocument]
    transcript: list[ExportedLine]
    audit: ExportedAudit


async def export_case(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[EXPORTER].export(who, case_id(request)))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_CASE}/export",
        export_case,
        "Export a closed case as one JSON document (mediator, judge): case, people, sessions, documents, "
        "transcript, audit chain",
        "exportCase",
        CaseExport,
        errors=(401, 403, 404, 422),
        tags=("cases",),
    ),
)
