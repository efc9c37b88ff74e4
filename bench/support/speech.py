"""What the speech benchmarks share: espeak-ng speech, WAV reading, the server's VAD cutting, WER and CER.

* :func:`espeak` writes a WAV with espeak-ng; :func:`read_wav` decodes any WAV (PyAV)
  to mono float32 at the rate asked for (16 kHz for the engines, 48 kHz for Opus).
* :func:`cut_utterances` cuts 16 kHz audio into utterances exactly as the
  transcription worker does (``recording.asr.vad``: Silero VAD over 32 ms windows fed
  in 20 ms pieces, the :class:`~recording.asr.vad.Segmenter` with the server's
  :class:`~recording.asr.vad.VadConfig`, flushed at the end of the file).
* :func:`recognise` runs an engine on each utterance, timing it with
  ``time.process_time()`` (this process's CPU, every thread).
* :func:`levenshtein`, :func:`word_errors` (case and punctuation removed) and
  :func:`char_errors` (punctuation, symbols and whitespace removed, traditional
  characters converted to simplified with OpenCC ``t2s`` on both sides) give
  :class:`Errors`, which add up over files (errors / reference length overall, not a
  mean of per-file rates).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recording.asr.engines import SAMPLE_RATE, Engine
from recording.asr.scoring import edit_distance, hanzi, words
from recording.asr.vad import Segmenter, SileroVad, Utterance, VadConfig

Audio = npt.NDArray[np.float32]
PIECE = 320
"""Samples per piece fed to the VAD (20 ms at 16 kHz: one decoded Opus packet, as in the worker)."""


# ---------------------------------------------------------------- error rates


@dataclass(frozen=True)
class Errors:
    """Edits against a reference of ``length`` tokens (words or characters)."""

    edits: int = 0
    length: int = 0

    def __add__(self, other: Errors) -> Errors:
        return Errors(self.edits + other.edits, self.length + other.length)

    @property
    def rate(self) -> float:
        """Edits per reference token (WER or CER); can exceed 1 (insertions)."""
        return self.edits / self.length if self.length else float(self.edits > 0)


def word_errors(ref: str, hyp: str) -> Errors:
    """Word errors of ``hyp`` against ``ref`` (words as the product scores them: ``recording.asr.scoring``)."""
    r = words(ref)
    return Errors(edit_distance(r, words(hyp)), len(r))


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """``text`` with traditional characters converted to simplified (OpenCC ``t2s``)."""
    return str(_t2s().convert(text))


def char_errors(ref: str, hyp: str) -> Errors:
    """Character errors of ``hyp`` against ``ref`` (simplified, no punctuation: ``recording.asr.scoring``)."""
    r = hanzi(ref)
    return Errors(edit_distance(r, hanzi(hyp)), len(r))


# ---------------------------------------------------------------- audio


def espeak(text: str, voice: str, path: Path) -> Path:
    """Synthesise ``text`` with espeak-ng's ``voice`` into the WAV ``path`` (22.05 kHz mono)."""
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


def read_wav(path: Path, rate: int = SAMPLE_RATE) -> Audio:
    """The first audio stream of ``path``, mono float32 in [-1, 1] at ``rate`` Hz."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    pieces: list[Audio] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                pieces.append(out.to_ndarray().reshape(-1).astype(np.float32))
    for out in resampler.resample(None):
        pieces.append(out.to_ndarray().reshape(-1).astype(np.float32))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def speech_bounds(audio: Audio, rate: int, threshold: float = 0.01, frame: float = 0.01) -> tuple[int, int]:
    """First and one-past-last sample of the 10 ms frames whose RMS exceeds ``threshold`` (clean synthetic speech)."""
    n = max(1, int(rate * frame))
    count = audio.size // n
    rms = np.sqrt(np.mean(audio[: count * n].reshape(count, n) ** 2, axis=1)) if count else np.zeros(0)
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * n, min(audio.size, (int(loud[-1]) + 1) * n)


def silence(seconds: float, rate: int) -> Audio:
    """Digital silence."""
    return np.zeros(round(seconds * rate), dtype=np.float32)


# ---------------------------------------------------------------- cutting and recognising


@dataclass
class Cut:
    """A file's utterances as the worker would cut them, and what the cutting cost."""

    utterances: list[tuple[Utterance, Audio]]
    vad_cpu: float
    """CPU seconds of the VAD (Silero + segmenter) over the whole file."""
    seconds: float
    """Length of the file."""

    @property
    def speech_seconds(self) -> float:
        """Seconds inside the utterances (padding included)."""
        return sum(a.size for _, a in self.utterances) / SAMPLE_RATE


def cut_utterances(audio: Audio, config: VadConfig | None = None, session: Any = None) -> Cut:
    """Cut 16 kHz ``audio`` into utterances the way ``recording.asr.worker`` does."""
    vad = SileroVad(session)
    segmenter = Segmenter(config or VadConfig())
    found: list[Utterance] = []
    began = time.process_time()
    for i in range(0, audio.size, PIECE):
        for prob in vad(audio[i : i + PIECE]):
            done = segmenter.push(float(prob))
            if done is not None:
                found.append(done)
    last = segmenter.flush()
    if last is not None:
        found.append(last)
    cpu = time.process_time() - began
    return Cut([(u, audio[u.start : u.end]) for u in found], cpu, audio.size / SAMPLE_RATE)


@dataclass
class Recognised:
    """An engine's text for one file and what it cost."""

    text: str
    cpu: float
    """CPU seconds inside ``engine.transcribe`` (this process, every thread)."""
    wall: float
    texts: list[str] = field(default_factory=list)
    """One text per utterance."""


def recognise(engine: Engine, cut: Cut, language: str, prompt: str = "") -> Recognised:
    """Transcribe each utterance of ``cut`` (with ``prompt``: see ``Engine.transcribe``); texts joined
    (no space for zh/ja)."""
    cpu = wall = 0.0
    texts = []
    for _, audio in cut.utterances:
        c0, w0 = time.process_time(), time.perf_counter()
        texts.append(engine.transcribe(audio, language, prompt))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    joiner = "" if language in ("zh", "ja") else " "
    return Recognised(joiner.join(t for t in texts if t).strip(), cpu, wall, texts)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (nan when empty)."""
    return float(np.quantile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")
