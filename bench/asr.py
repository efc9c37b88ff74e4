"""Live transcript: real-time factor and word error rate per engine, and caption latency through the worker pool.

Speech: :data:`SENTENCES` (mediation-style English, no digits) synthesised with
espeak-ng, voice ``en-us+f2``, into a temporary folder. The bundled engine
(``whisper``: Whisper base, CTranslate2 int8, beam 1) is measured against the
alternative (``pocketsphinx``) in the same run.

1. **Real-time factor and WER, engines called directly** (in this process, with
   ``OMP_NUM_THREADS=1`` and ``EngineSpec(threads=1)``): each WAV is decoded to 16 kHz
   and cut into utterances by the server's own VAD (``bench/support/speech.py``:
   Silero VAD + ``Segmenter`` with the server's ``VadConfig``, as the worker does);
   each utterance goes to ``load_engine(spec).transcribe``, timed with
   ``time.process_time()``. RTF = CPU seconds of ``transcribe`` / seconds of the WAVs
   (one warm-up call first, not counted; none with ``--quick``). The VAD's own CPU is
   shown apart. WER =
   word-level Levenshtein distance summed over the sentences / reference words (case
   and punctuation removed).
2. **Caption latency through the real pool** (``TranscriptionPool(spec, workers=1,
   language="en")``: one worker process, one thread). One pool per engine, started
   together; for each N the same streams go through one engine, then the other. N
   streams at once; stream i carries ``--per-stream`` K sentences (i*K to i*K+K-1,
   modulo the sentences), their speech trimmed (RMS threshold) and separated by
   ``--gap`` seconds of silence so that each sentence is one utterance; encoded to
   Opus beforehand (libopus, 32 kb/s mono, 20 ms packets) and fed at 20 ms a packet
   on an absolute schedule (48 kHz RTP clock, 960 a packet, random first timestamp).
   Audio time 0 is the moment the first packet is fed (the pool's own convention), so
   the client's capture, encoding and network are not included.

   * *latency*: arrival of a sentence's last final caption in the sink (on the event
     loop, ``time.monotonic()``) minus (first packet fed + the true end of the
     sentence's speech). It includes the VAD's silence wait (the worker cuts after
     ``min_silence`` = 0.5 s without speech, in 32 ms windows), the sender thread's
     100 ms batching, recognition, and queueing behind partials and other streams.
   * *cut*: the pool's own ``Caption.latency``, from the utterance's end as the worker
     cut it (last speech window + the 0.4 s pad): it leaves out the pad and the VAD's
     tail, and includes the rest of the silence wait. *compute*: the worker's
     ``compute_seconds`` for that final.
   * *first partial*: arrival of the first partial caption overlapping a sentence
     minus (first packet fed + the true start of its speech); p50 over the sentences
     that got a partial at all (n; the worker skips partials when it falls behind).
   * *miss*: sentences without a final by the end (streams' ``close`` waits up to
     ``CLOSE_TIMEOUT``); *split*: sentences cut into more than one utterance; *WER*:
     of the finals through the pool (Opus, resampling and all).
   * *worker CPU*: user + system CPU of the worker process (``/proc/<pid>/stat``, all
     threads: Opus decoding, resampling, VAD, finals and partials) / stream-seconds fed;
     *finals RTF*: the worker's ``compute_seconds`` of the finals / stream-seconds.
   * *whisper/finals*: the same with ``WorkerOptions(partial_interval=0)`` (no partial
     captions), to show what the partials cost the finals (not with ``--quick``).
   * noise gauges (the machine is shared): *other*: cores the rest of the machine used
     meanwhile (``/proc/stat``); *rq wait*: the share of the run's wall time the worker's
     threads spent runnable but waiting for a core (``/proc/<pid>/task/*/schedstat``).

3. **Mandarin** (``tests/mandarin/``: 26 WAVs, the record's text in ``sentences.tsv``;
   held-out = zh17-zh24, written after the lexicon was fixed, and the two real AISHELL
   clips; ``--no-mandarin`` leaves it out). CER = character Levenshtein over all files /
   reference characters (``char_errors``: punctuation removed, traditional → simplified).

   * *file path, step by step*: the engine called directly (one thread) on each WAV cut by
     the server's VAD: the pre-issue prompt (:data:`ZH_OLD_PROMPT`), + ``written()``, the
     lexicon's prompt (``lexicon.prompt()``), + the case's words
     (``lexicon.prompt(ZH_CASE_WORDS)``), + ``lexicon.Repair`` (= what the worker writes).
     RTF per engine pass.
   * *where the live path loses*: the final step with one part of the live path at a time,
     on the file path (the whole WAV without VAD cutting; VAD pad 0.2 s, as before issue 16; the WAV through
     48 kHz, 20 ms Opus packets at 32 kb/s and the worker's decoder and resampler), then the
     live path itself: the WAVs, each followed by :data:`ZH_GAP` s of silence, as one stream
     through ``TranscriptionPool(spec, workers=1, language="zh")`` opened with
     ``words=ZH_CASE_WORDS``, fed in real time like the English streams; each final belongs
     to the WAV its span overlaps most; CER of the finals' ``text`` and of their ``heard``.
     Variants: a pool with ``VadConfig(pad=0.2)``, one without partial captions. These
     pools are fed while the file path runs in a thread of this process (a final's text
     does not depend on timing; the file path's RTF then includes the feeding, a few %).
   * *latency*: the same WAVs as :data:`ZH_STREAMS` streams at once through one worker,
     alone (after the English part), measured as for English.

The last line printed is one JSON object (its top-level latency figures are English, N = 1;
``en_wer_file``/``en_wer_live``, ``zh_cer_file``/``zh_cer_live`` side by side).

    .venv/bin/python bench/asr.py --quick      # 5 sentences, N = 1, 2 (whisper); 6 Mandarin WAVs as 3 streams
    .venv/bin/python bench/asr.py              # 8 sentences; N = 1, 2, 3: both engines, whisper without partials;
                                               # 26 Mandarin WAVs: one stream x 3 variants, then 3 streams
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before CTranslate2 / onnxruntime load: one core per engine
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import fractions  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))  # first: bench/recording.py and bench/rooms.py would shadow the packages
from support.speech import (  # noqa: E402
    Audio,
    Cut,
    Errors,
    char_errors,
    cut_utterances,
    espeak,
    quantile,
    read_wav,
    recognise,
    silence,
    speech_bounds,
    word_errors,
)

# the pool's workers run ``python -m recording.asr.worker``: make the package importable from any folder
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

from recording.asr.engines import EngineSpec, load_engine  # noqa: E402
from recording.asr.models import bundled_whisper_base  # noqa: E402
from recording.asr.pool import Caption, TranscriptionPool  # noqa: E402
from recording.asr.vad import VadConfig, silero_session  # noqa: E402
from recording.asr.worker import WorkerOptions  # noqa: E402

VOICE = "en-us+f2"
SENTENCES = (
    "Thank you both for coming today to try to settle this dispute about the accident.",
    "Everything said in this mediation is confidential and cannot be used in court.",
    "The applicant says the other driver ran the red light at the junction.",
    "The respondent believes the repair estimate is far too high.",
    "Could you tell me what outcome would feel fair to you?",
    "The insurer is willing to cover the medical costs but not the lost wages.",
    "Let us take a short break and then discuss a possible settlement.",
    "If you both agree, I will write down the terms and send them for your signature.",
)
ENGINE = "whisper"
FINALS_ONLY = "/finals"
"""Suffix of a variant run with ``WorkerOptions(partial_interval=0)``: no partial captions."""
BASELINE = "pocketsphinx"
OPUS_RATE = 48_000
PACKET = 960
"""Samples per 20 ms Opus packet at 48 kHz (and the RTP timestamp step)."""
LEAD, TAIL = 0.3, 1.0
"""Seconds of silence before the first and after the last sentence of a stream."""
TICK = os.sysconf("SC_CLK_TCK")
DISTURBED = 0.2
"""Share of a run's time the worker may wait for a core before its row is marked as disturbed."""
CLOSE_TIMEOUT = 90.0
"""Seconds a stream's close waits for its last finals (the pool's 15 s default drops them when a worker lags)."""


# ---------------------------------------------------------------- direct: RTF and WER


@dataclass
class Direct:
    engine: str
    label: str
    load_s: float
    cpu: float
    wall: float
    audio_s: float
    speech_s: float
    utterances: int
    errors: Errors
    hyps: list[str]

    @property
    def rtf(self) -> float:
        return self.cpu / self.audio_s


def measure_direct(name: str, cache_dir: str, cuts: list[Cut], warm_up: bool) -> Direct:
    """RTF and WER of one engine on the sentences, cut by the server's VAD."""
    t0 = time.perf_counter()
    engine = load_engine(EngineSpec(name=name, cache_dir=cache_dir, threads=1))
    load_s = time.perf_counter() - t0
    if warm_up:
        engine.transcribe(cuts[0].utterances[0][1], "en")  # not counted
    cpu = wall = 0.0
    errors = Errors()
    hyps = []
    for ref, cut in zip(SENTENCES, cuts, strict=False):
        got = recognise(engine, cut, "en")
        cpu, wall = cpu + got.cpu, wall + got.wall
        errors += word_errors(ref, got.text)
        hyps.append(got.text)
    return Direct(
        name,
        engine.label,
        load_s,
        cpu,
        wall,
        sum(c.seconds for c in cuts),
        sum(c.speech_seconds for c in cuts),
        sum(len(c.utterances) for c in cuts),
        errors,
        hyps,
    )


# ---------------------------------------------------------------- through the pool: latency


@dataclass
class Placed:
    """A sentence in a stream: which, and where its speech starts and ends (seconds of stream audio)."""

    index: int
    start: float
    end: float
    span_start: float
    """Where the piece of audio carrying the sentence starts (its own silence included)."""
    span_end: float


@dataclass
class StreamPlan:
    packets: list[bytes]
    placed: list[Placed]

    @property
    def seconds(self) -> float:
        return len(self.packets) * PACKET / OPUS_RATE


