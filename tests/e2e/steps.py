"""Steps the end-to-end tests take in Chromium's pages: wait for a condition (bounded), admit a party from
the mediator's console, draw a signature on the pad, log in on the console or the court's desk, a driver's part
of a scene report on /scene; and the accounts the referral tests start from (a court's clerk and judge, an
organisation's administrator and two of its mediators, the organisation on the court's roster); record a session
with real aiortc peers."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from recording.playback import RecordingPlayback
from server.app import ROOMS
from server.cases.endpoints import SERVICE
from server.domain.roles import AccountKind
from server.domain.rosters import RosterEntry, RosterStatus, Specialty
from server.http.kit import RECORDINGS
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.rosters.store import RosterStore
from server.store.accounts import Account, AccountStore
from tests.builders import SCENE_DRIVERS
from tests.live import PASSWORD, Live
from tests.media import make_clip
from tests.peers import ClientPeer

AFTER_CAUCUS = 4
"""Segments (1 s each in the playback tests) every track records after :func:`record_session`'s caucus."""


async def poll(check: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.25) -> Any:
    """Call ``check`` until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(every)


async def admit(console: Any, live: Live, who: str, party: Any) -> None:
    await admit_participant(console, live.ids[who], party)


async def admit_participant(console: Any, pid: str, party: Any) -> None:
    """The mediator admits the participant ``pid``, whose page ``party`` says it waits to be let in."""
    await console.wait_for_selector(f"li[data-pid='{pid}'][data-presence='waiting'] button[data-action='admit']")
    # the party's page learns it waits from its own join answer, which may come after the console's room update
    await party.locator("#status", has_text=re.compile("等候|wait")).wait_for(timeout=10_000)
    await console.click(f"li[data-pid='{pid}'] button[data-action='admit']")


async def draw(page: Any, pad: str = "#pad") -> None:
    """A signature stroke across the pad, with the pointer (mouse events become pointer events)."""
    box = await page.locator(pad).bounding_box()
    assert box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for i in range(1, 25):
        await page.mouse.move(x + w * (0.1 + 0.8 * i / 24), y + h * (0.5 + 0.3 * ((-1) ** i) * (i % 5) / 5))
    await page.mouse.up()


async def sign_finding(page: Any, code_for: Callable[[], str]) -> None:
    """A driver signs the electronic accident finding on their phone (``scene-sign.js`` on /scene): the mark, a
    code by SMS (``code_for()`` reads it from the messages sent), sign; waits until the phone says it is signed."""
    await page.wait_for_selector(".finding-form:not([hidden])")
    await page.wait_for_selector(".finding-pdf:not([hidden])")  # the finding can be read
    await page.locator(".finding-pad").scroll_into_view_if_needed()  # as a thumb would
    await draw(page, ".finding-pad")
    await page.click(".finding-send")
    await poll(lambda: page.inner_text(".finding-sent"), "the finding's code sent")
    await page.fill(".finding-code", code_for())
    await page.click(".finding-sign")

    async def signed() -> bool:
        error = await page.inner_text(".finding-form .error")
        assert not error, error  # the page's own words for a refusal
        return bool(await page.is_hidden(".finding-form"))

    await poll(signed, "the finding signed on the phone")


async def take_scene_photo(page: Any, selector: str, data: bytes, name: str) -> None:
    """On /scene, take a photo: the camera input gets a file; wait until it is uploaded and the next step opens."""
    await page.set_input_files(selector, {"name": name, "mimeType": "image/jpeg", "buffer": data})
    await page.wait_for_selector("#photo-next:not([disabled])", timeout=30000)
    assert "已上传" in await page.inner_text("#photo-state")
    await page.click("#photo-next")


async def scene_report_part(page: Any, driver: int, originals: list[bytes]) -> None:
    """One driver's part of a scene report on /scene: three scene photos, the items (``SCENE_DRIVERS``), the
    photo with the vehicle, submit."""
    for i, data in enumerate(originals[:3]):
        await page.wait_for_selector("#s-photo:not([hidden])")
        assert f"{i + 1}/5" in await page.inner_text("#photo-title")
        await take_scene_photo(page, "#photo-env", data, f"IMG_{driver}{i}.jpg")
    d = SCENE_DRIVERS[driver - 1]
    await page.wait_for_selector("#s-items:not([hidden])")
    await page.fill("#licence", d["licence_number"])
    await page.fill("#plate", d["plate"])
    await page.fill("#insurer", d["insurer"])
    await page.fill("#damaged", d["damaged_part"])
    await page.click("#s-items button")
    await page.wait_for_selector("#s-photo:not([hidden])")
    assert "人车合影" in await page.inner_text("#photo-title")
    assert await page.get_attribute("#photo-user", "capture") == "user"
    await take_scene_photo(page, "#photo-user", originals[3], f"IMG_{driver}3.jpg")
    await page.wait_for_selector("#s-done:not([hidden])")
    await page.click("#complete")


async def console_login(page: Any, base: str, username: str, password: str) -> None:
    """Log in on the console as its user does: open it, fill the form, press the button."""
    await page.goto(f"{base}/console")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login button")


async def court_login(page: Any, base: str, username: str, password: str) -> None:
    """Log in on the court's desk (/court) as a clerk or judge does."""
    await page.goto(f"{base}/court")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login button")


