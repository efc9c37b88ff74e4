"""Playback of a real recording: a session recorded through the real server by real aiortc peers
(the applicant drops out and comes back, so their tracks have two recorder runs), then the
timeline, the remuxed clips decoded by PyAV, a segment tampered with at rest, who may play,
and the audit trail of every playback. A second recording has a caucus that leaves the
respondent out: with parties allowed to play, the server withholds it from the respondent."""

from __future__ import annotations

import asyncio
import fractions
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from recording.remux import remux
from recording.timeline import (
    CAUCUS_MARGIN,
    build_timeline,
    caucus_periods_from_trail,
    run_of,
    withholding_for,
)
from server.app import ROOMS, build_app
from server.config import Settings
from server.domain.audit import AuditEntry
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.record.playback import PLAYBACK_PARTIES
from server.store.accounts import Account
from tests.live import PASSWORD, Live, _live
from tests.media import make_clip
from tests.openapi import schema_validator
from tests.peers import ClientPeer, _demuxed

MODULE = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Recorded:
    """One recorded session, shared by the tests of this module (read-only, but for restored tampering)."""

    live: Live
    data_dir: Path
    tokens: dict[str, str]
    """mediator, judge, applicant, stranger (a mediator of another case)."""
    accounts: dict[str, str]
    """account ids of the mediator and the judge."""
    session_id: str
    while_recording: dict[str, Any]
    """The timeline as it was served while the session was still being recorded."""

    async def segments(self) -> list[dict[str, Any]]:
        trail, _ = await self.live.app[ROOMS].cases.repo.audit_trail(self.live.case_id)
        return [e.details_dict() for e in trail if e.action == "recording.segment"]

    async def played(self) -> list[Any]:
        trail, _ = await self.live.app[ROOMS].cases.repo.audit_trail(self.live.case_id)
        return [e for e in trail if e.action == "recording.played"]

    def path(self, tail: str = "") -> str:
        return f"/api/v1/cases/{self.live.case_id}/recording/sessions{tail}"


async def fetch(
    base: str, path: str, token: str | None, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], Any]:
    """GET; the body as JSON when it is JSON, else bytes."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.get(base + path, headers=h) as resp:
        raw = await resp.read()
        body: Any = await resp.json(content_type=None) if "json" in resp.content_type else raw
        return resp.status, CIMultiDict(resp.headers), body


async def account(live: Live, kind: AccountKind) -> tuple[str, str, str]:
    """A new account of ``kind``: its user name, id and a login token."""
    username = f"{kind.value[0]}-{uuid.uuid4().hex[:6]}"
    account_id = new_id()
    accounts = live.app[ROOMS].cases.accounts
    await accounts.create_account(
        Account(account_id, username, "账户", kind, "org", hash_password(PASSWORD, log2_n=10), datetime.now(UTC))
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(live.base + "/api/v1/auth/login", json={"username": username, "password": PASSWORD}) as resp,
    ):
        assert resp.status == 200
        return username, account_id, (await resp.json())["token"]


async def until(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` (bounded) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


async def enter(live: Live, who: str, clip: Path) -> ClientPeer:
    peer = live.peer(who, clip)
    await peer.connect()
    assert (await peer.join())["ok"]
    return peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorded]:
    tmp = tmp_path_factory.mktemp("playback")
    clips = {"a": make_clip(tmp / "a.webm", tone_hz=440), "b": make_clip(tmp / "b.webm", tone_hz=660)}
    async for live in _live(tmp, recording_segment_seconds=1.0):
        judge_name, judge_id, judge = await account(live, AccountKind.JUDGE)
        _, _, stranger = await account(live, AccountKind.MEDIATOR)
        status, _, added = await _post(
            live,
            f"/api/v1/cases/{live.case_id}/participants",
            live.tokens["mediator"],
            {"role": "judge", "display_name": "法官", "account_username": judge_name},
        )
        assert status == 201, added
        m, a = live.ids["mediator"], live.ids["applicant"]
        mediator = await enter(live, "mediator", clips["a"])
        applicant = await enter(live, "applicant", clips["b"])
        peers = [mediator, applicant]
        rec = Recorded(live, tmp, {}, {}, "", {})
        try:
            assert (await mediator.emit("admit", {"participant_id": a}))["ok"]
            await mediator.publish()
            await applicant.publish()

            async def tracks_with(count: int, runs: int = 1, rec: Recorded = rec, m: str = m, a: str = a) -> bool:
                found = await rec.segments()
                for pid in (m, a):
                    for kind in ("audio", "video"):
                        mine = [d for d in found if d["track"] == f"{pid}:{kind}"]
                        last_run = run_of(mine[-1]["file"], pid, kind) if mine else ""
                        wanted_runs = runs if pid == a else 1
                        if len({run_of(d["file"], pid, kind) for d in mine}) < wanted_runs:
                            return False
                        if sum(1 for d in mine if run_of(d["file"], pid, kind) == last_run) < count:
                            return False
                return True

            await until(lambda: tracks_with(3), "three segments of every track")
            session_id = (await rec.segments())[0]["session_id"]
            status, _, while_recording = await fetch(
                live.base,
                f"/api/v1/cases/{live.case_id}/recording/sessions/{session_id}/timeline",
                live.tokens["mediator"],
            )
            assert status == 200, while_recording
            # the applicant's connection drops; they come back: their recorders start new runs
            await applicant.close()
            await asyncio.sleep(1.0)
            applicant = await enter(live, "applicant", clips["b"])
            peers.append(applicant)
            await applicant.publish()
            await until(lambda: tracks_with(3, runs=2), "three segments of the applicant's second runs")
            assert (await mediator.emit("end"))["ok"]
        finally:
            for peer in peers:
                await peer.close()
        rec.tokens = {
            "mediator": live.tokens["mediator"],
            "judge": judge,
            "applicant": live.tokens["applicant"],
            "stranger": stranger,
        }
        rec.accounts = {"judge": judge_id}
        rec.session_id = session_id
        rec.while_recording = while_recording
        yield rec


async def _post(live: Live, path: str, token: str, json: Any) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(live.base + path, json=json, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.json()


async def timeline_of(rec: Recorded, who: str = "mediator") -> dict[str, Any]:
    status, _, body = await fetch(rec.live.base, rec.path(f"/{rec.session_id}/timeline"), rec.tokens[who])
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def laid_out(segments: list[dict[str, Any]]) -> list[float]:
    """Where each segment of one run (in index order) sits in its clip's file, in seconds from the first:
    at its wall-clock offset, or where the one before it ends if that is later (frames in a burst)."""
    first, at, out = iso(segments[0]["started_at"]), 0.0, []
    for d in segments:
        at = max(at, (iso(d["started_at"]) - first).total_seconds())
        out.append(at)
        at += d["duration"]
    return out


def decode(data: bytes) -> tuple[str, str, int, float]:
    """Container, codec, decoded frames and the last frame's end (seconds) of a remuxed clip."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams[0]
        frames, end = 0, 0.0
        for frame in container.decode(stream):
            frames += 1
            assert frame.time is not None
            step = 1 / 30 if stream.type == "video" else frame.samples / frame.sample_rate
            end = max(end, frame.time + step)
        return container.format.name, stream.codec_context.name, frames, end