def opus_packets(audio: Audio) -> list[bytes]:
    """48 kHz mono audio as 20 ms Opus packets (libopus, 32 kb/s), one per 960 samples."""
    import av

    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32_000
    encoder.time_base = fractions.Fraction(1, OPUS_RATE)
    count = -(-audio.size // PACKET)
    pcm = np.zeros(count * PACKET, dtype=np.int16)
    pcm[: audio.size] = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    out: list[bytes] = []
    for k in range(count):
        frame = av.AudioFrame.from_ndarray(pcm[None, k * PACKET : (k + 1) * PACKET], format="s16", layout="mono")
        frame.sample_rate = OPUS_RATE
        frame.pts = k * PACKET
        out += [bytes(p) for p in encoder.encode(frame)]
    out += [bytes(p) for p in encoder.encode(None)]
    return out[:count]


def plan_stream(
    speech: list[Audio], order: list[int], gap: float, bounds: list[tuple[int, int]] | None = None
) -> StreamPlan:
    """The sentences ``order`` (48 kHz pieces), ``gap`` s apart, as Opus packets; where each lies.
    ``bounds``: where the speech lies inside each piece (default: the whole piece is speech)."""
    parts = [silence(LEAD, OPUS_RATE)]
    placed = []
    at = parts[0].size
    for i in order:
        a, b = bounds[i] if bounds else (0, speech[i].size)
        r = OPUS_RATE
        placed.append(Placed(i, (at + a) / r, (at + b) / r, at / r, (at + speech[i].size) / r))
        parts += [speech[i], silence(gap, OPUS_RATE)]
        at += speech[i].size + parts[-1].size
    parts.append(silence(TAIL, OPUS_RATE))
    return StreamPlan(opus_packets(np.concatenate(parts)), placed)


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_waited(pid: int) -> float:
    """Seconds the threads of a process have spent runnable but waiting for a core."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that just ended
    return total / 1e9


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


@dataclass
class Run:
    """One engine, N streams at once."""

    engine: str
    streams: int
    seconds: float
    """Stream-seconds fed, all streams."""
    latency: list[float] = field(default_factory=list)
    cut: list[float] = field(default_factory=list)
    compute: list[float] = field(default_factory=list)
    first_partial: list[float] = field(default_factory=list)
    partials: int = 0
    sentences: int = 0
    missed: int = 0
    split: int = 0
    no_partial: int = 0
    errors: Errors = field(default_factory=Errors)
    heard_errors: Errors = field(default_factory=Errors)
    """Of the finals' ``heard`` (the engine's own text, before repair and written numbers)."""
    texts: dict[int, str] = field(default_factory=dict)
    """Sentence index → the finals' text joined (for per-sentence comparison; never printed)."""
    heard: dict[int, str] = field(default_factory=dict)
    metric: str = "wer"
    worker_cpu: float = 0.0
    finals_cpu: float = 0.0
    other_cores: float = 0.0
    rq_wait: float = 0.0
    late_ms: float = 0.0

    def figures(self) -> dict[str, Any]:
        """For the JSON line (None where nothing was measured)."""
        return {
            "latency_p50_s": num(quantile(self.latency, 0.5)),
            "latency_p95_s": num(quantile(self.latency, 0.95)),
            "latency_max_s": num(max(self.latency, default=float("nan"))),
            "cut_latency_p50_s": num(quantile(self.cut, 0.5)),
            "final_compute_p50_s": num(quantile(self.compute, 0.5)),
            "first_partial_p50_s": num(quantile(self.first_partial, 0.5)),
            "sentences": self.sentences,
            "missed": self.missed,
            "split": self.split,
            "no_partial": self.no_partial,
            "partials": self.partials,
            self.metric: round(self.errors.rate, 3),
            f"{self.metric}_heard": round(self.heard_errors.rate, 3),
            "worker_cpu_per_stream_s": round(self.worker_cpu / self.seconds, 3),
            "finals_rtf": round(self.finals_cpu / self.seconds, 3),
            "other_cores": round(self.other_cores, 2),
            "worker_rq_wait": round(self.rq_wait, 3),
            "feed_late_max_ms": round(self.late_ms, 1),
            "disturbed": self.disturbed,
        }

    @property
    def disturbed(self) -> bool:
        """Whether the worker waited for a core more than :data:`DISTURBED` of the time."""
        return self.rq_wait > DISTURBED


def num(value: float, digits: int = 3) -> float | None:
    """Rounded; None for nan (JSON has no NaN)."""
    return None if value != value else round(value, digits)


@dataclass(frozen=True)
class Scoring:
    """What a stream's sentences are and how their captions are scored."""

    language: str
    refs: Sequence[str]
    """Reference text per sentence index."""
    score: Callable[[str, str], Errors]
    words: tuple[str, ...] = ()
    """The case's words, passed to ``TranscriptionPool.open``."""
    close_timeout: float = CLOSE_TIMEOUT
    metric: str = "wer"


ENGLISH = Scoring("en", SENTENCES, word_errors)


async def run_streams(pool: TranscriptionPool, plans: list[StreamPlan], engine: str, scoring: Scoring = ENGLISH) -> Run:
    """Feed every plan at once in real time; match the captions to the sentences."""
    got: list[list[tuple[float, Caption]]] = [[] for _ in plans]

    def sink(into: list[tuple[float, Caption]]) -> Callable[[Caption], None]:
        return lambda caption: into.append((time.monotonic(), caption))

    streams = [pool.open(sink(into), language=scoring.language, words=scoring.words) for into in got]
    rng = random.Random(len(plans))
    first_ts = [rng.getrandbits(32) for _ in plans]
    pids = [w.process.pid for w in pool.workers]
    cpu0, busy0, own0, wall0 = sum(proc_cpu(p) for p in pids), machine_busy(), time.process_time(), time.monotonic()
    waited0 = sum(proc_waited(p) for p in pids)
    late = 0.0
    t0 = time.monotonic()
    for k in range(max(len(p.packets) for p in plans)):
        delay = t0 + k * PACKET / OPUS_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        for stream, plan, ts in zip(streams, plans, first_ts, strict=True):
            if k < len(plan.packets):
                stream.feed(plan.packets[k], (ts + k * PACKET) & 0xFFFFFFFF)
    await asyncio.gather(*(s.close(timeout=scoring.close_timeout) for s in streams))
    worker_cpu = sum(proc_cpu(p) for p in pids) - cpu0
    waited = sum(proc_waited(p) for p in pids) - waited0
    own = time.process_time() - own0
    wall = time.monotonic() - wall0
    other = (machine_busy() - busy0 - worker_cpu - own) / wall

    run = Run(engine, len(plans), sum(p.seconds for p in plans), worker_cpu=worker_cpu, late_ms=late * 1000)
    run.metric = scoring.metric
    joiner = "" if scoring.language in ("zh", "ja") else " "
    run.other_cores = max(0.0, other)
    run.rq_wait = waited / wall
    for stream, plan, captions in zip(streams, plans, got, strict=True):
        assert stream.anchor is not None
        anchor, mono = stream.anchor, stream.anchor_mono

        def span(c: Caption, anchor: Any = anchor) -> tuple[float, float]:
            return (c.started_at - anchor).total_seconds(), (c.ended_at - anchor).total_seconds()

        finals = [(t, c) for t, c in captions if c.final]
        partials = [(t, c) for t, c in captions if not c.final]
        run.partials += len(partials)
        run.finals_cpu += sum(c.compute_seconds for _, c in finals)
        # each final belongs to the sentence whose piece of audio it overlaps most
        owned: dict[int, list[tuple[float, Caption]]] = {id(p): [] for p in plan.placed}
        for t, c in finals:
            a, b = span(c)
            overlaps = [(min(b, p.span_end) - max(a, p.span_start), k) for k, p in enumerate(plan.placed)]
            most, k = max(overlaps)
            if most > 0:
                owned[id(plan.placed[k])].append((t, c))
        for p in plan.placed:
            run.sentences += 1
            mine = sorted(owned[id(p)], key=lambda tc: tc[1].started_at)
            text = joiner.join(c.text for _, c in mine if c.text)
            heard = joiner.join(c.heard for _, c in mine if c.heard)
            run.texts[p.index], run.heard[p.index] = text, heard
            run.errors += scoring.score(scoring.refs[p.index], text)
            run.heard_errors += scoring.score(scoring.refs[p.index], heard)
            if not mine:
                run.missed += 1
                continue
            run.split += len(mine) > 1
            arrived, last = max(mine, key=lambda tc: tc[0])
            run.latency.append(arrived - (mono + p.end))
            run.cut.append(last.latency)
            run.compute.append(last.compute_seconds)
            early = [t for t, c in partials if span(c)[0] < p.end and span(c)[1] > p.start]
            if early:
                run.first_partial.append(min(early) - (mono + p.start))
            else:
                run.no_partial += 1
    return run


