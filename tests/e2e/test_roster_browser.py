"""A court's roster (特邀调解名册) and a mediator's profile from the pages only (headless Chromium, the pages' own
Content-Security-Policy in force): a court's administrator logs in on the console, follows its link to /staff,
puts a mediation committee on the roster for road traffic, suspends it and restores it; the committee's
administrator sees the court's roster on their /staff; a mediator writes their profile from the console, on a
phone (360 px)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from server.app import build_app
from server.config import Settings
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.store import db
from server.store.accounts import Account, AccountStore
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll

pytestmark = pytest.mark.asyncio

PASSWORD = "pw-roster-123456"
COURT = "示范区人民法院"
EAST = "城东人民调解委员会"


@dataclass
class Site:
    base: str
    accounts: dict[str, Account]


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roster.db'}"
    await db.upgrade(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        secret_key="r" * 40,
        auto_migrate=False,
        public_url=f"http://127.0.0.1:{port}",
        transcript_engine="off",
    )
    app = build_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    engine = db.create_engine(url)
    store = AccountStore(engine)
    accounts = {}
    for username, name, kind, organisation in (
        ("court.admin", "周管理员", AccountKind.ORG_ADMIN, COURT),
        ("east.admin", "陈管理员", AccountKind.ORG_ADMIN, EAST),
        ("east.zhang", "张调解员", AccountKind.MEDIATOR, EAST),
    ):
        account = Account(
            new_id(), username, name, kind, organisation, hash_password(PASSWORD, log2_n=10), datetime.now(UTC)
        )
        await store.create_account(account)
        accounts[username] = await store.account(account.id)
    try:
        yield Site(str(server.make_url("")).rstrip("/"), accounts)
    finally:
        await engine.dispose()
        await server.close()


async def call(site: Site, method: str, path: str, username: str, json: Any = None) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            site.base + "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        ) as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.request(method, site.base + path, json=json, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())
    return errors


async def test_a_court_administrator_keeps_the_roster_and_a_mediator_writes_their_profile(
    browser: Any, site: Site
) -> None:
    court_id = site.accounts["court.admin"].organisation_id
    east_id = site.accounts["east.admin"].organisation_id
    page = await (await browser.new_context(**DESK)).new_page()
    errors = watch(page)
    await console_login(page, site.base, "court.admin", PASSWORD)
    await page.wait_for_selector("#admin:not([hidden])")
    await page.click("#staff-link")
    await page.wait_for_selector("#roster:not([hidden])")
    assert await page.evaluate("location.pathname") == "/staff"
    assert "特邀调解名册" in await page.inner_text("#roster h2")
    # the chooser offers the mediation committee, not the court itself
    offered = await page.eval_on_selector_all("#roster-organisation option", "os => os.map(o => o.value)")
    assert offered == [east_id]
    assert "人民调解委员会" in await page.inner_text("#roster-organisation")

    await page.select_option("#roster-organisation", east_id)
    await page.check("#roster-specialties input[value='traffic']")
    await page.click("#roster-add button.primary")
    row = "#roster-rows tr[data-entry-id]"
    await page.wait_for_selector(f"{row}[data-status='active']")
    text = await page.inner_text(row)
    assert EAST in text and "道路交通" in text and "在册" in text

    await page.click(f"{row} button.roster-suspend")
    await page.wait_for_selector(f"{row}[data-status='suspended']")
    assert "暂停" in await page.inner_text(row)
    roster = await call(site, "GET", f"/api/v1/organisations/{court_id}/roster", "court.admin")
    assert [(e["organisation_id"], e["status"]) for e in roster["entries"]] == [(east_id, "suspended")]

    await page.click(f"{row} button.roster-restore")
    await page.wait_for_selector(f"{row}[data-status='active']")
    roster = await call(site, "GET", f"/api/v1/organisations/{court_id}/roster", "court.admin")
    [entry] = roster["entries"]
    assert (entry["status"], entry["active"], [s["value"] for s in entry["specialties"]]) == (
        "active",
        True,
        ["traffic"],
    )
    # the filter: no member for finance, the committee for traffic
    await page.select_option("#roster-filter-specialty", "finance")

    async def emptied() -> bool:
        return await page.locator(row).count() == 0

    await poll(emptied, "the finance filter")
    await page.select_option("#roster-filter-specialty", "traffic")
    await page.wait_for_selector(row)

    # the committee's administrator sees the court's roster on their own /staff
    east = await (await browser.new_context(**DESK)).new_page()
    east_errors = watch(east)
    await console_login(east, site.base, "east.admin", PASSWORD)
    await east.click("#staff-link")
    await east.wait_for_selector("#memberships:not([hidden]) #membership-rows tr[data-entry-id]")
    membership = await east.inner_text("#membership-rows")
    assert COURT in membership and "在册" in membership and "道路交通" in membership
    assert await east.is_hidden("#roster")

    # a mediator writes their profile from the console, on a phone
    phone = await (await browser.new_context(**PHONE)).new_page()
    phone_errors = watch(phone)
    await console_login(phone, site.base, "east.zhang", PASSWORD)
    await phone.wait_for_selector("#my-profile:not([hidden])")
    await phone.click("#my-profile summary")
    await phone.wait_for_selector("#my-profile .profile-form")
    await phone.fill("#my-profile .profile-qualification", "律师")
    await phone.check("#my-profile input[value='traffic']")
    await phone.check("#my-profile input[value='insurance']")
    await phone.fill("#my-profile .profile-introduction", "十年交通事故调解经验。")
    await phone.click("#my-profile .profile-save")

    async def saved() -> bool:
        return "资料已保存" in await phone.inner_text("#my-profile .profile-status")

    await poll(saved, "the profile saved")
    zhang = site.accounts["east.zhang"].id
    profile = await call(site, "GET", f"/api/v1/accounts/{zhang}/profile", "east.zhang")
    assert profile["qualification"] == "律师" and profile["introduction"] == "十年交通事故调解经验。"
    assert [s["value"] for s in profile["specialties"]] == ["traffic", "insurance"]
    assert "调解成功率" in await phone.inner_text("#my-profile")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360

    # the court's administrator reads it now that the committee is on the roster
    court_view = await call(site, "GET", f"/api/v1/accounts/{zhang}/profile", "court.admin")
    assert court_view["qualification"] == "律师" and court_view["may_edit"] is False

    # the roster page fits a phone too
    small = await (await browser.new_context(**PHONE)).new_page()
    small_errors = watch(small)
    await console_login(small, site.base, "court.admin", PASSWORD)
    await small.click("#staff-link")
    await small.wait_for_selector(f"{row}[data-status='active']")
    assert await small.evaluate("document.documentElement.scrollWidth") <= 360
    assert not errors + east_errors + phone_errors + small_errors, errors + east_errors + phone_errors + small_errors
