"""The statistics dashboard from the pages only (headless Chromium on a 360 px phone screen, the pages' own
Content-Security-Policy in force): an organisation's administrator logs in on the console, goes to the accounts
page, follows its link 统计, sees the seeded figures in the tiles and the SVG charts, narrows the period and
exports the CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from server.store import db
from tests.builders import PASSWORD
from tests.conftest import Api
from tests.e2e.chromium import PHONE
from tests.e2e.steps import console_login
from tests.statistics_seed import expected, seed

pytestmark = pytest.mark.asyncio


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the pages do not depend on the backend (the integration tests run both)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"
    db.upgrade_sync(url)
    return url


async def tile(page: Any, figure: str) -> str:
    return str(await page.inner_text(f"[data-figure='{figure}'] b")).strip()


async def test_an_administrator_reads_the_dashboard_and_exports_it(browser: Any, api: Api) -> None:
    w = await seed(api)
    mine = w.where(lambda c: c.org == w.ids["A"])
    figures = expected(mine)

    context = await browser.new_context(**PHONE, accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await console_login(page, api.base, w.usernames["admin_a"], PASSWORD)
    await page.wait_for_selector("#admin:not([hidden])")
    await page.click("#staff-link")
    await page.wait_for_selector("#stats-link")
    await page.click("#stats-link")
    await page.wait_for_selector("#dashboard:not([hidden]) [data-figure='cases']")
    assert await page.evaluate("location.pathname") == "/stats"
    assert "东城人民调解委员会" in await page.inner_text("#scope")

    assert await tile(page, "cases") == str(figures["cases"]) == "7"
    assert await tile(page, "success_rate") == "60.0%"
    assert await tile(page, "median_days_to_agreement") == "6.5 天"
    assert await tile(page, "overdue") == "1"
    assert await tile(page, "satisfaction") == "3.67"
    # the charts are SVG drawn by the page: one bar per state (Chinese names), one group per month
    states = await page.eval_on_selector_all("#chart-states svg g", "gs => gs.map(g => g.dataset.state)")
    assert sorted(states) == sorted(figures["by_state"])
    assert "已确认" in await page.inner_text("#chart-states")
    months = await page.eval_on_selector_all("#chart-months svg g", "gs => gs.map(g => g.dataset.month)")
    assert months == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert await page.locator("#rows-mediators tr").count() == 2
    assert await page.locator("#rows-organisations td.bar svg rect").count() == 2
    # the selectors offer what this administrator may see: the courts that referred to them, their organisation
    courts = await page.eval_on_selector_all("#f-court option", "os => os.map(o => o.value)")
    assert sorted(courts) == sorted(["", w.ids["C1"], w.ids["C2"]])
    assert await page.eval_on_selector_all("#f-organisation option", "os => os.map(o => o.value)") == ["", w.ids["A"]]
    # a 360 px phone: nothing wider than the screen (the tables scroll inside their box)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    # the period: February and March (Beijing dates)
    await page.fill("#f-from", "2026-02-01")
    await page.fill("#f-to", "2026-03-31")
    await page.click("#apply")
    await page.wait_for_selector("body[data-loaded='?from=2026-02-01&to=2026-03-31']")
    narrowed = expected([c for c in mine if "2026-02" <= c.month <= "2026-03"])
    assert await tile(page, "cases") == str(narrowed["cases"]) == "3"
    months = await page.eval_on_selector_all("#chart-months svg g", "gs => gs.map(g => g.dataset.month)")
    assert months == ["2026-02", "2026-03"]

    # the CSV of the same period
    async with page.expect_download() as download_info:
        await page.click("#export")
    download = await download_info.value
    assert download.suggested_filename.endswith(".csv")
    raw = Path(await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0]["分组"] == "合计" and rows[0]["案件数"] == "3"
    assert rows[0]["调解成功"] == str(narrowed["successes"])
    assert errors == []
    await context.close()
