"""Issue 14's "done when", played through the pages only as their users would (headless Chromium, the pages'
own Content-Security-Policy in force; only the accounts, the court's roster entry and the SMTP server are set
up by code).

A court's clerk refers two cases on /court to an organisation on the court's roster; its administrator assigns
both on /staff to a mediator, who accepts them on /console. Case A: the mediator adds the insurer, sends each
person their link by e-mail (a real SMTP server on loopback: the links are read from its mailbox), schedules
a session and opens the room; both parties open their mailed links on phones (fake camera and microphone),
are admitted and receive video; the mediator ends the session, calculates on /agreement and drafts the
agreement from the result. Case B: links by e-mail, the record of undisputed facts drafted on the console and
confirmed by both parties on their join pages, then 调解不成，转诉讼. The clerk sees A held by the mediator and
B failed with its record (the PDF carries the facts and both confirmations); the administrator's dashboard
(统计) counts both cases, one of them failed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from server.cases.endpoints import INVITATIONS
from server.domain.compensation import AccidentClaim, CompulsoryPolicy, Item, Vehicle, calculate
from server.notify import ChannelNotifier, LogNotifier, SmtpNotifier
from tests.channels import Mailbox, smtp_server
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import admit_participant, console_login, court_login, poll, referral_accounts
from tests.live import PASSWORD, Live, _live
from tests.pdfs import pdf_text, require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

BEIJING = ZoneInfo("Asia/Shanghai")
MEDIATOR = "陈调解员"
A = (
    "张三诉李四机动车交通事故责任纠纷",
    (("applicant", "张三", "zhangsan@example.org"), ("respondent", "李四", "lisi@example.org")),
)
B = (
    "王五诉赵六机动车交通事故责任纠纷",
    (("applicant", "王五", "wangwu@example.org"), ("respondent", "赵六", "zhaoliu@example.org")),
)
INSURER = ("平安财险示范支公司", "claims@insurer.example.org")
MEDICAL = "30000"
FACTS = ("2026年10月3日8时许，赵六驾驶小型轿车在环城路与王五驾驶的电动自行车相撞。", "交警部门认定赵六负事故全部责任。")
DISPUTE = "误工费的计算标准。"
LINK = re.compile(r"https?://\S+/join#token=[A-Za-z0-9._-]+")
RECEIVING = """n => [...document.querySelectorAll('#tiles .tile video')]
  .filter(v => v.readyState >= 2 && v.videoWidth > 0).length >= n"""


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=()):
        yield value


async def refer(court: Any, organisation: str, title: str, parties: tuple[tuple[str, str, str], ...]) -> str:
    """The clerk refers a case before litigation (诉前委派) with its parties; answers its id from the list."""
    await court.select_option("#refer-kind", "pre_litigation")
    await court.fill("#refer-title", title)
    await court.select_option("#refer-dispute", "traffic_accident")
    await court.select_option("#refer-organisation", label=organisation)
    for n, (role, name, email) in enumerate(parties):
        row = court.locator("#refer-parties .party-row").nth(n)
        await row.locator(".party-role").select_option(role)
        await row.locator(".party-name").fill(name)
        await row.locator(".party-email").fill(email)
    await court.click("#refer-form button.primary")
    row = court.locator(f"#referral-rows tr[data-case-id]:has-text('{title}')")
    await row.wait_for()
    cid = await row.get_attribute("data-case-id")
    assert cid and "待分派" in await row.locator(".holder").inner_text()
    return str(cid)


async def invite_by_email(desk: Any, name: str, address: str) -> None:
    """The mediator presses 邮件发送 in the person's row and sees it sent (masked address)."""
    row = desk.locator(f"#people-rows tr:has-text('{name}')")
    await row.locator("button.invite-email").click()

    async def sent() -> str:
        text = str(await row.locator(".sent").inner_text())
        return text if "已发送" in text else ""

    masked = f"{address[0]}***@{address.split('@')[1]}"
    assert masked in await poll(sent, f"the invitation to {name} sent")


