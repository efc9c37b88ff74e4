"""After a session, a party rates it on the phone from their link; the organisation's administrator sees the
mediator's figures on the accounts page, reached from the console (headless Chromium, CSP in force)."""

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
from tests.e2e.steps import console_login
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path):
        yield value


async def test_a_party_rates_the_session_and_the_administrator_sees_the_figures(browser: Any, live: Live) -> None:
    case = f"{live.base}/api/v1/cases/{live.case_id}"
    headers = {"Authorization": f"Bearer {live.tokens['mediator']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(case) as resp:
            session = (await resp.json())["sessions"][0]["id"]
        for step in ("start", "end"):
            async with http.post(f"{case}/sessions/{session}/{step}") as resp:
                assert resp.status == 200, await resp.text()

    phone = await (await browser.new_context(**PHONE)).new_page()
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await phone.goto(live.links["applicant"])
    await phone.wait_for_selector("#rating:not([hidden])")  # (the page asked first: nothing rated yet)
    assert "调解员看不到" in await phone.inner_text("#rating")
    await phone.check("input[name='score'][value='4']")
    await phone.fill("#rating-comment", "沟通顺畅，但等待时间稍长。")
    await phone.click("#rating-form button")
    await phone.wait_for_selector("#rating-status:has-text('感谢')")
    async with phone.expect_response(lambda r: r.url.endswith("/rating")) as asked:
        await phone.reload()  # rated once: the page asks, and the form does not come back
    assert (await asked.value).status == 200
    await phone.wait_for_selector("#case:not([hidden])")
    assert await phone.is_hidden("#rating")

    store = AccountStore(live.app[SERVICE].repo.engine)
    mediator = await store.account_by_username(live.username)
    assert mediator is not None
    await store.create_account(
        Account(
            new_id(),
            "zhou.admin",
            "周管理员",
            AccountKind.ORG_ADMIN,
            mediator.organization,
            hash_password(PASSWORD, log2_n=10),
            datetime.now(UTC),
        )  # fmt: skip
    )
    desk = await (await browser.new_context(**DESK)).new_page()
    await console_login(desk, live.base, "zhou.admin", PASSWORD)
    await desk.click("#staff-link")
    row = desk.locator(f"#figure-rows tr[data-account-id='{mediator.id}']")
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells == [mediator.display_name, "1", "1", "4.00"]
    assert "沟通顺畅" not in await desk.inner_text("body")  # the comment stays private
    # (the only failed requests are the recordings list, which parties may not read on this server: 403)
    assert not [e for e in errors if "Content Security Policy" in e or "404" in e], errors
