"""The agreement stage's store: comments on the drafts of a mediation agreement.

A comment is kept with its text (personal data: never logged) and audited by the text's hash, in
the same transaction (:meth:`server.store.repository.CaseRepository.insert_audited`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.domain import audit
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository


class AgreementStore:
    """Reads and writes comments on agreement drafts (on the case store's engine)."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        """Writes the audited rows under the case's lock."""
        self.engine = cases.engine

    async def add_agreement_comment(
        self, case_id: str, version: int, participant_id: str, text: str, actor: str, now: datetime
    ) -> str:
        """Keep a comment on a draft (audited by the text's hash; the text is personal data)."""
        comment_id = str(uuid.uuid4())
        details = {"comment_id": comment_id, "version": version, "participant_id": participant_id}
        record = AuditRecord(
            f"participant:{participant_id}", "agreement.comment", {**details, "sha256": audit.sha256_text(text)}
        )
        values = {**details, "id": comment_id, "case_id": case_id, "text": text, "at": now}
        del values["comment_id"]
        await self.cases.insert_audited(case_id, t.agreement_comments, values, record, now, 20)
        return comment_id

    async def agreement_comments(self, case_id: str) -> list[dict[str, Any]]:
        """Comments on a case's drafts, oldest first."""
        ac = t.agreement_comments
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(ac).where(ac.c.case_id == case_id).order_by(ac.c.at, ac.c.id))).all()
        return [
            {"id": r.id, "version": r.version, "participant_id": r.participant_id, "text": r.text, "at": r.at}
            for r in rows
        ]
