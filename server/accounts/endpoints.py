"""An account's own endpoints: logging in and out, and who a token belongs to."""

from __future__ import annotations

from aiohttp import web

from server.cases.endpoints import SERVICE
from server.http import schemas as s
from server.http.kit import API, AUTH, Endpoint, body, now, principal, respond


async def login(request: web.Request) -> web.Response:
    req = await body(request, s.LoginRequest)
    issued, account = await request.app[AUTH].login(req.username, req.password, now(request))
    return respond(
        {
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(),
            "account": {
                "id": account.id,
                "username": account.username,
                "display_name": account.display_name,
                "kind": account.kind.value,
                "organization": account.organization,
            },
        }
    )


async def logout(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[AUTH].logout(who, now(request))
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def me(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SERVICE].me(who))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{API}/auth/login",
        login,
        "Log in as a mediator or judge",
        "login",
        s.LoginResponse,
        body=s.LoginRequest,
        auth=False,
        errors=(401, 422, 429),
        tags=("identity",),
    ),
    Endpoint(
        "POST",
        f"{API}/auth/logout",
        logout,
        "Revoke the token in use",
        "logout",
        None,
        status=204,
        errors=(401,),
        tags=("identity",),
    ),
    Endpoint("GET", f"{API}/me", me, "Who the token belongs to", "me", s.Me, errors=(401,), tags=("identity",)),
)
