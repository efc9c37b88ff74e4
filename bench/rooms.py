"""Live rooms under load: the passthrough forwarder against aiortc's decode/re-encode relay.

N rooms of 3 members (mediator, applicant, respondent; the parties admitted by the
mediator) each publish a pre-encoded VP8 + Opus clip (``tests.peers.ClipTrack``: paced,
looping packets, no encoder) and count what they receive without decoding
(:class:`BenchPeer`). The server runs in its own process (``bench/support/relay_baseline.py``)
so that its CPU time can be read from ``/proc/<pid>/stat`` (all threads: the relay's decoder and
encoder threads included); the clients all run in this process, whose CPU is reported
but not charged to the server. On one machine they compete for the same cores.

Per engine (a fresh server each: ``passthrough`` is the product's forwarder,
``rooms/sfu.py``; ``relay`` is ``bench/support/relay_baseline.py``): set up the rooms over the
HTTP API and socket.io, wait until every member receives the other two, settle, then
measure over a window:

* server CPU seconds (user + system, all threads) per forwarded stream-second,
  where forwarded streams = rooms x 3 publishers x 2 subscribers x 2 kinds (audio
  and video counted alike); also per stream-second actually delivered (frames
  received / frame rate), which is the fairer figure for an engine that falls behind;
* per received stream, frames expected from the clip's rate (30 video / 50 audio
  frames a second) against frames counted in the window. *Lost*: the larger of the
  RTP-timestamp gaps seen and the shortfall beyond one frame (the window edge);
  *late*: frames whose one-way delay (arrival time minus RTP timestamp / clock rate)
  exceeds the stream's smallest delay by more than ``--late-ms`` (default 200 ms).
  *Lost or late* = 1 - on-time frames / expected, again with one frame of slack.

"cli cores" is this process (the 3N clients); "other cores" is what the rest of the
machine used in the window (a note is printed when it exceeds 0.25: the figures are
then disturbed). The last line printed is one JSON object.

    .venv/bin/python bench/rooms.py --quick
    .venv/bin/python bench/rooms.py --rooms 3 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import socketio  # type: ignore[import-untyped]
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.process import free_port, log_tail, stop_process, wait_healthy  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rooms.forwarding import _Tap  # noqa: E402
from tests.media import make_clip  # noqa: E402
from tests.peers import ClipTrack, _demuxed  # noqa: E402

HOST = "127.0.0.1"
API = "/api/v1"
USERNAME = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLOCK_RATE = {"video": 90_000, "audio": 48_000}
KINDS = ("video", "audio")
ROLES = ("mediator", "applicant", "respondent")
ENGINES = ("passthrough", "relay")


# ---------------------------------------------------------------- process helpers


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads) in seconds, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        text = fh.read()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:9]]
    total = sum(values)
    idle = values[3] + values[4]
    return total - idle, total


# ---------------------------------------------------------------- receiving side


@dataclass
class StreamClock:
    """Frames of one received stream: count, RTP-timestamp gaps, and lateness."""

    clock_rate: int
    step: float
    """RTP ticks between two frames at the clip's rate."""
    frames: int = 0
    gaps: int = 0
    late: int = 0
    max_lateness: float = 0.0
    last_raw: int | None = None
    ts: int = 0
    min_delay: float = math.inf

    def on_frame(self, raw: int, now: float, late_after: float) -> None:
        self.frames += 1
        if self.last_raw is not None:
            d = (raw - self.last_raw) & 0xFFFFFFFF
            if d >= 1 << 31:
                d -= 1 << 32
            if d <= 0:
                return  # reordered or repeated: counted, nothing else
            if d > 5 * self.clock_rate:  # a new source: start over
                self.min_delay = math.inf
            elif d > 1.5 * self.step:
                self.gaps += round(d / self.step) - 1
            self.ts += d
        else:
            self.ts = raw
        self.last_raw = raw
        delay = now - self.ts / self.clock_rate
        self.min_delay = min(self.min_delay, delay)
        lateness = delay - self.min_delay
        self.max_lateness = max(self.max_lateness, lateness)
        if lateness > late_after:
            self.late += 1


