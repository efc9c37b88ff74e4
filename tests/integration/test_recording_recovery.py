"""Recordings that no manifest seals yet (a running session, one a crash interrupted) are verified
all the same, and the next start of the server seals what an interrupted session left.

The real server runs as a process (``python -m server.cli serve``) and is killed with SIGKILL
mid-session, as in ``test_crash.py``; verification is asked over HTTP and with the
``mediation recording verify`` command."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from recording.recovery import ENDED_WINDOW, candidates, seal_interrupted
from recording.vault import seal
from rooms.directory import RedisDirectory
from server.app import ROOMS
from server.domain import lifecycle as lc
from server.domain.roles import Action
from server.http.kit import AUTH
from server.store.repository import AuditRecord, CaseRepository
from tests.live import Live, _live, prepare_case
from tests.media import make_clip
from tests.peers import ClientPeer
from tests.processes import enter, free_port, segments, start, store_of, wait_segments

pytestmark = pytest.mark.asyncio


async def verify(base: str, token: str, case_id: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base}/api/v1/cases/{case_id}/recording/verify", headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def cli_verify(data: Path, case_id: str) -> tuple[int, str]:
    """``mediation recording verify CASE_ID`` against the same data folder: exit status and output."""
    env: Mapping[str, str] = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")},
        "MEDIATION_DATA_DIR": str(data),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "recording",
        "verify",
        case_id,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def manifests(repo: CaseRepository, case_id: str) -> list[dict[str, Any]]:
    trail, _ = await repo.audit_trail(case_id)
    return [e.details_dict() for e in trail if e.action == "recording.manifest"]


def blob_path(data: Path, blob: str) -> Path:
    return data / "blobs" / blob[:2] / blob[2:4] / blob


async def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        await asyncio.to_thread(server.wait, 15)


async def test_unsealed_then_sealed_after_kill_9_and_a_changed_byte_named(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clip = make_clip(tmp_path / "clip.webm", seconds=4)
    server = await start(data, port)
    repo = store_of(data)
    peers: list[ClientPeer] = []
    try:
        case_id, tokens, ids, _ = await prepare_case(base, repo, ("applicant",))
        mediator = await enter(base, tokens["mediator"], case_id, clip)
        applicant = await enter(base, tokens["applicant"], None, clip)
        peers += [mediator, applicant]
        assert (await mediator.emit("admit", {"participant_id": ids["applicant"]}))["ok"]
        await mediator.publish()
        await applicant.publish()
        recorded = await wait_segments(repo, case_id, 6)
        session_id = recorded[0]["session_id"]

        # while it runs: no manifest, yet every stored segment is verified and named as unsealed
        report = await verify(base, tokens["mediator"], case_id)
        assert report["ok"] is True, report
        [running] = report["sessions"]
        assert running["session_id"] == session_id
        assert running["status"] == "unsealed" and running["sealed"] is False
        assert running["signature_ok"] is None and running["manifests"] == 0 and running["problems"] == []
        assert {d["file"] for d in recorded} <= set(running["unsealed"])
        assert running["segments"] == len(running["unsealed"]) >= len(recorded)
        code, out = await cli_verify(data, case_id)
        assert code == 0, out
        assert "no recorded session" not in out
        assert f"session {session_id}:" in out and "verified" in out and "UNSEALED" in out

        os.kill(server.pid, signal.SIGKILL)
        await asyncio.to_thread(server.wait, 10)
        for peer in peers:
            await peer.close()
        peers = []
        left = await segments(repo, case_id)
        assert await manifests(repo, case_id) == []  # the crash wrote none

        # the next start seals what the interrupted session left, before it answers anyone
        server = await start(data, port)
        [sealed] = await manifests(repo, case_id)
        assert sealed["session_id"] == session_id
        assert sealed["closed"] == "after_interruption" and sealed["segments"] == len(left)
        report = await verify(base, tokens["mediator"], case_id)
        assert report["ok"] is True, report
        [after] = report["sessions"]
        assert after["status"] == "sealed_after_interruption" and after["sealed"] is True
        assert after["signature_ok"] is True and after["manifests"] == 1
        assert after["segments"] == len(left) and after["unsealed"] == [] and after["problems"] == []
        assert (await repo.verify_audit(case_id)).ok

        # a start with nothing left to seal writes nothing more
        await stop(server)
        server = await start(data, port)
        assert len(await manifests(repo, case_id)) == 1

        # one changed byte in one stored segment is named, over HTTP and by the command
        victim = left[len(left) // 2]
        path = blob_path(data, victim["blob"])
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        report = await verify(base, tokens["mediator"], case_id)
        assert report["ok"] is False
        assert report["sessions"][0]["problems"] == [
            f"segment {victim['file']}: altered at rest (does not match its address)"
        ]
        code, out = await cli_verify(data, case_id)
        assert code == 1 and "FAILED" in out and victim["file"] in out, out
        path.write_bytes(original)
        assert (await verify(base, tokens["mediator"], case_id))["ok"] is True
    finally:
        for peer in peers:
            await peer.close()
        await stop(server)
        await repo.engine.dispose()


# ---------------------------------------------------------------- which sessions a start seals

REDIS_URL = os.environ.get("MEDIATION_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def store_segments(live: Live, session_id: str, count: int, run: str) -> list[str]:
    """Segments sealed, stored and chained as ``EvidenceStore.store_segment`` does (their bytes are
    not media: verification checks seals and hashes, playback is not asked for here)."""
    rooms = live.app[ROOMS]
    now = datetime.now(UTC)
    key = await rooms.recordings.vault.data_key(live.case_id, now)
    files = []
    for index in range(count):
        name = f"{live.ids['applicant']}-audio-{run}-{index:05d}.mkv"
        plain = f"{name} {uuid.uuid4()}".encode()
        ref = await rooms.cases.blobs.put(seal(key, plain, live.case_id, name))
        details = {
            "track": f"{live.ids['applicant']}:audio",
            "index": index,
            "file": name,
            "sha256": hashlib.sha256(plain).hexdigest(),
            "size": len(plain),
            "started_at": (now + timedelta(seconds=index)).isoformat(),
            "duration": 1.0,
            "frames": 50,
            "session_id": session_id,
            "blob": ref.sha256,
            "sealed_size": ref.size,
        }
        await rooms.cases.repo.record(live.case_id, [AuditRecord("system", "recording.segment", details)], now)
        files.append(name)
    return files


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for running in _live(tmp_path, roles=("applicant",)):
        yield running


@pytest_asyncio.fixture
async def redis_nodes() -> AsyncIterator[tuple[RedisDirectory, RedisDirectory]]:
    """This node's and another node's view of the room directory in the real Redis."""
    here, there = (
        RedisDirectory(REDIS_URL, "http://this-node.invalid"),
        RedisDirectory(REDIS_URL, "http://other.invalid"),
    )
    try:
        await here.redis.ping()
    except Exception as exc:  # noqa: BLE001 - decide skip or fail
        await here.close()
        await there.close()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and is not reachable: {exc}")
        pytest.skip(f"Redis not reachable ({exc}); it runs in CI")
    yield here, there
    await here.close()
    await there.close()


async def test_a_start_seals_running_and_half_closed_sessions_but_not_one_another_node_runs(
    live: Live, redis_nodes: tuple[RedisDirectory, RedisDirectory]
) -> None:
    here, there = redis_nodes
    rooms = live.app[ROOMS]
    archive, repo = rooms.recordings.archive, rooms.cases.repo
    now = datetime.now(UTC)
    mediator = await live.app[AUTH].authenticate(live.tokens["mediator"], now)
    session_id = (await repo.load_case(live.case_id)).case.sessions[0].id
    await rooms.cases.execute(mediator, live.case_id, lc.StartSession(session_id), Action.RUN_SESSION, now)
    first = await store_segments(live, session_id, 3, "a")

    # another node hosts the room: the session is running there, not interrupted
    await there.claim(live.case_id)
    assert await seal_interrupted(archive, datetime.now(UTC), here.hosted_elsewhere) == []
    await there.release(live.case_id)
    [sealed] = await seal_interrupted(archive, datetime.now(UTC), here.hosted_elsewhere)
    assert (sealed.case_id, sealed.session_id, sealed.segments) == (live.case_id, session_id, 3)
    assert await seal_interrupted(archive, datetime.now(UTC)) == []  # nothing left to seal

    # the session went on and ended, but the server stopped before the final manifest was written
    later = await store_segments(live, session_id, 2, "b")
    await rooms.cases.execute(mediator, live.case_id, lc.EndSession(session_id), Action.RUN_SESSION, now)
    [verdict] = await archive.verify(live.case_id, datetime.now(UTC))
    assert verdict.status == "unsealed" and verdict.unsealed == later and verdict.ok
    [sealed] = await seal_interrupted(archive, datetime.now(UTC))
    assert (sealed.session_id, sealed.segments) == (session_id, 2)
    [verdict] = await archive.verify(live.case_id, datetime.now(UTC))
    assert verdict.status == "sealed_after_interruption" and verdict.ok and verdict.manifests == 2
    assert verdict.segments == len(first + later) and verdict.unsealed == []
    assert await seal_interrupted(archive, datetime.now(UTC)) == []
    # a session that ended long ago is not searched again
    assert await candidates(archive, datetime.now(UTC) + ENDED_WINDOW + timedelta(days=1)) == []
