"""The delivery worker of electronic service over the real server: an unexpected failure is logged
by its type only (a gateway's message may quote the address), and a service started while a round
is running is sent by the next round at once, not after the polling interval (issue 12 item 8)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.app import DELIVERIES
from server.e_service.endpoints import SERVING
from server.notify import Delivery, Message
from tests.builders import APPLICANT, case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


class GatewayDown(Exception):
    """What a gateway's client library raises: its message quotes the number it was given."""


@dataclass
class Quoting:
    """A gateway that fails with an error naming the recipient's number."""

    async def send(self, message: Message) -> Delivery:
        raise GatewayDown(f"no route to {message.to}")


@dataclass
class Gated:
    """A gateway that holds the first message until the test lets it go, and keeps all of them."""

    sent: list[Message] = field(default_factory=list)
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: Message) -> Delivery:
        if not self.sent:
            self.sent.append(message)
            self.holding.set()
            await self.release.wait()
        else:
            self.sent.append(message)
        return Delivery(message.channel, True, message.reference, "kept")


async def _document(api: Api, c: dict[str, Any], title: str) -> str:
    status, doc, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind=evidence&visibility=parties&title={title}",
        c["mediator"],
        data="事故现场说明".encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert status == 201 and doc["visibility"] == "parties", doc
    return str(doc["id"])


async def _serve(api: Api, c: dict[str, Any], document_id: str) -> None:
    body = {"document_id": document_id, "recipients": [c["applicant_id"]]}
    status, out, _ = await api.call("POST", f"/api/v1/cases/{c['case_id']}/service", c["mediator"], json=body)
    assert status == 201, out


async def _consenting_case(api: Api) -> dict[str, Any]:
    c = await case_with_parties(api)
    consent = {"channels": ["sms"]}
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/service/consent", c["applicant"], json=consent
    )
    assert status == 201, body
    return c


async def test_an_unexpected_failure_is_logged_without_its_message(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    worker = api.app[DELIVERIES]
    await worker.close()  # the test runs the round itself
    api.app[SERVING].notifier = Quoting()
    c = await _consenting_case(api)
    await _serve(api, c, await _document(api, c, "现场说明"))
    caplog.set_level(logging.DEBUG)
    assert await worker.tick() == 1
    failed = [r for r in caplog.records if r.name == "server.outbound.delivery"]
    assert failed and "GatewayDown" in failed[0].getMessage(), caplog.text
    assert APPLICANT["phone"] not in caplog.text and "no route" not in caplog.text
    assert all(r.exc_info is None for r in failed)  # no traceback: its frames' values are not for the log


async def test_a_service_started_during_a_round_goes_out_at_once(api: Api) -> None:
    worker = api.app[DELIVERIES]
    await worker.close()
    worker.interval = 600.0  # the next poll is far away: only a poke can start the next round
    gateway = Gated()
    api.app[SERVING].notifier = gateway
    c = await _consenting_case(api)
    first, second = await _document(api, c, "第一份"), await _document(api, c, "第二份")
    worker.start()
    try:
        await _serve(api, c, first)  # pokes the worker: its round holds in the gateway
        await asyncio.wait_for(gateway.holding.wait(), 30)
        await _serve(api, c, second)  # pokes it again, mid-round
        gateway.release.set()
        async with asyncio.timeout(30):  # far below the interval: the poke was not lost
            while len(gateway.sent) < 2:
                await asyncio.sleep(0.05)
    finally:
        await worker.close()
    assert [m.to for m in gateway.sent] == [APPLICANT["phone"]] * 2