@MODULE
async def test_timeline_lists_one_clip_per_run_at_its_offset(recorded: Recorded) -> None:
    rec = recorded
    m, a = rec.live.ids["mediator"], rec.live.ids["applicant"]
    segments = [d for d in await rec.segments() if d["session_id"] == rec.session_id]
    status, _, listing = await fetch(rec.live.base, rec.path(), rec.tokens["mediator"])
    assert status == 200
    assert [s["session_id"] for s in listing["sessions"]] == [rec.session_id]
    session = listing["sessions"][0]
    assert session["sealed"] is True and session["tracks"] == 4 and session["segments"] == len(segments)
    assert session["status"] == "ended"

    body = await timeline_of(rec)
    assert body["sealed"] is True and body["signature_ok"] is True and body["manifest_document_id"]
    origin = min(iso(d["started_at"]) for d in segments)
    assert iso(body["origin"]) == origin
    expected: dict[str, list[dict[str, Any]]] = {}
    for d in segments:
        pid, kind = d["track"].split(":")
        expected.setdefault(f"{pid}-{kind}-{run_of(d['file'], pid, kind)}", []).append(d)
    assert {c["id"] for c in body["clips"]} == set(expected)
    assert len(body["clips"]) == 6  # mediator: one run per kind; applicant: two runs per kind
    for clip in body["clips"]:
        mine = sorted(expected[clip["id"]], key=lambda d: d["index"])
        first = iso(mine[0]["started_at"])
        end = max(iso(d["started_at"]).timestamp() + d["duration"] for d in mine)
        assert clip["start"] == pytest.approx((first - origin).total_seconds(), abs=0.002)
        assert clip["duration"] == pytest.approx(laid_out(mine)[-1] + mine[-1]["duration"], abs=0.002)
        assert clip["duration"] >= end - first.timestamp() - 0.002  # never shorter than its wall-clock span
        assert clip["segments"] == len(mine) and clip["frames"] == sum(d["frames"] for d in mine)
        assert clip["codec"] == ("vp8" if clip["kind"] == "video" else "opus")
        assert clip["media_type"] == ("video/webm" if clip["kind"] == "video" else "audio/webm")
        assert clip["url"].endswith(f"/sessions/{rec.session_id}/clips/{clip['id']}")
    assert body["duration"] == pytest.approx(max(c["start"] + c["duration"] for c in body["clips"]), abs=0.002)
    assert {p["participant_id"]: p["role"] for p in body["participants"]} == {m: "mediator", a: "applicant"}
    assert body["caucus"] == [] and body["resumed_after_interruption"] == []
    # both answers are what the OpenAPI document says they are
    _, _, doc = await fetch(rec.live.base, "/api/v1/openapi.json", None)
    for answer, schema in ((listing, "RecordedSessions"), (body, "PlaybackTimeline")):
        errors = list(schema_validator(doc, schema).iter_errors(answer))
        assert not errors, (schema, errors[0].message)
    # while the session was being recorded the timeline came from the audit trail, unsigned
    early = rec.while_recording
    assert early["sealed"] is False and early["signature_ok"] is None and early["manifest_document_id"] is None
    assert early["origin"] == body["origin"] and len(early["clips"]) == 4
    for clip in early["clips"]:
        later = next(c for c in body["clips"] if c["id"] == clip["id"])
        assert clip["start"] == later["start"] and clip["duration"] <= later["duration"]


