"""A running server with a case ready for a live session: accounts, parties, a scheduled session."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from rooms.sfu import AiortcMediaSession
from server.app import ROOMS, build_app
from server.config import Settings
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.store import db
from server.store.accounts import Account, AccountStore
from tests.peers import ClientPeer

PASSWORD = "pw-123456789"


@dataclass
class Live:
    base: str
    app: Any
    case_id: str
    tokens: dict[str, str]
    ids: dict[str, str]
    username: str = ""
    links: dict[str, str] = field(default_factory=dict)
    """Each party's join link as ``addParticipant`` returned it (``join_url``): what the party opens."""

    def media(self) -> AiortcMediaSession:
        media = self.app[ROOMS].rooms[self.case_id].media
        assert isinstance(media, AiortcMediaSession)
        return media

    def peer(self, who: str, clip: Path | None = None) -> ClientPeer:
        return ClientPeer(self.base, self.tokens[who], case_id=self.case_id if who == "mediator" else None, clip=clip)


async def _live(
    tmp_path: Path,
    video_codec: str = "VP8",
    contacts: dict[str, dict[str, str]] | None = None,
    roles: tuple[str, ...] = ("applicant", "respondent", "insurer"),
    database_url: str | None = None,
    **settings_extra: Any,
) -> AsyncIterator[Live]:
    """Start the server and prepare the case; yields a :class:`Live`. ``database_url``: an upgraded
    database to use (default: a new SQLite file in ``tmp_path``)."""
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    if database_url is None:
        await db.upgrade(url)
    with socket.socket() as probe:  # a free port, known before the app is built
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        secret_key="s" * 40,
        auto_migrate=False,
        video_codec=video_codec,
        media_stall_seconds=1.5,
        public_url=f"http://127.0.0.1:{port}",  # links in messages point at this very server
        **{"transcript_engine": "off", **settings_extra},
    )
    app = build_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    links: dict[str, str] = {}
    case_id, tokens, ids, username = await prepare_case(
        base, app[ROOMS].cases.repo, roles, contacts=contacts, links=links
    )
    yield Live(base, app, case_id, tokens, ids, username, links)
    await server.close()


async def prepare_case(
    base: str,
    repo: Any,
    roles: tuple[str, ...] = ("applicant", "respondent", "insurer"),
    contacts: dict[str, dict[str, str]] | None = None,
    links: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], dict[str, str], str]:
    """Over the HTTP API of ``base``: a mediator account, a case, its parties, a session in a minute.

    Returns the case id, each role's token (the mediator's login; the parties' join
    links), each role's participant id, and the mediator's user name; ``links``, when given,
    receives each party's join link (``join_url``).
    """
    username = f"m-{uuid.uuid4().hex[:6]}"
    await AccountStore(repo.engine).create_account(
        Account(
            new_id(),
            username,
            "调解员",
            AccountKind.MEDIATOR,
            "org",
            hash_password(PASSWORD, log2_n=10),
            datetime.now(UTC),
        )
    )
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, token: str | None = None, json: Any = None) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, base + path, json=json, headers=headers) as resp:
                body = await resp.json()
                assert resp.status < 300, body
                return body

        login = await call("POST", "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        mediator = login["token"]
        case = await call("POST", "/api/v1/cases", mediator, {"kind": "traffic_accident", "title": "live"})
        tokens, ids = {"mediator": mediator}, {}
        for role in roles:
            added = await call(
                "POST",
                f"/api/v1/cases/{case['id']}/participants",
                mediator,
                {"role": role, "display_name": role, **(contacts or {}).get(role, {})},
            )
            tokens[role] = added["link"]["token"]
            if links is not None:
                links[role] = added["link"]["join_url"]
            ids[role] = added["participant"]["id"]
        ids["mediator"] = next(p["id"] for p in case["participants"] if p["role"] == "mediator")
        starts = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        await call("POST", f"/api/v1/cases/{case['id']}/sessions", mediator, {"starts_at": starts})
    return case["id"], tokens, ids, username


async def enter(live: Live, who: str, clip: Path | None, admit_by: Any = None) -> Any:
    """``who`` joins as a :class:`tests.peers.ClientPeer` publishing ``clip``; admitted by ``admit_by``."""
    peer = live.peer(who, clip)
    await peer.connect()
    ack = await peer.join()
    assert ack["ok"], ack
    if admit_by is not None:
        assert ack["presence"] == "waiting"
        result = await admit_by.emit("admit", {"participant_id": live.ids[who]})
        assert result["ok"], result
    await peer.publish()
    return peer


# ------------------------------------------------------------------ several nodes

REDIS_URL = os.environ.get("MEDIATION_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Cluster:
    """Two nodes on one PostgreSQL and one Redis (the ``cluster`` fixture), with a case ready on them."""

    urls: list[str]
    apps: list[Any]
    case_id: str
    tokens: dict[str, str]
    ids: dict[str, str]