async def referral_accounts(live: Live) -> dict[str, Any]:
    """A court's clerk and judge, a mediation committee's administrator and two of its mediators (``a`` 陈调解员,
    ``b`` 刘调解员); the committee is active on the court's roster (as tests/integration/test_referrals.py sets it
    up). Answers each one's user name (``clerk``…), account id (``clerk_id``…) and organisation id
    (``clerk_org``…), and the names of the court (``court``) and the committee (``east``)."""
    tag = uuid.uuid4().hex[:4]
    engine = live.app[SERVICE].repo.engine
    store = AccountStore(engine)
    w: dict[str, Any] = {"court": f"示范区人民法院{tag}", "east": f"城东人民调解委员会{tag}"}
    for key, kind, name, organisation in (
        ("clerk", AccountKind.CLERK, "李书记员", w["court"]),
        ("judge", AccountKind.JUDGE, "王法官", w["court"]),
        ("admin", AccountKind.ORG_ADMIN, "周主任", w["east"]),
        ("a", AccountKind.MEDIATOR, "陈调解员", w["east"]),
        ("b", AccountKind.MEDIATOR, "刘调解员", w["east"]),
    ):
        account = Account(
            new_id(), f"{key}-{tag}", name, kind, organisation, hash_password(PASSWORD, log2_n=10), datetime.now(UTC)
        )
        w[f"{key}_org"] = await store.create_account(account)
        w[key], w[f"{key}_id"] = account.username, account.id
    now = datetime.now(UTC)
    await RosterStore(engine).add(
        RosterEntry(
            id=str(uuid.uuid4()),
            court_id=w["clerk_org"],
            organisation_id=w["admin_org"],
            account_id=None,
            specialties=(Specialty.TRAFFIC,),
            term_start=now - timedelta(days=1),
            term_end=now + timedelta(days=365),
            status=RosterStatus.ACTIVE,
            added_at=now,
            added_by="test",
            updated_at=now,
        )
    )
    return w


async def record_session(live: Live, tmp_path: Path) -> str:
    """Mediator and applicant publish for a few seconds, with a caucus in between and at least
    :data:`AFTER_CAUCUS` segments of every track after it; the session ends."""
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

        async def counts() -> dict[str, int]:
            trail, _ = await repo.audit_trail(live.case_id)
            tracks: dict[str, int] = {}
            for e in trail:
                if e.action == "recording.segment":
                    track = e.details_dict()["track"]
                    tracks[track] = tracks.get(track, 0) + 1
            return tracks

        async def segments(count: int, tracks_wanted: int = 4) -> bool:
            tracks = await counts()
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
        # enough after the caucus to play: counted in segments, which a busy machine makes more slowly (a
        # fixed "five in all" once left half a second after it, and a test seeking past the caucus met the end)
        wanted = max(5, max((await counts()).values()) + AFTER_CAUCUS)
        await poll(lambda: segments(wanted), f"{AFTER_CAUCUS} segments of every track after the caucus")
        assert (await mediator.emit("end"))["ok"]
    finally:
        for peer in peers:
            await peer.close()
    sessions = await RecordingPlayback(live.app[RECORDINGS]).sessions(live.case_id)
    assert len(sessions) == 1 and sessions[0].sealed
    return sessions[0].session_id
