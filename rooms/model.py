"""A live mediation room as a pure state machine, and who receives whose media.

The room knows its members (waiting, admitted, gone), what the mediator muted,
whether the room is locked, and whether a caucus (back-to-back mediation) is
running. :func:`routes` derives from that alone which publisher's audio and
video each subscriber receives; the media layer forwards exactly those routes
and nothing else, so privacy (mute, caucus, waiting room) is enforced by the
server, not by the pages.

Like the case life cycle: ``apply(room, command, now) -> Transition``, legal
moves as a table, no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from server.domain.roles import Role
from server.errors import IllegalTransition, InvalidCommand


class Presence(enum.StrEnum):
    """Where a member is."""

    WAITING = "waiting"
    """In the waiting room: sends nothing anyone receives, receives nothing."""
    ADMITTED = "admitted"
    """In the session."""
    DENIED = "denied"
    """Turned away by the mediator (may knock again)."""
    LEFT = "left"
    """Left on their own (may come back)."""
    REMOVED = "removed"
    """Removed by the mediator; their link is revoked."""


class Kind(enum.StrEnum):
    """A media kind."""

    AUDIO = "audio"
    VIDEO = "video"


HOSTS = frozenset({Role.MEDIATOR})
"""Roles admitted without waiting, who run the room."""
DIRECT_ENTRY = frozenset({Role.MEDIATOR, Role.JUDGE})
"""Roles that skip the waiting room."""
SILENT_ROLES = frozenset({Role.OBSERVER})
"""Roles whose media is never forwarded (they watch and listen only)."""


@dataclass(frozen=True)
class Member:
    """One participant's place in the room."""

    participant_id: str
    """The case participant."""
    role: Role
    """Their role on the case."""
    display_name: str
    """Shown on tiles."""
    presence: Presence
    """Waiting, admitted or gone."""
    connected: bool = False
    """Whether their media connection is up (set by the media layer)."""
    muted: frozenset[Kind] = frozenset()
    """Kinds the mediator stopped forwarding."""
    ever_admitted: bool = False
    """Once admitted, a reconnect skips the waiting room."""
    consented: bool = False
    """Was shown the recording notice and accepted it (staff count as having seen it)."""


@dataclass(frozen=True)
class Room:
    """The live state of one session's room."""

    case_id: str
    """The case."""
    session_id: str
    """The session."""
    members: Mapping[str, Member] = field(default_factory=dict)
    """Participant id -> member."""
    locked: bool = False
    """A locked room lets nobody new in (admitted members may reconnect)."""
    caucus: frozenset[str] | None = None
    """Members of the running caucus, or None for the joint session."""
    ended: bool = False
    """The mediator ended the session."""


@dataclass(frozen=True)
class Route:
    """One publisher's media of one kind forwarded to one subscriber."""

    publisher: str
    """Participant id sending."""
    subscriber: str
    """Participant id receiving."""
    kind: Kind
    """Audio or video."""


# ---------------------------------------------------------------- commands and events


@dataclass(frozen=True)
class RoomCommand:
    """Base of room commands."""

    name = "command"


@dataclass(frozen=True)
class Join(RoomCommand):
    """A participant's page asks to enter."""

    name = "join the room"
    participant_id: str
    """Who."""
    role: Role
    """Their role on the case."""
    display_name: str
    """Tile name."""
    consented: bool = False
    """The page showed the recording notice and the person accepted it."""


@dataclass(frozen=True)
class Leave(RoomCommand):
    """A participant left (pressed leave, closed the page, or the connection died)."""

    name = "leave the room"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class SetConnected(RoomCommand):
    """The media layer reports a member's connection up or down."""

    name = "report a connection"
    participant_id: str
    """Who."""
    connected: bool
    """Up or down."""


@dataclass(frozen=True)
class Admit(RoomCommand):
    """The mediator lets a waiting participant in."""

    name = "admit a participant"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class Deny(RoomCommand):
    """The mediator turns a waiting participant away."""

    name = "deny a participant"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class SetMuted(RoomCommand):
    """The mediator stops (or resumes) forwarding a member's audio or video."""

    name = "mute a participant"
    participant_id: str
    """Who."""
    kind: Kind
    """Audio or video."""
    muted: bool
    """Stop (True) or resume (False)."""


@dataclass(frozen=True)
class Remove(RoomCommand):
    """The mediator removes a member; their link is revoked by the caller."""

    name = "remove a participant"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class SetLocked(RoomCommand):
    """Lock or unlock the room."""

    name = "lock the room"
    locked: bool
    """Lock (True) or unlock (False)."""


@dataclass(frozen=True)
class StartCaucus(RoomCommand):
    """Back-to-back mediation: the mediator talks privately with some members."""

    name = "start a caucus"
    members: frozenset[str]
    """Participant ids with the mediator in the caucus (the mediators are added)."""


