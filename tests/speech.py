"""Speech for tests: sentences spoken by espeak-ng, written as WAV files Chromium or a test peer can play."""

from __future__ import annotations

import fractions
import io
import shutil
import subprocess
import wave
from pathlib import Path

import av
import numpy as np

ESPEAK = shutil.which("espeak-ng") or "/usr/bin/espeak-ng"
MODELS = Path(__file__).parents[1] / "var" / "test-models"
"""The bundled speech model is assembled here once and shared by every test run (git-ignored)."""


def espeak(text: str, voice: str = "en-us+f2", rate: int = 48_000) -> np.ndarray:
    """One sentence as mono int16 samples at ``rate`` (espeak-ng speaks at 22 050 Hz)."""
    raw = subprocess.run([ESPEAK, "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(_fix_lengths(raw))) as w:
        source_rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    positions = np.arange(0, len(samples) * rate / source_rate) * source_rate / rate
    return np.interp(positions, np.arange(len(samples)), samples).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int = 48_000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def speech_wav(
    path: Path, sentences: list[str], voice: str = "en-us+f2", gap: float = 1.5, rate: int = 48_000
) -> list[tuple[float, float]]:
    """The sentences one after another with ``gap`` seconds of silence around each; their (start, end)."""
    samples, spans = speech(sentences, voice, gap, rate)
    write_wav(path, samples, rate)
    return spans


def speech(
    sentences: list[str], voice: str = "en-us+f2", gap: float = 1.5, rate: int = 48_000
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The samples of :func:`speech_wav`, and each sentence's (start, end) in seconds."""
    silence = np.zeros(int(gap * rate), dtype="<i2")
    parts, spans, t = [silence], [], gap
    for sentence in sentences:
        audio = espeak(sentence, voice, rate)
        spans.append((t, t + len(audio) / rate))
        parts += [audio, silence]
        t += len(audio) / rate + gap
    return np.concatenate(parts), spans


def _fix_lengths(data: bytes) -> bytes:
    """espeak-ng streams WAV with 0x7fffffff lengths; put the real ones in."""
    fixed = bytearray(data)
    fixed[4:8] = (len(data) - 8).to_bytes(4, "little")
    index = fixed.find(b"data")
    fixed[index + 4 : index + 8] = (len(data) - index - 8).to_bytes(4, "little")
    return bytes(fixed)


def opus_packets(path: Path) -> list[bytes]:
    """A WAV file as the 20 ms Opus packets a browser would send (48 kHz RTP clock: 960 per packet)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.time_base = fractions.Fraction(1, 48_000)
    fifo = av.AudioFifo()
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
    with av.open(str(path)) as source:
        for frame in source.decode(audio=0):
            for out in resampler.resample(frame):
                fifo.write(out)
    packets, pts = [], 0
    while fifo.samples >= 960:
        frame = fifo.read(960)
        frame.pts = pts
        pts += 960
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets
