"""The mediator's desk in the browser, from the console only: file a case, add the parties, send a party
their link by e-mail (a real SMTP server on loopback), schedule the session; the party opens the mailed
link on a phone and finds the case (headless Chromium, the pages' own Content-Security-Policy in force)."""

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
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path):
        yield value


async def test_a_mediator_files_a_case_invites_a_party_and_schedules_from_the_console(browser: Any, live: Live) -> None:
    box = Mailbox()
    with smtp_server(box) as controller:
        live.app[INVITATIONS].notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", controller.port, "noreply@mediation.test", timeout=5), None, LogNotifier()
        )
        page = await (await browser.new_context(**DESK)).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await console_login(page, live.base, live.username, PASSWORD)
        await page.wait_for_selector("#cases:not([hidden])")

        await page.select_option("#new-case-kind", "traffic_accident")
        await page.fill("#new-case-title", "王五诉赵六机动车交通事故责任纠纷")
        await page.click("#new-case button")
        await page.wait_for_selector("#progress-title:has-text('王五诉赵六')")
        assert "已受理" in await page.inner_text("#progress-state")  # filed by the mediator: held and accepted

        for role, name, email in (("applicant", "王五", "wangwu@example.org"), ("respondent", "赵六", "")):
            await page.select_option("#person-role", role)
            await page.fill("#person-name", name)
            if email:
                await page.fill("#person-email", email)
            await page.click("#add-person button")
            await page.wait_for_selector(f"#people-rows tr:has-text('{name}')")
        row = page.locator("#people-rows tr:has-text('王五')")
        assert await page.locator("#people-rows tr:has-text('赵六') button.invite-email").is_disabled()  # no e-mail
        await row.locator("button.invite-email").click()

        async def sent() -> str:
            text = await row.locator(".sent").inner_text()
            return text if "已发送" in text else ""

        assert "w***@example.org" in await poll(sent, "the invitation sent")
        [mail] = box.received
        assert mail.rcpt_tos == ["wangwu@example.org"]

    await page.fill("#schedule-at", "2026-12-20T09:30")
    await page.click("#schedule button")
    await page.wait_for_selector("#sessions li")
    assert "已安排" in await page.inner_text("#sessions") and "09:30" in await page.inner_text("#sessions")
    assert "已安排调解" in await page.inner_text("#progress-state")

    # the party opens the mailed link on a phone and finds the case
    body = mail.parsed().get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(r"https?://\S+/join#token=[A-Za-z0-9._-]+", body.get_content())
    assert link, body.get_content()
    phone = await (await browser.new_context(**PHONE)).new_page()
    await phone.goto(link.group(0))
    await phone.wait_for_selector("#case:not([hidden])")
    assert "王五诉赵六" in await phone.inner_text("#case-title")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "Content Security Policy" in e], errors
