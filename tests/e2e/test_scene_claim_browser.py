"""A claim from a signed scene finding in the real pages (headless Chromium, the pages' Content-Security-Policy in
force): driver 1 reaches /scene from the home page and starts the report, driver 2 opens the join link on their
phone; the report is completed, found (1,800 yuan paid by driver 1) and signed by both drivers over their scene
links; the phone of driver 2 then offers one button and claims on driver 1's insurer, the phone of driver 1 offers
none; the insurer's adjuster reaches /insurer from the home page, opens the claim (the signed finding's PDF button)
and pays it; driver 2's phone shows 已支付 by its own poll."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from server.domain.roles import AccountKind
from server.domain.time import BEIJING
from server.notify import OutboxNotifier
from server.scene.finding_endpoints import FINDINGS
from tests.builders import (
    PASSWORD,
    SCENE_DRIVERS,
    authorise,
    code_for,
    forget_scene_starts,
    mark,
    scene_photo,
    staff_account,
    staff_of,
)
from tests.conftest import Api
from tests.e2e.chromium import DESK, PHONE

OURS = re.compile(r"/claims|/insurer")
"""This stage's addresses: any refusal of them fails the test."""

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


async def _session(page: Any) -> dict[str, Any]:
    await page.wait_for_function("() => JSON.parse(sessionStorage.getItem('scene-session') || '{}').token")
    return dict(json.loads(await page.evaluate("sessionStorage.getItem('scene-session')")))


