"""Every ``/api/v1`` endpoint: each stage's table, joined.

Each stage keeps its own table of :class:`~server.http.kit.Endpoint` in its
``endpoints`` module; this one joins them (in a fixed order: the OpenAPI document
lists them so), registers them with aiohttp and feeds the OpenAPI document. It
also holds the two system endpoints (health, this document).
"""

from __future__ import annotations

from aiohttp import web

from server import __version__
from server.accounts import endpoints as accounts
from server.agreement import endpoints as agreement
from server.appraisal import endpoints as appraisal
from server.assessment import endpoints as assessment
from server.cases import endpoints as cases
from server.cases import pages
from server.cases.endpoints import SERVICE
from server.claims import endpoints as claims
from server.confirmation import endpoints as confirmation
from server.e_service import endpoints as e_service
from server.export import endpoints as export
from server.failure import endpoints as failure
from server.http import schemas as s
from server.http.kit import API, TRANSCRIBER, Endpoint, respond
from server.http.openapi import document
from server.intake import endpoints as intake
from server.organisations import endpoints as organisations
from server.record import playback, transcript
from server.referrals import application_endpoints as applications
from server.referrals import endpoints as referrals
from server.relief import endpoints as relief
from server.rosters import endpoints as rosters
from server.scene import endpoints as scene
from server.scene import finding_endpoints as scene_finding
from server.signing import endpoints as signing
from server.statistics import endpoints as statistics


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[SERVICE].repo.ping()
        db = "ok"
    except Exception:  # noqa: BLE001 - health reports, never raises
        db = "unreachable"
    pool = request.app.get(TRANSCRIBER)
    if pool is None:
        transcript = "off"
    else:
        transcript = "unavailable" if not pool.available else ("ready" if pool.engine else "loading")
    return respond(
        {
            "status": "ok" if db == "ok" else "degraded",
            "database": db,
            "transcript": transcript,
            "version": __version__,
        },
        200 if db == "ok" else 503,
    )


async def openapi(request: web.Request) -> web.Response:
    from server.endpoints import ENDPOINTS as ALL

    return respond(document(ALL))


SYSTEM: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/health",
        health,
        "Liveness and database check",
        "health",
        s.Health,
        auth=False,
        errors=(503,),
        tags=("system",),
    ),
    Endpoint(
        "GET",
        f"{API}/openapi.json",
        openapi,
        "This OpenAPI document",
        "openapi",
        None,
        auth=False,
        raw_response="application/json",
        tags=("system",),
    ),
)


ENDPOINTS: tuple[Endpoint, ...] = (
    SYSTEM
    + accounts.ENDPOINTS
    + organisations.ENDPOINTS
    + rosters.ENDPOINTS
    + cases.ENDPOINTS
    + playback.ENDPOINTS
    + transcript.ENDPOINTS
    + agreement.ENDPOINTS
    + signing.ENDPOINTS
    + pages.ENDPOINTS
    + e_service.ENDPOINTS
    + export.ENDPOINTS
    + confirmation.ENDPOINTS
    + assessment.ENDPOINTS
    + referrals.ENDPOINTS
    + statistics.ENDPOINTS
    + failure.ENDPOINTS
    + appraisal.ENDPOINTS
    + applications.ENDPOINTS
    + claims.ENDPOINTS
    + intake.ENDPOINTS
    + scene.ENDPOINTS
    + scene_finding.ENDPOINTS
    + relief.ENDPOINTS
)


def add_routes(app: web.Application) -> None:
    """Register every endpoint of every table."""
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, ep.handler, name=ep.operation_id)
