"""Playback cost: the time of a clip request, whole and by ``Range``, over the real server.

Set-up (not measured): the real application on SQLite in a temporary folder, a case made
over its HTTP API, and one camera track of ``--minutes`` recorded the way the server
records it: a 640x480 30 fps VP8 clip made once (``tests.media.make_clip``) is fed, looped
with increasing timestamps, to ``recording.segments.TrackRecorder`` (4 s segments); each
closed segment is sealed with the case's data key, stored in the blob store and chained
into the audit trail as ``recording.segment`` (what ``EvidenceStore.store_segment`` does),
with wall-clock starts 4 s apart.

Measured, over HTTP with the mediator's login, ``--runs`` playbacks as a media element makes
them (median printed):

* ``open``: ``Range: bytes=0-`` (a playback starts: the clip is built, every segment checked,
  and the playback audited);
* ``seek``: three ``Range: bytes=<n>-<n + 64 KiB>`` requests of the same playback, at a third,
  a half and near the end of the file (what seeking asks for);
* ``whole``: ``GET`` without ``Range`` (a download).

Besides the times: the ``recording.played`` audit entries the requests wrote. The baseline is
``open``, measured in the same run: before the clip cache every ``Range`` request built the
clip as an opening does (``ratio`` = seek / open). The last line printed is one JSON object.

    .venv/bin/python bench/playback.py --quick
    .venv/bin/python bench/playback.py --minutes 10 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from recording.segments import Segment, TrackRecorder  # noqa: E402
from recording.vault import seal  # noqa: E402
from server.app import ROOMS  # noqa: E402
from server.store.repository import AuditRecord  # noqa: E402
from tests.live import _live  # noqa: E402
from tests.media import make_clip  # noqa: E402
from tests.peers import _demuxed  # noqa: E402


async def record_track(live: Any, session_id: str, participant_id: str, clip: Path, minutes: float) -> int:
    """Record ``minutes`` of the clip's video as one track of the session; the number of segments."""
    rooms = live.app[ROOMS]
    repo, blobs, vault = rooms.cases.repo, rooms.cases.blobs, rooms.recordings.vault
    key = await vault.data_key(live.case_id, datetime.now(UTC))
    origin = datetime.now(UTC) - timedelta(minutes=minutes + 1)
    stored: list[Segment] = []

    async def on_segment(segment: Segment) -> None:
        stored.append(segment)

    packets, time_base, loop = _demuxed(str(clip))["video"]
    recorder = TrackRecorder(
        f"{participant_id}:video", "VP8", 90000, on_segment, segment_seconds=4.0, clock=lambda: datetime.now(UTC)
    )
    loops = int(minutes * 60 / float(loop * time_base)) + 1
    for n in range(loops):
        for data, pts, _key in packets:
            recorder.write(data, int((pts + n * loop) * time_base * 90000))
        await asyncio.sleep(0)
    await recorder.close()
    stored.sort(key=lambda s: s.index)
    for segment in stored:
        sealed = seal(key, segment.data, live.case_id, segment.name)
        ref = await blobs.put(sealed)
        details = {
            **segment.details(),
            "started_at": (origin + timedelta(seconds=4.0 * segment.index)).isoformat(),
            "session_id": session_id,
            "blob": ref.sha256,
            "sealed_size": ref.size,
        }
        await repo.record(live.case_id, [AuditRecord("system", "recording.segment", details)], datetime.now(UTC))
    return len(stored)


async def timed(http: aiohttp.ClientSession, url: str, token: str, wanted: str | None) -> tuple[float, int, bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    if wanted:
        headers["Range"] = wanted
    t0 = time.perf_counter()
    async with http.get(url, headers=headers) as resp:
        body = await resp.read()
        status = resp.status
    return time.perf_counter() - t0, status, body


async def main(args: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_clip(folder / "clip.webm", seconds=10, size=(640, 480), gop=60)
        async for live in _live(folder, roles=("applicant",)):
            loaded = await live.app[ROOMS].cases.repo.load_case(live.case_id)
            session_id = loaded.case.sessions[0].id
            segments = await record_track(live, session_id, live.ids["applicant"], clip, args.minutes)
            token = live.tokens["mediator"]
            api = f"{live.base}/api/v1/cases/{live.case_id}/recording/sessions/{session_id}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{api}/timeline", headers={"Authorization": f"Bearer {token}"}) as resp:
                    timeline = await resp.json()
                url = f"{api}/clips/{timeline['clips'][0]['id']}"
                trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
                played_before = sum(1 for e in trail if e.action == "recording.played")
                times: dict[str, list[float]] = {"open": [], "seek": [], "whole": []}
                size = 0
                for _ in range(args.runs):
                    seconds, status, body = await timed(http, url, token, "bytes=0-")
                    assert status == 206, status
                    size = len(body)
                    times["open"].append(seconds)
                    for at in (size // 3, size // 2, size - 70_000):
                        seconds, status, part = await timed(http, url, token, f"bytes={at}-{at + 65535}")
                        assert status == 206 and part == body[at : at + 65536], status
                        times["seek"].append(seconds)
                    seconds, status, whole = await timed(http, url, token, None)
                    assert status == 200 and whole == body, status
                    times["whole"].append(seconds)
                trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
                played = sum(1 for e in trail if e.action == "recording.played") - played_before
    result = {
        "bench": "playback",
        "minutes": args.minutes,
        "segments": segments,
        "clip_bytes": size,
        "runs": args.runs,
        **{f"{k}_ms": round(1000 * statistics.median(v), 1) for k, v in times.items()},
        "requests": 5 * args.runs,
        "audit_entries": played,
    }
    # the baseline: before the cache every Range request built the clip as an opening does,
    # so a seek cost what "open" costs (measured here in the same run)
    result["baseline_seek_ms"] = result["open_ms"]
    result["ratio"] = round(result["seek_ms"] / result["open_ms"], 3) if result["open_ms"] else None
    for name in ("open", "seek", "whole"):
        print(f"{name:6s} median {result[name + '_ms']:8.1f} ms over {len(times[name])} requests")
    print(f"{result['requests']} requests wrote {played} recording.played entries; clip {size / 1e6:.2f} MB")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the recorded track")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 minute, 3 runs")
    ns = parser.parse_args()
    if ns.quick:
        ns.minutes, ns.runs = 1.0, 3
    print(json.dumps(asyncio.run(main(ns))))
