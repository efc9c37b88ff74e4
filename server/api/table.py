"""Every ``/api/v1`` endpoint: the core table and the tables of the recording edge.

Each module keeps its own table of :class:`~server.api.routes.Endpoint`; this one
joins them, registers them with aiohttp and feeds the OpenAPI document.
"""

from __future__ import annotations

from aiohttp import web

from server.api import agreement, confirmation, export, pages, playback, routes, serving, signing, transcript
from server.api.routes import Endpoint

ENDPOINTS: tuple[Endpoint, ...] = (
    routes.ENDPOINTS
    + playback.ENDPOINTS
    + transcript.ENDPOINTS
    + agreement.ENDPOINTS
    + signing.ENDPOINTS
    + pages.ENDPOINTS
    + serving.ENDPOINTS
    + export.ENDPOINTS
    + confirmation.ENDPOINTS
)


def add_routes(app: web.Application) -> None:
    """Register every endpoint of every table."""
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, ep.handler, name=ep.operation_id)