async def start_pools(variants: list[str], cache_dir: str, workers: int) -> dict[str, TranscriptionPool]:
    """One pool per variant, started (their workers load the engine in the background meanwhile)."""
    pools = {
        key: TranscriptionPool(
            EngineSpec(name=key.removesuffix(FINALS_ONLY), cache_dir=cache_dir, threads=1),
            workers,
            language="en",
            options=WorkerOptions(partial_interval=0.0) if key.endswith(FINALS_ONLY) else None,
            clock=lambda: datetime.now(UTC),
        )
        for key in variants
    }
    for pool in pools.values():
        await pool.start()
    return pools


async def measure_pools(
    pools: dict[str, TranscriptionPool], speech: list[Audio], counts: list[int], args: argparse.Namespace
) -> dict[str, list[Run]]:
    """For each N, the same streams through each pool in turn."""
    runs: dict[str, list[Run]] = {key: [] for key in pools}
    for pool in pools.values():
        await pool.wait_ready()
    for n in counts:
        plans = [
            plan_stream(speech, [(i * args.per_stream + j) % len(speech) for j in range(args.per_stream)], args.gap)
            for i in range(n)
        ]
        for name, pool in pools.items():
            runs[name].append(await run_streams(pool, plans, name))
            print(f"  {name} x{n}: done", flush=True)
    return runs


# ---------------------------------------------------------------- Mandarin: the file path, the live path

ZH_DIR = REPO / "tests" / "mandarin"
ZH_OLD_PROMPT = "以下是普通话的对话，关于道路交通事故损害赔偿的调解。"
"""The prompt before issue 16 (the baseline of the step table)."""
ZH_CASE_WORDS = ("张建国", "李秀英", "王志强", "中国人保财险（交强险）", "中山北路", "建设路")
"""The case's words for the set (its parties, insurer and roads), as a room passes them to ``open``."""
ZH_QUICK = ("zh01", "zh02", "zh17", "zh18", "aishell_0121", "aishell_0122")
ZH_GAP = 1.2
"""Seconds of silence between the WAVs of a live stream (each WAV keeps its own silence too)."""
ZH_CLOSE_TIMEOUT = 300.0
"""The accuracy runs share the cores with the file path: wait for every final, however late."""
ZH_STREAMS = 3


def held_out(name: str) -> bool:
    """zh17-zh24 (written after the lexicon was fixed) and the real AISHELL clips."""
    return not name.startswith("zh") or name >= "zh17"


@dataclass
class ZhFile:
    name: str
    ref: str
    """What the record should show (``sentences.tsv``)."""
    audio: Audio
    """16 kHz, as the file path reads it."""
    audio48: Audio
    """48 kHz, as the live path's client sends it (before Opus)."""
    bounds: tuple[int, int]
    """Speech inside ``audio48`` (samples; RMS threshold): the end of speech for latency."""


def zh_files(quick: bool) -> list[ZhFile]:
    from mandarin_cer import read_table

    table = read_table(ZH_DIR / "sentences.tsv")
    names = ZH_QUICK if quick else sorted(table, key=lambda n: (n.startswith("aishell"), n))
    out = []
    for name in names:
        wav = ZH_DIR / f"{name}.wav"
        audio48 = read_wav(wav, OPUS_RATE)
        out.append(ZhFile(name, table[name], read_wav(wav), audio48, speech_bounds(audio48, OPUS_RATE)))
    return out


@dataclass
class ZhScore:
    """A CER over the set, the held-out part apart, and per file."""

    all: Errors
    held: Errors
    per_file: list[Errors]


def zh_score(files: list[ZhFile], texts: Sequence[str]) -> ZhScore:
    per = [char_errors(f.ref, t) for f, t in zip(files, texts, strict=True)]
    held = sum((e for f, e in zip(files, per, strict=True) if held_out(f.name)), Errors())
    return ZhScore(sum(per, Errors()), held, per)


@dataclass
class ZhPass:
    """One pass of the engine over the files: the engine's raw text per file, and its CPU."""

    raw: list[str]
    cpu: float


def opus_round_trip(audio48: Audio) -> Audio:
    """48 kHz audio through the live path's codec and resampling: 20 ms Opus packets (as the client
    sends), decoded and resampled to 16 kHz as ``recording.asr.worker`` does."""
    import av

    decoder: Any = av.CodecContext.create("opus", "r")
    resampler: Any = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    out: list[Audio] = []
    for packet in opus_packets(audio48):
        for frame in decoder.decode(av.Packet(packet)):
            out += [o.to_ndarray().reshape(-1).astype(np.float32) for o in resampler.resample(frame)]
    return np.concatenate(out)


