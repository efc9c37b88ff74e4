"""The server's side of transcription: worker processes, streams in, captions out.

:class:`TranscriptionPool` starts ``workers`` processes (fresh
interpreters: no inherited event loop or sockets), each loading
the engine once. :meth:`TranscriptionPool.open` gives a
:class:`TranscriptStream` for one participant's microphone; its
:meth:`~TranscriptStream.feed` is called on the event loop for every Opus
packet and costs a list append: a sender thread per worker batches packets
into the pipe, a receiver thread hands results back to the loop, so neither
decoding nor recognition ever runs on the loop.

Results come back as :class:`Caption` with wall-clock times: the stream's
first packet is the anchor (read from the clock the composition root gives),
and the worker counts audio time from it. A worker
that dies is started again and its streams carry on (the utterance in progress
is lost); one that keeps dying, or fails to load its engine, is given up and
the server goes on without captions (logged, and shown by ``available``).

Workers are plain ``python -m recording.asr.worker`` children talking over a
socket pair, not ``multiprocessing`` spawns, which would re-import the
server's ``__main__`` in every worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from recording.asr import worker as w
from recording.asr.engines import EngineSpec

logger = logging.getLogger(__name__)

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
MAX_RESTARTS = 5
"""Restarts of one worker within ``RESTART_WINDOW`` seconds before it is given up."""
RESTART_WINDOW = 600.0
FLUSH_SECONDS = 0.1
"""The sender thread sends what gathered at most this often (a pipe write per 100 ms per worker)."""


@dataclass(frozen=True)
class Caption:
    """A partial or final recognition result for one stream."""

    final: bool
    """False: the text may still change (the speaker is still talking)."""
    text: str
    """What was recognised (empty for a final: nothing intelligible, clear the partial)."""
    started_at: datetime
    """Wall-clock start of the utterance."""
    ended_at: datetime
    """Wall-clock end of the audio recognised."""
    engine: str
    """Engine and model."""
    language: str
    """Language asked for."""
    compute_seconds: float = 0.0
    """CPU seconds the worker spent recognising (finals)."""
    latency: float = 0.0
    """Seconds from the end of the audio to the result reaching the server's loop."""
    heard: str = ""
    """Finals: the engine's own text, before mediation words were repaired and amounts and dates
    written out (equal to ``text`` when nothing changed; kept beside it in the record)."""


CaptionSink = Callable[[Caption], None]


