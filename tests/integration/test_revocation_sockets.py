"""Revocation ends live sockets and their media at once (a link revoked or reissued, a logout, an
account disabled), on every node; an expired credential is refused on the next event; sockets
are capped per participant and per client address (issue 12 items 5 and 13)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio  # type: ignore[import-untyped]
from aiohttp.test_utils import TestServer

from server.app import ROOMS, SIGNALING, build_app
from server.config import Settings
from server.store import db
from tests.conftest import Clock
from tests.live import PASSWORD, Cluster, Live, _live, enter, prepare_case
from tests.media import make_clip
from tests.peers import ClientPeer

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "a.webm")


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, socket_recheck_seconds=0.5, sockets_per_participant=3, sockets_per_address=10):
        yield value


@pytest_asyncio.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Live, Clock]]:
    """A live server whose clock the test moves."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await db.upgrade(url)
    clock = Clock(datetime.now(UTC))
    settings = Settings(
        data_dir=tmp_path, database_url=url, secret_key="s" * 40, auto_migrate=False, transcript_engine="off"
    )
    app = build_app(settings, clock=clock)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    case_id, tokens, ids, username = await prepare_case(base, app[ROOMS].cases.repo, ("applicant",))
    yield Live(base, app, case_id, tokens, ids, username), clock
    await server.close()


async def http(method: str, url: str, token: str) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json() if resp.status != 204 else None


async def ended(peer: ClientPeer, code: str) -> None:
    """The server told the page why (an ``error`` event with ``code``) and closed its socket."""
    await peer.wait_for(lambda p: any(e.get("code") == code for e in p.errors), what=f"an error {code}")
    await peer.wait_for(lambda p: not p.sio.connected, what="the socket closed")


def presence(live: Live, who: str) -> str:
    return str(live.app[ROOMS].rooms[live.case_id].room.members[live.ids[who]].presence.value)


async def test_a_revoked_link_ends_the_party_socket_and_its_media(live: Live, clip: Path) -> None:
    mediator = await enter(live, "mediator", clip)
    applicant = await enter(live, "applicant", clip, admit_by=mediator)
    a = live.ids["applicant"]
    try:
        await mediator.wait_for(lambda p: p.frames_from(a) >= 10, what="the applicant's video")
        assert a in live.media().peers
        await http("DELETE", f"{live.base}/api/v1/cases/{live.case_id}/participants/{a}/link", live.tokens["mediator"])
        await ended(applicant, "token_revoked")
        # the media is gone with the socket: no peer connection, out of the room, nothing forwarded
        assert a not in live.media().peers
        assert presence(live, "applicant") == "left"
        await mediator.wait_for(
            lambda p: all(m["participant_id"] != a for m in p.last_room()["members"]),
            what="the mediator's room showing the applicant gone",
        )
        # the link opens nothing any more
        again = live.peer("applicant")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect()
    finally:
        await applicant.close()
        await mediator.close()


