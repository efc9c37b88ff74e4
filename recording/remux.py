"""Joining a clip's stored segments into one playable file, without re-encoding.

Each segment (a Matroska file of one track) has its packets shifted by the
segment's offset from the clip's start, the offset ``recording.timeline.lay_out``
gives: its wall-clock offset (what keeps a clip aligned with the other tracks)
unless that would overlap the segment before it (frames that reached the server
in a burst); the timeline gives the same offsets, so a clip's duration is its
file's length. VP8 and Opus go into WebM, H.264 into fragmented MP4: what
browsers play.

The work is CPU-bound (demuxing, muxing): callers run it in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import av

_CODEC_NAMES = {"vp8": "vp8", "opus": "opus", "h264": "h264", "avc1": "h264", "libopus": "opus", "libvpx": "vp8"}


def _codec_name(name: str) -> str:
    return _CODEC_NAMES.get(name.lower(), name.lower())


@dataclass(frozen=True)
class Remuxed:
    """One file made of a clip's segments."""

    data: bytes
    """The file."""
    codec: str
    """Codec of its one stream (``vp8``, ``opus``, ``h264``)."""
    container: str
    """``webm`` or ``mp4``."""
    packets: int
    """Encoded frames written."""
    seconds: float
    """Timestamp of the last packet written (from the file's start)."""


def _output_for(codec: str, extradata: bytes | None) -> tuple[str, dict[str, str]]:
    if codec == "h264":
        # Fragmented MP4 puts the codec configuration up front; with none known yet the
        # muxer takes it from the first keyframe, which needs the moov at the end instead.
        if extradata:
            return "mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof", "fflags": "+bitexact"}
        return "mp4", {"fflags": "+bitexact"}
    return "webm", {"fflags": "+bitexact"}


def remux(parts: Sequence[tuple[float, bytes]]) -> Remuxed:
    """Join Matroska segments of one track into one file, without re-encoding.

    ``parts``: (seconds from the clip's start, segment file) in order, the
    offsets being those :func:`recording.timeline.lay_out` gives. Each segment's packets are shifted
    by its offset; a segment that would still overlap the previous one starts one
    frame after its last instead, so timestamps only increase. CPU-bound: call it in a worker thread.
    """
    if not parts:
        raise ValueError("nothing to remux")
    buffer = io.BytesIO()
    output: Any = None
    out_stream: Any = None
    codec = container = ""
    written = 0
    last = 0.0
    follows = 0.0
    try:
        for offset, data in parts:
            with av.open(io.BytesIO(data), "r", format="matroska") as source:
                stream: Any = next(s for s in source.streams if s.type in ("audio", "video"))
                name = _codec_name(stream.codec_context.name)
                if output is None:
                    codec = name
                    container, options = _output_for(codec, stream.codec_context.extradata)
                    output = av.open(buffer, "w", format=container, options=options)
                    out_stream = output.add_stream_from_template(stream)
                elif name != codec:
                    raise ValueError(f"a clip's segments changed codec ({codec} -> {name})")
                packets = [p for p in source.demux(stream) if p.size and p.pts is not None]
                if not packets:
                    continue
                base = stream.time_base
                first = float(packets[0].pts * base)
                span = float((packets[-1].pts - packets[0].pts) * base)
                step = span / (len(packets) - 1) if len(packets) > 1 else float(base)
                shift = round(max(offset, follows - first) / float(base))
                for packet in packets:
                    packet.pts += shift
                    packet.dts = packet.pts if packet.dts is None else packet.dts + shift
                    last = max(last, float(packet.pts * base))  # mux() rescales the packet in place
                    packet.stream = out_stream
                    output.mux(packet)
                    written += 1
                follows = last + step  # the earliest the next segment may start: one frame later
    finally:
        if output is not None:
            output.close()
    return Remuxed(buffer.getvalue(), codec, container, written, last)


def probe_codec(data: bytes) -> str:
    """The codec of a Matroska segment's first audio or video stream."""
    with av.open(io.BytesIO(data), "r", format="matroska") as source:
        stream = next(s for s in source.streams if s.type in ("audio", "video"))
        return _codec_name(stream.codec_context.name)
