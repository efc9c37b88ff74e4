"""The mediation record (调解笔录): the live transcript, reviewed and finalised.

What the recogniser heard is stored once and never changed
(``transcript_lines``, append-only in the database). After the session the
mediator reviews it: a **correction** of a line keeps the original, who
changed it and when (``record_edits``, also append-only; the newest
correction is the line's text); a **note** adds the mediator's words after a
line or to the whole session. **Finalising** renders the record as a PDF,
stores it as a case document the parties can read, and closes the record to
further edits. Every step is in the case's audit trail (with the SHA-256 of
the text, never the text itself).

Reading the transcript is for the mediator and the judge of the case
(``Action.READ_TRANSCRIPT``); editing for the mediator (``Action.EDIT_RECORD``);
parties read the finalised PDF.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.cases.usecases import CaseService
from server.domain.lifecycle import SessionStatus
from server.domain.roles import Action
from server.errors import InvalidCommand, NotFound, RecordFinalised, SessionNotEnded
from server.identity.access import Principal
from server.store.record import RecordEdit, TranscriptLine
from server.store.repository import DocumentRecord

RECORD_KIND = "mediation_record"
MAX_TEXT = 4000
"""Longest correction or note, in characters."""


@dataclass(frozen=True)
class RecordLine:
    """A transcript line as the record shows it."""

    line: TranscriptLine
    """As heard."""
    speaker: str
    """The speaker's display name."""
    role: str
    """The speaker's role on the case."""
    corrections: tuple[RecordEdit, ...]
    """Oldest first; the last one is the current text."""

    @property
    def text(self) -> str:
        """The current text."""
        return self.corrections[-1].text if self.corrections else self.line.text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the API's answer)."""
        return {
            "id": self.line.id,
            "session_id": self.line.session_id,
            "participant_id": self.line.participant_id,
            "speaker": self.speaker,
            "role": self.role,
            "started_at": self.line.started_at.isoformat(),
            "ended_at": self.line.ended_at.isoformat(),
            "text": self.text,
            "original": self.line.text,
            "heard": self.line.heard or self.line.text,
            "corrected": bool(self.corrections),
            "corrections": [{"text": c.text, "by": c.actor, "at": c.at.isoformat()} for c in self.corrections],
            "language": self.line.language,
            "engine": self.line.engine,
        }


@dataclass(frozen=True)
class SessionRecord:
    """One session's record: lines, notes, and whether it is final."""

    case_id: str
    session_id: str
    lines: tuple[RecordLine, ...]
    notes: tuple[RecordEdit, ...]
    final: RecordEdit | None
    """The finalising edit (its text is the document id), if final."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the API's answer)."""
        return {
            "session_id": self.session_id,
            "finalised": self.final is not None,
            "finalised_at": self.final.at.isoformat() if self.final else None,
            "document_id": self.final.text if self.final else None,
            "lines": [r.as_dict() for r in self.lines],
            "notes": [
                {"id": n.id, "after_line_id": n.line_id, "text": n.text, "by": n.actor, "at": n.at.isoformat()}
                for n in self.notes
            ],
        }


Renderer = Callable[[dict[str, Any], SessionRecord, datetime], bytes]
"""Turns (case view, record, finalised at) into the PDF's bytes."""


