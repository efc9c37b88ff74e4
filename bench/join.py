"""Join latency in Chromium: from the party's join click to the first decoded remote frame.

The real server runs in its own process (``python -m server.cli serve`` on 127.0.0.1,
fresh SQLite data folder). The mediator is an aiortc participant in this process
(:class:`BenchMediator`, built on ``tests.peers.ClientPeer``): it joins first (which
starts the scheduled session), publishes a pre-encoded VP8 + Opus clip (640×360 at 15 fps, as the pages ask of
their cameras) and admits
anyone who enters the waiting room, as soon as its ``room`` event shows them. Its clip
answers a keyframe request (PLI) with the next frame taken from an all-keyframe copy of
the same clip, as a live camera encoder would; ``--no-keyframe-on-pli`` turns that
off, and then the clip's own 2 s keyframe interval decides when a picture can start.

Each join: a fresh browser context (Debian's ``/usr/bin/chromium`` through Playwright,
fake camera and microphone, 360×740 phone viewport) opens the party's own
``/join#token=…`` link (one party per join, all added over the HTTP API beforehand),
waits for the devices, ticks the recording notice, settles ``--settle`` seconds and
clicks ``#join``. Everything is timed in the page with ``performance.now()``: a
capturing click listener marks t0, hooks on ``window.__room`` (installed by an init
script the moment the page assigns it) mark the steps, and the first frame is the
first ``requestVideoFrameCallback`` of the remote tile's ``<video>`` (a frame decoded
and handed to the compositor; its ``receiveTime``, when the last packet of that frame
arrived, is the "frame rx" column). As a cross-check the page also polls
``window.__room.inbound()`` (``getStats``) every 20 ms for ``framesDecoded > 0``.
The context is closed after each join (the party leaves) and the next one starts when
the server has told the mediator so.

Baseline, measured in the same run after every join: two ``RTCPeerConnection`` objects
in one tab of the same browser (kept open for the run), the fake camera and microphone
sent from one to the other (in-page signalling and ICE, no server), from ``createOffer``
to the first ``requestVideoFrameCallback`` of the received video. It is the WebRTC floor of this
machine and browser (ICE, DTLS, first keyframe, decode, render) that no server can beat;
the join ack (socket connect plus ``join`` round trip) is reported as well.

One warm-up join (not counted) comes first. The table shows every join's steps in ms
after the click (socket connected, join acknowledged, admitted, first offer, first offer
with the mediator's tracks, answer sent, ICE connected, connection (DTLS) connected,
remote video track, first frame received, first frame shown, first ``framesDecoded``
seen by the poll, and the baseline); the last line printed is one JSON object
(``loadavg_1m``: the 1-minute load average at start and end, for a shared machine).

    .venv/bin/python bench/join.py --quick
    .venv/bin/python bench/join.py
    .venv/bin/python bench/join.py --quick --no-keyframe-on-pli
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
import av
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.process import log_tail, run_cli, spawn_server, stop_process  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.chromium import ARGS as CHROMIUM_ARGS  # noqa: E402
from tests.e2e.chromium import CHROMIUM, PHONE  # noqa: E402
from tests.media import make_clip  # noqa: E402
from tests.peers import ClientPeer, ClipTrack, _demuxed  # noqa: E402

HOST = "127.0.0.1"
API = "/api/v1"
USERNAME = "bench-join"
TARGET_P50_MS = 800.0
PARTY_ROLES = ("applicant", "respondent", "agent", "insurer")
POLL_MS = 20
STEPS = (  # (mark, column title): in the order they usually happen
    ("socket", "socket"),
    ("join_ack", "ack"),
    ("admitted", "admit"),
    ("offer", "offer"),
    ("offer_tracks", "offer+trk"),
    ("answer", "answer"),
    ("ice", "ice"),
    ("connected", "dtls"),
    ("track", "ontrack"),
    ("frame_rx", "frame rx"),
    ("frame", "frame"),
    ("stats_frame", "stats"),
)

# Runs in every page before its own scripts. Marks are performance.now() values.
HOOKS_JS = """
(() => {
  const bench = { marks: {}, polls: 0 };
  window.__bench = bench;
  const mark = (name, at) => { if (!(name in bench.marks)) bench.marks[name] = at === undefined ? performance.now() : at; };
  bench.mark = mark;
  window.addEventListener("click", (e) => {
    const t = e.target;
    if (!(t && t.closest && t.closest("#join"))) return;
    mark("click");
    bench.marks.click_event_ts = e.timeStamp;
    const poll = setInterval(() => {
      const room = window.__room;
      if (!room || "stats_frame" in bench.marks || performance.now() - bench.marks.click > 30000) { clearInterval(poll); return; }
      bench.polls += 1;
      room.inbound().then((s) => {
        for (const pid in s) if (s[pid].video && s[pid].video.framesDecoded > 0) mark("stats_frame");
      }).catch(() => {});
    }, __POLL_MS__);
  }, true);

  const watch = (video) => {
    if (video.__benchWatched) return;
    video.__benchWatched = true;
    mark("tile");
    video.requestVideoFrameCallback((now, meta) => {
      mark("frame");
      if (meta.receiveTime) mark("frame_rx", meta.receiveTime);
      bench.frame_meta = { now, presentationTime: meta.presentationTime, receiveTime: meta.receiveTime,
                           width: meta.width, height: meta.height };
    });
  };
  new MutationObserver(() => {
    for (const v of document.querySelectorAll("#tiles .tile video")) watch(v);
  }).observe(document, { childList: true, subtree: true });

  const hook = (room) => {
    const proto = Object.getPrototypeOf(room);
    room.connect = function () {
      proto.connect.call(this);
      this.socket.on("connect", () => mark("socket"));
    };
    room.call = function (event, payload) {
      if (event === "sdp") mark("answer");
      const p = proto.call.call(this, event, payload);
      if (event === "join") p.then(() => mark("join_ack"));
      if (event === "media") p.then(() => mark("media_ack"));
      return p;
    };
    room.publish = function () {
      const p = proto.publish.call(this);
      const pc = this.pc;
      if (pc) pc.addEventListener("iceconnectionstatechange", () => {
        if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") mark("ice");
      });
      return p;
    };
    room.onSdp = function (msg) {
      mark("offer");
      if (msg && msg.tracks && Object.values(msg.tracks).some((t) => t.kind === "video")) mark("offer_tracks");
      return proto.onSdp.call(this, msg);
    };
    room.onTrack = function (e) {
      if (e.track.kind === "video" && this.trackOwners[e.transceiver.mid]) mark("track");
      return proto.onTrack.call(this, e);
    };
    room.addEventListener("connection", (e) => { if (e.detail === "connected") mark("connected"); });
    room.addEventListener("room", (e) => { const me = e.detail && e.detail.me; if (me && me.presence === "admitted") mark("admitted"); });
    room.addEventListener("problem", (e) => { bench.problem = bench.problem || JSON.stringify(e.detail); });
  };
  let current;
  Object.defineProperty(window, "__room", {
    configurable: true,
    get() { return current; },
    set(v) { current = v; try { hook(v); } catch (err) { bench.hook_error = String(err); } },
  });
})();
""".replace("__POLL_MS__", str(POLL_MS))

# Two peer connections in one tab: the WebRTC floor without a server.
LOOPBACK_JS = """
async (limitMs) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true,
    video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 24 } } });
  await new Promise((r) => setTimeout(r, 300));  // the camera is already running when a party clicks, too
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const marks = {};
  const mark = (name) => { if (!(name in marks)) marks[name] = performance.now(); };
  const t0 = performance.now();
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  try {
    a.onicecandidate = (e) => { if (e.candidate) b.addIceCandidate(e.candidate).catch(() => {}); };
    b.onicecandidate = (e) => { if (e.candidate) a.addIceCandidate(e.candidate).catch(() => {}); };
    b.oniceconnectionstatechange = () => { if (b.iceConnectionState === "connected") mark("ice"); };
    b.onconnectionstatechange = () => { if (b.connectionState === "connected") mark("connected"); };
    const frame = new Promise((resolve) => {
      b.ontrack = (e) => {
        if (e.track.kind !== "video") return;
        mark("track");
        video.srcObject = new MediaStream([e.track]);
        video.requestVideoFrameCallback((now, meta) => {
          mark("frame");
          if (meta.receiveTime) marks.frame_rx = meta.receiveTime;
          resolve();
        });
      };
    });
    for (const t of stream.getTracks()) a.addTrack(t, stream);
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    mark("answer");
    await Promise.race([frame, new Promise((r) => setTimeout(r, limitMs))]);
  } finally {
    a.close(); b.close();
    for (const t of stream.getTracks()) t.stop();
  }
  const out = {};
  for (const [k, v] of Object.entries(marks)) out[k] = v - t0;
  return out;
}
"""


# ---------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest rank on the sorted values (as bench/api.py)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rnd(x: float | None) -> float | None:
    return None if x is None or x != x else round(x, 1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the mediator


class KeyframeClipTrack(ClipTrack):
    """A looping clip that answers a keyframe request like an encoder: the next frame is an
    intra frame (the same picture, from an all-keyframe encode of the same clip)."""

    def __init__(self, path: Path, kind: str, intra: Path | None) -> None:
        super().__init__(path, kind)
        self.intra: list[tuple[bytes, int, bool]] | None = None
        if intra is not None and kind == "video":
            packets, _, _ = _demuxed(str(intra))["video"]
            if [p[1] for p in packets] != [p[1] for p in self.packets]:
                raise RuntimeError("the all-keyframe clip does not line up with the clip")
            self.intra = packets
        self.want_keyframe = False
        self.requests = 0
        self.forced = 0

    def request_keyframe(self) -> None:
        self.requests += 1
        if self.intra is not None:
            self.want_keyframe = True

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        index = self.index
        pts = self.packets[index][1] + self.loops * self.loop_ticks
        self.index += 1
        if self.index == len(self.packets):
            self.index, self.loops = 0, self.loops + 1
        delay = self.start + float(pts * self.time_base) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        # choose the frame when it is due ("captured"), so a request made meanwhile is served by it
        data, _, key = self.packets[index]
        if self.want_keyframe and self.intra is not None:
            if not key:
                data, _, key = self.intra[index]
                self.forced += 1
            self.want_keyframe = False
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = self.time_base
        packet.is_keyframe = key
        return packet


@dataclass
class BenchMediator(ClientPeer):
    """The mediator: publishes the clip and admits everyone who waits, at once."""

    intra: Path | None = None
    admitted: set[str] = field(default_factory=set)
    admit_failures: list[dict[str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def _recorder(self, name: str) -> Any:
        inner = super()._recorder(name)
        if name != "room":
            return inner

        async def handler(data: Any) -> None:
            await inner(data)
            for m in data.get("members") or []:
                pid = m.get("participant_id")
                if m.get("presence") == "waiting" and pid not in self.admitted:
                    self.admitted.add(pid)
                    # not awaited here: the acknowledgement arrives through this same client
                    task = asyncio.ensure_future(self._admit(pid))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

        return handler

    async def _admit(self, pid: str) -> None:
        try:
            ack = await self.emit("admit", {"participant_id": pid})
        except Exception as exc:  # noqa: BLE001 - reported, the join then times out
            ack = {"ok": False, "message": repr(exc)}
        if not ack.get("ok"):
            self.admit_failures.append(ack)

    async def publish(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("track", self._on_track)
        assert self.clip is not None
        self.sending = [KeyframeClipTrack(self.clip, kind, self.intra) for kind in ("audio", "video")]
        ack = await self.emit("media")
        assert ack["ok"], ack

    async def _on_sdp(self, data: dict[str, Any]) -> None:
        await super()._on_sdp(data)
        assert self.pc is not None
        for transceiver in self.pc.getTransceivers():
            track = transceiver.sender.track
            if isinstance(track, KeyframeClipTrack) and track.kind == "video":
                transceiver.sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]

    def video_track(self) -> KeyframeClipTrack | None:
        return next((t for t in self.sending if isinstance(t, KeyframeClipTrack) and t.kind == "video"), None)

    def others_present(self) -> int:
        room = self.last_room()
        return sum(1 for m in room.get("members") or [] if m.get("participant_id") != self.participant_id)


# ---------------------------------------------------------------- one join


@dataclass
class JoinResult:
    """Marks in ms after the click; ``error`` when the join did not reach a frame."""

    index: int
    role: str
    marks: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)


async def one_join(
    browser: Any,
    base: str,
    token: str,
    args: argparse.Namespace,
    mediator: BenchMediator,
    result: JoinResult,
    baseline_page: Any,
) -> None:
    started = time.perf_counter()
    limit_ms = args.limit * 1000
    context = await browser.new_context(**PHONE, bypass_csp=True)  # bypass only for page.evaluate
    try:
        await context.add_init_script(HOOKS_JS)
        page = await context.new_page()
        page.set_default_timeout(limit_ms)
        await page.goto(f"{base}/join#token={token}", wait_until="load")
        await page.wait_for_function("window.__room && window.__room.stream", timeout=limit_ms)
        await page.check("#consent")
        await page.wait_for_function("!document.getElementById('join').disabled", timeout=limit_ms)
        await asyncio.sleep(args.settle)
        result.phases["ready"] = time.perf_counter() - started
        await page.click("#join")
        try:
            await page.wait_for_function("'frame' in window.__bench.marks", timeout=limit_ms, polling=50)
            # the getStats cross-check lags by up to one poll and one getStats call
            with contextlib.suppress(Exception):
                await page.wait_for_function("'stats_frame' in window.__bench.marks", timeout=2000, polling=50)
        except Exception as exc:  # noqa: BLE001 - Playwright's TimeoutError; reported per join
            result.error = f"no remote frame within {args.limit:.0f} s ({type(exc).__name__})"
        bench = await page.evaluate(
            "({marks: window.__bench.marks, problem: window.__bench.problem || null,"
            " hook: window.__bench.hook_error || null, status: document.getElementById('status').textContent})"
        )
        marks = bench["marks"]
        t0 = marks.get("click")
        if t0 is None:
            result.error = result.error or "the click was not seen in the page"
        else:
            result.marks = {k: v - t0 for k, v in marks.items() if k not in ("click", "click_event_ts")}
            result.marks["input_delay"] = t0 - marks.get("click_event_ts", t0)
        if result.error:
            result.error += f"; page status {bench['status']!r}; problem {bench['problem']}; hook {bench['hook']}"
        result.phases["joined"] = time.perf_counter() - started
    finally:
        await context.close()
    # the page is gone: wait until the server has told the mediator that the party left
    with contextlib.suppress(AssertionError):
        await mediator.wait_for(lambda p: not p.others_present(), 10, "the party to leave")
    result.phases["left"] = time.perf_counter() - started
    if baseline_page is not None:
        result.baseline = await baseline_page.evaluate(LOOPBACK_JS, limit_ms)
    result.wall_s = time.perf_counter() - started


# ---------------------------------------------------------------- the run


async def start_server(data_dir: Path, log_path: Path) -> tuple[asyncio.subprocess.Process, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env["MEDIATION_SECRET_KEY"] = secrets.token_hex(24)
    env["MEDIATION_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    password = secrets.token_urlsafe(16)
    await run_cli(["--data-dir", str(data_dir), "db", "upgrade"], env, limit_s=60)
    await run_cli(
        ["--data-dir", str(data_dir), "account", "create", "--username", USERNAME, "--kind", "mediator"]
        + ["--name", "Bench"],
        {**env, "MEDIATION_PASSWORD": password},
        limit_s=60,
    )
    proc, url = await spawn_server(data_dir, env, log_path)
    return proc, url, password


async def prepare_case(
    http: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process, password: str, parties: int
) -> tuple[str, str, list[tuple[str, str]]]:
    """Wait for the server; log in; a case with ``parties`` parties and a scheduled session."""
    deadline = time.perf_counter() + 60
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was healthy")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{base}{API}/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    break
        if time.perf_counter() > deadline:
            raise RuntimeError("server not healthy after 60 s")
        await asyncio.sleep(0.2)

    async def call(method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with http.request(method, base + API + path, json=body, headers=headers) as resp:
            data = await resp.json()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    mediator = (await call("POST", "/auth/login", body={"username": USERNAME, "password": password}))["token"]
    case = await call("POST", "/cases", mediator, {"kind": "traffic_accident", "title": "join bench"})
    links = []
    for i in range(parties):
        role = PARTY_ROLES[i % len(PARTY_ROLES)]
        added = await call(
            "POST", f"/cases/{case['id']}/participants", mediator, {"role": role, "display_name": f"party {i}"}
        )
        links.append((role, added["link"]["token"]))
    starts = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    await call("POST", f"/cases/{case['id']}/sessions", mediator, {"starts_at": starts})
    return case["id"], mediator, links


def print_table(results: list[JoinResult]) -> None:
    cols = [title for _, title in STEPS] + ["base"]
    print(f"{'join':>4} {'role':<10} " + " ".join(f"{c:>9}" for c in cols) + "  note")
    print("-" * (16 + 10 * len(cols)))

    def row(label: str, role: str, values: list[float | None], note: str = "") -> None:
        cells = " ".join(f"{v:>9.0f}" if v is not None and v == v else f"{'-':>9}" for v in values)
        print(f"{label:>4} {role:<10} {cells}  {note}")

    for r in results:
        values = [r.marks.get(key) for key, _ in STEPS] + [r.baseline.get("frame")]
        row(str(r.index) if r.index else "warm", r.role, values, r.error or "")
    counted = [r for r in results if r.index and not r.error]
    for q, name in ((0.5, "p50"), (0.95, "p95")):
        values = [percentile([r.marks[k] for r in counted if k in r.marks], q) for k, _ in STEPS]
        values.append(percentile([r.baseline["frame"] for r in counted if "frame" in r.baseline], q))
        row(name, "", values)


def summary(
    results: list[JoinResult], args: argparse.Namespace, mediator: BenchMediator | None, version: str
) -> dict[str, Any]:
    counted = [r for r in results if r.index]
    ok = [r for r in counted if not r.error]
    frames = [r.marks["frame"] for r in ok]
    base = [r.baseline["frame"] for r in ok if "frame" in r.baseline]
    acks = [r.marks["join_ack"] for r in ok if "join_ack" in r.marks]
    p50 = percentile(frames, 0.5)
    out: dict[str, Any] = {
        "bench": "join",
        "quick": bool(args.quick),
        "joins": len(ok),
        "failed": len(counted) - len(ok),
        "p50_ms": rnd(p50),
        "p95_ms": rnd(percentile(frames, 0.95)),
        "min_ms": rnd(min(frames)) if frames else None,
        "max_ms": rnd(max(frames)) if frames else None,
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": bool(frames) and p50 <= TARGET_P50_MS,
        "baseline": "two RTCPeerConnections in one tab, fake camera, createOffer to first video frame",
        "baseline_p50_ms": rnd(percentile(base, 0.5)),
        "baseline_p95_ms": rnd(percentile(base, 0.95)),
        "join_ack_p50_ms": rnd(percentile(acks, 0.5)),
        "join_ack_p95_ms": rnd(percentile(acks, 0.95)),
    }
    for key, _ in STEPS:
        if key in ("frame", "join_ack"):
            continue
        values = [r.marks[key] for r in ok if key in r.marks]
        out[f"{key}_p50_ms"] = rnd(percentile(values, 0.5))
    for key in ("connected", "track", "frame_rx"):
        values = [r.baseline[key] for r in ok if key in r.baseline]
        out[f"baseline_{key}_p50_ms"] = rnd(percentile(values, 0.5))
    out["stats_poll_ms"] = POLL_MS
    out["frame_detect"] = "requestVideoFrameCallback on the remote tile"
    out["input_delay_p50_ms"] = rnd(percentile([r.marks.get("input_delay", 0.0) for r in ok], 0.5))
    warm = next((r for r in results if not r.index), None)
    out["warmup_ms"] = rnd(warm.marks.get("frame")) if warm and not warm.error else None
    out["keyframe_on_pli"] = not args.no_keyframe_on_pli
    track = mediator.video_track() if mediator else None
    out["mediator_plis"] = track.requests if track else None
    out["mediator_forced_keyframes"] = track.forced if track else None
    out["server"] = "subprocess (python -m server.cli serve), SQLite"
    out["cpus"] = os.cpu_count()
    out["loadavg_1m"] = [round(args.load_start, 2), round(os.getloadavg()[0], 2)]
    out["chromium"] = version
    return out


async def main_async(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    total = args.joins + args.warmup
    results: list[JoinResult] = []
    mediator: BenchMediator | None = None
    proc: asyncio.subprocess.Process | None = None
    version = ""
    run_started = time.perf_counter()
    args.load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-join-") as tmp:
        data_dir = Path(tmp)
        log_path = data_dir / "server.log"
        try:
            seconds = 2.0 if args.quick else 4.0
            clip = make_clip(data_dir / "clip.webm", seconds=seconds, size=(640, 360), fps=15, gop=30)
            intra = None
            if not args.no_keyframe_on_pli:
                intra = make_clip(data_dir / "intra.webm", seconds=seconds, size=(640, 360), fps=15, gop=1)
            proc, base, password = await start_server(data_dir, log_path)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                case_id, token, links = await prepare_case(http, base, proc, password, total)
            mediator = BenchMediator(base, token, case_id=case_id, clip=clip, intra=intra)
            await mediator.connect()
            ack = await mediator.join()
            if not ack.get("ok"):
                raise RuntimeError(f"the mediator could not join: {ack}")
            await mediator.publish()
            await mediator.wait_for(
                lambda p: p.pc is not None and p.pc.connectionState == "connected", 20, "mediator media"
            )
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                version = browser.version
                try:
                    baseline_page = None
                    if args.baseline:  # one tab for every loopback run (no token: the page stays idle)
                        baseline_page = await (await browser.new_context(**PHONE)).new_page()
                        await baseline_page.goto(f"{base}/join", wait_until="load")
                    log(f"ready to join after {time.perf_counter() - run_started:.1f} s")
                    for i, (role, link) in enumerate(links):
                        index = i - args.warmup + 1 if i >= args.warmup else 0
                        result = JoinResult(index, role)
                        try:
                            await asyncio.wait_for(
                                one_join(browser, base, link, args, mediator, result, baseline_page),
                                args.limit * 3 + 15,
                            )
                        except Exception as exc:  # noqa: BLE001 - one failed join is a result, not the end
                            result.error = result.error or f"{type(exc).__name__}: {exc}"[:300]
                        results.append(result)
                        frame = result.marks.get("frame")
                        log(
                            f"join {index or 'warm-up'}: "
                            + (f"frame at {frame:.0f} ms" if frame is not None else f"FAILED {result.error}")
                            + f" (baseline {result.baseline.get('frame', float('nan')):.0f} ms; "
                            + ", ".join(f"{k} {v:.1f}" for k, v in result.phases.items())
                            + f", done {result.wall_s:.1f} s)"
                        )
                finally:
                    await browser.close()
        except Exception:
            log(f"server log tail:\n{log_tail(log_path)}")
            raise
        finally:
            if mediator is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(mediator.close(), 10)
            if proc is not None:
                await stop_process(proc)
    if mediator is not None and mediator.admit_failures:
        log(f"admit failures: {mediator.admit_failures[:3]}")
    print(
        f"bench/join.py: {args.joins} joins (+{args.warmup} warm-up), Chromium {version}, {os.cpu_count()} CPUs, "
        f"load {args.load_start:.1f} -> {os.getloadavg()[0]:.1f}; ms after the join click; base = loopback baseline"
    )
    print()
    print_table(results)
    print()
    out = summary(results, args, mediator, version)
    print(json.dumps(out))
    return 0 if out["joins"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 joins, shorter clip and settle (under a minute)")
    parser.add_argument("--joins", type=int, default=None, help="counted joins (default 20; --quick: 10)")
    parser.add_argument("--warmup", type=int, default=1, help="joins before the counted ones (default 1)")
    parser.add_argument("--settle", type=float, default=None, help="seconds between consent and click (0.5; 0.2)")
    parser.add_argument("--limit", type=float, default=15.0, help="seconds a join may take to show a frame")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the loopback baseline")
    parser.add_argument(
        "--no-keyframe-on-pli", action="store_true", help="the mediator's clip ignores keyframe requests"
    )
    args = parser.parse_args()
    if args.joins is None:
        args.joins = 10 if args.quick else 20
    if args.settle is None:
        args.settle = 0.2 if args.quick else 0.5
    if args.joins < 1 or args.warmup < 0:
        parser.error("--joins must be at least 1 and --warmup at least 0")
    if not Path(CHROMIUM).exists():
        log(f"bench/join.py: Chromium not found at {CHROMIUM} (apt-get install chromium)")
        return 2
    if not (REPO / "web" / "node_modules" / "socket.io-client").exists():
        log("bench/join.py: web/node_modules is missing (./dev test installs the socket.io client)")
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