@MODULE
async def test_a_restart_is_two_clips_with_an_interruption_between(recorded: Recorded) -> None:
    body = await timeline_of(recorded)
    m, a = recorded.live.ids["mediator"], recorded.live.ids["applicant"]
    for kind in ("audio", "video"):
        runs = sorted((c for c in body["clips"] if c["track"] == f"{a}:{kind}"), key=lambda c: c["start"])
        assert len(runs) == 2 and runs[0]["run"] != runs[1]["run"]
        gaps = [i for i in body["interruptions"] if i["track"] == f"{a}:{kind}"]
        assert len(gaps) == 1 and gaps[0]["reason"] == "restart"
        assert gaps[0]["start"] == pytest.approx(runs[0]["start"] + runs[0]["duration"], abs=0.002)
        assert gaps[0]["end"] == pytest.approx(runs[1]["start"], abs=0.002)
        # the applicant was away for a second at least; the gap's start is where the first run's clip ends as laid
        # out, which a late-arriving segment pushes later (a segment sits at its first frame's arrival, never
        # earlier than the one before it ends): seen 0.918 s once in four runs on an idle machine
        assert gaps[0]["end"] - gaps[0]["start"] >= 0.75
    assert not [i for i in body["interruptions"] if i["participant_id"] == m]


@MODULE
async def test_every_clip_decodes_fully_as_webm(recorded: Recorded) -> None:
    body = await timeline_of(recorded)
    segments = {d["file"]: d for d in await recorded.segments()}
    for clip in body["clips"]:
        status, headers, data = await fetch(recorded.live.base, clip["url"], recorded.tokens["mediator"])
        assert status == 200, data
        assert headers["Content-Type"] == clip["media_type"] and headers["Cache-Control"] == "no-store"
        assert headers["X-Recording-Skipped"] == "0" and "X-Recording-Problems" not in headers
        assert data[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in data[:64]  # EBML, doctype webm
        fmt, codec, frames, end = decode(data)
        assert "webm" in fmt and codec == clip["codec"]
        assert frames == clip["frames"] == int(headers["X-Recording-Frames"])
        mine = [d for d in segments.values() if d["file"].startswith(clip["id"] + "-")]
        total = sum(d["duration"] for d in mine)
        # the file is as long as the timeline says, however the frames arrived (a loaded machine delivers
        # them in bursts, which the layout absorbs): a player's clock and the timeline's agree
        assert end == pytest.approx(clip["duration"], abs=0.25), (clip["id"], end, clip["duration"])
        assert end >= total - 0.25, (clip["id"], end, total)


@MODULE
async def test_range_requests_are_answered_from_the_built_file(recorded: Recorded) -> None:
    clip = (await timeline_of(recorded))["clips"][0]
    token = recorded.tokens["mediator"]
    _, headers, whole = await fetch(recorded.live.base, clip["url"], token)
    status, part_headers, part = await fetch(recorded.live.base, clip["url"], token, {"Range": "bytes=100-1099"})
    assert status == 206 and part == whole[100:1100]
    assert part_headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert part_headers["ETag"] == headers["ETag"]  # the same clip is built the same, byte for byte
    status, _, tail = await fetch(recorded.live.base, clip["url"], token, {"Range": "bytes=-10"})
    assert status == 206 and tail == whole[-10:]
    status, bad_headers, problem = await fetch(recorded.live.base, clip["url"], token, {"Range": "bytes=99999999-"})
    assert status == 416 and problem["code"] == "range_not_satisfiable"
    assert bad_headers["Content-Range"] == f"bytes */{len(whole)}"


@MODULE
async def test_a_tampered_segment_is_left_out_and_named(recorded: Recorded) -> None:
    body = await timeline_of(recorded)
    m = recorded.live.ids["mediator"]
    clip = next(c for c in body["clips"] if c["track"] == f"{m}:video")
    mine = sorted(
        (d for d in await recorded.segments() if d["file"].startswith(clip["id"] + "-")), key=lambda d: d["index"]
    )
    victim = mine[1]
    blobs = recorded.live.app[ROOMS].cases.blobs
    path = blobs.root / victim["blob"][:2] / victim["blob"][2:4] / victim["blob"]
    original = path.read_bytes()
    raw = bytearray(original)
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    try:
        status, headers, data = await fetch(recorded.live.base, clip["url"], recorded.tokens["judge"])
        assert status == 200
        assert headers["X-Recording-Skipped"] == "1"
        assert headers["X-Recording-Problems"] == f"{victim['file']}: altered at rest (does not match its address)"
        _, _, frames, _ = decode(data)
        assert frames == clip["frames"] - victim["frames"]
        played = (await recorded.played())[-1]
        assert played.details_dict()["skipped"] == [victim["file"]]
    finally:
        path.write_bytes(original)
    status, headers, _ = await fetch(recorded.live.base, clip["url"], recorded.tokens["judge"])
    assert status == 200 and headers["X-Recording-Skipped"] == "0"


@MODULE
async def test_who_may_play(recorded: Recorded) -> None:
    rec = recorded
    body = await timeline_of(rec)
    clip = body["clips"][0]["url"]
    timeline = rec.path(f"/{rec.session_id}/timeline")
    for path in (rec.path(), timeline, clip):
        assert (await fetch(rec.live.base, path, rec.tokens["mediator"]))[0] == 200
        assert (await fetch(rec.live.base, path, rec.tokens["judge"]))[0] == 200
        status, _, problem = await fetch(rec.live.base, path, rec.tokens["applicant"])
        assert (status, problem["code"]) == (403, "forbidden")
        status, _, problem = await fetch(rec.live.base, path, rec.tokens["stranger"])
        assert (status, problem["code"]) == (404, "not_found")
        status, _, problem = await fetch(rec.live.base, path, None)
        assert (status, problem["code"]) == (401, "unauthenticated")
    unknown = [
        rec.path("/no-such-session/timeline"),
        rec.path(f"/{rec.session_id}/clips/no-such-clip"),
        rec.path("/no-such-session/clips/" + body["clips"][0]["id"]),
        f"/api/v1/cases/{uuid.uuid4()}/recording/sessions",
    ]
    for path in unknown:
        status, headers, problem = await fetch(rec.live.base, path, rec.tokens["mediator"])
        assert (status, problem["code"]) == (404, "not_found"), path
        assert headers["Content-Type"].startswith("application/problem+json")


@MODULE
async def test_every_playback_is_in_the_audit_trail(recorded: Recorded) -> None:
    rec = recorded
    clips = (await timeline_of(rec))["clips"]
    before = len(await rec.played())
    await fetch(rec.live.base, clips[0]["url"], rec.tokens["mediator"])
    await fetch(rec.live.base, clips[1]["url"], rec.tokens["judge"], {"Range": "bytes=0-9"})
    await fetch(rec.live.base, clips[1]["url"], rec.tokens["applicant"])  # refused: not played
    played = (await rec.played())[before:]
    assert len(played) == 2
    mediator_account = (await rec.live.app[ROOMS].cases.accounts.account_by_username(rec.live.username)).id
    assert [e.actor for e in played] == [f"account:{mediator_account}", f"account:{rec.accounts['judge']}"]
    for entry, clip, wanted in zip(played, clips[:2], (None, "bytes=0-9"), strict=True):
        details = entry.details_dict()
        assert (details["session_id"], details["clip_id"], details["range"]) == (rec.session_id, clip["id"], wanted)
        assert details["track"] == clip["track"] and details["skipped"] == []
    assert (await rec.live.app[ROOMS].cases.repo.verify_audit(rec.live.case_id)).ok


@MODULE
async def test_a_playback_is_built_once_and_audited_once(recorded: Recorded) -> None:
    """A media element's pieces of one playback come from one build and make one audit entry."""
    rec = recorded
    m = rec.live.ids["mediator"]
    clip = next(c for c in (await timeline_of(rec))["clips"] if c["track"] == f"{m}:video")
    judge, mediator = rec.tokens["judge"], rec.tokens["mediator"]
    before = len(await rec.played())
    status, headers, whole = await fetch(rec.live.base, clip["url"], judge, {"Range": "bytes=0-"})
    assert status == 206 and headers["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"
    size = len(whole)
    # a segment changed at rest now is not seen by this playback's later pieces: they are the built file
    # (the next playback builds again and names it: test_a_tampered_segment_is_left_out_and_named)
    victim = sorted(
        (d for d in await rec.segments() if d["file"].startswith(clip["id"] + "-")), key=lambda d: d["index"]
    )[0]
    blobs = rec.live.app[ROOMS].cases.blobs
    path = blobs.root / victim["blob"][:2] / victim["blob"][2:4] / victim["blob"]
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 0x01]))
    try:
        wanted = [
            (100, 1099),
            (size // 3, size // 3 + 300_000),  # across the cache's 256 KiB chunks when the clip is that long
            (size // 2, size - 1),
            (size - 10, size - 1),
        ]
        for first, last in wanted:
            last = min(last, size - 1)
            status, part_headers, part = await fetch(
                rec.live.base, clip["url"], judge, {"Range": f"bytes={first}-{last}"}
            )
            assert status == 206 and part == whole[first : last + 1], (first, last)
            assert part_headers["Content-Range"] == f"bytes {first}-{last}/{size}"
            assert part_headers["ETag"] == headers["ETag"] and part_headers["X-Recording-Skipped"] == "0"
        status, _, tail = await fetch(rec.live.base, clip["url"], judge, {"Range": "bytes=-10"})
        assert status == 206 and tail == whole[-10:]
        status, _, problem = await fetch(rec.live.base, clip["url"], judge, {"Range": f"bytes={size}-"})
        assert status == 416 and problem["code"] == "range_not_satisfiable"
        played = (await rec.played())[before:]
        assert len(played) == 1  # seven requests, one playback
        assert played[0].actor == f"account:{rec.accounts['judge']}"
        assert played[0].details_dict()["range"] == "bytes=0-"
        # another caller's piece of the same build is their playback: audited once, not twice
        for _ in range(2):
            status, _, part = await fetch(rec.live.base, clip["url"], mediator, {"Range": "bytes=1000-1999"})
            assert status == 206 and part == whole[1000:2000]
        played = (await rec.played())[before:]
        assert len(played) == 2 and played[1].details_dict()["range"] == "bytes=1000-1999"
        assert played[1].actor != played[0].actor
    finally:
        path.write_bytes(original)
    assert (await rec.live.app[ROOMS].cases.repo.verify_audit(rec.live.case_id)).ok


@MODULE
async def test_parties_may_play_where_the_server_allows_it(recorded: Recorded) -> None:
    """A second node on the same store with the setting on: the applicant's link plays."""
    settings = Settings(
        data_dir=recorded.data_dir,
        database_url=f"sqlite+aiosqlite:///{recorded.data_dir / 'live.db'}",
        secret_key="s" * 40,
        auto_migrate=False,
    )
    app = build_app(settings)
    app[PLAYBACK_PARTIES] = True
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        path = recorded.path(f"/{recorded.session_id}/timeline")
        status, _, body = await fetch(base, path, recorded.tokens["applicant"])
        assert status == 200, body
        status, headers, _ = await fetch(base, body["clips"][0]["url"], recorded.tokens["applicant"])
        assert status == 200 and headers["X-Recording-Skipped"] == "0"
        played = (await recorded.played())[-1]
        assert played.actor == f"participant:{recorded.live.ids['applicant']}"
        status, _, _ = await fetch(base, path, recorded.tokens["stranger"])
        assert status == 404
    finally:
        await server.close()


# ---------------------------------------------------------------- a caucus withheld from a party


@dataclass
class Caucused:
    """A session with a caucus (mediator and applicant) that left the respondent out; parties may play."""

    live: Live
    tokens: dict[str, str]
    """mediator, judge, applicant, respondent."""
    session_id: str
    caucus: tuple[datetime, datetime]
    """Wall clock of the caucus' start and end, from the audit trail."""
    segments: list[dict[str, Any]]
    """Every ``recording.segment`` entry of the session."""

    def path(self, tail: str = "") -> str:
        return f"/api/v1/cases/{self.live.case_id}/recording/sessions/{self.session_id}{tail}"

    def private(self, segment: dict[str, Any]) -> bool:
        """Whether a segment overlaps the caucus (any overlap, widened by the margin on both sides)."""
        start = iso(segment["started_at"])
        end = start + timedelta(seconds=segment["duration"])
        margin = timedelta(seconds=CAUCUS_MARGIN)
        return start < self.caucus[1] + margin and end > self.caucus[0] - margin

    def of_clip(self, clip_id: str) -> list[dict[str, Any]]:
        return sorted((d for d in self.segments if d["file"].startswith(clip_id + "-")), key=lambda d: d["index"])

    async def played(self) -> list[Any]:
        trail, _ = await self.live.app[ROOMS].cases.repo.audit_trail(self.live.case_id)
        return [e for e in trail if e.action == "recording.played"]


async def track_counts(live: Live) -> dict[str, int]:
    """Stored segments per track."""
    trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
    out: dict[str, int] = {}
    for e in trail:
        if e.action == "recording.segment":
            track = e.details_dict()["track"]
            out[track] = out.get(track, 0) + 1
    return out


async def each_track(live: Live, at_least: dict[str, int] | int, tracks: int = 6) -> bool:
    """Whether each of ``tracks`` tracks has ``at_least`` segments (a number, or one per track)."""
    found = await track_counts(live)
    if len(found) < tracks:
        return False
    return all(n >= (at_least if isinstance(at_least, int) else at_least.get(t, 0)) for t, n in found.items())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def caucused(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Caucused]:
    tmp = tmp_path_factory.mktemp("caucus")
    clips = {
        "mediator": make_clip(tmp / "m.webm", tone_hz=440),
        "applicant": make_clip(tmp / "a.webm", tone_hz=550),
        "respondent": make_clip(tmp / "r.webm", tone_hz=660),
    }
    async for live in _live(tmp, recording_segment_seconds=1.0, playback_parties=True):
        repo = live.app[ROOMS].cases.repo
        judge_name, _, judge = await account(live, AccountKind.JUDGE)
        status, _, added = await _post(
            live,
            f"/api/v1/cases/{live.case_id}/participants",
            live.tokens["mediator"],
            {"role": "judge", "display_name": "法官", "account_username": judge_name},
        )
        assert status == 201, added
        peers: list[ClientPeer] = []
        try:
            for who in ("mediator", "applicant", "respondent"):
                peers.append(await enter(live, who, clips[who]))
            mediator = peers[0]
            for who in ("applicant", "respondent"):
                assert (await mediator.emit("admit", {"participant_id": live.ids[who]}))["ok"]
            for peer in peers:
                await peer.publish()
            await until(partial(each_track, live, 2), "two segments of every track")
            ack = await mediator.emit("caucus_start", {"members": [live.ids["applicant"]]})
            assert ack["ok"], ack
            await asyncio.sleep(2.5)
            assert (await mediator.emit("caucus_end"))["ok"]
            after = await track_counts(live)
            more = {t: n + 2 for t, n in after.items()}
            await until(partial(each_track, live, more), "two more segments of every track after the caucus")
            assert (await mediator.emit("end"))["ok"]
        finally:
            for peer in peers:
                await peer.close()
        trail, _ = await repo.audit_trail(live.case_id)
        segments = [e.details_dict() for e in trail if e.action == "recording.segment"]
        session_id = segments[0]["session_id"]
        changes = [e for e in trail if e.action == "room.caucus"]
        assert [bool(e.details_dict()["members"]) for e in changes] == [True, False]
        tokens = {**live.tokens, "judge": judge}
        yield Caucused(live, tokens, session_id, (iso(changes[0].at), iso(changes[1].at)), segments)


async def clip_frames(base: str, url: str, token: str) -> tuple[CIMultiDict[str], bytes, int, list[float]]:
    """Headers, bytes, decoded frames and every packet's time (seconds from the file's start) of a clip."""
    status, headers, data = await fetch(base, url, token)
    assert status == 200, data
    _, _, frames, _ = decode(data)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams[0]
        times = [float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None and p.size]
    return headers, data, frames, times


@MODULE
async def test_a_party_is_not_played_a_caucus_they_were_not_in(caucused: Caucused) -> None:
    rec = caucused
    base = rec.live.base
    _, _, staff_view = await fetch(base, rec.path("/timeline"), rec.tokens["mediator"])
    status, _, mine = await fetch(base, rec.path("/timeline"), rec.tokens["respondent"])
    assert status == 200, mine
    # the respondent's timeline: the caucus is there, marked withheld, and so are the clips' segments in it
    assert mine["restricted"] is True and staff_view["restricted"] is False
    [period] = mine["caucus"]
    assert period["withheld"] is True and rec.live.ids["respondent"] not in period["members"]
    assert iso(period["started_at"]) == rec.caucus[0] and iso(period["ended_at"]) == rec.caucus[1]
    assert [c["withheld"] for c in staff_view["caucus"]] == [False]
    _, _, doc = await fetch(base, "/api/v1/openapi.json", None)
    assert not list(schema_validator(doc, "PlaybackTimeline").iter_errors(mine))
    assert len(mine["clips"]) == len(staff_view["clips"]) == 6
    total = 0
    before = len(await rec.played())
    for clip in staff_view["clips"]:
        segments = rec.of_clip(clip["id"])
        private = [d for d in segments if rec.private(d)]
        assert private and len(private) < len(segments), clip["id"]  # every track was recorded through the caucus
        assert clip["withheld"] == 0
        assert next(c for c in mine["clips"] if c["id"] == clip["id"])["withheld"] == len(private)

        # the same clip, for the mediator and for the respondent
        m_headers, _, m_frames, _ = await clip_frames(base, clip["url"], rec.tokens["mediator"])
        r_headers, r_data, r_frames, r_times = await clip_frames(base, clip["url"], rec.tokens["respondent"])
        assert m_headers["X-Recording-Withheld"] == "0" and m_frames == clip["frames"]
        assert r_headers["X-Recording-Withheld"] == str(len(private))
        assert r_frames < m_frames
        assert r_frames == int(r_headers["X-Recording-Frames"]) == clip["frames"] - sum(d["frames"] for d in private)
        # nothing in the respondent's file falls where a withheld segment sits (the clip's layout: wall-clock
        # offsets unless frames came in a burst), and what is kept is played where the timeline puts it: the
        # first kept segment after the caucus starts at its offset
        offsets = laid_out(segments)
        withheld_at = [(o, o + d["duration"]) for o, d in zip(offsets, segments, strict=True) if rec.private(d)]
        inside = [t for t in r_times if any(a + 0.001 < t < b - 0.001 for a, b in withheld_at)]
        assert not inside, (clip["id"], inside)
        pairs = zip(offsets, segments, strict=True)
        kept_after = [o for o, d in pairs if iso(d["started_at"]) >= rec.caucus[1] and not rec.private(d)]
        assert any(abs(t - kept_after[0]) < 0.05 for t in r_times), (clip["id"], kept_after[0])
        assert r_data != (await fetch(base, clip["url"], rec.tokens["judge"]))[2]  # the judge gets everything
        total += len(private)
    assert total >= 6 * 2  # a 2.5 s caucus with 1 s segments: at least two segments of every track

    # the audit trail names what was withheld, for whom
    played = (await rec.played())[before:]
    respondent = f"participant:{rec.live.ids['respondent']}"
    withheld = {e.details_dict()["clip_id"]: e.details_dict() for e in played if e.actor == respondent}
    assert set(withheld) == {c["id"] for c in staff_view["clips"]}
    for clip_id, details in withheld.items():
        private = [d for d in rec.of_clip(clip_id) if rec.private(d)]
        assert details["withheld"] == [d["file"] for d in private]
        assert details["withheld_periods"] == [
            {"started_at": rec.caucus[0].isoformat(), "ended_at": rec.caucus[1].isoformat()}
        ]
        assert details["segments"] == len(rec.of_clip(clip_id)) - len(private)
    for e in played:
        if e.actor != respondent:
            assert e.details_dict()["withheld"] == [] and e.details_dict()["withheld_periods"] == []
    assert (await rec.live.app[ROOMS].cases.repo.verify_audit(rec.live.case_id)).ok


@MODULE
async def test_a_party_in_the_caucus_is_played_everything(caucused: Caucused) -> None:
    rec = caucused
    status, _, mine = await fetch(rec.live.base, rec.path("/timeline"), rec.tokens["applicant"])
    assert status == 200, mine
    assert mine["restricted"] is True
    assert [c["withheld"] for c in mine["caucus"]] == [False]
    assert all(c["withheld"] == 0 for c in mine["clips"])
    for clip in mine["clips"]:
        headers, _, frames, _ = await clip_frames(rec.live.base, clip["url"], rec.tokens["applicant"])
        assert headers["X-Recording-Withheld"] == "0" and frames == clip["frames"]
        assert headers["X-Recording-Skipped"] == "0"
    # a Range request of the respondent is cut from the respondent's own (smaller) file
    clip = mine["clips"][0]
    _, _, whole = await fetch(rec.live.base, clip["url"], rec.tokens["respondent"])
    status, headers, part = await fetch(rec.live.base, clip["url"], rec.tokens["respondent"], {"Range": "bytes=0-99"})
    assert status == 206 and part == whole[:100] and headers["X-Recording-Withheld"] != "0"
    assert headers["Content-Range"] == f"bytes 0-99/{len(whole)}"


def _entry(seq: int, at: datetime, action: str, details: dict[str, Any]) -> AuditEntry:
    import json

    return AuditEntry("c", seq, at.isoformat(), "system", action, json.dumps(details), "", "")


def test_withholding_covers_a_replaced_caucus_and_one_that_never_ended() -> None:
    """The audit trail's caucus periods, beyond what the manifest may say: a caucus replaced by
    another (without an end between) and one still running when the session ended."""
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    trail = [
        _entry(1, at(10), "room.caucus", {"session_id": "s", "members": ["m", "a"]}),
        _entry(2, at(20), "room.caucus", {"session_id": "s", "members": ["m", "r"]}),
        _entry(3, at(30), "room.caucus", {"session_id": "s", "members": None}),
        _entry(4, at(35), "room.caucus", {"session_id": "other", "members": ["m", "a"]}),
        _entry(5, at(50), "room.caucus", {"session_id": "s", "members": ["m", "a"]}),
    ]
    periods = caucus_periods_from_trail(trail, "s")
    assert [(p["start"], p["end"], p["members"]) for p in periods] == [
        (at(10).isoformat(), at(20).isoformat(), ["m", "a"]),
        (at(20).isoformat(), at(30).isoformat(), ["m", "r"]),
        (at(50).isoformat(), None, ["m", "a"]),
    ]
    segments = [
        {
            "index": i,
            "file": f"m-audio-1-{i:05d}.mkv",
            "blob": "0" * 64,
            "sha256": "0" * 64,
            "started_at": at(i * 4).isoformat(),
            "duration": 4.0,
            "frames": 200,
        }
        for i in range(16)
    ]
    # the manifest (as the archive wrote it) knows only the second caucus
    manifest = {
        "case_id": "c",
        "session_id": "s",
        "tracks": [{"track": "m:audio", "participant_id": "m", "kind": "audio", "segments": segments}],
        "caucus": [{"start": at(20).isoformat(), "end": at(30).isoformat(), "members": ["m", "r"]}],
        "resumed_after_interruption": [],
    }
    timeline = build_timeline(manifest)
    [clip] = timeline.clips

    def withheld(pid: str, trail_periods: list[dict[str, Any]], margin: float = CAUCUS_MARGIN) -> list[int]:
        view = withholding_for(timeline, pid, trail_periods)
        return [s.index for s in replace(view, margin=margin).segments(clip)]

    # segments are [4i, 4i + 4): a segment that only touches a period (within the margin) is withheld too
    # the respondent was in the second caucus only: the first and the last (which never ended) are withheld
    assert withheld("r", periods) == [2, 3, 4, 5, 12, 13, 14, 15]
    assert withheld("r", periods, margin=0) == [2, 3, 4, 12, 13, 14, 15]
    # the applicant was in the first and the last
    assert withheld("a", periods) == [4, 5, 6, 7]
    assert withheld("a", periods, margin=0) == [5, 6, 7]
    # the insurer was in none of them: everything that overlaps any of them
    assert withheld("i", periods) == [2, 3, 4, 5, 6, 7, 12, 13, 14, 15]
    # from the manifest alone the respondent would have heard the first caucus and the last
    assert withheld("r", []) == []
    view = withholding_for(timeline, "r", periods)
    assert [p.members for p in view.periods] == [("m", "a"), ("m", "r"), ("m", "a")]
    assert [p.members for p in view.private] == [("m", "a"), ("m", "a")]
    assert view.private[1].end is None


# ---------------------------------------------------------------- H.264 and the remux itself


@pytest_asyncio.fixture
async def live_h264(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, "H264", recording_segment_seconds=1.0):
        yield value


@pytest.mark.asyncio
async def test_an_h264_room_plays_back_as_mp4(live_h264: Live, tmp_path: Path) -> None:
    live = live_h264
    m = live.ids["mediator"]
    mediator = await enter(live, "mediator", make_clip(tmp_path / "c.ts", video="libx264"))
    applicant = await enter(live, "applicant", make_clip(tmp_path / "d.ts", video="libx264"))
    try:
        assert (await mediator.emit("admit", {"participant_id": live.ids["applicant"]}))["ok"]
        await mediator.publish()
        await applicant.publish()

        async def enough() -> bool:
            trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
            tracks = [e.details_dict()["track"] for e in trail if e.action == "recording.segment"]
            return tracks.count(f"{m}:video") >= 3 and tracks.count(f"{m}:audio") >= 3

        await until(enough, "three H.264 segments")
        assert (await mediator.emit("end"))["ok"]
    finally:
        await applicant.close()
        await mediator.close()
    trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
    session_id = next(e.details_dict()["session_id"] for e in trail if e.action == "recording.segment")
    path = f"/api/v1/cases/{live.case_id}/recording/sessions/{session_id}/timeline"
    status, _, body = await fetch(live.base, path, live.tokens["mediator"])
    assert status == 200, body
    video = next(c for c in body["clips"] if c["track"] == f"{m}:video")
    audio = next(c for c in body["clips"] if c["track"] == f"{m}:audio")
    assert (video["codec"], video["media_type"]) == ("h264", "video/mp4")
    assert (audio["codec"], audio["media_type"]) == ("opus", "audio/webm")
    status, headers, data = await fetch(live.base, video["url"], live.tokens["mediator"])
    assert status == 200 and headers["Content-Type"] == "video/mp4" and data[4:8] == b"ftyp"
    fmt, codec, frames, end = decode(data)
    assert "mp4" in fmt and codec == "h264" and frames == video["frames"]
    assert end == pytest.approx(video["duration"], abs=0.25)


def h264_segments(tmp_path: Path) -> list[tuple[datetime, bytes, int]]:
    """Matroska segments of H.264 as a recorder writes them: one per keyframe, timestamps from 0."""
    clip = make_clip(tmp_path / "c.ts", seconds=3, video="libx264")
    packets, time_base, _ = _demuxed(str(clip))["video"]
    out: list[tuple[datetime, bytes, int]] = []
    starts = [i for i, (_, _, key) in enumerate(packets) if key]
    for n, first in enumerate(starts):
        chunk = packets[first : starts[n + 1] if n + 1 < len(starts) else len(packets)]
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="matroska") as container:
            stream = container.add_stream("h264", rate=30)
            stream.width, stream.height = 320, 240
            for data, pts, key in chunk:
                packet = av.Packet(data)
                packet.pts = packet.dts = int((pts - chunk[0][1]) * time_base * 90000)
                packet.time_base = fractions.Fraction(1, 90000)
                packet.is_keyframe = key
                packet.stream = stream
                container.mux(packet)
        start = datetime.fromtimestamp(1_800_000_000 + float(chunk[0][1] * time_base), UTC)
        out.append((start, buffer.getvalue(), len(chunk)))
    return out


def test_h264_clips_become_mp4_without_reencoding(tmp_path: Path) -> None:
    segments = h264_segments(tmp_path)
    assert len(segments) == 3
    origin = segments[0][0]
    remuxed = remux([((start - origin).total_seconds(), data) for start, data, _ in segments])
    assert (remuxed.codec, remuxed.container) == ("h264", "mp4")
    assert remuxed.data[4:8] == b"ftyp"
    fmt, codec, frames, end = decode(remuxed.data)
    assert "mp4" in fmt and codec == "h264"
    assert frames == remuxed.packets == sum(n for _, _, n in segments) == 90
    assert end == pytest.approx(3.0, abs=0.1)
    manifest = {
        "case_id": "c",
        "session_id": "s",
        "tracks": [
            {
                "track": "p:video",
                "participant_id": "p",
                "kind": "video",
                "segments": [
                    {
                        "index": i,
                        "file": f"p-video-18f-{i:05d}.mkv",
                        "blob": "0" * 64,
                        "sha256": "0" * 64,
                        "started_at": start.isoformat(),
                        "duration": 1.0,
                        "frames": n,
                    }
                    for i, (start, _, n) in enumerate(segments)
                ],
            }
        ],
        "caucus": [],
        "resumed_after_interruption": [],
    }
    timeline = build_timeline(manifest, {"p-video-18f": "h264"})
    assert [(c.id, c.media_type, c.start, c.duration) for c in timeline.clips] == [
        ("p-video-18f", "video/mp4", 0.0, pytest.approx(3.0))
    ]


def test_segments_that_overlap_in_wall_time_still_play_in_order(tmp_path: Path) -> None:
    """Wall clocks jitter: a segment stamped before the previous one ended starts right after it."""
    segments = h264_segments(tmp_path)
    remuxed = remux([(0.0, data) for _, data, _ in segments])  # every segment claims offset 0
    with av.open(io.BytesIO(remuxed.data)) as container:
        stream = container.streams.video[0]
        times = [float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None]
    assert len(times) == 90 and times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] == pytest.approx(89 / 30, abs=0.05)


