"""Parties rate a session (privately from the mediator); an organisation's administrator reads its mediators' figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.assessment.store import Rating, RatingStore
from server.cases.usecases import CaseService
from server.domain.lifecycle import SessionStatus
from server.domain.roles import PARTY_ROLES
from server.errors import Forbidden, NotFound, SessionNotEnded
from server.identity.access import Principal
from server.organisations.usecases import OrganisationService

SCORES = {1: "非常不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意"}
"""Each score as the pages name it."""


def rating_view(rating: Rating) -> dict[str, Any]:
    """A rating as the party who gave it sees it."""
    return {
        "session_id": rating.session_id,
        "score": rating.score,
        "score_name": SCORES[rating.score],
        "comment": rating.comment,
        "at": rating.at.isoformat(),
    }


class AssessmentService:
    """Ratings and figures."""

    def __init__(self, cases: CaseService, ratings: RatingStore, organisations: OrganisationService) -> None:
        self.cases = cases
        self.ratings = ratings
        self.organisations = organisations

    async def _party_in_session(self, principal: Principal, case_id: str, session_id: str) -> tuple[str, bool]:
        """The caller's participant id if they are a party of the case and the session is theirs; and whether it ended."""
        access = await self.cases.access(principal, case_id)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only the parties rate a session")
        loaded = await self.cases.repo.load_case(case_id)
        session = next((s for s in loaded.case.sessions if s.id == session_id), None)
        if session is None:
            raise NotFound("No such session on this case")
        return access.participant_id, session.status is SessionStatus.ENDED

    async def rate(
        self, principal: Principal, case_id: str, session_id: str, score: int, comment: str, now: datetime
    ) -> dict[str, Any]:
        """A party's rating of an ended session, once; the mediator never sees it."""
        participant_id, ended = await self._party_in_session(principal, case_id, session_id)
        if not ended:
            raise SessionNotEnded("A session is rated once it has ended")
        rating = Rating(case_id, session_id, participant_id, score, comment, now)
        await self.ratings.add(rating)
        return rating_view(rating)

    async def mine(self, principal: Principal, case_id: str, session_id: str) -> dict[str, Any]:
        """Whether the caller has rated the session, and their rating if so (a page asks before offering the form)."""
        participant_id, ended = await self._party_in_session(principal, case_id, session_id)
        rating = await self.ratings.of(session_id, participant_id)
        return {
            "session_id": session_id,
            "ended": ended,
            "rated": rating is not None,
            "rating": None if rating is None else rating_view(rating),
        }

    async def figures(self, principal: Principal, organisation_id: str) -> dict[str, Any]:
        """Each of the organisation's mediators: cases held, ratings, average satisfaction (never a comment)."""
        await self.organisations.admin_of(principal, organisation_id)
        rows = await self.ratings.figures(organisation_id)
        return {
            "mediators": [
                {
                    "account_id": f.account_id,
                    "display_name": f.display_name,
                    "cases": f.cases,
                    "ratings": f.ratings,
                    "average_score": f.average,
                }
                for f in rows
            ]
        }
