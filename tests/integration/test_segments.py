"""Recording without re-encoding: segments start on keyframes, decode on their own, carry their hash;
a recorder killed with -9 leaves every closed segment intact."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from recording.segments import Segment, TrackRecorder, vp8_size
from tests.media import make_clip
from tests.peers import _demuxed


def decoded_frames(data: bytes, kind: str) -> tuple[int, bool]:
    """How many frames of a Matroska file decode, and whether the first packet is a keyframe."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        first_key = next(p for p in container.demux(stream) if p.size).is_keyframe
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return sum(1 for _ in container.decode(stream)), first_key


async def record(tmp_path: Path, kind: str, skip: int = 0) -> tuple[list[Segment], list[int], int]:
    clip = make_clip(tmp_path / "clip.webm", seconds=4)
    packets, time_base, _ = _demuxed(str(clip))[kind]
    rate = 90000 if kind == "video" else 48000
    segments: list[Segment] = []
    asks: list[int] = []

    async def on_segment(segment: Segment) -> None:
        segments.append(segment)

    recorder = TrackRecorder(
        f"p1:{kind}",
        "VP8" if kind == "video" else "opus",
        rate,
        on_segment,
        request_keyframe=lambda: asks.append(1),
        segment_seconds=1.0,
        clock=lambda: datetime.now(UTC),
    )
    for data, pts, _ in packets[skip:]:
        recorder.write(data, int(pts * time_base * rate))
    await recorder.close()
    return sorted(segments, key=lambda s: s.index), asks, len(packets) - skip


@pytest.mark.asyncio
async def test_video_segments_start_on_keyframes_and_decode(tmp_path: Path) -> None:
    segments, asks, sent = await record(tmp_path, "video")
    assert len(segments) == 4 and [s.index for s in segments] == [0, 1, 2, 3]
    assert sum(s.frames for s in segments) == sent
    for segment in segments:
        frames, first_key = decoded_frames(segment.data, "video")
        assert first_key and frames == segment.frames
        assert (hashlib.sha256(segment.data).hexdigest(), len(segment.data)) == (segment.sha256, segment.size)
        assert 0.9 <= segment.duration <= 1.1
    assert segments[0].started_at <= segments[1].started_at
    assert len(asks) == 0  # this clip brings a keyframe every second by itself


@pytest.mark.asyncio
async def test_recording_waits_for_a_keyframe_and_asks_once(tmp_path: Path) -> None:
    segments, asks, sent = await record(tmp_path, "video", skip=5)
    assert asks == [1]
    assert sum(s.frames for s in segments) == sent - 25  # frames before the next keyframe are not recorded
    assert all(decoded_frames(s.data, "video")[1] for s in segments)


@pytest.mark.asyncio
async def test_audio_segments(tmp_path: Path) -> None:
    segments, _, sent = await record(tmp_path, "audio")
    assert sum(s.frames for s in segments) == sent
    for segment in segments:
        frames, _ = decoded_frames(segment.data, "audio")
        assert frames == segment.frames


def test_vp8_size_reads_keyframe_headers(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.webm", seconds=1, size=(320, 240))
    packets, _, _ = _demuxed(str(clip))["video"]
    assert vp8_size(packets[0][0]) == (320, 240)
    assert vp8_size(packets[1][0]) is None


WRITER = """
import asyncio, json, sys, time
from datetime import UTC, datetime
sys.path.insert(0, {root!r})
from pathlib import Path
from recording.segments import TrackRecorder
from tests.peers import _demuxed

async def main():
    packets, tb, loop_ticks = _demuxed({clip!r})["video"]
    folder = Path({folder!r})
    folder.mkdir(exist_ok=True)
    async def on_segment(s):  # stands in for the vault: store, then report
        (folder / s.name).write_bytes(s.data)
        print(json.dumps({{"file": str(folder / s.name), "sha256": s.sha256, "frames": s.frames}}), flush=True)
    rec = TrackRecorder("p1:video", "VP8", 90000, on_segment, segment_seconds=0.5, clock=lambda: datetime.now(UTC))
    start = time.monotonic()
    i = 0
    while True:  # real time, forever: the test kills us
        data, pts, _ = packets[i % len(packets)]
        pts += (i // len(packets)) * loop_ticks
        rec.write(data, int(pts * tb * 90000))
        i += 1
        await asyncio.sleep(max(0, start + i / 30 - time.monotonic()))

asyncio.run(main())
"""


def test_kill_9_loses_at_most_the_open_segment(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.webm", seconds=2, gop=15)
    folder = tmp_path / "rec"
    script = WRITER.format(root=str(Path(__file__).parents[2]), clip=str(clip), folder=str(folder))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    closed = []
    deadline = time.monotonic() + 30
    while len(closed) < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            closed.append(json.loads(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert len(closed) >= 3
    for entry in closed:
        data = Path(entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        frames, first_key = decoded_frames(data, "video")
        assert first_key and frames == entry["frames"]
    written = sorted(folder.glob("*.mkv"))
    assert len(written) - len(closed) <= 1  # a segment stored but not yet reported at the kill
    # the open segment lived only in memory: nothing unencrypted or partial was left behind
