"""The mediator's calculator and agreement editor (/agreement) in headless Chromium at a phone's 360 px, the
page's own Content-Security-Policy in force, reached from the console's case list: the API's refusals appear
in Chinese next to their fields, the result table is the domain's own split of the same claim (worked out
here with :func:`server.domain.compensation.calculate`), the table becomes draft 1, a party's comment (made
over the API) shows on the page, and a redraft is version 2. A party's link, another mediator and a tab
without a login get a Chinese refusal instead of the page."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from server.domain.compensation import (
    AccidentClaim,
    CommercialPolicy,
    CompulsoryPolicy,
    Item,
    ItemKind,
    Money,
    PayerRole,
    Split,
    Vehicle,
    calculate,
)
from server.domain.roles import AccountKind
from server.store.accounts import AccountStore
from tests.builders import PASSWORD, account, between_sessions
from tests.conftest import Api
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import console_login

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

# what the mediator types: (kind, amount as typed, basis)
ITEMS = [
    ("medical", "30000.00", "住院 15 天"),
    ("lost_income", "20000", ""),
    ("nursing", "6,000", "护理 30 天 × 200 元"),
    ("disability", "150000", "十级伤残"),
    ("emotional_distress", "10000", ""),
    ("property", "5000", "电动车修理"),
    ("appraisal", "2000", ""),
]
FACTS = "2026年10月3日，李四、王五驾驶的车辆与张三驾驶的电动自行车相撞，交警认定李四负主要责任、王五负次要责任。"
CJK = re.compile(r"[\u4e00-\u9fff]")


def expected_split() -> Split:
    """The same claim, built from the domain's own types and split by the domain's own function."""
    return calculate(
        AccidentClaim(
            items=tuple(Item.parse(kind, amount, note) for kind, amount, note in ITEMS),
            vehicles=(
                Vehicle(
                    "李四",
                    70,
                    CompulsoryPolicy("甲保险公司"),
                    CommercialPolicy("乙保险公司", Money.parse("1000000"), deductible_percent=10),
                ),
                Vehicle("王五", 30, CompulsoryPolicy("丙保险公司")),
            ),
        )
    )


async def table(page: Any, selector: str) -> list[list[str]]:
    rows: list[list[str]] = await page.eval_on_selector_all(
        f"{selector} tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return rows


async def error_near(page: Any, row: Any) -> str:
    """The message the page put next to a field of ``row``."""
    message = row.locator(".field-error:not([hidden])")
    await message.wait_for()
    return str(await message.inner_text())


async def test_the_mediator_calculates_drafts_and_redrafts_on_the_page(browser: Any, api: Api) -> None:
    c = await between_sessions(api)
    cid, mediator = c["case_id"], c["mediator"]
    drafts_url = f"/api/v1/cases/{cid}/agreement/drafts"
    account_id = next(p.account_id for p in await api.repo.participants(cid) if p.role.value == "mediator")
    assert account_id
    username = (await AccountStore(api.repo.engine).account(account_id)).username

    page = await (await browser.new_context(**PHONE)).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await console_login(page, api.base, username, PASSWORD)
    await page.click(f"a.agreement-link[data-agreement-id='{cid}']")
    await page.wait_for_selector("#calculator:not([hidden])")
    assert await page.evaluate("location.pathname + location.search") == f"/agreement?case={cid}"
    assert "调解间歇" in await page.inner_text("#case-title")
    # the page offers exactly the domain's heads of compensation, by their Chinese names
    options = await page.eval_on_selector_all(".item-row .i-kind option", "os => os.map(o => [o.value, o.text])")
    assert options == [[k.value, k.label] for k in ItemKind]
    # the liable party starts as the respondent, the payee as the applicant
    assert await page.input_value(".vehicle-row .v-party") == "李四"

    # the claim, with one amount mistyped and the shares adding up to 90
    for n, (kind, amount, note) in enumerate(ITEMS):
        if n:
            await page.click("#add-item")
        row = page.locator(".item-row").nth(n)
        await row.locator(".i-kind").select_option(kind)
        await row.locator(".i-amount").fill("2万" if kind == "lost_income" else amount)
        await row.locator(".i-note").fill(note)
    first = page.locator(".vehicle-row").nth(0)
    await first.locator(".v-share").fill("60")
    await first.locator(".v-compulsory").fill("甲保险公司")
    await first.locator(".v-has-commercial").check()
    await first.locator(".v-commercial").fill("乙保险公司")
    await first.locator(".v-limit").fill("1000000")
    await first.locator(".v-deductible").fill("10")
    await page.click("#add-vehicle")
    second = page.locator(".vehicle-row").nth(1)
    await second.locator(".v-party").fill("王五")
    await second.locator(".v-share").fill("30")
    await second.locator(".v-compulsory").fill("丙保险公司")
    assert await second.locator(".v-commercial").is_hidden()

    # the API refuses the amount: the page says so in Chinese, beside that very item
    await page.click("#calculate")
    lost_income = page.locator(".item-row").nth(1)
    said = await error_near(page, lost_income)
    assert "金额" in said and not re.search(r"[A-Za-z]{3}", said), said
    assert await lost_income.locator(".i-amount").get_attribute("aria-invalid") == "true"
    assert await page.is_hidden("#result")
    await lost_income.locator(".i-amount").fill("20000")
    # then the shares: 60 + 30 + the victim's 0 is 90
    await page.click("#calculate")
    await page.wait_for_selector("#shares-error:not([hidden])")
    said = await page.inner_text("#shares-error")
    assert "100%" in said and "90%" in said and CJK.search(said) and "must" not in said, said
    assert await lost_income.locator(".field-error").count() == 0  # the fixed field's message is gone
    await first.locator(".v-share").fill("70")
    await page.click("#calculate")
    await page.wait_for_selector("#result:not([hidden])")

    # the table is the domain's split of the same claim, as the agreement prints it
    split = expected_split()
    assert await table(page, "#result-table") == split.as_rows()
    assert f"受害人获赔 {split.recovered} 元" in await page.inner_text("#recovered")
    assert await page.is_hidden("#shares-error")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    # a change makes the result stale until it is calculated again
    await first.locator(".v-deductible").fill("20")
    assert await page.is_visible("#result-stale") and await page.is_disabled("#to-draft")
    await first.locator(".v-deductible").fill("10")
    await page.click("#calculate")
    await page.wait_for_selector("#result-stale", state="hidden")

    # the table becomes the draft's payments: each insurer or party once, to the applicant
    await page.click("#to-draft")
    await page.wait_for_selector("#editor:not([hidden])")
    payers: dict[str, int] = {}
    for payer, total in zip(split.payers, split.totals, strict=True):
        if payer.role is not PayerRole.VICTIM and total.fen:
            who = payer.party_id if payer.role is PayerRole.LIABLE_PARTY else payer.insurer
            payers[who] = payers.get(who, 0) + total.fen
    rows = page.locator(".obligation-row")
    shown = [
        (await r.locator(".o-payer").input_value(), await r.locator(".o-amount").input_value(),
         await r.locator(".o-payee").input_value())
        for r in await rows.all()
    ]  # fmt: skip
    assert shown == [(who, Money(fen).plain(), "张三") for who, fen in payers.items()]
    assert "第 1 稿" in await page.inner_text("#submit-draft")
    # no facts: the API's refusal, in Chinese, beside the facts
    await page.click("#submit-draft")
    said = await error_near(page, page.locator("#draft-form"))
    assert "请填写" in said and await page.get_attribute("#facts", "aria-invalid") == "true"
    await page.fill("#facts", FACTS)
    await page.fill("#pay-by", "2026-12-31")
    await page.fill("#other-terms", "张三放弃其他诉讼请求。")
    await page.click("#submit-draft")
    await page.wait_for_selector("#version-list li[data-version='1']")

    status, listing, _ = await api.call("GET", drafts_url, mediator)
    assert status == 200 and len(listing["drafts"]) == 1
    v1 = listing["drafts"][0]
    assert v1["terms"]["facts"] == FACTS and v1["terms"]["other_terms"] == ["张三放弃其他诉讼请求。"]
    assert [(i["kind"], i["amount"]) for i in v1["terms"]["claim"]["items"]] == [
        (k, Money.parse(a).plain()) for k, a, _ in ITEMS
    ]
    assert [(o["payer"], o["payee"], o["amount"], o["due"]) for o in v1["terms"]["obligations"]] == [
        (who, "张三", Money(fen).plain(), "2026-12-31") for who, fen in payers.items()
    ]
    assert v1["split"]["grand_total"] == split.grand_total.plain()
    assert Decimal(v1["split"]["recovered"]) == split.recovered.yuan

    # the version's PDF opens from the list
    await page.click("li[data-version='1'] .open-pdf")
    link = await page.wait_for_selector("li[data-version='1'] a.pdf-link")
    href = await link.get_attribute("href")
    assert href and href.startswith("blob:")
    async with page.expect_download() as downloading:
        await link.click()
    download = await downloading.value
    assert download.suggested_filename == "agreement-draft-1.pdf"
    with open(await download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # the applicant comments on version 1 (over the API); the mediator sees it on the page
    status, body, _ = await api.call(
        "POST", f"{drafts_url}/1/comments", c["applicant"], json={"text": "误工费应按实际收入计算。"}
    )
    assert status == 201, body
    await page.click("#refresh")
    comment = await page.wait_for_selector("li[data-version='1'] .draft-comment")
    assert "张三" in await comment.inner_text() and "误工费应按实际收入计算" in await comment.inner_text()

    # a redraft with one more term is version 2; the comment stays with version 1
    assert "第 2 稿" in await page.inner_text("#submit-draft")
    await page.fill("#other-terms", "张三放弃其他诉讼请求。\n误工费按实际收入计算。")
    await page.click("#submit-draft")
    await page.wait_for_selector("#version-list li[data-version='2']")
    assert await page.locator("li[data-version='2'] .draft-comment").count() == 0
    assert await page.locator("li[data-version='1'] .draft-comment").count() == 1
    status, listing, _ = await api.call("GET", drafts_url, mediator)
    assert [d["version"] for d in listing["drafts"]] == [1, 2]
    assert listing["drafts"][1]["terms"]["other_terms"] == ["张三放弃其他诉讼请求。", "误工费按实际收入计算。"]
    assert "第 3 稿" in await page.inner_text("#submit-draft")

    # a reload brings back the latest version's claim and its table
    await page.reload()
    await page.wait_for_selector("#version-list li[data-version='2']")
    await page.wait_for_selector("#result:not([hidden])")
    assert await table(page, "#result-table") == split.as_rows()
    assert await page.locator(".item-row").count() == len(ITEMS)
    assert await page.input_value("#other-terms") == "张三放弃其他诉讼请求。\n误工费按实际收入计算。"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "Content Security Policy" in e], errors


async def denied(page: Any) -> str:
    await page.wait_for_selector("#denied:not([hidden])")
    for section in ("#calculator", "#editor", "#versions"):
        assert await page.is_hidden(section), section
    text = str(await page.inner_text("#denied-text"))
    assert CJK.match(text), text  # Chinese first
    return text


async def test_a_party_another_mediator_and_no_login_get_a_chinese_refusal(browser: Any, api: Api) -> None:
    c = await between_sessions(api)
    cid = c["case_id"]
    calculate_url = f"/api/v1/cases/{cid}/agreement/calculate"
    claim = {"items": [{"kind": "medical", "amount": "100"}], "vehicles": [{"party": "李四", "liability_share": 100}]}

    # a party, in the tab where their join link was opened: the API refuses, the page says why
    party = await (await browser.new_context(**PHONE)).new_page()
    await party.goto(f"{api.base}/join#token={c['applicant']}")
    await party.wait_for_function("location.hash === ''")
    await party.goto(f"{api.base}/agreement?case={cid}")
    assert "调解员" in await denied(party)
    assert await party.evaluate("document.documentElement.scrollWidth") <= 360
    status, body, _ = await api.call("POST", calculate_url, c["applicant"], json=claim)
    assert (status, body["code"]) == (403, "forbidden")
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/agreement/drafts", c["applicant"], json={"facts": "x", "claim": claim}
    )
    assert (status, body["code"]) == (403, "forbidden")

    # another mediator: the case is not in their list, and the page finds nothing
    username, other = await account(api, AccountKind.MEDIATOR, "赵调解员")
    desk = await (await browser.new_context(**DESK)).new_page()
    await console_login(desk, api.base, username, PASSWORD)
    await desk.wait_for_selector("#cases:not([hidden])")
    assert await desk.locator(f"a.agreement-link[data-agreement-id='{cid}']").count() == 0
    await desk.goto(f"{api.base}/agreement?case={cid}")
    assert "找不到该案件" in await denied(desk)
    status, body, _ = await api.call("POST", calculate_url, other, json=claim)
    assert status == 404, body
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/agreement/drafts", other)
    assert status == 404, body

    # a tab with no login at all
    nobody = await (await browser.new_context(**DESK)).new_page()
    await nobody.goto(f"{api.base}/agreement?case={cid}")
    assert "登录" in await denied(nobody)
