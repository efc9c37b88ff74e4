"""End to end: headless Chromium parties speak espeak-ng sentences into their fake microphones
(``--use-file-for-fake-audio-capture``); the real server recognises them with the bundled Whisper
model; each speaker's stored transcript holds their words, attributed to them, and the captions
reached the other pages (and their caption boxes) while the session ran."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from recording.asr.scoring import wer, words
from server.app import ROOMS
from server.http.kit import TRANSCRIBER
from tests.e2e.chromium import CHROMIUM, DESK, PHONE, speaking
from tests.e2e.steps import admit, poll
from tests.live import PASSWORD, Live, _live
from tests.speech import MODELS, speech_wav, write_wav

pytestmark = pytest.mark.asyncio

SPEECH = {
    "applicant": [
        "The truck turned left without looking.",
        "I was taken to hospital by ambulance.",
        "I want the medical costs paid in full.",
    ],
    "respondent": [
        "Our driver says the light was green.",
        "We will pay for the broken bicycle.",
        "The insurance company should pay the rest.",
    ],
}


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is required (./dev test installs it)")
    async for value in _live(tmp_path, transcript_engine="whisper", transcript_language="en", model_dir=MODELS):
        await value.app[TRANSCRIBER].wait_ready()
        yield value


CAPTURE = """() => { window.__captions = []; window.__room.addEventListener('caption', (e) => window.__captions.push(e.detail)); }"""


async def test_spoken_sentences_become_captions_and_attributed_lines(live: Live, tmp_path: Path) -> None:
    import numpy as np
    from playwright.async_api import async_playwright

    wavs = {who: tmp_path / f"{who}.wav" for who in SPEECH}
    for who, sentences in SPEECH.items():
        speech_wav(wavs[who], sentences, gap=1.2)
    wavs["mediator"] = write_wav(tmp_path / "silence.wav", np.zeros(48_000 * 3, dtype="<i2"))
    ids = live.ids
    async with async_playwright() as p:
        browsers = await speaking(p, wavs)
        try:
            console = await (await browsers["mediator"].new_context(**DESK, bypass_csp=True)).new_page()
            await console.goto(live.base + "/console")
            await console.fill("#username", live.username)
            await console.fill("#password", PASSWORD)
            await console.click("#login button")
            await console.click(f"button[data-case-id='{live.case_id}']")
            await console.wait_for_function("window.__room && window.__room.me && window.__room.me.participant_id")
            await console.evaluate(CAPTURE)
            pages = {"mediator": console}
            for who in SPEECH:
                page = await (await browsers[who].new_context(**PHONE, bypass_csp=True)).new_page()
                await page.goto(live.links[who])  # the link addParticipant returned
                await page.wait_for_selector("#consent")
                await page.wait_for_function("window.__room")
                await page.evaluate(CAPTURE)  # before joining: no caption is missed
                await page.check("#consent")
                await page.click("#join")
                try:
                    await admit(console, live, who, page)
                except Exception as exc:
                    raise AssertionError(
                        f"{who} never reached the waiting room: {await page.inner_text('#status')}"
                    ) from exc
                pages[who] = page

            records = live.app[ROOMS].cases.records

            async def heard_all() -> bool:
                lines = await records.transcript(live.case_id)
                return all(
                    len([x for x in lines if x.participant_id == ids[who]]) >= len(sentences) + 1
                    for who, sentences in SPEECH.items()
                )

            await poll(heard_all, "every sentence of both parties recognised and stored", timeout=120, every=1.0)
            lines = await records.transcript(live.case_id)
            for who, sentences in SPEECH.items():
                own = " ".join(x.text for x in lines if x.participant_id == ids[who])
                reference = " ".join(sentences)
                # the file loops and recording starts mid-loop: score each sentence against its best line
                texts = [x.text for x in lines if x.participant_id == ids[who]]
                error = sum(min(wer(s, t) for t in texts) * len(words(s)) for s in sentences) / len(words(reference))
                found = sum(1 for w in set(words(reference)) if w in set(words(own))) / len(set(words(reference)))
                print(f"{who}: WER {error:.2f}, words found {found:.2f}, {len(texts)} lines")
                assert found >= 0.5 and error <= 0.5, (who, texts)
                other = next(o for o in SPEECH if o != who)
                assert min(min(wer(s, t) for t in texts) for s in SPEECH[other]) > 0.6, "lines attributed wrongly"

            # the captions reached the other pages while the session ran, final and partial
            for viewer, page in pages.items():
                captions: list[dict[str, Any]] = await page.evaluate("window.__captions")
                for who in SPEECH:
                    if who == viewer:
                        continue
                    finals = [c for c in captions if c["participant_id"] == ids[who] and c["final"] and c["text"]]
                    assert finals, f"no caption of {who} reached {viewer}"
                box = await page.inner_text("#captions")
                assert re.search(r"applicant|respondent", box), box
        finally:
            for browser in browsers.values():
                await browser.close()
