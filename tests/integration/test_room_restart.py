"""kill -9 the real server with parties admitted, a member muted, the room locked and a caucus
running; start it again: the parties go straight back in without the mediator acting, and
mute, lock and caucus are back, enforced by what the server forwards (issue 12 item 10)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.live import prepare_case
from tests.media import make_clip
from tests.peers import ClientPeer
from tests.processes import enter, free_port, start, store_of

pytestmark = pytest.mark.asyncio


async def test_room_state_survives_kill_9_and_admitted_parties_go_straight_back_in(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clip = make_clip(tmp_path / "clip.webm", seconds=4)
    server = await start(data, port)
    repo = store_of(data)
    peers: list[ClientPeer] = []
    try:
        case_id, tokens, ids, _ = await prepare_case(base, repo, ("applicant", "respondent"))
        a, r, m = ids["applicant"], ids["respondent"], ids["mediator"]
        mediator = await enter(base, tokens["mediator"], case_id, clip)
        applicant = await enter(base, tokens["applicant"], None, clip)
        respondent = await enter(base, tokens["respondent"], None, clip)
        peers += [mediator, applicant, respondent]
        for pid in (a, r):
            assert (await mediator.emit("admit", {"participant_id": pid}))["ok"]
        for peer in peers:
            await peer.publish()
        await mediator.wait_for(lambda p: p.frames_from(a) >= 10, what="the applicant's video before the crash")
        for event, payload in (
            ("mute", {"participant_id": r, "kind": "audio", "muted": True}),
            ("lock", {"locked": True}),
            ("caucus_start", {"members": [a]}),
        ):
            assert (await mediator.emit(event, payload))["ok"], event

        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        for peer in peers:
            await peer.close()

        restarted = time.monotonic()
        server = await start(data, port)
        healthy = time.monotonic()
        # the applicant is back first, before the mediator: admitted at once, into the locked room
        applicant = ClientPeer(base, tokens["applicant"], clip=clip)
        peers = [applicant]
        await applicant.connect()
        ack = await applicant.join()
        assert ack["ok"] and ack["presence"] == "admitted", ("the admitted party was sent to the waiting room", ack)
        await applicant.wait_for(lambda p: "locked" in p.last_room(), what="the room as a member sees it")
        view = applicant.last_room()
        assert view["locked"] is True and view["caucus"] == sorted([a, m]) and view["in_caucus"] is True
        respondent = ClientPeer(base, tokens["respondent"], clip=clip)
        peers.append(respondent)
        await respondent.connect()
        assert (await respondent.join())["presence"] == "admitted"
        await respondent.wait_for(lambda p: "locked" in p.last_room(), what="the respondent's room")
        assert respondent.last_room()["me"]["muted"] == ["audio"] and respondent.last_room()["in_caucus"] is False
        mediator = await enter(base, tokens["mediator"], case_id, clip)
        peers.append(mediator)
        for peer in peers:
            await peer.publish()
        await mediator.wait_for(lambda p: p.frames_from(a) >= 1, what="the applicant's media after the restart")
        flowing = time.monotonic()
        print(
            f"\nrestart: server healthy {healthy - restarted:.2f} s after start; the applicant's media at the"
            f" mediator {flowing - healthy:.2f} s after health ({flowing - restarted:.2f} s after start)"
        )
        # the caucus holds: the respondent receives nothing of the two inside it
        await mediator.wait_for(lambda p: p.frames_from(a) >= 30, what="more of the applicant's video")
        assert respondent.frames_from(a) == 0 and respondent.frames_from(m) == 0
        # the mute holds once the caucus ends: the respondent's video reaches the mediator, its audio does not
        assert (await mediator.emit("caucus_end"))["ok"]
        await mediator.wait_for(lambda p: p.frames_from(r) >= 10, what="the respondent's video after the caucus")
        assert mediator.frames_from(r, "audio") == 0
        trail, _ = await repo.audit_trail(case_id)
        actions = [e.action for e in trail]
        assert "session.interrupted" in actions
        cut = len(actions) - actions[::-1].index("session.interrupted")
        admitted_again = [
            e for e in trail[cut:] if e.action == "room.presence" and e.details_dict()["presence"] == "admitted"
        ]
        assert admitted_again == [], "nobody was admitted again after the restart"
    finally:
        for peer in peers:
            await peer.close()
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=15)
        await repo.engine.dispose()
