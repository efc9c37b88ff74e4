"""Drafting the agreement: each draft a new version the parties can read and comment on.

A draft is rendered to PDF (about a second of CPU, off the event loop) and
stored as two case documents the parties can read: the PDF
(``agreement_draft``) and the terms with the calculator's split and the
signature boxes (``agreement_terms``, JSON). The case's life cycle records the
new version (``DraftAgreement``), which is refused, before anything is stored,
in states where no draft may be made (e.g. while signing is under way).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.agreement.render import render_agreement, signers
from server.agreement.terms import AgreementTerms, terms_from_dict, terms_to_dict
from server.cases import CaseService, document_view
from server.domain import lifecycle as lc
from server.domain.compensation import Split, calculate
from server.domain.roles import Action
from server.errors import InvalidCommand, NotFound
from server.identity.access import Principal

DRAFT_KIND = "agreement_draft"
TERMS_KIND = "agreement_terms"
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Draft:
    """One stored version."""

    version: int
    """1, 2, 3…"""
    pdf: dict[str, Any]
    """The PDF document's metadata."""
    terms: dict[str, Any]
    """The stored terms, split and signature boxes."""


class AgreementService:
    """Drafts, reads and comments on the mediation agreement."""

    def __init__(self, cases: CaseService) -> None:
        self.cases = cases
        self.repo = cases.repo

    @staticmethod
    def preview(data: dict[str, Any]) -> Split:
        """The calculator alone: the split of a claim (nothing stored)."""
        terms = terms_from_dict({"facts": "-", "claim": data})
        assert terms.claim is not None
        return calculate(terms.claim)

    async def draft(self, principal: Principal, case_id: str, data: dict[str, Any], now: datetime) -> Draft:
        """Check, calculate, render and store a new draft; the case records its version."""
        await self.cases.require(principal, case_id, Action.DRAFT_AGREEMENT)
        terms: AgreementTerms = terms_from_dict(data)
        split = calculate(terms.claim) if terms.claim is not None else None
        loaded = await self.repo.load_case(case_id)
        lc.apply(loaded.case, lc.DraftAgreement("pending"), now)  # refused here, before storing anything
        version = loaded.case.agreement.version + 1 if loaded.case.agreement else 1
        participants = await self.repo.participants(case_id)
        pdf, boxes = await asyncio.to_thread(
            lambda: render_agreement(
                case_number=loaded.case.number,
                title=loaded.case.title,
                participants=participants,
                terms=terms,
                split=split,
                version=version,
                drafted_at=now,
            )
        )
        stored = {
            "version": version,
            "terms": terms_to_dict(terms),
            "split": split.as_dict() if split is not None else None,
            "signers": [
                {"participant_id": p.id, "role": p.role.value, "page": b.page, "box": list(b.box)}
                for p, b in zip(signers(participants), boxes, strict=True)
            ],
        }
        title = f"调解协议书（第 {version} 稿）Mediation agreement, draft {version}"
        pdf_doc = await self.cases.add_document(
            principal,
            case_id,
            pdf,
            kind=DRAFT_KIND,
            title=title,
            media_type="application/pdf",
            visibility="parties",
            now=now,
        )
        await self.cases.add_document(
            principal,
            case_id,
            json.dumps({**stored, "pdf_document_id": pdf_doc.id}, ensure_ascii=False, sort_keys=True).encode(),
            kind=TERMS_KIND,
            title=f"协议条款（第 {version} 稿）Agreement terms, draft {version}",
            media_type="text/plain",
            visibility="parties",
            now=now,
        )
        await self.cases.execute(principal, case_id, lc.DraftAgreement(pdf_doc.id), Action.DRAFT_AGREEMENT, now)
        return Draft(version, document_view(pdf_doc), stored)

    async def drafts(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Every version with its terms and its comments (for everyone on the case who may read it)."""
        await self.cases.require(principal, case_id, Action.READ_DOCUMENTS)
        docs = await self.repo.documents(case_id)
        comments = await self.repo.agreement_comments(case_id)
        names = {p.id: p.display_name for p in await self.repo.participants(case_id)}
        out = []
        for doc in docs:
            if doc.kind != TERMS_KIND:
                continue
            stored = json.loads(await self.cases.blobs.get(doc.sha256))
            out.append(
                {
                    **stored,
                    "drafted_at": doc.created_at.isoformat(),
                    "comments": [
                        {
                            "id": c["id"],
                            "participant_id": c["participant_id"],
                            "name": names.get(c["participant_id"], ""),
                            "text": c["text"],
                            "at": c["at"].isoformat(),
                        }
                        for c in comments
                        if c["version"] == stored["version"]
                    ],
                }
            )
        return sorted(out, key=lambda d: d["version"])

    async def comment(
        self, principal: Principal, case_id: str, version: int, text: str, now: datetime
    ) -> dict[str, Any]:
        """A party's or the mediator's comment on one version."""
        access = await self.cases.require(principal, case_id, Action.COMMENT_AGREEMENT)
        text = text.strip()
        if not text or len(text) > MAX_COMMENT:
            raise InvalidCommand(f"A comment needs 1 to {MAX_COMMENT} characters")
        loaded = await self.repo.load_case(case_id)
        if loaded.case.agreement is None or not 1 <= version <= loaded.case.agreement.version:
            raise NotFound("No such draft of the agreement")
        comment_id = await self.repo.add_agreement_comment(
            case_id, version, access.participant_id, text, principal.actor, now
        )
        return {
            "id": comment_id,
            "version": version,
            "participant_id": access.participant_id,
            "text": text,
            "at": now.isoformat(),
        }
