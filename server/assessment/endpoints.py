"""The assessment's endpoints: a party rates a session; an organisation's administrator reads its mediators' figures."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints

from server.assessment.usecases import AssessmentService
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, respond

ASSESSMENT: web.AppKey[AssessmentService] = web.AppKey("assessment", AssessmentService)


class RatingRequest(s.Strict):
    """How satisfied the party is with the session."""

    score: s.Count = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    comment: Annotated[str, StringConstraints(max_length=500)] = ""


class RatingOut(s.Open):
    """A party's rating of a session, as they gave it."""

    session_id: str
    score: int
    score_name: str
    comment: str
    at: AwareDatetime


class MyRating(s.Open):
    """Whether the caller has rated the session (and may: it has ended), with their rating if so."""

    session_id: str
    ended: bool
    rated: bool
    rating: RatingOut | None


class MediatorFiguresOut(s.Open):
    """One mediator's figures."""

    account_id: str
    display_name: str
    cases: int
    ratings: int
    average_score: float | None


class OrganisationFigures(s.Open):
    """Each of the organisation's mediators' figures."""

    mediators: list[MediatorFiguresOut]


def _session(request: web.Request) -> str:
    return request.match_info["session_id"]


async def rate(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RatingRequest)
    return respond(
        await request.app[ASSESSMENT].rate(
            who, case_id(request), _session(request), req.score, req.comment.strip(), now(request)
        ),
        201,
    )


async def my_rating(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ASSESSMENT].mine(who, case_id(request), _session(request)))


async def figures(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ASSESSMENT].figures(who, request.match_info["organisation_id"]))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{_CASE}/sessions/{{session_id}}/rating",
        rate,
        "A party rates an ended session, once (the mediator never sees it)",
        "rateSession",
        RatingOut,
        status=201,
        body=RatingRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("assessment",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/sessions/{{session_id}}/rating",
        my_rating,
        "Whether the caller has rated a session, with their rating if so",
        "readMySessionRating",
        MyRating,
        errors=(401, 403, 404),
        tags=("assessment",),
    ),
    Endpoint(
        "GET",
        f"{API}/organisations/{{organisation_id}}/figures",
        figures,
        "Each of the organisation's mediators: cases held, ratings and average satisfaction (its administrators only)",
        "readOrganisationFigures",
        OrganisationFigures,
        errors=(401, 403, 404),
        tags=("organisations",),
    ),
)