def manifest_of(video: list[tuple[datetime, int]]) -> dict[str, Any]:
    """A one-track manifest: (wall-clock start, frames) per one-second segment of one run."""
    segments = [
        {
            "index": i,
            "file": f"p-video-18f-{i:05d}.mkv",
            "blob": "0" * 64,
            "sha256": "0" * 64,
            "started_at": start.isoformat(),
            "duration": 1.0,
            "frames": frames,
        }
        for i, (start, frames) in enumerate(video)
    ]
    track = {"track": "p:video", "participant_id": "p", "kind": "video", "segments": segments}
    return {"case_id": "c", "session_id": "s", "tracks": [track], "caucus": [], "resumed_after_interruption": []}


def test_a_burst_of_late_frames_is_laid_out_as_the_file_holds_it(tmp_path: Path) -> None:
    """The CI failure of 2026-12-04: the first segment's frames reached a loaded server late and in a burst.

    Its next segment then starts (by wall clock) before it ends. The file puts it after its
    predecessor, so the timeline must too: a clip's duration is its file's length, and a gap is
    measured from where the file's media ends.
    """
    segments = h264_segments(tmp_path)
    t0 = segments[0][0]
    # second 0 arrives 0.6 s late; the rest on time, with a 2.5 s silence before the third
    arrivals = [t0 + timedelta(seconds=0.6), t0 + timedelta(seconds=1.0), t0 + timedelta(seconds=4.5)]
    timeline = build_timeline(
        manifest_of([(at, n) for at, (_, _, n) in zip(arrivals, segments, strict=True)]), {"p-video-18f": "h264"}
    )
    (clip,) = timeline.clips
    assert [s.offset for s in clip.segments] == pytest.approx([0.0, 1.0, 3.9])
    assert clip.start == 0.0 and clip.duration == pytest.approx(4.9)
    (gap,) = timeline.interruptions
    assert (gap.reason, gap.start, gap.end) == ("gap", pytest.approx(2.0), pytest.approx(3.9))
    assert gap.started_at == arrivals[0] + timedelta(seconds=2.0) and gap.ended_at == arrivals[2]
    remuxed = remux([(s.offset, data) for s, (_, data, _) in zip(clip.segments, segments, strict=True)])
    _, codec, frames, end = decode(remuxed.data)
    assert codec == "h264" and frames == clip.frames == 90
    assert end == pytest.approx(clip.duration, abs=1 / 30 + 0.001)


def test_a_restart_after_a_stretched_run_starts_where_its_file_ends(tmp_path: Path) -> None:
    """A restart's interruption runs from the end of the earlier run's file to the next run's first frame."""
    t0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    manifest = manifest_of([(t0, 30), (t0 + timedelta(seconds=0.5), 30)])  # one run, stretched to 2.0 s
    later = dict(manifest["tracks"][0]["segments"][0])
    later.update(index=2, file="p-video-19a-00002.mkv", started_at=(t0 + timedelta(seconds=1.8)).isoformat())
    manifest["tracks"][0]["segments"].append(later)
    timeline = build_timeline(manifest)
    first, second = timeline.clips
    assert (first.duration, second.start) == (pytest.approx(2.0), pytest.approx(1.8))
    (restart,) = timeline.interruptions
    # the next run started before the earlier one's file ends: nothing was missed, the gap has no length
    assert (restart.reason, restart.start, restart.end) == ("restart", pytest.approx(2.0), pytest.approx(2.0))
