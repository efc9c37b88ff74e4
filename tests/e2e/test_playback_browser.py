"""Playback in real headless Chromium (Debian's), with the page's own Content-Security-Policy in force:
a session recorded through the real server by real aiortc peers, then the mediator logs in on
``/playback?case=…&session=…``, presses play, and every media element moves in step with the others
and decodes frames; the caucus and the transcript appear beside the videos."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from recording.playback import RecordingPlayback
from server.api.routes import RECORDINGS
from server.app import ROOMS
from server.store.repository import TranscriptLine
from tests.live import PASSWORD, Live, _live
from tests.media import make_clip
from tests.peers import ClientPeer

pytestmark = pytest.mark.asyncio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
DESK = {"viewport": {"width": 1280, "height": 900}}
SYNC = 0.3
"""Seconds the elements' positions on the session's timeline may differ."""


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (./dev test installs it)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, recording_segment_seconds=1.0):
        yield value


async def poll(check: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.2) -> Any:
    """Call ``check`` until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(every)


async def record_session(live: Live, tmp_path: Path) -> str:
    """Mediator and applicant publish for a few seconds, with a caucus in between; the session ends."""
    clip_a = make_clip(tmp_path / "a.webm", tone_hz=440)
    clip_b = make_clip(tmp_path / "b.webm", tone_hz=660)
    repo = live.app[ROOMS].cases.repo
    peers: list[ClientPeer] = []
    try:
        for who, clip in (("mediator", clip_a), ("applicant", clip_b), ("respondent", None)):
            peer = live.peer(who, clip)
            await peer.connect()
            assert (await peer.join())["ok"]
            peers.append(peer)
        mediator, applicant, _ = peers
        for who in ("applicant", "respondent"):  # the respondent only listens: the caucus leaves them out
            assert (await mediator.emit("admit", {"participant_id": live.ids[who]}))["ok"]

        async def segments(count: int, tracks_wanted: int = 4) -> bool:
            trail, _ = await repo.audit_trail(live.case_id)
            tracks: dict[str, int] = {}
            for e in trail:
                if e.action == "recording.segment":
                    track = e.details_dict()["track"]
                    tracks[track] = tracks.get(track, 0) + 1
            return len(tracks) == tracks_wanted and min(tracks.values()) >= count

        # the applicant starts publishing seconds after the mediator: their clips start later on the timeline
        await mediator.publish()
        await poll(lambda: segments(2, tracks_wanted=2), "two segments of the mediator's tracks")
        await applicant.publish()
        await poll(lambda: segments(2), "two segments of every track")
        ack = await mediator.emit("caucus_start", {"members": [live.ids["applicant"]]})
        assert ack["ok"], ack
        await asyncio.sleep(1.5)
        assert (await mediator.emit("caucus_end"))["ok"]
        await poll(lambda: segments(5), "five segments of every track")
        assert (await mediator.emit("end"))["ok"]
    finally:
        for peer in peers:
            await peer.close()
    sessions = await RecordingPlayback(live.app[RECORDINGS]).sessions(live.case_id)
    assert len(sessions) == 1 and sessions[0].sealed
    return sessions[0].session_id


async def add_transcript(live: Live, session_id: str) -> list[tuple[str, float]]:
    """Two lines stored directly in the case store; returns (line id, offset from the recording's origin)."""
    timeline = await RecordingPlayback(live.app[RECORDINGS]).timeline(live.case_id, session_id, datetime.now(UTC))
    repo = live.app[ROOMS].cases.repo
    out = []
    for n, (who, offset, text) in enumerate(
        (("mediator", 1.0, "请双方陈述事故经过。"), ("applicant", 3.5, "我的车在路口被撞，修理费八千元。"))
    ):
        line_id = str(uuid.uuid4())
        start = timeline.origin + timedelta(seconds=offset)
        await repo.add_transcript_line(
            TranscriptLine(
                line_id,
                live.case_id,
                session_id,
                live.ids[who],
                start,
                start + timedelta(seconds=1.5 + n),
                text,
                "zh",
                "test",
            ),
            datetime.now(UTC),
        )
        out.append((line_id, offset))
    return out


