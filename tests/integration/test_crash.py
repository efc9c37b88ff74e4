"""kill -9 the real server mid-session, start it again: what was recorded survives and verifies,
the session is marked interrupted, people rejoin and the recording goes on in new segments."""

from __future__ import annotations

import hashlib
import io
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from recording.vault import Vault, unseal
from server.store.blobs import LocalBlobStore
from server.store.keys import CaseKeyStore
from tests.live import prepare_case
from tests.media import make_clip
from tests.peers import ClientPeer
from tests.processes import enter, free_port, segments, start, store_of, wait_segments

pytestmark = pytest.mark.asyncio


async def test_kill_9_mid_session_then_rejoin(tmp_path: Path) -> None:
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
        before = await wait_segments(repo, case_id, 6)

        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        for peer in peers:
            await peer.close()

        # what was recorded before the crash is intact and verifies
        assert (await repo.verify_audit(case_id)).ok
        key = await Vault(CaseKeyStore(repo.engine), bytes.fromhex((data / "master.key").read_text())).data_key(
            case_id, _now()
        )
        blobs = LocalBlobStore(data / "blobs")
        for d in before:
            plain = unseal(key, await blobs.get(d["blob"]), case_id, d["file"])
            assert hashlib.sha256(plain).hexdigest() == d["sha256"]
            with av.open(io.BytesIO(plain)) as container:
                kind = container.streams.video if d["track"].endswith("video") else container.streams.audio
                assert sum(1 for _ in container.decode(kind[0])) == d["frames"]

        # the same server comes back; the same links rejoin; recording continues in new segments
        server = await start(data, port)
        mediator = await enter(base, tokens["mediator"], case_id, clip)
        applicant = await enter(base, tokens["applicant"], None, clip)
        peers = [mediator, applicant]
        trail, _ = await repo.audit_trail(case_id)
        assert "session.interrupted" in [e.action for e in trail]
        await mediator.emit("admit", {"participant_id": ids["applicant"]})  # a no-op if already admitted
        await mediator.publish()
        await applicant.publish()
        after = await wait_segments(repo, case_id, len(before) + 4)
        new = after[len(before) :]
        assert {d["file"] for d in new}.isdisjoint({d["file"] for d in before})
        assert (await mediator.emit("end"))["ok"]
        report = await _verify(base, tokens["mediator"], case_id)
        assert report["ok"], report
        assert report["sessions"][0]["segments"] == len(await segments(repo, case_id))
    finally:
        for peer in peers:
            await peer.close()
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)
        await repo.engine.dispose()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def _verify(base: str, token: str, case_id: str) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{base}/api/v1/cases/{case_id}/recording/verify", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return await resp.json()
