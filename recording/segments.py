"""Recording encoded media as evidence: Matroska segments of a few seconds, no re-encoding.

A :class:`TrackRecorder` takes the encoded frames one forwarded track
already yields (``rooms.sfu.Publication``: VP8, H.264 or Opus as received) and muxes
them, unchanged, into Matroska files of about ``segment_seconds`` each, in
memory: nothing of a recording touches the disk unencrypted. A crash loses
at most the open segment; every closed segment is a complete file, handed to
``on_segment``, which stores it encrypted (``recording.evidence``). Video segments start on a keyframe: when a
segment is due, the recorder asks the publisher for one and cuts when it
arrives, so every segment decodes on its own.

H.264 arrives as aiortc depacketises it: Annex B access units (NAL units
behind ``00 00 01`` / ``00 00 00 01`` start codes). A segment starts on an IDR
picture, and it needs the stream's parameter sets: the recorder remembers the
last SPS and PPS seen and, when the IDR that opens a segment does not carry
both (browsers usually send SPS+PPS+IDR together, but need not), puts them in
front of it; picture data is never touched. The picture size comes from the
SPS (:func:`h264_sps_size`, no decoder). A new SPS or PPS on an IDR starts a new
segment, so a file never holds two sets of parameters. H.264 streams are
codec-less mux streams (``add_mux_stream``, PyAV >= 18; no encoder is opened):
PyAV takes the codec's extradata from the parameter sets of the first packet,
and libav's Matroska muxer writes them as an ``avcC`` record in CodecPrivate
(CodecID ``V_MPEG4/ISO/AVC``) and rewrites each Annex B packet into 4-byte
length-prefixed NAL units, as Matroska requires (the in-band SPS/PPS stay in
the block as well). Without parameter sets on the first packet libav refuses
to write the header at all, which is why a segment never starts without them.
Matroska rather than fragmented MP4: one container for every codec and the
same muxer path as VP8/Opus; the files decode with libav (PyAV, ffprobe) as
they are.

When a segment is closed (in a worker thread: finish the file, SHA-256) the
``on_segment`` callback receives a :class:`Segment`, which the caller appends
to the case's audit trail, so the segments' hashes form part of the hash chain
as they are written. The wall-clock start of a segment comes from the clock the
composition root gives (:class:`Recorders`), never read here.

A :class:`TrackRecorder` is the frame sink of ``rooms.ports``; :class:`Recorders`
is the factory the forwarder asks for one per recorded publication.
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
from datetime import datetime
from typing import Any

import av

logger = logging.getLogger(__name__)

CODECS = {"VP8": ("vp8", "video"), "H264": ("h264", "video"), "opus": ("opus", "audio")}
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


H264_IDR = 5
"""NAL unit type of a coded slice of an IDR picture."""
H264_SPS = 7
"""NAL unit type of a sequence parameter set."""
H264_PPS = 8
"""NAL unit type of a picture parameter set."""
H264_AUD = 9
"""NAL unit type of an access unit delimiter."""
_H264_SLICES = frozenset(range(1, 6))
"""NAL unit types that carry picture data (coded slices, partitions, IDR slices)."""
_START_CODE = b"\x00\x00\x00\x01"
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
"""``profile_idc`` values whose SPS carries chroma_format_idc, bit depths and scaling lists (H.264 §7.3.2.1.1)."""


def h264_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, header byte first, without start codes.

    Both ``00 00 01`` and ``00 00 00 01`` start codes are recognised; zero bytes
    before a start code (a 4-byte start code's first byte, trailing_zero_8bits)
    are dropped: a NAL unit never ends with a zero byte.
    """
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        start = data.find(b"\x00\x00\x01", begin)
        unit = data[begin : len(data) if start < 0 else start].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


