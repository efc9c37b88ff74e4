"""The comparison point for ``bench/rooms.py``: aiortc's default relay behind the room's media port.

:class:`RelayMediaSession` implements :class:`rooms.media.MediaSession` the way an
aiortc application does by default: every member's tracks are received normally
(the receiver's decoder thread decodes every frame), and each route gets a
``sendonly`` transceiver on the subscriber's peer connection carrying
``MediaRelay().subscribe(publisher_track)``, so every sender re-encodes the
decoded frames on its own (one VP8 or Opus encoder per route). Signaling
follows the passthrough forwarder (``rooms/sfu.py``): the server always offers
(two receive-only lines for the page's own audio and video, then one line per
route), through ``listener.offer(pid, sdp, tracks, uplink)``, and the page's
answer comes back through :meth:`RelayMediaSession.accept_answer`.

It is a benchmark baseline, not a product path: no stall watchdog, no PLI
relay (each sender's encoder makes its own keyframes), and an inactive route
keeps decoding and only drops the decoded frames.

Run as a script it serves the whole application on 127.0.0.1 with either engine
(``bench/rooms.py`` starts it in its own process so that its CPU can be read)::

    BENCH_PASSWORD=... .venv/bin/python bench/relay_baseline.py --engine relay --port 8099 --data-dir /tmp/x
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rooms.media import MediaListener  # noqa: E402
from rooms.model import Kind, Route  # noqa: E402
from server.errors import InvalidCommand  # noqa: E402

logger = logging.getLogger("bench.relay_baseline")

ANSWER_TIMEOUT = 10.0


def _codecs(kind: str, video_codec: str) -> list[Any]:
    """Opus for audio; the room's one video codec (plus RTX) for video, as the forwarder does."""
    caps = RTCRtpSender.getCapabilities(kind).codecs
    if kind == "audio":
        return [c for c in caps if c.mimeType.lower() == "audio/opus"]
    wanted = f"video/{video_codec}".lower()
    return [c for c in caps if c.mimeType.lower() in (wanted, "video/rtx")]


class _Forward(MediaStreamTrack):
    """What one subscriber's sender sends for one publisher and kind: decoded frames from a relay proxy."""

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.kind = kind.value
        self.source: MediaStreamTrack | None = None
        self.active = False
        self._changed = asyncio.Event()

    def attach(self, source: MediaStreamTrack | None) -> None:
        self.source = source
        self._changed.set()

    def set_active(self, active: bool) -> None:
        self.active = active
        self._changed.set()

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self.source
            if source is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                frame = await source.recv()
            except MediaStreamError:  # the publisher's track ended: wait for the next one
                if self.source is source:
                    self.source = None
                continue
            if self.active and self.source is source:
                return frame

    def stop(self) -> None:
        if self.source is not None:
            self.source.stop()
        self._changed.set()
        super().stop()


@dataclass
class _Member:
    participant_id: str
    pc: RTCPeerConnection
    tracks: dict[Kind, MediaStreamTrack] = field(default_factory=dict)
    forwards: dict[tuple[str, Kind], tuple[RTCRtpTransceiver, _Forward]] = field(default_factory=dict)
    uplink: list[RTCRtpTransceiver] = field(default_factory=list)
    remote_set: bool = False
    dirty: bool = False
    negotiating: asyncio.Task[None] | None = None
    answer: asyncio.Future[str] | None = None
    connected: bool = False


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("relay task failed: %r", task.exception())


