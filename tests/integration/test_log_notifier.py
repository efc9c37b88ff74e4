"""The log notifier records that a message went out, not what it said (issue 12 item 18).

With ``MEDIATION_NOTIFIER=log`` (the default where no channel is configured) every message is only
logged. Its subject names the served document, whose title may hold names ("张三与李四的…"); the
log gets the channel, the masked address, the kind of message and its reference, nothing more.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from server.app import DELIVERIES
from server.notify import LogNotifier, Message
from tests.builders import RESPONDENT, case_with_parties
from tests.conftest import Api

TITLE = "张三与李四的事故责任认定书"


@pytest.mark.asyncio
async def test_a_served_document_is_logged_without_its_title(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    worker = api.app[DELIVERIES]
    await worker.close()  # the test runs the round itself
    c = await case_with_parties(api)
    base = f"/api/v1/cases/{c['case_id']}"
    assert (await api.call("POST", f"{base}/service/consent", c["respondent"], json={"channels": ["email"]}))[0] == 201
    status, doc, _ = await api.call(
        "POST",
        f"{base}/documents?kind=liability_finding&title={TITLE}&visibility=parties",
        c["mediator"],
        data=b"%PDF-1.7\n% liability finding\n",
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201, doc
    body = {"document_id": doc["id"], "recipients": [c["respondent_id"]], "deadline_hours": 24}
    assert (await api.call("POST", f"{base}/service", c["mediator"], json=body))[0] == 201
    with caplog.at_level(logging.DEBUG):
        assert await worker.tick() == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "server.notify"]
    assert any(line.startswith("email to l***@example.org: service ") for line in lines), lines
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (TITLE, "张三", "李四", RESPONDENT["email"], "电子送达"):
        assert secret not in logged, secret


@pytest.mark.asyncio
async def test_the_log_line_names_the_kind_and_reference_only(caplog: pytest.LogCaptureFixture) -> None:
    message = Message(
        "sms",
        "13912345678",
        "案件 张三 签署验证码",
        "验证码 123456",
        datetime(2026, 1, 1, tzinfo=UTC),
        kind="signing_code",
    )
    with caplog.at_level(logging.DEBUG):
        delivery = await LogNotifier().send(message)
    assert delivery.reference and not delivery.accepted
    assert [r.getMessage() for r in caplog.records] == [f"sms to 139****5678: signing_code {delivery.reference}"]
