"""One whole case in one run, over real components only:

file → mediate with Chromium parties (fake camera; espeak-ng speech into the fake microphone) →
recording and the Whisper transcript → the mediation record → the agreement → three signatures
(the applicant on the phone page) → electronic service (a real SMTP server on loopback; the
applicant follows the mailed link in Chromium) → the joint application → the judge, in Chromium,
verifies and confirms, then plays the recording back from the application → the ruling validates
with pdfsig → the export → a webhook receiver on loopback got every state change, each with a valid
HMAC signature.

Every page is reached the way its user reaches it: the mediator from the console's login and case
list, each party from the join link that ``addParticipant`` returned (and from there to signing),
the applicant from the link in the e-mail, the judge from the court's login and queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.app import ROOMS
from server.domain.roles import AccountKind
from server.e_service.endpoints import SERVING
from server.http.kit import TRANSCRIBER
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.notify import ChannelNotifier, OutboxNotifier, SmtpNotifier, check_webhook_signature
from server.signing.endpoints import SIGNING, SIGNINGS
from server.store.accounts import Account
from tests.builders import TERMS, code_for, mark
from tests.channels import Mailbox, smtp_server
from tests.e2e.chromium import CHROMIUM, DESK, PHONE, speaking
from tests.e2e.steps import admit, draw, poll
from tests.live import PASSWORD, Live, _live
from tests.pdfs import make_nss_db, pdf_text, pdfsig, require_pdf_tools
from tests.speech import MODELS, speech_wav, write_wav

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

SECRET = "w" * 40
COURT = "北京市朝阳区人民法院"
CONTACTS = {
    "applicant": {"phone": "13912345678", "email": "zhang@example.org", "id_number": "110101199001011234"},
    "respondent": {"phone": "13987654321", "email": "li@example.org", "id_number": "110101198502023456"},
}
SPEECH = {
    "applicant": ["The truck turned left without looking.", "I want the medical costs paid in full."],
    "respondent": ["Our driver says the light was green.", "We will pay for the broken bicycle."],
}


class Receiver:
    """A webhook receiver on loopback: keeps every request and whether its signature held."""

    def __init__(self) -> None:
        self.events: list[tuple[dict[str, Any], bool]] = []

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ok = check_webhook_signature(
            SECRET.encode(),
            request.headers.get("X-Mediation-Timestamp"),
            raw,
            request.headers.get("X-Mediation-Signature"),
            time.time(),
        )
        import json

        self.events.append((json.loads(raw), ok))
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", hooks.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield hooks, str(server.make_url("/hooks"))
    await server.close()


@pytest_asyncio.fixture
async def live(tmp_path: Path, receiver: tuple[Receiver, str]) -> AsyncIterator[Live]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is required (./dev test installs it)")
    async for value in _live(
        tmp_path,
        contacts=CONTACTS,
        roles=("applicant", "respondent"),
        transcript_engine="whisper",
        transcript_language="en",
        model_dir=MODELS,
        webhook_urls=receiver[1],
        webhook_secret=SECRET,
    ):
        await value.app[TRANSCRIBER].wait_ready()
        yield value


async def test_a_whole_case_from_filing_to_export(live: Live, receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    import numpy as np
    from playwright.async_api import async_playwright

    hooks, _url = receiver
    codes = OutboxNotifier()  # one-time codes go by SMS (the test reads them here)
    mailbox = Mailbox()
    case = f"{live.base}/api/v1/cases/{live.case_id}"
    ids, tokens = live.ids, live.tokens
    mediator = tokens["mediator"]
    judge_name = f"judge-{uuid.uuid4().hex[:6]}"
    await live.app[ROOMS].cases.accounts.create_account(
        Account(
            new_id(),
            judge_name,
            "赵法官",
            AccountKind.JUDGE,
            COURT,
            hash_password(PASSWORD, log2_n=10),
            datetime.now(UTC),
        )
    )
    wavs = {who: tmp_path / f"{who}.wav" for who in SPEECH}
    for who, sentences in SPEECH.items():
        speech_wav(wavs[who], sentences, gap=1.0)
    wavs["mediator"] = write_wav(tmp_path / "silence.wav", np.zeros(48_000 * 3, dtype="<i2"))
    errors: list[str] = []

    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, token: str, json: Any = None) -> Any:
            async with http.request(method, case + path, json=json, headers={"Authorization": f"Bearer {token}"}) as r:
                body = await r.json() if "json" in r.content_type else await r.read()
                assert r.status < 300, (path, body)
                return body

        with smtp_server(mailbox) as smtp:
            notifier = ChannelNotifier(
                SmtpNotifier("127.0.0.1", smtp.port, "service@court.test", timeout=5), None, codes
            )
            live.app[SIGNINGS].notifier = notifier
            live.app[SERVING].notifier = notifier
            async with async_playwright() as p:
                browsers = await speaking(p, wavs)
                try:
                    # ---- mediate: the console and two phones; speech becomes stored, attributed lines
                    console = await (await browsers["mediator"].new_context(**DESK, bypass_csp=True)).new_page()
                    console.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
                    await console.goto(live.base + "/console")
                    await console.fill("#username", live.username)
                    await console.fill("#password", PASSWORD)
                    await console.click("#login button")
                    await console.click(f"button[data-case-id='{live.case_id}']")
                    await console.wait_for_function(
                        "window.__room && window.__room.me && window.__room.me.participant_id"
                    )
                    phones = {}
                    for who in SPEECH:
                        page = await (await browsers[who].new_context(**PHONE)).new_page()
                        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                        await page.goto(live.links[who])
                        await page.check("#consent")
                        await page.click("#join")
                        await admit(console, live, who, page)
                        phones[who] = page
                    records = live.app[ROOMS].cases.records

                    async def heard() -> bool:
                        lines = await records.transcript(live.case_id)
                        return all(len([x for x in lines if x.participant_id == ids[w]]) >= 2 for w in SPEECH)

                    await poll(heard, "both parties' speech recognised and stored", timeout=120, every=1.0)
                    await console.click("#end")
                    await poll(lambda: _state(call, mediator, "between_sessions"), "the session ended", timeout=20)
                    view = await call("GET", "", mediator)
                    sid = view["sessions"][0]["id"]

                    async def sealed() -> Any:  # the manifest is written once the last segments are stored
                        found = await call("GET", "/recording/verify", mediator)
                        sessions = found["sessions"]  # listed while unsealed too: wait for the seal
                        return found if sessions and all(s["status"] == "sealed" for s in sessions) else None

                    verdict = await poll(sealed, "the recording manifest sealed", timeout=30)
                    assert verdict["ok"], verdict
                    record = await call("POST", "/record/finalise", mediator, {"session_id": sid})
                    assert record["kind"] == "mediation_record", record

                    # ---- the agreement: drafted, signed by the applicant on the phone, the others over the API
                    await call("POST", "/agreement/drafts", mediator, TERMS)
                    await call("POST", "/signing", mediator, {"deadline_hours": 48})
                    phone = phones["applicant"]
                    await phone.goto(live.links["applicant"])  # the party's own link again, then to signing
                    await phone.click("#sign-link")
                    await phone.wait_for_selector("#pages img.page.loaded")
                    await phone.locator("#pages img.page").last.scroll_into_view_if_needed()
                    await phone.wait_for_selector("#read-all:not([disabled])")
                    await phone.locator("#pad").scroll_into_view_if_needed()
                    await draw(phone)
                    await phone.check("#read-all")
                    await phone.click("#send-code")
                    await phone.locator("#code-sent", has_text="139****5678").wait_for()
                    await phone.fill("#code", code_for(codes, CONTACTS["applicant"]["phone"]))
                    await phone.click("#sign")
                    await phone.wait_for_selector("#done:not([hidden])")
                    await call("POST", "/signing/code", tokens["respondent"])
                    body = {"code": code_for(codes, CONTACTS["respondent"]["phone"]), "mark_png": mark()}
                    await call("POST", "/signing/sign", tokens["respondent"], body)
                    done = await call("POST", "/signing/sign", mediator, {"password": PASSWORD, "mark_png": mark()})
                    assert done["state"] == "signed" and done["certificate"], done

                    # ---- electronic service: the applicant consents on the join page, the respondent over the API
                    await phone.goto(live.links["applicant"])
                    await phone.wait_for_selector("#service:not([hidden])")
                    await phone.check("#consent-form input[value=email]")
                    await phone.check("#consent-form input[value=inbox]")
                    await phone.click("#consent-form button")
                    await phone.locator("#consent-status", has_text="已确认").wait_for()
                    await call("POST", "/service/consent", tokens["respondent"], {"channels": ["email"]})
                    # the mediator serves from the console's progress panel
                    await console.goto(live.base + "/console")
                    await console.click(f"button[data-progress-id='{live.case_id}']")
                    started = time.perf_counter()
                    await console.click("#serve-agreement")
                    await console.locator("#progress-status", has_text="已开始送达").wait_for()
                    await poll(lambda: _state(call, mediator, "served"), "service took effect on both", timeout=30)
                    print(f"service: served on both parties {time.perf_counter() - started:.2f} s after serving")
                    mail = next(r for r in mailbox.received if r.rcpt_tos == [CONTACTS["applicant"]["email"]])
                    text = mail.parsed().get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                    link = re.search(r"https?://\S+/served#token=[A-Za-z0-9._-]+", text)
                    assert link, text
                    await phone.goto(link.group(0))
                    await phone.wait_for_selector("#served:not([hidden])")
                    assert await phone.evaluate("location.hash") == "", "the token is out of the address bar"
                    await phone.reload()  # and the page still works
                    await phone.wait_for_selector("#served:not([hidden])")
                    assert await phone.inner_text("#sha256") == done["document"]["sha256"]
                    async with phone.expect_download() as download:
                        await phone.click("#download")
                    saved = tmp_path / "served.pdf"
                    await (await download.value).save_as(saved)
                    assert hashlib.sha256(saved.read_bytes()).hexdigest() == done["document"]["sha256"]
                    served = (await call("GET", "/service", mediator))["services"][0]
                    mine = {r["participant_id"]: r for r in served["recipients"]}[ids["applicant"]]
                    assert mine["opened_at"] and mine["downloaded_at"] and served["purpose"] == "agreement"
                    await console.click("#progress-back")
                    await console.click(f"button[data-progress-id='{live.case_id}']")
                    await console.wait_for_selector(f"#service-rows tr[data-participant='{ids['respondent']}']")
                    assert "已送达" in await console.inner_text("#service-rows")

                    # ---- the joint application: the mediator names the court, each party confirms
                    await console.select_option("#court", COURT)
                    await console.click("#prepare-form button")
                    await console.locator("#progress-status", has_text="已发起").wait_for()
                    await phone.goto(live.links["applicant"])
                    await phone.wait_for_selector("#confirmation:not([hidden]) #confirm-application:not([hidden])")
                    await phone.click("#confirm-application")
                    await phone.locator("#confirmation-status", has_text="您已确认").wait_for()
                    started = time.perf_counter()
                    await call("POST", "/confirmation/confirm", tokens["respondent"])
                    print(f"confirmation: joint application submitted in {time.perf_counter() - started:.2f} s")

                    # ---- the judge, in Chromium: the queue, take, verify, confirm
                    desk = await (await browsers["mediator"].new_context(**DESK)).new_page()
                    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                    await desk.goto(live.base + "/court")
                    await desk.fill("#username", judge_name)
                    await desk.fill("#password", PASSWORD)
                    await desk.click("#login button")
                    await desk.click(f"tr[data-case-id='{live.case_id}'] button.open")
                    await desk.wait_for_selector("#application:not([hidden])")
                    assert (
                        await desk.locator("#packet-rows tr").count() >= 4
                    )  # application, agreement, certificate, record…
                    await desk.click("#verify")
                    await desk.locator("#verification", has_text="全部核验通过").wait_for(timeout=30_000)
                    started = time.perf_counter()
                    await desk.fill("#reasons", "协议系双方自愿达成，内容不违反法律规定。")
                    await desk.click("#ruling-form button")
                    await desk.locator("#ruling-status", has_text="确认有效").wait_for(timeout=30_000)
                    print(f"confirmation: ruling signed and served in {time.perf_counter() - started:.2f} s")
                    # from the application to the recording: the sessions, then the player
                    await desk.click("#playback")
                    await desk.click(f"button[data-session-id='{sid}']")
                    await desk.wait_for_selector("#play:not([disabled])", timeout=30_000)
                    assert await desk.locator(".pb-tile").count() == 3
                    # a party cannot use the judge's workspace
                    party_desk = await (await browsers["applicant"].new_context(**DESK)).new_page()
                    await party_desk.goto(live.base + "/court")
                    await party_desk.evaluate("t => sessionStorage.setItem('mediation-token', t)", tokens["applicant"])
                    await party_desk.reload()
                    await party_desk.wait_for_selector("#login:not([hidden])")
                    assert await party_desk.is_hidden("#queue")
                finally:
                    for browser in browsers.values():
                        await browser.close()

        # ---- the ruling validates with pdfsig, against the court's own CA
        state = await call("GET", "/confirmation", mediator)
        assert state["state"] == "confirmed" and state["confirmed"] is True
        ruling = await call("GET", f"/documents/{state['ruling_document_id']}", tokens["respondent"])
        path = tmp_path / "ruling.pdf"
        path.write_bytes(ruling)
        court_ca = next(r for r in live.app[SIGNING].court_roots() if COURT in r.subject.rfc4514_string())
        report = pdfsig(path, make_nss_db(tmp_path / "nss" / "db", court_ca))
        assert report[0]["Signature Validation"] == "Signature is Valid.", report
        assert report[0]["Certificate Validation"] == "Certificate is Trusted.", report
        assert "有效" in pdf_text(ruling)

        # ---- the export: every document listed with a hash that matches its bytes
        export = await call("GET", "/export", mediator)
        kinds = {d["kind"] for d in export["documents"]}
        for kind in ("agreement_signing", "signing_certificate", "mediation_record", "recording_manifest", "ruling"):
            assert kind in kinds, kind
        for d in export["documents"]:
            async with http.get(live.base + d["download"], headers={"Authorization": f"Bearer {mediator}"}) as r:
                assert hashlib.sha256(await r.read()).hexdigest() == d["sha256"], d
        assert export["transcript"] and export["audit"]["chain_intact"]
        assert export["confirmation"]["confirmed"] is True and export["confirmation"]["court"] == COURT
        agreement_service = next(x for x in export["service"] if x["purpose"] == "agreement")
        assert all(r["effective_at"] for r in agreement_service["recipients"])

        # ---- the webhook receiver got every state change, each signed
        trail = (await call("GET", "/audit", mediator))["entries"]
        changes = [(e["details"]["old"], e["details"]["new"]) for e in trail if e["action"] == "case.state_changed"]

        async def all_hooks() -> bool:
            return len(hooks.events) >= len(changes)

        await poll(all_hooks, "every state change delivered to the webhook", timeout=30)
        assert all(ok for _e, ok in hooks.events)
        assert [(e["old"], e["new"]) for e, _ok in hooks.events if e["case_id"] == live.case_id] == changes
        assert changes[-1][1] == "confirmed"
    assert not [e for e in errors if "Content Security Policy" in e], errors


async def _state(call: Any, token: str, state: str) -> bool:
    return bool((await call("GET", "", token))["state"] == state)
