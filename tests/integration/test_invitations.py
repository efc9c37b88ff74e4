"""The mediator sends a person their join link by e-mail (a real SMTP server on loopback) or SMS (a real HTTP
gateway): a fresh link that opens the case, the older one refused, the audit trail without the address."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from server.cases.endpoints import INVITATIONS
from server.notify import ChannelNotifier, HttpSmsGateway, LogNotifier, SmtpNotifier
from tests.builders import case_with_parties
from tests.channels import KEY, Gateway, Mailbox, smtp_server
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

TOKEN = re.compile(r"/join#token=([A-Za-z0-9._-]+)")


async def test_a_link_sent_by_e_mail_and_by_sms_opens_the_case_and_the_old_one_does_not(
    api: Api, gateway: Gateway
) -> None:
    c = await case_with_parties(api)
    base, med = f"/api/v1/cases/{c['case_id']}", c["mediator"]
    view = (await api.call("GET", base, med))[1]
    people = {p["role"]: p for p in view["participants"]}
    box = Mailbox()
    with smtp_server(box) as controller:
        api.app[INVITATIONS].notifier = ChannelNotifier(
            SmtpNotifier("127.0.0.1", controller.port, "noreply@mediation.test", timeout=5),
            HttpSmsGateway(gateway.url, KEY),
            LogNotifier(),
        )
        respondent = people["respondent"]["id"]
        status, sent, _ = await api.call(
            "POST", f"{base}/participants/{respondent}/invitation", med, json={"channel": "email"}
        )
        assert status == 201, sent
        assert sent["accepted"] is True and sent["to"] == "l***@example.org"
    [mail] = box.received
    assert mail.rcpt_tos == ["li@example.org"]
    message = mail.parsed()
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert view["number"] in str(message["Subject"]) and "李四" in text and "请勿转发" in text
    token = TOKEN.search(text)
    assert token, text
    status, me, _ = await api.call("GET", "/api/v1/me", token.group(1))
    assert status == 200 and me["participant_id"] == respondent
    assert (await api.call("GET", "/api/v1/me", c["respondent"]))[0] == 401  # the link sent before stops working

    applicant = people["applicant"]["id"]
    status, sent, _ = await api.call(
        "POST", f"{base}/participants/{applicant}/invitation", med, json={"channel": "sms"}
    )
    assert status == 201 and sent["to"] == "139****5678", sent
    [sms] = gateway.received
    sms_token = TOKEN.search(json.dumps(sms, ensure_ascii=False))
    assert sms_token and sms["to"] == "13912345678"
    assert (await api.call("GET", "/api/v1/me", sms_token.group(1)))[1]["participant_id"] == applicant

    # no address on the case: refused before anything changes; a party may not invite
    status, problem, _ = await api.call(
        "POST", f"{base}/participants/{applicant}/invitation", med, json={"channel": "email"}
    )
    assert status == 422 and "e-mail" in problem["detail"]
    assert (await api.call("GET", "/api/v1/me", sms_token.group(1)))[0] == 200
    status, _, _ = await api.call(
        "POST", f"{base}/participants/{respondent}/invitation", sms_token.group(1), json={"channel": "sms"}
    )
    assert status == 403
    assert (await api.call("POST", f"{base}/participants/{respondent}/invitation", med, json={"channel": "fax"}))[
        0
    ] == 422

    trail = (await api.call("GET", f"{base}/audit", med))[1]["entries"]
    invited = [e for e in trail if e["action"] == "participant.invited"]
    assert [(e["details"]["channel"], e["details"]["accepted"]) for e in invited] == [("email", True), ("sms", True)]
    dumped = json.dumps(trail, ensure_ascii=False)
    assert "li@example.org" not in dumped and "13912345678" not in dumped and token.group(1) not in dumped


async def test_one_person_is_sent_at_most_five_invitations_an_hour(api: Api) -> None:
    c = await case_with_parties(api)
    base, med = f"/api/v1/cases/{c['case_id']}", c["mediator"]
    people = {p["role"]: p["id"] for p in (await api.call("GET", base, med))[1]["participants"]}
    url = f"{base}/participants/{people['applicant']}/invitation"
    for _ in range(5):
        status, sent, _ = await api.call("POST", url, med, json={"channel": "sms"})
        assert status == 201, sent
    status, problem, resp = await api.call("POST", url, med, json={"channel": "sms"})
    assert (status, problem["code"]) == (429, "too_many_attempts")
    assert 3590 <= int(resp.headers["Retry-After"]) <= 3601
    # another person is not held up; and an hour later the first can be sent one again
    other = f"{base}/participants/{people['respondent']}/invitation"
    assert (await api.call("POST", other, med, json={"channel": "sms"}))[0] == 201
    api.clock.advance(timedelta(hours=1, seconds=1))
    assert (await api.call("POST", url, med, json={"channel": "sms"}))[0] == 201
