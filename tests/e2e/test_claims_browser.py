"""One-click claim in the real pages (headless Chromium, the pages' Content-Security-Policy in force): the claimant
opens the join page from the link they were sent (a phone, 360 px) and starts the claim with one button, the
amounts the agreement's; the insurer's adjuster reaches /insurer from the home page, sees the claim in the queue
with its deadline clock, accepts and pays it; the claimant's page then says 已支付 and the mediator's console shows
the claim; the administrator then withdraws the authorisation (撤回) and its row says 已撤回."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.builders import PASSWORD, PDF_BYTES, insured_case
from tests.conftest import Api
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login

OURS = re.compile(r"/claims|/authorisations|/repair-shops|/insurer")
"""This stage's addresses: any refusal of them fails the test (the join page's other sections answer 403 where
their own rules say so, e.g. a party's recordings)."""

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


async def test_the_claimant_claims_with_one_click_and_the_insurer_pays(browser: Any, api: Api) -> None:
    c = await insured_case(api)
    errors: list[str] = []

    # the insurer's administrator, from the home page: authorises the adjuster (the signed PDF) and adds a shop
    admin = await (await browser.new_context(**DESK)).new_page()
    admin.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None
    )
    admin.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and OURS.search(r.url) else None
    )
    await admin.goto(f"{api.base}/")
    await admin.click("a[href='/insurer']")
    await admin.fill("#username", c["insurer_admin_username"])
    await admin.fill("#password", PASSWORD)
    await admin.click("#login button")
    await admin.wait_for_selector("#admin:not([hidden]) #auth-account option", state="attached")
    await admin.check("#auth-any")
    await admin.fill("#auth-limit", "50000")
    today = api.clock().date()
    await admin.fill("#auth-from", today.isoformat())
    await admin.fill("#auth-to", today.replace(year=today.year + 1).isoformat())
    await admin.set_input_files(
        "#auth-pdf", files=[{"name": "授权委托书.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    await admin.click("#authorise button")
    await admin.wait_for_selector("#authorisations li:has-text('赵理赔员')")
    assert "50000.00" in await admin.inner_text("#authorisations")
    await admin.fill("#shop-name", "城东汽车修理厂")
    await admin.fill("#shop-address", "城东路 1 号")
    await admin.fill("#shop-phone", "057188880000")
    await admin.click("#add-shop button")
    await admin.wait_for_selector("#shops li:has-text('城东汽车修理厂')")

    # the claimant, on the phone, from the link they were sent
    phone = await (await browser.new_context(**PHONE)).new_page()
    phone.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None
    )
    phone.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and OURS.search(r.url) else None
    )
    await phone.goto(f"{api.base}/join#token={c['applicant']}")
    await phone.click("#claim-party:not([hidden]) #claim-start")
    await phone.wait_for_selector("#claim-party .claim-state:has-text('已提交')")
    text = await phone.inner_text("#claim-party")
    assert "15000.00 元" in text and c["insurer_name"] in text and "剩余 10 个工作日" in text
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
    assert not await phone.is_visible("#claim-start")  # one claim
    # 定修直赔: the claimant chooses the insurer's repair shop for the vehicle damage
    await phone.click("#claim-party .claim-shop button")
    await phone.wait_for_selector("#claim-party dd:has-text('城东汽车修理厂')")

    # the adjuster: from the home page to /insurer, logs in, opens the claim
    desk = await (await browser.new_context(**DESK)).new_page()
    desk.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None
    )
    desk.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and OURS.search(r.url) else None
    )
    await desk.goto(f"{api.base}/")
    await desk.click("a[href='/insurer']")
    await desk.fill("#username", c["adjuster_username"])
    await desk.fill("#password", PASSWORD)
    await desk.click("#login button")
    row = desk.locator("#rows tr", has_text="15000.00")
    await row.wait_for()
    assert "剩余 10 个工作日" in await row.inner_text()
    await row.locator("button.open").click()
    await desk.wait_for_selector("#detail:not([hidden]) #accept:not([hidden])")
    await desk.click("#accept")
    await desk.wait_for_selector("#d-claim .claim-state:has-text('已受理')")
    assert "赵理赔员" in await desk.inner_text("#d-claim")  # the adjuster acting, with the authorisation's limit
    await desk.fill("#pay-reference", "TX-20261123-1")
    await desk.fill("#pay-date", api.clock().date().isoformat())
    assert await desk.input_value("#pay-amount") == "15000.00"
    await desk.click("#pay button")
    await desk.wait_for_selector("#d-claim .claim-state:has-text('已支付')")

    # the claimant's page shows it paid, with each step
    await phone.reload()
    await phone.wait_for_selector("#claim-party .claim-state:has-text('已支付')")
    steps = await phone.inner_text("#claim-party .claim-steps")
    assert "提交理赔" in steps and "保险公司受理" in steps and "支付" in steps

    # the mediator sees the claim on the console
    console = await (await browser.new_context(**DESK)).new_page()
    await console_login(console, api.base, c["mediator_username"], PASSWORD)
    await console.click(f"button[data-progress-id='{c['case_id']}']")
    await console.wait_for_selector("#claim-desk:not([hidden]) .claim-state:has-text('已支付')")

    # the administrator withdraws the authorisation from the desk (confirmed first): the row says 已撤回, no 撤回 left
    admin.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # 撤回 … 的授权？
    await admin.click("#refresh")
    item = admin.locator("#authorisations li", has_text="赵理赔员")
    await item.locator(".auth-state:has-text('在效')").wait_for()
    await item.locator("button.auth-revoke").click()
    await admin.wait_for_selector("#authorisations li .auth-state:has-text('已撤回')")
    assert await admin.locator("#authorisations button.auth-revoke").count() == 0
    assert "已撤回授权" in await admin.inner_text("#admin-status")
    assert not errors, errors