def zh_pass(engine: Any, audios: list[Audio], prompt: str, session: Any, vad: VadConfig | None, whole: bool) -> ZhPass:
    """Each audio cut by the server's VAD (``vad``) or whole, through ``engine`` with ``prompt``."""
    raw, cpu = [], 0.0
    for audio in audios:
        if whole:
            c0 = time.process_time()
            raw.append(engine.transcribe(audio, "zh", prompt))
            cpu += time.process_time() - c0
        else:
            got = recognise(engine, cut_utterances(audio, vad, session=session), "zh", prompt)
            raw.append(got.text)
            cpu += got.cpu
    return ZhPass(raw, cpu)


@dataclass
class ZhStep:
    label: str
    score: ZhScore
    rtf: float | None
    """None: the same engine pass as the row above (only the text's finishing differs)."""


@dataclass
class ZhFilePath:
    texts: list[str]
    """The final step's text per file (for ``--texts``)."""
    steps: list[ZhStep]
    """The step table: prompt and finishing, one by one."""
    heard: ZhScore
    """The final step's engine text before repair and written numbers (the file path's ``heard``)."""
    checks: list[ZhStep]
    """The final step with one thing of the live path at a time (cut points, pad, Opus)."""
    audio_s: float


def measure_zh_file(cache_dir: str, files: list[ZhFile], warm_up: bool) -> ZhFilePath:
    """The engine called directly on the WAVs (one thread), step by step; then the live path's parts."""
    from recording.asr.lexicon import Repair, prompt
    from recording.asr.written import written

    engine = load_engine(EngineSpec(name=ENGINE, cache_dir=cache_dir, threads=1))
    session = silero_session()
    audios = [f.audio for f in files]
    seconds = sum(a.size for a in audios) / 16_000
    if warm_up:
        engine.transcribe(audios[0], "zh")  # not counted
    repair = Repair(ZH_CASE_WORDS)
    case_prompt = prompt(ZH_CASE_WORDS)

    def final(raw: list[str]) -> ZhScore:
        return zh_score(files, [written(repair(t)) for t in raw])

    old = zh_pass(engine, audios, ZH_OLD_PROMPT, session, None, whole=False)
    lex = zh_pass(engine, audios, "", session, None, whole=False)  # "" + zh: the lexicon's prompt
    case = zh_pass(engine, audios, case_prompt, session, None, whole=False)
    steps = [
        ZhStep("old prompt (pre-issue)", zh_score(files, old.raw), old.cpu / seconds),
        ZhStep("+ written()", zh_score(files, [written(t) for t in old.raw]), None),
        ZhStep("lexicon prompt + written()", zh_score(files, [written(t) for t in lex.raw]), lex.cpu / seconds),
        ZhStep("+ case words", zh_score(files, [written(t) for t in case.raw]), case.cpu / seconds),
        ZhStep("+ Repair (= the worker's text)", final(case.raw), None),
    ]
    whole = zh_pass(engine, audios, case_prompt, session, None, whole=True)
    pad = zh_pass(engine, audios, case_prompt, session, VadConfig(pad=0.2), whole=False)
    coded = zh_pass(engine, [opus_round_trip(f.audio48) for f in files], case_prompt, session, None, whole=False)
    checks = [
        ZhStep("whole WAV, no VAD cut", final(whole.raw), whole.cpu / seconds),
        ZhStep("VAD pad 0.2 s (before issue 16; server: 0.4)", final(pad.raw), pad.cpu / seconds),
        ZhStep("Opus 32 kb/s + 16k>48k>16k, VAD cut", final(coded.raw), coded.cpu / seconds),
    ]
    texts = [written(repair(t)) for t in case.raw]
    return ZhFilePath(texts, steps, zh_score(files, case.raw), checks, seconds)


def zh_scoring(files: list[ZhFile]) -> Scoring:
    return Scoring("zh", [f.ref for f in files], char_errors, ZH_CASE_WORDS, ZH_CLOSE_TIMEOUT, "cer")


def zh_plans(files: list[ZhFile], streams: int) -> list[StreamPlan]:
    """``streams`` streams carrying the files in turn (file k in stream k mod streams)."""
    pieces = [f.audio48 for f in files]
    bounds = [f.bounds for f in files]
    return [plan_stream(pieces, list(range(i, len(files), streams)), ZH_GAP, bounds) for i in range(streams)]


async def zh_pools(cache_dir: str, variants: dict[str, WorkerOptions]) -> dict[str, TranscriptionPool]:
    pools = {
        key: TranscriptionPool(
            EngineSpec(name=ENGINE, cache_dir=cache_dir, threads=1),
            1,
            language="zh",
            options=options,
            clock=lambda: datetime.now(UTC),
        )
        for key, options in variants.items()
    }
    for pool in pools.values():
        await pool.start()
    for pool in pools.values():
        await pool.wait_ready()
    return pools


@dataclass
class ZhResult:
    files: list[ZhFile]
    file_path: ZhFilePath
    live: dict[str, Run]
    """Accuracy runs (fed while the file path ran): variant → run."""
    latency: dict[str, Run] = field(default_factory=dict)
    """``ZH_STREAMS`` streams at once on one worker, alone on the machine, with and without partial
    captions (empty with --quick: ``live`` is that run)."""


ZH_LIVE = "live (server: pad 0.4, partials)"
ZH_LIVE_PAD = "live, VAD pad 0.2 s (before)"
ZH_LIVE_FINALS = "live, no partial captions"


