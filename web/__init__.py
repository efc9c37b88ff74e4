"""Pages and static assets for phones (parties) and desks (mediators, judges).

Pages are static files; they talk to the JSON API with the token from the
link's fragment (``/join#token=…``), which browsers never send to the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = STATIC / name

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    return handler


def add_pages(app: web.Application) -> None:
    """Serve the pages and ``/static``."""
    app.router.add_get("/", _page("index.html"), name="index")
    app.router.add_get("/join", _page("join.html"), name="join")
    app.router.add_static("/static", STATIC, name="static", append_version=False)
