"""The export of a closed case: one JSON document of everything the platform holds on it.

For the court file and the archive: the case, its participants (contact details
masked), sessions, documents (each with its SHA-256 and where to download it),
the final transcript lines and the state of the audit chain. The format is
``mediation-case-export/1``, described field by field in ``docs/export.md``.

Only staff who read every document of the case (``Action.READ_ALL_DOCUMENTS``:
the mediator and the judge) may export, and only a case in an end state
(``END_STATES``): an open case would be out of date at once. Each export is
itself an entry in the case's audit trail (``case.exported``), written before
the document is built, so the exported chain head is that entry.

Other parts of the platform add top-level sections through
:attr:`CaseExporter.sections` (electronic service, judicial confirmation,
recordings): each is an async callable ``case_id -> (key, value)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from server.cases.usecases import CaseService
from server.domain.audit import verify as verify_chain
from server.domain.lifecycle import END_STATES
from server.domain.participants import mask_id_number, mask_phone
from server.domain.roles import Action
from server.errors import InvalidCommand
from server.identity.access import Principal
from server.notify import mask_address
from server.store.repository import AuditRecord

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "mediation-case-export/1"
"""The ``format`` of the document; a change that breaks readers gets a new number."""

Section = Callable[[str], Awaitable[tuple[str, Any]]]
"""An extra top-level section: ``case_id -> (key, JSON-ready value)``."""

CORE_KEYS = frozenset({"format", "exported_at", "case", "participants", "sessions", "documents", "transcript", "audit"})
"""Keys a section may not take."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def document_path(case_id: str, document_id: str) -> str:
    """Where a document's bytes are downloaded (``GET``, with the exporting staff member's token)."""
    return f"/api/v1/cases/{case_id}/documents/{document_id}"


class CaseExporter:
    """Builds the export of a closed case (see the module docstring)."""

    def __init__(self, cases: CaseService, clock: Callable[[], datetime]) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.clock = clock
        self.sections: list[Section] = []
        """Extra sections, added as top-level keys in this order."""

    async def export(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The export of ``case_id`` for ``principal``; Forbidden/NotFound, InvalidCommand if still open."""
        await self.cases.require(principal, case_id, Action.READ_ALL_DOCUMENTS)
        loaded = await self.repo.load_case(case_id)
        case = loaded.case
        if case.state not in END_STATES:
            ends = ", ".join(sorted(s.value for s in END_STATES))
            raise InvalidCommand(
                f'Only a closed case can be exported (one of: {ends}); this case is in state "{case.state.value}"'
            )
        now = self.clock()
        await self.repo.record(case_id, [AuditRecord(principal.actor, "case.exported", {"format": EXPORT_FORMAT})], now)
        out: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": now.isoformat(),
            "case": {
                "id": case.id,
                "number": case.number,
                "kind": case.kind,
                "title": case.title,
                "state": case.state.value,
                "filed_at": case.filed_at.isoformat(),
                "agreement_effective_at": _iso(case.agreement_effective_at),
                "outcome_reason": case.outcome_reason,
            },
            "participants": [
                {
                    "id": p.id,
                    "role": p.role.value,
                    "display_name": p.display_name,
                    "represents": p.represents,
                    "added_at": p.added_at.isoformat(),
                    "phone_masked": mask_phone(p.phone),
                    "email_masked": mask_address("email", p.email) if p.email else None,
                    "id_number_masked": mask_id_number(p.id_number),
                }
                for p in await self.repo.participants(case_id)
            ],
            "sessions": [
                {
                    "id": s.id,
                    "scheduled_start": s.scheduled_start.isoformat(),
                    "duration_minutes": int(s.duration.total_seconds() // 60),
                    "status": s.status.value,
                    "started_at": _iso(s.started_at),
                    "ended_at": _iso(s.ended_at),
                }
                for s in case.sessions
            ],
            "documents": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "title": d.title,
                    "media_type": d.media_type,
                    "size": d.size,
                    "sha256": d.sha256,
                    "visibility": d.visibility,
                    "created_at": d.created_at.isoformat(),
                    "created_by": d.created_by,
                    "download": document_path(case_id, d.id),
                }
                for d in await self.repo.documents(case_id)
            ],
            "transcript": await self._transcript(case_id),
            "audit": await self._audit(case_id),
        }
        for section in self.sections:
            key, value = await section(case_id)
            if key in out:
                raise ValueError(f"An export section may not replace {key!r}")
            out[key] = value
        logger.info("[case=%s] exported (%s) by %s", case_id, EXPORT_FORMAT, principal.actor)
        return out

    async def _transcript(self, case_id: str) -> list[dict[str, Any]]:
        """Every stored (final) line in the order spoken, with the newest correction as its text."""
        corrected: dict[str, str] = {}
        for edit in await self.cases.records.record_edits(case_id):  # oldest first: the last correction wins
            if edit.kind == "correction" and edit.line_id is not None:
                corrected[edit.line_id] = edit.text
        return [
            {
                "id": line.id,
                "session_id": line.session_id,
                "participant_id": line.participant_id,
                "started_at": line.started_at.isoformat(),
                "ended_at": line.ended_at.isoformat(),
                "text": corrected.get(line.id, line.text),
                "corrected": line.id in corrected,
            }
            for line in await self.cases.records.transcript(case_id)
        ]

    async def _audit(self, case_id: str) -> dict[str, Any]:
        entries, head = await self.repo.audit_trail(case_id)
        verdict = verify_chain(entries, head)
        return {"entries": len(entries), "head": head.hash, "head_seq": head.seq, "chain_intact": verdict.ok}
