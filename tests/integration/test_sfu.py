"""Live rooms with real aiortc peers over real socket.io: forwarding without transcoding, keyframes,
PLI relay, caucus and mute enforced by the server, reconnection, dead peers, signaling errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio  # type: ignore[import-untyped]

from rooms.forwarding import _Tap
from rooms.sfu import AiortcMediaSession
from server.app import ROOMS
from tests.live import Live, _live, enter
from tests.media import make_clip
from tests.peers import ClientPeer

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "vp8": make_clip(folder / "a.webm", tone_hz=440),
        "vp8b": make_clip(folder / "b.webm", tone_hz=660),
        "h264": make_clip(folder / "c.ts", video="libx264"),
    }


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path):
        yield value


@pytest_asyncio.fixture
async def live_h264(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, "H264"):
        yield value


@pytest_asyncio.fixture
async def live_one_address(tmp_path: Path) -> AsyncIterator[Live]:
    from aioice.ice import get_host_addresses

    address = get_host_addresses(use_ipv4=True, use_ipv6=False)[0]
    async for value in _live(tmp_path, media_addresses=address):
        yield value


async def settle(peer: ClientPeer, publisher: str, kind: str, quiet: float = 0.6, limit: float = 5.0) -> None:
    """Wait until no frame of this publisher and kind arrived for ``quiet`` seconds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last, since = peer.frames_from(publisher, kind), loop.time()
    while loop.time() - since < quiet:
        assert loop.time() < deadline, f"{kind} from {publisher} kept arriving"
        await asyncio.sleep(0.1)
        now_count = peer.frames_from(publisher, kind)
        if now_count != last:
            last, since = now_count, loop.time()


def server_decoders_idle(media: AiortcMediaSession) -> None:
    """No server receiver handed a frame to a decoder; no server video sender encoded one."""
    for peer in media.peers.values():
        for publication in peer.publications.values():
            queue = publication.receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
            assert isinstance(queue, _Tap) and queue.qsize() == 0
            assert publication.frames > 0
        for transceiver, outlet in peer.outlets.values():
            encoder = transceiver.sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
            if outlet.kind == "video" and encoder is not None:
                assert encoder.codec is None, "a video encoder ran on the server"


async def test_three_members_receive_each_other_without_transcoding(live: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    respondent = await enter(live, "respondent", clips["vp8"], admit_by=mediator)
    peers = {"mediator": mediator, "applicant": applicant, "respondent": respondent}
    try:
        for name, peer in peers.items():
            for other in peers:
                if other == name:
                    continue
                pid = live.ids[other]
                await peer.wait_for(
                    lambda p, pid=pid: p.frames_from(pid, "video") >= 30 and p.frames_from(pid, "audio") >= 50,
                    what=f"{name} receiving {other}",
                )
                inbound = peer.inbound[(pid, "video")]
                assert inbound.first_is_keyframe is True, f"{name} got {other}'s video starting without a keyframe"
        server_decoders_idle(live.media())
        room = mediator.last_room()
        assert {m["presence"] for m in room["members"]} == {"admitted"} and len(room["members"]) == 3
    finally:
        for peer in peers.values():
            await peer.close()


async def test_subscriber_pli_reaches_the_publisher(live: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", None, admit_by=mediator)
    try:
        mid = live.ids["mediator"]
        await applicant.wait_for(lambda p: p.frames_from(mid) >= 10, what="video from the mediator")
        assert mediator.pc is not None
        video_sender = next(t.sender for t in mediator.pc.getTransceivers() if t.kind == "video" and t.sender.track)
        requests: list[float] = []
        video_sender._send_keyframe = lambda: requests.append(1.0)  # type: ignore[method-assign]
        receiver = next(
            r for m, r in applicant.receivers.items() if applicant.track_owner.get(m, {}).get("kind") == "video"
        )
        ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))  # type: ignore[attr-defined]
        await asyncio.sleep(0.4)  # past the server's PLI rate limit from the join
        await receiver._send_rtcp_pli(ssrc)
        await mediator.wait_for(lambda p: bool(requests), timeout=5, what="the relayed PLI")
        outlet_stats = live.media().stats()[live.ids["applicant"]]["outlets"][f"{mid}:video"]
        assert outlet_stats["keyframe_requests"] >= 1
    finally:
        await applicant.close()
        await mediator.close()


