"""Recording encoded media as evidence: Matroska segments of a few seconds, no re-encoding.

A :class:`TrackRecorder` takes the encoded frames one forwarded track
already yields (``rooms.sfu.Publication``: VP8 or Opus as received) and muxes
them, unchanged, into Matroska files of about ``segment_seconds`` each, in
memory: nothing of a recording touches the disk unencrypted. A crash loses
at most the open segment; every closed segment is a complete file, handed to
``on_segment``, which stores it encrypted (``recording.vault``). Video segments start on a keyframe: when a
segment is due, the recorder asks the publisher for one and cuts when it
arrives, so every segment decodes on its own.

When a segment is closed (in a worker thread: finish the file, SHA-256) the
``on_segment`` callback receives a :class:`Segment`, which the caller appends
to the case's audit trail, so the segments' hashes form part of the hash chain
as they are written.
"""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import av

logger = logging.getLogger(__name__)

CODECS = {"VP8": ("vp8", "video"), "opus": ("opus", "audio")}
"""Codecs recorded as they arrive: RTP codec name -> (libav codec, kind)."""


@dataclass(frozen=True)
class Segment:
    """One closed segment file of one track."""

    track: str
    """``<participant id>:<kind>``."""
    index: int
    """0, 1, 2… within the track."""
    name: str
    """File name, ``<participant>-<kind>-<index>.mkv``."""
    data: bytes
    """The complete Matroska file (kept in memory until the caller stores it, encrypted)."""
    started_at: datetime
    """Wall-clock time of the segment's first frame (UTC): aligns tracks for playback."""
    duration: float
    """Seconds from the first to the last frame's timestamp, plus one frame."""
    frames: int
    """Encoded frames written."""
    sha256: str
    """Hex digest of the file as closed."""
    size: int
    """Bytes."""

    def details(self) -> dict[str, Any]:
        """JSON-ready, for the audit trail."""
        return {
            "track": self.track,
            "index": self.index,
            "file": self.name,
            "started_at": self.started_at.isoformat(),
            "duration": round(self.duration, 3),
            "frames": self.frames,
            "sha256": self.sha256,
            "size": self.size,
        }


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1), or None."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class _OpenSegment:
    """A segment being written."""

    def __init__(self, name: str, codec: str, clock_rate: int, size: tuple[int, int] | None) -> None:
        self.name = name
        self.buffer = io.BytesIO()
        self.container: Any = av.open(self.buffer, "w", format="matroska")
        libav, kind = CODECS[codec]
        self.stream: Any
        if kind == "video":
            assert size is not None
            self.stream = self.container.add_stream(libav, rate=30)
            self.stream.width, self.stream.height = size
        else:
            self.stream = self.container.add_stream(libav, rate=clock_rate)
        self.time_base = fractions.Fraction(1, clock_rate)
        self.first_ts: int | None = None
        self.last_ts = 0
        self.frames = 0
        self.started_at = datetime.now(UTC)

    def write(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        if self.first_ts is None:
            self.first_ts = timestamp
            self.started_at = datetime.now(UTC)
        packet = av.Packet(data)
        packet.pts = packet.dts = timestamp - self.first_ts
        packet.time_base = self.time_base
        packet.is_keyframe = keyframe
        packet.stream = self.stream
        self.container.mux(packet)
        self.last_ts = timestamp
        self.frames += 1

    def seconds(self) -> float:
        return 0.0 if self.first_ts is None else float((self.last_ts - self.first_ts) * self.time_base)


SegmentCallback = Callable[[Segment], Awaitable[None]]


class TrackRecorder:
    """Records one track (a participant's microphone or camera) into segments."""

    def __init__(
        self,
        track: str,
        codec: str,
        clock_rate: int,
        on_segment: SegmentCallback,
        request_keyframe: Callable[[], None] = lambda: None,
        segment_seconds: float = 4.0,
    ) -> None:
        if codec not in CODECS:
            raise ValueError(f"recording {codec} is not supported")
        self.track = track
        self.codec = codec
        self.kind = CODECS[codec][1]
        self.clock_rate = clock_rate
        self.on_segment = on_segment
        self.request_keyframe = request_keyframe
        self.segment_seconds = segment_seconds
        self.index = 0
        self.run = f"{time.time_ns() // 1_000_000:x}"  # a restarted recorder never reuses a name
        self.current: _OpenSegment | None = None
        self.asked_keyframe = False
        self.closing: set[asyncio.Task[None]] = set()
        self.frame_seconds = 1 / 30 if self.kind == "video" else 0.02

    def _new_segment(self, data: bytes) -> _OpenSegment | None:
        size = vp8_size(data) if self.kind == "video" else None
        if self.kind == "video" and size is None:
            return None  # a video segment starts on a keyframe
        name = f"{self.track.replace(':', '-')}-{self.run}-{self.index:05d}.mkv"
        segment = _OpenSegment(name, self.codec, self.clock_rate, size)
        self.index += 1
        return segment

    def write(self, data: bytes, timestamp: int) -> None:
        """One encoded frame as received (called on the event loop, never raises)."""
        try:
            self._write(data, timestamp)
        except Exception:  # recording must never break forwarding
            logger.exception("recording a frame of %s failed", self.kind)

    def _write(self, data: bytes, timestamp: int) -> None:
        keyframe = self.kind == "audio" or vp8_size(data) is not None
        current = self.current
        if (
            current is not None
            and current.first_ts is not None
            and float((timestamp - current.first_ts) * current.time_base) >= self.segment_seconds
        ):
            if self.kind == "audio" or keyframe:
                self._close(current)
                current = self.current = None
            elif not self.asked_keyframe:
                self.asked_keyframe = True
                self.request_keyframe()
        if current is None:
            current = self._new_segment(data)
            if current is None:
                if not self.asked_keyframe:
                    self.asked_keyframe = True
                    self.request_keyframe()
                return
            self.current = current
            self.asked_keyframe = False
        current.write(data, timestamp, keyframe)

    def _close(self, segment: _OpenSegment) -> None:
        task = asyncio.ensure_future(self._finish(segment))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def _finish(self, segment: _OpenSegment) -> None:
        def close_and_hash() -> tuple[bytes, str]:
            segment.container.close()
            data = segment.buffer.getvalue()
            return data, hashlib.sha256(data).hexdigest()

        data, sha256 = await asyncio.to_thread(close_and_hash)
        info = Segment(
            track=self.track,
            index=int(segment.name.rsplit("-", 1)[1].split(".")[0]),
            name=segment.name,
            data=data,
            started_at=segment.started_at,
            duration=segment.seconds() + self.frame_seconds,
            frames=segment.frames,
            sha256=sha256,
            size=len(data),
        )
        try:
            await self.on_segment(info)
        except Exception:
            logger.exception("storing a closed segment failed")

    async def close(self) -> None:
        """Close the open segment and wait for every segment to be hashed and reported."""
        if self.current is not None and self.current.frames:
            self._close(self.current)
        self.current = None
        while self.closing:
            await asyncio.gather(*list(self.closing))