async def mailed_link(box: Mailbox, address: str) -> str:
    """The join link in the last message the SMTP server took for ``address``."""

    async def arrived() -> Any:
        return [m for m in box.received if m.rcpt_tos == [address]]

    mail = (await poll(arrived, f"a message to {address}"))[-1]
    body = mail.parsed().get_body(preferencelist=("plain",))
    assert body is not None
    link = LINK.search(body.get_content())
    assert link, body.get_content()
    return link.group(0)


async def test_a_referral_runs_through_the_pages_to_the_dashboard(browser: Any, live: Live) -> None:
    w = await referral_accounts(live)
    errors: list[str] = []
    laps: list[tuple[str, float]] = [("start", time.perf_counter())]

    def lap(what: str) -> None:  # each step's time, printed at the end (pytest -s shows it)
        laps.append((what, time.perf_counter()))

    async def page_of(context: dict[str, Any]) -> Any:
        page = await (await browser.new_context(**context)).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        return page

    box = Mailbox()
    with smtp_server(box) as smtp:
        live.app[INVITATIONS].notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", smtp.port, "noreply@mediation.test", timeout=5), None, LogNotifier()
        )

        # ---- 1. the clerk refers case A and case B to the organisation on the court's roster
        court = await page_of(DESK)
        await court_login(court, live.base, w["clerk"], PASSWORD)
        await court.wait_for_selector("#referrals:not([hidden])")
        a = await refer(court, w["east"], *A)
        b = await refer(court, w["east"], *B)

        lap("referred")
        # ---- 2. the organisation's administrator assigns both to the mediator on /staff
        staff = await page_of(DESK)
        await console_login(staff, live.base, w["admin"], PASSWORD)
        await staff.wait_for_selector("#admin:not([hidden])")
        await staff.click("#staff-link")
        for cid in (a, b):
            row = f"#org-case-rows tr[data-case-id='{cid}']"
            await staff.select_option(f"{row} select.assign-mediator", label=MEDIATOR)
            await staff.click(f"{row} button.assign")
            await staff.wait_for_selector(f"{row}[data-state='assigned']")

        lap("assigned")
        # ---- 3. the mediator accepts both, opens A, adds the insurer and mails everyone their link
        desk = await page_of(DESK)
        desk.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # 确定结束本次调解？
        await console_login(desk, live.base, w["a"], PASSWORD)
        for cid in (a, b):
            await desk.click(f"#intake-assigned li[data-case-id='{cid}'] button.accept")
            await desk.wait_for_selector(f"button[data-progress-id='{cid}']")
        await desk.click(f"button[data-progress-id='{a}']")
        await desk.wait_for_selector(f"#progress:not([hidden]) #people-rows tr:has-text('{A[1][1][1]}')")
        assert "已受理" in await desk.inner_text("#progress-state")
        await desk.select_option("#person-role", "insurer")
        await desk.fill("#person-name", INSURER[0])
        await desk.fill("#person-email", INSURER[1])
        await desk.click("#add-person button")
        await desk.wait_for_selector(f"#people-rows tr:has-text('{INSURER[0]}')")
        people = (*A[1], ("insurer", *INSURER))
        for _role, name, address in people:
            await invite_by_email(desk, name, address)
        links = {name: await mailed_link(box, address) for _role, name, address in people}
        assert sorted(m.rcpt_tos[0] for m in box.received) == sorted(p[2] for p in people)
        pids = {
            name: await desk.get_attribute(f"#people-rows tr:has-text('{name}')", "data-participant-id")
            for _role, name, _address in A[1]
        }

        # schedules a session (Beijing time), opens the room from the list; both parties come from the mail
        starts = datetime.now(BEIJING) + timedelta(minutes=10)
        await desk.fill("#schedule-at", starts.strftime("%Y-%m-%dT%H:%M"))
        await desk.click("#schedule button")
        await desk.wait_for_selector("#sessions li")
        assert "已安排" in await desk.inner_text("#sessions") and starts.strftime("%H:%M") in await desk.inner_text(
            "#sessions"
        )
        await desk.click("#progress-back")
        await desk.click(f"button[data-case-id='{a}']")
        await desk.wait_for_selector("#room:not([hidden])")
        phones = []
        for _role, name, _address in A[1]:
            phone = await page_of(PHONE)
            await phone.goto(links[name])
            await phone.wait_for_selector(f"#case-title:has-text('{A[0]}')")
            await phone.check("#consent")
            await phone.click("#join")
            await admit_participant(desk, str(pids[name]), phone)
            await desk.wait_for_selector(f"#people li[data-pid='{pids[name]}'][data-presence='admitted']")
            phones.append(phone)
        # in the room: each page shows and plays the two others' video
        for page in (desk, *phones):
            await page.wait_for_function(RECEIVING, arg=2, timeout=30_000)
        await desk.wait_for_selector(f"#people li.absent:has-text('{INSURER[0]}')")  # mailed, did not come
        await desk.click("#end")
        for phone in phones:
            await phone.wait_for_selector("#gone:not([hidden])")
            assert "调解已结束" in await phone.inner_text("#status")
            await phone.context.close()
        await desk.wait_for_selector(f"#case-rows tr:has(button[data-case-id='{a}']):has-text('调解间歇')")

        lap("session held")
        # ---- 4. the calculator and the agreement's draft, from the case list
        await desk.click(f"a.agreement-link[data-agreement-id='{a}']")
        await desk.wait_for_selector("#calculator:not([hidden]) .vehicle-row")
        assert await desk.input_value(".vehicle-row .v-party") == "李四"
        assert await desk.input_value(".vehicle-row .v-share") == "100"
        await desk.select_option(".item-row .i-kind", "medical")
        await desk.fill(".item-row .i-amount", MEDICAL)
        await desk.fill(".vehicle-row .v-compulsory", INSURER[0])
        await desk.click("#calculate")
        await desk.wait_for_selector("#result:not([hidden])")
        split = calculate(
            AccidentClaim(
                items=(Item.parse("medical", MEDICAL, ""),),
                vehicles=(Vehicle("李四", 100, CompulsoryPolicy(INSURER[0])),),
            )
        )
        shown = await desk.eval_on_selector_all(
            "#result-table tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
        )
        assert shown == split.as_rows()
        assert f"受害人获赔 {split.recovered} 元" in await desk.inner_text("#recovered")
        await desk.click("#to-draft")
        await desk.wait_for_selector("#editor:not([hidden]) .obligation-row")
        assert await desk.input_value(".obligation-row .o-payer") == INSURER[0]
        await desk.fill("#facts", "2026年10月3日，李四驾驶的车辆与张三驾驶的电动自行车相撞，李四负全部责任。")
        await desk.fill("#pay-by", "2026-12-31")
        await desk.click("#submit-draft")
        await desk.wait_for_selector("#version-list li[data-version='1']")
        assert "第 2 稿" in await desk.inner_text("#submit-draft")
        await desk.click("a[href='/console']:visible")

        lap("agreement drafted")
        # ---- 5. case B: links by mail, the record of undisputed facts, both parties confirm, 调解不成
        await desk.click(f"button[data-progress-id='{b}']")
        await desk.wait_for_selector(f"#progress:not([hidden]) #people-rows tr:has-text('{B[1][1][1]}')")
        for _role, name, address in B[1]:
            await invite_by_email(desk, name, address)
        await desk.wait_for_selector("#facts-desk:not([hidden]) #facts-items li")
        await desk.fill("#facts-items li:nth-child(1) .facts-text", FACTS[0])
        await desk.click("#facts-add-fact")
        await desk.fill("#facts-items li:nth-child(2) .facts-text", FACTS[1])
        await desk.click("#facts-add-dispute")
        await desk.fill("#facts-items li:nth-child(3) .facts-text", DISPUTE)
        await desk.click("#facts-form button.primary")
        await desk.wait_for_selector("#facts-version:has-text('第 1 稿')")
        for _role, _name, address in B[1]:
            phone = await page_of(PHONE)
            await phone.goto(await mailed_link(box, address))
            await phone.wait_for_selector("#facts-party:not([hidden])")
            assert [await li.inner_text() for li in await phone.query_selector_all("#facts-party-facts li")] == list(
                FACTS
            )
            await phone.click("#facts-confirm")
            await phone.wait_for_selector("#facts-party-mine[data-answer='confirm']")
            await phone.context.close()
        await desk.click("#progress-back")
        await desk.click(f"button[data-progress-id='{b}']")
        await desk.wait_for_selector("#facts-answers li[data-answer='confirm'] >> nth=1")
        await desk.fill("#facts-reason", "双方对误工费差距过大，调解不成。")
        await desk.click("#facts-fail-ask")
        await desk.click("#facts-fail-yes")
        await desk.wait_for_selector("#facts-outcome a#facts-pdf[href^='blob:']")
        assert "调解不成" in await desk.inner_text("#progress-state")

    lap("mediation failed")
    # ---- 6. the clerk: A is held by the mediator with its state; B came back with its record
    await court.click("#referrals-refresh")
    row_a, row_b = (f"#referral-rows tr[data-case-id='{cid}']" for cid in (a, b))
    await court.wait_for_selector(f"{row_b}[data-state='mediation_failed'] button.facts-button")
    assert MEDIATOR in await court.inner_text(f"{row_a} .holder")
    assert "协议已起草" in await court.inner_text(f"{row_a} .state")
    assert await court.locator(f"{row_a} button.facts-button").count() == 0
    assert MEDIATOR in await court.inner_text(f"{row_b} .holder") and "调解不成" in await court.inner_text(
        f"{row_b} .state"
    )
    fetched: list[bytes] = []

    async def keep(route: Any) -> None:  # the page's own request, passed through; its bytes kept
        answer = await route.fetch()
        fetched.append(await answer.body())
        await route.fulfill(response=answer)

    await court.route(f"**/api/v1/court/cases/{b}/facts/document", keep)
    async with court.expect_popup() as opened:
        await court.click(f"{row_b} button.facts-button")
    popup = await opened.value
    assert popup.url.startswith("blob:")  # the record opens in a new tab
    [pdf] = fetched
    assert pdf.startswith(b"%PDF")
    text = "".join(pdf_text(pdf).split())  # pdftotext breaks lines where the page does
    for expected in (
        "无争议事实记载",
        *("".join(f.split()) for f in (*FACTS, DISPUTE)),
        "王五",
        "赵六",
        "双方对误工费差距过大",
    ):
        assert expected in text, expected
    assert text.count("确认") >= 2 and "未答复" not in text and "有异议" not in text

    lap("court checked")
    # ---- 7. the dashboard: the administrator follows 统计 from /staff
    await staff.click("#stats-link")
    await staff.wait_for_selector("#dashboard:not([hidden]) [data-figure='cases']")
    assert (await staff.inner_text("[data-figure='cases'] b")).strip() == "2"
    assert (await staff.inner_text("[data-figure='success_rate'] b")).strip() == "0.0%"
    assert "（0/1）" in await staff.inner_text("[data-figure='success_rate'] span")
    bars = await staff.eval_on_selector_all(
        "#chart-states svg g", "gs => gs.map(g => [g.dataset.state, g.lastChild.textContent])"
    )
    assert sorted(bars) == [["agreement_drafted", "1"], ["mediation_failed", "1"]]
    chart = await staff.inner_text("#chart-states")
    assert "调解不成" in chart and "协议已起草" in chart
    mediators = await staff.eval_on_selector_all(
        "#rows-mediators tr", "rs => rs.map(r => [r.cells[0].textContent, r.querySelector('.count').textContent])"
    )
    assert mediators == [[MEDIATOR, "2"]]
    lap("dashboard read")
    print(" · ".join(f"{what} {t - before:.1f} s" for (_, before), (what, t) in zip(laps, laps[1:], strict=False)))
    # (the clerk's 403 from the judges' queue is logged as a failed load; nothing else may fail)
    assert not [e for e in errors if "Failed to load resource" not in e], errors