class RelayMediaSession:
    """One room's media with aiortc's default decode / MediaRelay / re-encode path."""

    def __init__(self, case_id: str, listener: MediaListener, video_codec: str = "VP8") -> None:
        self.case_id = case_id
        self.listener = listener
        self.video_codec = video_codec
        self.members: dict[str, _Member] = {}
        self.routes: frozenset[Route] = frozenset()
        self.relay = MediaRelay()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def connect(self, participant_id: str) -> None:
        await self.disconnect(participant_id)
        # an explicit empty list: aiortc's default STUN server is on the internet
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        member = _Member(participant_id, pc)
        self.members[participant_id] = member
        # the page's own microphone and camera arrive on two receive-only lines (the server offers)
        for kind in ("audio", "video"):
            t = pc.addTransceiver(kind, direction="recvonly")
            t.setCodecPreferences(_codecs(kind, self.video_codec))
            member.uplink.append(t)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            kind = Kind(track.kind)
            member.tracks[kind] = track
            for other in self.members.values():
                entry = other.forwards.get((participant_id, kind))
                if entry is not None:
                    entry[1].attach(self.relay.subscribe(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.members.get(participant_id) is not member:
                return
            state = pc.connectionState
            if state == "connected" and not member.connected:
                member.connected = True
                self._spawn(self.listener.connection_changed(participant_id, True))
            elif state in ("failed", "closed") and member.connected:
                member.connected = False
                self._spawn(self.listener.connection_changed(participant_id, False))

        member.dirty = True
        self._sync(member)

    async def accept_answer(self, participant_id: str, answer_sdp: str) -> None:
        member = self.members.get(participant_id)
        if member is None or member.answer is None or member.answer.done():
            raise InvalidCommand("No offer from the server is waiting for an answer")
        member.answer.set_result(answer_sdp)

    async def add_candidate(self, participant_id: str, candidate: dict[str, Any]) -> None:
        member = self.members.get(participant_id)
        text = candidate.get("candidate") or ""
        if member is None or not member.remote_set or not text:
            return  # the bench's peers put every candidate in their offer
        try:
            parsed = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        except (ValueError, IndexError, AssertionError) as exc:
            raise InvalidCommand("Malformed ICE candidate") from exc
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex", 0)
        await member.pc.addIceCandidate(parsed)

    def set_recording(self, publishers: frozenset[str]) -> None:
        """The baseline measures forwarding only: it records nothing."""

    def set_vocabulary(self, words: tuple[str, ...]) -> None:
        """Nor does it transcribe."""

    def set_routes(self, routes: frozenset[Route]) -> None:
        self.routes = routes
        for member in self.members.values():
            self._sync(member)

    def _sync(self, member: _Member) -> None:
        """One sendonly transceiver per route to this subscriber; renegotiate when one is added."""
        if member.pc.connectionState == "closed":
            return
        wanted = {(r.publisher, r.kind) for r in self.routes if r.subscriber == member.participant_id}
        for key in wanted - set(member.forwards):
            publisher, kind = key
            forward = _Forward(kind)
            transceiver = member.pc.addTransceiver(forward, direction="sendonly")
            transceiver.setCodecPreferences(_codecs(kind.value, self.video_codec))
            member.forwards[key] = (transceiver, forward)
            source = self.members.get(publisher)
            track = source.tracks.get(kind) if source is not None else None
            if track is not None:
                forward.attach(self.relay.subscribe(track))
            member.dirty = True
        for key, (_, forward) in member.forwards.items():
            forward.set_active(key in wanted)
        if member.dirty and (member.negotiating is None or member.negotiating.done()):
            member.negotiating = asyncio.ensure_future(self._negotiate(member))
            member.negotiating.add_done_callback(_log_failure)

    async def _negotiate(self, member: _Member) -> None:
        pc = member.pc
        waits = 0
        while member.dirty and self.members.get(member.participant_id) is member:
            member.dirty = False
            if pc.signalingState != "stable":
                waits += 1
                if waits > 200:
                    raise RuntimeError("signaling never became stable")
                await asyncio.sleep(0.05)
                member.dirty = True
                continue
            await pc.setLocalDescription(await pc.createOffer())
            tracks = {
                t.mid: {"participant_id": pub, "kind": kind.value}
                for (pub, kind), (t, _) in member.forwards.items()
                if t.mid is not None
            }
            uplink = {t.mid: t.kind for t in member.uplink if t.mid is not None}
            member.answer = asyncio.get_running_loop().create_future()
            await self.listener.offer(member.participant_id, str(pc.localDescription.sdp), tracks, uplink)
            try:
                answer = await asyncio.wait_for(member.answer, ANSWER_TIMEOUT)
            except TimeoutError:
                logger.warning("[case=%s] no answer from %s", self.case_id, member.participant_id)
                self._spawn(self.disconnect(member.participant_id))
                return
            finally:
                member.answer = None
            try:
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            except Exception:  # noqa: BLE001 - aiortc raises ValueError and its own error types
                logger.warning("[case=%s] unusable answer from %s", self.case_id, member.participant_id)
                self._spawn(self.disconnect(member.participant_id))
                return
            member.remote_set = True

    async def disconnect(self, participant_id: str) -> None:
        member = self.members.pop(participant_id, None)
        if member is None:
            return
        if member.negotiating is not None:
            member.negotiating.cancel()
        for _, forward in member.forwards.values():
            forward.stop()
        if member.connected:
            member.connected = False
            self._spawn(self.listener.connection_changed(participant_id, False))
        with contextlib.suppress(Exception):
            await member.pc.close()  # ends its tracks: the relay proxies of its subscribers end too

    async def close(self) -> None:
        for pid in list(self.members):
            await self.disconnect(pid)
        for task in list(self._tasks):
            task.cancel()


def relay_factory(video_codec: str = "VP8") -> Callable[[str, MediaListener], RelayMediaSession]:
    """A media factory for :class:`rooms.service.RoomService` using the relay baseline."""

    def make(case_id: str, listener: MediaListener) -> RelayMediaSession:
        return RelayMediaSession(case_id, listener, video_codec)

    return make


# ---------------------------------------------------------------- launcher


async def _prepare(settings: Any, username: str, password: str) -> None:
    """Migrate the fresh database and create the bench's mediator account."""
    from server.app import build_components
    from server.domain.roles import AccountKind
    from server.identity.access import new_id
    from server.identity.passwords import hash_password
    from server.store import db
    from server.store.accounts import Account

    await db.upgrade(settings.resolved_database_url)
    parts = build_components(settings)
    try:
        await parts.accounts.create_account(
            Account(
                id=new_id(),
                username=username,
                display_name="Bench mediator",
                kind=AccountKind.MEDIATOR,
                organization="bench",
                password_hash=hash_password(password, log2_n=10),
                created_at=datetime.now(UTC),
            )
        )
    finally:
        await parts.repo.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the app for bench/rooms.py (password in BENCH_PASSWORD)")
    parser.add_argument("--engine", choices=("passthrough", "relay"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--username", default="bench")
    args = parser.parse_args(argv)
    password = os.environ.get("BENCH_PASSWORD", "")
    if len(password) < 12:
        parser.error("set BENCH_PASSWORD (12 characters or more)")

    from aiohttp import web

    from server.app import ROOMS, build_app
    from server.config import Settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(
        data_dir=args.data_dir,
        secret_key=os.urandom(24).hex(),  # 48 characters
        auto_migrate=True,
        host="127.0.0.1",
        port=args.port,
        log_level="WARNING",
    )
    asyncio.run(_prepare(settings, args.username, password))
    app = build_app(settings)
    if args.engine == "relay":
        app[ROOMS].media_factory = relay_factory(settings.video_codec)
    print(f"serving {args.engine} on 127.0.0.1:{args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
