"""An online appraisal in the real pages (headless Chromium, the pages' Content-Security-Policy in force): the
mediator starts it on /console, both parties agree on their phones from the links they were sent, the mediator draws
the institution, records the fee (the notice is sealed) and sends one document; the appraiser reaches /appraisal from
the home page, reads exactly that document and uploads an opinion signed with a certificate of the platform's CA;
the mediator evaluates it and the justice bureau's officer, from the home page, reads the evaluation on /bureau."""

from __future__ import annotations

import uuid
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
from server.signing.endpoints import SIGNING
from server.store.accounts import Account, AccountStore
from tests.builders import signed_opinion
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

MATERIAL = "出院记录：左胫骨骨折，住院二十日。".encode()


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant", "respondent")):
        yield value


async def staff(live: Live, kind: AccountKind, organisation: str, name: str) -> tuple[Account, str]:
    account = Account(
        new_id(),
        f"{kind.value}-{uuid.uuid4().hex[:6]}",
        name,
        kind,
        organisation,
        hash_password(PASSWORD, log2_n=10),
        datetime.now(UTC),
    )
    org_id = await AccountStore(live.app[SERVICE].repo.engine).create_account(account)
    return account, org_id


async def upload(live: Live) -> tuple[str, str, str]:
    """Two documents on the case (the mediator sends the first) and the case's number."""
    headers = {"Authorization": f"Bearer {live.tokens['mediator']}", "Content-Type": "text/plain"}
    base = f"{live.base}/api/v1/cases/{live.case_id}"
    ids = []
    async with aiohttp.ClientSession() as http:
        for title, data in (("出院记录", MATERIAL), ("调解笔记", "内部".encode())):
            async with http.post(
                f"{base}/documents?kind=medical_record&title={title}", data=data, headers=headers
            ) as r:
                assert r.status == 201
                ids.append((await r.json())["id"])
        async with http.get(base, headers=headers) as r:
            number = (await r.json())["number"]
    return ids[0], ids[1], number


