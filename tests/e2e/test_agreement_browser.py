"""A party on their phone opens the link the mediator's ``addParticipant`` returned, reads the
agreement's draft and comments on it, and finds the way to signing only once signing is open
(headless Chromium, the page's own Content-Security-Policy in force). The link's token leaves the
address bar as soon as the page has read it, and the page still works after a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.builders import TERMS
from tests.e2e.chromium import PHONE
from tests.live import Live, _live

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path):
        yield value


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str, json: Any = None) -> Any:
    async with http.request(method, url, json=json, headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
        assert resp.status < 300, body
        return body


async def test_a_party_reads_the_draft_and_comments(browser: Any, live: Live) -> None:
    case = f"{live.base}/api/v1/cases/{live.case_id}"
    mediator = live.tokens["mediator"]
    async with aiohttp.ClientSession() as http:
        view = await call(http, "GET", case, mediator)
        sid = view["sessions"][0]["id"]
        for step in ("start", "end"):
            await call(http, "POST", f"{case}/sessions/{sid}/{step}", mediator)
        await call(http, "POST", f"{case}/agreement/drafts", mediator, TERMS)
        page = await (await browser.new_context(**PHONE)).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(live.links["applicant"])
        await page.wait_for_selector("#drafts:not([hidden]) li[data-version='1']")
        assert await page.is_hidden("#check"), "no session is open: the device check stays away"
        assert await page.is_hidden("#sign-link"), "signing is not open: no way to sign is shown"
        # the token is out of the address bar (and the history), yet a reload still finds the case
        assert await page.evaluate("location.hash") == ""
        assert live.tokens["applicant"] not in await page.evaluate("location.href")
        await page.reload()
        await page.wait_for_selector("#drafts:not([hidden]) li[data-version='1']")
        assert await page.evaluate("location.hash") == ""
        await page.click("li[data-version='1'] .open-pdf")
        link = await page.wait_for_selector("li[data-version='1'] a.pdf-link")
        href = await link.get_attribute("href")
        assert href and href.startswith("blob:") and await link.get_attribute("download") == "agreement-draft-1.pdf"
        await page.fill("#comment-text", "误工费应按实际收入计算。")
        await page.click("#comment-form button")
        await page.wait_for_selector("li[data-version='1'] .draft-comment")
        assert "误工费应按实际收入计算" in await page.inner_text("li[data-version='1']")
        drafts = (await call(http, "GET", f"{case}/agreement/drafts", mediator))["drafts"]
        assert [c["text"] for c in drafts[0]["comments"]] == ["误工费应按实际收入计算。"]
        assert drafts[0]["comments"][0]["participant_id"] == live.ids["applicant"]
        assert await page.is_hidden("#sign-link")

        # the mediator opens signing: the party's page (reloaded) now leads to the signing page
        await call(http, "POST", f"{case}/signing", mediator, {"deadline_hours": 48})
        await page.reload()
        await page.wait_for_selector("#sign-link:visible")
        await page.click("#sign-link")
        await page.wait_for_selector("#pages img.page.loaded")
        assert await page.evaluate("location.pathname + location.hash") == "/sign"
        await page.reload()  # the signing page, too, keeps working without the token in the address bar
        await page.wait_for_selector("#pages img.page.loaded")
        assert not [e for e in errors if "Content Security Policy" in e], errors
