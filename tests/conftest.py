"""Shared fixtures: real databases (SQLite file and the local PostgreSQL), a real HTTP server, and Chromium.

PostgreSQL: ``MEDIATION_TEST_PG`` (default ``postgresql+asyncpg://127.0.0.1:5432/test``)
names the server's maintenance database; the suite creates its own database
there, migrates it, and drops it at the end. Without a reachable server the
PostgreSQL tests skip on a developer's machine and **fail** in CI (``CI`` set).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from server.app import build_app
from server.config import Settings
from server.store import db
from server.store.repository import CaseRepository
from tests.e2e.chromium import ARGS, CHROMIUM

PG_ADMIN_URL = os.environ.get("MEDIATION_TEST_PG", "postgresql+asyncpg://127.0.0.1:5432/test")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username, database=url.database, timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run."""
    name = f"mediation_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - decide skip or fail below
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({exc}); it runs in CI")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db.upgrade_sync(url)
    yield url
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        db.upgrade_sync(url)
        return url
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of each backend that no other test writes to (PostgreSQL: a database of its own,
    created and dropped here), for tests whose outcome depends on everything in the database: a webhook
    URL or a feed added now receives the outbox's whole backlog, which on the run's shared database grows
    with every test before it."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        db.upgrade_sync(url)
        yield url
        return
    request.getfixturevalue("pg_url")  # fails in CI, skips elsewhere, when PostgreSQL is away
    name = f"mediation_alone_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade_sync(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest_asyncio.fixture
async def repo(db_url: str) -> AsyncIterator[CaseRepository]:
    """The real repository on each backend."""
    engine = db.create_engine(db_url)
    yield CaseRepository(engine)
    await engine.dispose()


@dataclass
class Clock:
    """A clock the tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Api:
    """A running server on a real TCP port and a client for it."""

    base: str
    http: aiohttp.ClientSession
    clock: Clock
    settings: Settings
    repo: CaseRepository
    app: Any = None
    """The running application (its keys, services)."""

    async def call(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kw: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, json=json, headers=headers, **kw) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            body: Any = raw
            if "json" in ctype:
                import json as _json

                body = _json.loads(raw)
            return resp.status, body, resp


@pytest_asyncio.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The real application over real HTTP, on each database backend."""
    clock = Clock()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        secret_key="k" * 48,
        public_url="https://mediation.test",
        auto_migrate=False,
        transcript_engine="off",
        # the deadline scheduler looks only at start-up and when a test pokes it: a test that
        # moves the clock past a deadline decides when the command is issued
        deadline_interval=3600,
    )
    app = build_app(settings, clock=clock)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        from server.cases.endpoints import SERVICE

        yield Api(str(server.make_url("")).rstrip("/"), http, clock, settings, app[SERVICE].repo, app)
    await server.close()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, for the end-to-end tests and the pages' tests (skips without Chromium
    locally, fails in CI)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (./dev test installs it)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()
