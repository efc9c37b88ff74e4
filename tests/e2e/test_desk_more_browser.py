"""The rest of the mediator's desk (issue 14) in headless Chromium on a 360 px phone, with the pages' own
Content-Security-Policy in force, everything reached from /console: the mediator files a case, adds the
parties, the insurer and an agent who acts for the applicant; sends invitations (e-mail through a real SMTP
server on loopback, taken; SMS with no gateway, only logged) and reads on the case, later, what each channel
answered; uploads the police's liability finding (PDF) and a photo, sees them listed by kind and opens them
(the same bytes come back); a file of the wrong kind is refused; reschedules a session and cancels it. Then,
once a session was recorded (real aiortc peers through the real server), the case links to its playback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.cases.endpoints import INVITATIONS
from server.notify import ChannelNotifier, LogNotifier, SmtpNotifier
from tests.channels import Mailbox, smtp_server
from tests.e2e.chromium import PHONE
from tests.e2e.steps import console_login, poll, record_session
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

FINDING = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
READ_CASE = """async (q) => {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem("mediation-token") };
  const list = await (await fetch("/api/v1/cases?q=" + encodeURIComponent(q), { headers })).json();
  return await (await fetch("/api/v1/cases/" + list.items[0].id, { headers })).json();
}"""
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, recording_segment_seconds=1.0):
        yield value


async def fits(page: Any) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360


async def add(page: Any, role: str, name: str, *, email: str = "", phone: str = "", acts_for: str = "") -> None:
    await page.select_option("#person-role", role)
    assert await page.is_visible("#person-represents") == (role == "agent")  # only an agent acts for someone
    await page.fill("#person-name", name)
    if email:
        await page.fill("#person-email", email)
    if phone:
        await page.fill("#person-phone", phone)
    if acts_for:
        await page.select_option("#person-represents", label=acts_for)
    await page.click("#add-person button")
    await page.wait_for_selector(f"#people-rows tr:has-text('{name}')")


async def test_a_mediator_on_a_phone_adds_an_agent_and_the_insurer_uploads_evidence_and_moves_sessions(
    browser: Any, live: Live
) -> None:
    context = await browser.new_context(**PHONE, accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
    await console_login(page, live.base, live.username, PASSWORD)
    await page.wait_for_selector("#cases:not([hidden])")
    await page.select_option("#new-case-kind", "traffic_accident")
    await page.fill("#new-case-title", "孙七诉周八机动车交通事故责任纠纷")
    await page.click("#new-case button")
    await page.wait_for_selector("#progress-title:has-text('孙七诉周八')")
    await fits(page)

    # the parties, the insurer, and an agent who acts for the applicant
    await add(page, "applicant", "孙七", email="sunqi@example.org")
    await add(page, "respondent", "周八", phone="13900139000")
    await add(page, "insurer", "中国人民财产保险股份有限公司北京市分公司")
    await add(page, "agent", "吴律师", acts_for="孙七（申请人）")
    agent_row = page.locator("#people-rows tr:has-text('吴律师')")
    assert "代理人" in await agent_row.inner_text() and "代理 孙七" in await agent_row.inner_text()
    view = await page.evaluate(READ_CASE, "孙七诉周八")  # what the server stored, as this tab's login reads it
    case_id = view["id"]
    by_name = {p["display_name"]: p for p in view["participants"]}
    assert by_name["吴律师"]["role"] == "agent" and by_name["吴律师"]["represents"] == by_name["孙七"]["id"]
    assert by_name["中国人民财产保险股份有限公司北京市分公司"]["role"] == "insurer"
    await fits(page)

    # invitations: the e-mail is taken by the mail server, the SMS only logged (no gateway); the case shows both
    box = Mailbox()
    with smtp_server(box) as controller:
        live.app[INVITATIONS].notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", controller.port, "noreply@mediation.test", timeout=5), None, LogNotifier()
        )
        await page.locator("#people-rows tr:has-text('孙七') button.invite-email").first.click()
        sent = page.locator("#people-rows tr:has-text('孙七') .sent").first
        assert "s***@example.org" in await poll(lambda: _text_with(sent, "已发送"), "the e-mail invitation taken")
        await page.locator("#people-rows tr:has-text('周八') button.invite-sms").click()
        await poll(lambda: _text_with(page.locator("#people-rows tr:has-text('周八') .sent"), "未能送达"), "the SMS")
        assert len(box.received) == 1
    await page.click("#progress-back")
    await page.click(f"button[data-progress-id='{case_id}']")
    await page.wait_for_selector("#people-rows tr:has-text('孙七') .delivery")
    assert "邮件 E-mail · 已送达" in await page.locator("#people-rows tr:has-text('孙七') .delivery").inner_text()
    await page.wait_for_selector("#people-rows tr:has-text('周八') .delivery")
    assert "短信 SMS · 未送达" in await page.locator("#people-rows tr:has-text('周八') .delivery").inner_text()
    assert await page.locator("#people-rows tr:has-text('吴律师') .delivery").count() == 0  # never invited

    # evidence: the police's liability finding (a PDF, titled from its file name) and a photo the parties may read
    assert await page.is_visible("#documents-empty")
    await page.select_option("#upload-kind", "liability_finding")
    await page.set_input_files(
        "#upload-file", {"name": "交通事故认定书.pdf", "mimeType": "application/pdf", "buffer": FINDING}
    )
    await page.click("#upload-document button")
    await page.wait_for_selector("#document-rows tr[data-kind='liability_finding']")
    row = page.locator("#document-rows tr[data-kind='liability_finding']")
    assert "交通事故认定书" in await row.inner_text() and "Police liability finding" in await row.inner_text()
    assert "已上传" in await page.inner_text("#progress-status")
    await page.select_option("#upload-kind", "photo")
    await page.fill("#upload-title", "车损照片")
    await page.select_option("#upload-visibility", "parties")
    await page.set_input_files("#upload-file", {"name": "IMG_0001.png", "mimeType": "image/png", "buffer": PHOTO})
    await page.click("#upload-document button")
    await page.wait_for_selector("#document-rows tr[data-kind='photo']:has-text('当事人可见')")
    await fits(page)
    for kind, data in (("liability_finding", FINDING), ("photo", PHOTO)):
        async with page.expect_download() as info:
            await page.click(f"#document-rows tr[data-kind='{kind}'] button.open-document")
        download = await info.value
        assert Path(await download.path()).read_bytes() == data
        assert download.suggested_filename in ("交通事故认定书.pdf", "车损照片.png")
    # refused: a Word file (by the page), and bytes that are not the PDF they claim to be (by the server)
    await page.set_input_files(
        "#upload-file",
        {
            "name": "a.docx",
            "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "buffer": b"PK\x03\x04",
        },
    )
    await page.click("#upload-document button")
    assert "只能上传" in await page.inner_text("#documents-status")
    await page.set_input_files("#upload-file", {"name": "b.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf"})
    await page.click("#upload-document button")
    await poll(lambda: _text_with(page.locator("#documents-status"), "文件内容与类型不符"), "the server's refusal")
    assert await page.locator("#document-rows tr").count() == 2

    # sessions: schedule, reschedule (the old one is cancelled, the new one stands), cancel
    await page.fill("#schedule-at", "2026-12-20T09:30")
    await page.click("#schedule button")
    await page.wait_for_selector("#sessions li[data-status='scheduled'] button.reschedule")
    await page.click("#sessions li[data-status='scheduled'] button.reschedule")
    assert await page.input_value(".reschedule-at") == "2026-12-20T09:30"
    await fits(page)
    await page.fill(".reschedule-at", "2026-12-22T14:00")
    await page.click(".reschedule-form button.primary")
    await page.wait_for_selector("#sessions li[data-status='cancelled']")
    assert "已改期" in await page.inner_text("#progress-status")
    assert "09:30" in await page.inner_text("#sessions li[data-status='cancelled']")
    assert "14:00" in await page.inner_text("#sessions li[data-status='scheduled']")
    assert "已安排调解" in await page.inner_text("#progress-state")
    await page.click("#sessions li[data-status='scheduled'] button.cancel-session")
    await page.click("#sessions li[data-status='scheduled'] button.cancel-no")  # changed their mind once
    assert await page.locator("#sessions li[data-status='scheduled']").count() == 1
    await page.click("#sessions li[data-status='scheduled'] button.cancel-session")
    await page.click("#sessions li[data-status='scheduled'] button.cancel-yes")
    await poll(lambda: _count(page, "#sessions li[data-status='cancelled']", 2), "both sessions cancelled")
    assert "已受理" in await page.inner_text("#progress-state")  # no session on the calendar any more
    assert await page.locator("#sessions button.reschedule").count() == 0
    await fits(page)
    assert not [e for e in errors if not e.startswith("Failed to load resource")], errors
    # nothing refused but the bad upload (and the console's own look for a signing that is not there)
    assert [r for r in refused if not re.match(r"404 GET \S+/signing$", r)] == [
        next(r for r in refused if r.startswith("422 POST") and "/documents?" in r)
    ], refused


async def test_a_recorded_session_links_from_the_case_to_its_playback(browser: Any, live: Live, tmp_path: Path) -> None:
    session_id = await record_session(live, tmp_path)
    page = await (await browser.new_context(**PHONE)).new_page()
    await console_login(page, live.base, live.username, PASSWORD)
    await page.click(f"button[data-progress-id='{live.case_id}']")
    link = page.locator(f"#sessions li[data-session-id='{session_id}'] a.playback-link")
    await link.wait_for()
    assert "已结束" in await page.inner_text(f"#sessions li[data-session-id='{session_id}']")
    await fits(page)
    await link.click()
    await page.wait_for_selector("#player:not([hidden])", timeout=30_000)
    assert re.search(rf"session={session_id}", page.url)


async def _text_with(locator: Any, needle: str) -> str:
    text: str = await locator.inner_text()
    return text if needle in text else ""


async def _count(page: Any, selector: str, n: int) -> bool:
    return bool(await page.locator(selector).count() == n)
