"""Signing on a phone in headless Chromium (the page's CSP in force): a party opens their join link,
goes to the signing page, reads every page of the agreement, draws a mark with the pointer, gets a
one-time code and signs; the mediator logs in on /console, goes from the case list to the signing
page, signs last with their password and the page offers the completion certificate. The mark is
found, drawn by PDFium, inside that signer's box of the signed PDF."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image

from e_sign.verify import verify_pdf
from server.notify import OutboxNotifier
from server.signing.endpoints import SIGNING, SIGNINGS
from tests.builders import TERMS, code_for, mark
from tests.e2e.chromium import PHONE
from tests.e2e.steps import draw
from tests.live import PASSWORD, Live, _live

pytestmark = pytest.mark.asyncio

CONTACTS = {
    "applicant": {"phone": "13912345678"},
    "respondent": {"phone": "13987654321"},
    "insurer": {"email": "claims@insurer.example"},
}


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, contacts=CONTACTS):
        yield value


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str, json: Any = None) -> Any:
    async with http.request(method, url, json=json, headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json() if "json" in resp.content_type else await resp.read()
        assert resp.status < 300, body
        return body


async def test_a_party_and_the_mediator_sign_on_the_page(browser: Any, live: Live) -> None:
    outbox = OutboxNotifier()
    live.app[SIGNINGS].notifier = outbox
    case = f"{live.base}/api/v1/cases/{live.case_id}"
    mediator = live.tokens["mediator"]
    async with aiohttp.ClientSession() as http:
        sid = (await call(http, "GET", case, mediator))["sessions"][0]["id"]
        for step in ("start", "end"):
            await call(http, "POST", f"{case}/sessions/{sid}/{step}", mediator)
        await call(http, "POST", f"{case}/agreement/drafts", mediator, TERMS)
        opened = await call(http, "POST", f"{case}/signing", mediator, {"deadline_hours": 48})

        page = await (await browser.new_context(**PHONE)).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # the party's usual link shows the way to the signing page
        await page.goto(live.links["applicant"])
        await page.click("#sign-link")
        await page.wait_for_selector("#pages img.page.loaded")
        assert await page.evaluate("location.hash") == "", "the token is out of the address bar"
        assert await page.is_disabled("#read-all"), "not before the last page has been on screen"
        pages = page.locator("#pages img.page")
        layout = await call(http, "GET", f"{case}/documents/{opened['document']['id']}/pages", mediator)
        assert await pages.count() == len(layout["pages"])
        await pages.last.scroll_into_view_if_needed()
        await page.wait_for_selector("#read-all:not([disabled])")
        await page.locator("#pad").scroll_into_view_if_needed()

        # signing without a mark or a code is refused on the page, before anything is sent
        await page.check("#read-all")
        await page.click("#sign")
        assert "签名" in await page.inner_text("#sign-error")
        await draw(page)
        await page.click("#send-code")
        await page.locator("#code-sent", has_text="139****5678").wait_for()
        assert await page.is_disabled("#send-code")  # one code a minute
        # a wrong code: the server's refusal is shown, the page stays usable
        good = code_for(outbox, "13912345678")
        await page.fill("#code", f"{(int(good) + 1) % 1_000_000:06d}")
        await page.click("#sign")
        await page.wait_for_selector("#sign-error:not(:empty)")
        assert await page.is_hidden("#done")
        await page.fill("#code", good)
        await page.click("#sign")
        await page.wait_for_selector("#done:not([hidden])")
        assert "您已完成签署" in await page.inner_text("#done-text")
        assert await page.is_visible("#signed-pdf")

        # the respondent and the insurer sign over the API
        for who, to in (("respondent", "13987654321"), ("insurer", "claims@insurer.example")):
            await call(http, "POST", f"{case}/signing/code", live.tokens[who])
            body = {"code": code_for(outbox, to), "mark_png": mark()}
            await call(http, "POST", f"{case}/signing/sign", live.tokens[who], body)

        # the mediator signs last: logged in on the console, from the case list to the signing page
        # (the console's login in this tab), the password instead of a code
        desk = await (await browser.new_context(**PHONE)).new_page()
        desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await desk.goto(f"{live.base}/console")
        await desk.fill("#username", live.username)
        await desk.fill("#password", PASSWORD)
        await desk.click("#login button")
        await desk.click(f"tr:has(button[data-case-id='{live.case_id}']) a.sign-case")
        await desk.wait_for_selector("#by-password:not([hidden])")
        assert await desk.is_hidden("#by-code")
        await desk.locator("#pages img.page").last.scroll_into_view_if_needed()
        await desk.wait_for_selector("#read-all:not([disabled])")
        await desk.locator("#pad").scroll_into_view_if_needed()
        await draw(desk)
        await desk.check("#read-all")
        await desk.fill("#password", PASSWORD)
        await desk.click("#sign")
        await desk.wait_for_selector("#certificate:not([hidden])")
        assert "全部签署完成" in await desk.inner_text("#done-text")
        # the party's page, reloaded, offers the certificate too
        await page.reload()
        await page.wait_for_selector("#certificate:not([hidden])")

        # the signed file: four valid signatures; the party's mark drawn inside the party's own box
        state = await call(http, "GET", f"{case}/signing", mediator)
        assert state["state"] == "signed" and state["certificate"]
        pdf = await call(http, "GET", f"{case}/documents/{state['document']['id']}", mediator)
        report = await asyncio.to_thread(verify_pdf, pdf, live.app[SIGNING].trust_roots)
        assert report.ok and len(report.signatures) == 4, report.reasons
        drafts = (await call(http, "GET", f"{case}/agreement/drafts", mediator))["drafts"]
        for who in ("applicant", "mediator"):
            place = next(x for x in drafts[-1]["signers"] if x["participant_id"] == live.ids[who])
            png = await call(
                http, "GET", f"{case}/documents/{state['document']['id']}/pages/{place['page'] + 1}?width=595", mediator
            )
            image = Image.open(io.BytesIO(png)).convert("L")
            x1, y1, x2, y2 = place["box"]
            top, bottom = image.height - y2, image.height - y1
            # the upper part of the box, above the printed name and time: only the drawn mark is there
            ink = sum(
                image.crop((round(x1), round(top), round(x2), round(top + (bottom - top) * 0.6))).histogram()[:110]
            )
            assert ink > 150, (who, ink)
    assert not [e for e in errors if "Content Security Policy" in e], errors
