"""The live transcript in a real room: aiortc peers speak espeak-ng sentences through the real
forwarder; the real Whisper worker recognises them; captions reach whoever hears the speaker
(caucus included) over socket.io; final lines are stored, attributed and chained into the audit
trail; the mediator corrects, annotates and finalises the record, and the parties read its PDF."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from recording.asr.scoring import wer
from server.app import ROOMS
from server.http.kit import TRANSCRIBER
from tests.live import Live, _live, enter
from tests.media import make_clip
from tests.speech import MODELS, speech

pytestmark = pytest.mark.asyncio

APPLICANT = [
    "The truck turned left without looking.",
    "My left arm was broken and I spent two weeks in hospital.",
    "I could not work for three months after the accident.",
]
RESPONDENT = [
    "Our driver says the light was green.",
    "We will pay the repair of the bicycle.",
    "The insurance company should pay the rest.",
]


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async for value in _live(tmp_path, transcript_engine="whisper", transcript_language="en", model_dir=MODELS):
        await value.app[TRANSCRIBER].wait_ready()
        yield value


def clip(folder: Path, name: str, sentences: list[str]) -> Path:
    samples, _ = speech(sentences, gap=1.2)
    return make_clip(folder / f"{name}.webm", size=(160, 120), fps=15, gop=15, speech=samples)


def best(sentence: str, texts: list[str]) -> float:
    return min((wer(sentence, t) for t in texts), default=1.0)


async def lines_of(live: Live) -> list[Any]:
    lines: list[Any] = await live.app[ROOMS].cases.records.transcript(live.case_id)
    return lines


async def api(http: aiohttp.ClientSession, method: str, url: str, token: str, json: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, headers={"Authorization": f"Bearer {token}"}, json=json) as resp:
        body = await resp.read()
        kind = resp.content_type
        return resp.status, (await resp.json() if kind.endswith("json") else body)


async def test_captions_follow_the_audio_and_lines_are_kept_attributed(live: Live, tmp_path: Path) -> None:
    m, a, r = live.ids["mediator"], live.ids["applicant"], live.ids["respondent"]
    mediator = await enter(live, "mediator", None)
    applicant = await enter(live, "applicant", clip(tmp_path, "a", APPLICANT), admit_by=mediator)
    respondent = await enter(live, "respondent", clip(tmp_path, "r", RESPONDENT), admit_by=mediator)
    peers = (mediator, applicant, respondent)
    try:

        async def stored(pid: str, count: int) -> list[str]:
            for _ in range(300):
                texts = [x.text for x in await lines_of(live) if x.participant_id == pid]
                if len(texts) >= count:
                    return texts
                await asyncio.sleep(0.2)
            raise AssertionError(f"fewer than {count} lines from {pid}: {texts}")

        a_texts = await stored(a, 3)
        r_texts = await stored(r, 3)
        # attributed to the right speaker: each speaker's sentences are found in their own lines only
        for sentences, own, other in ((APPLICANT, a_texts, r_texts), (RESPONDENT, r_texts, a_texts)):
            errors = [best(sentence, own) for sentence in sentences]
            print("WER per sentence", [round(e, 2) for e in errors])
            assert sum(errors) / len(errors) <= 0.3 and max(errors) <= 0.5, (sentences, own)
            assert min(best(sentence, other) for sentence in sentences) > 0.6
        # captions reached everyone who hears the speaker, while the session ran
        for peer, speakers in ((mediator, (a, r)), (applicant, (a, r)), (respondent, (a, r))):
            for pid in speakers:
                finals = [c for c in peer.captions if c["participant_id"] == pid and c["final"] and c["text"]]
                assert finals, (peer.participant_id, pid)
                assert finals[-1]["name"] and finals[-1]["line_id"]
        assert any(not c["final"] for c in mediator.captions), "no partial caption was shown"
        assert not [c for c in mediator.captions if c["participant_id"] == m]

        # caucus with the applicant: the respondent no longer gets the applicant's captions
        assert (await mediator.emit("caucus_start", {"members": [a]}))["ok"]
        await asyncio.sleep(0.3)
        seen = len([c for c in respondent.captions if c["participant_id"] == a])
        before = len([x for x in await lines_of(live) if x.participant_id == a])
        await stored(a, before + 2)
        assert len([c for c in respondent.captions if c["participant_id"] == a]) == seen
        assert (await mediator.emit("caucus_end"))["ok"]

        # every stored line is chained into the audit trail by its hash
        repo = live.app[ROOMS].cases.repo
        trail, _ = await repo.audit_trail(live.case_id)
        chained = {e.details_dict()["line_id"] for e in trail if e.action == "transcript.line"}
        assert {x.id for x in await lines_of(live)} <= chained
        assert (await repo.verify_audit(live.case_id)).ok
        assert (await mediator.emit("end"))["ok"]
    finally:
        for peer in peers:
            await peer.close()
    await record_review(live)


async def record_review(live: Live) -> None:
    """After the session: read, correct, annotate, finalise; the parties read the PDF."""
    case = f"{live.base}/api/v1/cases/{live.case_id}"
    mediator, applicant = live.tokens["mediator"], live.tokens["applicant"]
    async with aiohttp.ClientSession() as http:
        status, body = await api(http, "GET", f"{case}/transcript", applicant)
        assert status == 403 and body["code"] == "forbidden"
        status, body = await api(http, "GET", f"{case}/transcript", mediator)
        assert status == 200
        [session] = body["sessions"]
        lines = session["lines"]
        assert lines and not session["finalised"]
        assert {line["speaker"] for line in lines} == {"applicant", "respondent"}
        first = lines[0]
        status, line = await api(
            http, "POST", f"{case}/transcript/lines/{first['id']}/corrections", mediator, {"text": "更正后的第一句。"}
        )
        assert status == 201 and line["text"] == "更正后的第一句。" and line["original"] == first["text"]
        assert line["corrected"] and line["corrections"][0]["by"].startswith("account:")
        status, _ = await api(
            http, "POST", f"{case}/transcript/lines/{first['id']}/corrections", applicant, {"text": "x"}
        )
        assert status == 403
        status, note = await api(
            http,
            "POST",
            f"{case}/record/notes",
            mediator,
            {"session_id": session["session_id"], "text": "双方同意继续协商。", "after_line_id": first["id"]},
        )
        assert status == 201
        status, doc = await api(
            http, "POST", f"{case}/record/finalise", mediator, {"session_id": session["session_id"]}
        )
        assert status == 201 and doc["kind"] == "mediation_record" and doc["visibility"] == "parties"
        status, body = await api(
            http, "POST", f"{case}/transcript/lines/{first['id']}/corrections", mediator, {"text": "too late"}
        )
        assert status == 409 and body["code"] == "record_finalised"
        status, pdf = await api(http, "GET", f"{case}/documents/{doc['id']}", applicant)
        assert status == 200 and pdf[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())
    assert "调解笔录" in flat and "更正后的第一句。" in flat and "（已更正）" in flat and "双方同意继续协商。" in flat
    assert "".join(lines[-1]["text"].split())[:12] in flat
