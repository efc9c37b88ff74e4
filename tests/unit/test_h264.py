"""H.264 without a decoder: NAL units, the picture size from the SPS, and how the recorder opens segments."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import av
import pytest

from recording.segments import (
    H264_IDR,
    H264_PPS,
    H264_SPS,
    Segment,
    TrackRecorder,
    h264_nal_units,
    h264_sps_size,
    with_parameter_sets,
)
from tests.media import START, encode_h264, nal_types, sps_of, without_parameter_sets


def decoded_size(packets: list[tuple[bytes, bool]]) -> tuple[int, int]:
    """What libav's decoder makes of the stream (the reference for the parser)."""
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for data, _ in packets for f in decoder.decode(av.Packet(data))] + decoder.decode(None)
    assert frames and isinstance(frames[0], av.VideoFrame)
    return frames[0].width, frames[0].height


# size, pixel format, x264 options, profile_idc the SPS must carry (so each parser branch is taken)
REAL_STREAMS = [
    ((640, 360), "yuv420p", "", 66),  # 368 coded lines, 8 cropped
    ((320, 180), "yuv420p", "", 66),  # 192 coded lines, 12 cropped
    ((1280, 720), "yuv420p", "", 66),  # no cropping
    ((640, 360), "yuv420p", "cqm=jvt", 100),  # High: chroma_format_idc, scaling lists
    ((640, 360), "yuv420p", "interlaced=1", 77),  # field coding: map units of 32 lines, crop unit 4
    ((322, 182), "yuv422p", "", 122),  # 4:2:2: vertical crop unit 1
    ((321, 181), "yuv444p", "", 244),  # 4:4:4: crop unit 1 both ways
    ((330, 190), "gray", "", 100),  # monochrome: chroma_format_idc 0
]


@pytest.mark.parametrize(("size", "pix_fmt", "x264_params", "profile"), REAL_STREAMS)
def test_sps_size_of_libx264_streams(size: tuple[int, int], pix_fmt: str, x264_params: str, profile: int) -> None:
    packets = encode_h264(*size, pix_fmt=pix_fmt, x264_params=x264_params)
    first, key = packets[0]
    assert key and nal_types(first)[:2] == [H264_SPS, H264_PPS] and H264_IDR in nal_types(first)
    sps = sps_of(first)
    assert sps[1] == profile
    assert h264_sps_size(sps) == size == decoded_size(packets)


