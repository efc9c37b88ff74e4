"""Electronic service over real components, on SQLite and PostgreSQL: a real SMTP server on
loopback (aiosmtpd) receives the service mail with the signed agreement attached; the test follows
the personal link as the recipient would; a bounced address is marked failed and retried with
back-off; a recipient not served by the deadline is flagged and the case says so; the proof of
service (送达回证) is sealed by the platform and shows when the document was accepted and opened."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from e_sign.verify import verify_pdf
from server.e_service.endpoints import SERVING
from server.notify import ChannelNotifier, HttpSmsGateway, LogNotifier, SmtpNotifier, sign_webhook
from server.signing.endpoints import SIGNING
from tests.builders import (
    SERVICE_APPLICANT,
    SERVICE_RESPONDENT,
    by_hand,
    signed_case,
)
from tests.channels import KEY, Gateway, Mailbox, smtp_server
from tests.conftest import Api
from tests.pdfs import pdf_text

pytestmark = pytest.mark.asyncio

SENDER = "service@court-mediation.test"


@dataclass
class Bouncing(Mailbox):
    """Refuses ``address`` with a 550 the first ``times`` times, then takes it."""

    address: str = ""
    times: int = 0

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address == self.address and self.times > 0:
            self.times -= 1
            return "550 5.1.1 Mailbox unavailable"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def mail() -> Iterator[tuple[Bouncing, Controller]]:
    box = Bouncing(address=SERVICE_RESPONDENT["email"], times=1)
    with smtp_server(box) as controller:
        yield box, controller


def link_in(text: str) -> str:
    found = re.search(r"/served#token=([A-Za-z0-9._-]+)", text)
    assert found, text
    return found.group(1)


async def test_service_by_e_mail_with_a_bounce_a_retry_and_the_proof(
    api: Api, mail: tuple[Bouncing, Controller]
) -> None:
    box, controller = mail
    serving = api.app[SERVING]
    serving.notifier = ChannelNotifier(
        SmtpNotifier("127.0.0.1", controller.port, SENDER, timeout=5), None, LogNotifier()
    )
    worker = await by_hand(api)
    c = await signed_case(api)
    base, med = c["base"], c["mediator"]
    serve = {"document_id": c["agreement"]["id"], "deadline_hours": 24}

    # nobody has consented yet: refused, naming who is missing
    status, body, _ = await api.call("POST", f"{base}/service", med, json=serve)
    assert status == 422 and "张三" in body["detail"] and "李四" in body["detail"]
    # consent is each party's own act
    status, body, _ = await api.call("POST", f"{base}/service/consent", med, json={"channels": ["email"]})
    assert status == 403
    status, body, _ = await api.call(
        "POST", f"{base}/service/consent", c["applicant"], json={"channels": ["email", "sms"]}
    )
    assert status == 201 and body["channels"] == ["email", "sms"]
    assert (await api.call("POST", f"{base}/service/consent", c["respondent"], json={"channels": ["email"]}))[0] == 201
    # a party may not serve; the mediator serves the final signed agreement
    assert (await api.call("POST", f"{base}/service", c["applicant"], json=serve))[0] == 403
    status, service, _ = await api.call("POST", f"{base}/service", med, json=serve)
    assert status == 201, service
    assert (await api.call("GET", base, med))[1]["state"] == "serving"

    await worker.tick()
    # the applicant's mail arrived: the signed agreement attached, byte for byte, and a personal link
    mine = [r for r in box.received if r.rcpt_tos == [SERVICE_APPLICANT["email"]]]
    assert len(mine) == 1 and mine[0].mail_from == SENDER
    message = mine[0].parsed()
    assert "【电子送达】" in str(message["Subject"])
    attachment = next(iter(message.iter_attachments()))
    assert hashlib.sha256(attachment.get_content()).hexdigest() == c["agreement"]["sha256"]
    body_text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    token = link_in(body_text)
    assert c["agreement"]["sha256"] in body_text

    # the respondent's address bounced: marked failed, to be retried with back-off
    view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
    by_name = {r["name"]: r for r in view["recipients"]}
    assert by_name["张三"]["effective_at"] and by_name["张三"]["effective_channel"] == "email"
    sms = next(d for d in by_name["张三"]["deliveries"] if d["channel"] == "sms")
    assert sms["status"] == "sent" and not sms["accepted_at"]  # the log-only SMS channel proves nothing
    bounced = by_name["李四"]["deliveries"][0]
    assert bounced["status"] == "retrying" and "550" in bounced["last_error"] and bounced["failed_at"]
    assert by_name["李四"]["effective_at"] is None
    assert (await api.call("GET", base, med))[1]["state"] == "serving"
    api.clock.advance(timedelta(seconds=31))
    await worker.tick()
    view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
    retried = {r["name"]: r for r in view["recipients"]}["李四"]
    assert retried["deliveries"][0]["status"] == "accepted" and retried["deliveries"][0]["attempts"] == 2
    assert (await api.call("GET", base, med))[1]["state"] == "served"

    # the applicant follows the link: only the served document opens, and opening is recorded
    api.clock.advance(timedelta(minutes=5))
    status, served, _ = await api.call("GET", "/api/v1/served", token)
    assert status == 200 and served["document"]["sha256"] == c["agreement"]["sha256"]
    status, pdf, _ = await api.call("GET", "/api/v1/served/document?download=true", token)
    assert status == 200 and hashlib.sha256(pdf).hexdigest() == c["agreement"]["sha256"]
    status, pages, _ = await api.call("GET", "/api/v1/served/pages", token)
    assert status == 200 and pages["pages"]
    for path in (base, f"{base}/documents/{c['agreement']['id']}", "/api/v1/me"):
        status, body, _ = await api.call("GET", path, token)
        assert status == 401 and "only the document served on you" in body["detail"], (path, body)
    # the ordinary join link does not open the served-document endpoints
    assert (await api.call("GET", "/api/v1/served", c["applicant"]))[0] == 401
    # a party sees only what was served on them
    mine_only = (await api.call("GET", f"{base}/service", c["respondent"]))[1]["services"][0]
    assert [r["name"] for r in mine_only["recipients"]] == ["李四"]
    assert "last_error" not in mine_only["recipients"][0]["deliveries"][0]

    # the proof of service: sealed by the platform; accepted and opened times; the document's hash
    status, proof, _ = await api.call("POST", f"{base}/service/{view['id']}/recipients/{c['applicant_id']}/proof", med)
    assert status == 201 and proof["kind"] == "proof_of_service"
    assert (
        await api.call("POST", f"{base}/service/{view['id']}/recipients/{c['applicant_id']}/proof", c["applicant"])
    )[0] == 403
    # a recipient cannot open another recipient's documents: the proofs are the staff's
    for party in ("applicant", "respondent"):
        assert (await api.call("GET", f"{base}/documents/{proof['id']}", c[party]))[0] == 404
    pdf = (await api.call("GET", f"{base}/documents/{proof['id']}", med))[1]
    report = await asyncio.to_thread(verify_pdf, pdf, api.app[SIGNING].trust_roots)
    assert report.ok and report.signatures[0].signer_name == "在线调解平台", report.reasons
    text = "".join(pdf_text(pdf).split())
    assert c["agreement"]["sha256"] in text and "已送达" in text and "张三" in text
    assert "调解协议书（第1稿）" in text  # the signed file's title no longer says "being signed"
    served_view = {r["name"]: r for r in view["recipients"]}["张三"]
    assert _beijing(served_view["effective_at"]) in text  # accepted
    opened = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
    opened_at = {r["name"]: r for r in opened["recipients"]}["张三"]["opened_at"]
    assert opened_at and _beijing(opened_at) in text
    bounced_proof = (await api.call("POST", f"{base}/service/{view['id']}/recipients/{c['respondent_id']}/proof", med))[
        1
    ]
    bounced_text = "".join(pdf_text((await api.call("GET", f"{base}/documents/{bounced_proof['id']}", med))[1]).split())
    assert "5505.1.1" in bounced_text and "尝试" in bounced_text, bounced_text  # table cells wrap into each other

    trail = [e["action"] for e in (await api.call("GET", f"{base}/audit", med))[1]["entries"]]
    for action in (
        "service.consent",
        "service.started",
        "service.delivery_failed",
        "service.effective",
        "service.opened",
        "service.downloaded",
    ):
        assert action in trail, action
    assert SERVICE_APPLICANT["email"] not in str(trail)


def _beijing(iso: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d%H:%M:%S")


async def test_an_unserved_recipient_is_flagged_and_served_on_retry(api: Api) -> None:
    box = Bouncing(address=SERVICE_RESPONDENT["email"], times=99)
    with smtp_server(box) as controller:
        serving = api.app[SERVING]
        serving.notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", controller.port, SENDER, timeout=5), None, LogNotifier()
        )
        worker = await by_hand(api)
        c = await signed_case(api)
        base, med = c["base"], c["mediator"]
        for who, channels in (("applicant", ["inbox"]), ("respondent", ["email"])):
            assert (await api.call("POST", f"{base}/service/consent", c[who], json={"channels": channels}))[0] == 201
        body = {"document_id": c["agreement"]["id"], "deadline_hours": 1}
        status, service, _ = await api.call("POST", f"{base}/service", med, json=body)
        assert status == 201
        # the inbox takes effect at once; the bounced address fails three times, then is given up
        for wait in (0, 31, 121):
            api.clock.advance(timedelta(seconds=wait))
            await worker.tick()
        view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
        people = {r["name"]: r for r in view["recipients"]}
        assert people["张三"]["effective_channel"] == "inbox"
        assert people["李四"]["deliveries"][0]["status"] == "failed"
        assert people["李四"]["deliveries"][0]["attempts"] == 3
        # the deadline passes: the mediator sees the flag, the case says service failed
        api.clock.advance(timedelta(hours=1))
        await worker.tick()
        view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
        assert {r["name"]: r for r in view["recipients"]}["李四"]["flagged_at"]
        assert (await api.call("GET", base, med))[1]["state"] == "service_failed"
        # the party reads their inbox and follows its link
        inbox = (await api.call("GET", f"{base}/service/inbox", c["applicant"]))[1]["services"]
        assert len(inbox) == 1 and inbox[0]["link"].startswith("/served#token=")
        assert (await api.call("GET", "/api/v1/served", link_in(inbox[0]["link"])))[0] == 200
        assert (await api.call("GET", f"{base}/service/inbox", c["respondent"]))[1]["services"] == []
        # the address works again; the mediator retries: served
        box.times = 0
        status, again, _ = await api.call(
            "POST", f"{base}/service/{service['id']}/retry", med, json={"deadline_hours": 24}
        )
        assert status == 200, again
        assert (await api.call("GET", base, med))[1]["state"] == "serving"
        await worker.tick()
        assert (await api.call("GET", base, med))[1]["state"] == "served"
        assert any(r.rcpt_tos == [SERVICE_RESPONDENT["email"]] for r in box.received)


async def test_sms_service_takes_effect_on_the_phones_receipt(api: Api, gateway: Gateway) -> None:
    """With receipts, the gateway's 2xx only means "sent": the signed receipt from the phone makes
    service effective; a failed receipt is retried; a receipt not signed with the gateway's key is
    refused and changes nothing."""
    serving = api.app[SERVING]
    serving.notifier = ChannelNotifier(None, HttpSmsGateway(gateway.url, KEY), LogNotifier())
    serving.sms_receipts, serving.sms_key = True, KEY
    worker = await by_hand(api)
    c = await signed_case(api)
    base, med = c["base"], c["mediator"]
    for who in ("applicant", "respondent"):
        assert (await api.call("POST", f"{base}/service/consent", c[who], json={"channels": ["sms"]}))[0] == 201
    assert (await api.call("POST", f"{base}/service", med, json={"document_id": c["agreement"]["id"]}))[0] == 201
    await worker.tick()
    refs = {m["to"]: m["reference"] for m in gateway.received}
    assert set(refs) == {SERVICE_APPLICANT["phone"], SERVICE_RESPONDENT["phone"]}
    assert "/served#token=" in gateway.received[0]["text"]
    view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
    assert all(r["deliveries"][0]["status"] == "sent" and not r["effective_at"] for r in view["recipients"])

    async def receipt(reference: str, status: str, key: bytes = KEY) -> tuple[int, Any]:
        raw = json.dumps({"reference": reference, "status": status, "error": "absent subscriber"}).encode()
        stamp = int(api.clock().timestamp())  # the gateway's clock agrees with the server's
        headers = {
            "Content-Type": "application/json",
            "X-Mediation-Timestamp": str(stamp),
            "X-Mediation-Signature": sign_webhook(key, stamp, raw),
        }
        status_code, body, _ = await api.call("POST", "/api/v1/sms/receipts", data=raw, headers=headers)
        return status_code, body

    assert (await receipt(refs[SERVICE_APPLICANT["phone"]], "delivered", key=b"not the gateway's key at all 123"))[
        0
    ] == 401
    assert (await receipt("no-such-reference", "delivered"))[0] == 404
    assert await receipt(refs[SERVICE_APPLICANT["phone"]], "delivered") == (200, {"status": "accepted"})
    assert await receipt(refs[SERVICE_APPLICANT["phone"]], "delivered") == (
        200,
        {"status": "accepted"},
    )  # repeated: no change
    assert await receipt(refs[SERVICE_RESPONDENT["phone"]], "failed") == (200, {"status": "retrying"})
    assert (await api.call("GET", base, med))[1]["state"] == "serving"
    api.clock.advance(timedelta(seconds=31))
    await worker.tick()  # the respondent's SMS goes again; its receipt comes back delivered
    again = [m for m in gateway.received if m["to"] == SERVICE_RESPONDENT["phone"]]
    assert len(again) == 2
    assert await receipt(again[-1]["reference"], "delivered") == (200, {"status": "accepted"})
    assert (await api.call("GET", base, med))[1]["state"] == "served"
    view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]
    people = {r["name"]: r for r in view["recipients"]}
    assert people["张三"]["effective_channel"] == "sms" and people["李四"]["deliveries"][0]["attempts"] == 2