async def test_caucus_and_mute_are_enforced_by_what_the_server_forwards(live: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    respondent = await enter(live, "respondent", clips["vp8"], admit_by=mediator)
    m, a = live.ids["mediator"], live.ids["applicant"]
    try:
        await respondent.wait_for(lambda p: p.frames_from(m) >= 10 and p.frames_from(a) >= 10, what="joint session")
        ack = await mediator.emit("caucus_start", {"members": [a]})
        assert ack["ok"], ack
        await respondent.wait_for(lambda p: p.last_room().get("caucus") == sorted([a, m]), what="caucus notice")
        for key in ((m, "audio"), (m, "video"), (a, "audio"), (a, "video")):
            await settle(respondent, *key)  # frames already in flight land
        before = {(k, kind): respondent.frames_from(k, kind) for k in (m, a) for kind in ("audio", "video")}
        mark = applicant.frames_from(m)
        await applicant.wait_for(lambda p: p.frames_from(m) >= mark + 30, what="caucus pair still talking")
        after = {(k, kind): respondent.frames_from(k, kind) for k in (m, a) for kind in ("audio", "video")}
        assert after == before, "the excluded respondent received media of the caucus pair"
        assert respondent.last_room()["in_caucus"] is False
        ack = await mediator.emit("caucus_end")
        assert ack["ok"]
        mark = respondent.frames_from(a)
        await respondent.wait_for(lambda p: p.frames_from(a) >= mark + 10, what="back in the joint session")
        # mute: the server stops forwarding the applicant's audio to everyone
        ack = await mediator.emit("mute", {"participant_id": a, "kind": "audio", "muted": True})
        assert ack["ok"]
        await settle(respondent, a, "audio")
        audio_mark, video_mark = respondent.frames_from(a, "audio"), respondent.frames_from(a, "video")
        await respondent.wait_for(lambda p: p.frames_from(a, "video") >= video_mark + 30, what="video still flowing")
        assert respondent.frames_from(a, "audio") == audio_mark
        assert [x for x in applicant.last_room()["members"] if x["participant_id"] == a][0]["muted"] == ["audio"]
        trail = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
        actions = [e.action for e in trail[0]]
        assert actions.count("room.caucus") == 2 and "room.mute" in actions and "session.started" in actions
    finally:
        for peer in (mediator, applicant, respondent):
            await peer.close()


async def test_h264_room_forwards_h264(live_h264: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live_h264, "mediator", clips["h264"])
    applicant = await enter(live_h264, "applicant", None, admit_by=mediator)
    try:
        mid = live_h264.ids["mediator"]
        await applicant.wait_for(lambda p: p.frames_from(mid) >= 30, what="H.264 from the mediator")
        assert applicant.inbound[(mid, "video")].first_is_keyframe is True
        assert "H264" in (applicant.pc.remoteDescription.sdp if applicant.pc else "")
        server_decoders_idle(live_h264.media())
    finally:
        await applicant.close()
        await mediator.close()


async def test_reconnect_keeps_identity_and_dead_peers_are_noticed(live: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    a = live.ids["applicant"]
    try:
        await mediator.wait_for(lambda p: p.frames_from(a) >= 10, what="applicant video")
        # the applicant's network drops: no goodbye, media just stops
        for track in applicant.sending:
            track.stop()
        await mediator.wait_for(
            lambda p: any(x["participant_id"] == a and not x["connected"] for x in p.last_room().get("members", [])),
            timeout=10,
            what="the room noticing the dead peer",
        )
        await applicant.close()
        # back within seconds on a new connection: same participant, admitted without waiting, no second tile
        again = await enter(live, "applicant", clips["vp8b"])
        assert again.participant_id == a
        mark = mediator.frames_from(a)
        await mediator.wait_for(lambda p: p.frames_from(a) >= mark + 30, what="video after the reconnect")
        members = [x for x in mediator.last_room()["members"] if x["participant_id"] == a]
        assert len(members) == 1 and members[0]["connected"] and members[0]["presence"] == "admitted"
        await again.close()
    finally:
        await mediator.close()


async def test_remove_revokes_the_link_and_end_closes_the_session(live: Live, clips: dict[str, Path]) -> None:
    mediator = await enter(live, "mediator", clips["vp8"])
    respondent = await enter(live, "respondent", None, admit_by=mediator)
    link_on_notice: list[int] = []

    async def on_removed(data: Any) -> None:  # the moment the page learns it was removed, it reopens its link
        headers = {"Authorization": f"Bearer {live.tokens['respondent']}"}
        async with aiohttp.ClientSession() as http, http.get(f"{live.base}/api/v1/me", headers=headers) as resp:
            link_on_notice.append(resp.status)
        respondent.events.append(("removed", data))

    respondent.sio.on("removed", on_removed)
    try:
        ack = await mediator.emit("remove", {"participant_id": live.ids["respondent"]})
        assert ack["ok"], ack
        await respondent.wait_for(lambda p: any(e == "removed" for e, _ in p.events), what="removed notice")
        assert link_on_notice == [401]  # the link was dead before the notice went out
        again = live.peer("respondent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect()
        ack = await mediator.emit("end")
        assert ack["ok"], ack
        await mediator.wait_for(lambda p: any(e == "ended" for e, _ in p.events), what="ended notice")
        loaded = await live.app[ROOMS].cases.repo.load_case(live.case_id)
        assert loaded.case.state.value == "between_sessions"
        assert live.case_id not in live.app[ROOMS].rooms
    finally:
        await respondent.close()
        await mediator.close()


async def test_signaling_refuses_bad_input_with_codes(live: Live) -> None:
    async with aiohttp.ClientSession() as http:
        for auth in (None, {}, {"token": "nonsense"}, {"token": live.tokens["mediator"]}):
            client = socketio.AsyncClient(reconnection=False, http_session=http)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(live.base, auth=auth, transports=["websocket"], wait_timeout=5)
    party = live.peer("applicant")
    await party.connect()
    try:
        checks: list[tuple[str, Any, str]] = [
            ("chat", {"text": "hi"}, "invalid_command"),  # not joined yet
            ("no_such_event", {}, "unknown_event"),
            ("join", {"extra": 1}, "validation_failed"),
            ("sdp", {"type": "pranswer", "sdp": "x" * 20}, "validation_failed"),
            ("sdp", "just a string", "validation_failed"),
        ]
        for event, payload, code in checks:
            ack = await party.emit(event, payload)
            assert (ack["ok"], ack["code"]) == (False, code), (event, ack)
        assert (await party.join())["presence"] == "waiting"
        for event, payload, code in [
            ("admit", {"participant_id": live.ids["applicant"]}, "forbidden"),
            ("caucus_start", {"members": []}, "validation_failed"),
            ("chat", {"text": "hello"}, "forbidden"),  # waiting members cannot chat
            ("sdp", {"type": "answer", "sdp": "v=0 garbage here"}, "invalid_command"),  # nothing offered
            ("sdp", {"type": "offer", "sdp": "v=0 the page never offers"}, "validation_failed"),
            ("ice", {"candidate": "candidate:garbage"}, "invalid_command"),
        ]:
            ack = await party.emit(event, payload)
            assert (ack["ok"], ack["code"]) == (False, code), (event, ack)
        assert party.errors and all(set(e) >= {"code", "message", "event"} for e in party.errors)
        results = await asyncio.gather(*(party.emit("leave_not", {}) for _ in range(120)))
        assert any(r["code"] == "rate_limited" for r in results)
    finally:
        await party.close()


async def test_server_offers_only_the_configured_address(live_one_address: Live, clips: dict[str, Path]) -> None:
    live = live_one_address
    from aioice.ice import get_host_addresses

    address = get_host_addresses(use_ipv4=True, use_ipv6=False)[0]
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    try:
        mid = live.ids["mediator"]
        await applicant.wait_for(lambda p: p.frames_from(mid) >= 10, what="media over the one address")
        assert applicant.pc is not None
        offered = [
            line.split()[4]
            for line in applicant.pc.remoteDescription.sdp.splitlines()
            if line.startswith("a=candidate:")
        ]
        assert offered and set(offered) == {address}
    finally:
        await applicant.close()
        await mediator.close()


async def test_chat_follows_the_caucus_and_is_kept_in_the_case_record(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    applicant = await enter(live, "applicant", None, admit_by=mediator)
    respondent = await enter(live, "respondent", None, admit_by=mediator)
    a = live.ids["applicant"]
    try:
        assert (await mediator.emit("caucus_start", {"members": [a]}))["ok"]
        assert (await applicant.emit("chat", {"text": "只给调解员看 private line"}))["ok"]
        await mediator.wait_for(lambda p: len(p.chats) == 1, what="private line at the mediator")
        assert mediator.chats[0]["private"] is True and mediator.chats[0]["from"] == a
        assert (await mediator.emit("caucus_end"))["ok"]
        assert (await respondent.emit("chat", {"text": "大家好 hello all"}))["ok"]
        for peer in (mediator, applicant, respondent):
            await peer.wait_for(lambda p: any(c["text"] == "大家好 hello all" for c in p.chats), what="joint line")
        assert not any("private" in c["text"] for c in respondent.chats)
        async with aiohttp.ClientSession() as http:
            for who, expected in (("mediator", 2), ("respondent", 1), ("applicant", 2)):
                async with http.get(
                    f"{live.base}/api/v1/cases/{live.case_id}/chat",
                    headers={"Authorization": f"Bearer {live.tokens[who]}"},
                ) as resp:
                    lines = (await resp.json())["lines"]
                assert len(lines) == expected, (who, lines)
    finally:
        for peer in (mediator, applicant, respondent):
            await peer.close()


async def test_oversized_message_closes_only_that_connection(live: Live) -> None:
    mediator = await enter(live, "mediator", None)
    party = live.peer("applicant")
    await party.connect()
    try:
        await party.sio.emit("chat", {"text": "x" * 300_000})
        for _ in range(50):
            if not party.sio.connected:
                break
            await asyncio.sleep(0.1)
        assert not party.sio.connected
        assert (await mediator.emit("lock", {"locked": True}))["ok"]  # the server carries on
    finally:
        await party.close()
        await mediator.close()


@pytest_asyncio.fixture
async def live_recording(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, recording_segment_seconds=1.0):
        yield value


async def segments_of(live: Live) -> list[dict[str, Any]]:
    trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
    return [e.details_dict() for e in trail if e.action == "recording.segment"]


async def test_recording_is_sealed_chained_and_waits_for_consent(live_recording: Live, clips: dict[str, Path]) -> None:
    import hashlib
    import io

    import av

    from recording.vault import unseal
    from server.errors import BlobIntegrityError

    live = live_recording
    rooms = live.app[ROOMS]
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    m = live.ids["mediator"]
    try:

        async def video_segments() -> list[dict[str, Any]]:
            return [d for d in await segments_of(live) if d["track"] == f"{m}:video"]

        for _ in range(100):
            if len(await video_segments()) >= 2:
                break
            await asyncio.sleep(0.2)
        # each segment is hashed in a worker thread and chained when stored: on a loaded machine
        # segment 1 can be chained before segment 0 (playback and the manifest order by start)
        found = sorted(await video_segments(), key=lambda d: d["index"])
        assert len(found) >= 2 and [d["index"] for d in found[:2]] == [0, 1]
        assert mediator.last_room()["recording"] is True and applicant.last_room()["recording"] is True
        key = await rooms.recordings.vault.data_key(live.case_id, datetime.now(UTC))
        for d in found[:2]:
            sealed = await rooms.cases.blobs.get(d["blob"])
            plain = unseal(key, sealed, live.case_id, d["file"])
            assert hashlib.sha256(plain).hexdigest() == d["sha256"]
            with av.open(io.BytesIO(plain)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert frames == d["frames"] and frames >= 25
            assert b"webm" not in sealed[:64] and plain[:4] == b"\x1a\x45\xdf\xa3"  # sealed vs Matroska
        # a byte flipped at rest: the store and the seal both name what was touched
        d = found[0]
        blob_path = rooms.cases.blobs.root / d["blob"][:2] / d["blob"][2:4] / d["blob"]
        raw = bytearray(blob_path.read_bytes())
        raw[100] ^= 0x01
        blob_path.write_bytes(bytes(raw))
        with pytest.raises(BlobIntegrityError, match=d["blob"]):
            await rooms.cases.blobs.get(d["blob"])
        with pytest.raises(BlobIntegrityError, match=d["file"]):
            unseal(key, bytes(raw), live.case_id, d["file"])
        # someone admitted who has not accepted the notice: recording stops for everyone
        respondent = live.peer("respondent")
        await respondent.connect()
        assert (await respondent.join(consent=False))["presence"] == "waiting"
        assert (await mediator.emit("admit", {"participant_id": live.ids["respondent"]}))["ok"]
        await mediator.wait_for(lambda p: p.last_room()["recording"] is False, what="the indicator going off")
        await asyncio.sleep(2.5)  # open segments close and are stored
        before = len(await segments_of(live))
        await asyncio.sleep(2.5)
        assert len(await segments_of(live)) == before
        await respondent.close()
        assert (await rooms.cases.repo.verify_audit(live.case_id)).ok
        trail, _ = await rooms.cases.repo.audit_trail(live.case_id)
        assert "room.consent" in [e.action for e in trail]
    finally:
        await applicant.close()
        await mediator.close()


async def test_session_end_writes_a_signed_manifest_and_verification_names_a_changed_segment(
    live_recording: Live, clips: dict[str, Path]
) -> None:
    live = live_recording
    rooms = live.app[ROOMS]
    mediator = await enter(live, "mediator", clips["vp8"])
    applicant = await enter(live, "applicant", clips["vp8b"], admit_by=mediator)
    try:
        for _ in range(100):
            if len(await segments_of(live)) >= 6:
                break
            await asyncio.sleep(0.2)
        assert (await mediator.emit("end"))["ok"]
        docs = [d for d in await rooms.cases.repo.documents(live.case_id) if d.kind == "recording_manifest"]
        assert len(docs) == 1 and docs[0].visibility == "staff"
        async with aiohttp.ClientSession() as http:

            async def check(who: str) -> tuple[int, Any]:
                async with http.get(
                    f"{live.base}/api/v1/cases/{live.case_id}/recording/verify",
                    headers={"Authorization": f"Bearer {live.tokens[who]}"},
                ) as resp:
                    return resp.status, await resp.json()

            status, report = await check("mediator")
            assert status == 200 and report["ok"], report
            session = report["sessions"][0]
            stored = await segments_of(live)
            assert session["segments"] == len(stored) >= 6  # every stored segment is in the manifest
            status, body = await check("applicant")
            assert (status, body["code"]) == (403, "forbidden")
            # flip one byte of one stored segment
            victim = stored[1]
            path = rooms.cases.blobs.root / victim["blob"][:2] / victim["blob"][2:4] / victim["blob"]
            raw = bytearray(path.read_bytes())
            raw[len(raw) // 2] ^= 0x80
            path.write_bytes(bytes(raw))
            status, report = await check("mediator")
            assert status == 200 and report["ok"] is False
            problems = report["sessions"][0]["problems"]
            assert problems == [f"segment {victim['file']}: altered at rest (does not match its address)"]
    finally:
        await applicant.close()
        await mediator.close()