class _Bits:
    """Reads an RBSP bit by bit: fixed-length and exp-Golomb codes (H.264 §7.2, §9.1)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.size = 8 * len(data)
        self.pos = 0

    def u(self, bits: int) -> int:
        if self.pos + bits > self.size:
            raise ValueError("truncated")
        self.pos += bits
        return (self.value >> (self.size - self.pos)) & ((1 << bits) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    """scaling_list() of H.264 §7.3.2.1.1.1: only read past, its values do not matter here."""
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def h264_sps_size(nal: bytes) -> tuple[int, int] | None:
    """Displayed width and height from an H.264 sequence parameter set NAL unit, or None.

    Parses seq_parameter_set_data() (H.264 §7.3.2.1.1) after removing
    emulation-prevention bytes: the macroblock size, field coding, and the
    frame cropping in units that depend on the chroma format.
    """
    if len(nal) < 4 or nal[0] & 0x1F != H264_SPS:
        return None
    bits = _Bits(nal[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    try:
        profile_idc = bits.u(8)
        bits.u(16)  # constraint_set flags, level_idc
        bits.ue()  # seq_parameter_set_id
        chroma_format_idc, separate_colour_planes = 1, False
        if profile_idc in _HIGH_PROFILES:
            chroma_format_idc = bits.ue()
            if chroma_format_idc == 3:
                separate_colour_planes = bits.flag()
            bits.ue()  # bit_depth_luma_minus8
            bits.ue()  # bit_depth_chroma_minus8
            bits.flag()  # qpprime_y_zero_transform_bypass_flag
            if bits.flag():  # seq_scaling_matrix_present_flag
                for i in range(12 if chroma_format_idc == 3 else 8):
                    if bits.flag():
                        _skip_scaling_list(bits, 16 if i < 6 else 64)
        bits.ue()  # log2_max_frame_num_minus4
        pic_order_cnt_type = bits.ue()
        if pic_order_cnt_type == 0:
            bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
        elif pic_order_cnt_type == 1:
            bits.flag()  # delta_pic_order_always_zero_flag
            bits.se()  # offset_for_non_ref_pic
            bits.se()  # offset_for_top_to_bottom_field
            for _ in range(bits.ue()):  # num_ref_frames_in_pic_order_cnt_cycle
                bits.se()
        bits.ue()  # max_num_ref_frames
        bits.flag()  # gaps_in_frame_num_value_allowed_flag
        width_mbs = bits.ue() + 1
        height_map_units = bits.ue() + 1
        frame_mbs_only = bits.flag()
        if not frame_mbs_only:
            bits.flag()  # mb_adaptive_frame_field_flag
        bits.flag()  # direct_8x8_inference_flag
        crop_left = crop_right = crop_top = crop_bottom = 0
        if bits.flag():  # frame_cropping_flag
            crop_left, crop_right, crop_top, crop_bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
    except ValueError:
        return None
    if chroma_format_idc > 3:
        return None
    field_factor = 1 if frame_mbs_only else 2
    # Table 6-1: SubWidthC, SubHeightC; ChromaArrayType 0 (monochrome, separate planes) crops in luma samples
    if chroma_format_idc == 0 or separate_colour_planes:
        unit_x, unit_y = 1, field_factor
    else:
        unit_x = 1 if chroma_format_idc == 3 else 2
        unit_y = (2 if chroma_format_idc == 1 else 1) * field_factor
    width = 16 * width_mbs - unit_x * (crop_left + crop_right)
    height = 16 * height_map_units * field_factor - unit_y * (crop_top + crop_bottom)
    if width <= 0 or height <= 0:
        return None
    return width, height


def with_parameter_sets(data: bytes, sps: bytes, pps: bytes) -> bytes:
    """An H.264 access unit that carries an SPS and a PPS: ``data`` as it is if it does, else with these in front.

    They go after a leading access unit delimiter, which must stay first. Slice
    data is never touched (the muxer rewrites start codes as length prefixes anyway).
    """
    units = h264_nal_units(data)
    types = {unit[0] & 0x1F for unit in units}
    if {H264_SPS, H264_PPS} <= types:
        return data
    if units and units[0][0] & 0x1F == H264_AUD:
        return b"".join(_START_CODE + unit for unit in [units[0], sps, pps, *units[1:]])
    return _START_CODE + sps + _START_CODE + pps + data


class _OpenSegment:
    """A segment being written."""

    def __init__(
        self,
        name: str,
        codec: str,
        clock_rate: int,
        size: tuple[int, int] | None,
        clock: Callable[[], datetime],
        parameter_sets: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.buffer = io.BytesIO()
        self.container: Any = av.open(self.buffer, "w", format="matroska")
        libav, kind = CODECS[codec]
        self.stream: Any
        if codec == "H264":
            # no codec context, no encoder: the extradata comes from the first packet's SPS/PPS
            assert size is not None
            self.stream = self.container.add_mux_stream(libav, rate=30, width=size[0], height=size[1])
        elif kind == "video":
            assert size is not None
            self.stream = self.container.add_stream(libav, rate=30)
            self.stream.width, self.stream.height = size
        else:
            self.stream = self.container.add_stream(libav, rate=clock_rate)
        self.parameter_sets = parameter_sets
        """H.264: the SPS and PPS the segment started with (None for other codecs)."""
        self.time_base = fractions.Fraction(1, clock_rate)
        self.first_ts: int | None = None
        self.last_ts = 0
        self.frames = 0
        self.started_at = clock()

    def write(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        if self.first_ts is None:
            self.first_ts = timestamp
            self.started_at = self.clock()
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
    """Records one track (a participant's microphone or camera) into segments.

    ``clock`` gives the wall-clock time of each segment's first frame.
    """

    def __init__(
        self,
        track: str,
        codec: str,
        clock_rate: int,
        on_segment: SegmentCallback,
        request_keyframe: Callable[[], None] = lambda: None,
        segment_seconds: float = 4.0,
        *,
        clock: Callable[[], datetime],
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
        self.clock = clock
        self.index = 0
        self.run = f"{time.time_ns() // 1_000_000:x}"  # a restarted recorder never reuses a name
        self.current: _OpenSegment | None = None
        self.asked_keyframe = False
        self.closing: set[asyncio.Task[None]] = set()
        self.frame_seconds = 1 / 30 if self.kind == "video" else 0.02
        self.sps: bytes | None = None
        """H.264: the last sequence parameter set seen (a NAL unit, no start code)."""
        self.pps: bytes | None = None
        """H.264: the last picture parameter set seen."""

    def parameter_sets(self) -> tuple[bytes, bytes] | None:
        """H.264: the last SPS and PPS seen, once both have been; None for other codecs."""
        return (self.sps, self.pps) if self.sps is not None and self.pps is not None else None

    def _new_segment(self, data: bytes, keyframe: bool) -> tuple[_OpenSegment, bytes] | None:
        """A new segment and the frame that opens it, or None: a video segment starts on a keyframe."""
        parameter_sets = self.parameter_sets()
        if self.codec == "H264":
            if not keyframe or parameter_sets is None:
                return None
            size = h264_sps_size(parameter_sets[0])
            if size is None:
                return None
            data = with_parameter_sets(data, *parameter_sets)
        else:
            size = vp8_size(data) if self.kind == "video" else None
            if self.kind == "video" and size is None:
                return None
        name = f"{self.track.replace(':', '-')}-{self.run}-{self.index:05d}.mkv"
        segment = _OpenSegment(name, self.codec, self.clock_rate, size, self.clock, parameter_sets)
        self.index += 1
        return segment, data

    def _observe_h264(self, data: bytes) -> tuple[bool, bool]:
        """Remember the frame's SPS/PPS; whether it carries a picture, and whether that is an IDR picture."""
        types: set[int] = set()
        for unit in h264_nal_units(data):
            nal_type = unit[0] & 0x1F
            types.add(nal_type)
            if nal_type == H264_SPS:
                self.sps = unit
            elif nal_type == H264_PPS:
                self.pps = unit
        return bool(types & _H264_SLICES), H264_IDR in types

    def write(self, data: bytes, timestamp: int) -> None:
        """One encoded frame as received (called on the event loop, never raises)."""
        try:
            self._write(data, timestamp)
        except Exception:  # recording must never break forwarding
            logger.exception("recording a frame of %s failed", self.kind)

    def _write(self, data: bytes, timestamp: int) -> None:
        if self.codec == "H264":
            picture, keyframe = self._observe_h264(data)
            if not picture:
                return  # parameter sets alone: remembered, put in front of the next segment's IDR
        else:
            keyframe = self.kind == "audio" or vp8_size(data) is not None
        current = self.current
        if current is not None and current.first_ts is not None:
            due = float((timestamp - current.first_ts) * current.time_base) >= self.segment_seconds
            # H.264: an IDR with new parameter sets starts a new segment (one SPS/PPS per file)
            changed = keyframe and current.parameter_sets != self.parameter_sets()
            if keyframe and (due or changed):
                self._close(current)
                current = self.current = None
            elif due and not self.asked_keyframe:
                self.asked_keyframe = True
                self.request_keyframe()
        if current is None:
            opened = self._new_segment(data, keyframe)
            if opened is None:
                if not self.asked_keyframe:
                    self.asked_keyframe = True
                    self.request_keyframe()
                return
            current, data = opened
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


@dataclass(frozen=True)
class Recorders:
    """Makes a :class:`TrackRecorder` for each recorded publication (``rooms.ports.RecorderFactory``)."""

    clock: Callable[[], datetime]
    """The composition root's clock: the wall-clock start of every segment."""

    def __call__(
        self,
        track: str,
        codec: str,
        clock_rate: int,
        on_segment: SegmentCallback,
        request_keyframe: Callable[[], None],
        segment_seconds: float,
    ) -> TrackRecorder | None:
        """A recorder for ``track`` in ``codec`` (the RTP codec name), or None if that codec is not recorded."""
        if codec not in CODECS:
            return None
        return TrackRecorder(
            track,
            codec,
            clock_rate,
            on_segment,
            request_keyframe=request_keyframe,
            segment_seconds=segment_seconds,
            clock=self.clock,
        )
