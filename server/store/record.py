"""The mediation record's rows: chat lines, transcript lines, and corrections and notes of the record.

Chat lines are kept as said, with who could read each. A transcript line and a record edit each
chain a hash of their text into the case's audit trail in the same transaction
(:meth:`server.store.repository.CaseRepository.insert_audited`); the text itself is personal data,
kept only here and never logged. Users: ``rooms.service`` (chat and captions as they happen),
``recording.record`` (reading and correcting a session's record), ``server.cases`` (the chat
read back) and ``server.export``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from server.domain import audit
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository


@dataclass(frozen=True)
class TranscriptLine:
    """One final utterance as the recogniser heard it (text is personal data: never logged)."""

    id: str
    """Line id."""
    case_id: str
    """The case."""
    session_id: str
    """The session it was said in."""
    participant_id: str
    """Who said it (each participant is a separate track: no diarisation)."""
    started_at: datetime
    """Wall-clock start of the utterance (UTC)."""
    ended_at: datetime
    """Wall-clock end."""
    text: str
    """The line as the record shows it (Mandarin: misheard mediation words repaired, amounts and dates written
    as the record writes them)."""
    language: str
    """Language asked of the engine (``zh``, ``en``)."""
    engine: str
    """Which engine and model."""
    heard: str = ""
    """The engine's own text before those repairs (empty: the same as ``text``)."""


@dataclass(frozen=True)
class RecordEdit:
    """A correction of a transcript line, or a note, in the mediation record."""

    id: str
    """Edit id."""
    case_id: str
    """The case."""
    session_id: str
    """The session whose record it belongs to."""
    line_id: str | None
    """The corrected line, or the line a note follows (None: a note on the whole session)."""
    kind: str
    """``correction`` or ``note``."""
    text: str
    """The corrected text or the note."""
    actor: str
    """Who made it."""
    at: datetime
    """When."""


class RecordStore:
    """Reads and writes chat lines, transcript lines and record edits (on the case store's engine)."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        """Writes the audited rows under the case's lock."""
        self.engine = cases.engine

    # ------------------------------------------------------------------ chat

    async def add_chat(
        self, case_id: str, session_id: str, participant_id: str, text: str, audience: Sequence[str], now: datetime
    ) -> str:
        """Keep a chat line in the case record (text is personal data: never logged)."""
        message_id = str(uuid.uuid4())
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.chat_messages).values(
                    id=message_id,
                    case_id=case_id,
                    session_id=session_id,
                    participant_id=participant_id,
                    text=text,
                    audience=json.dumps(sorted(audience)),
                    at=now,
                )
            )
        return message_id

    async def chat(self, case_id: str) -> list[dict[str, Any]]:
        """A case's chat lines, oldest first, with who could read each."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.chat_messages)
                    .where(t.chat_messages.c.case_id == case_id)
                    .order_by(t.chat_messages.c.at, t.chat_messages.c.id)
                )
            ).all()
        return [
            {
                "id": r.id,
                "session_id": r.session_id,
                "participant_id": r.participant_id,
                "text": r.text,
                "audience": json.loads(r.audience),
                "at": r.at,
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ transcript

    async def add_transcript_line(self, line: TranscriptLine, now: datetime, attempts: int = 20) -> None:
        """Store a final utterance and chain its hash into the audit trail, in one transaction."""
        details = {
            "session_id": line.session_id,
            "line_id": line.id,
            "participant_id": line.participant_id,
            "started_at": line.started_at.isoformat(),
            "ended_at": line.ended_at.isoformat(),
            "sha256": audit.sha256_text(line.text),
        }
        heard = line.heard if line.heard and line.heard != line.text else None
        if heard is not None:
            details["heard_sha256"] = audit.sha256_text(heard)
        values = {
            "id": line.id,
            "case_id": line.case_id,
            "session_id": line.session_id,
            "participant_id": line.participant_id,
            "started_at": line.started_at,
            "ended_at": line.ended_at,
            "text": line.text,
            "language": line.language,
            "engine": line.engine,
            "created_at": now,
            "heard": heard,
        }
        await self.cases.insert_audited(
            line.case_id, t.transcript_lines, values, AuditRecord("system", "transcript.line", details), now, attempts
        )

    async def add_record_edit(self, edit: RecordEdit, now: datetime, attempts: int = 20) -> None:
        """Store a correction or note of the mediation record, audited, in one transaction."""
        details = {
            "session_id": edit.session_id,
            "edit_id": edit.id,
            "line_id": edit.line_id,
            "sha256": audit.sha256_text(edit.text),
        }
        values = {
            "id": edit.id,
            "case_id": edit.case_id,
            "session_id": edit.session_id,
            "line_id": edit.line_id,
            "kind": edit.kind,
            "text": edit.text,
            "actor": edit.actor,
            "at": edit.at,
        }
        await self.cases.insert_audited(
            edit.case_id, t.record_edits, values, AuditRecord(edit.actor, f"record.{edit.kind}", details), now, attempts
        )

    async def transcript(self, case_id: str, session_id: str | None = None) -> list[TranscriptLine]:
        """A case's transcript lines (or one session's), in the order they were spoken."""
        tl = t.transcript_lines
        query = select(tl).where(tl.c.case_id == case_id)
        if session_id is not None:
            query = query.where(tl.c.session_id == session_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(tl.c.started_at, tl.c.id))).all()
        return [
            TranscriptLine(
                r.id,
                r.case_id,
                r.session_id,
                r.participant_id,
                r.started_at,
                r.ended_at,
                r.text,
                r.language,
                r.engine,
                r.heard or "",
            )
            for r in rows
        ]

    async def record_edits(self, case_id: str, session_id: str | None = None) -> list[RecordEdit]:
        """Corrections and notes of a case's records, oldest first."""
        re_ = t.record_edits
        query = select(re_).where(re_.c.case_id == case_id)
        if session_id is not None:
            query = query.where(re_.c.session_id == session_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(re_.c.at, re_.c.id))).all()
        return [RecordEdit(r.id, r.case_id, r.session_id, r.line_id, r.kind, r.text, r.actor, r.at) for r in rows]
