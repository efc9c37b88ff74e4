"""Recording cost: our segment recorder against aiortc's MediaRecorder, CPU per recorded stream-second.

A 640x480 30 fps VP8 + Opus clip is made once (``tests.media.make_clip``) and demuxed
into encoded packets (``tests.peers._demuxed``); that happens outside the measurement.
Then, in this process, for ``--participants`` P (each one video and one audio stream,
so 2P streams), every frame of the clip is recorded as fast as possible by:

* ``ours``: ``recording.segments.TrackRecorder`` per stream, fed the encoded frames
  unchanged (``write(data, pts * time_base * rate)``, as the forwarder delivers them),
  muxed into in-memory Matroska segments of ``--segment-seconds``, each closed segment
  hashed (the recorder does it) and sealed with AES-GCM (``recording.vault.seal``,
  random 32-byte key) in ``on_segment``; then ``await close()``;
* ``aiortc``: ``aiortc.contrib.media.MediaRecorder`` per participant writing a .webm
  into a temporary folder, fed by tracks whose ``recv()`` decodes the clip's packets
  (what the server's receiver does before a MediaRecorder can take them: the decoding
  is charged to the baseline) and returns the ``av.VideoFrame`` / ``av.AudioFrame``;
  MediaRecorder re-encodes them (libvpx and libopus, its own settings). The tracks are
  not paced; the recorder is stopped only after every track has delivered its last frame.

CPU is ``time.process_time()`` around each engine (this process, all threads, user +
system); per stream-second = CPU / (streams x clip seconds x repeats). The last line
printed is one JSON object.

    .venv/bin/python bench/recording.py --quick
    .venv/bin/python bench/recording.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamError

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from recording.segments import Segment, TrackRecorder  # noqa: E402
from recording.vault import seal  # noqa: E402
from tests.media import make_clip  # noqa: E402
from tests.peers import _demuxed  # noqa: E402

Packets = list[tuple[bytes, int, bool]]
RATES = {"video": 90000, "audio": 48000}


@dataclass
class Result:
    engine: str
    streams: int
    seconds: float
    repeats: int
    cpu: float
    wall: float
    note: str = ""

    @property
    def per_stream_s(self) -> float:
        return self.cpu / (self.streams * self.seconds * self.repeats)


async def run_ours(clip: dict[str, tuple[Packets, fractions.Fraction, int]], participants: int, args: Any) -> Result:
    key = os.urandom(32)
    sealed: list[int] = []
    frames: list[int] = []

    async def on_segment(segment: Segment) -> None:
        blob = seal(key, segment.data, "bench-case", f"{segment.track}:{segment.index}")
        sealed.append(len(blob))
        frames.append(segment.frames)

    # interleave the streams frame by frame in timestamp order, as a live call would
    feed: list[tuple[float, int, str, bytes, int]] = []
    for kind, (packets, time_base, _) in clip.items():
        for data, pts, _key in packets:
            for p in range(participants):
                feed.append((float(pts * time_base), p, kind, data, int(pts * time_base * RATES[kind])))
    feed.sort(key=lambda f: (f[0], f[1], f[2]))
    expected = len(feed)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(args.repeats):
        recorders = {
            (p, kind): TrackRecorder(
                f"p{p}:{kind}",
                "VP8" if kind == "video" else "opus",
                RATES[kind],
                on_segment,
                segment_seconds=args.segment_seconds,
                clock=lambda: datetime.now(UTC),
            )
            for p in range(participants)
            for kind in clip
        }
        for i, (_t, p, kind, data, ts) in enumerate(feed):
            recorders[(p, kind)].write(data, ts)
            if i % 50 == 0:
                await asyncio.sleep(0)  # let closed segments be finished and sealed meanwhile
        for recorder in recorders.values():
            await recorder.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if sum(frames) != expected * args.repeats:
        raise RuntimeError(f"ours recorded {sum(frames)} frames, expected {expected * args.repeats}")
    note = f"{len(sealed)} sealed segments, {sum(sealed) / args.repeats / 1e6:.2f} MB a run"
    return Result("ours", participants * len(clip), args.seconds, args.repeats, cpu, wall, note)


class DecodingTrack(MediaStreamTrack):
    """Yields the clip's frames decoded, as the server's receiver would, unpaced; then ends."""

    def __init__(self, kind: str, packets: Packets, time_base: fractions.Fraction) -> None:
        super().__init__()
        self.kind = kind
        self.packets = packets
        self.time_base = time_base
        self.decoder: Any = av.CodecContext.create("vp8" if kind == "video" else "opus", "r")
        self.pending: list[Any] = []
        self.index = 0
        self.delivered = 0
        self.done = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        while not self.pending:
            if self.index >= len(self.packets):
                if not self.done.done():
                    self.done.set_result(None)
                raise MediaStreamError
            data, pts, _key = self.packets[self.index]
            self.index += 1
            packet = av.Packet(data)
            packet.pts = packet.dts = pts
            packet.time_base = self.time_base
            for frame in self.decoder.decode(packet):
                frame.pts = pts
                frame.time_base = self.time_base
                self.pending.append(frame)
        self.delivered += 1
        return self.pending.pop(0)


def written(folder: Path) -> int:
    """Bytes of the recordings MediaRecorder wrote."""
    return sum(f.stat().st_size for f in folder.glob("p*.webm"))


async def run_aiortc(
    clip: dict[str, tuple[Packets, fractions.Fraction, int]], participants: int, args: Any, folder: Path
) -> Result:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tracks: list[DecodingTrack] = []
    recorders: list[MediaRecorder] = []
    for p in range(participants):
        recorder = MediaRecorder(str(folder / f"p{p}.webm"))
        for kind, (packets, time_base, _) in clip.items():
            track = DecodingTrack(kind, packets, time_base)
            recorder.addTrack(track)
            tracks.append(track)
        recorders.append(recorder)
    for recorder in recorders:
        await recorder.start()
    await asyncio.gather(*(t.done for t in tracks))
    for recorder in recorders:
        await recorder.stop()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    expected = sum(len(clip[t.kind][0]) for t in tracks)
    delivered = sum(t.delivered for t in tracks)
    if delivered < expected * 0.99:
        raise RuntimeError(f"aiortc got {delivered} frames, expected about {expected}")
    size = written(folder)
    note = f"decode + re-encode, {delivered} frames, {size / 1e6:.2f} MB written"
    return Result("aiortc MediaRecorder", len(tracks), args.seconds, 1, cpu, wall, note)


async def end_to_verified(folder: Path, clip: Path, seconds: float) -> tuple[float, float, int]:
    """A real session (in-process server, two aiortc peers) recorded for ``seconds``; then the time
    from the mediator's 'end' to the session's recording verified (manifest signature, every
    segment's seal and hash), and the time of the 'end' acknowledgement alone."""
    from server.app import ROOMS
    from tests.live import _live

    async for live in _live(folder, recording_segment_seconds=4.0):
        mediator = live.peer("mediator", clip)
        await mediator.connect()
        await mediator.join()
        applicant = live.peer("applicant", clip)
        await applicant.connect()
        await applicant.join()
        await mediator.emit("admit", {"participant_id": live.ids["applicant"]})
        await mediator.publish()
        await applicant.publish()
        await asyncio.sleep(seconds)
        t0 = time.perf_counter()
        ack = await mediator.emit("end")
        t_ack = time.perf_counter() - t0
        assert ack["ok"], ack
        verdicts = await live.app[ROOMS].recordings.archive.verify(live.case_id, datetime.now(UTC))
        t_verified = time.perf_counter() - t0
        assert verdicts and all(v.ok for v in verdicts), [v.as_dict() for v in verdicts]
        await applicant.close()
        await mediator.close()
        return t_verified, t_ack, verdicts[0].segments
    raise AssertionError("no live server")


async def main_async(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        folder = Path(tmp)
        path = make_clip(folder / "clip.webm", seconds=args.seconds, size=(width, height))
        demuxed = _demuxed(str(path))
        clip = {kind: demuxed[kind] for kind in ("video", "audio")}
        print(
            f"bench/recording.py: {args.participants} participants (video + audio), {width}x{height} 30 fps, "
            f"{args.seconds:g} s clip, ours x{args.repeats}, {os.cpu_count()} CPUs",
            flush=True,
        )
        ours = await run_ours(clip, args.participants, args)
        base = await run_aiortc(clip, args.participants, args, folder)
        live_seconds = 6.0 if args.quick else 12.0
        verified_s, ack_s, segments = await end_to_verified(folder / "live", path, live_seconds)

    ratio = base.per_stream_s / ours.per_stream_s if ours.per_stream_s else float("inf")
    header = (
        f"{'engine':<22}{'streams':>8}{'clip s':>8}{'runs':>6}{'CPU s':>9}{'wall s':>9}"
        f"{'ms CPU/stream-s':>17}{'ratio':>8}  note"
    )
    print(header)
    print("-" * len(header))
    for r, rr in ((ours, "1.0"), (base, f"{ratio:.1f}")):
        print(
            f"{r.engine:<22}{r.streams:>8}{r.seconds:>8g}{r.repeats:>6}{r.cpu:>9.3f}{r.wall:>9.2f}"
            f"{r.per_stream_s * 1000:>17.2f}{rr:>8}  {r.note}"
        )
    print(
        f"session end -> recording verified: {verified_s * 1000:.0f} ms (the 'end' acknowledgement, "
        f"which waits for the last segments and the signed manifest: {ack_s * 1000:.0f} ms; "
        f"{segments} segments, {live_seconds:g} s recorded by 2 members; target 2000 ms)"
    )
    print(
        json.dumps(
            {
                "bench": "recording",
                "cpu_per_stream_s": round(ours.per_stream_s, 6),
                "baseline_cpu_per_stream_s": round(base.per_stream_s, 6),
                "ratio": round(ratio, 1),
                "streams": ours.streams,
                "seconds": args.seconds,
                "size": f"{width}x{height}",
                "repeats": args.repeats,
                "quick": args.quick,
                "cpus": os.cpu_count(),
                "end_to_verified_ms": round(verified_s * 1000),
                "end_ack_ms": round(ack_s * 1000),
                "verified_segments": segments,
                "target_end_to_verified_ms": 2000,
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s clip, one run of ours (well under a minute)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--participants", type=int, default=3, help="each records one video and one audio stream")
    parser.add_argument("--size", default="640x480", help="video size WxH (default 640x480)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours, summed (it is quick; default 3)")
    parser.add_argument("--segment-seconds", type=float, default=4.0, help="our segment length (default 4)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 4.0, 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