async def transcript_served(live: Live, session_id: str) -> bool:
    """Whether the transcript endpoint exists yet (it is built separately)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{live.base}/api/v1/cases/{live.case_id}/transcript",
            params={"session_id": session_id},
            headers={"Authorization": f"Bearer {live.tokens['mediator']}"},
        ) as resp,
    ):
        return resp.status == 200


async def state(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate("window.__playback.state()")
    return result


def playing(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["on"] and not e["paused"] and not e["failed"]]


async def test_playback_in_chromium_keeps_every_track_in_step(browser: Any, live: Live, tmp_path: Path) -> None:
    session_id = await record_session(live, tmp_path)
    lines = await add_transcript(live, session_id)
    context = await browser.new_context(**DESK)  # the page's CSP stays in force
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        await page.goto(f"{live.base}/playback?case={live.case_id}&session={session_id}")
        await page.fill("#username", live.username)
        await page.fill("#password", PASSWORD)
        await page.click("#login button")
        await page.wait_for_selector("#play:not([disabled])", timeout=30_000)
        assert await page.locator(".pb-tile").count() == 2
        assert await page.locator("video").count() == 2 and await page.locator("audio").count() == 2
        assert await page.locator("#bar .pb-mark.caucus").count() == 1
        assert "已签名" in await page.inner_text("#integrity")

        # before playing: the applicant's clips, which start later, are not shown yet
        entries = await state(page)
        late = [e for e in entries if e["participant_id"] == live.ids["applicant"]]
        assert late and all(e["start"] >= 1.5 and not e["on"] for e in late), entries
        assert all(e["on"] for e in entries if e["start"] == 0), entries

        await page.click("#play")

        async def all_playing() -> list[dict[str, Any]] | None:
            entries = await state(page)
            return entries if len(playing(entries)) == 4 else None

        await poll(all_playing, "all four clips playing")
        samples = []
        for _ in range(4):
            entries = playing(await state(page))
            times = [e["t"] for e in entries]
            assert len(entries) == 4 and max(times) - min(times) <= SYNC, entries
            samples.append(sum(times) / len(times))
            await asyncio.sleep(0.5)
        assert samples == sorted(samples) and samples[-1] - samples[0] >= 1.0, samples  # time moves
        entries = await state(page)
        assert all(e["frames"] > 0 for e in entries if e["kind"] == "video"), entries

        # the transcript beside the videos
        if not await transcript_served(live, session_id):
            await page.wait_for_function("document.getElementById('transcript-status').dataset.state === 'none'")
            assert "暂无笔录" in await page.inner_text("#transcript-status")
            assert not problems or all("transcript" in p or "404" in p for p in problems), problems
            pytest.skip("GET /api/v1/cases/{id}/transcript is not served yet: clicking a line is not checked")
        await page.wait_for_selector(".pb-line", timeout=10_000)
        assert await page.locator(".pb-line").count() == 2
        await page.fill("#search", "修理费")
        assert await page.locator("#lines li:not([hidden])").count() == 1
        assert await page.inner_text("#lines li:not([hidden]) mark") == "修理费"
        await page.fill("#search", "")
        await page.click("#play")  # pause: the positions then stay where the click put them
        line_id, offset = lines[1]
        await page.click(f".pb-line[data-line='{line_id}']")

        async def sought() -> list[dict[str, Any]] | None:
            entries = [e for e in await state(page) if e["on"]]
            return entries if len(entries) == 4 and all(abs(e["t"] - offset) <= 0.5 for e in entries) else None

        await poll(sought, "every track at the line's start", timeout=5)
        await page.wait_for_selector(f".pb-line.current[data-line='{line_id}']", timeout=5_000)
        assert not problems, problems
    finally:
        await context.close()
