"""The address for service (送达地址确认书) over the real server, on SQLite and PostgreSQL: a party confirms
their own addresses from their link; the sealed PDF (read with poppler's pdftotext and checked by the
independent validator) carries them; the other side never reads them; a re-confirmation wins; bad input is
refused as problem+json and writes nothing; and service afterwards reaches the confirmed e-mail (a real SMTP
server on loopback) and the confirmed mobile number (a real HTTP SMS gateway), not what the mediator typed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from e_sign.verify import verify_pdf
from server.e_service.endpoints import ADDRESSES, SERVING
from server.notify import ChannelNotifier, HttpSmsGateway, LogNotifier, SmtpNotifier
from server.signing.endpoints import SIGNING
from tests.builders import APPLICANT, RESPONDENT, by_hand, case_with_parties
from tests.channels import KEY, Gateway, Mailbox, smtp_server
from tests.conftest import Api
from tests.pdfs import pdf_text, require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
CONFIRMED = {
    "phone": "13800138000",
    "email": "zhang.new@example.org",
    "postal_address": "北京市朝阳区建国路88号3单元502室",
    "postal_recipient": "张三",
    "electronic": True,
    "channels": ["email", "sms"],
    "acknowledged": True,
}
PERSONAL = ("13800138000", "zhang.new@example.org", "建国路", APPLICANT["phone"])


def flat(pdf: bytes) -> str:
    return "".join(pdf_text(pdf).split())


async def test_a_party_confirms_their_address_and_only_they_and_the_staff_read_it(api: Api) -> None:
    c = await case_with_parties(api)
    base, med, app_id = f"/api/v1/cases/{c['case_id']}", c["mediator"], c["applicant_id"]

    # before confirming: the party starts from what the mediator entered, and reads the notice
    status, before, _ = await api.call("GET", f"{base}/service-addresses", c["applicant"])
    assert status == 200, before
    [mine] = before["addresses"]
    assert mine["participant_id"] == app_id and mine["confirmed"] is False and mine["document_id"] is None
    assert mine["entered"] == {"phone": APPLICANT["phone"]}
    assert any("视为送达" in line for line in before["notice"]) and "送达地址" in before["acknowledgement"]

    status, done, _ = await api.call("PUT", f"{base}/service-address", c["applicant"], json=CONFIRMED)
    assert status == 200, done
    assert done["confirmed"] and done["phone"] == "13800138000" and done["channels"] == ["email", "sms"]
    assert done["confirmed_at"] == api.clock().isoformat()

    # the staff read every party's, each party only their own
    staff = {a["participant_id"]: a for a in (await api.call("GET", f"{base}/service-addresses", med))[1]["addresses"]}
    assert set(staff) == {app_id, c["respondent_id"]}
    assert staff[app_id]["postal_address"] == CONFIRMED["postal_address"] and staff[app_id]["electronic"] is True
    assert staff[c["respondent_id"]]["confirmed"] is False
    status, theirs, _ = await api.call("GET", f"{base}/service-addresses", c["respondent"])
    assert [a["participant_id"] for a in theirs["addresses"]] == [c["respondent_id"]]
    assert not any(value in str(theirs) for value in PERSONAL)

    # the PDF: the party's own, through this stage; never the other side's, by either route
    status, pdf, resp = await api.call("GET", f"{base}/service-addresses/{app_id}/document", c["applicant"])
    assert status == 200 and resp.headers["Content-Type"] == "application/pdf"
    text = flat(pdf)
    for needle in ("送达地址确认书", "13800138000", "zhang.new@example.org", CONFIRMED["postal_address"], "手机短信"):
        assert needle in text, needle
    assert "文书到达您确认的手机号码" in text  # the notice the party read
    for path in (f"{base}/service-addresses/{app_id}/document", f"{base}/documents/{done['document_id']}"):
        assert (await api.call("GET", path, c["respondent"]))[0] == 404, path
    assert (await api.call("GET", f"{base}/documents/{done['document_id']}", c["applicant"]))[0] == 404
    status, staff_pdf, _ = await api.call("GET", f"{base}/documents/{done['document_id']}", med)
    assert status == 200 and staff_pdf == pdf
    report = await asyncio.to_thread(verify_pdf, pdf, api.app[SIGNING].trust_roots)
    assert report.ok and report.signatures[0].signer_name == "在线调解平台", report.reasons
    documents = (await api.call("GET", base, med))[1]["documents"]
    assert [d["kind"] for d in documents if d["id"] == done["document_id"]] == ["service_address"]
    assert all(d["id"] != done["document_id"] for d in (await api.call("GET", base, c["respondent"]))[1]["documents"])

    # it is the consent to electronic service too, and the participant's contacts now
    consent = (await api.call("GET", f"{base}/service/consent", c["applicant"]))[1]["consents"][0]
    assert consent["channels"] == ["email", "sms"] and consent["addresses"] == {
        "email": "z***@example.org",
        "sms": "138****8000",
    }

    # the audit trail says it happened, with no phone, e-mail or address in it
    entries = (await api.call("GET", f"{base}/audit", med))[1]["entries"]
    confirmed = [e for e in entries if e["action"] == "service.address_confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["actor"] == f"participant:{app_id}"
    details = confirmed[0]["details"]
    assert details["participant_id"] == app_id and details["document_id"] == done["document_id"]
    assert details["channels"] == ["email", "sms"] and details["addresses"] == ["phone", "email", "postal_address"]
    assert "service.consent" in [e["action"] for e in entries]
    assert not any(value in str(entries) for value in PERSONAL)

    # the party corrects it later: the newest confirmation counts, the earlier one stays on the case
    api.clock.advance(timedelta(minutes=3))
    again = {
        "postal_address": "上海市浦东新区世纪大道100号",
        "electronic": False,
        "acknowledged": True,
    }
    status, second, _ = await api.call("PUT", f"{base}/service-address", c["applicant"], json=again)
    assert status == 200, second
    assert second["document_id"] != done["document_id"] and second["channels"] == [] and second["electronic"] is False
    [now_mine] = (await api.call("GET", f"{base}/service-addresses", c["applicant"]))[1]["addresses"]
    assert now_mine["postal_address"] == again["postal_address"] and now_mine["document_id"] == second["document_id"]
    assert now_mine["confirmed_at"] == api.clock().isoformat()
    newest = await api.app[ADDRESSES].confirmed_address(c["case_id"], app_id)
    assert newest is not None and newest.channels == () and newest.postal_address == again["postal_address"]
    assert newest.phone is None  # nothing typed this time, nothing confirmed
    assert await api.app[ADDRESSES].confirmed_address(c["case_id"], c["respondent_id"]) is None
    assert (await api.call("GET", f"{base}/service/consent", c["applicant"]))[1]["consents"][0]["channels"] == []
    text = flat((await api.call("GET", f"{base}/service-addresses/{app_id}/document", c["applicant"]))[1])
    assert "世纪大道" in text and "不同意" in text and "建国路" not in text
    assert (await api.call("GET", f"{base}/documents/{done['document_id']}", med))[0] == 200  # kept


async def test_bad_input_is_refused_and_writes_nothing(api: Api) -> None:
    c = await case_with_parties(api)
    other = await case_with_parties(api)
    base, med = f"/api/v1/cases/{c['case_id']}", c["mediator"]
    put = f"{base}/service-address"

    async def refused(body: Any, token: str, status: int, code: str) -> None:
        got, problem, resp = await api.call("PUT", put, token, json=body)
        assert got == status, (body, problem)
        assert resp.headers["Content-Type"].startswith("application/problem+json") and problem["code"] == code
        assert "Traceback" not in str(problem)

    for phone in ("12345678901", "+8613800138000", "1380013800", "138001380000", "13800 38000"):
        await refused({**CONFIRMED, "phone": phone}, c["applicant"], 422, "validation_failed")
    for text in ("北京市\x00朝阳区", "北京市\x07朝阳区", "北京\u2028朝阳", "\x1b[31m北京"):
        await refused({**CONFIRMED, "postal_address": text}, c["applicant"], 422, "validation_failed")
    await refused({**CONFIRMED, "postal_address": "路" * 201}, c["applicant"], 422, "validation_failed")
    await refused({**CONFIRMED, "postal_recipient": "   "}, c["applicant"], 422, "validation_failed")
    await refused({**CONFIRMED, "email": "not an address"}, c["applicant"], 422, "validation_failed")
    await refused({**CONFIRMED, "acknowledged": False}, c["applicant"], 422, "validation_failed")
    await refused({**CONFIRMED, "channels": ["fax"]}, c["applicant"], 422, "validation_failed")
    # the caller confirms for themselves: a participant id in the body is no field of the form
    await refused({**CONFIRMED, "participant_id": c["respondent_id"]}, c["applicant"], 422, "validation_failed")
    # rules across fields
    await refused({**CONFIRMED, "channels": []}, c["applicant"], 422, "invalid_command")
    await refused({**CONFIRMED, "channels": ["sms"], "phone": None}, c["applicant"], 422, "invalid_command")
    await refused({**CONFIRMED, "channels": ["email"], "email": None}, c["applicant"], 422, "invalid_command")
    no_post = {"phone": "13800138000", "electronic": False, "acknowledged": True}
    await refused(no_post, c["applicant"], 422, "invalid_command")
    # a huge body
    status, problem, _ = await api.call("PUT", put, c["applicant"], json={**CONFIRMED, "postal_address": "路" * 40_000})
    assert status == 413 and problem["code"] == "payload_too_large"
    # who may: the mediator does not confirm for a party; a party of another case learns nothing
    await refused(CONFIRMED, med, 403, "forbidden")
    await refused(CONFIRMED, other["applicant"], 404, "not_found")
    assert (await api.call("GET", f"{base}/service-addresses", other["applicant"]))[0] == 404
    assert (await api.call("GET", f"{base}/service-addresses", other["mediator"]))[0] == 404
    assert (await api.call("GET", f"{base}/service-addresses"))[0] == 401
    assert (await api.call("PUT", put, json=CONFIRMED))[0] == 401

    # nothing was written by any of it
    for who in ("applicant", "respondent"):
        [row] = (await api.call("GET", f"{base}/service-addresses", c[who]))[1]["addresses"]
        assert row["confirmed"] is False
    trail = [e["action"] for e in (await api.call("GET", f"{base}/audit", med))[1]["entries"]]
    assert "service.address_confirmed" not in trail and "service.consent" not in trail

    # one valid confirmation, then the PDF by a forged or another party's id
    assert (await api.call("PUT", put, c["applicant"], json=CONFIRMED))[0] == 200
    doc = f"{base}/service-addresses/{c['applicant_id']}/document"
    assert (await api.call("GET", doc, c["respondent"]))[0] == 404
    assert (await api.call("GET", doc, other["applicant"]))[0] == 404
    assert (await api.call("GET", doc, other["mediator"]))[0] == 404
    assert (await api.call("GET", f"{base}/service-addresses/{uuid.uuid4()}/document", med))[0] == 404
    assert (await api.call("GET", f"{base}/service-addresses/{c['respondent_id']}/document", med))[0] == 404
    assert (await api.call("GET", doc, med))[0] == 200


async def test_service_after_confirmation_goes_to_the_confirmed_addresses(api: Api, gateway: Gateway) -> None:
    box = Mailbox()
    with smtp_server(box) as controller:
        serving = api.app[SERVING]
        serving.notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", controller.port, "service@court-mediation.test", timeout=5),
            HttpSmsGateway(gateway.url, KEY),
            LogNotifier(),
        )
        worker = await by_hand(api)
        c = await case_with_parties(api)
        base, med = f"/api/v1/cases/{c['case_id']}", c["mediator"]
        # the respondent confirms a new mobile number and e-mail in place of what the mediator typed
        mine = {**CONFIRMED, "phone": "13700137000", "email": "li.confirmed@example.net"}
        assert (await api.call("PUT", f"{base}/service-address", c["respondent"], json=mine))[0] == 200
        status, doc, _ = await api.call(
            "POST",
            f"{base}/documents?kind=other&title=%E9%80%9A%E7%9F%A5&visibility=parties",
            med,
            data=PDF,
            headers={"Content-Type": "application/pdf"},
        )
        assert status == 201, doc
        body = {"document_id": doc["id"], "recipients": [c["respondent_id"]], "deadline_hours": 24}
        status, service, _ = await api.call("POST", f"{base}/service", med, json=body)
        assert status == 201, service
        await worker.tick()

        mail = [r.rcpt_tos for r in box.received]
        assert mail == [["li.confirmed@example.net"]], mail
        assert RESPONDENT["email"] not in str(mail)
        texts = [m["to"] for m in gateway.received]
        assert texts == ["13700137000"], texts
        view = (await api.call("GET", f"{base}/service", med))[1]["services"][0]["recipients"][0]
        assert {d["channel"]: d["to"] for d in view["deliveries"]} == {
            "email": "l***@example.net",
            "sms": "137****7000",
        }
        assert view["effective_at"] is not None
