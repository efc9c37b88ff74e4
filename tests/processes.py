"""The real server as a child process (``python -m server.cli serve``), for the tests that kill it and start
it again, and free loopback ports for the servers the tests start."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from server.store.repository import CaseRepository
from tests.peers import ClientPeer


def free_port() -> int:
    """A TCP port on loopback that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def store_of(data: Path) -> CaseRepository:
    """The SQLite store of a server process's data folder, opened beside the process
    (dispose of ``repo.engine`` at the end)."""
    from server.store import db

    return CaseRepository(db.create_engine(f"sqlite+aiosqlite:///{(data / 'mediation.db').resolve()}"))


async def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env.update(
        MEDIATION_DATA_DIR=str(data),
        MEDIATION_PORT=str(port),
        MEDIATION_RECORDING_SEGMENT_SECONDS="1",
        MEDIATION_LOG_LEVEL="WARNING",
        MEDIATION_TRANSCRIPT_ENGINE="off",
    )
    with (data.parent / f"server-{port}.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env, stdout=log, stderr=log)
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            assert proc.poll() is None, "the server exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/v1/health") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server not healthy in 15 s")


async def segments(repo: CaseRepository, case_id: str) -> list[dict[str, Any]]:
    trail, _ = await repo.audit_trail(case_id)
    return [e.details_dict() for e in trail if e.action == "recording.segment"]


async def wait_segments(repo: CaseRepository, case_id: str, at_least: int) -> list[dict[str, Any]]:
    for _ in range(150):
        found = await segments(repo, case_id)
        if len(found) >= at_least:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} segments recorded")


async def enter(base: str, token: str, case_id: str | None, clip: Path) -> ClientPeer:
    peer = ClientPeer(base, token, case_id=case_id, clip=clip)
    await peer.connect()
    assert (await peer.join())["ok"]
    return peer
