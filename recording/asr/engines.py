"""Speech recognisers behind one interface.

An :class:`Engine` turns one utterance (16 kHz mono float32 PCM, already cut
by voice-activity detection) into text. Whisper transcribes whole utterances,
not streams, so the worker calls an engine once per finished utterance and,
for partial captions, on the growing utterance at most once a second.

* ``whisper`` (default): faster-whisper (CTranslate2, int8) with the bundled
  Whisper base model (``models.bundled_whisper_base``), or any CTranslate2
  Whisper model folder given as ``model`` (e.g. small or medium for better
  Mandarin). Mandarin output is converted to simplified characters (OpenCC).
  Each utterance is encoded in a window fitted to it (the utterance plus 3 s of
  silence) rather than Whisper's fixed 30 s, which costs a fifth as much and
  was as accurate or better on our test speech. On espeak-ng English it makes
  a tenth to a quarter of pocketsphinx's word errors at about a quarter of its
  CPU (``bench/asr.py``, ``docs/benchmarks.md``).
* ``pocketsphinx``: CMU PocketSphinx with the US-English model inside its wheel.
* ``vosk``: Vosk (Kaldi) with a model folder from alphacephei.com, e.g.
  ``vosk-model-cn-0.22`` for Mandarin. ``pip install vosk`` first.
* ``sherpa-onnx``: an offline sherpa-onnx model folder (Paraformer or
  SenseVoice: ``model.onnx`` or ``model.int8.onnx`` with ``tokens.txt``), e.g.
  ``sherpa-onnx-paraformer-zh-2023-09-14``. ``pip install sherpa-onnx`` first.

Engines run only inside worker processes (``worker``); nothing here touches the
event loop.
"""

from __future__ import annotations

import json
import math
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from recording.asr import lexicon
from server.errors import ConfigError

Audio = npt.NDArray[np.float32]
SAMPLE_RATE = 16_000

ENGINES = ("whisper", "pocketsphinx", "vosk", "sherpa-onnx", "off")


MAX_PROMPT_TOKENS = 200
"""Prompt tokens at most (Whisper's limit is 223: half its 448-token context, less the start token)."""
MAX_TOKENS = 224
"""Tokens per utterance (a 15 s utterance of fast Mandarin needs about 150): bounds a runaway decode."""
TOKENS_PER_SECOND = 10
"""Token budget per second of English speech (it needs about 4; Mandarin, about 7, gets half as much again)."""
N_FRAMES = 3000
"""Whisper's full window: 30 s of 10 ms feature frames."""
PAD_FRAMES = 300
"""Silence after the utterance in the encoder's window (3 s). Measured on 8 espeak-ng sentences:
WER 0.066 at RTF 0.055, against 0.164 at RTF 0.345 with the full 30 s window; with no padding
Whisper repeats the sentence until the token budget runs out."""
NO_SPEECH = 0.6
"""Whisper's own no-speech probability above which an utterance is dropped."""
MAX_COMPRESSION = 2.4
"""zlib compression ratio above which text is a repetition loop (Whisper's own threshold)."""


