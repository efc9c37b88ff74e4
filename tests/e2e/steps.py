"""Steps the end-to-end tests take in Chromium's pages: wait for a condition (bounded), admit a party from
the mediator's console, draw a signature on the pad."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.live import Live


async def poll(check: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.25) -> Any:
    """Call ``check`` until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(every)


async def admit(console: Any, live: Live, who: str, party: Any) -> None:
    pid = live.ids[who]
    await console.wait_for_selector(f"li[data-pid='{pid}'][data-presence='waiting'] button[data-action='admit']")
    assert "等候" in await party.inner_text("#status") or "wait" in await party.inner_text("#status")
    await console.click(f"li[data-pid='{pid}'] button[data-action='admit']")


async def draw(page: Any) -> None:
    """A signature stroke across the pad, with the pointer (mouse events become pointer events)."""
    box = await page.locator("#pad").bounding_box()
    assert box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for i in range(1, 25):
        await page.mouse.move(x + w * (0.1 + 0.8 * i / 24), y + h * (0.5 + 0.3 * ((-1) ** i) * (i % 5) / 5))
    await page.mouse.up()


async def console_login(page: Any, base: str, username: str, password: str) -> None:
    """Log in on the console as its user does: open it, fill the form, press the button."""
    await page.goto(f"{base}/console")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login button")
