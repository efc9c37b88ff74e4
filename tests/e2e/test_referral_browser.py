"""The referral desks in the browser, from the pages only (headless Chromium, the pages' own
Content-Security-Policy in force): a court's clerk logs in on /court and refers a case with two parties to
an organisation picked from the court's roster; the organisation's administrator assigns it on /staff to
a mediator who declines it with a reason on /console; re-assigned, another mediator accepts it, finds the
parties the clerk entered and asks to extend the mediation period; each party agrees on their join page
(a phone); the mediator sees the new deadline, and the clerk sees who holds the case and its timeline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll, referral_accounts
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

BEIJING_TIME = re.compile(r"\d{4}/\d{1,2}/\d{1,2} \d{2}:\d{2}:\d{2}")


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant",)):
        yield value


async def _api(base: str, method: str, path: str, token: str | None = None, json: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.request(method, base + path, json=json, headers=headers) as resp:
        body = await resp.json()
        assert resp.status < 300, body
        return body


async def test_a_referred_case_goes_from_the_clerk_to_a_mediator_and_back_to_the_court(
    browser: Any, live: Live
) -> None:
    w = await referral_accounts(live)
    errors: list[str] = []

    async def page_of(context: dict[str, Any]) -> Any:
        page = await (await browser.new_context(**context)).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        return page

    # the clerk logs in on /court: the referral desk, not the judges' queue and its errors
    court = await page_of(DESK)
    await court.goto(f"{live.base}/court")
    await court.fill("#username", w["clerk"])
    await court.fill("#password", PASSWORD)
    await court.click("#login button")
    await court.wait_for_selector("#referrals:not([hidden])")
    assert await court.is_hidden("#queue") and await court.is_hidden("#login")
    assert (await court.inner_text("#status")).strip() == ""
    assert "书记员" in await court.inner_text("#referrals-who")

    # refers an entrusted case (诉中委托) with two parties to the organisation picked from the roster
    offered = await court.eval_on_selector_all("#refer-organisation option", "os => os.map(o => o.textContent)")
    assert offered == [w["east"]], offered
    await court.select_option("#refer-kind", "in_litigation")
    await court.fill("#refer-number", "（2026）示民初123号")
    await court.fill("#refer-title", "张三诉李四机动车交通事故责任纠纷")
    await court.select_option("#refer-dispute", "traffic_accident")
    await court.select_option("#refer-organisation", label=w["east"])
    first, second = court.locator("#refer-parties .party-row").nth(0), court.locator("#refer-parties .party-row").nth(1)
    await first.locator(".party-name").fill("张三")
    await first.locator(".party-phone").fill("13912345678")
    await second.locator(".party-role").select_option("respondent")
    await second.locator(".party-name").fill("李四")
    await second.locator(".party-email").fill("lisi@example.org")
    await court.click("#refer-form button.primary")
    await court.wait_for_selector("#referral-rows tr:has-text('张三诉李四')")
    assert "已委派" in await court.inner_text("#refer-status")
    row = court.locator("#referral-rows tr[data-case-id]")
    cid = await row.get_attribute("data-case-id")
    assert cid
    assert "待分派" in await row.locator(".holder").inner_text() and w["east"] in await row.inner_text()

    # the organisation's administrator: /console, then its link to /staff; the case waits in 待分派案件
    staff = await page_of(DESK)
    await console_login(staff, live.base, w["admin"], PASSWORD)
    await staff.wait_for_selector("#admin:not([hidden])")
    await staff.click("#staff-link")
    org_row = f"#org-case-rows tr[data-case-id='{cid}']"
    await staff.wait_for_selector(org_row)
    assert "已委派待分派" in await staff.inner_text(org_row) and w["court"] in await staff.inner_text(org_row)
    await staff.select_option(f"{org_row} select.assign-mediator", label="陈调解员")
    await staff.click(f"{org_row} button.assign")
    await staff.wait_for_selector(f"{org_row}[data-state='assigned']")
    assert "陈调解员" in await staff.inner_text(f"{org_row} .holder")

    # mediator A declines it with a reason (a decline without one is refused on the page)
    a = await page_of(DESK)
    await console_login(a, live.base, w["a"], PASSWORD)
    mine = f"#intake-assigned li[data-case-id='{cid}']"
    await a.wait_for_selector(mine)
    await a.click(f"{mine} button.decline")
    assert "退回理由" in await a.inner_text("#intake-status")
    await a.fill(f"{mine} .decline-reason", "与被申请人系亲属，申请回避")
    await a.click(f"{mine} button.decline")
    await a.wait_for_selector(f"#intake-queue li[data-case-id='{cid}']")  # back in the organisation's queue
    assert await a.locator(mine).count() == 0

    # the administrator sees it back and assigns mediator B
    await staff.click("#org-cases-refresh")
    await staff.wait_for_selector(f"{org_row}[data-state='referred']")
    assert "待分派" in await staff.inner_text(f"{org_row} .holder")
    await staff.select_option(f"{org_row} select.assign-mediator", label="刘调解员")
    await staff.click(f"{org_row} button.assign")
    await staff.wait_for_selector(f"{org_row}[data-state='assigned']")

    # mediator B, on a phone, accepts; the case joins B's cases with the parties the clerk entered
    b = await page_of(PHONE)
    await console_login(b, live.base, w["b"], PASSWORD)
    await b.wait_for_selector(f"#intake-assigned li[data-case-id='{cid}']")
    assert await b.evaluate("document.documentElement.scrollWidth") <= 360
    await b.click(f"#intake-assigned li[data-case-id='{cid}'] button.accept")
    await b.wait_for_selector(f"button[data-progress-id='{cid}']")
    await b.wait_for_selector(f"#intake li[data-case-id='{cid}']", state="detached")  # no longer waiting
    await b.click(f"button[data-progress-id='{cid}']")
    await b.wait_for_selector("#progress:not([hidden]) #people-rows tr:has-text('李四')")
    people = await b.inner_text("#people-rows")
    assert "张三" in people and "13912345678" in people and "lisi@example.org" in people
    await b.wait_for_selector("#period:not([hidden]) #period-form:not([hidden])")
    before = await b.inner_text(".period-deadline")
    assert BEIJING_TIME.search(before), before
    await b.fill("#period-days", "10")
    await b.fill("#period-reason", "等待伤残等级鉴定意见")
    await b.click("#period-form button")
    await b.wait_for_selector("#period-pending:not([hidden]) #period-consents li")
    assert await b.locator("#period-consents li").count() == 2
    assert "尚未同意" in await b.inner_text("#period-consents") and await b.is_hidden("#period-form")

    # each party opens their link (issued by B over the API, as a mediator sends it) and agrees
    b_token = (await _api(live.base, "POST", "/api/v1/auth/login", json={"username": w["b"], "password": PASSWORD}))[
        "token"
    ]
    case = await _api(live.base, "GET", f"/api/v1/cases/{cid}", b_token)
    deadline = datetime.fromisoformat(case["period"]["deadline"])
    parties = [p for p in case["participants"] if p["role"] != "mediator"]
    assert sorted(p["display_name"] for p in parties) == ["张三", "李四"]
    for i, p in enumerate(parties):
        link = await _api(live.base, "POST", f"/api/v1/cases/{cid}/participants/{p['id']}/link", b_token)
        party = await page_of(PHONE)
        await party.goto(link["join_url"])
        await party.wait_for_selector("#period-party:not([hidden])")
        assert "调解员申请延长调解期限10日，理由：等待伤残等级鉴定意见" in await party.inner_text("#period-party-text")
        assert await party.is_hidden("#period-party-done")
        await party.click("#period-party-consent")
        await party.wait_for_selector("#period-party-done:not([hidden])")
        assert await party.is_hidden("#period-party-consent")
        if i == len(parties) - 1:  # the last consent extends the period at once
            assert "调解期限已延长至" in await party.inner_text("#period-party-deadline")
        assert await party.evaluate("document.documentElement.scrollWidth") <= 360
        await party.context.close()
    extended = await _api(live.base, "GET", f"/api/v1/cases/{cid}", b_token)
    assert datetime.fromisoformat(extended["period"]["deadline"]) == deadline + timedelta(days=10)

    # B reopens the case from the list: the new deadline, the extension counted, nothing pending
    await b.click("#progress-back")
    await b.click(f"button[data-progress-id='{cid}']")

    async def new_deadline() -> str:
        shown = await b.inner_text(".period-deadline")
        return shown if shown != before and await b.is_hidden("#period-pending") else ""

    assert BEIJING_TIME.search(await poll(new_deadline, "the extended deadline"))
    assert "1 次" in await b.inner_text("#period-facts") and "超期" not in await b.inner_text("#period-facts")

    # the clerk: B holds the case; its timeline, with who and when in Beijing time
    await court.click("#referrals-refresh")

    async def held_by_b() -> bool:
        return "刘调解员" in await court.inner_text(f"#referral-rows tr[data-case-id='{cid}'] .holder")

    await poll(held_by_b, "the court sees the holder")
    assert "已受理" in await court.inner_text(f"#referral-rows tr[data-case-id='{cid}'] .state")
    await court.click(f"#referral-rows tr[data-case-id='{cid}'] button.timeline-button")
    await court.wait_for_selector(".timeline li[data-action='period.extended']")
    steps = await court.eval_on_selector_all(
        ".timeline li", "ls => ls.map(l => [l.dataset.action, l.querySelector('.label').textContent, l.textContent])"
    )
    actions = [s[0] for s in steps]
    for expected in ("case.referred", "case.assigned", "assignment.declined", "assignment.accepted", "period.extended"):
        assert expected in actions, actions
    assert (
        actions.index("assignment.declined") < actions.index("assignment.accepted") < actions.index("period.extended")
    )
    labels = " ".join(s[1] for s in steps)
    for word in ("委派", "分派调解员：陈调解员", "分派调解员：刘调解员", "退回：与被申请人系亲属", "受理", "延长"):
        assert word in labels, labels
    accepted = next(s[2] for s in steps if s[0] == "assignment.accepted")
    assert "刘调解员" in accepted and BEIJING_TIME.search(accepted), accepted

    # the clerk reaches the court's statistics from the desk: the case the court referred, held, not overdue
    await court.click("#referrals-stats-link")
    await court.wait_for_selector("#dashboard:not([hidden]) [data-figure='cases']")
    assert (await court.inner_text("[data-figure='cases'] b")).strip() == "1"
    assert (await court.inner_text("[data-figure='overdue'] b")).strip() == "0"
    await court.go_back()

    # the clerk's desk fits a phone's 360 px
    phone = await page_of(PHONE)
    await phone.goto(f"{live.base}/court")
    await phone.fill("#username", w["clerk"])
    await phone.fill("#password", PASSWORD)
    await phone.click("#login button")
    await phone.wait_for_selector(f"#referral-rows tr[data-case-id='{cid}']")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360

    # a judge of the court keeps the confirmation queue, with the same desk below it
    judge = await page_of(DESK)
    await judge.goto(f"{live.base}/court")
    await judge.fill("#username", w["judge"])
    await judge.fill("#password", PASSWORD)
    await judge.click("#login button")
    await judge.wait_for_selector(f"#referral-rows tr[data-case-id='{cid}']")
    assert await judge.is_visible("#queue") and await judge.is_visible("#refer-form")

    # the administrator records a party's direct application: it waits in 待分派案件 too
    await staff.fill("#apply-title", "王五与赵六物业服务合同纠纷")
    await staff.select_option("#apply-kind", "other")
    await staff.locator("#apply-parties .party-row .party-name").nth(0).fill("王五")
    await staff.locator("#apply-parties .party-row .party-name").nth(1).fill("赵六")
    await staff.click("#apply-form button.primary")
    await staff.wait_for_selector("#org-case-rows tr[data-state='referred']:has-text('王五与赵六')")
    assert "已登记" in await staff.inner_text("#apply-status")
    assert "当事人申请" in await staff.inner_text("#org-case-rows tr[data-state='referred']")

    # the administrator's desk fits a phone too
    org_phone = await page_of(PHONE)
    await console_login(org_phone, live.base, w["admin"], PASSWORD)
    await org_phone.click("#staff-link")
    await org_phone.wait_for_selector(org_row)
    assert "刘调解员" in await org_phone.inner_text(f"{org_row} .holder")
    assert await org_phone.evaluate("document.documentElement.scrollWidth") <= 360
    # (the clerk's 403 from the judges' queue is logged as a failed load; nothing else may fail)
    assert not [e for e in errors if "Failed to load resource" not in e], errors