class RecordService:
    """Reads, corrects, annotates and finalises mediation records."""

    def __init__(self, cases: CaseService, render: Renderer) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.records = cases.records
        self.render = render

    async def session_record(self, case_id: str, session_id: str) -> SessionRecord:
        """A session's record (no access check: callers check)."""
        lines = await self.records.transcript(case_id, session_id)
        edits = await self.records.record_edits(case_id, session_id)
        people = {p.id: p for p in await self.repo.participants(case_id)}
        corrections: dict[str, list[RecordEdit]] = {}
        notes, final = [], None
        for edit in edits:
            if edit.kind == "correction" and edit.line_id is not None:
                corrections.setdefault(edit.line_id, []).append(edit)
            elif edit.kind == "note":
                notes.append(edit)
            elif edit.kind == "final":
                final = final or edit
        return SessionRecord(
            case_id,
            session_id,
            tuple(
                RecordLine(
                    line,
                    people[line.participant_id].display_name if line.participant_id in people else "",
                    people[line.participant_id].role.value if line.participant_id in people else "",
                    tuple(corrections.get(line.id, ())),
                )
                for line in lines
            ),
            tuple(notes),
            final,
        )

    async def _session_ids(self, case_id: str) -> list[str]:
        loaded = await self.repo.load_case(case_id)
        return [s.id for s in sorted(loaded.case.sessions, key=lambda s: s.scheduled_start)]

    async def read(self, principal: Principal, case_id: str, session_id: str | None) -> list[SessionRecord]:
        """The records of a case's sessions (or of one)."""
        await self.cases.require(principal, case_id, Action.READ_TRANSCRIPT)
        sessions = await self._session_ids(case_id)
        if session_id is not None:
            if session_id not in sessions:
                raise NotFound("No such session on this case")
            sessions = [session_id]
        return [await self.session_record(case_id, s) for s in sessions]

    async def _editable(self, principal: Principal, case_id: str, session_id: str) -> SessionRecord:
        await self.cases.require(principal, case_id, Action.EDIT_RECORD)
        if session_id not in await self._session_ids(case_id):
            raise NotFound("No such session on this case")
        record = await self.session_record(case_id, session_id)
        if record.final is not None:
            raise RecordFinalised("The record of this session is final and can no longer be changed")
        return record

    async def correct(self, principal: Principal, case_id: str, line_id: str, text: str, now: datetime) -> RecordLine:
        """Correct a line (the original stays; the correction names who and when)."""
        text = _clean(text)
        lines = await self.records.transcript(case_id)
        line = next((x for x in lines if x.id == line_id), None)
        if line is None:
            await self.cases.require(principal, case_id, Action.EDIT_RECORD)  # 404 for strangers first
            raise NotFound("No such transcript line on this case")
        await self._editable(principal, case_id, line.session_id)
        edit = RecordEdit(
            str(uuid.uuid4()), case_id, line.session_id, line_id, "correction", text, principal.actor, now
        )
        await self.records.add_record_edit(edit, now)
        record = await self.session_record(case_id, line.session_id)
        return next(r for r in record.lines if r.line.id == line_id)

    async def note(
        self, principal: Principal, case_id: str, session_id: str, text: str, after_line_id: str | None, now: datetime
    ) -> RecordEdit:
        """Add the mediator's note after a line (or to the whole session)."""
        text = _clean(text)
        record = await self._editable(principal, case_id, session_id)
        if after_line_id is not None and all(r.line.id != after_line_id for r in record.lines):
            raise NotFound("No such transcript line in this session")
        edit = RecordEdit(str(uuid.uuid4()), case_id, session_id, after_line_id, "note", text, principal.actor, now)
        await self.records.add_record_edit(edit, now)
        return edit

    async def finalise(self, principal: Principal, case_id: str, session_id: str, now: datetime) -> DocumentRecord:
        """Render the record as a PDF, store it for the parties to read, and close it to edits."""
        record = await self._editable(principal, case_id, session_id)
        loaded = await self.repo.load_case(case_id)
        session = next(s for s in loaded.case.sessions if s.id == session_id)
        if session.status is not SessionStatus.ENDED:
            raise SessionNotEnded("Finalise the record after the session has ended")
        view = await self.cases.view(principal, case_id)
        pdf = await asyncio.to_thread(self.render, view, record, now)  # about a second of CPU
        started = session.started_at or session.scheduled_start
        doc = await self.cases.add_made_document(
            principal,
            case_id,
            pdf,
            kind=RECORD_KIND,
            title=f"调解笔录 Mediation record {started.date().isoformat()}",
            media_type="application/pdf",
            visibility="parties",
            now=now,
        )
        final = RecordEdit(str(uuid.uuid4()), case_id, session_id, None, "final", doc.id, principal.actor, now)
        await self.records.add_record_edit(final, now)
        return doc


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidCommand("The text is empty")
    if len(text) > MAX_TEXT:
        raise InvalidCommand(f"The text is longer than {MAX_TEXT} characters")
    return text