async def test_an_appraisal_from_consent_to_the_bureau(browser: Any, live: Live) -> None:
    errors: list[str] = []
    failed: list[str] = []
    tag = uuid.uuid4().hex[:4]
    appraiser, institution = await staff(live, AccountKind.APPRAISER, f"示范司法鉴定所{tag}", "褚鉴定人")
    admin, _ = await staff(live, AccountKind.ORG_ADMIN, f"示范司法鉴定所{tag}", "卫管理员")
    bureau, _ = await staff(live, AccountKind.BUREAU_OFFICER, f"示范区司法局{tag}", "蒋科员")
    sent, kept, number = await upload(live)

    # the institution's administrator, from the home page to /appraisal, lists what it appraises
    head = await (await browser.new_context(**DESK)).new_page()
    head.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    head.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    await head.goto(live.base + "/")
    await head.click("a[href='/appraisal']")
    await head.fill("#username", admin.username)
    await head.fill("#password", PASSWORD)
    await head.click("#login button")
    await head.wait_for_selector("#specialties:not([hidden]) #specialty-boxes input[value='disability']")
    await head.check("#specialty-boxes input[value='disability']")
    await head.check("#specialty-boxes input[value='injury']")
    await head.click("#specialties button.primary")
    await head.wait_for_selector("#status:has-text('已保存')")
    await head.context.close()

    # the mediator starts the appraisal in the case's progress on /console
    desk = await (await browser.new_context(**DESK)).new_page()
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desk.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    await console_login(desk, live.base, live.username, PASSWORD)
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    await desk.wait_for_selector("#appraisal-desk:not([hidden])")
    await desk.select_option("#appraisal-subject", "disability")
    await desk.fill("#appraisal-description", "左下肢损伤的伤残等级")
    await desk.select_option("#appraisal-requested-by", live.ids["applicant"])
    await desk.click("#appraisal-start button")
    await desk.wait_for_selector("article.appraisal[data-state='consenting']")
    assert await desk.locator(".appraisal-consents li[data-answer='none']").count() == 2

    # both parties agree on their phones
    for role in ("applicant", "respondent"):
        phone = await (await browser.new_context(**PHONE)).new_page()
        phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        phone.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        await phone.goto(live.links[role])
        await phone.wait_for_selector("#appraisal-party:not([hidden]) .appraisal-agree")
        assert "伤残等级" in await phone.inner_text("#appraisal-party")
        await phone.click(".appraisal-agree")
        await phone.wait_for_selector(".appraisal-mine:has-text('您已同意')")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
        await phone.context.close()

    # the mediator draws the institution, records the fee, sends one document
    await desk.click("#progress-back")
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    await desk.wait_for_selector(".appraisal-consents li[data-answer='agree'] >> nth=1")
    await desk.click(".appraisal-draw")
    await desk.wait_for_selector("article.appraisal[data-state='chosen']")
    assert f"示范司法鉴定所{tag}" in await desk.inner_text("article.appraisal")
    await desk.fill(".appraisal-fee", "3000")
    await desk.select_option(".appraisal-payer", "insurer")
    await desk.click(".appraisal-appoint")
    await desk.wait_for_selector("article.appraisal[data-state='appointed']")
    await desk.check(f".appraisal-materials input[value='{sent}']")
    await desk.click(".appraisal-send")
    await desk.wait_for_selector("#appraisal-desk-status:has-text('已送交 1 份')")

    # the appraiser: from the home page to /appraisal; exactly the one document; the signed opinion
    inst = await (await browser.new_context(**DESK, accept_downloads=True)).new_page()
    inst.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    inst.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    await inst.goto(live.base + "/")
    await inst.click("a[href='/appraisal']")
    await inst.fill("#username", appraiser.username)
    await inst.fill("#password", PASSWORD)
    await inst.click("#login button")
    await inst.wait_for_selector("#rows tr button.open")
    assert number in await inst.inner_text("#rows")
    await inst.click("#rows tr button.open")
    await inst.wait_for_selector(f"#d-materials li[data-id='{sent}']")
    assert await inst.locator("#d-materials li").count() == 1
    assert await inst.locator(f"#d-materials li[data-id='{kept}']").count() == 0
    async with inst.expect_download() as downloading:
        await inst.click("#d-materials button")
    assert Path(await (await downloading.value).path()).read_bytes() == MATERIAL
    pdf = await signed_opinion(live.app[SIGNING], number, f"示范司法鉴定所{tag}", datetime.now(UTC))
    await inst.set_input_files(
        "#opinion-file", files=[{"name": "鉴定意见书.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    await inst.click("#opinion button")
    await inst.wait_for_selector("#d-opinion:has-text('有效签名 1')")

    # the mediator reads the opinion's check and evaluates it
    await desk.click("#progress-back")
    await desk.click(f"button[data-progress-id='{live.case_id}']")
    await desk.wait_for_selector("article.appraisal[data-state='opinion'] .appraisal-check")
    assert "有效" in await desk.inner_text(".appraisal-check")
    await desk.select_option(".appraisal-score", "4")
    await desk.fill(".appraisal-comment", "论证充分")
    await desk.click(".appraisal-evaluate")
    await desk.wait_for_selector(".appraisal-evaluation:has-text('4 分')")

    # the justice bureau's officer: from the home page to /bureau
    office = await (await browser.new_context(**DESK)).new_page()
    office.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    office.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    await office.goto(live.base + "/")
    await office.click("a[href='/bureau']")
    await office.fill("#username", bureau.username)
    await office.fill("#password", PASSWORD)
    await office.click("#login button")
    await office.wait_for_selector(f"#rows tr[data-id='{institution}']")
    row = await office.inner_text(f"#rows tr[data-id='{institution}']")
    assert f"示范司法鉴定所{tag}" in row and "4" in row
    assert "论证充分" in await office.inner_text(f"#details section[data-id='{institution}']")
    assert "applicant" not in await office.inner_text("#details")  # no party's name (the live case names them so)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    # every appraisal call answered 2xx (the console's own look at a signing not yet opened answers 404)
    assert not [u for u in failed if "apprais" in u or "/bureau" in u], failed
