"""A case from the police's system reaches a mediator who hosts it without typing anything in (headless
Chromium, the pages' own Content-Security-Policy in force): a police agency's system files the case with a
signed intake request; a mediator of the organisation logs in on /console on a phone, finds it in the
organisation's queue, takes it, and finds the parties with their contacts, the insurers, the police's
documents and where the case came from (公安交管部门委托调解 and the police case number)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.cases.endpoints import SERVICE
from server.domain.organisations import Organisation, OrganisationKind
from server.intake.client import IntakeClient
from server.intake.endpoints import INTAKE
from server.intake.store import IntakeStore
from server.intake.usecases import AgencyKeys
from server.organisations.store import OrganisationStore
from tests.builders import intake_document
from tests.e2e.chromium import PHONE
from tests.e2e.steps import console_login, referral_accounts
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant",)):
        yield value


async def test_a_police_case_is_hosted_from_the_console_without_typing(browser: Any, live: Live) -> None:
    w = await referral_accounts(live)
    engine = live.app[SERVICE].repo.engine
    organisations = OrganisationStore(engine)
    agency = Organisation(str(uuid.uuid4()), OrganisationKind.POLICE, "示范区公安局交通警察大队", datetime.now(UTC))
    await organisations.create(agency)
    key_id, secret = await AgencyKeys(organisations, IntakeStore(engine), live.app[INTAKE].intake_key).create_key(
        agency.id, datetime.now(UTC)
    )
    number = f"公交认字[2026]第{uuid.uuid4().int % 10**5:05d}号"
    status, answer = await IntakeClient(live.base, key_id, bytes.fromhex(secret)).file(
        intake_document(w["admin_org"], number)
    )
    assert status == 201, answer
    cid = answer["case"]["id"]

    errors: list[str] = []
    page = await (await browser.new_context(**PHONE)).new_page()
    # the console asks for a case's signing, which a case without an agreement answers 404: not an error here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    await console_login(page, live.base, w["a"], PASSWORD)
    queued = f"#intake-queue li[data-case-id='{cid}']"
    await page.wait_for_selector(queued)
    assert "张三与李四道路交通事故损害赔偿纠纷" in await page.inner_text(queued)
    await page.click(f"{queued} button.take")
    await page.wait_for_selector(f"button[data-progress-id='{cid}']")
    await page.click(f"button[data-progress-id='{cid}']")
    await page.wait_for_selector("#progress:not([hidden]) #people-rows tr:has-text('李四')")
    people = await page.inner_text("#people-rows")
    for shown in ("张三", "13911112222", "zhang.intake@example.org", "13833334444", "甲财产保险股份有限公司（交强险）"):
        assert shown in people, shown
    await page.wait_for_selector("#document-rows tr:has-text('道路交通事故认定书')")
    documents = await page.inner_text("#document-rows")
    assert "现场照片" in documents and "公安交管部门移送信息" in documents
    await page.wait_for_selector("#period:not([hidden]) #period-facts dd:has-text('公安交管部门委托调解')")
    assert number in await page.inner_text("#period-facts")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not errors, errors