def compression_ratio(text: str) -> float:
    """How much zlib shrinks the text: repeated phrases compress far better than speech."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


HALLUCINATIONS = (
    "请不吝点赞",
    "订阅 转发",
    "字幕由",
    "明镜与点点",
    "Amara.org",
    "谢谢观看",
    "Thanks for watching",
)
"""Phrases Whisper is known to invent on noise (from its subtitle training data): dropped."""


@dataclass(frozen=True)
class EngineSpec:
    """Which engine a worker loads (picklable: it crosses into the worker process)."""

    name: str = "whisper"
    """One of :data:`ENGINES`."""
    model: str = ""
    """Model folder; empty: the bundled model (whisper, pocketsphinx only)."""
    cache_dir: str = "var/models"
    """Where the bundled Whisper model is assembled."""
    threads: int = 1
    """CPU threads per worker."""
    beam_size: int = 1
    """Whisper beam width (1: greedy, which measured as accurate as 5 on our speech and cheaper)."""


class Engine(Protocol):
    """Recognises one utterance."""

    label: str
    """Engine and model, stored with every line."""

    def transcribe(self, audio: Audio, language: str, prompt: str = "") -> str:
        """The text of ``audio`` (16 kHz mono float32) in ``language`` (``zh``, ``en``…); ``prompt``:
        text that came before, in the words the speaker is likely to use (engines that cannot use it
        ignore it)."""
        ...


class WhisperEngine:
    """faster-whisper on CTranslate2 (int8 on the CPU)."""

    def __init__(self, folder: Path, threads: int = 1, beam_size: int = 1, label: str = "whisper") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
        self.beam_size = beam_size
        self.label = label
        self._t2s: Any = None
        self._tokenizers: dict[str, Any] = {}

    def transcribe(self, audio: Audio, language: str, prompt: str = "") -> str:
        if not language:
            return self._transcribe_window(audio)
        import ctranslate2

        features = self.model.feature_extractor(audio)
        frames = features.shape[-1]
        # the utterance plus PAD_FRAMES of silence, not Whisper's fixed 30 s window: the encoder
        # cost follows the window, and the padding keeps Whisper from repeating itself
        width = min(N_FRAMES, math.ceil((frames + PAD_FRAMES) / 100) * 100)
        window = np.zeros((features.shape[0], width), dtype=np.float32)
        window[:, : min(frames, width)] = features[:, :width]
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(window[None]), to_cpu=False)
        tokenizer = self._tokenizer(language)
        if language == "zh" and not prompt:
            prompt = lexicon.prompt()  # simplified characters, punctuation and a mediation's words
        tokens: list[int] = []
        if prompt:
            # Whisper reads at most 223 tokens of previous text; the end (the case's words) matters most
            tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt)[-MAX_PROMPT_TOKENS:]]
        tokens += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        rate = TOKENS_PER_SECOND * (1.5 if language in ("zh", "ja") else 1.0)  # a Chinese character: 1-3 tokens
        budget = min(MAX_TOKENS, 16 + int(audio.size / 16_000 * rate))
        result = self.model.model.generate(
            encoded,
            [tokens],
            beam_size=self.beam_size,
            max_length=len(tokens) + budget,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        text = tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot])
        if result.no_speech_prob > NO_SPEECH or compression_ratio(text) > MAX_COMPRESSION:
            return ""  # not speech after all, or a repetition loop
        return finish_text([text], language, self._simplified)

    def _transcribe_window(self, audio: Audio) -> str:
        """faster-whisper's own path (30 s window, language detection): when no language is set."""
        segments, info = self.model.transcribe(
            audio, beam_size=self.beam_size, temperature=0.0, vad_filter=False, without_timestamps=True
        )
        parts = [seg.text for seg in segments if seg.compression_ratio <= MAX_COMPRESSION]
        return finish_text(parts, info.language, self._simplified)

    def _tokenizer(self, language: str) -> Any:
        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=language)
            self._tokenizers[language] = tokenizer
        return tokenizer

    def _simplified(self, text: str) -> str:
        if self._t2s is None:
            import opencc

            self._t2s = opencc.OpenCC("t2s")
        return str(self._t2s.convert(text))


LOOP = re.compile(r"(.{1,4}?)\1{4,}", re.DOTALL)
"""A unit of one to four characters said five times or more in a row: a decoding loop, not speech (Whisper
repeated 亦 23 times in a short Mandarin utterance, too short for the compression-ratio check to see)."""


def without_loops(text: str) -> str:
    """``text`` with each decoding loop cut back to the unit once (对对对, said three times, stays; digits,
    as in 10000000元, are a number, not a loop)."""
    return LOOP.sub(lambda m: m.group(0) if all(c in "0123456789,. " for c in m.group(1)) else m.group(1), text)


def finish_text(parts: list[str], language: str, simplify: Callable[[str], str]) -> str:
    """Join a recogniser's pieces: drop known hallucinations, and for Mandarin (Whisper may answer
    in traditional characters; zh-CN readers want simplified) convert with ``simplify``."""
    # U+FFFD: the model ended a character's bytes early (seen inside Mandarin punctuation)
    parts = [without_loops(p.replace("\ufffd", "")) for p in parts]
    kept = [p.strip() for p in parts if p.strip() and not any(h in p for h in HALLUCINATIONS)]
    text = ("" if language in ("zh", "ja") else " ").join(kept).strip()
    return simplify(text) if language == "zh" and text else text


