"""Several nodes on one PostgreSQL and one Redis: each room is hosted by one node, and a page that
reaches another node is sent to the host (same link, same identity)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio  # type: ignore[import-untyped]
from aiohttp.test_utils import TestServer

from server.app import ROOMS, build_app
from server.config import Settings
from tests.live import prepare_case
from tests.media import make_clip
from tests.peers import ClientPeer

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]
REDIS_URL = os.environ.get("MEDIATION_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[Any]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - decide skip or fail
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and is not reachable: {exc}")
        pytest.skip(f"Redis not reachable ({exc}); it runs in CI")
    yield client
    await client.aclose()


@dataclass
class Cluster:
    urls: list[str]
    apps: list[Any]
    case_id: str
    tokens: dict[str, str]
    ids: dict[str, str]


@pytest_asyncio.fixture
async def cluster(pg_url: str, tmp_path: Path, redis_client: Any) -> AsyncIterator[Cluster]:
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers, apps = [], []
    for i, port in enumerate(ports):
        settings = Settings(
            data_dir=tmp_path / f"node{i}",
            database_url=pg_url,
            secret_key="c" * 40,
            public_url=urls[i],
            redis_url=REDIS_URL,
            cluster_urls=",".join(urls),
            auto_migrate=False,
            transcript_engine="off",
        )
        app = build_app(settings)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        servers.append(server)
        apps.append(app)
    case_id, tokens, ids, _ = await prepare_case(urls[0], apps[0][ROOMS].cases.repo, ("applicant", "respondent"))
    yield Cluster(urls, apps, case_id, tokens, ids)
    for server in servers:
        await server.close()


async def test_a_room_is_hosted_by_one_node_and_pages_are_sent_there(
    cluster: Cluster, redis_client: Any, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clip.webm")
    a_url, b_url = cluster.urls
    mediator = ClientPeer(b_url, cluster.tokens["mediator"], case_id=cluster.case_id, clip=clip)
    applicant = ClientPeer(a_url, cluster.tokens["applicant"])
    try:
        await mediator.connect()
        assert (await mediator.join())["ok"]
        assert await redis_client.get(f"mediation:room:{cluster.case_id}") == b_url
        await mediator.publish()
        await applicant.connect()
        ack = await applicant.join()
        assert ack["ok"] and ack["presence"] == "waiting", ack
        assert (applicant.moved_from, applicant.base_url) == (a_url, b_url)
        assert (await mediator.emit("admit", {"participant_id": cluster.ids["applicant"]}))["ok"]
        await applicant.publish()
        mid = next(iter(cluster.apps[1][ROOMS].rooms[cluster.case_id].room.members))
        await applicant.wait_for(lambda p: p.frames_from(mid) >= 10, what="media from the host node")
        assert cluster.case_id not in cluster.apps[0][ROOMS].rooms  # node A hosts nothing of it
        # the session ends: the claim is released and the next session may start anywhere
        assert (await mediator.emit("end"))["ok"]
        await mediator.wait_for(lambda p: any(e == "ended" for e, _ in p.events), what="ended")
        assert await redis_client.get(f"mediation:room:{cluster.case_id}") is None
    finally:
        await applicant.close()
        await mediator.close()


async def test_other_origins_are_refused(cluster: Cluster) -> None:
    a_url, b_url = cluster.urls
    ok = socketio.AsyncClient(reconnection=False)
    await ok.connect(
        b_url, auth={"token": cluster.tokens["applicant"]}, headers={"Origin": a_url}, transports=["websocket"]
    )
    await ok.disconnect()
    async with aiohttp.ClientSession() as http:
        evil = socketio.AsyncClient(reconnection=False, http_session=http)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await evil.connect(
                b_url,
                auth={"token": cluster.tokens["applicant"]},
                headers={"Origin": "http://evil.example"},
                transports=["websocket"],
            )
