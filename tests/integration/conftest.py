"""Fixtures of the integration tests: a real SMS gateway, Redis, and a cluster of two nodes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.app import ROOMS, build_app
from server.config import Settings
from tests.channels import Gateway
from tests.live import REDIS_URL, Cluster, prepare_case
from tests.processes import free_port


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/sms", gw.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw.url = str(server.make_url("/sms"))
    yield gw
    if gw.hold is not None:
        gw.hold.set()
    await server.close()


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
