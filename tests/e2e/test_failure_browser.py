"""Mediation fails and goes back to the court with the record of undisputed facts, in the real pages
(headless Chromium, the pages' Content-Security-Policy in force): the mediator drafts the record in the
console's case progress, both parties confirm it on their phones from the links they were sent, the
mediator ends the mediation as failed (asked twice), and the console shows 调解不成 with the PDF."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

FACTS = ("2026年10月3日8时许，在环城路发生交通事故。", "交警部门认定被申请人负事故全部责任。")
DISPUTE = "误工费的计算标准。"


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant", "respondent")):
        yield value


async def test_the_record_is_drafted_confirmed_and_goes_to_the_court(browser: Any, live: Live) -> None:
    errors: list[str] = []
    desk = await (await browser.new_context(**DESK)).new_page()
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await console_login(desk, live.base, live.username, PASSWORD)
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    await desk.wait_for_selector("#facts-desk:not([hidden]) #facts-items li")
    assert "尚未拟定" in await desk.inner_text("#facts-version")
    await desk.fill("#facts-items li:nth-child(1) .facts-text", FACTS[0])
    await desk.click("#facts-add-fact")
    await desk.fill("#facts-items li:nth-child(2) .facts-text", FACTS[1])
    await desk.click("#facts-add-dispute")
    await desk.fill("#facts-items li:nth-child(3) .facts-text", DISPUTE)
    await desk.click("#facts-add-fact")  # a row added by mistake, removed again
    await desk.click("#facts-items li:nth-child(4) .facts-remove")
    await desk.click("#facts-form button.primary")
    await desk.wait_for_selector("#facts-version:has-text('第 1 稿')")
    assert await desk.locator("#facts-answers li[data-answer='none']").count() == 2

    for role in ("applicant", "respondent"):
        phone = await (await browser.new_context(**PHONE)).new_page()
        phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await phone.goto(live.links[role])
        await phone.wait_for_selector("#facts-party:not([hidden])")
        assert [await li.inner_text() for li in await phone.query_selector_all("#facts-party-facts li")] == list(FACTS)
        assert await phone.inner_text("#facts-party-disputes") == DISPUTE
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
        await phone.click("#facts-confirm")
        await phone.wait_for_selector("#facts-party-mine[data-answer='confirm']")
        assert "您已确认" in await phone.inner_text("#facts-party-mine")
        await phone.context.close()

    # the mediator opens the case's progress again: both confirmed; then ends the mediation as failed
    await desk.click("#progress-back")
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    await desk.wait_for_selector("#facts-version:has-text('第 1 稿')")
    assert await desk.locator("#facts-answers li[data-answer='confirm']").count() == 2
    await desk.fill("#facts-reason", "双方对误工费差距过大，调解不成。")
    await desk.click("#facts-fail-ask")
    await desk.wait_for_selector("#facts-fail-confirm:not([hidden])")
    await desk.click("#facts-fail-yes")
    await desk.wait_for_selector("#facts-outcome a#facts-pdf[href^='blob:']")
    assert "调解不成" in await desk.inner_text("#facts-outcome")
    assert "调解不成" in await desk.inner_text("#progress-state")
    assert await desk.get_attribute("#facts-pdf", "download") == "undisputed-facts.pdf"
    async with desk.expect_download() as downloading:
        await desk.click("#facts-pdf")  # the mediator saves the sealed record
    saved = await (await downloading.value).path()
    assert Path(saved).read_bytes().startswith(b"%PDF-")
    assert await desk.is_hidden("#facts-form") and await desk.is_hidden("#facts-fail")
    listed = [await li.inner_text() for li in await desk.query_selector_all("#facts-list li")]
    assert listed == [f"无争议事实：{FACTS[0]}", f"无争议事实：{FACTS[1]}", f"争议事项：{DISPUTE}"]

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {live.tokens['mediator']}"}) as http:
        async with http.get(f"{live.base}/api/v1/cases/{live.case_id}") as resp:
            case = await resp.json()
    assert case["state"] == "mediation_failed"
    assert [d["kind"] for d in case["documents"]].count("undisputed_facts") == 1

    # a party's page now says the record went to the court, and offers no answer
    phone = await (await browser.new_context(**PHONE)).new_page()
    await phone.goto(live.links["applicant"])
    await phone.wait_for_selector("#facts-party-status:has-text('调解不成')")
    assert await phone.is_hidden("#facts-party-form")
    assert not [e for e in errors if "Content Security Policy" in e], errors
