"""Test media made here with PyAV: a moving picture (VP8 or H.264) and a tone (Opus)."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np


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
