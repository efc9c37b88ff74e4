"""At intake a party opens the join link they were sent on a 360 px phone, corrects the mobile number the
mediator typed, adds a postal address, reads the notice and confirms the address for service (送达地址确认书);
the page says 已确认 with the time and offers the PDF; the mediator's console, reached by logging in and
opening the case's progress, marks that party confirmed and the other not (headless Chromium, the pages'
own Content-Security-Policy in force)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.e_service.endpoints import ADDRESSES
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

CONTACTS = {"applicant": {"phone": "13912345678", "email": "zhang@example.org"}, "respondent": {"phone": "13987654321"}}


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, contacts=CONTACTS, roles=("applicant", "respondent")):
        yield value


async def test_a_party_confirms_the_address_at_intake_and_the_console_shows_it(browser: Any, live: Live) -> None:
    phone = await (await browser.new_context(**PHONE)).new_page()
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await phone.goto(live.links["applicant"])  # the link as sent
    await phone.wait_for_selector("#service-address:not([hidden])")
    # prefilled with what the mediator entered; the notice is the server's
    assert await phone.input_value("#address-phone") == "13912345678"
    assert await phone.input_value("#address-email") == "zhang@example.org"
    assert await phone.locator("#address-notice li").count() == 5
    assert "送达之日" in await phone.inner_text("#address-notice")
    assert await phone.is_checked("input[name='address-channel'][value='sms']")

    await phone.fill("#address-phone", "13800138000")
    await phone.fill("#address-postal", "北京市朝阳区建国路88号")
    await phone.check("#address-ack")
    await phone.click("#address-form button.primary")
    await phone.wait_for_selector("#address-done:not([hidden])")
    assert "已确认" in await phone.inner_text("#address-done")
    assert await phone.is_hidden("#address-form")
    pdf = phone.locator("#address-pdf")
    await pdf.wait_for(state="visible")
    assert (await pdf.get_attribute("href") or "").startswith("blob:")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone

    stored = await live.app[ADDRESSES].confirmed_address(live.case_id, live.ids["applicant"])
    assert stored is not None and stored.phone == "13800138000" and stored.postal_address == "北京市朝阳区建国路88号"
    assert stored.channels == ("email", "sms", "inbox")

    # opened again, the link shows the confirmation, not the form
    await phone.reload()
    await phone.wait_for_selector("#address-done:not([hidden])")
    assert await phone.is_hidden("#address-form")

    desk = await (await browser.new_context(**DESK)).new_page()
    await console_login(desk, live.base, live.username, PASSWORD)
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    row = desk.locator(f"#people-rows tr[data-participant-id='{live.ids['applicant']}']")
    await row.locator(".address-state[data-confirmed='true']").wait_for()
    assert "送达地址已确认" in await row.inner_text() and "13800138000" in await row.inner_text()
    other = desk.locator(f"#people-rows tr[data-participant-id='{live.ids['respondent']}'] .address-state")
    await other.wait_for()
    assert await other.get_attribute("data-confirmed") == "false"
    assert not [e for e in errors if "Content Security Policy" in e], errors