@dataclass(frozen=True)
class EndCaucus(RoomCommand):
    """Back to the joint session."""

    name = "end the caucus"


@dataclass(frozen=True)
class EndRoom(RoomCommand):
    """The mediator ends the session."""

    name = "end the session"


@dataclass(frozen=True)
class RoomEvent:
    """Base of room events; ``action`` names it in the audit trail and to pages."""

    action = "room.event"

    def details(self) -> dict[str, Any]:
        """JSON-ready fields."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, frozenset):
                out[key] = sorted(value)
            elif isinstance(value, enum.Enum):
                out[key] = value.value
            else:
                out[key] = value
        return out


@dataclass(frozen=True)
class PresenceChanged(RoomEvent):
    """A member's presence changed."""

    action = "room.presence"
    participant_id: str
    """Who."""
    presence: Presence
    """Now."""


@dataclass(frozen=True)
class ConnectionChanged(RoomEvent):
    """A member's media connection went up or down."""

    action = "room.connection"
    participant_id: str
    """Who."""
    connected: bool
    """Now."""


@dataclass(frozen=True)
class MuteChanged(RoomEvent):
    """The mediator muted or unmuted a member."""

    action = "room.mute"
    participant_id: str
    """Who."""
    kind: Kind
    """What."""
    muted: bool
    """Now."""


@dataclass(frozen=True)
class LockChanged(RoomEvent):
    """The room was locked or unlocked."""

    action = "room.lock"
    locked: bool
    """Now."""


@dataclass(frozen=True)
class CaucusChanged(RoomEvent):
    """A caucus started (members) or ended (None)."""

    action = "room.caucus"
    members: frozenset[str] | None
    """Who is in it, or None."""


@dataclass(frozen=True)
class ConsentGiven(RoomEvent):
    """A member accepted the recording notice."""

    action = "room.consent"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class RoomEnded(RoomEvent):
    """The session ended."""

    action = "room.ended"


AUDITED = frozenset({PresenceChanged, MuteChanged, LockChanged, CaucusChanged, RoomEnded, ConsentGiven})
"""Events that go into the case's audit trail (connection flaps do not)."""


@dataclass(frozen=True)
class Transition:
    """The room after a command and what happened."""

    room: Room
    """New room value."""
    events: tuple[RoomEvent, ...]
    """What happened."""


# ---------------------------------------------------------------- the machine

_OPEN = frozenset({False})
LEGAL: dict[type[RoomCommand], frozenset[bool]] = {
    Join: _OPEN,
    Leave: frozenset({False, True}),
    SetConnected: frozenset({False, True}),
    Admit: _OPEN,
    Deny: _OPEN,
    SetMuted: _OPEN,
    Remove: _OPEN,
    SetLocked: _OPEN,
    StartCaucus: _OPEN,
    EndCaucus: _OPEN,
    EndRoom: _OPEN,
}
"""Which commands are legal in a running room (False) and an ended one (True)."""


def apply(room: Room, command: RoomCommand, now: datetime) -> Transition:
    """Apply a command to the room; raise IllegalTransition or InvalidCommand."""
    if room.ended not in LEGAL[type(command)]:
        raise IllegalTransition(command.name, "ended")
    events: list[RoomEvent] = []
    new = _HANDLERS[type(command)](room, command, events)
    return Transition(new, tuple(events))


def _member(room: Room, pid: str) -> Member:
    try:
        return room.members[pid]
    except KeyError as exc:
        raise InvalidCommand("This participant is not in the room") from exc


def _put(room: Room, member: Member) -> Room:
    return replace(room, members={**room.members, member.participant_id: member})


def _presence(room: Room, member: Member, presence: Presence, events: list[RoomEvent], **kw: Any) -> Room:
    events.append(PresenceChanged(member.participant_id, presence))
    new = replace(member, presence=presence, **kw)
    room = _put(room, new)
    if presence is not Presence.ADMITTED and room.caucus and member.participant_id in room.caucus:
        room = replace(room, caucus=room.caucus - {member.participant_id})
        events.append(CaucusChanged(room.caucus))  # audited: playback withholds by who was in it
    return room


