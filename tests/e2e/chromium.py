"""Debian's Chromium as a test participant: where it is and how it is started."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 800}}


async def speaking(playwright: Any, wavs: dict[str, Path]) -> dict[str, Any]:
    """A Chromium per participant, each speaking its WAV into the fake microphone (Chromium loops the file)."""
    return {
        who: await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-audio-capture={wav}"]
        )
        for who, wav in wavs.items()
    }
