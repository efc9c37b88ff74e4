"""The media of a live room on aiortc: a peer connection per member, negotiated by the server.

Each member's page has one peer connection with the server: two receive-only
lines for its own microphone and camera, and one send-only line per member it
receives (``rooms.forwarding``: frames are forwarded as received, never
decoded). :class:`AiortcMediaSession` keeps those lines in step with the
room's routes and records the publications the room's consent allows, through
the frame-sink and transcriber ports of ``rooms.ports``.

The server always makes the offers (the page only answers): one side choosing
header-extension ids and codec payload types keeps every renegotiation
consistent (a browser refuses a re-offer that renumbers its extensions).

Every peer uses one video codec per room (VP8 by default, H.264 for rooms
with iPhones on old Safari), enforced with codec preferences on every
transceiver, because a forwarder cannot translate between codecs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from rooms.forwarding import Outlet, Publication, check_aiortc_internals, log_failure
from rooms.media import MediaListener
from rooms.model import Kind, Route
from rooms.ports import Caption, FrameSink, RecorderFactory, Transcriber
from server.errors import InvalidCommand

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaConfig:
    """How the forwarder behaves."""

    ice_servers: tuple[dict[str, Any], ...] = ()
    """STUN/TURN servers (``{"urls", "username", "credential"}``); none by default."""
    video_codec: str = "VP8"
    """``VP8`` or ``H264``: every peer of a room sends and receives this one."""
    stall_after: float = 5.0
    """Seconds without any media from a publisher before the room is told it is gone."""
    answer_timeout: float = 10.0
    """Seconds to wait for a page's answer to a renegotiation offer."""
    max_queue: int = 30
    """Frames buffered per outlet (1 s of video, 0.6 s of audio) before it drops and waits for a
    keyframe: in a live conversation old media is worth less than current media."""
    announce: tuple[str, ...] = ()
    """Local addresses the server may offer as ICE host candidates (empty: every interface)."""
    segment_seconds: float = 4.0
    """Length of a recording segment."""


def _codecs(kind: str, video_codec: str) -> list[Any]:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    if kind == "audio":
        return [c for c in caps if c.mimeType.lower() == "audio/opus"]
    wanted = f"video/{video_codec}".lower()
    chosen = [c for c in caps if c.mimeType.lower() == wanted]
    if not chosen:
        raise ValueError(f"unsupported video codec {video_codec!r}")
    return chosen + [c for c in caps if c.mimeType.lower() == "video/rtx"]


_LINGERING: set[asyncio.Task[Any]] = set()
"""Strong references to tasks that finish after their room closed (the last captions)."""


@dataclass
class Peer:
    """One member's peer connection and what it publishes and receives."""

    participant_id: str
    pc: RTCPeerConnection
    publications: dict[Kind, Publication] = field(default_factory=dict)
    outlets: dict[tuple[str, Kind], tuple[RTCRtpTransceiver, Outlet]] = field(default_factory=dict)
    uplink: list[RTCRtpTransceiver] = field(default_factory=list)
    remote_set: bool = False
    pending_candidates: list[dict[str, Any]] = field(default_factory=list)
    dirty: bool = False
    negotiating: asyncio.Task[None] | None = None
    answer: asyncio.Future[str] | None = None
    connected: bool = False
    stalled: bool = False