def _join(room: Room, cmd: Join, events: list[RoomEvent]) -> Room:
    old = room.members.get(cmd.participant_id)
    if old is not None and old.presence is Presence.REMOVED:
        raise InvalidCommand("This participant was removed from the session")
    consented = cmd.consented or cmd.role in DIRECT_ENTRY or (old is not None and old.consented)
    if cmd.consented and not (old is not None and old.consented):
        events.append(ConsentGiven(cmd.participant_id))
    if old is not None and old.presence in (Presence.ADMITTED, Presence.WAITING):
        return _put(room, replace(old, consented=consented))  # a reconnect: same member, same place
    returning = old is not None and old.ever_admitted
    if room.locked and not returning and cmd.role not in DIRECT_ENTRY:
        raise InvalidCommand("The room is locked")
    direct = cmd.role in DIRECT_ENTRY or returning
    member = Member(
        cmd.participant_id,
        cmd.role,
        cmd.display_name,
        Presence.WAITING,
        connected=old.connected if old else False,
        muted=old.muted if old else frozenset(),
        ever_admitted=returning,
        consented=consented,
    )
    room = _put(room, member)
    target = Presence.ADMITTED if direct else Presence.WAITING
    return _presence(room, member, target, events, ever_admitted=direct or returning)


def _leave(room: Room, cmd: Leave, events: list[RoomEvent]) -> Room:
    member = room.members.get(cmd.participant_id)
    if member is None or member.presence in (Presence.LEFT, Presence.REMOVED, Presence.DENIED):
        return room
    return _presence(room, member, Presence.LEFT, events, connected=False)


def _connected(room: Room, cmd: SetConnected, events: list[RoomEvent]) -> Room:
    member = room.members.get(cmd.participant_id)
    if member is None or member.connected == cmd.connected:
        return room
    events.append(ConnectionChanged(cmd.participant_id, cmd.connected))
    return _put(room, replace(member, connected=cmd.connected))


def _admit(room: Room, cmd: Admit, events: list[RoomEvent]) -> Room:
    member = _member(room, cmd.participant_id)
    if member.presence is not Presence.WAITING:
        raise InvalidCommand(f'Only a waiting participant can be admitted, not one who is "{member.presence.value}"')
    return _presence(room, member, Presence.ADMITTED, events, ever_admitted=True)


def _deny(room: Room, cmd: Deny, events: list[RoomEvent]) -> Room:
    member = _member(room, cmd.participant_id)
    if member.presence is not Presence.WAITING:
        raise InvalidCommand(f'Only a waiting participant can be denied, not one who is "{member.presence.value}"')
    return _presence(room, member, Presence.DENIED, events)


def _mute(room: Room, cmd: SetMuted, events: list[RoomEvent]) -> Room:
    member = _member(room, cmd.participant_id)
    if member.role in HOSTS:
        raise InvalidCommand("The mediator cannot be muted by the room")
    muted = member.muted | {cmd.kind} if cmd.muted else member.muted - {cmd.kind}
    if muted == member.muted:
        return room
    events.append(MuteChanged(cmd.participant_id, cmd.kind, cmd.muted))
    return _put(room, replace(member, muted=muted))


def _remove(room: Room, cmd: Remove, events: list[RoomEvent]) -> Room:
    member = _member(room, cmd.participant_id)
    if member.role in HOSTS:
        raise InvalidCommand("The mediator cannot be removed from the room")
    if member.presence is Presence.REMOVED:
        return room
    return _presence(room, member, Presence.REMOVED, events, connected=False)


def _lock(room: Room, cmd: SetLocked, events: list[RoomEvent]) -> Room:
    if room.locked == cmd.locked:
        return room
    events.append(LockChanged(cmd.locked))
    return replace(room, locked=cmd.locked)


def _start_caucus(room: Room, cmd: StartCaucus, events: list[RoomEvent]) -> Room:
    hosts = {pid for pid, m in room.members.items() if m.role in HOSTS and m.presence is Presence.ADMITTED}
    guests = set(cmd.members) - hosts
    if not guests:
        raise InvalidCommand("A caucus needs at least one participant besides the mediator")
    for pid in guests:
        if _member(room, pid).presence is not Presence.ADMITTED:
            raise InvalidCommand("Only admitted participants can join a caucus")
    members = frozenset(guests | hosts)
    admitted = {pid for pid, m in room.members.items() if m.presence is Presence.ADMITTED}
    if members >= admitted:
        raise InvalidCommand("A caucus must leave someone out; this would be the joint session")
    events.append(CaucusChanged(members))
    return replace(room, caucus=members)


def _end_caucus(room: Room, cmd: EndCaucus, events: list[RoomEvent]) -> Room:
    if room.caucus is None:
        raise InvalidCommand("No caucus is running")
    events.append(CaucusChanged(None))
    return replace(room, caucus=None)


def _end(room: Room, cmd: EndRoom, events: list[RoomEvent]) -> Room:
    events.append(RoomEnded())
    return replace(room, ended=True, caucus=None)


_HANDLERS: dict[type[RoomCommand], Callable[[Room, Any, list[RoomEvent]], Room]] = {
    Join: _join,
    Leave: _leave,
    SetConnected: _connected,
    Admit: _admit,
    Deny: _deny,
    SetMuted: _mute,
    Remove: _remove,
    SetLocked: _lock,
    StartCaucus: _start_caucus,
    EndCaucus: _end_caucus,
    EndRoom: _end,
}

