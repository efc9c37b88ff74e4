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
     cut it (last speech window + the 0.2 s pad): it leaves out the pad and the VAD's
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

The last line printed is one JSON object (its top-level latency figures are N = 1).

    .venv/bin/python bench/asr.py --quick      # 5 sentences, no warm-up call; N = 1, 2 (whisper); < 1 min
    .venv/bin/python bench/asr.py              # 8 sentences; N = 1, 2, 3: both engines, whisper without partials
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
from collections.abc import Callable  # noqa: E402
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
from recording.asr.vad import silero_session  # noqa: E402
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


def plan_stream(speech: list[Audio], order: list[int], gap: float) -> StreamPlan:
    """The sentences ``order`` (trimmed 48 kHz speech), ``gap`` s apart, as Opus packets; where each lies."""
    parts = [silence(LEAD, OPUS_RATE)]
    placed = []
    at = parts[0].size
    for i in order:
        placed.append(Placed(i, at / OPUS_RATE, (at + speech[i].size) / OPUS_RATE))
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
            "wer": round(self.errors.rate, 3),
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


async def run_streams(pool: TranscriptionPool, plans: list[StreamPlan], engine: str) -> Run:
    """Feed every plan at once in real time; match the captions to the sentences."""
    got: list[list[tuple[float, Caption]]] = [[] for _ in plans]

    def sink(into: list[tuple[float, Caption]]) -> Callable[[Caption], None]:
        return lambda caption: into.append((time.monotonic(), caption))

    streams = [pool.open(sink(into), language="en") for into in got]
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
    await asyncio.gather(*(s.close(timeout=CLOSE_TIMEOUT) for s in streams))
    worker_cpu = sum(proc_cpu(p) for p in pids) - cpu0
    waited = sum(proc_waited(p) for p in pids) - waited0
    own = time.process_time() - own0
    wall = time.monotonic() - wall0
    other = (machine_busy() - busy0 - worker_cpu - own) / wall

    run = Run(engine, len(plans), sum(p.seconds for p in plans), worker_cpu=worker_cpu, late_ms=late * 1000)
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
        for p in plan.placed:
            run.sentences += 1
            mine = [(t, c) for t, c in finals if span(c)[0] < p.end and span(c)[1] > p.start]
            run.errors += word_errors(SENTENCES[p.index], " ".join(c.text for _, c in mine if c.text))
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
        vad_cpu = sum(c.vad_cpu for c in cuts)
        direct: dict[str, Direct] = {}
        for name in (ENGINE, BASELINE):
            direct[name] = measure_direct(name, cache_dir, cuts, warm_up=not args.quick)
            print(f"  {name}: direct done", flush=True)
        pooled = await measure_pools(pools, speech, counts, args)
    finally:
        for pool in pools.values():
            await pool.close()

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

    one = pooled[ENGINE][0].figures()
    base_one = pooled[BASELINE][0].figures() if BASELINE in pooled else None
    base = direct[BASELINE]
    out: dict[str, Any] = {
        "bench": "asr",
        "quick": args.quick,
        "engine": d0.label,
        "rtf": round(d0.rtf, 3),
        "wer": round(d0.errors.rate, 3),
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
