"""Test media made here with PyAV: a moving picture (VP8 or H.264) and a tone (Opus); H.264 access units as a
browser sends them, and what the tests read from them."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np

from recording.segments import H264_PPS, H264_SPS, h264_nal_units


def make_clip(
    path: Path,
    *,
    seconds: float = 4.0,
    video: str = "libvpx",
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
    gop: int = 30,
    tone_hz: float = 440.0,
    speech: np.ndarray | None = None,
) -> Path:
    """Write a clip with a keyframe every ``gop`` frames and a tone (or ``speech``: mono int16 samples
    at 48 kHz, which then set the length); return ``path``."""
    if speech is not None:
        seconds = len(speech) / 48000
    w, h = size
    container = av.open(str(path), "w")
    vs = container.add_stream(video, rate=fps)
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    vs.bit_rate = 300_000
    vs.gop_size = gop
    if video == "libvpx":
        vs.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        vs.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "bf": "0"}
    aus = container.add_stream("libopus", rate=48000)
    aus.layout = "mono"
    aus.bit_rate = 32000
    yy, xx = np.mgrid[0:h, 0:w]
    samples = 960
    audio_index = 0
    for i in range(int(seconds * fps)):
        img = np.empty((h, w, 3), dtype=np.uint8)
        img[..., 0] = (xx + 4 * i) % 256
        img[..., 1] = (yy + 2 * i) % 256
        img[..., 2] = ((xx + yy) // 3 + i) % 256
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        frame.time_base = fractions.Fraction(1, fps)
        for packet in vs.encode(frame):
            container.mux(packet)
        while audio_index * samples / 48000 < (i + 1) / fps:
            if speech is not None:
                pcm = np.zeros((1, samples), dtype=np.int16)
                piece = speech[audio_index * samples : (audio_index + 1) * samples]
                pcm[0, : len(piece)] = piece
            else:
                t = (np.arange(samples) + audio_index * samples) / 48000
                pcm = (0.3 * np.sin(2 * np.pi * tone_hz * t) * 32767).astype(np.int16)[None, :]
            af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            af.sample_rate = 48000
            af.pts = audio_index * samples
            af.time_base = fractions.Fraction(1, 48000)
            for packet in aus.encode(af):
                container.mux(packet)
            audio_index += 1
    for stream in (vs, aus):
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()
    return path


# ------------------------------------------------------------------ H.264 access units

START = b"\x00\x00\x00\x01"


def encode_h264(
    width: int,
    height: int,
    frames: int = 2,
    *,
    gop: int = 30,
    pix_fmt: str = "yuv420p",
    x264_params: str = "",
) -> list[tuple[bytes, bool]]:
    """Real H.264 from libx264 as a browser sends it: Annex B access units, SPS+PPS before every IDR."""
    codec = av.CodecContext.create("libx264", "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, pix_fmt
    codec.time_base = fractions.Fraction(1, 30)
    codec.framerate = fractions.Fraction(30)
    codec.gop_size = gop
    params = ":".join(p for p in (f"keyint={gop}:min-keyint={gop}:scenecut=0", x264_params) if p)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0", "x264-params": params}
    yy, xx = np.mgrid[0:height, 0:width]
    out: list[tuple[bytes, bool]] = []
    for i in range(frames):
        img = np.empty((height, width, 3), dtype=np.uint8)
        img[..., 0] = (xx + 4 * i) % 256
        img[..., 1] = (yy + 2 * i) % 256
        img[..., 2] = ((xx + yy) // 3 + i) % 256
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
        frame.pts = i
        out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(frame))
    out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(None))
    assert len(out) == frames
    return out


def nal_types(data: bytes) -> list[int]:
    return [unit[0] & 0x1F for unit in h264_nal_units(data)]


def sps_of(data: bytes) -> bytes:
    return next(unit for unit in h264_nal_units(data) if unit[0] & 0x1F == H264_SPS)


def without_parameter_sets(data: bytes) -> bytes:
    """The access unit as a sender that sends SPS/PPS only once would send a later IDR."""
    return b"".join(START + u for u in h264_nal_units(data) if u[0] & 0x1F not in (H264_SPS, H264_PPS))
