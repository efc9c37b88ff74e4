"""Recording H.264 without re-encoding: segments start on IDR pictures, carry their SPS/PPS (avcC) and
decode on their own, with PyAV and ffprobe; through the real forwarder too."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import av.logging
import pytest
import pytest_asyncio

from recording.segments import H264_IDR, H264_PPS, H264_SPS, Segment, TrackRecorder
from server.app import ROOMS
from tests.live import Live, _live, enter
from tests.media import encode_h264, make_clip, nal_types, sps_of, without_parameter_sets

FFPROBE = "/usr/bin/ffprobe" if os.access("/usr/bin/ffprobe", os.X_OK) else shutil.which("ffprobe")
SIZE = (640, 360)  # 368 coded lines: the SPS crops 8
FPS, GOP, SECONDS = 30, 75, 10  # an IDR every 2.5 s, segments due every 2 s


@contextmanager
def libav_messages() -> Iterator[list[tuple[int, str, str]]]:
    """Every warning or error libav logs meanwhile (PyAV keeps libav quiet otherwise)."""
    level = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_level(level)


def inspect(data: bytes) -> dict[str, Any]:
    """What PyAV makes of one segment file, alone."""
    with libav_messages() as logs:
        with av.open(io.BytesIO(data), "r") as container:
            stream = container.streams.video[0]
            info: dict[str, Any] = {
                "codec": stream.codec_context.name,
                "size": (stream.codec_context.width, stream.codec_context.height),
                "extradata": bytes(stream.codec_context.extradata or b""),
                "keys": [p.is_keyframe for p in container.demux(stream) if p.size],
            }
        with av.open(io.BytesIO(data), "r") as container:
            frames = list(container.decode(video=0))
    info["frames"] = len(frames)
    info["frame_sizes"] = {(f.width, f.height) for f in frames}
    info["logs"] = list(logs)
    return info


def ffprobe(path: Path) -> dict[str, Any] | None:
    """ffprobe's view of one file (None where ffprobe is not installed): every frame decoded, no message."""
    if FFPROBE is None:
        return None
    result = subprocess.run(
        [FFPROBE, "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    streams: list[dict[str, Any]] = json.loads(result.stdout)["streams"]
    assert len(streams) == 1
    return streams[0]


def browser_like_stream() -> list[tuple[bytes, int]]:
    """10 s of 640x360 at 30 fps from libx264, on a 90 kHz clock from a random-looking start,
    an IDR every 2.5 s, SPS/PPS with the first IDR only."""
    packets = encode_h264(*SIZE, frames=FPS * SECONDS, gop=GOP)
    start = 2_876_543_210
    frames = []
    for i, (data, key) in enumerate(packets):
        assert key == (i % GOP == 0) == (H264_IDR in nal_types(data))
        frames.append((data if i == 0 else without_parameter_sets(data), start + i * 90000 // FPS))
    assert [H264_SPS, H264_PPS] == nal_types(frames[0][0])[:2]
    assert sum(H264_SPS in nal_types(d) for d, _ in frames) == 1
    return frames


@pytest.mark.asyncio
async def test_h264_segments_start_on_idr_carry_parameter_sets_and_decode_alone(tmp_path: Path) -> None:
    frames = browser_like_stream()
    segments: list[Segment] = []
    asks: list[int] = []
    written = 0

    async def on_segment(segment: Segment) -> None:
        segments.append(segment)

    recorder = TrackRecorder(
        "p1:video",
        "H264",
        90000,
        on_segment,
        request_keyframe=lambda: asks.append(written),
        segment_seconds=2,
        clock=lambda: datetime.now(UTC),
    )
    for data, timestamp in frames:
        recorder.write(data, timestamp)
        written += 1
    await recorder.close()
    segments.sort(key=lambda s: s.index)

    # cut at every IDR (2.5 s apart); at 2 s each segment was due and asked for one that did not come
    assert [s.frames for s in segments] == [GOP] * 4 and sum(s.frames for s in segments) == len(frames)
    assert asks == [GOP * k + 2 * FPS for k in range(4)]  # frames written before each request
    sps = sps_of(frames[0][0])
    for segment in segments:
        assert segment.name.endswith(f"-{segment.index:05d}.mkv") and segment.data[:4] == b"\x1a\x45\xdf\xa3"
        assert (hashlib.sha256(segment.data).hexdigest(), len(segment.data)) == (segment.sha256, segment.size)
        assert abs(segment.duration - GOP / FPS) < 0.01
        assert b"V_MPEG4/ISO/AVC" in segment.data
        info = inspect(segment.data)
        assert info["codec"] == "h264" and info["size"] == SIZE and info["frame_sizes"] == {SIZE}
        assert info["frames"] == segment.frames, f"segment {segment.index} decoded {info['frames']}"
        assert info["keys"][0] and sum(info["keys"]) == 1  # starts on the IDR, the only one
        assert info["extradata"][:1] == b"\x01" and sps in info["extradata"]  # avcC with the stream's SPS
        assert info["logs"] == [], info["logs"]
        path = tmp_path / segment.name
        path.write_bytes(segment.data)
        probed = ffprobe(path)
        if probed is not None:
            assert probed == {"codec_name": "h264", "width": 640, "height": 360, "nb_read_frames": str(GOP)}


@pytest.mark.asyncio
async def test_a_recording_joined_mid_stream_starts_at_the_next_idr(tmp_path: Path) -> None:
    frames = browser_like_stream()[10:]  # no SPS/PPS ever seen, no IDR until frame 75
    segments: list[Segment] = []
    asks: list[int] = []

    async def on_segment(segment: Segment) -> None:
        segments.append(segment)

    recorder = TrackRecorder(
        "p1:video",
        "H264",
        90000,
        on_segment,
        lambda: asks.append(1),
        segment_seconds=2,
        clock=lambda: datetime.now(UTC),
    )
    for data, timestamp in frames:
        recorder.write(data, timestamp)
    await recorder.close()
    # the IDRs that follow carry no SPS/PPS and none was seen: nothing can be recorded, and it asked once
    assert segments == [] and asks == [1]


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "c.ts", video="libx264")


@pytest_asyncio.fixture
async def live_h264_recording(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, "H264", recording_segment_seconds=1.0):
        yield value


@pytest.mark.asyncio
async def test_h264_room_is_recorded_through_the_forwarder(
    live_h264_recording: Live, h264_clip: Path, tmp_path: Path
) -> None:
    from recording.vault import unseal

    live = live_h264_recording
    rooms = live.app[ROOMS]
    mediator = await enter(live, "mediator", h264_clip)
    applicant = await enter(live, "applicant", None, admit_by=mediator)
    m = live.ids["mediator"]
    try:

        async def video_segments() -> list[dict[str, Any]]:
            trail, _ = await rooms.cases.repo.audit_trail(live.case_id)
            return [
                d
                for d in (e.details_dict() for e in trail if e.action == "recording.segment")
                if d["track"] == f"{m}:video"
            ]

        for _ in range(100):
            if len(await video_segments()) >= 2:
                break
            await asyncio.sleep(0.2)
        found = sorted(await video_segments(), key=lambda d: d["index"])  # chained as each is stored
        assert len(found) >= 2 and [d["index"] for d in found[:2]] == [0, 1]
        key = await rooms.recordings.vault.data_key(live.case_id, datetime.now(UTC))
        for d in found[:2]:
            plain = unseal(key, await rooms.cases.blobs.get(d["blob"]), live.case_id, d["file"])
            assert hashlib.sha256(plain).hexdigest() == d["sha256"] and d["file"].endswith(".mkv")
            info = inspect(plain)
            assert info["codec"] == "h264" and info["size"] == (320, 240) and info["keys"][0]
            assert info["frames"] == d["frames"] >= 25 and info["logs"] == [], info
            assert info["extradata"][:1] == b"\x01"
            path = tmp_path / d["file"]
            path.write_bytes(plain)
            probed = ffprobe(path)
            if probed is not None:
                assert (probed["codec_name"], probed["width"], probed["height"]) == ("h264", 320, 240)
                assert probed["nb_read_frames"] == str(d["frames"])
    finally:
        await applicant.close()
        await mediator.close()
