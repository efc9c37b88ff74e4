"""A real participant in a test: a socket.io client plus an aiortc peer connection.

It publishes a pre-encoded clip (:class:`ClipTrack`: no encoder) and
counts, per remote publisher and kind, the encoded frames the server forwards
to it, noting whether the first video frame was a keyframe. It answers the
server's renegotiation offers like a page does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import socketio  # type: ignore[import-untyped]
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from rooms.forwarding import _Tap, is_keyframe


@functools.cache
def _demuxed(path: str) -> dict[str, tuple[list[tuple[bytes, int, bool]], fractions.Fraction, int]]:
    """Every packet of a clip, per kind: (data, pts, keyframe), the time base, and the loop length."""
    out: dict[str, tuple[list[tuple[bytes, int, bool]], fractions.Fraction, int]] = {}
    with av.open(path) as container:
        for stream in container.streams:
            if stream.type not in ("audio", "video"):
                continue
            packets = [
                (bytes(pk), int(pk.pts), bool(pk.is_keyframe))
                for pk in container.demux(stream)
                if pk.size and pk.pts is not None
            ]
            container.seek(0)
            first = packets[0][1]
            packets = [(d, pts - first, k) for d, pts, k in packets]
            step = packets[1][1] - packets[0][1] if len(packets) > 1 else 1
            assert stream.time_base is not None
            out[stream.type] = (packets, stream.time_base, packets[-1][1] + step)
    return out


class ClipTrack(MediaStreamTrack):
    """Sends a clip's encoded packets in real time, looping with ever-increasing timestamps.

    (aiortc's ``MediaPlayer(decode=False, loop=True)`` restarts timestamps at zero on
    every loop and stops pacing, which a receiver's jitter buffer rightly discards.)
    """

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.packets, self.time_base, self.loop_ticks = _demuxed(str(path))[kind]
        self.index = 0
        self.loops = 0
        self.start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        data, pts, key = self.packets[self.index]
        pts += self.loops * self.loop_ticks
        self.index += 1
        if self.index == len(self.packets):
            self.index, self.loops = 0, self.loops + 1
        delay = self.start + float(pts * self.time_base) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = self.time_base
        packet.is_keyframe = key
        return packet


@dataclass
class Inbound:
    """What arrived from one remote publisher and kind."""

    frames: int = 0
    first_is_keyframe: bool | None = None
    keyframes: int = 0


@dataclass
class ClientPeer:
    """One member's page, in Python."""

    base_url: str
    token: str
    case_id: str | None = None
    clip: Path | None = None
    sio: Any = None
    pc: RTCPeerConnection | None = None
    sending: list[ClipTrack] = field(default_factory=list)
    _sdp_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)
    captions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    inbound: dict[tuple[str, str], Inbound] = field(default_factory=lambda: defaultdict(Inbound))
    receivers: dict[str, Any] = field(default_factory=dict)
    track_owner: dict[str, dict[str, str]] = field(default_factory=dict)
    participant_id: str | None = None
    moved_from: str | None = None
    _sdp_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        for name in ("room", "error", "chat", "removed", "ended", "replaced", "caption"):
            self.sio.on(name, self._recorder(name))
        self.sio.on("sdp", self._on_sdp)
        auth = {"token": self.token}
        if self.case_id:
            auth["case_id"] = self.case_id
        await self.sio.connect(self.base_url, auth=auth, transports=["websocket"], wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        async def handler(data: Any) -> None:
            self.events.append((name, data))
            if name == "room":
                self.rooms.append(data)
            elif name == "error":
                self.errors.append(data)
            elif name == "chat":
                self.chats.append(data)
            elif name == "caption":
                self.captions.append(data)
            self._changed.set()

        return handler

    async def emit(self, event: str, data: Any = None) -> dict[str, Any]:
        result = await self.sio.call(event, data if data is not None else {}, timeout=20)
        assert isinstance(result, dict)
        return result

    async def join(self, consent: bool = True) -> dict[str, Any]:
        ack = await self.emit("join", {"consent": consent})
        if not ack.get("ok") and ack.get("code") == "other_node":
            # the room is hosted by another node: move there, as the page does
            self.moved_from = self.base_url
            await self.sio.disconnect()
            self.base_url = ack["url"]
            await self.connect()
            ack = await self.emit("join", {"consent": consent})
        if ack.get("ok"):
            self.participant_id = ack["participant_id"]
        return ack

    async def publish(self) -> None:
        """Ask the server for a media connection; its offer arrives as an ``sdp`` event."""
        if self.pc is not None:
            await self.pc.close()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("track", self._on_track)
        self.sending = [ClipTrack(self.clip, kind) for kind in ("audio", "video")] if self.clip else []
        ack = await self.emit("media")
        assert ack["ok"], ack

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Count encoded frames as they leave the jitter buffer (the client needs no decoder either)."""
        assert self.pc is not None
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = transceiver.mid or ""
        kind = track.kind

        def count(codec: Any, frame: Any) -> None:
            owner = self.track_owner.get(mid, {}).get("participant_id", "?")
            entry = self.inbound[(owner, kind)]
            key = kind == "audio" or is_keyframe(codec.name, frame.data)
            if entry.first_is_keyframe is None:
                entry.first_is_keyframe = key
            entry.frames += 1
            entry.keyframes += key
            self.receivers[mid] = transceiver.receiver
            self._changed.set()

        transceiver.receiver._RTCRtpReceiver__decoder_queue = _Tap(count)  # type: ignore[attr-defined]

    async def _on_sdp(self, data: dict[str, Any]) -> None:
        async with self._sdp_lock:
            pc = self.pc
            assert pc is not None and data["type"] == "offer"
            self.track_owner.update(data.get("tracks", {}))
            await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            uplink = data.get("uplink", {})
            for transceiver in pc.getTransceivers():
                kind = uplink.get(transceiver.mid)
                track = next((t for t in self.sending if t.kind == kind), None)
                if track is not None and transceiver.sender.track is None:
                    transceiver.sender.replaceTrack(track)
                    transceiver.direction = "sendonly"
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            ack = await self.emit("sdp", {"type": "answer", "sdp": pc.localDescription.sdp})
            assert ack["ok"], ack

    async def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "") -> None:
        """Wait (bounded) until ``predicate(self)`` is true."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    def frames_from(self, participant_id: str, kind: str = "video") -> int:
        return self.inbound[(participant_id, kind)].frames

    def last_room(self) -> dict[str, Any]:
        return self.rooms[-1] if self.rooms else {}

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()
