"""The room state machine and the routes it derives: waiting room, mute, caucus, lock, removal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rooms import model as rm
from rooms.model import Kind, Presence, Room, Route
from server.domain.roles import Role
from server.errors import IllegalTransition, InvalidCommand

T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
A, V = Kind.AUDIO, Kind.VIDEO


def run(room: Room, *commands: rm.RoomCommand) -> Room:
    for cmd in commands:
        room = rm.apply(room, cmd, T).room
    return room


def joined(*extra: rm.RoomCommand) -> Room:
    """Mediator m, applicant a and respondent r admitted and connected; insurer i too."""
    room = Room("case", "session")
    room = run(
        room,
        rm.Join("m", Role.MEDIATOR, "M"),
        rm.Join("a", Role.APPLICANT, "A"),
        rm.Join("r", Role.RESPONDENT, "R"),
        rm.Join("i", Role.INSURER, "I"),
        rm.Admit("a"),
        rm.Admit("r"),
        rm.Admit("i"),
        *(rm.SetConnected(p, True) for p in "mari"),
    )
    return run(room, *extra)


def pairs(room: Room, kind: Kind = V) -> set[tuple[str, str]]:
    return {(r.publisher, r.subscriber) for r in rm.routes(room) if r.kind is kind}


def test_everyone_admitted_receives_everyone_else() -> None:
    room = joined()
    assert len(rm.routes(room)) == 4 * 3 * 2
    assert ("a", "a") not in pairs(room)


def test_waiting_room_gets_and_gives_nothing() -> None:
    room = run(
        Room("c", "s"),
        rm.Join("m", Role.MEDIATOR, "M"),
        rm.Join("a", Role.APPLICANT, "A"),
        rm.SetConnected("m", True),
        rm.SetConnected("a", True),
    )
    assert room.members["m"].presence is Presence.ADMITTED
    assert room.members["a"].presence is Presence.WAITING
    assert rm.routes(room) == frozenset()
    room = run(room, rm.Admit("a"))
    assert pairs(room) == {("m", "a"), ("a", "m")}


def test_deny_then_knock_again() -> None:
    room = run(Room("c", "s"), rm.Join("m", Role.MEDIATOR, "M"), rm.Join("a", Role.APPLICANT, "A"), rm.Deny("a"))
    assert room.members["a"].presence is Presence.DENIED
    with pytest.raises(InvalidCommand, match="waiting"):
        run(room, rm.Admit("a"))
    room = run(room, rm.Join("a", Role.APPLICANT, "A"))
    assert room.members["a"].presence is Presence.WAITING


def test_mute_stops_only_that_kind_from_that_member() -> None:
    room = joined(rm.SetMuted("a", A, True))
    assert all(p != "a" for p, _ in pairs(room, A))
    assert ("a", "r") in pairs(room, V)
    room = run(room, rm.SetMuted("a", A, False))
    assert ("a", "r") in pairs(room, A)
    with pytest.raises(InvalidCommand, match="mediator"):
        run(room, rm.SetMuted("m", A, True))


def test_caucus_is_enforced_by_routes() -> None:
    room = joined(rm.StartCaucus(frozenset({"a"})))
    assert room.caucus == frozenset({"a", "m"})
    for kind in Kind:
        p = pairs(room, kind)
        assert ("a", "m") in p and ("m", "a") in p
        assert not {("a", "r"), ("a", "i"), ("m", "r"), ("m", "i"), ("r", "a"), ("r", "m")} & p
        assert ("r", "i") in p  # the excluded side may still talk among itself
    room = run(room, rm.EndCaucus())
    assert len(rm.routes(room)) == 24


def test_caucus_rules() -> None:
    with pytest.raises(InvalidCommand, match="besides the mediator"):
        joined(rm.StartCaucus(frozenset({"m"})))
    with pytest.raises(InvalidCommand, match="leave someone out"):
        joined(rm.StartCaucus(frozenset({"a", "r", "i"})))
    with pytest.raises(InvalidCommand, match="No caucus"):
        joined(rm.EndCaucus())
    room = run(Room("c", "s"), rm.Join("m", Role.MEDIATOR, "M"), rm.Join("a", Role.APPLICANT, "A"))
    with pytest.raises(InvalidCommand, match="admitted"):
        run(room, rm.StartCaucus(frozenset({"a"})))


def test_leaving_member_drops_out_of_the_caucus() -> None:
    room = joined(rm.StartCaucus(frozenset({"a", "i"})), rm.Leave("i"))
    assert room.caucus == frozenset({"a", "m"})
    # the audit trail learns who is still in it (playback withholds by membership)
    t = rm.apply(joined(rm.StartCaucus(frozenset({"a", "i"}))), rm.Leave("i"), T)
    assert ("room.caucus", {"members": ["a", "m"]}) in [(e.action, e.details()) for e in t.events]


def test_lock_keeps_newcomers_out_but_lets_members_reconnect() -> None:
    room = joined(rm.SetLocked(True), rm.Leave("a"))
    room = run(room, rm.Join("a", Role.APPLICANT, "A"))
    assert room.members["a"].presence is Presence.ADMITTED
    with pytest.raises(InvalidCommand, match="locked"):
        run(room, rm.Join("x", Role.AGENT, "X"))
    room = run(room, rm.SetLocked(False), rm.Join("x", Role.AGENT, "X"))
    assert room.members["x"].presence is Presence.WAITING


def test_reconnect_keeps_place_and_mutes() -> None:
    room = joined(rm.SetMuted("a", V, True), rm.SetConnected("a", False))
    assert not any("a" in (r.publisher, r.subscriber) for r in rm.routes(room))
    t = rm.apply(room, rm.Join("a", Role.APPLICANT, "A"), T)
    assert t.events == ()  # same member, same place: no new tile
    room = run(t.room, rm.SetConnected("a", True))
    assert ("a", "r") in pairs(room, A) and ("a", "r") not in pairs(room, V)


def test_removed_member_cannot_come_back() -> None:
    room = joined(rm.Remove("r"))
    assert not any("r" in (r.publisher, r.subscriber) for r in rm.routes(room))
    with pytest.raises(InvalidCommand, match="removed"):
        run(room, rm.Join("r", Role.RESPONDENT, "R"))
    with pytest.raises(InvalidCommand, match="mediator"):
        run(room, rm.Remove("m"))


def test_observers_receive_but_never_publish() -> None:
    room = joined(rm.Join("o", Role.OBSERVER, "O"), rm.Admit("o"), rm.SetConnected("o", True))
    assert ("a", "o") in pairs(room)
    assert not any(r.publisher == "o" for r in rm.routes(room))


def test_ended_room_forwards_nothing_and_takes_no_control() -> None:
    room = joined(rm.EndRoom())
    assert rm.routes(room) == frozenset()
    with pytest.raises(IllegalTransition, match='in state "ended"'):
        run(room, rm.Admit("a"))
    run(room, rm.Leave("a"))  # leaving an ended room is fine


def test_events_are_what_the_audit_trail_gets() -> None:
    t = rm.apply(joined(), rm.StartCaucus(frozenset({"r"})), T)
    assert [(e.action, e.details()) for e in t.events] == [("room.caucus", {"members": ["m", "r"]})]
    assert Route("r", "m", A) in rm.routes(t.room)


def test_recording_waits_for_every_admitted_member_to_accept_the_notice() -> None:
    room = run(
        Room("c", "s1"),
        rm.Join("m", Role.MEDIATOR, "M"),
        rm.Join("a", Role.APPLICANT, "A", consented=True),
        rm.Join("r", Role.RESPONDENT, "R"),
        rm.Admit("a"),
        *(rm.SetConnected(p, True) for p in "mar"),
    )
    assert rm.recorded(room) == frozenset({"m", "a"})  # r is still waiting
    room = run(room, rm.Admit("r"))
    assert rm.recorded(room) == frozenset()  # r never saw the notice
    t = rm.apply(room, rm.Join("r", Role.RESPONDENT, "R", consented=True), T)
    assert [e.action for e in t.events] == ["room.consent"]
    assert rm.recorded(t.room) == frozenset({"m", "a", "r"})
    assert rm.recorded(run(t.room, rm.EndRoom())) == frozenset()
    assert rm.recorded(replace_session(t.room, "")) == frozenset()  # no session open yet


def replace_session(room: Room, session_id: str) -> Room:
    from dataclasses import replace

    return replace(room, session_id=session_id)


def history_of(room: Room, *commands: rm.RoomCommand) -> tuple[Room, list[tuple[str, dict[str, object]]]]:
    """Run commands as the room service does, keeping the audited events as the trail keeps them."""
    trail: list[tuple[str, dict[str, object]]] = []
    for cmd in commands:
        transition = rm.apply(room, cmd, T)
        room = transition.room
        trail += [
            (e.action, {**e.details(), "session_id": room.session_id})
            for e in transition.events
            if type(e) in rm.AUDITED
        ]
    return room, trail


PEOPLE = {
    "m": (Role.MEDIATOR, "M"),
    "a": (Role.APPLICANT, "A"),
    "r": (Role.RESPONDENT, "R"),
    "i": (Role.INSURER, "I"),
}


def test_a_room_is_restored_from_its_audited_events_after_a_restart() -> None:
    # an earlier session's room, ended: none of it carries over
    _, earlier = history_of(
        Room("case", "s1"),
        rm.Join("m", Role.MEDIATOR, "M"),
        rm.Join("r", Role.RESPONDENT, "R", consented=True),
        rm.Admit("r"),
        rm.SetLocked(True),
        rm.EndRoom(),
    )
    # parties knock before the mediator opens session s2 (no session id yet), then the session runs
    waiting, before = history_of(
        Room("case", ""), rm.Join("a", Role.APPLICANT, "A", consented=True), rm.Join("i", Role.INSURER, "I")
    )
    live, during = history_of(
        replace(waiting, session_id="s2"),
        rm.Join("m", Role.MEDIATOR, "M"),
        rm.Admit("a"),
        rm.Join("r", Role.RESPONDENT, "R", consented=True),
        rm.Admit("r"),
        rm.SetMuted("r", A, True),
        rm.SetMuted("a", V, True),
        rm.SetMuted("a", V, False),
        rm.SetLocked(True),
        rm.StartCaucus(frozenset({"a"})),
    )
    restored = rm.restore("case", "s2", PEOPLE, earlier + before + during)
    expected = {pid: replace(m, connected=False) for pid, m in live.members.items()}
    assert dict(restored.members) == expected
    assert (restored.locked, restored.caucus) == (True, frozenset({"a", "m"}))
    assert restored.members["i"].presence is Presence.WAITING and not restored.members["i"].ever_admitted
    assert restored.members["r"].muted == {A} and restored.members["a"].consented
    # nobody is connected yet, so nothing flows until the pages are back
    assert rm.routes(restored) == frozenset()
    # the party admitted before goes straight back in, even into the locked room; the caucus holds
    back = run(restored, rm.Join("a", Role.APPLICANT, "A", consented=True), rm.SetConnected("a", True))
    back = run(back, rm.Join("m", Role.MEDIATOR, "M"), rm.SetConnected("m", True), rm.SetConnected("r", True))
    assert back.members["a"].presence is Presence.ADMITTED
    assert pairs(back) == {("a", "m"), ("m", "a")}
    assert pairs(run(back, rm.EndCaucus()), A) == {("a", "m"), ("m", "a"), ("a", "r"), ("m", "r")}
    # the one still waiting knocks again in the locked room and waits (nobody new gets in unasked)
    assert run(back, rm.Join("i", Role.INSURER, "I")).members["i"].presence is Presence.WAITING


def test_a_room_ended_before_the_restart_restores_empty() -> None:
    _, trail = history_of(
        Room("case", "s"), rm.Join("m", Role.MEDIATOR, "M"), rm.Join("a", Role.APPLICANT, "A"), rm.EndRoom()
    )
    assert rm.restore("case", "s", PEOPLE, trail) == Room("case", "s")