class BenchPeer:
    """One member's page in Python: socket.io plus an aiortc peer that sends a clip and counts frames.

    It speaks the signaling protocol of ``signaling/protocol.py``: ``join``, then
    ``media``; the server offers (``uplink`` names the lines for the page's own
    audio and video, ``tracks`` the owner of every other line) and the page answers.
    Received frames are counted as they leave the jitter buffer, never decoded
    (``rooms.sfu._Tap``, as ``tests.peers.ClientPeer`` does), with a :class:`StreamClock`
    per remote publisher and kind.
    """

    def __init__(
        self, base: str, token: str, case_id: str | None, clip: Path, rates: dict[str, float], late_after: float
    ) -> None:
        self.base = base
        self.token = token
        self.case_id = case_id
        self.clip = clip
        self.rates = rates
        self.late_after = late_after
        self.sio: Any = None
        self.pc: RTCPeerConnection | None = None
        self.sending: list[ClipTrack] = []
        self.track_owner: dict[str, dict[str, str]] = {}
        self.clocks: dict[tuple[str, str], StreamClock] = {}
        self.errors: list[Any] = []
        self.participant_id: str | None = None
        self._sdp_lock = asyncio.Lock()

    async def connect(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("sdp", self._on_sdp)
        self.sio.on("error", self.errors.append)
        auth = {"token": self.token}
        if self.case_id:
            auth["case_id"] = self.case_id
        await self.sio.connect(self.base, auth=auth, transports=["websocket"], wait_timeout=10)

    async def emit(self, event: str, data: Any = None) -> dict[str, Any]:
        result = await self.sio.call(event, data if data is not None else {}, timeout=20)
        if not isinstance(result, dict):
            raise RuntimeError(f"{event}: unexpected acknowledgement {result!r}")
        return result

    async def join(self) -> dict[str, Any]:
        ack = await self.emit("join")
        if ack.get("ok"):
            self.participant_id = ack["participant_id"]
        return ack

    async def start_media(self) -> None:
        """Ask the server for a media connection; its offer arrives as an ``sdp`` event."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("track", self._on_track)
        ack = await self.emit("media")
        if not ack.get("ok"):
            raise RuntimeError(f"media refused: {ack}")

    async def _on_sdp(self, data: dict[str, Any]) -> None:
        async with self._sdp_lock:
            pc = self.pc
            if pc is None or data.get("type") != "offer":
                return
            self.track_owner.update(data.get("tracks", {}))
            await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            for mid, kind in data.get("uplink", {}).items():
                t = next((t for t in pc.getTransceivers() if t.mid == mid), None)
                if t is not None and t.sender.track is None:
                    track = ClipTrack(self.clip, kind)
                    self.sending.append(track)
                    t.sender.replaceTrack(track)
                    t.direction = "sendonly"
            await pc.setLocalDescription(await pc.createAnswer())
            await self.sio.emit("sdp", {"type": "answer", "sdp": pc.localDescription.sdp})

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.pc is not None
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = transceiver.mid or ""
        kind = track.kind
        loop = asyncio.get_running_loop()
        step = CLOCK_RATE[kind] / self.rates[kind]

        def count(codec: Any, frame: Any) -> None:
            owner = self.track_owner.get(mid, {}).get("participant_id", "?")
            clock = self.clocks.get((owner, kind))
            if clock is None:
                clock = self.clocks[(owner, kind)] = StreamClock(codec.clockRate, step)
            clock.on_frame(frame.timestamp, loop.time(), self.late_after)

        transceiver.receiver._RTCRtpReceiver__decoder_queue = _Tap(count)  # type: ignore[attr-defined]

    def frames_from(self, participant_id: str, kind: str) -> int:
        clock = self.clocks.get((participant_id, kind))
        return clock.frames if clock else 0

    async def close(self) -> None:
        for track in self.sending:
            track.stop()
        if self.pc is not None:
            await self.pc.close()
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


# ---------------------------------------------------------------- one engine


@dataclass
class Room:
    case_id: str
    tokens: dict[str, str]
    ids: dict[str, str]
    peers: dict[str, BenchPeer] = field(default_factory=dict)


@dataclass
class EngineResult:
    engine: str
    rooms: int
    window_s: float = 0.0
    server_cpu_s: float = 0.0
    server_sys_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_busy: float = 0.0
    not_ready: int = 0
    expected: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    lost: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    late: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bad: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    max_lateness_ms: float = 0.0
    setup_s: float = 0.0
    error: str = ""

    @property
    def streams(self) -> int:
        return self.rooms * 3 * 2 * 2

    @property
    def cpu_per_stream_s(self) -> float:
        return self.server_cpu_s / (self.streams * self.window_s) if self.window_s else math.nan

    def cpu_per_delivered_stream_s(self, rates: dict[str, float]) -> float:
        """Server CPU seconds per stream-second actually delivered (frames received / frame rate)."""
        delivered = sum(self.received[k] / rates[k] for k in KINDS)
        return self.server_cpu_s / delivered if delivered else math.nan

    @property
    def other_cores(self) -> float:
        """Cores busy with neither the server nor the clients (other work on the machine)."""
        cpus = os.cpu_count() or 1
        return max(0.0, self.machine_busy * cpus - (self.server_cpu_s + self.client_cpu_s) / self.window_s)

    def share(self, what: dict[str, Any], kind: str | None = None) -> float:
        kinds = KINDS if kind is None else (kind,)
        expected = sum(self.expected[k] for k in kinds)
        return sum(what[k] for k in kinds) / expected if expected else math.nan


class Api:
    """The case API as the bench's mediator."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.token = ""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, f"{self.base}{API}{path}", json=body, headers=headers) as r:
            payload = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: {r.status} {payload}")
            return payload

    async def new_room(self, index: int) -> Room:
        case = await self.call("POST", "/cases", {"kind": "traffic_accident", "title": f"bench room {index}"})
        tokens = {"mediator": self.token}
        ids = {"mediator": next(p["id"] for p in case["participants"] if p["role"] == "mediator")}
        for role in ("applicant", "respondent"):
            added = await self.call(
                "POST", f"/cases/{case['id']}/participants", {"role": role, "display_name": f"{role} {index}"}
            )
            tokens[role] = added["link"]["token"]
            ids[role] = added["participant"]["id"]
        starts = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        await self.call("POST", f"/cases/{case['id']}/sessions", {"starts_at": starts})
        return Room(case["id"], tokens, ids)


async def enter(room: Room, role: str, base: str, clip: Path, rates: dict[str, float], late_after: float) -> None:
    peer = BenchPeer(base, room.tokens[role], room.case_id if role == "mediator" else None, clip, rates, late_after)
    room.peers[role] = peer
    await peer.connect()
    ack = await peer.join()
    if not ack.get("ok"):
        raise RuntimeError(f"{role} could not join: {ack}")
    if role != "mediator":
        result = await room.peers["mediator"].emit("admit", {"participant_id": room.ids[role]})
        if not result.get("ok"):
            raise RuntimeError(f"admitting the {role} failed: {result}")
    await peer.start_media()


def streams_of(rooms: list[Room]) -> list[tuple[BenchPeer, str, str]]:
    """Every (subscriber, publisher id, kind) that should flow."""
    out = []
    for room in rooms:
        for sub_role, peer in room.peers.items():
            for pub_role in ROLES:
                if pub_role != sub_role:
                    out.extend((peer, room.ids[pub_role], kind) for kind in KINDS)
    return out


def snapshot(rooms: list[Room]) -> dict[tuple[int, str, str], tuple[int, int, int]]:
    out = {}
    for peer, pub, kind in streams_of(rooms):
        c = peer.clocks.get((pub, kind))
        out[(id(peer), pub, kind)] = (c.frames, c.gaps, c.late) if c else (0, 0, 0)
    return out


def reset_max_lateness(rooms: list[Room]) -> None:
    for peer, pub, kind in streams_of(rooms):
        c = peer.clocks.get((pub, kind))
        if c is not None:
            c.max_lateness = 0.0


def ready(rooms: list[Room]) -> int:
    """How many streams have not yet delivered a second of frames."""
    need = {"video": 30, "audio": 50}
    return sum(1 for peer, pub, kind in streams_of(rooms) if peer.frames_from(pub, kind) < need[kind])


async def run_engine(engine: str, args: argparse.Namespace, clip: Path, rates: dict[str, float]) -> EngineResult:
    result = EngineResult(engine, args.rooms)
    proc: asyncio.subprocess.Process | None = None
    rooms: list[Room] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-rooms-{engine}-") as tmp:
        log_path = Path(tmp) / "server.log"
        try:
            port = free_port()
            base = f"http://{HOST}:{port}"
            password = secrets.token_urlsafe(18)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
            env.update(BENCH_PASSWORD=password, PYTHONUNBUFFERED="1")
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(REPO / "bench" / "support" / "relay_baseline.py"),
                    "--engine",
                    engine,
                    "--port",
                    str(port),
                    "--data-dir",
                    str(Path(tmp) / "data"),
                    "--username",
                    USERNAME,
                    cwd=REPO,
                    env=env,
                    stdout=log_fd,
                    stderr=asyncio.subprocess.STDOUT,
                )
            finally:
                os.close(log_fd)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                await wait_healthy(http, base, proc, limit_s=60)
                t_setup = time.monotonic()
                api = Api(http, base)
                login = await api.call("POST", "/auth/login", {"username": USERNAME, "password": password})
                api.token = login["token"]
                for i in range(args.rooms):
                    room = await api.new_room(i)
                    rooms.append(room)
                    for role in ROLES:
                        await asyncio.wait_for(enter(room, role, base, clip, rates, args.late_ms / 1000), 30)
                deadline = time.monotonic() + args.ready_timeout
                for _ in range(int(args.ready_timeout / 0.2) + 1):  # bounded polling
                    if not ready(rooms) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                result.not_ready = ready(rooms)
                result.setup_s = time.monotonic() - t_setup
                await asyncio.sleep(args.settle)

                reset_max_lateness(rooms)
                before = snapshot(rooms)
                cpu0, cli0, mach0, t0 = cpu_seconds(proc.pid), time.process_time(), machine_ticks(), time.monotonic()
                await asyncio.sleep(args.seconds)
                cpu1, cli1, mach1, t1 = cpu_seconds(proc.pid), time.process_time(), machine_ticks(), time.monotonic()
                after = snapshot(rooms)

                result.window_s = t1 - t0
                result.server_cpu_s = sum(cpu1) - sum(cpu0)
                result.server_sys_s = cpu1[1] - cpu0[1]
                result.client_cpu_s = cli1 - cli0
                total = mach1[1] - mach0[1]
                result.machine_busy = (mach1[0] - mach0[0]) / total if total else math.nan
                for key, (f1, g1, l1) in after.items():
                    f0, g0, l0 = before[key]
                    kind = key[2]
                    expected = rates[kind] * result.window_s
                    received, gaps, late = f1 - f0, g1 - g0, l1 - l0
                    result.expected[kind] += expected
                    result.received[kind] += received
                    result.late[kind] += late
                    result.lost[kind] += min(expected, max(gaps, expected - received - 1, 0))
                    result.bad[kind] += min(expected, max(gaps + late, expected - (received - late) - 1, 0))
                result.max_lateness_ms = 1000 * max(
                    (c.max_lateness for peer, pub, kind in streams_of(rooms) if (c := peer.clocks.get((pub, kind)))),
                    default=0.0,
                )
        except Exception as exc:  # noqa: BLE001 - reported; the other engine still runs
            result.error = f"{type(exc).__name__}: {exc}"
            print(f"[{engine}] failed: {result.error}\nserver log tail:\n{log_tail(log_path)}", file=sys.stderr)
        finally:
            peers = [p for room in rooms for p in room.peers.values()]
            await asyncio.gather(*(_close(p) for p in peers))
            if proc is not None:
                await stop_process(proc)
    return result


