"""Voice-activity detection and utterance cutting for one audio stream.

:class:`SileroVad` runs the Silero VAD model that ships inside faster-whisper
(ONNX, about 2 MB) over 32 ms windows, carrying its recurrent state from one
call to the next, so a stream can be fed in pieces of any length.
:class:`Segmenter` (pure: probabilities in, utterances out) turns the
per-window speech probabilities into utterances with hysteresis, a little
padding either side, a minimum length (coughs and clicks are dropped) and a
maximum length (a monologue is cut so that captions keep coming).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

WINDOW = 512
"""Samples per VAD window at 16 kHz (32 ms)."""
CONTEXT = 64
"""Samples of the previous window the model sees."""


def silero_session() -> Any:
    """The Silero model (one per process; each stream keeps its own state)."""
    import os

    import onnxruntime
    from faster_whisper.utils import get_assets_path

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        os.path.join(get_assets_path(), "silero_vad_v6.onnx"),
        providers=["CPUExecutionProvider"],
        sess_options=options,
    )


class SileroVad:
    """Speech probability per 512-sample window; state kept across calls."""

    def __init__(self, session: Any = None) -> None:
        self.session = session if session is not None else silero_session()
        self.reset()

    def reset(self) -> None:
        """Forget the stream (after a long gap)."""
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)

    def __call__(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities for every complete window now available (leftover samples wait)."""
        data = np.concatenate([self.pending, audio]) if self.pending.size else audio
        count = data.size // WINDOW
        self.pending = data[count * WINDOW :].copy()
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        windows = data[: count * WINDOW].reshape(count, WINDOW)
        previous = np.vstack([self.context[None, :], windows[:-1, -CONTEXT:]])
        batch = np.concatenate([previous, windows], axis=1).astype(np.float32)
        out: Any
        out, self.h, self.c = self.session.run(None, {"input": batch, "h": self.h, "c": self.c})
        self.context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class VadConfig:
    """How utterances are cut (seconds, probabilities)."""

    on: float = 0.5
    """Probability at which speech starts."""
    off: float = 0.35
    """Probability below which a window counts as silence."""
    min_silence: float = 0.5
    """Silence that ends an utterance."""
    pad: float = 0.4
    """Audio kept before the first and after the last speech window. 0.2 s clipped the onset and release of
    Mandarin syllables: CER 0.085 at 0.2, 0.074 at 0.3, 0.073 at 0.4 on the Mandarin set (``bench/asr.py``);
    it does not delay the cut, which comes ``min_silence`` after the last speech either way."""
    min_speech: float = 0.25
    """Shorter bursts of speech are dropped."""
    max_utterance: float = 15.0
    """Longer speech is cut here (and goes on as a new utterance)."""
    rate: int = 16_000
    """Samples per second."""


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech, in samples from the stream's start."""

    start: int
    """First sample (padding included)."""
    end: int
    """One past the last sample (padding included)."""
    speech: int
    """Samples of speech inside."""


@dataclass
class Segmenter:
    """Speech probabilities, window by window, in; finished utterances out."""

    config: VadConfig = field(default_factory=VadConfig)
    position: int = 0
    """Samples consumed so far."""
    start: int | None = None
    """Start of the utterance in progress (None: silence)."""
    last_speech_end: int = 0
    speech: int = 0

    def push(self, prob: float, window: int = WINDOW) -> Utterance | None:
        """One window's probability; an utterance when one has just ended."""
        c = self.config
        begin, self.position = self.position, self.position + window
        pad = int(c.pad * c.rate)
        if self.start is None:
            if prob >= c.on:
                self.start = max(0, begin - pad)
                self.last_speech_end = self.position
                self.speech = window
            return None
        if prob >= c.off:
            self.last_speech_end = self.position
            self.speech += window
        if self.position - self.start >= c.max_utterance * c.rate:
            return self._finish(self.position, keep_going=prob >= c.off)
        if self.position - self.last_speech_end >= c.min_silence * c.rate:
            return self._finish(min(self.position, self.last_speech_end + pad), keep_going=False)
        return None

    def _finish(self, end: int, keep_going: bool) -> Utterance | None:
        assert self.start is not None
        utterance = Utterance(self.start, end, self.speech)
        self.start = end if keep_going else None
        self.speech = 0
        return utterance if utterance.speech >= self.config.min_speech * self.config.rate else None

    def flush(self) -> Utterance | None:
        """End of stream: the utterance in progress, if long enough."""
        if self.start is None:
            return None
        return self._finish(min(self.position, self.last_speech_end + int(self.config.pad * self.config.rate)), False)

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is in progress."""
        return self.start is not None

    def skip(self, samples: int) -> Utterance | None:
        """A gap in the stream (no packets): ends any utterance, moves the position on."""
        done = self.flush()
        self.position += samples
        return done