async def test_the_driver_claims_from_the_scene_page_and_the_insurer_pays(browser: Any, api: Api) -> None:
    api.clock.now = datetime.now(UTC)  # the phone page gives the accident's time from its own clock
    unit = "示范区公安局交通警察大队快赔中队"
    officer = await staff_of(api, AccountKind.POLICE_OFFICER, unit, "冯警官")
    adjuster_username, _, adjuster = await staff_account(api, AccountKind.CLAIMS_ADJUSTER, "中国人保财险", "赵理赔员")
    _, admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, "中国人保财险", "钱管理员", phone="13700000041")
    await authorise(api, {"adjuster_id": adjuster.id, "insurer_id": adjuster.organisation_id, "insurer_admin": admin})
    await forget_scene_starts(api)
    errors: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and OURS.search(r.url) else None,
        )

    one = await (await browser.new_context(**PHONE)).new_page()
    two = await (await browser.new_context(**PHONE)).new_page()
    watch(one)
    watch(two)
    # driver 1: from the home page, starts the report; driver 2 joins from the link they were shown
    await one.goto(f"{api.base}/")
    await one.click("text=快处快赔")
    await one.wait_for_url(f"{api.base}/scene")
    await one.click("#go-start")
    await one.wait_for_selector("#unit option[value]:not([value=''])", state="attached")
    await one.select_option("#unit", label=unit)
    await one.fill("#place", "杭州市西湖区文一路与学院路口")
    await one.fill("#start-name", SCENE_DRIVERS[0]["name"])
    await one.fill("#start-phone", SCENE_DRIVERS[0]["phone"])
    await one.click("#s-start button")
    await one.wait_for_selector("#s-share:not([hidden])")
    link = await one.get_attribute("#share-link", "href")
    await one.click("#share-next")
    assert link and link.endswith(
        f"/scene#join={await one.inner_text('#share-number')}.{await one.inner_text('#share-code')}"
    )
    await two.goto(api.base + link[link.index("/scene") :])  # the link as shown, on this test server
    await two.wait_for_selector("#s-join:not([hidden])")
    await two.fill("#join-name", SCENE_DRIVERS[1]["name"])
    await two.fill("#join-phone", SCENE_DRIVERS[1]["phone"])
    await two.click("#s-join button")
    sessions = {1: await _session(one), 2: await _session(two)}
    rid = sessions[1]["report"]
    assert sessions[2]["report"] == rid
    tokens = {n: s["token"] for n, s in sessions.items()}

    # the report completed, found and signed over the drivers' scene links (the scene stage's pages are tested
    # on their own: tests/e2e/test_scene_browser.py)
    base = f"/api/v1/scene-reports/{rid}"
    for n, items in ((1, SCENE_DRIVERS[0]), (2, SCENE_DRIVERS[1])):
        assert (await api.call("PUT", f"{base}/items", tokens[n], json=items))[0] == 200
        for i, slot in enumerate(("front", "rear", "collision", "driver_with_vehicle")):
            photo = scene_photo(n * 10 + i)
            q = f"slot={slot}&original_sha256={hashlib.sha256(photo).hexdigest()}&original_size={len(photo)}"
            status, out, _ = await api.call(
                "POST", f"{base}/photos?{q}", tokens[n], data=photo, headers={"Content-Type": "image/jpeg"}
            )
            assert status == 201, out
        assert (await api.call("POST", f"{base}/complete", tokens[n]))[0] == 200
    desk_path = f"/api/v1/police/scene-reports/{rid}"
    assert (await api.call("POST", f"{desk_path}/accept", officer))[0] == 200
    finding = {
        "drivers": [{"number": 1, "liability": "major", "share": 70}, {"number": 2, "liability": "minor", "share": 30}],
        "facts": "甲车变道时未让乙车先行，两车发生刮擦。",
        "reasons": "甲变更车道未让行。",
        "agreed_amount": "1800.00",
        "payer": 1,
    }
    status, out, _ = await api.call("POST", f"{desk_path}/finding", officer, json=finding)
    assert status == 200, out
    outbox = OutboxNotifier()
    api.app[FINDINGS].notifier = outbox
    for n, d in ((1, SCENE_DRIVERS[0]), (2, SCENE_DRIVERS[1])):
        assert (await api.call("POST", f"{base}/finding/code", tokens[n]))[0] == 201
        body = {"code": code_for(outbox, d["phone"]), "mark": mark()}
        status, out, _ = await api.call("POST", f"{base}/finding/signature", tokens[n], json=body)
        assert status == 201, out

    # driver 2's phone (its own poll) offers one button; the paying driver's offers none
    await two.click("#claim-scene:not([hidden]) #scene-claim-start")
    await two.wait_for_selector("#claim-scene .claim-state:has-text('已提交')")
    text = await two.inner_text("#claim-scene")
    assert "1800.00 元" in text and "中国人保财险" in text and "剩余 10 个工作日" in text
    assert await two.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
    assert not await two.is_visible("#scene-claim-start")  # one claim
    await one.wait_for_selector("#state:has-text('双方已签字')")
    assert not await one.is_visible("#scene-claim-start")

    # the adjuster: from the home page to /insurer, logs in, opens the claim and pays it
    desk = await (await browser.new_context(**DESK)).new_page()
    watch(desk)
    await desk.goto(f"{api.base}/")
    await desk.click("a[href='/insurer']")
    await desk.fill("#username", adjuster_username)
    await desk.fill("#password", PASSWORD)
    await desk.click("#login button")
    row = desk.locator("#rows tr", has_text="1800.00")
    await row.wait_for()
    await row.locator("button.open").click()
    await desk.wait_for_selector("#detail:not([hidden]) #pay:not([hidden])")
    assert "电子事故认定书" in await desk.inner_text("#d-agreement")
    await desk.fill("#pay-reference", "TX-KC-1")
    await desk.fill("#pay-date", api.clock().astimezone(BEIJING).date().isoformat())
    assert await desk.input_value("#pay-amount") == "1800.00"
    await desk.click("#pay button")
    await desk.wait_for_selector("#d-claim .claim-state:has-text('已支付')")

    # driver 2's phone shows it paid by its own poll, with each step
    await two.wait_for_selector("#claim-scene .claim-state:has-text('已支付')")
    steps = await two.inner_text("#claim-scene .claim-steps")
    assert "提交理赔" in steps and "支付" in steps
    assert not errors, errors
