"""The join page explains a refusal for too many connections in both languages (issue 12 follow-up c).

A party whose link already holds the most sockets allowed (another window, another phone) presses
Join: the server refuses the socket with ``too_many_connections`` and the page says what to do,
instead of the server's English message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import socketio

from tests.e2e.chromium import PHONE
from tests.live import Live, _live

pytestmark = pytest.mark.asyncio

MESSAGE = "同时打开的连接过多，请关闭其他窗口后重试。Too many connections; close other windows and try again."


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, roles=("applicant",), sockets_per_participant=1):
        yield value


async def test_the_join_page_says_too_many_connections(browser: Any, live: Live) -> None:
    other_window = socketio.AsyncClient(reconnection=False)
    await other_window.connect(live.base, auth={"token": live.tokens["applicant"]}, transports=["websocket"])
    try:
        context = await browser.new_context(**PHONE)
        page = await context.new_page()
        await page.goto(live.links["applicant"])
        await page.check("#consent")
        await page.click("#join")
        status = page.locator("#status")
        deadline = asyncio.get_running_loop().time() + 30
        while (text := await status.text_content()) != MESSAGE:
            assert asyncio.get_running_loop().time() < deadline, f"the page says {text!r}"
            await asyncio.sleep(0.2)
        await context.close()
    finally:
        await other_window.disconnect()
