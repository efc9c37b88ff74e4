"""Pages and static assets for phones (parties) and desks (mediators, judges).

Pages are static files; they talk to the JSON API with the token from the
link's fragment (``/join#token=…``), which browsers never send to the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
VENDOR = {
    # served file -> where ./dev puts it (npm, pinned in web/package.json)
    "socket.io.esm.min.js": Path(__file__).parent
    / "node_modules"
    / "socket.io-client"
    / "dist"
    / "socket.io.esm.min.js",
}


def csp(connect_origins: list[str]) -> str:
    """The pages' Content-Security-Policy; ``connect_origins``: other nodes a page may move to."""
    extra = []
    for origin in connect_origins:
        extra.append(origin)
        extra.append(origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1))
    connect = " ".join(["'self'", *extra])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def _page(name: str, policy: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = STATIC / name

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"})

    return handler


async def _vendor(request: web.Request) -> web.StreamResponse:
    path = VENDOR.get(request.match_info["name"])
    if path is None or not path.exists():
        raise web.HTTPNotFound(text="Run ./dev to install the browser dependencies (npm).")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def add_pages(app: web.Application, connect_origins: list[str] | None = None) -> None:
    """Serve the pages, ``/static`` and the npm-installed browser client."""
    policy = csp(connect_origins or [])
    app.router.add_get("/", _page("index.html", policy), name="index")
    app.router.add_get("/join", _page("join.html", policy), name="join")
    app.router.add_get("/console", _page("console.html", policy), name="console")
    app.router.add_get("/playback", _page("playback.html", policy), name="playback")
    app.router.add_get("/sign", _page("sign.html", policy), name="sign_page")
    app.router.add_get("/served", _page("served.html", policy), name="served_page")
    app.router.add_get("/court", _page("court.html", policy), name="court_page")
    app.router.add_get("/staff", _page("staff.html", policy), name="staff_page")
    app.router.add_get("/stats", _page("stats.html", policy), name="stats_page")
    app.router.add_get("/agreement", _page("agreement.html", policy), name="agreement_page")
    app.router.add_get("/apply", _page("apply.html", policy), name="apply_page")
    app.router.add_get("/fund", _page("fund.html", policy), name="fund_page")
    app.router.add_get("/insurer", _page("insurer.html", policy), name="insurer_page")
    app.router.add_get("/appraisal", _page("appraisal.html", policy), name="appraisal_page")
    app.router.add_get("/bureau", _page("bureau.html", policy), name="bureau_page")
    app.router.add_get("/scene", _page("scene.html", policy), name="scene_page")
    app.router.add_get("/police", _page("police.html", policy), name="police_page")
    app.router.add_get("/static/vendor/{name}", _vendor, name="vendor")
    app.router.add_static("/static", STATIC, name="static", append_version=False)
