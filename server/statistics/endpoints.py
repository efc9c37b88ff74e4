"""The statistics' endpoints: the dashboard's figures as JSON, and the same figures as CSV."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import ConfigDict, Field, StringConstraints

from server.http import schemas as s
from server.http.kit import API, Endpoint, principal, query, respond
from server.statistics.figures import csv_text
from server.statistics.usecases import StatisticsService

STATISTICS: web.AppKey[StatisticsService] = web.AppKey("statistics", StatisticsService)

OrganisationId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,36}$")]
Day = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class StatisticsQuery(s.Strict):
    """Filters of the figures (query string); the period is in Beijing dates of referral, both ends included."""

    model_config = ConfigDict(extra="forbid", strict=False, populate_by_name=False)

    court: OrganisationId | None = Field(default=None, description="Only the cases this court referred")
    organisation: OrganisationId | None = Field(default=None, description="Only the cases this organisation holds")
    from_: Day | None = Field(default=None, alias="from", description="First day, YYYY-MM-DD (Beijing)")
    to: Day | None = Field(default=None, description="Last day, YYYY-MM-DD (Beijing), at most ten years after from")


class GroupFigures(s.Open):
    """The figures of one group of cases (all of them, one organisation, one mediator, one month)."""

    key: str = Field(description="The organisation's or account's id, the month YYYY-MM; '' for the totals")
    name: str
    cases: int
    decided: int = Field(description="Cases with an agreement in effect, or that ended")
    successes: int = Field(description="Cases whose agreement took effect")
    success_rate: float | None = Field(description="successes / decided, 0…1 (null: nothing decided)")
    median_days_to_agreement: float | None = Field(description="Median days from referral to the agreement")
    median_days_to_confirmation: float | None = Field(description="Median days from referral to the confirmation")
    overdue: int = Field(description="Open cases whose mediation period passed without agreement")
    ratings: int
    satisfaction: float | None = Field(description="Mean of the parties' session ratings, 1–5")
    by_state: dict[str, int]


class Choice(s.Open):
    """A court or an organisation the caller may filter by."""

    id: str
    name: str


class Choices(s.Open):
    """What the selectors offer."""

    courts: list[Choice]
    organisations: list[Choice]


class JudgeWorkload(s.Open):
    """One judge's confirmations."""

    account_id: str
    name: str
    rulings: int = Field(description="Applications they ruled on")
    pending: int = Field(description="Applications they took and have not ruled on yet")


class InsurerPayments(s.Open):
    """One insurer's paid one-click claims on the cases the caller sees."""

    insurer_id: str
    insurer: str
    paid: int = Field(description="Claims paid in full")
    median_days_to_payment: float | None = Field(description="Median days from the claim to its payment")


class Statistics(s.Open):
    """The dashboard's figures."""

    scope: dict[str, str]
    filters: dict[str, str | None]
    choices: Choices
    totals: GroupFigures
    by_organisation: list[GroupFigures]
    by_mediator: list[GroupFigures]
    by_month: list[GroupFigures]
    judges: list[JudgeWorkload]
    claims_by_insurer: list[InsurerPayments] = Field(default_factory=list)


async def _figures(request: web.Request) -> dict[str, object]:
    who = await principal(request)
    q = query(request, StatisticsQuery)
    return await request.app[STATISTICS].figures(
        who, court=q.court, organisation=q.organisation, first=q.from_, last=q.to
    )


async def statistics(request: web.Request) -> web.Response:
    return respond(await _figures(request))


async def statistics_csv(request: web.Request) -> web.Response:
    figures = await _figures(request)
    return web.Response(
        body=csv_text(figures).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="statistics.csv"'},
    )


_ERRORS = (401, 403, 404, 422)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/statistics",
        statistics,
        "Figures of the cases the caller sees (totals, per organisation, mediator and month; judges' workload)",
        "readStatistics",
        Statistics,
        query=StatisticsQuery,
        errors=_ERRORS,
        tags=("statistics",),
    ),
    Endpoint(
        "GET",
        f"{API}/statistics.csv",
        statistics_csv,
        "The same figures as CSV (UTF-8 with BOM, Chinese headers, one row per grouping and key)",
        "readStatisticsCsv",
        None,
        query=StatisticsQuery,
        raw_response="text/csv",
        errors=_ERRORS,
        tags=("statistics",),
    ),
)