class TranscriptStream:
    """One participant's microphone, as fed to a worker (``rooms.ports.TranscriptFeed``)."""

    def __init__(
        self,
        pool: TranscriptionPool,
        sid: int,
        worker: int,
        language: str,
        sink: CaptionSink,
        words: tuple[str, ...] = (),
    ) -> None:
        self.pool = pool
        self.sid = sid
        self.worker = worker
        self.language = language
        self.words = words
        """The case's own words (names, insurers, places, plates): recognition leans towards them."""
        self.sink = sink
        self.anchor: datetime | None = None
        self.anchor_mono = 0.0
        self.closed = False
        self.done: asyncio.Future[None] | None = None
        self.packets = 0

    def feed(self, payload: bytes, rtp_timestamp: int) -> None:
        """One Opus packet as received (event loop; never blocks, never raises)."""
        if self.closed:
            return
        if self.anchor is None:
            self.anchor = self.pool.clock()
            self.anchor_mono = time.monotonic()
        self.packets += 1
        self.pool._send(self.worker, ("audio", self.sid, (rtp_timestamp, payload)))

    async def close(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109 - a bound, not a cancel scope
        """Stop feeding; wait until the worker has recognised what is left."""
        if self.closed:
            return
        self.closed = True
        self.done = asyncio.get_running_loop().create_future()
        self.pool._send(self.worker, ("close", self.sid))
        try:
            await asyncio.wait_for(asyncio.shield(self.done), timeout)
        except TimeoutError:
            logger.warning("transcription of a stream did not finish within %.0f s", timeout)
        finally:
            self.pool.streams.pop(self.sid, None)


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.conn: Connection | None = None
        self.process: Any = None
        self.label = ""
        self.ready = threading.Event()
        self.failed = ""
        self.started = 0.0
        self.restarts: list[float] = []


class TranscriptionPool:
    """Worker processes that turn streams of Opus packets into captions (``rooms.ports.Transcriber``)."""

    def __init__(
        self,
        spec: EngineSpec,
        workers: int = 1,
        language: str = "zh",
        options: w.WorkerOptions | None = None,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.spec = spec
        self.language = language
        self.options = options or w.WorkerOptions()
        self.clock = clock
        self.workers = [_Worker(i) for i in range(max(1, workers))]
        self.streams: dict[int, TranscriptStream] = {}
        self._next_sid = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._reap: list[subprocess.Popen[bytes]] = []

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Start the workers (they load the engine in the background; streams may open at once)."""
        self._loop = asyncio.get_running_loop()
        for worker in self.workers:
            self._spawn(worker)

    async def wait_ready(self, timeout: float = 120.0) -> str:  # noqa: ASYNC109 - a bound, not a cancel scope
        """Wait until every worker has loaded its engine; the engine label (raises if one failed)."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            left = max(0.0, deadline - time.monotonic())
            if not await asyncio.to_thread(worker.ready.wait, left):
                raise TimeoutError("the transcription workers did not load their engine in time")
            if worker.failed:
                raise RuntimeError(f"transcription engine failed to load: {worker.failed}")
        return self.workers[0].label

    @property
    def engine(self) -> str:
        """The engine label once loaded ('' before)."""
        return self.workers[0].label

    @property
    def available(self) -> bool:
        """Whether a worker failed to load (then no captions are made)."""
        return not any(worker.failed for worker in self.workers)

    def _spawn(self, worker: _Worker) -> None:
        # a plain ``python -m`` child, not multiprocessing's spawn: that would re-import the
        # server's own __main__ (a console script, a test runner) inside the worker
        parent_sock, child_sock = socket.socketpair()
        config = json.dumps({"spec": asdict(self.spec), "options": w.options_to_dict(self.options)})
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "recording.asr.worker", str(child_sock.fileno()), config],
            pass_fds=(child_sock.fileno(),),
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "OMP_NUM_THREADS": str(self.spec.threads),
                "HF_HUB_OFFLINE": "1",
                # the worker imports this project as the server does, installed or not
                "PYTHONPATH": os.pathsep.join(filter(None, [PROJECT_ROOT, os.environ.get("PYTHONPATH", "")])),
            },
        )
        child_sock.close()
        parent = Connection(parent_sock.detach())
        worker.outbox.put(None)  # a previous sender thread ends; what it still held for a dead worker is dropped
        worker.outbox = queue.SimpleQueue()
        worker.conn, worker.process = parent, process
        worker.ready.clear()
        worker.failed = ""
        worker.started = time.monotonic()
        threading.Thread(target=self._sender, args=(worker.outbox, parent), daemon=True).start()
        threading.Thread(target=self._receiver, args=(worker, parent), daemon=True).start()

    async def close(self) -> None:
        """Stop every worker."""
        self._closing = True
        for worker in self.workers:
            worker.outbox.put(("stop",))
            worker.outbox.put(None)
        for worker in self.workers:
            if worker.process is not None:
                try:
                    await asyncio.to_thread(worker.process.wait, 5.0)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    await asyncio.to_thread(worker.process.wait, 5.0)
            if worker.conn is not None:
                worker.conn.close()
        for process in self._reap:
            process.kill()
            await asyncio.to_thread(process.wait, 5.0)

    # ------------------------------------------------------------------ streams

    def open(self, sink: CaptionSink, language: str | None = None, words: Sequence[str] = ()) -> TranscriptStream:
        """A stream for one participant's microphone; captions go to ``sink`` (on the loop).
        ``words``: the case's own words (names, insurers, places, plates), which recognition leans towards."""
        sid = self._next_sid
        self._next_sid += 1
        index = min(range(len(self.workers)), key=lambda i: sum(1 for s in self.streams.values() if s.worker == i))
        stream = TranscriptStream(self, sid, index, language or self.language, sink, tuple(words))
        self.streams[sid] = stream
        self._send(index, ("open", sid, stream.language, stream.words))
        return stream

    def _send(self, index: int, message: Any) -> None:
        self.workers[index].outbox.put(message)

    # ------------------------------------------------------------------ threads

    def _sender(self, outbox: queue.SimpleQueue[Any], conn: Connection) -> None:
        """Batch audio per stream and write it to the worker's pipe (blocking here, never on the loop)."""
        while True:
            item = outbox.get()
            if item is None:
                return
            time.sleep(FLUSH_SECONDS)
            batch = [item]
            while True:
                try:
                    batch.append(outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                for message in _coalesce(batch):
                    if message is None:
                        return
                    conn.send(message)
            except (OSError, ValueError, BrokenPipeError):
                return  # the worker is gone; the receiver reports it

    def _receiver(self, worker: _Worker, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                worker.ready.set()
                if self._loop is not None and not self._closing:
                    self._loop.call_soon_threadsafe(self._died, worker, conn)
                return
            kind = message[0]
            if kind == "ready":
                worker.label = message[1]
                worker.ready.set()
            elif kind == "error":
                worker.failed = message[1]
                worker.ready.set()
                logger.error("the transcription engine failed to load: %s (no captions)", message[1])
            elif self._loop is not None:
                self._loop.call_soon_threadsafe(self._deliver, message, time.monotonic())

    def _died(self, worker: _Worker, conn: Connection) -> None:
        if self._closing or worker.conn is not conn:
            return
        conn.close()
        if worker.process is not None and worker.process.poll() is None:
            self._reap.append(worker.process)  # exiting: waited for at close
        now = time.monotonic()
        worker.restarts = [t for t in worker.restarts if now - t < RESTART_WINDOW] + [now]
        if worker.failed or not worker.label or len(worker.restarts) > MAX_RESTARTS:
            worker.failed = worker.failed or "the worker stopped before or too often after loading its engine"
            logger.error("transcription worker %d stopped for good: %s (no captions)", worker.index, worker.failed)
            for stream in self.streams.values():
                if stream.worker == worker.index and stream.done is not None and not stream.done.done():
                    stream.done.set_result(None)
            return
        logger.error("transcription worker %d stopped; starting it again", worker.index)
        self._spawn(worker)
        for stream in self.streams.values():
            if stream.worker == worker.index and not stream.closed:
                stream.anchor = None  # the new worker counts time from the next packet
                self._send(worker.index, ("open", stream.sid, stream.language, stream.words))
            elif stream.worker == worker.index and stream.done is not None and not stream.done.done():
                stream.done.set_result(None)

    def _deliver(self, message: Any, arrived: float) -> None:
        kind, sid = message[0], message[1]
        stream = self.streams.get(sid)
        if stream is None:
            return
        if kind == "closed":
            if stream.done is not None and not stream.done.done():
                stream.done.set_result(None)
            return
        if stream.anchor is None:
            return
        start, end, text = message[2], message[3], message[4]
        caption = Caption(
            final=kind == "final",
            text=text,
            started_at=stream.anchor + timedelta(seconds=start),
            ended_at=stream.anchor + timedelta(seconds=end),
            engine=self.workers[stream.worker].label,
            language=stream.language,
            compute_seconds=message[5] if kind == "final" else 0.0,
            latency=arrived - (stream.anchor_mono + end),
            heard=message[6] if kind == "final" else "",
        )
        try:
            stream.sink(caption)
        except Exception:
            logger.exception("delivering a caption failed")


def _coalesce(batch: list[Any]) -> list[Any]:
    """Merge consecutive audio messages of one stream into one message (order kept)."""
    out: list[Any] = []
    for message in batch:
        if message is not None and message[0] == "audio":
            if out and out[-1] is not None and out[-1][0] == "audio" and out[-1][1] == message[1]:
                out[-1][2].append(message[2])
            else:
                out.append(("audio", message[1], [message[2]]))
        else:
            out.append(message)
    return out