class BitWriter:
    """Writes an SPS the way an encoder would, to reach what libx264 never emits."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, value: int, n: int) -> BitWriter:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(0, code.bit_length() - 1).u(code, code.bit_length())

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def nal(self) -> bytes:
        """rbsp_trailing_bits, bytes, emulation prevention (a 03 after two zero bytes before 00..03)."""
        bits = [*self.bits, 1]
        bits += [0] * (-len(bits) % 8)
        rbsp = bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))
        out = bytearray([0x67])
        zeros = 0
        for byte in rbsp:
            if zeros >= 2 and byte <= 3:
                out.append(3)
                zeros = 0
            out.append(byte)
            zeros = zeros + 1 if byte == 0 else 0
        return bytes(out)


def synthetic_sps(
    *,
    width_mbs: int,
    height_units: int,
    profile: int = 100,
    chroma_format_idc: int = 1,
    separate_planes: bool = False,
    frame_mbs_only: bool = True,
    poc_type: int = 0,
    crop: tuple[int, int, int, int] | None = None,
    level: int = 31,
) -> bytes:
    w = BitWriter().u(profile, 8).u(0, 8).u(level, 8).ue(0)
    if profile in (100, 110, 122, 244):
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.u(int(separate_planes), 1)
        w.ue(0).ue(0).u(0, 1)
        w.u(1, 1)  # seq_scaling_matrix_present_flag
        for i in range(12 if chroma_format_idc == 3 else 8):
            present = i in (0, 6)
            w.u(int(present), 1)
            if present:  # one 4x4 and one 8x8 list: a few deltas, then "use the last value"
                for delta in (2, -3, 5, -12):  # 10, 7, 12, then 0: repeat 12 to the end
                    w.se(delta)
    w.ue(4)  # log2_max_frame_num_minus4
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        w.u(0, 1).se(-3).se(7).ue(3).se(1).se(-2).se(5)
    w.ue(1).u(0, 1)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    w.ue(width_mbs - 1).ue(height_units - 1)
    w.u(int(frame_mbs_only), 1)
    if not frame_mbs_only:
        w.u(1, 1)
    w.u(1, 1)  # direct_8x8_inference_flag
    w.u(int(crop is not None), 1)
    for value in crop or ():
        w.ue(value)
    w.u(0, 1)  # vui_parameters_present_flag
    return w.nal()


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        (dict(width_mbs=40, height_units=23, profile=66, poc_type=1, crop=(0, 0, 0, 4)), (640, 360)),
        (dict(width_mbs=80, height_units=45, chroma_format_idc=0, crop=(1, 2, 3, 4)), (1277, 713)),
        (
            dict(width_mbs=80, height_units=23, chroma_format_idc=0, frame_mbs_only=False, crop=(0, 0, 1, 1)),
            (1280, 732),
        ),
        (dict(width_mbs=20, height_units=12, chroma_format_idc=2, crop=(1, 1, 1, 1)), (316, 190)),
        (dict(width_mbs=20, height_units=12, chroma_format_idc=3, separate_planes=True, crop=(1, 0, 0, 1)), (319, 191)),
        (dict(width_mbs=20, height_units=6, chroma_format_idc=1, frame_mbs_only=False, crop=(0, 0, 0, 3)), (320, 180)),
    ],
)
def test_sps_size_of_synthetic_parameter_sets(fields: dict[str, Any], size: tuple[int, int]) -> None:
    assert h264_sps_size(synthetic_sps(**fields)) == size


def test_sps_size_removes_emulation_prevention_bytes() -> None:
    # 32768 macroblocks across and down: ue(32767) ends in 15 zero bits, the next begins with 15
    sps = synthetic_sps(width_mbs=32768, height_units=32768, profile=66, level=0)
    assert b"\x00\x00\x03" in sps
    assert h264_sps_size(sps) == (16 * 32768, 16 * 32768)


def test_sps_size_refuses_what_is_not_a_whole_sps() -> None:
    sps = sps_of(encode_h264(640, 360)[0][0])
    assert h264_sps_size(sps) == (640, 360)
    assert h264_sps_size(sps[:6]) is None  # truncated
    assert h264_sps_size(bytes([0x68]) + sps[1:]) is None  # a PPS header
    assert h264_sps_size(b"") is None


def test_nal_units_with_both_start_codes_and_trailing_zeros() -> None:
    data = (
        b"\x00\x00\x00\x01\x67\x42\x00\x1f" + b"\x00\x00\x01\x68\xce\x3c\x80\x00" + b"\x00\x00\x01\x65\x88\x84\x00\x00"
    )
    assert h264_nal_units(data) == [b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80", b"\x65\x88\x84"]
    assert h264_nal_units(b"") == [] and h264_nal_units(b"\x65\x88") == []
    key, _ = encode_h264(320, 180)[0]
    assert nal_types(key)[:2] == [H264_SPS, H264_PPS] and nal_types(key)[-1] == H264_IDR


def test_with_parameter_sets_adds_only_what_is_missing() -> None:
    key, _ = encode_h264(320, 180)[0]
    sps, pps = (u for u in h264_nal_units(key) if u[0] & 0x1F in (H264_SPS, H264_PPS))
    assert with_parameter_sets(key, sps, pps) == key  # already complete: unchanged, byte for byte
    bare = without_parameter_sets(key)
    assert nal_types(with_parameter_sets(bare, sps, pps)) == [H264_SPS, H264_PPS, *nal_types(bare)]
    delimited = START + b"\x09\xf0" + bare
    assert nal_types(with_parameter_sets(delimited, sps, pps))[:3] == [9, H264_SPS, H264_PPS]  # AUD stays first


class Recorded:
    """A recorder of one H.264 track and what it reported."""

    def __init__(self, segment_seconds: float = 1.0) -> None:
        self.segments: list[Segment] = []
        self.asks = 0

        async def on_segment(segment: Segment) -> None:
            self.segments.append(segment)

        def ask() -> None:
            self.asks += 1

        self.recorder = TrackRecorder(
            "p1:video", "H264", 90000, on_segment, ask, segment_seconds=segment_seconds, clock=lambda: datetime.now(UTC)
        )

    def feed(self, frames: list[bytes], start: int = 0) -> None:
        for i, data in enumerate(frames):
            self.recorder.write(data, 1_000_000 + 3000 * (start + i))

    async def close(self) -> list[Segment]:
        await self.recorder.close()
        return sorted(self.segments, key=lambda s: s.index)


def read_segment(segment: Segment) -> tuple[tuple[int, int], int, bool, bytes]:
    """Size, decoded frames, whether the first packet is a keyframe, and the CodecPrivate (extradata)."""
    with av.open(io.BytesIO(segment.data), "r") as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata or b""
        first_key = next(p for p in container.demux(stream) if p.size).is_keyframe
    with av.open(io.BytesIO(segment.data), "r") as container:
        frames = list(container.decode(video=0))
    return (frames[0].width, frames[0].height), len(frames), first_key, extradata


@pytest.mark.asyncio
async def test_recording_waits_for_an_idr_and_adds_remembered_parameter_sets() -> None:
    packets = [data for data, _ in encode_h264(320, 180, frames=70, gop=30)]
    keyframes = [i for i, data in enumerate(packets) if H264_IDR in nal_types(data)]
    assert keyframes == [0, 30, 60]
    # SPS/PPS travel alone before the stream (a frame of their own), never again
    sps_pps = b"".join(START + u for u in h264_nal_units(packets[0]) if u[0] & 0x1F in (H264_SPS, H264_PPS))
    stream = [sps_pps] + [without_parameter_sets(p) for p in packets]
    rec = Recorded()
    rec.feed(stream[1:3])  # an IDR before any SPS/PPS cannot open a segment: ask for another
    assert rec.recorder.current is None and rec.asks == 1
    rec.feed(stream[3:6], start=2)  # P frames: still waiting, no second request
    assert rec.recorder.current is None and rec.asks == 1
    rec.feed([stream[0]], start=5)  # the parameter sets: remembered, not a frame
    rec.feed(stream[31:61], start=30)  # the next IDR opens the first segment
    rec.feed([stream[0]], start=59)  # SPS/PPS again, alone, inside a segment: not a frame either
    rec.feed(stream[61:], start=60)
    segments = await rec.close()
    assert [s.frames for s in segments] == [30, 10]  # cut at the IDR a second later
    for segment in segments:
        size, frames, first_key, extradata = read_segment(segment)
        assert size == (320, 180) and frames == segment.frames and first_key
        assert extradata[:1] == b"\x01" and sps_of(packets[0]) in extradata  # avcC with the SPS


@pytest.mark.asyncio
async def test_new_parameter_sets_on_an_idr_start_a_new_segment() -> None:
    small = [data for data, _ in encode_h264(320, 180, frames=10, gop=30)]
    large = [data for data, _ in encode_h264(640, 360, frames=10, gop=30)]
    rec = Recorded(segment_seconds=4.0)
    rec.feed(small)
    rec.feed(large, start=10)  # the sender changed resolution: a new SPS on a new IDR
    segments = await rec.close()
    assert [(s.frames, read_segment(s)[0]) for s in segments] == [(10, (320, 180)), (10, (640, 360))]
    assert rec.asks == 0
    assert all(read_segment(s)[1] == 10 for s in segments)


@pytest.mark.asyncio
async def test_a_due_segment_asks_for_an_idr_once_and_cuts_on_it() -> None:
    packets = [data for data, _ in encode_h264(160, 96, frames=60, gop=45)]
    rec = Recorded(segment_seconds=1.0)
    rec.feed(packets[:44])
    assert rec.asks == 1 and rec.segments == [] and rec.recorder.current is not None
    rec.feed(packets[44:], start=44)
    segments = await rec.close()
    assert [s.frames for s in segments] == [45, 15] and rec.asks == 1
    assert all(read_segment(s)[2] for s in segments)
