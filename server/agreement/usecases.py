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
import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.agreement.render import render_agreement, signers
from server.agreement.store import AgreementStore
from server.agreement.terms import AgreementTerms, terms_from_dict, terms_to_dict
from server.cases.usecases import RETRIES, CaseService, added_record, document_view
from server.domain import lifecycle as lc
from server.domain.compensation import Split, calculate
from server.domain.roles import Action
from server.errors import ConcurrentUpdate, InvalidCommand, NotFound
from server.identity.access import Principal, new_id
from server.store.repository import records_from_events

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

    def __init__(self, cases: CaseService, store: AgreementStore) -> None:
        self.cases = cases
        self.repo = cases.repo
        self.store = store
        """The comments on the drafts."""

    @staticmethod
    def preview(data: dict[str, Any]) -> Split:
        """The calculator alone: the split of a claim (nothing stored)."""
        terms = terms_from_dict({"facts": "-", "claim": data})
        assert terms.claim is not None
        return calculate(terms.claim)

    async def draft(self, principal: Principal, case_id: str, data: dict[str, Any], now: datetime) -> Draft:
        """Check, calculate, render and store a new draft; the case records its version.

        The version is the case's agreement version plus one, and the draft's two documents are
        written in the same transaction as the case's new version, under its version lock: two
        drafts made at the same moment get two versions (the second is rendered again with its
        own number), never the same one.
        """
        await self.cases.require(principal, case_id, Action.DRAFT_AGREEMENT)
        terms, split = await asyncio.to_thread(_checked, data)
        for attempt in range(RETRIES):
            loaded = await self.repo.load_case(case_id)
            pdf_id = new_id()
            transition = lc.apply(loaded.case, lc.DraftAgreement(pdf_id), now)  # refused before anything is stored
            version = loaded.case.agreement.version + 1 if loaded.case.agreement else 1
            participants = await self.repo.participants(case_id)
            pdf, boxes = await asyncio.to_thread(
                functools.partial(
                    render_agreement,
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
            terms_json = json.dumps({**stored, "pdf_document_id": pdf_id}, ensure_ascii=False, sort_keys=True)
            pdf_doc = await self.cases.platform_document(
                case_id,
                pdf,
                kind=DRAFT_KIND,
                title=f"调解协议书（第 {version} 稿）Mediation agreement, draft {version}",
                media_type="application/pdf",
                visibility="parties",
                now=now,
                actor=principal.actor,
                document_id=pdf_id,
            )
            terms_doc = await self.cases.platform_document(
                case_id,
                terms_json.encode(),
                kind=TERMS_KIND,
                title=f"协议条款（第 {version} 稿）Agreement terms, draft {version}",
                media_type="text/plain",
                visibility="parties",
                now=now,
                actor=principal.actor,
            )
            records = [added_record(principal.actor, d) for d in (pdf_doc, terms_doc)]
            records += records_from_events(principal.actor, transition.events)
            try:
                await self.repo.save_case(loaded, transition.case, records, now, documents=(pdf_doc, terms_doc))
            except ConcurrentUpdate:
                if attempt == RETRIES - 1:
                    raise
                continue  # someone else wrote (perhaps another draft): render again with the next number
            return Draft(version, document_view(pdf_doc), stored)
        raise AssertionError("unreachable")

    async def drafts(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Every version with its terms and its comments (for everyone on the case who may read it)."""
        await self.cases.require(principal, case_id, Action.READ_DOCUMENTS)
        docs = await self.repo.documents(case_id)
        comments = await self.store.agreement_comments(case_id)
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
        comment_id = await self.store.add_agreement_comment(
            case_id, version, access.participant_id, text, principal.actor, now
        )
        return {
            "id": comment_id,
            "version": version,
            "participant_id": access.participant_id,
            "text": text,
            "at": now.isoformat(),
        }


def _checked(data: dict[str, Any]) -> tuple[AgreementTerms, Split | None]:
    """The terms and the calculator's split (CPU work, bounded by the input checks; run in a thread)."""
    terms = terms_from_dict(data)
    return terms, calculate(terms.claim) if terms.claim is not None else None
