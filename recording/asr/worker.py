"""The transcription worker: a separate process per CPU core given to speech.

The server sends each stream's Opus packets as they arrive (RTP timestamp and
payload, in batches); the worker decodes them (Opus only: cheap), resamples to
16 kHz mono, runs voice-activity detection, cuts utterances and recognises each
one when it ends. While someone speaks it re-recognises the growing utterance
about once a second for partial captions, unless it is falling behind.

Messages in (tuples over a ``multiprocessing`` pipe):
``("open", sid, language, words)`` (``words``: the case's own words, which bias
recognition: ``recording.asr.lexicon``), ``("audio", sid, [(rtp_ts, payload), …])``,
``("close", sid)``, ``("stop",)``.
Messages out: ``("ready", engine_label)`` or ``("error", message)`` once at
start; ``("partial", sid, start_s, end_s, text)``;
``("final", sid, start_s, end_s, text, compute_s, heard)``; ``("closed", sid)``.
Times are seconds of stream audio from the stream's first packet. For Mandarin,
``text`` is what the engine heard (``heard``) with misheard mediation words
repaired and amounts and dates written as the record writes them
(``recording.asr.written``).

A reader thread empties the pipe into a queue while the engine works, so the
server's side never blocks, and how long a message waited tells when to skip partials.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from recording.asr.engines import EngineSpec
from recording.asr.vad import VadConfig

RTP_CLOCK = 48_000
RATE = 16_000
MAX_FILL = 2.0
"""Seconds of missing packets filled with silence; a longer gap restarts detection."""
MAX_LAG = 0.3
"""Seconds a message may have waited in the worker's queue for partial captions still to be made."""


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker cuts and captions."""

    vad: VadConfig = VadConfig()
    """Utterance cutting."""
    partial_interval: float = 1.0
    """Seconds of new speech between partial captions (0: none)."""


class _Stream:
    """One participant's audio inside the worker."""

    def __init__(
        self, sid: int, language: str, options: WorkerOptions, vad_session: Any, words: tuple[str, ...] = ()
    ) -> None:
        import av
        import numpy as np

        from recording.asr import lexicon
        from recording.asr.vad import Segmenter, SileroVad

        self.np = np
        self.sid = sid
        self.language = language
        self.prompt = lexicon.prompt(words) if language == "zh" else ""
        self.repair = lexicon.Repair(words) if language == "zh" else None
        self.options = options
        self.decoder: Any = av.CodecContext.create("opus", "r")
        self.resampler: Any = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self.vad = SileroVad(vad_session)
        self.segmenter = Segmenter(options.vad)
        self.first_ts: int | None = None
        self.expected = 0  # 48 kHz position where the next packet should start
        self.last_raw = 0
        self.last_position = 0
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_start = 0  # sample index of buffer[0]
        self.partial_at = 0  # utterance length (samples) at the last partial
        self.partial_gap = options.partial_interval  # seconds of new speech before the next partial
        self.partial_shown: int | None = None  # start of the utterance whose partial is on screen

    def _unwrap(self, ts: int) -> int:
        """The packet's 48 kHz position from the stream's first packet (RTP timestamps wrap at 2^32)."""
        if self.first_ts is None:
            self.first_ts = self.last_raw = ts
            return 0
        delta = (ts - self.last_raw) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        if delta > 0:
            self.last_raw = ts
            self.last_position += delta
            return self.last_position
        return self.last_position + delta

    def add(self, ts: int, payload: bytes) -> list[Any]:
        """Decode one packet; return utterances that ended."""
        import av

        position = self._unwrap(ts)
        done: list[Any] = []
        gap = position - self.expected
        if gap < 0:
            return done  # late or repeated packet: its time has passed
        if gap > 0:
            if gap <= MAX_FILL * RTP_CLOCK:
                done += self._push(self.np.zeros(gap * RATE // RTP_CLOCK, dtype=self.np.float32))
            else:
                done += self._jump(gap * RATE // RTP_CLOCK)
        try:
            frames = self.decoder.decode(av.Packet(payload))
        except av.error.FFmpegError:
            return done  # a damaged packet: lose 20 ms, not the stream
        for frame in frames:
            self.expected = position + frame.samples
            for out in self.resampler.resample(frame):
                done += self._push(out.to_ndarray().reshape(-1).astype(self.np.float32))
        return done

    def _push(self, pcm: Any) -> list[Any]:
        self.buffer = self.np.concatenate([self.buffer, pcm])
        done = []
        for prob in self.vad(pcm):
            utterance = self.segmenter.push(float(prob))
            if utterance is not None:
                done.append((utterance, self._cut(utterance)))  # before the buffer is trimmed
        self._trim()
        return done

    def _jump(self, samples: int) -> list[Any]:
        done = self.segmenter.flush()
        utterances = [done] if done is not None else []
        audio = [self._cut(u) for u in utterances]  # cut before the buffer goes
        self.vad.reset()
        end = self.buffer_start + self.buffer.size + samples
        self.segmenter.position = end
        self.buffer_start = end
        self.buffer = self.np.zeros(0, dtype=self.np.float32)
        return list(zip(utterances, audio, strict=True))

    def _trim(self) -> None:
        keep_from = self.segmenter.start if self.segmenter.start is not None else self.segmenter.position
        keep_from -= int(self.options.vad.pad * RATE) + 1024
        cut = keep_from - self.buffer_start
        if cut > RATE:  # trim in steps of a second or more
            self.buffer = self.buffer[cut:]
            self.buffer_start += cut

    def _cut(self, utterance: Any) -> Any:
        """The samples of an utterance (still in the buffer)."""
        a = max(0, utterance.start - self.buffer_start)
        b = max(a, utterance.end - self.buffer_start)
        return self.buffer[a:b]

    def finish(self, heard: str) -> str:
        """What the record shows of what was heard (Mandarin: repaired, amounts and dates written out)."""
        if self.repair is None or not heard:
            return heard
        from recording.asr.written import written

        return written(self.repair(heard))

    def current(self) -> tuple[int, Any] | None:
        """The utterance in progress (start sample, audio), if any."""
        if self.segmenter.start is None:
            return None
        start = self.segmenter.start
        return start, self.buffer[max(0, start - self.buffer_start) :]


def options_to_dict(options: WorkerOptions) -> dict[str, Any]:
    """JSON-ready (the options cross into the worker on its command line)."""
    return {"vad": asdict(options.vad), "partial_interval": options.partial_interval}


def main(conn: Connection, spec: EngineSpec, options: WorkerOptions) -> None:
    """Run the worker on ``conn`` until told to stop or the server goes away."""
    inbox: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        while True:
            try:
                inbox.put((time.monotonic(), conn.recv()))
            except (EOFError, OSError):
                inbox.put((time.monotonic(), ("stop",)))
                return

    threading.Thread(target=read, name="asr-reader", daemon=True).start()
    try:
        from recording.asr.engines import load_engine
        from recording.asr.vad import silero_session

        engine = load_engine(spec)
        vad_session = silero_session()
        from recording.asr import lexicon

        lexicon.Repair()  # pypinyin's dictionaries load here (0.3 s), not when the first Mandarin stream opens
    except Exception as exc:  # noqa: BLE001 - reported to the server, which logs it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", engine.label))
    streams: dict[int, _Stream] = {}

    def recognise(stream: _Stream, u: Any, audio: Any) -> None:
        began = time.process_time()
        heard = engine.transcribe(audio, stream.language, stream.prompt) if audio.size else ""
        text = stream.finish(heard)
        conn.send(("final", stream.sid, u.start / RATE, u.end / RATE, text, time.process_time() - began, heard))
        stream.partial_at = 0
        stream.partial_shown = None

    while True:
        arrived, message = inbox.get()
        kind = message[0]
        if kind == "stop":
            return
        if kind == "open":
            words = tuple(message[3]) if len(message) > 3 else ()
            streams[message[1]] = _Stream(message[1], message[2], options, vad_session, words)
        elif kind == "audio":
            stream = streams.get(message[1])
            if stream is None:
                continue
            for ts, payload in message[2]:
                for utterance, audio in stream.add(ts, payload):
                    recognise(stream, utterance, audio)
            if stream.partial_shown is not None and not stream.segmenter.in_speech:
                # the utterance was dropped (too short to keep): clear its partial caption
                start = stream.partial_shown
                conn.send(("final", stream.sid, start / RATE, start / RATE, "", 0.0, ""))
                stream.partial_shown = None
                stream.partial_at = 0
            speaking = sum(1 for s in streams.values() if s.segmenter.in_speech)
            _maybe_partial(conn, engine, stream, options, time.monotonic() - arrived, speaking)
        elif kind == "close":
            stream = streams.pop(message[1], None)
            if stream is not None:
                last = stream.segmenter.flush()
                if last is not None:
                    recognise(stream, last, stream._cut(last))
            conn.send(("closed", message[1]))


def _maybe_partial(
    conn: Connection, engine: Any, stream: _Stream, options: WorkerOptions, lag: float, speaking: int = 1
) -> None:
    """Re-recognise the utterance in progress when it grew by enough, unless the worker is behind.

    ``lag`` is how long the message just handled waited in the queue: finals must not wait for
    partials. After a partial that cost ``c`` seconds, with ``n`` of the worker's streams speaking,
    the next waits for at least ``2c·n`` more seconds of speech, so the partials of all its streams
    together take at most about a third of the worker (per stream alone, three Mandarin speakers'
    partials filled it and finals waited: p95 1.74 s against 1.25 s without partials).
    """
    if options.partial_interval <= 0 or lag > MAX_LAG:
        return
    current = stream.current()
    if current is None:
        return
    start, audio = current
    if audio.size - stream.partial_at < stream.partial_gap * RATE:
        return
    began = time.process_time()
    text = stream.finish(engine.transcribe(audio, stream.language, stream.prompt))
    cost = time.process_time() - began
    stream.partial_at = audio.size
    stream.partial_gap = max(options.partial_interval, 2 * cost * max(1, speaking))
    if text:
        stream.partial_shown = start
        conn.send(("partial", stream.sid, start / RATE, (start + audio.size) / RATE, text))


if __name__ == "__main__":
    # python -m recording.asr.worker FD CONFIG_JSON (started by recording.asr.pool)
    config = json.loads(sys.argv[2])
    main(
        Connection(int(sys.argv[1])),
        EngineSpec(**config["spec"]),
        WorkerOptions(VadConfig(**config["options"]["vad"]), config["options"]["partial_interval"]),
    )