async def _close(peer: BenchPeer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(peer.close(), 5)


# ---------------------------------------------------------------- report


def pct0(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f}"


def pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.2f}"


def print_table(results: list[EngineResult], rates: dict[str, float]) -> None:
    header = (
        f"{'engine':<12} {'rooms':>5} {'streams':>7} {'window s':>8} {'srv CPU s':>9} {'srv cores':>9} {'sys %':>5} "
        f"{'ms CPU/stream-s':>15} {'ms/delivered':>12} {'cli cores':>9} {'other cores':>11} {'video lost %':>12} {'video late %':>12} "
        f"{'audio lost %':>12} {'audio late %':>12} {'lost|late %':>11} {'max late ms':>11} {'not ready':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.error:
            print(f"{r.engine:<12} {r.rooms:>5} failed: {r.error}")
            continue
        print(
            f"{r.engine:<12} {r.rooms:>5} {r.streams:>7} {r.window_s:>8.1f} {r.server_cpu_s:>9.2f} "
            f"{r.server_cpu_s / r.window_s:>9.2f} {pct0(r.server_sys_s / r.server_cpu_s if r.server_cpu_s else math.nan):>5} "
            f"{1000 * r.cpu_per_stream_s:>15.3f} {1000 * r.cpu_per_delivered_stream_s(rates):>12.3f} "
            f"{r.client_cpu_s / r.window_s:>9.2f} {r.other_cores:>11.2f} "
            f"{pct(r.share(r.lost, 'video')):>12} {pct(r.share(r.late, 'video')):>12} "
            f"{pct(r.share(r.lost, 'audio')):>12} {pct(r.share(r.late, 'audio')):>12} "
            f"{pct(r.share(r.bad)):>11} {r.max_lateness_ms:>11.0f} {r.not_ready:>9}"
        )


def _num(x: float, digits: int) -> float | None:
    return None if math.isnan(x) else round(x, digits)


def summary(results: dict[str, EngineResult], args: argparse.Namespace, rates: dict[str, float]) -> dict[str, Any]:
    p, b = results.get("passthrough"), results.get("relay")
    cpu = p.cpu_per_stream_s if p and not p.error else math.nan
    base = b.cpu_per_stream_s if b and not b.error else math.nan
    out: dict[str, Any] = {
        "bench": "rooms",
        "rooms": args.rooms,
        "cpu_per_stream_s": _num(cpu, 6),
        "baseline_cpu_per_stream_s": _num(base, 6),
        "ratio": _num(base / cpu if cpu else math.nan, 1),
        "lost_or_late_share": _num(p.share(p.bad), 5) if p and not p.error else None,
        "baseline_lost_or_late_share": _num(b.share(b.bad), 5) if b and not b.error else None,
        "quick": bool(args.quick),
        "seconds": args.seconds,
        "size": args.size,
        "cpus": os.cpu_count(),
    }
    for prefix, r in (("", p), ("baseline_", b)):
        if r is None or r.error:
            out[f"{prefix}error"] = r.error if r else "not run"
            continue
        out[f"{prefix}cpu_per_delivered_stream_s"] = _num(r.cpu_per_delivered_stream_s(rates), 6)
        out[f"{prefix}server_cores"] = round(r.server_cpu_s / r.window_s, 3)
        out[f"{prefix}server_sys_share"] = round(r.server_sys_s / r.server_cpu_s, 3) if r.server_cpu_s else None
        out[f"{prefix}client_cores"] = round(r.client_cpu_s / r.window_s, 3)
        out[f"{prefix}other_cores"] = _num(r.other_cores, 3)
        for kind in KINDS:
            out[f"{prefix}{kind}_lost_share"] = _num(r.share(r.lost, kind), 5)
            out[f"{prefix}{kind}_late_share"] = _num(r.share(r.late, kind), 5)
        out[f"{prefix}max_lateness_ms"] = round(r.max_lateness_ms)
        out[f"{prefix}not_ready_streams"] = r.not_ready
    return out


async def main_async(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.size.split("x"))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-rooms-clip-") as tmp:
        clip = make_clip(Path(tmp) / "clip.webm", seconds=4.0, size=(width, height), fps=30, gop=30)
        demuxed = _demuxed(str(clip))
        rates = {
            kind: len(packets) / float(loop_ticks * time_base)
            for kind, (packets, time_base, loop_ticks) in demuxed.items()
        }
        print(
            f"bench/rooms.py: {', '.join(engines)}; {args.rooms} room(s) x 3 members; VP8 {args.size} "
            f"{rates['video']:.1f} fps + Opus {rates['audio']:.1f} frames/s; window {args.seconds:.0f} s; "
            f"late after {args.late_ms:.0f} ms; {os.cpu_count()} CPUs",
            flush=True,
        )
        results: dict[str, EngineResult] = {}
        for engine in engines:
            results[engine] = await run_engine(engine, args, clip, rates)
            r = results[engine]
            print(f"  {engine}: set-up {r.setup_s:.1f} s, {r.not_ready} stream(s) not flowing", flush=True)
    print()
    print_table(list(results.values()), rates)
    for r in results.values():
        if not r.error and r.other_cores > 0.25:
            print(f"note: other processes kept {r.other_cores:.2f} cores busy during the {r.engine} window")
    print(f"\ntotal wall time {time.monotonic() - t_start:.1f} s")
    print(json.dumps(summary(results, args, rates)))
    return 0 if all(not r.error for r in results.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 room, short window (under a minute in all)")
    parser.add_argument("--rooms", type=int, default=None, help="rooms of 3 members (default 3; --quick: 1)")
    parser.add_argument("--seconds", type=float, default=None, help="measurement window (default 10; --quick: 5)")
    parser.add_argument("--settle", type=float, default=None, help="seconds between flowing and measuring")
    parser.add_argument("--ready-timeout", type=float, default=30.0, help="most seconds to wait for every stream")
    parser.add_argument("--late-ms", type=float, default=200.0, help="lateness that counts a frame late")
    parser.add_argument("--size", default="320x240", help="video size of the clip (default 320x240)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: passthrough,relay")
    args = parser.parse_args()
    if args.rooms is None:
        args.rooms = 1 if args.quick else 3
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 10.0
    if args.settle is None:
        args.settle = 1.0 if args.quick else 2.0
    if args.quick:
        args.ready_timeout = min(args.ready_timeout, 15.0)
    if not 1 <= args.rooms <= 50:
        parser.error("--rooms must be between 1 and 50")
    if any(e.strip() not in ENGINES for e in args.engines.split(",") if e.strip()):
        parser.error("--engines: passthrough and/or relay")
    if len(args.size.split("x")) != 2:
        parser.error("--size is WIDTHxHEIGHT")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