async def test_a_reissued_link_ends_the_old_socket_and_the_new_link_goes_straight_in(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    respondent = await enter(live, "respondent", None, admit_by=mediator)
    r = live.ids["respondent"]
    fresh: ClientPeer | None = None
    try:
        issued = await http(
            "POST", f"{live.base}/api/v1/cases/{live.case_id}/participants/{r}/link", live.tokens["mediator"]
        )
        await ended(respondent, "token_revoked")
        fresh = ClientPeer(live.base, issued["token"])
        await fresh.connect()
        ack = await fresh.join()
        assert ack["ok"] and ack["presence"] == "admitted", ack  # admitted before: no second admission
    finally:
        if fresh is not None:
            await fresh.close()
        await respondent.close()
        await mediator.close()


async def test_logout_ends_only_that_login_s_sockets(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{live.base}/api/v1/auth/login", json={"username": live.username, "password": PASSWORD}
        ) as resp:
            second_token = (await resp.json())["token"]
    desk = ClientPeer(live.base, second_token, case_id=live.case_id)
    await desk.connect()
    try:
        assert (await desk.emit("lock", {"locked": False}))["code"] == "invalid_command"  # connected, not joined
        await http("POST", f"{live.base}/api/v1/auth/logout", live.tokens["mediator"])
        await ended(mediator, "token_revoked")
        assert presence(live, "mediator") == "left"
        assert desk.sio.connected and not any(e["code"] == "token_revoked" for e in desk.errors)  # untouched
        assert (await desk.join())["ok"]
    finally:
        await desk.close()
        await mediator.close()


async def test_a_disabled_account_loses_every_socket(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    try:
        await live.app[ROOMS].cases.auth.disable_account(live.username, datetime.now(UTC))
        await ended(mediator, "token_revoked")
    finally:
        await mediator.close()


async def test_a_revocation_by_another_process_is_caught_by_the_recheck(live: Live, tmp_path: Path) -> None:
    """The command line disables the account (another process, no Redis to push through): the
    periodic re-check (0.5 s here) ends the socket."""
    mediator = await enter(live, "mediator", None)
    applicant = await enter(live, "applicant", None, admit_by=mediator)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
        env.update(
            MEDIATION_DATA_DIR=str(tmp_path),
            MEDIATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
            MEDIATION_SECRET_KEY="s" * 40,
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "server.cli", "account", "disable", live.username],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        await ended(mediator, "token_revoked")
        assert applicant.sio.connected  # the parties' links still hold
    finally:
        await applicant.close()
        await mediator.close()


async def test_an_expired_link_is_refused_on_the_next_event(clocked: tuple[Live, Clock]) -> None:
    live, clock = clocked
    mediator = await enter(live, "mediator", None)
    applicant = await enter(live, "applicant", None, admit_by=mediator)
    try:
        assert (await applicant.emit("chat", {"text": "still here"}))["ok"]
        clock.advance(timedelta(days=8))  # the join link lives 7 days; the mediator's login 12 hours
        ack = await applicant.emit("chat", {"text": "after expiry"})
        assert (ack["ok"], ack["code"]) == (False, "token_expired"), ack
        await ended(applicant, "token_expired")
        assert presence(live, "applicant") == "left"
    finally:
        await applicant.close()
        await mediator.close()


async def refusal(base: str, auth: dict[str, str]) -> tuple[socketio.AsyncClient, dict[str, Any] | None]:
    """Open a socket; return it and the refusal's data (None if accepted)."""
    client = socketio.AsyncClient(reconnection=False)
    refused: list[Any] = []
    client.on("connect_error", lambda data: refused.append(data))
    try:
        await client.connect(base, auth=auth, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        assert refused and isinstance(refused[0].get("data"), dict), refused
        return client, refused[0]["data"]  # what a page reads as err.data
    return client, None


async def test_sockets_are_capped_per_participant_and_per_address(live: Live) -> None:
    clients: list[socketio.AsyncClient] = []
    try:
        for _ in range(3):
            client, refused = await refusal(live.base, {"token": live.tokens["applicant"]})
            assert refused is None, refused
            clients.append(client)
        _, refused = await refusal(live.base, {"token": live.tokens["applicant"]})
        assert refused is not None and refused["code"] == "too_many_connections", refused
        # other people on the same network: up to the address cap (10 here), then refused too
        for who in ("respondent", "respondent", "respondent", "insurer", "insurer", "insurer", "mediator"):
            auth = {"token": live.tokens[who], **({"case_id": live.case_id} if who == "mediator" else {})}
            client, refused = await refusal(live.base, auth)
            assert refused is None, (who, refused)
            clients.append(client)
        _, refused = await refusal(live.base, {"token": live.tokens["mediator"], "case_id": live.case_id})
        assert refused is not None and refused["code"] == "too_many_connections", refused
        # the caps count live sockets: one closes, one more may open
        await clients.pop(0).disconnect()
        for _ in range(50):
            client, refused = await refusal(live.base, {"token": live.tokens["applicant"]})
            if refused is None:
                clients.append(client)
                break
            await asyncio.sleep(0.1)  # the server notices the closed socket
        assert refused is None
    finally:
        for client in clients:
            if client.connected:
                await client.disconnect()


@pytest.mark.postgres
async def test_a_link_revoked_on_one_node_ends_the_socket_on_the_node_hosting_the_room(cluster: Cluster) -> None:  # noqa: F811
    a_url, b_url = cluster.urls
    mediator = ClientPeer(b_url, cluster.tokens["mediator"], case_id=cluster.case_id)
    applicant = ClientPeer(b_url, cluster.tokens["applicant"])
    try:
        await mediator.connect()
        assert (await mediator.join())["ok"]
        await applicant.connect()
        assert (await applicant.join())["ok"]
        assert (await mediator.emit("admit", {"participant_id": cluster.ids["applicant"]}))["ok"]
        # the HTTP API is served by node A; the socket lives on node B
        a = cluster.ids["applicant"]
        await http(
            "DELETE", f"{a_url}/api/v1/cases/{cluster.case_id}/participants/{a}/link", cluster.tokens["mediator"]
        )
        await ended(applicant, "token_revoked")
        room = cluster.apps[1][ROOMS].rooms[cluster.case_id].room
        assert room.members[a].presence.value == "left"
    finally:
        await applicant.close()
        await mediator.close()


async def test_a_link_revoked_while_its_socket_joins_leaves_nothing_behind(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    party = live.peer("applicant")
    await party.connect()
    a = live.ids["applicant"]
    signaling = live.app[SIGNALING]
    lock = live.app[ROOMS].rooms[live.case_id].lock
    joining: asyncio.Future[Any] | None = None
    try:
        async with lock:  # the join waits for the room here, past its own credential check
            joining = asyncio.ensure_future(party.emit("join", {"consent": True}))
            for _ in range(500):
                if lock._waiters:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.01)
            assert lock._waiters, "the join never reached the room"  # type: ignore[attr-defined]
            await http(
                "DELETE", f"{live.base}/api/v1/cases/{live.case_id}/participants/{a}/link", live.tokens["mediator"]
            )
        for _ in range(100):
            member = live.app[ROOMS].rooms[live.case_id].room.members.get(a)
            if member is not None and member.presence.value == "left":
                break
            await asyncio.sleep(0.05)
        assert member is not None and member.presence.value == "left", member
        assert (live.case_id, a) not in signaling.members
    finally:
        if joining is not None:
            joining.cancel()
        await party.close()
        await mediator.close()
