"""An organisation's administrator manages its accounts from the pages only (headless Chromium, the pages'
own Content-Security-Policy in force): logs in on the console, follows its link to the accounts page,
creates a mediator (whose generated password then opens the console), resets a password and disables an
account, whose live login ends at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from server.cases.endpoints import SERVICE
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.store.accounts import Account, AccountStore
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path):
        yield value


async def status_of(base: str, path: str, token: str | None = None, json: Any = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request("POST" if json else "GET", base + path, json=json, headers=headers) as resp,
    ):
        return resp.status


async def test_an_administrator_manages_the_accounts_from_the_pages(browser: Any, live: Live) -> None:
    store = AccountStore(live.app[SERVICE].repo.engine)
    mediator = await store.account_by_username(live.username)
    assert mediator is not None
    admin = Account(
        new_id(), "chen.admin", "陈管理员", AccountKind.ORG_ADMIN, mediator.organization,
        hash_password(PASSWORD, log2_n=10), datetime.now(UTC),
    )  # fmt: skip
    await store.create_account(admin)
    assert await status_of(live.base, "/api/v1/me", live.tokens["mediator"]) == 200

    context = await browser.new_context(**DESK)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    await console_login(page, live.base, "chen.admin", PASSWORD)
    await page.wait_for_selector("#admin:not([hidden])")
    assert mediator.organization in await page.inner_text("#admin-organisation")
    assert await page.is_hidden("#cases")
    await page.click("#staff-link")
    await page.wait_for_selector(f"tr[data-username='{live.username}']")
    assert await page.evaluate("location.pathname") == "/staff"
    assert "人民调解委员会" in await page.inner_text("#organisation")
    # a mediation committee offers its own kinds of account only
    offered = await page.eval_on_selector_all("#new-kind option", "os => os.map(o => o.value)")
    assert offered == ["mediator", "org_admin"]

    await page.fill("#new-username", "li.tiaojie")
    await page.fill("#new-name", "李调解员")
    await page.fill("#new-phone", "13600001111")
    await page.click("#create button")
    await page.wait_for_selector("#password-box:not([hidden])")
    password = (await page.inner_text("#password-value")).strip()
    assert len(password) == 14 and "李调解员" in await page.inner_text("#password-for")
    await page.wait_for_selector("tr[data-username='li.tiaojie']")
    assert "13600001111" in await page.inner_text("tr[data-username='li.tiaojie']")

    # the new mediator opens the console with that password
    other = await (await browser.new_context(**DESK)).new_page()
    await console_login(other, live.base, "li.tiaojie", password)
    await other.wait_for_selector("#cases:not([hidden])")

    # the case's mediator, on a phone: the console fits 360 px, the case's state in Chinese first
    console = await (await browser.new_context(**PHONE)).new_page()
    await console_login(console, live.base, live.username, PASSWORD)
    await console.wait_for_selector(f"button[data-case-id='{live.case_id}']")
    assert "已安排调解" in await console.inner_text("#case-rows")
    assert await console.evaluate("document.documentElement.scrollWidth") <= 360

    # disabling the case's mediator ends their login at once
    await page.click(f"tr[data-username='{live.username}'] button.disable")
    row = f"tr[data-username='{live.username}']"

    async def disabled() -> bool:
        return "已停用" in await page.inner_text(row)

    await poll(disabled, "the disabled state")
    assert await status_of(live.base, "/api/v1/me", live.tokens["mediator"]) == 401

    # a reset shows a new password; the old one no longer opens anything
    await page.click("tr[data-username='li.tiaojie'] button.reset")

    async def new_password() -> str | None:
        shown = (await page.inner_text("#password-value")).strip()
        return shown if shown != password else None

    fresh = await poll(new_password, "a new password")
    login = "/api/v1/auth/login"
    assert await status_of(live.base, login, json={"username": "li.tiaojie", "password": password}) == 401
    assert await status_of(live.base, login, json={"username": "li.tiaojie", "password": fresh}) == 200

    async def three_changes() -> bool:
        return bool(await page.locator("#events li").count() == 3)

    await poll(three_changes, "three changes listed")
    events = await page.inner_text("#events")
    assert "创建账号" in events and "停用账号" in events and "重置密码" in events
    assert "13600001111" not in events

    # the accounts page fits a phone's 360 px (the table scrolls inside its box)
    phone = await (await browser.new_context(**PHONE)).new_page()
    await console_login(phone, live.base, "chen.admin", PASSWORD)
    await phone.click("#staff-link")
    await phone.wait_for_selector("tr[data-username='li.tiaojie']")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "Content Security Policy" in e], errors