class PocketsphinxEngine:
    """CMU PocketSphinx 5 with the US-English model shipped in its wheel."""

    def __init__(self, model: str = "") -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(hmm=model, samprate=SAMPLE_RATE) if model else Decoder(samprate=SAMPLE_RATE)
        self.label = "pocketsphinx-5/en-us" if not model else f"pocketsphinx-5/{Path(model).name}"

    def transcribe(self, audio: Audio, language: str, prompt: str = "") -> str:  # noqa: ARG002 - no prompt
        if language not in ("en", ""):
            raise ConfigError("The bundled pocketsphinx model recognises English only")
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return "" if hyp is None else str(hyp.hypstr).strip()


class VoskEngine:
    """Vosk (Kaldi) with a model folder."""

    def __init__(self, model: str) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise ConfigError("The vosk engine needs `pip install vosk`") from exc
        vosk.SetLogLevel(-1)
        self.vosk = vosk
        self.model = vosk.Model(model)
        self.label = f"vosk/{Path(model).name}"

    def transcribe(self, audio: Audio, language: str, prompt: str = "") -> str:  # noqa: ARG002 - no prompt
        recognizer = self.vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        recognizer.AcceptWaveform((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        text = str(json.loads(recognizer.FinalResult()).get("text", ""))
        # Vosk's Mandarin models put spaces between words
        return text.replace(" ", "") if language == "zh" else text


class SherpaOnnxEngine:
    """An offline sherpa-onnx recogniser (Paraformer or SenseVoice) from a model folder."""

    def __init__(self, model: str, threads: int = 1) -> None:
        try:
            import sherpa_onnx
        except ImportError as exc:
            raise ConfigError("The sherpa-onnx engine needs `pip install sherpa-onnx`") from exc
        folder = Path(model)
        onnx = next((folder / n for n in ("model.int8.onnx", "model.onnx") if (folder / n).exists()), None)
        tokens = folder / "tokens.txt"
        if onnx is None or not tokens.exists():
            raise ConfigError(f"{folder} needs model.onnx (or model.int8.onnx) and tokens.txt")
        if "sense" in folder.name.lower():
            self.recognizer = sherpa_onnx.OfflineRecognizer.from_sense_voice(
                model=str(onnx), tokens=str(tokens), num_threads=threads, use_itn=True
            )
        else:
            self.recognizer = sherpa_onnx.OfflineRecognizer.from_paraformer(
                paraformer=str(onnx), tokens=str(tokens), num_threads=threads
            )
        self.label = f"sherpa-onnx/{folder.name}"

    def transcribe(self, audio: Audio, language: str, prompt: str = "") -> str:  # noqa: ARG002 - no prompt
        stream = self.recognizer.create_stream()
        stream.accept_waveform(SAMPLE_RATE, audio)
        self.recognizer.decode_stream(stream)
        return str(stream.result.text).strip()


def load_engine(spec: EngineSpec) -> Engine:
    """Load the configured engine (in the worker process: this takes a second or more)."""
    if spec.name == "whisper":
        from recording.asr.models import bundled_whisper_base

        if spec.model:
            folder, label = Path(spec.model), f"whisper/{Path(spec.model).name}"
        else:
            folder, label = bundled_whisper_base(Path(spec.cache_dir)), "whisper-base/ct2-int8"
        return WhisperEngine(folder, spec.threads, spec.beam_size, label)
    if spec.name == "pocketsphinx":
        return PocketsphinxEngine(spec.model)
    if spec.name == "vosk":
        if not spec.model:
            raise ConfigError("The vosk engine needs MEDIATION_TRANSCRIPT_MODEL (a model folder)")
        return VoskEngine(spec.model)
    if spec.name == "sherpa-onnx":
        if not spec.model:
            raise ConfigError("The sherpa-onnx engine needs MEDIATION_TRANSCRIPT_MODEL (a model folder)")
        return SherpaOnnxEngine(spec.model, spec.threads)
    raise ConfigError(f"Unknown transcript engine {spec.name!r}; choose one of {', '.join(ENGINES)}")
