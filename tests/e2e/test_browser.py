"""End to end in real headless Chromium (Debian's, fake camera and microphone) against the real server:
join from the pages, waiting room, media both ways, mute, caucus, remove, ending the session, and
reconnection. The mediator logs in on /console and opens the room from the case list; each party
opens the join link that ``addParticipant`` returned.

Each participant is its own browser context; parties use a 360×740 phone viewport. What a page
receives is read from its own ``RTCPeerConnection.getStats()`` (inbound-rtp per publisher).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.app import ROOMS
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import admit, poll
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    if not (Path(__file__).parents[2] / "web" / "node_modules" / "socket.io-client").exists():
        pytest.fail("web/node_modules is missing: run ./dev test (it installs the socket.io client from npm)")
    async for value in _live(tmp_path):
        yield value


async def inbound(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.__room.inbound()")
    return result


def count(stats: dict[str, Any], pid: str, kind: str, field: str) -> float:
    return float(stats.get(pid, {}).get(kind, {}).get(field, 0))


async def receiving(page: Any, pids: list[str], frames: int = 10) -> bool:
    """Decodable video and non-silent audio from each of ``pids``."""
    stats = await inbound(page)
    return all(
        count(stats, pid, "video", "framesDecoded") >= frames and count(stats, pid, "audio", "totalAudioEnergy") > 0
        for pid in pids
    )


async def settled(page: Any, pid: str, kind: str, field: str, quiet: float = 1.0) -> float:
    """Wait until a counter stops moving for ``quiet`` seconds; return its value."""
    last = count(await inbound(page), pid, kind, field)
    still = 0.0
    for _ in range(80):
        await asyncio.sleep(0.25)
        now = count(await inbound(page), pid, kind, field)
        still = still + 0.25 if now == last else 0.0
        last = now
        if still >= quiet:
            return now
    raise AssertionError(f"{kind} {field} from {pid} never stopped")


async def open_console(browser: Any, live: Live) -> Any:
    context = await browser.new_context(**DESK, bypass_csp=True)  # bypass only for page.evaluate in tests
    page = await context.new_page()
    await page.goto(live.base + "/console")
    await page.fill("#username", live.username)
    await page.fill("#password", PASSWORD)
    await page.click("#login button")
    await page.click(f"button[data-case-id='{live.case_id}']")
    await page.wait_for_function("window.__room && window.__room.me && window.__room.me.participant_id")
    return page


async def open_join(browser: Any, live: Live, who: str) -> Any:
    context = await browser.new_context(**PHONE, bypass_csp=True)
    page = await context.new_page()
    await page.goto(live.links[who])
    await page.wait_for_selector("#consent")
    assert await page.is_disabled("#join"), "joining must wait for the recording notice to be accepted"
    await page.check("#consent")
    await page.click("#join")
    return page


async def test_mediation_session_in_chromium(browser: Any, live: Live) -> None:
    m, a, r = live.ids["mediator"], live.ids["applicant"], live.ids["respondent"]
    console = await open_console(browser, live)
    # before anyone comes, the console lists the parties who have not joined yet
    await console.wait_for_selector(f"li.absent[data-pid='{r}']")
    assert "尚未加入" in await console.inner_text(f"li.absent[data-pid='{r}']")
    applicant = await open_join(browser, live, "applicant")
    await admit(console, live, "applicant", applicant)
    assert await console.locator(f"li.absent[data-pid='{a}']").count() == 0
    respondent = await open_join(browser, live, "respondent")
    await admit(console, live, "respondent", respondent)

    # everyone receives decodable video and non-silent audio from the two others
    for page, others in ((console, [a, r]), (applicant, [m, r]), (respondent, [m, a])):
        await poll(lambda page=page, others=others: receiving(page, others), f"media at {others}")
    assert await applicant.locator(".tile").count() == 2
    # on the phone, with two others on screen, the call's controls stay within the 740 px viewport
    for control in ("#mic", "#cam", "#leave"):
        box = await applicant.locator(control).bounding_box()
        bottom = PHONE["viewport"]["height"]
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= bottom, (control, box)
    # everyone accepted the recording notice: every page shows that the session is recorded
    for page in (console, applicant, respondent):
        await page.wait_for_selector("#rec:not([hidden])")

    # mute: the applicant's audio stops reaching the respondent; video keeps flowing
    await console.click(f"li[data-pid='{a}'] button[data-action='mute-audio']")
    muted_at = await settled(respondent, a, "audio", "packetsReceived")
    video_at = count(await inbound(respondent), a, "video", "framesDecoded")
    await poll(lambda: _grew(respondent, a, "video", "framesDecoded", video_at + 15), "video from the muted applicant")
    assert count(await inbound(respondent), a, "audio", "packetsReceived") == muted_at
    await console.click(f"li[data-pid='{a}'] button[data-action='mute-audio']")  # unmute
    await poll(lambda: _grew(respondent, a, "audio", "packetsReceived", muted_at + 50), "audio after unmute")

    # caucus with the applicant: the respondent receives nothing of the pair during it
    await console.check(f"li[data-pid='{a}'] .pick")
    await console.click("#caucus-start")
    await respondent.wait_for_selector("#banner:not([hidden])")
    assert "单独沟通" in await respondent.inner_text("#banner")
    frozen = {
        (pid, kind, field): await settled(respondent, pid, kind, field)
        for pid in (m, a)
        for kind, field in (("video", "framesDecoded"), ("audio", "packetsReceived"))
    }
    pair_at = count(await inbound(applicant), m, "video", "framesDecoded")
    await poll(lambda: _grew(applicant, m, "video", "framesDecoded", pair_at + 20), "the caucus pair still talking")
    stats = await inbound(respondent)
    for (pid, kind, field), value in frozen.items():
        assert count(stats, pid, kind, field) == value, f"respondent received {kind} of {pid} during the caucus"
    await console.click("#caucus-end")
    await poll(
        lambda: _grew(respondent, a, "video", "framesDecoded", frozen[(a, "video", "framesDecoded")] + 15),
        "joint session again",
    )

    # remove the respondent: the page is told, and the old link never works again
    await console.click(f"li[data-pid='{r}'] button[data-action='remove']")
    await respondent.wait_for_selector("#gone:not([hidden])")
    assert "移出" in await respondent.inner_text("#gone-text")
    assert "进行中" not in await respondent.inner_text("#status")
    # the old link opened again in the same tab (only the fragment changes: the page loads itself again)
    await respondent.goto(live.links["respondent"])
    await respondent.locator("#status", has_text="失效").wait_for()

    # the mediator ends the session: the console says so (no "No answer from the server": the
    # "ended" event overtakes the acknowledgement), and the phone no longer says it is in progress
    console.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await console.click("#end")
    await applicant.wait_for_selector("#gone:not([hidden])")
    assert "已结束" in await applicant.inner_text("#status")
    assert "进行中" not in await applicant.inner_text("#status")
    await console.wait_for_selector(f"#cases:not([hidden]) button[data-case-id='{live.case_id}']")
    said = await console.inner_text("#status")
    assert "已结束" in said and "No answer" not in said, said
    trail, _ = await live.app[ROOMS].cases.repo.audit_trail(live.case_id)
    actions = [e.action for e in trail]
    for action in ("session.started", "room.presence", "room.mute", "room.caucus", "link.revoked", "session.ended"):
        assert action in actions, action


async def _grew(page: Any, pid: str, kind: str, field: str, target: float) -> bool:
    return count(await inbound(page), pid, kind, field) >= target


async def test_reconnect_after_the_connection_is_cut(browser: Any, live: Live) -> None:
    m, a = live.ids["mediator"], live.ids["applicant"]
    console = await open_console(browser, live)
    applicant = await open_join(browser, live, "applicant")
    await admit(console, live, "applicant", applicant)
    await poll(lambda: receiving(console, [a]), "applicant media at the mediator")
    await poll(lambda: receiving(applicant, [m]), "mediator media at the applicant")
    # the phone's network drops: socket and media die without a goodbye
    await applicant.evaluate("window.__room.pc.close(); window.__room.socket.io.engine.close()")
    before = count(await inbound(console), a, "video", "framesDecoded")
    # the page reconnects by itself with the same identity: one tile, media again
    await poll(lambda: _grew(console, a, "video", "framesDecoded", before + 30), "video after the reconnect", 40)
    await poll(lambda: receiving(applicant, [m]), "the applicant receiving again")
    assert await console.locator(f".tile[data-pid='{a}']").count() == 1
    room = live.app[ROOMS].rooms[live.case_id].room
    assert [pid for pid in room.members if pid == a] == [a]
    assert room.members[a].presence.value == "admitted" and room.members[a].connected