assert set(_HANDLERS) == set(LEGAL)


# ---------------------------------------------------------------- after a restart


def restore(
    case_id: str,
    session_id: str,
    people: Mapping[str, tuple[Role, str]],
    history: Iterable[tuple[str, Mapping[str, Any]]],
) -> Room:
    """The room of a running session rebuilt from its audited events, after the server stopped.

    Every change that matters (presence, mute, lock, caucus, consent: :data:`AUDITED`) is in
    the case's audit trail, written before it takes effect, so the trail *is* the durable
    room state. ``history`` is the trail's ``room.*`` entries in order as ``(action,
    details)``; ``people`` maps participant ids to their role and display name. Entries of
    another session, and everything before a ``room.ended``, belong to earlier rooms (an
    entry with no session id was made while the room waited for the mediator). Nobody is
    connected until their page is back; members admitted before go straight back in.

    >>> from server.domain.roles import Role
    >>> room = restore("c", "s", {"p": (Role.APPLICANT, "A")}, [
    ...     ("room.consent", {"participant_id": "p", "session_id": ""}),
    ...     ("room.presence", {"participant_id": "p", "presence": "waiting", "session_id": ""}),
    ...     ("room.presence", {"participant_id": "p", "presence": "admitted", "session_id": "s"}),
    ...     ("room.mute", {"participant_id": "p", "kind": "audio", "muted": True, "session_id": "s"}),
    ...     ("room.lock", {"locked": True, "session_id": "s"}),
    ... ])
    >>> m = room.members["p"]
    >>> (m.presence.value, m.ever_admitted, m.consented, sorted(m.muted), m.connected, room.locked)
    ('admitted', True, True, ['audio'], False, True)
    """
    presence: dict[str, Presence] = {}
    admitted: set[str] = set()
    muted: dict[str, frozenset[Kind]] = {}
    consented: set[str] = set()
    locked = False
    caucus: frozenset[str] | None = None
    for action, details in history:
        belongs = details.get("session_id") in ("", None, session_id)
        if not belongs or action == RoomEnded.action:
            presence, admitted, muted, consented, locked, caucus = {}, set(), {}, set(), False, None
            continue
        pid = str(details.get("participant_id", ""))
        if action == PresenceChanged.action:
            presence[pid] = Presence(details["presence"])
            if presence[pid] is Presence.ADMITTED:
                admitted.add(pid)
        elif action == MuteChanged.action:
            kind = Kind(details["kind"])
            before = muted.get(pid, frozenset())
            muted[pid] = before | {kind} if details["muted"] else before - {kind}
        elif action == ConsentGiven.action:
            consented.add(pid)
        elif action == LockChanged.action:
            locked = bool(details["locked"])
        elif action == CaucusChanged.action:
            caucus = None if details["members"] is None else frozenset(details["members"])
    members = {
        pid: Member(
            pid,
            people[pid][0],
            people[pid][1],
            where,
            muted=muted.get(pid, frozenset()),
            ever_admitted=pid in admitted,
            consented=pid in consented or people[pid][0] in DIRECT_ENTRY,
        )
        for pid, where in presence.items()
        if pid in people
    }
    if caucus is not None:
        caucus = frozenset(pid for pid in caucus if pid in members)
    return Room(case_id, session_id, members, locked=locked, caucus=caucus)


# ---------------------------------------------------------------- derived: who receives what


def routes(room: Room) -> frozenset[Route]:
    """Every (publisher, subscriber, kind) the server forwards in this room state."""
    if room.ended:
        return frozenset()
    live = [m for m in room.members.values() if m.presence is Presence.ADMITTED and m.connected]
    out = set()
    for pub in live:
        if pub.role in SILENT_ROLES:
            continue
        for sub in live:
            if sub.participant_id == pub.participant_id:
                continue
            if room.caucus is not None and (pub.participant_id in room.caucus) != (sub.participant_id in room.caucus):
                continue
            for kind in Kind:
                if kind not in pub.muted:
                    out.add(Route(pub.participant_id, sub.participant_id, kind))
    return frozenset(out)


def recorded(room: Room) -> frozenset[str]:
    """Whose media is recorded now: nobody until every admitted member accepted the notice."""
    if room.ended or not room.session_id:
        return frozenset()
    admitted = [m for m in room.members.values() if m.presence is Presence.ADMITTED]
    if not admitted or not all(m.consented for m in admitted):
        return frozenset()
    return frozenset(m.participant_id for m in admitted if m.connected and m.role not in SILENT_ROLES)


def publishers_for(room: Room, subscriber: str) -> frozenset[tuple[str, Kind]]:
    """What one subscriber receives."""
    return frozenset((r.publisher, r.kind) for r in routes(room) if r.subscriber == subscriber)
