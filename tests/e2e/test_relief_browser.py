"""A relief fund advance in the real pages (headless Chromium, the pages' Content-Security-Policy in force): the
applicant applies on their phone from the link they were sent, with a photographed invoice; the fund's officer
reaches /fund from the home page, reads the invoice, approves and records the payment; the applicant's page says
已垫付; the officer records the recovery from the liable party in two parts until it is recovered."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from server.cases.endpoints import SERVICE
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.store.accounts import Account, AccountStore
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant", "respondent")):
        yield value


def _invoice() -> bytes:
    """A photographed invoice: a real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (240, 240, 230)).save(out, "PNG")
    return out.getvalue()


async def test_a_party_applies_the_fund_pays_and_recovers(browser: Any, live: Live) -> None:
    errors: list[str] = []
    refused: list[str] = []
    tag = uuid.uuid4().hex[:4]
    officer = Account(
        new_id(),
        f"fund-{tag}",
        "卫经办人",
        AccountKind.FUND_OFFICER,
        f"示范区道路交通事故社会救助基金{tag}",
        hash_password(PASSWORD, log2_n=10),
        datetime.now(UTC),
    )
    await AccountStore(live.app[SERVICE].repo.engine).create_account(officer)

    # the applicant, on the phone, from the link they were sent
    phone = await (await browser.new_context(**PHONE)).new_page()
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.on("response", lambda r: refused.append(r.url) if r.status >= 400 and "/relief" in r.url else None)
    await phone.goto(live.links["applicant"])
    await phone.wait_for_selector("#relief-party:not([hidden]) #relief-apply")
    await phone.select_option("#relief-ground", "fled")
    await phone.select_option("#relief-kind", "rescue")
    await phone.fill("#relief-amount", "20000")
    await phone.fill("#relief-payee", "示范区人民医院")
    await phone.fill("#relief-description", "肇事车辆逃逸，伤者正在抢救。")
    await phone.set_input_files(
        "#relief-files", files=[{"name": "抢救费用清单.png", "mimeType": "image/png", "buffer": _invoice()}]
    )
    await phone.click("#relief-submit")
    await phone.wait_for_selector(".relief-application .relief-state:has-text('已提交')")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone

    # the fund's officer: from the home page to /fund, logs in, opens the application
    desk = await (await browser.new_context(**DESK, accept_downloads=True)).new_page()
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desk.on("response", lambda r: refused.append(r.url) if r.status >= 400 and "/relief" in r.url else None)
    await desk.goto(live.base + "/")
    await desk.click("a[href='/fund']")
    await desk.fill("#username", officer.username)
    await desk.fill("#password", PASSWORD)
    await desk.click("#login button")
    await desk.wait_for_selector("#rows tr button.open")
    await desk.click("#rows tr button.open")
    await desk.wait_for_selector("#detail:not([hidden]) #decide:not([hidden])")
    assert "抢救费用清单.png" in await desk.inner_text("#d-evidence")
    async with desk.expect_download() as downloading:
        await desk.click("#d-evidence li:first-child button")
    assert Path(await (await downloading.value).path()).read_bytes() == _invoice()
    # more material first: the phone shows the fund's note and sends a second photo
    await desk.fill("#decide-note", "请补充交警出具的逃逸证明")
    await desk.click("#ask-more")
    await desk.wait_for_selector("#d-status:has-text('补充材料')")
    await phone.reload()
    await phone.wait_for_selector(".relief-application .relief-state:has-text('需补充材料')")
    assert "逃逸证明" in await phone.inner_text(".relief-application")
    await phone.set_input_files(
        ".relief-resubmit input[type=file]",
        files=[{"name": "逃逸证明.png", "mimeType": "image/png", "buffer": _invoice()}],
    )
    await phone.click(".relief-resubmit button")
    await phone.wait_for_selector(".relief-application .relief-state:has-text('已提交')")
    await desk.click("#back")
    await desk.click("#rows tr button.open")
    await desk.wait_for_selector("#detail:not([hidden]) #decide:not([hidden])")
    assert "逃逸证明.png" in await desk.inner_text("#d-evidence")
    await desk.fill("#approve-amount", "18000")
    await desk.click("#approve")
    await desk.wait_for_selector("#pay:not([hidden])")
    await desk.fill("#pay-reference", "PAY-0001")
    await desk.click("#pay button")
    await desk.wait_for_selector("#recovery:not([hidden])")
    assert "未查明" in await desk.inner_text("#r-facts")

    # the applicant's page says it was advanced
    await phone.reload()
    await phone.wait_for_selector(".relief-application .relief-state:has-text('已垫付')")
    assert "18000.00" in await phone.inner_text(".relief-application")

    # and so does the mediator's console, in the case's progress
    console = await (await browser.new_context(**DESK)).new_page()
    console.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await console_login(console, live.base, live.username, PASSWORD)
    await console.click(f"button[data-progress-id='{live.case_id}']")
    await console.wait_for_selector("#relief-desk:not([hidden]) #relief-desk-list li[data-state='paid']")
    assert "已垫付" in await console.inner_text("#relief-desk-list")

    # recovery from the respondent in two parts
    await desk.select_option("#liable-party", live.ids["respondent"])
    await desk.click("#liable button")
    await desk.wait_for_selector("#d-status:has-text('已保存')")
    for amount, reference in (("8000", "R1"), ("10000", "R2")):
        await desk.fill("#recover-amount", amount)
        await desk.fill("#recover-reference", reference)
        await desk.click("#recover button")
        await desk.wait_for_selector(f"#r-received li:has-text('{reference}')")
    assert re.search("已追回", await desk.inner_text("#r-facts"))
    assert await desk.is_hidden("#recover")
    await desk.click("#back")
    await desk.wait_for_selector("#figures:has-text('18000.00')")
    assert "已追回" in await desk.inner_text("#rows")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert refused == []  # every relief request the pages made was answered