async def measure_zh(cache_dir: str, quick: bool) -> ZhResult:
    """The file path in a thread while the live accuracy runs are fed (CER does not depend on timing)."""
    began = time.perf_counter()
    files = zh_files(quick)
    variants = {ZH_LIVE: WorkerOptions()}
    if not quick:
        variants[ZH_LIVE_PAD] = WorkerOptions(vad=VadConfig(pad=0.2))
        variants[ZH_LIVE_FINALS] = WorkerOptions(partial_interval=0.0)
    pools = await zh_pools(cache_dir, variants)
    try:
        # quick: three streams at once is both the accuracy and the latency run; full: one stream each
        plans = zh_plans(files, ZH_STREAMS if quick else 1)
        scoring = zh_scoring(files)
        file_task = asyncio.create_task(asyncio.to_thread(measure_zh_file, cache_dir, files, not quick))
        runs = await asyncio.gather(*(run_streams(pool, plans, key, scoring) for key, pool in pools.items()))
        file_path = await file_task
    finally:
        for pool in pools.values():
            await pool.close()
    print(f"  zh: file path and live accuracy done ({time.perf_counter() - began:.0f} s)", flush=True)
    return ZhResult(files, file_path, dict(zip(pools, runs, strict=True)))


async def measure_zh_latency(cache_dir: str, result: ZhResult) -> None:
    """``ZH_STREAMS`` streams of Mandarin at once on one worker, nothing else running in this script;
    then the same without partial captions."""
    variants = {ZH_LIVE: WorkerOptions(), ZH_LIVE_FINALS: WorkerOptions(partial_interval=0.0)}
    pools = await zh_pools(cache_dir, variants)
    try:
        for key, pool in pools.items():
            plans = zh_plans(result.files, ZH_STREAMS)
            result.latency[key] = await run_streams(pool, plans, key, zh_scoring(result.files))
            print(f"  zh x{ZH_STREAMS} {key}: done", flush=True)
    finally:
        for pool in pools.values():
            await pool.close()


def write_texts(path: Path, result: ZhResult) -> None:
    """Every file's reference, file-path text and live texts, as JSON (read them to see what a path lost)."""
    runs = {**result.live, **{f"{ZH_STREAMS} streams: {k}": r for k, r in result.latency.items()}}
    rows = [
        {
            "file": f.name,
            "ref": f.ref,
            "file_path": result.file_path.texts[i],
            **{key: run.texts.get(i, "") for key, run in runs.items()},
            **{f"{key} heard": run.heard.get(i, "") for key, run in runs.items()},
        }
        for i, f in enumerate(result.files)
    ]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


def live_score(result: ZhResult, run: Run, heard: bool = False) -> ZhScore:
    texts = run.heard if heard else run.texts
    return zh_score(result.files, [texts.get(i, "") for i in range(len(result.files))])


def print_zh(result: ZhResult) -> dict[str, Any]:
    """The Mandarin tables; the figures for the JSON line."""
    fp = result.file_path
    n_held = sum(held_out(f.name) for f in result.files)
    print()
    print(
        f"Mandarin, file path: engine called directly on the server's VAD cuts of {len(result.files)} WAVs "
        f"({fp.audio_s:.1f} s; held-out: {n_held} = zh17-24 + AISHELL), one thread:"
    )
    header = f"{'step':<40}{'CER':>7}{'held-out':>10}{'delta':>8}{'RTF':>7}"
    print(header)
    print("-" * len(header))
    previous = None
    for step in fp.steps:
        delta = "" if previous is None else f"{step.score.all.rate - previous:+.3f}"
        rtf = "" if step.rtf is None else f"{step.rtf:.3f}"
        print(f"{step.label:<40}{step.score.all.rate:>7.3f}{step.score.held.rate:>10.3f}{delta:>8}{rtf:>7}")
        previous = step.score.all.rate
    base = fp.steps[-1].score
    live = result.live[ZH_LIVE]
    live_text, live_heard = live_score(result, live), live_score(result, live, heard=True)
    print()
    print("Mandarin, where the live path loses (final step's prompt and finishing on every row; delta vs row 1):")
    header = (
        f"{'path':<48}{'CER':>7}{'held-out':>10}{'delta':>8}{'heard CER':>11}{'miss':>6}{'split':>6}"
        f"{'lat p50':>9}{'p95':>7}{'rq wait':>9}"
    )
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, ZhScore, ZhScore | None, Run | None]] = [
        ("file path (VAD cut, 16 kHz WAV)", base, fp.heard, None)
    ]
    rows += [(c.label, c.score, None, None) for c in fp.checks]
    rows += [(key, live_score(result, run), live_score(result, run, True), run) for key, run in result.live.items()]
    rows += [
        (f"{key.replace('live', f'{ZH_STREAMS} streams, 1 worker', 1)}", live_score(result, run), None, run)
        for key, run in result.latency.items()
    ]
    for label, score, heard, run in rows:
        f = run.figures() if run is not None else {}
        print(
            f"{label:<48}{score.all.rate:>7.3f}{score.held.rate:>10.3f}{score.all.rate - base.all.rate:>+8.3f}"
            f"{'-' if heard is None else f'{heard.all.rate:.3f}':>11}"
            f"{'-' if run is None else run.missed:>6}{'-' if run is None else run.split:>6}"
            f"{fmt(f.get('latency_p50_s')):>9}{fmt(f.get('latency_p95_s')):>7}"
            f"{'-' if run is None else f'{run.rq_wait:.2f}':>9}"
        )
    print(
        "  (the live rows above the 3-stream ones were fed at once, beside the file path: their latencies "
        "compare with each other only)"
    )
    differ = [
        f"{f.name} {a.rate:.2f}>{b.rate:.2f}"
        for f, a, b in zip(result.files, base.per_file, live_text.per_file, strict=True)
        if a.edits != b.edits
    ]
    print(f"files whose CER differs, file path > live: {', '.join(differ) or 'none'}")
    lat = result.latency.get(ZH_LIVE, live)
    lf = lat.figures()
    print(
        f"Mandarin captions, {lat.streams} streams at once on one worker: latency p50 {fmt(lf['latency_p50_s'])} / "
        f"p95 {fmt(lf['latency_p95_s'])} / max {fmt(lf['latency_max_s'])} s from the end of speech; "
        f"{lat.sentences} sentences, {lat.missed} missed, {lat.split} split; worker CPU "
        f"{lf['worker_cpu_per_stream_s']:.3f} a stream-second; rq wait {lat.rq_wait:.2f}"
        f"{' (disturbed)' if lat.disturbed else ''}{'' if result.latency else ' (fed beside the file path)'}"
    )
    steps = {
        s.label: {
            "cer": round(s.score.all.rate, 4),
            "heldout": round(s.score.held.rate, 4),
            "rtf": None if s.rtf is None else round(s.rtf, 3),
        }
        for s in fp.steps
    }
    return {
        "zh_files": len(result.files),
        "zh_audio_s": round(fp.audio_s, 1),
        "zh_cer_file_old_prompt": round(fp.steps[0].score.all.rate, 4),
        "zh_cer_file": round(base.all.rate, 4),
        "zh_cer_file_heldout": round(base.held.rate, 4),
        "zh_cer_file_heard": round(fp.heard.all.rate, 4),
        "zh_cer_live": round(live_text.all.rate, 4),
        "zh_cer_live_heldout": round(live_text.held.rate, 4),
        "zh_cer_live_heard": round(live_heard.all.rate, 4),
        "zh_cer_live_minus_file": round(live_text.all.rate - base.all.rate, 4),
        "zh_rtf_file": fp.steps[3].rtf and round(fp.steps[3].rtf, 3),
        "zh_file_steps": steps,
        "zh_file_checks": {c.label: round(c.score.all.rate, 4) for c in fp.checks},
        "zh_live_runs": {key: round(live_score(result, r).all.rate, 4) for key, r in result.live.items()},
        "zh_live_streams": live.streams,
        "zh_caption_p95_s": lf["latency_p95_s"],
        "zh_caption_p50_s": lf["latency_p50_s"],
        "zh_streams": {str(lat.streams): lf},
        "zh_finals_only_streams": {str(r.streams): r.figures() for k, r in result.latency.items() if k != ZH_LIVE},
        "zh_live_latency": {
            key: {"p50_s": r.figures()["latency_p50_s"], "p95_s": r.figures()["latency_p95_s"]}
            for key, r in result.live.items()
        },
        "zh_streams_per_worker_ok": lat.streams >= ZH_STREAMS
        and lat.missed == 0
        and (lf["latency_p95_s"] or 99) <= 1.5,
    }


