"""快处快赔 in headless Chromium: two phones (360 px, the pages' own Content-Security-Policy in force) report one
minor accident. Driver 1 reaches /scene from the home page and starts the report; driver 2 opens the join link
driver 1 shows; each takes the three scene photos (generated JPEGs set on the camera input; one larger than
1600 px, which the phone downscales before sending), gives the items and the photo with the vehicle, and
submits. A police officer reaches /police from the home page, logs in, sees the report in the queue, opens it
(both drivers, the photos with their hashes, the chain intact), accepts it (both phones show 已受理，可撤离现场)
and makes the liability finding (both phones show it). Both phones sign the finding, driver 1 asks for mediation
at a committee, driver 2 sees the choice and agrees: both phones show 已转调解, each opens their join page from
the button (respondent and applicant), and the committee's mediator finds the case in the console's queue."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.cases.endpoints import SERVICE
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.notify import OutboxNotifier
from server.organisations.store import OrganisationStore
from server.scene.endpoints import SCENE_MEDIATION
from server.scene.finding_endpoints import FINDINGS
from server.store.accounts import Account, AccountStore
from tests.builders import SCENE_DRIVERS, code_for, scene_photo
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll, scene_report_part, sign_finding
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant",)):
        yield value


async def text_of(page: Any, selector: str) -> str:
    return str(await page.inner_text(selector))


async def test_two_phones_report_and_the_police_accept_and_find(browser: Any, live: Live) -> None:
    tag = uuid.uuid4().hex[:4]
    unit = f"示范区公安局交通警察大队{tag}"
    store = AccountStore(live.app[SERVICE].repo.engine)
    officer = Account(
        new_id(),
        f"police-{tag}",
        "冯警官",
        AccountKind.POLICE_OFFICER,
        unit,
        hash_password(PASSWORD, log2_n=10),
        datetime.now(UTC),
    )
    await store.create_account(officer)
    errors: list[str] = []
    phones = []
    for _ in range(2):
        page = await (await browser.new_context(**PHONE)).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        phones.append(page)
    one, two = phones

    # driver 1: from the home page, starts the report
    await one.goto(f"{live.base}/")
    await one.click("text=快处快赔")
    await one.wait_for_url(f"{live.base}/scene")
    await one.click("#go-start")
    await one.wait_for_selector("#unit option[value]:not([value=''])", state="attached")
    await one.select_option("#unit", label=unit)
    await one.fill("#place", "杭州市西湖区文一路与学院路口")
    await one.fill("#start-name", SCENE_DRIVERS[0]["name"])
    await one.fill("#start-phone", SCENE_DRIVERS[0]["phone"])
    await one.click("#s-start button")
    await one.wait_for_selector("#s-share:not([hidden])")
    number, code = await text_of(one, "#share-number"), await text_of(one, "#share-code")
    link = await one.get_attribute("#share-link", "href")
    assert link == f"{live.base}/scene#join={number}.{code}"
    assert await one.evaluate("document.documentElement.scrollWidth") <= 360
    await one.click("#share-next")

    # driver 2: opens the link they were shown; the code leaves the address bar
    await two.goto(link)
    await two.wait_for_selector("#s-join:not([hidden])")
    assert await two.evaluate("location.hash") == ""
    assert await two.input_value("#join-number") == number
    await two.fill("#join-name", SCENE_DRIVERS[1]["name"])
    await two.fill("#join-phone", SCENE_DRIVERS[1]["phone"])
    await two.click("#s-join button")

    big = scene_photo(7, (2400, 1800))  # a camera original: the phone sends it at 1600×1200
    originals = {1: [big, scene_photo(2), scene_photo(3), scene_photo(4)], 2: [scene_photo(n) for n in (5, 6, 8, 9)]}
    await asyncio.gather(scene_report_part(one, 1, originals[1]), scene_report_part(two, 2, originals[2]))
    for page in phones:
        await poll(lambda page=page: _has(page, "#state", "已提交，等待交警受理"), "the report submitted")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    # the officer: from the home page to the desk, the queue, the report
    desk = await (await browser.new_context(**DESK)).new_page()
    desk.on("pageerror", lambda e: errors.append(str(e)))
    await desk.goto(f"{live.base}/")
    await desk.click("text=交警快处工作台")
    await desk.wait_for_url(f"{live.base}/police")
    await desk.fill("#username", officer.username)
    await desk.fill("#password", PASSWORD)
    await desk.click("#login button")
    row = f"#rows tr:has-text('{number}')"
    await desk.wait_for_selector(row)
    assert await desk.get_attribute(row, "data-state") == "submitted"
    await desk.click(f"{row} button.open")
    await desk.wait_for_selector("#detail:not([hidden])")
    drivers = await text_of(desk, "#d-drivers")
    assert SCENE_DRIVERS[0]["licence_number"] in drivers and SCENE_DRIVERS[1]["plate"] in drivers
    assert await desk.get_attribute("#d-drivers a.call", "href") == f"tel:{SCENE_DRIVERS[0]['phone']}"
    assert "证据链完整" in await text_of(desk, "#d-chain")
    photos = await desk.eval_on_selector_all("#d-photos figcaption", "fs => fs.map(f => f.textContent)")
    assert len(photos) == 8
    front_1 = next(p for p in photos if p.startswith("司机 1 · 车前方全景"))
    assert "1600×1200" in front_1 and hashlib.sha256(big).hexdigest()[:16] in front_1
    await poll(
        lambda: desk.evaluate("[...document.querySelectorAll('#d-photos img')].every(i => i.naturalWidth > 0)"),
        "photos shown",
    )

    await desk.click("#accept")
    await poll(lambda: _has(desk, "#d-title", "已受理"), "accepted on the desk")
    for page in phones:
        await poll(lambda page=page: _has(page, "#state", "已受理，可撤离现场"), "已受理 on the phone")

    await desk.select_option("#f-liability-1", "major")
    await desk.select_option("#f-liability-2", "minor")
    assert await desk.input_value("#f-share-1") == "70" and await desk.input_value("#f-share-2") == "30"
    await desk.fill("#f-facts", "甲车变道时与乙车发生刮擦。")
    await desk.fill("#f-reasons", "甲变更车道未让正常行驶的车辆先行。")
    await desk.click("#finding-form button")
    await poll(lambda: _has(desk, "#d-title", "已认定责任"), "the finding on the desk")
    assert "主要责任 70%" in await text_of(desk, "#d-finding")
    for page in phones:
        await poll(lambda page=page: _has(page, "#state", "已认定责任"), "the finding on the phone")

    # both phones sign the finding with their SMS codes, then ask for mediation (H8): driver 1 chooses the
    # committee, driver 2 sees the choice and agrees; the report becomes a case in the committee's queue
    outbox = OutboxNotifier()
    live.app[FINDINGS].notifier = outbox
    live.app[SCENE_MEDIATION].notifier = outbox
    committee = f"城东道路交通事故人民调解委员会{tag}"
    engine = live.app[SERVICE].repo.engine
    await OrganisationStore(engine).create(
        Organisation(str(uuid.uuid4()), OrganisationKind.PEOPLES_MEDIATION, committee, datetime.now(UTC))
    )
    mediator = Account(
        new_id(),
        f"mediator-{tag}",
        "陈调解员",
        AccountKind.MEDIATOR,
        committee,
        hash_password(PASSWORD, log2_n=10),
        datetime.now(UTC),
    )
    await store.create_account(mediator)
    await asyncio.gather(
        *(
            sign_finding(page, lambda d=d: code_for(outbox, d["phone"]))
            for page, d in zip(phones, SCENE_DRIVERS, strict=True)
        )
    )
    for page in phones:
        await poll(lambda page=page: _has(page, "#state", "双方已签字"), "双方已签字 on the phone")
        await page.wait_for_selector("#mediation:not([hidden])")
    await one.wait_for_selector(f"#mediation-org option:has-text('{committee}')", state="attached")
    await one.select_option("#mediation-org", label=committee)
    await one.click("#mediation-ask")
    await poll(lambda: _has(one, "#mediation-asked", "等待对方司机同意"), "driver 1 waits for driver 2")
    await poll(lambda: _has(two, "#mediation-asked", f"对方司机申请：{committee}"), "driver 2 sees the choice")
    await two.wait_for_selector(f"#mediation-org option:has-text('{committee}')", state="attached")
    await poll(lambda: two.input_value("#mediation-org"), "driver 2's choice preset to driver 1's")
    await two.click("#mediation-ask")
    for page in phones:
        await poll(lambda page=page: _has(page, "#state", "已转调解"), "已转调解 on the phone")
        await page.wait_for_selector("#mediation-open:not([hidden])")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    case_number = (await text_of(one, "#mediation-case")).split("案件 ")[1].split("（")[0]
    # each driver opens their join page from the button
    for page, role in ((one, "被申请人"), (two, "申请人")):
        await page.click("#mediation-open")
        await page.wait_for_url(f"{live.base}/join")
        await page.wait_for_selector("#case:not([hidden])")
        assert await text_of(page, "#case-number") == case_number
        assert (await text_of(page, "#your-role")).startswith(role)
        assert await page.evaluate("location.hash") == ""

    # the mediator logs in on the console and finds the case in the committee's queue, nothing typed in
    console = await (await browser.new_context(**DESK)).new_page()
    console.on("pageerror", lambda e: errors.append(str(e)))
    await console_login(console, live.base, mediator.username, PASSWORD)
    await console.wait_for_selector(f"#intake-queue li:has-text('{case_number}')")
    queued = await text_of(console, f"#intake-queue li:has-text('{case_number}')")
    assert SCENE_DRIVERS[0]["name"] in queued and SCENE_DRIVERS[1]["name"] in queued
    assert not errors, errors


async def _has(page: Any, selector: str, text: str) -> bool:
    return text in await page.inner_text(selector)
