"""Live rooms: the room state, the media router and the case record, kept in step.

One :class:`LiveRoom` per case with a session open or about to open. Every
change goes through :meth:`RoomService._commit`: the pure room machine decides,
control events are appended to the case's audit trail, the media router is
given the new set of routes (so caucus, mute and waiting room are enforced by
what the server forwards), and the members are told.

The socket.io edge (``signaling/``) calls in; it implements :class:`RoomNotifier`
to reach the pages.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from rooms import model as rm
from rooms.directory import LocalDirectory, RoomDirectory
from rooms.media import MediaListener, MediaSession
from rooms.model import Presence, Room
from rooms.ports import Caption, RecordingStore, Segment
from server.cases.usecases import CaseLog, CaseService
from server.domain import lifecycle as lc
from server.domain.lifecycle import CaseState, SessionStatus
from server.domain.roles import Action, Role
from server.errors import Forbidden, InvalidCommand
from server.identity.access import Principal
from server.identity.revocation import Revoked
from server.store.record import TranscriptLine
from server.store.repository import AuditRecord

logger = logging.getLogger(__name__)

LINGER_SECONDS = 120.0
"""How long a closed room's last captions are still stored (recognition of the last utterances)."""


class RoomNotifier(Protocol):
    """How the room reaches the pages (implemented by the signaling edge)."""

    async def room_changed(self, live: LiveRoom) -> None:
        """Send every member the room as they may see it."""
        ...

    async def send(self, case_id: str, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Send one event to one member's page."""
        ...

    async def disconnect(self, case_id: str, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Tell one member's page why, then close its connection."""
        ...


@dataclass
class LiveRoom:
    """A room with its media and the lock that orders changes to it."""

    room: Room
    """The current room value."""
    media: MediaSession
    """Forwards media along the room's routes."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while the room changes."""
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    """What pages pass to RTCPeerConnection."""
    recording_enabled: bool = False
    """Whether this server records (a recording store is configured)."""
    words: tuple[str, ...] | None = None
    """The case's own words for the live transcript (None: not read yet)."""


@dataclass(frozen=True)
class Joined:
    """What a page learns when it joins."""

    participant_id: str
    """Its participant."""
    role: Role
    """Its role."""
    presence: Presence
    """Waiting or admitted."""


MediaFactory = Callable[[str, MediaListener], MediaSession]


class RoomService:
    """Runs every live room of this node."""

    def __init__(
        self,
        cases: CaseService,
        media_factory: MediaFactory,
        clock: Callable[[], datetime],
        ice_servers: list[dict[str, Any]] | None = None,
        directory: RoomDirectory | None = None,
        recordings: RecordingStore | None = None,
    ) -> None:
        self.recordings = recordings
        """Where recorded segments and manifests go (None: this server records nothing)."""
        self.cases = cases
        self.directory: RoomDirectory = directory or LocalDirectory()
        self.media_factory = media_factory
        self.clock = clock
        self.ice_servers = ice_servers or []
        self.rooms: dict[str, LiveRoom] = {}
        self._ending: dict[str, LiveRoom] = {}
        """Rooms being closed: their last segments and captions still arrive."""
        self._ended: dict[str, LiveRoom] = {}
        """Rooms closed in the last minutes: the last utterances are still being recognised."""
        self.notifier: RoomNotifier | None = None
        self.vocabulary: Callable[[str], Awaitable[Sequence[str]]] | None = None
        """The case's own words beyond its participants' names (insurers, places, plates), for the live
        transcript; set by the composition root."""

    # ------------------------------------------------------------------ internals

    def _live(self, case_id: str) -> LiveRoom:
        live = self.rooms.get(case_id)
        if live is None:
            listener = _Listener(self, case_id)
            live = LiveRoom(
                Room(case_id, ""),
                self.media_factory(case_id, listener),
                ice_servers=self.ice_servers,
                recording_enabled=self.recordings is not None,
            )
            self.rooms[case_id] = live
        return live

    async def _commit(self, live: LiveRoom, transition: rm.Transition, actor: str) -> None:
        # stored before it takes effect: the audit trail is the room's durable state (rm.restore)
        audited = [e for e in transition.events if type(e) in rm.AUDITED]
        if audited:
            session_id = transition.room.session_id
            records = [AuditRecord(actor, e.action, {**e.details(), "session_id": session_id}) for e in audited]
            await self.cases.repo.record(transition.room.case_id, records, self.clock())
        live.room = transition.room
        live.media.set_routes(rm.routes(live.room))
        live.media.set_recording(rm.recorded(live.room) if self.recordings is not None else frozenset())
        if self.notifier is not None and transition.events:
            await self.notifier.room_changed(live)

    async def _start_session_if_needed(self, principal: Principal, case_id: str, role: Role) -> tuple[str, bool]:
        """The running session's id (and whether it was already running), starting the next
        scheduled one when the mediator arrives."""
        loaded = await self.cases.repo.load_case(case_id)
        case = loaded.case
        running = [s for s in case.sessions if s.status is SessionStatus.IN_PROGRESS]
        if running:
            return running[0].id, True
        scheduled = sorted(
            (s for s in case.sessions if s.status is SessionStatus.SCHEDULED), key=lambda s: s.scheduled_start
        )
        if case.state is CaseState.SESSION_SCHEDULED and scheduled:
            if role is Role.MEDIATOR:
                await self.cases.execute(
                    principal, case_id, lc.StartSession(scheduled[0].id), Action.RUN_SESSION, self.clock()
                )
                return scheduled[0].id, False
            return "", False  # parties wait for the mediator to open it
        raise InvalidCommand("No session is open or scheduled for this case")

    # ------------------------------------------------------------------ what pages do

    async def join(self, principal: Principal, case_id: str, consent: bool = False) -> Joined:
        """Enter the room (the waiting room for parties); ``consent``: the recording notice was accepted."""
        access = await self.cases.require(principal, case_id, Action.READ_CASE)
        participant = await self.cases.repo.participant(access.participant_id)
        if case_id not in self.rooms:
            await self.directory.claim(case_id)  # raises OtherNode when another node hosts it
        live = self._live(case_id)
        async with live.lock:
            # read at every join: a participant added since (an agent, an insurer) is named too
            live.words = await self._case_words(case_id)
            live.media.set_vocabulary(live.words)
            session_id, resumed = await self._start_session_if_needed(principal, case_id, access.role)
            if session_id and not live.room.session_id:
                live.room = replace(live.room, session_id=session_id)
                if resumed:
                    # who was admitted, mute, lock and caucus come back: nobody waits to be admitted again
                    live.room = await self._restored(case_id, session_id)
                    # the session was running with no room here: the server stopped mid-session
                    await self.cases.repo.record(
                        case_id,
                        [AuditRecord("system", "session.interrupted", {"session_id": session_id})],
                        self.clock(),
                        attempts=20,
                    )
                    CaseLog(logger, {"case": case_id}).warning("session resumed after an interruption")
            transition = rm.apply(
                live.room, rm.Join(participant.id, access.role, participant.display_name, consent), self.clock()
            )
            await self._commit(live, transition, principal.actor)
            member = live.room.members[participant.id]
        CaseLog(logger, {"case": case_id}).info("participant %s joined (%s)", participant.id, member.presence.value)
        return Joined(participant.id, access.role, member.presence)

    async def _case_words(self, case_id: str) -> tuple[str, ...]:
        """Who takes part (names) and what the case is about (insurers, places, plates): the words the live
        transcript leans towards. Never logged: they are personal data."""
        words = [p.display_name for p in await self.cases.repo.participants(case_id)]
        if self.vocabulary is not None:
            words += await self.vocabulary(case_id)
        return tuple(dict.fromkeys(w for w in words if w))

    async def _restored(self, case_id: str, session_id: str) -> Room:
        """The room of a session that was running when this server stopped, from the audit trail."""
        trail, _ = await self.cases.repo.audit_trail(case_id)
        people = {p.id: (p.role, p.display_name) for p in await self.cases.repo.participants(case_id)}
        history = [(e.action, e.details_dict()) for e in trail if e.action.startswith("room.")]
        room = rm.restore(case_id, session_id, people, history)
        CaseLog(logger, {"case": case_id}).info("room restored with %d members", len(room.members))
        return room

    async def leave(self, case_id: str, participant_id: str, actor: str) -> None:
        """A member's page left or its connection died."""
        live = self.rooms.get(case_id)
        if live is None:
            return
        async with live.lock:
            if participant_id not in live.room.members:
                return
            await live.media.disconnect(participant_id)
            transition = rm.apply(live.room, rm.Leave(participant_id), self.clock())
            await self._commit(live, transition, actor)

    async def connected(self, case_id: str, participant_id: str, up: bool) -> None:
        """The media layer says a member's connection is up or down."""
        live = self.rooms.get(case_id)
        if live is None:
            return
        async with live.lock:
            if participant_id not in live.room.members:
                return
            transition = rm.apply(live.room, rm.SetConnected(participant_id, up), self.clock())
            await self._commit(live, transition, "system")

    def _member(self, case_id: str, participant_id: str) -> tuple[LiveRoom, rm.Member]:
        live = self.rooms.get(case_id)
        member = live.room.members.get(participant_id) if live else None
        if live is None or member is None:
            raise InvalidCommand("Join the room first")
        return live, member

    async def start_media(self, case_id: str, participant_id: str) -> None:
        """(Re)connect a member's media; the server's offer reaches the page as an ``sdp`` event."""
        live, member = self._member(case_id, participant_id)
        if member.presence not in (Presence.ADMITTED, Presence.WAITING):
            raise InvalidCommand("Join the room first")
        await live.media.connect(participant_id)

    async def answer(self, case_id: str, participant_id: str, sdp: str) -> None:
        """The page's answer to a renegotiation offer."""
        live, _ = self._member(case_id, participant_id)
        await live.media.accept_answer(participant_id, sdp)

    async def candidate(self, case_id: str, participant_id: str, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate from the page."""
        live, _ = self._member(case_id, participant_id)
        await live.media.add_candidate(participant_id, candidate)

    async def chat(self, case_id: str, participant_id: str, text: str) -> tuple[dict[str, Any], list[str]]:
        """Keep a chat line in the case record; return it and who receives it (caucus-aware)."""
        live, member = self._member(case_id, participant_id)
        if member.presence is not Presence.ADMITTED:
            raise Forbidden("Only admitted members can chat")
        room = live.room
        caucus = room.caucus or frozenset()
        mine = participant_id in caucus
        audience = [
            pid
            for pid, m in room.members.items()
            if m.presence is Presence.ADMITTED and (room.caucus is None or (pid in caucus) == mine)
        ]
        now = self.clock()
        message_id = await self.cases.records.add_chat(case_id, room.session_id, participant_id, text, audience, now)
        line = {
            "id": message_id,
            "from": participant_id,
            "name": member.display_name,
            "text": text,
            "at": now.isoformat(),
            "private": room.caucus is not None,
        }
        return line, audience

    # ------------------------------------------------------------------ what the mediator does

    async def control(self, principal: Principal, case_id: str, command: rm.RoomCommand) -> None:
        """A mediator's control: admit, deny, mute, remove, lock, caucus, end."""
        await self.cases.require(principal, case_id, Action.RUN_SESSION)
        live = self.rooms.get(case_id)
        if live is None:
            raise InvalidCommand("The room is not open")
        now = self.clock()
        async with live.lock:
            transition = rm.apply(live.room, command, now)
            if isinstance(command, rm.EndRoom) and live.room.session_id:
                await self.cases.execute(
                    principal, case_id, lc.EndSession(live.room.session_id), Action.RUN_SESSION, now
                )
            await self._commit(live, transition, principal.actor)
            if isinstance(command, rm.Remove):
                await live.media.disconnect(command.participant_id)
        if isinstance(command, rm.Remove):
            # the links die in the store first (a reload right after the notice finds them dead), the person is
            # told why, and only then is the revocation announced (it ends any socket left, on every node)
            await self.cases.revoke_links(principal, case_id, command.participant_id, now, announce=False)
            if self.notifier is not None:
                await self.notifier.disconnect(case_id, command.participant_id, "removed", {"reason": "removed"})
            await self.cases.auth.revocations.publish(Revoked(command.participant_id))
        if isinstance(command, rm.EndRoom):
            await self._close(case_id)

    async def _close(self, case_id: str) -> None:
        live = self.rooms.pop(case_id, None)
        if live is None:
            return
        self._ending[case_id] = live
        try:
            await self._finish(case_id, live)
        finally:
            self._ending.pop(case_id, None)
            self._ended[case_id] = live
            asyncio.get_running_loop().call_later(LINGER_SECONDS, self._forget, case_id, live)

    def _forget(self, case_id: str, live: LiveRoom) -> None:
        if self._ended.get(case_id) is live:
            del self._ended[case_id]

    async def _finish(self, case_id: str, live: LiveRoom) -> None:
        await live.media.close()  # waits until the last segments are stored
        if self.recordings is not None and live.room.session_id:
            try:
                await self.recordings.seal_session(case_id, live.room.session_id, self.clock())
            except Exception:  # the session has ended either way; verification will show the gap
                logger.exception("[case=%s] writing the recording manifest failed", case_id)
        await self.directory.release(case_id)
        if self.notifier is not None:
            for pid in list(live.room.members):
                await self.notifier.disconnect(case_id, pid, "ended", {"session_id": live.room.session_id})

    async def close_all(self) -> None:
        """Shut every room's media (server shutdown)."""
        for case_id in list(self.rooms):
            live = self.rooms.pop(case_id)
            await live.media.close()
        await self.directory.close()

    async def store_segment(self, case_id: str, segment: Segment) -> None:
        """Hand a closed recording segment to the recording store, with the session it belongs to."""
        assert self.recordings is not None
        now = self.clock()
        live = self.rooms.get(case_id) or self._ending.get(case_id)
        await self.recordings.store_segment(case_id, live.room.session_id if live else "", segment, now)

    async def caption(self, case_id: str, participant_id: str, caption: Caption) -> None:
        """Show a caption to whoever hears the speaker now (caucus-aware); keep final lines."""
        live = self.rooms.get(case_id) or self._ending.get(case_id) or self._ended.get(case_id)
        if live is None:
            return
        room = live.room
        member = room.members.get(participant_id)
        line_id = str(uuid.uuid4()) if caption.final and caption.text else None
        data = {
            "participant_id": participant_id,
            "name": member.display_name if member else "",
            "text": caption.text,
            "final": caption.final,
            "line_id": line_id,
            "started_at": caption.started_at.isoformat(),
            "ended_at": caption.ended_at.isoformat(),
        }
        if self.notifier is not None:
            audience = {participant_id} | {
                r.subscriber for r in rm.routes(room) if r.publisher == participant_id and r.kind is rm.Kind.AUDIO
            }
            for pid in sorted(audience):
                await self.notifier.send(case_id, pid, "caption", data)
        if line_id is None or not room.session_id:
            return
        line = TranscriptLine(
            line_id,
            case_id,
            room.session_id,
            participant_id,
            caption.started_at,
            caption.ended_at,
            caption.text,
            caption.language,
            caption.engine,
            caption.heard,
        )
        try:
            await self.cases.records.add_transcript_line(line, self.clock())
        except Exception as exc:  # noqa: BLE001 - the caption was shown; log the loss, never the text
            # (a database error's message carries the statement's parameters: log only its type)
            CaseLog(logger, {"case": case_id}).error("storing a transcript line failed: %s", type(exc).__name__)

    async def renegotiate(
        self, case_id: str, participant_id: str, sdp: str, tracks: dict[str, Any], uplink: dict[str, str]
    ) -> None:
        """Pass a server-made offer to the member's page."""
        if self.notifier is not None:
            await self.notifier.send(
                case_id, participant_id, "sdp", {"type": "offer", "sdp": sdp, "tracks": tracks, "uplink": uplink}
            )


class _Listener:
    """Routes media-layer callbacks into the room service."""

    def __init__(self, service: RoomService, case_id: str) -> None:
        self.service = service
        self.case_id = case_id

    async def connection_changed(self, participant_id: str, connected: bool) -> None:
        await self.service.connected(self.case_id, participant_id, connected)

    async def offer(self, participant_id: str, sdp: str, tracks: dict[str, Any], uplink: dict[str, str]) -> None:
        await self.service.renegotiate(self.case_id, participant_id, sdp, tracks, uplink)

    async def segment(self, segment: Segment) -> None:
        await self.service.store_segment(self.case_id, segment)

    async def caption(self, participant_id: str, caption: Caption) -> None:
        await self.service.caption(self.case_id, participant_id, caption)


def room_view(live: LiveRoom, viewer: str) -> dict[str, Any]:
    """The room as one member's page may see it."""
    room = live.room
    me = room.members.get(viewer)
    base: dict[str, Any] = {
        "case_id": room.case_id,
        "session_id": room.session_id,
        "started": bool(room.session_id),
        "ended": room.ended,
        "recording": bool(rm.recorded(room)) and live.recording_enabled,
        "me": None,
        "ice_servers": live.ice_servers,
    }
    if me is not None:
        base["me"] = _member_view(me)
    if me is None or me.presence is not Presence.ADMITTED:
        return base  # the waiting room shows nobody else
    base.update(
        locked=room.locked,
        caucus=sorted(room.caucus) if room.caucus is not None else None,
        in_caucus=room.caucus is not None and viewer in room.caucus,
        members=[
            _member_view(m)
            for m in room.members.values()
            if m.presence is Presence.ADMITTED or (m.presence is Presence.WAITING and me.role in rm.HOSTS)
        ],
        receiving=sorted(f"{p}:{k.value}" for p, k in rm.publishers_for(room, viewer)),
    )
    return base


def _member_view(m: rm.Member) -> dict[str, Any]:
    return {
        "participant_id": m.participant_id,
        "display_name": m.display_name,
        "role": m.role.value,
        "presence": m.presence.value,
        "connected": m.connected,
        "muted": sorted(k.value for k in m.muted),
    }