class AiortcMediaSession:
    """The media of one room: a peer connection per member, forwarding along the routes."""

    def __init__(
        self,
        case_id: str,
        listener: MediaListener,
        config: MediaConfig,
        recorders: RecorderFactory,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.case_id = case_id
        self.listener = listener
        self.config = config
        self.recorders = recorders
        """Makes the frame sink of each recorded publication."""
        self.transcriber = transcriber
        self.words: tuple[str, ...] = ()
        """The case's own words, for the live transcript (names, insurers, places, plates)."""
        self._captions = _LINGERING
        """Caption deliveries and transcript flushes: they may outlive the room by a few seconds."""
        self.peers: dict[str, Peer] = {}
        self.routes: frozenset[Route] = frozenset()
        self.recording: frozenset[str] = frozenset()
        self._watchdog = asyncio.ensure_future(self._watch())
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ helpers

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_failure)

    def _configuration(self) -> RTCConfiguration:
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in self.config.ice_servers
        ]
        # an explicit (possibly empty) list: aiortc's default STUN server is on the internet
        return RTCConfiguration(iceServers=servers)

    def _report(self, peer: Peer) -> None:
        up = peer.connected and not peer.stalled
        self._spawn(self.listener.connection_changed(peer.participant_id, up))

    # ------------------------------------------------------------------ MediaSession

    async def connect(self, participant_id: str) -> None:
        await self.disconnect(participant_id)
        pc = RTCPeerConnection(self._configuration())
        peer = Peer(participant_id, pc)
        self.peers[participant_id] = peer
        # the page's own microphone and camera arrive on two receive-only lines
        for kind in ("audio", "video"):
            t = pc.addTransceiver(kind, direction="recvonly")
            t.setCodecPreferences(_codecs(kind, self.config.video_codec))
            peer.uplink.append(t)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            kind = Kind(track.kind)
            publication = Publication(participant_id, kind, receiver)
            peer.publications[kind] = publication
            self._apply_recording(publication)
            for other in self.peers.values():
                entry = other.outlets.get((participant_id, kind))
                if entry is not None:
                    entry[1].attach(publication)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.peers.get(participant_id) is not peer:
                return
            state = pc.connectionState
            if state == "connected" and not peer.connected:
                peer.connected = True
                self._report(peer)
            elif state in ("failed", "closed") and peer.connected:
                peer.connected = False
                self._report(peer)

        peer.dirty = True
        self._sync_outlets(peer)

    async def accept_answer(self, participant_id: str, answer_sdp: str) -> None:
        peer = self.peers.get(participant_id)
        if peer is None or peer.answer is None or peer.answer.done():
            raise InvalidCommand("No offer from the server is waiting for an answer")
        peer.answer.set_result(answer_sdp)

    async def add_candidate(self, participant_id: str, candidate: dict[str, Any]) -> None:
        _parse_candidate(candidate)  # refuse garbage at once, even if it would be buffered
        peer = self.peers.get(participant_id)
        if peer is None or not peer.remote_set:
            if peer is not None and len(peer.pending_candidates) < 64:
                peer.pending_candidates.append(candidate)
            return
        await self._add_candidate(peer, candidate)

    async def _add_candidate(self, peer: Peer, candidate: dict[str, Any]) -> None:
        parsed = _parse_candidate(candidate)
        if parsed is None:
            return  # end of candidates
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        try:
            await peer.pc.addIceCandidate(parsed)
        except (ValueError, AssertionError) as exc:
            raise InvalidCommand("The ICE candidate does not match the session") from exc

    def set_vocabulary(self, words: tuple[str, ...]) -> None:
        self.words = words

    def set_recording(self, publishers: frozenset[str]) -> None:
        self.recording = publishers
        for peer in self.peers.values():
            for publication in peer.publications.values():
                self._apply_recording(publication)

    def _apply_recording(self, publication: Publication) -> None:
        """Start or stop recording one publication as the room's consent allows."""
        wanted = publication.publisher in self.recording
        if wanted and not publication.recording:
            publication.recording = True
            publication.make_recorder = lambda codec: self._recorder(publication, codec)
            if self.transcriber is not None and publication.kind is Kind.AUDIO and self.transcriber.available:
                publisher = publication.publisher
                publication.transcript = self.transcriber.open(lambda c: self._caption(publisher, c), words=self.words)
        elif not wanted and publication.recording:
            publication.recording = False
            publication.make_recorder = None
            self._stop_recorder(publication)

    def _recorder(self, publication: Publication, codec: Any) -> FrameSink | None:
        recorder = self.recorders(
            f"{publication.publisher}:{publication.kind.value}",
            codec.name,
            codec.clockRate,
            self.listener.segment,
            publication.request_keyframe,
            self.config.segment_seconds,
        )
        if recorder is None:
            logger.warning("[case=%s] %s is forwarded but not recorded", self.case_id, codec.name)
        return recorder

    def _caption(self, publisher: str, caption: Caption) -> None:
        """A caption for a publisher's speech: to the room (kept until delivered, even at close)."""
        task = asyncio.ensure_future(self.listener.caption(publisher, caption))
        self._captions.add(task)
        task.add_done_callback(self._captions.discard)
        task.add_done_callback(log_failure)

    def _stop_recorder(self, publication: Publication) -> None:
        recorder, publication.recorder = publication.recorder, None
        transcript, publication.transcript = publication.transcript, None
        if recorder is not None:  # the room's end waits for this (the manifest lists every segment)
            task = asyncio.ensure_future(recorder.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            task.add_done_callback(log_failure)
        if transcript is not None:  # this it does not: the last words are stored when recognised
            flush = asyncio.ensure_future(transcript.close())
            self._captions.add(flush)
            flush.add_done_callback(self._captions.discard)
            flush.add_done_callback(log_failure)

    def set_routes(self, routes: frozenset[Route]) -> None:
        self.routes = routes
        for peer in self.peers.values():
            self._sync_outlets(peer)

    def _sync_outlets(self, peer: Peer) -> None:
        """Make the subscriber's outlets match the routes; renegotiate if new ones are needed."""
        if peer.pc.connectionState == "closed":
            return
        wanted = {(r.publisher, r.kind) for r in self.routes if r.subscriber == peer.participant_id}
        for key in wanted - set(peer.outlets):
            publisher, kind = key
            outlet = Outlet(peer.participant_id, publisher, kind, self.config.max_queue)
            transceiver = peer.pc.addTransceiver(outlet, direction="sendonly")
            transceiver.setCodecPreferences(_codecs(kind.value, self.config.video_codec))
            outlet.bind(transceiver.sender)
            peer.outlets[key] = (transceiver, outlet)
            source = self.peers.get(publisher)
            outlet.attach(source.publications.get(kind) if source else None)
            peer.dirty = True
        for key, (_, outlet) in peer.outlets.items():
            outlet.set_active(key in wanted)
        if peer.dirty and (peer.negotiating is None or peer.negotiating.done()):
            peer.negotiating = asyncio.ensure_future(self._negotiate(peer))
            peer.negotiating.add_done_callback(log_failure)

    async def _negotiate(self, peer: Peer) -> None:
        """Offer the page its new tracks, one round at a time."""
        pc = peer.pc
        waits = 0
        while peer.dirty and self.peers.get(peer.participant_id) is peer:
            peer.dirty = False
            if pc.signalingState != "stable":
                waits += 1
                if waits > 200:
                    raise RuntimeError("signaling never became stable")
                await asyncio.sleep(0.05)
                peer.dirty = True
                continue
            if self.config.announce:
                for t in pc.getTransceivers():
                    _restrict_host_candidates(t, frozenset(self.config.announce))
            offer = await pc.createOffer()
            await pc.setLocalDescription(offer)
            tracks = {
                t.mid: {"participant_id": o.publisher, "kind": o.kind}
                for t, o in peer.outlets.values()
                if t.mid is not None
            }
            uplink = {t.mid: t.kind for t in peer.uplink if t.mid is not None}
            loop = asyncio.get_running_loop()
            peer.answer = loop.create_future()
            await self.listener.offer(peer.participant_id, str(pc.localDescription.sdp), tracks, uplink)
            try:
                answer = await asyncio.wait_for(peer.answer, self.config.answer_timeout)
            except TimeoutError:
                # aiortc cannot roll back an offer: drop the connection, the page reconnects
                logger.warning("[case=%s] no answer from %s to an offer", self.case_id, peer.participant_id)
                self._spawn(self.disconnect(peer.participant_id))
                return
            finally:
                peer.answer = None
            try:
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            except Exception:  # noqa: BLE001 - aiortc raises ValueError and its own error types
                logger.warning("[case=%s] unusable answer from %s", self.case_id, peer.participant_id)
                self._spawn(self.disconnect(peer.participant_id))
                return
            if not peer.remote_set:
                peer.remote_set = True
                for candidate in peer.pending_candidates:
                    with contextlib.suppress(InvalidCommand):
                        await self._add_candidate(peer, candidate)
                peer.pending_candidates.clear()

    async def disconnect(self, participant_id: str) -> None:
        peer = self.peers.pop(participant_id, None)
        if peer is None:
            return
        if peer.negotiating is not None:
            peer.negotiating.cancel()
        for publication in peer.publications.values():
            self._stop_recorder(publication)
            for outlet in list(publication.outlets):
                outlet.attach(None)
                outlet.source = None
        for _, outlet in peer.outlets.values():
            outlet.stop()
        if peer.connected:
            peer.connected = False
            self._report(peer)
        with contextlib.suppress(Exception):
            await peer.pc.close()

    async def close(self) -> None:
        self._watchdog.cancel()
        for pid in list(self.peers):
            await self.disconnect(pid)
        if self._closing:  # the last segments are stored before the room goes
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ dead peers

    async def _watch(self) -> None:
        """Every second: a publisher whose media stopped for ``stall_after`` seconds is gone."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for peer in list(self.peers.values()):
                if not peer.connected or not peer.publications:
                    continue
                newest = max(p.last_frame for p in peer.publications.values())
                stalled = now - newest > self.config.stall_after
                if stalled != peer.stalled:
                    peer.stalled = stalled
                    logger.info(
                        "[case=%s] media from %s %s",
                        self.case_id,
                        peer.participant_id,
                        "stopped" if stalled else "resumed",
                    )
                    self._report(peer)

    # ------------------------------------------------------------------ figures

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks."""
        return {
            pid: {
                "published": {
                    k.value: {"frames": p.frames, "keyframes": p.keyframes, "plis": p.plis_sent}
                    for k, p in peer.publications.items()
                },
                "outlets": {
                    f"{pub}:{kind.value}": {
                        "active": o.active,
                        "forwarded": o.forwarded,
                        "dropped": o.dropped,
                        "keyframe_requests": o.keyframe_requests,
                    }
                    for (pub, kind), (_, o) in peer.outlets.items()
                },
            }
            for pid, peer in self.peers.items()
        }


def _restrict_host_candidates(transceiver: RTCRtpTransceiver, allowed: frozenset[str]) -> None:
    """Gather, offer and check only from the configured local addresses (relay candidates stay).

    aiortc has no setting for this: after aioice gathers, drop the other host
    candidates and their sockets, so they are neither announced in the offer nor
    used for connectivity checks (aioice pairs from its sockets, ``ice.py``
    ``_pair_remote_candidate``).
    """
    connection = transceiver.sender.transport.transport.iceGatherer._connection
    if connection._local_candidates_start or getattr(connection, "_mediation_restricted", False):
        return
    setattr(connection, "_mediation_restricted", True)  # noqa: B010 - a mark on a foreign object
    gather = connection.gather_candidates

    async def gather_allowed() -> None:
        await gather()
        keep = [c for c in connection._local_candidates if c.type == "relay" or c.host in allowed]
        for protocol in list(connection._protocols):
            if protocol.local_candidate not in keep:
                connection._protocols.remove(protocol)
                if protocol.transport is not None:
                    protocol.transport.close()
        connection._local_candidates = keep

    connection.gather_candidates = gather_allowed  # type: ignore[method-assign]


def _parse_candidate(candidate: dict[str, Any]) -> Any:
    """An aiortc candidate from the browser's fields; None for end-of-candidates."""
    text = candidate.get("candidate") or ""
    if not text:
        return None
    try:
        return candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
    except (ValueError, IndexError, AssertionError) as exc:
        raise InvalidCommand("Malformed ICE candidate") from exc


def aiortc_factory(
    config: MediaConfig, recorders: RecorderFactory, transcriber: Transcriber | None = None
) -> Callable[[str, MediaListener], AiortcMediaSession]:
    """A media factory for :class:`rooms.service.RoomService` (checks aiortc's internals first);
    ``recorders`` makes the frame sink of each recorded publication."""
    check_aiortc_internals()

    def make(case_id: str, listener: MediaListener) -> AiortcMediaSession:
        return AiortcMediaSession(case_id, listener, config, recorders, transcriber)

    return make
