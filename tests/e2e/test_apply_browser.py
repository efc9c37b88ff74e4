"""A party applies for mediation from a phone, with no account (headless Chromium, 360 px, the pages' own
Content-Security-Policy in force): from the home page they click 申请调解, find the mediation committee by its
region, describe the dispute, name both parties, get a code by SMS (read from the notifier's outbox), mistype
it once, enter it, and land on their join page, which shows the case waiting for a mediator (已委派待分派);
the committee's administrator then finds the case on /staff among the cases to assign (待分派案件)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update

from server.cases.endpoints import SERVICE
from server.notify import OutboxNotifier
from server.referrals.application_endpoints import APPLICATIONS
from server.store import schema as t
from tests.builders import code_for
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login, poll, referral_accounts
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

PHONE_NUMBER = "13955556666"


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant",)):
        yield value


async def test_a_party_applies_from_a_phone_and_the_case_waits_on_the_organisations_desk(
    browser: Any, live: Live
) -> None:
    w = await referral_accounts(live)
    region = f"浙江省杭州市西湖区{uuid.uuid4().hex[:4]}"
    async with live.app[SERVICE].repo.engine.begin() as conn:  # organisations' regions have no page yet
        await conn.execute(update(t.organisations).where(t.organisations.c.id == w["admin_org"]).values(region=region))
    outbox = OutboxNotifier()
    live.app[APPLICATIONS].notifier = outbox
    errors: list[str] = []

    phone = await (await browser.new_context(**PHONE)).new_page()
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await phone.goto(f"{live.base}/")
    await phone.click("text=申请调解")
    await phone.wait_for_url(f"{live.base}/apply")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360

    # the organisation, found by part of its region; the court is not offered
    await phone.fill("#region", region[-8:])
    option = f"#organisation option[value='{w['admin_org']}']"
    listed = "os => os.map(o => o.value).filter(Boolean)"

    async def filtered() -> bool:  # the filtered list (the whole one came first)
        return bool(await phone.eval_on_selector_all("#organisation option", listed) == [w["admin_org"]])

    await poll(filtered, "the organisations of the region")
    assert w["east"] in await phone.inner_text(option) and "人民调解委员会" in await phone.inner_text(option)
    await phone.select_option("#organisation", w["admin_org"])
    assert await phone.input_value("#kind") == "traffic_accident"  # traffic first
    await phone.fill("#description", "11月20日在文三路口被对方驾驶的轿车追尾，车辆受损，本人轻伤，协商赔偿未果。")
    await phone.fill("#applicant-name", "张三")
    await phone.fill("#applicant-phone", PHONE_NUMBER)
    await phone.fill("#respondent-name", "李四")

    # the code by SMS; a mistyped code is refused and says how many tries are left
    await phone.click("#send-code")
    await phone.wait_for_selector("#code-sent:not([hidden])")
    assert "139****6666" in await phone.inner_text("#code-sent")
    assert await phone.is_disabled("#send-code")  # a minute before another
    code = code_for(outbox, PHONE_NUMBER)
    await phone.fill("#code", f"{(int(code) + 1) % 10**6:06d}")
    await phone.click("#submit")
    await phone.wait_for_selector("#status:has-text('还可尝试 4 次')")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
    await phone.fill("#code", code)
    await phone.click("#submit")

    # the join page: their case, waiting for a mediator; the token is out of the address bar
    await phone.wait_for_url(f"{live.base}/join")
    await phone.wait_for_selector("#case:not([hidden])")
    assert "已委派待分派" in await phone.inner_text("#case-state")
    assert "张三与李四" in await phone.inner_text("#case-title")
    assert "申请人" in await phone.inner_text("#your-role")
    assert "token" not in phone.url
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "apply" in e], errors

    # the committee's administrator: /console, then /staff; the case waits among the cases to assign
    staff = await (await browser.new_context(**DESK)).new_page()
    await console_login(staff, live.base, w["admin"], PASSWORD)
    await staff.wait_for_selector("#admin:not([hidden])")
    await staff.click("#staff-link")
    row = "#org-case-rows tr:has-text('张三与李四')"
    await staff.wait_for_selector(row)
    text = await staff.inner_text(row)
    assert "已委派待分派" in text and "当事人申请" in text, text