# ---------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"  # None: not measured


async def main_async(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    cache_dir = args.cache_dir
    counts = [int(n) for n in args.streams.split(",")]
    sentences = SENTENCES[: args.sentences]
    print(
        f"bench/asr.py: {len(sentences)} sentences (espeak-ng {VOICE}); streams {counts} x {args.per_stream} "
        f"sentences, gap {args.gap:g} s; {args.workers} worker(s); {os.cpu_count()} CPUs, load {load_start:.1f}",
        flush=True,
    )
    # assemble the bundled model here first, so that the workers don't all assemble it at once
    await asyncio.to_thread(bundled_whisper_base, Path(cache_dir))
    zh = await measure_zh(cache_dir, args.quick) if args.mandarin else None
    # the pools' workers load their engines while the speech is made and measured directly (then idle)
    variants = [ENGINE] + [BASELINE] * args.baseline_latency + [ENGINE + FINALS_ONLY] * args.finals_only
    pools = await start_pools(variants, cache_dir, args.workers)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
            wavs = [espeak(s, VOICE, Path(tmp) / f"s{i}.wav") for i, s in enumerate(sentences)]
            speech = []
            for p in wavs:
                audio = read_wav(p, OPUS_RATE)
                a, b = speech_bounds(audio, OPUS_RATE)
                speech.append(audio[a:b])
            session = silero_session()
            cuts = [cut_utterances(read_wav(p), session=session) for p in wavs]
            cuts_pad = [cut_utterances(read_wav(p), VadConfig(pad=0.2), session=session) for p in wavs]
        vad_cpu = sum(c.vad_cpu for c in cuts)
        direct: dict[str, Direct] = {}
        for name in (ENGINE, BASELINE):
            direct[name] = measure_direct(name, cache_dir, cuts, warm_up=not args.quick)
            print(f"  {name}: direct done", flush=True)
        en_pad = measure_direct(ENGINE, cache_dir, cuts_pad, warm_up=False)
        pooled = await measure_pools(pools, speech, counts, args)
    finally:
        for pool in pools.values():
            await pool.close()
    if zh is not None and not args.quick:
        await measure_zh_latency(cache_dir, zh)

    d0 = direct[ENGINE]
    print()
    print("Engines called directly on VAD-cut utterances (this process, one thread):")
    header = (
        f"{'engine':<14}{'label':<24}{'audio s':>8}{'utts':>6}{'CPU s':>8}{'wall s':>8}{'RTF':>7}"
        f"{'x base':>8}{'WER':>7}{'errs':>6}{'load s':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, d in direct.items():
        print(
            f"{name:<14}{d.label:<24}{d.audio_s:>8.1f}{d.utterances:>6}{d.cpu:>8.2f}{d.wall:>8.2f}{d.rtf:>7.3f}"
            f"{d.rtf / direct[BASELINE].rtf:>8.2f}{d.errors.rate:>7.3f}{d.errors.edits:>3}/{d.errors.length:<3}"
            f"{d.load_s:>7.1f}"
        )
    print(
        f"whisper with VAD pad 0.2 s (before issue 16; server: 0.4): WER {en_pad.errors.rate:.3f} ({en_pad.errors.edits}/"
        f"{en_pad.errors.length}), RTF {en_pad.rtf:.3f}"
    )
    print(
        f"VAD (Silero + segmenter): {vad_cpu:.3f} CPU s over {d0.audio_s:.1f} s (RTF {vad_cpu / d0.audio_s:.4f}); "
        f"utterances hold {d0.speech_s:.1f} s; whisper CPU per utterance {d0.cpu / d0.utterances:.2f} s"
    )
    for name, d in direct.items():
        for ref, hyp in zip(sentences, d.hyps, strict=True):
            errors = word_errors(ref, hyp)
            if errors.edits:
                print(f"  {name} ({errors.edits}/{errors.length}): {hyp!r}")

    print()
    print("Through the pool (1 worker process, real-time Opus feed); seconds; latency from the true end of speech:")
    header = (
        f"{'engine':<16}{'N':>3}{'sent':>6}{'lat p50':>9}{'p95':>7}{'max':>7}{'cut p50':>9}{'1st part (n)':>14}"
        f"{'compute':>9}{'partials':>10}{'miss':>6}{'split':>6}{'WER':>7}{'wkr CPU/s':>11}{'finals RTF':>12}"
        f"{'other':>7}{'rq wait':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in pooled.items():
        for r in runs:
            f = r.figures()
            print(
                f"{name:<16}{r.streams:>3}{r.sentences:>6}{fmt(f['latency_p50_s']):>9}{fmt(f['latency_p95_s']):>7}"
                f"{fmt(f['latency_max_s']):>7}{fmt(f['cut_latency_p50_s']):>9}{fmt(f['first_partial_p50_s']):>9} ({len(r.first_partial):>2})"
                f"{fmt(f['final_compute_p50_s']):>9}{r.partials:>10}{r.missed:>6}{r.split:>6}{f['wer']:>7.3f}"
                f"{f['worker_cpu_per_stream_s']:>11.3f}{f['finals_rtf']:>12.3f}{r.other_cores:>7.2f}{r.rq_wait:>9.2f}"
                f"{' *' if r.disturbed else ''}"
            )
    print(
        f"feed lateness max {max(r.late_ms for runs in pooled.values() for r in runs):.0f} ms; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    if any(r.disturbed for runs in pooled.values() for r in runs):
        print(
            f"* disturbed: the worker waited for a core over {DISTURBED:.0%} of the run (other processes on this "
            "machine), which adds to its latencies; compare rows with low rq wait"
        )

    zh_out = print_zh(zh) if zh is not None else {}
    if zh is not None and args.texts:
        write_texts(Path(args.texts), zh)

    one = pooled[ENGINE][0].figures()
    most = pooled[ENGINE][-1]
    base_one = pooled[BASELINE][0].figures() if BASELINE in pooled else None
    base = direct[BASELINE]
    out: dict[str, Any] = {
        "bench": "asr",
        "quick": args.quick,
        "engine": d0.label,
        "rtf": round(d0.rtf, 3),
        "wer": round(d0.errors.rate, 3),
        "en_wer_file": round(d0.errors.rate, 3),
        "en_wer_live": one["wer"],
        "en_wer_live_minus_file": round(one["wer"] - d0.errors.rate, 3),
        "en_wer_file_vad_pad_0_2": round(en_pad.errors.rate, 3),
        "caption_p95_s": one["latency_p95_s"],
        "caption_p95_s_most_streams": most.figures()["latency_p95_s"],
        "streams_per_worker": most.streams,
        "streams_per_worker_ok": most.missed == 0 and (most.figures()["latency_p95_s"] or 99) <= 1.5,
        **zh_out,
        "latency_p50_s": one["latency_p50_s"],
        "latency_p95_s": one["latency_p95_s"],
        "first_partial_p50_s": one["first_partial_p50_s"],
        "baseline_engine": base.label,
        "baseline_rtf": round(base.rtf, 3),
        "baseline_wer": round(base.errors.rate, 3),
        "baseline_latency_p50_s": base_one["latency_p50_s"] if base_one else None,
        "baseline_latency_p95_s": base_one["latency_p95_s"] if base_one else None,
        "rtf_ratio": round(d0.rtf / base.rtf, 3),
        "rtf_measured": "process_time of engine.transcribe on VAD-cut utterances / WAV seconds, 1 thread",
        "latency_from": "true end of each sentence's speech (VAD silence wait included)",
        "streams": {str(r.streams): r.figures() for r in pooled[ENGINE]},
        "baseline_streams": {str(r.streams): r.figures() for r in pooled.get(BASELINE, [])},
        "finals_only_streams": {str(r.streams): r.figures() for r in pooled.get(ENGINE + FINALS_ONLY, [])},
        "sentences": len(sentences),
        "audio_s": round(d0.audio_s, 2),
        "per_stream_sentences": args.per_stream,
        "gap_s": args.gap,
        "vad_rtf": round(vad_cpu / d0.audio_s, 4),
        "whisper_cpu_per_utterance_s": round(d0.cpu / d0.utterances, 3),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "loadavg_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "total_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(out))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5 sentences, no warm-up; N = 1, 2 with 2 sentences a stream, 1 s gaps; whisper only",
    )
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="sentences for RTF and WER (5-8)")
    parser.add_argument("--streams", default="1,2,3", help="stream counts fed at once (default 1,2,3)")
    parser.add_argument("--per-stream", type=int, default=5, help="sentences in each stream (default 5)")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds of silence between sentences (default 1.5)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the pool (default 1)")
    parser.add_argument(
        "--baseline-latency",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure pocketsphinx through the pool (default: yes, not with --quick)",
    )
    parser.add_argument(
        "--finals-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure whisper with partial captions off, to show what partials cost (default: not with --quick)",
    )
    parser.add_argument(
        "--mandarin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the Mandarin part on tests/mandarin (default: yes; --quick: 6 files)",
    )
    parser.add_argument(
        "--texts", default="", help="write the Mandarin texts (reference, file path, live) to this JSON file"
    )
    parser.add_argument("--cache-dir", default=str(REPO / "var" / "models"), help="where Whisper base is assembled")
    args = parser.parse_args()
    if args.quick:
        args.sentences, args.streams, args.per_stream, args.gap = 5, "1,2", 2, 1.0
    if args.baseline_latency is None:
        args.baseline_latency = not args.quick
    if args.finals_only is None:
        args.finals_only = not args.quick
    args.sentences = max(1, min(args.sentences, len(SENTENCES)))
    args.cache_dir = str(Path(args.cache_dir).resolve())
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
