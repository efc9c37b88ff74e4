"""The other end of the outbound channels, real and on loopback: an SMTP server (aiosmtpd) whose
:class:`Mailbox` records what arrives, and an HTTP SMS :class:`Gateway` that checks our signature with
:data:`KEY`. The ``gateway`` fixture (``tests/integration/conftest.py``) starts one."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, LoginPassword, Session

from server.notify import HttpSmsGateway, check_webhook_signature
from tests.processes import free_port

KEY = b"gateway-key-0123456789abcdef0123"


@dataclass(frozen=True)
class Received:
    """One message as the recipient's server took it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    login: bytes | None

    def parsed(self) -> email.message.EmailMessage:
        message = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        return message


@dataclass
class Mailbox:
    """An aiosmtpd handler: records what arrives; refuses every recipient with ``rcpt_reply`` when set."""

    rcpt_reply: str = ""
    received: list[Received] = field(default_factory=list)
    starttls: int = 0

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        over_tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, over_tls, login))
        return "250 2.0.0 Ok: queued as 4F2A"

    def handle_STARTTLS(self, server: SMTPServer, session: Session, envelope: Envelope) -> bool:
        self.starttls += 1
        return True


@contextmanager
def smtp_server(mailbox: Mailbox, **kw: Any) -> Iterator[Controller]:
    """A real SMTP server on a free loopback port (its own thread and event loop)."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kw)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@dataclass
class Gateway:
    """A real HTTP SMS gateway: checks our signature, then answers ``status`` (and ``answer`` on success)."""

    url: str = ""
    status: int = 200
    answer: Any = field(default_factory=lambda: {"id": "gw-1"})
    hold: asyncio.Event | None = None
    """When set, requests wait for it (a gateway that does not answer in time)."""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers.get(HttpSmsGateway.TIMESTAMP_HEADER)
        signature = request.headers.get(HttpSmsGateway.SIGNATURE_HEADER)
        if not check_webhook_signature(KEY, timestamp, body, signature, now=time.time()):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        if self.hold is not None:
            await self.hold.wait()
        self.received.append(json.loads(body))
        if self.status == 200 and isinstance(self.answer, str):
            return web.Response(text=self.answer)
        return web.json_response(self.answer if self.status == 200 else {"error": "no"}, status=self.status)


# ---------------------------------------------------------------- webhooks and the feed


@dataclass
class HookRequest:
    """One request as a :class:`HookReceiver` saw it."""

    body: bytes
    headers: dict[str, str]
    signature_ok: bool
    answered: int
    at: float

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


def case_of(event: dict[str, Any]) -> str:
    """The case of a feed document (``case.id``) or of a webhook body (``case_id``)."""
    return str(event["case"]["id"] if "case" in event else event["case_id"])


@dataclass
class HookReceiver:
    """A loopback receiver of signed webhook or feed requests: checks each signature with ``secret``, answers
    500 to the first ``fail_first`` attempts of every event (to all with ``fail_always``), waits ``delay``
    seconds before answering any, holds the first answer to each event ``slow_first`` seconds after recording
    it (the sender gives up waiting and sends it again), and records everything."""

    secret: bytes
    fail_first: int = 0
    fail_always: bool = False
    delay: float = 0.0
    slow_first: float = 0.0
    requests: list[HookRequest] = field(default_factory=list)
    url: str = ""
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        from server.outbound.webhook_client import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

        body = await request.read()
        ok = check_webhook_signature(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER),
            body,
            request.headers.get(SIGNATURE_HEADER),
            now=time.time(),
        )
        if self.delay:
            await asyncio.sleep(self.delay)  # keeps a delivery in flight while the other node looks
        event_id = request.headers.get(EVENT_HEADER)
        earlier = sum(1 for r in self.requests if r.headers.get(EVENT_HEADER) == event_id)
        status = 500 if self.fail_always or earlier < self.fail_first else (204 if ok else 401)
        async with self._changed:
            self.requests.append(HookRequest(body, dict(request.headers), ok, status, time.monotonic()))
            self._changed.notify_all()
        if self.slow_first and earlier == 0:
            await asyncio.sleep(self.slow_first)
        return web.Response(status=status)

    def accepted(self, case_id: str | None = None) -> list[HookRequest]:
        return [r for r in self.requests if r.answered == 204 and (case_id is None or case_of(r.event) == case_id)]

    def attempts(self, event_id: int) -> list[HookRequest]:
        return [r for r in self.requests if r.event["event_id"] == event_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)


@asynccontextmanager
async def hook_receiver(secret: bytes, path: str = "/hooks/mediation", **kw: Any) -> AsyncIterator[HookReceiver]:
    """A :class:`HookReceiver` listening on loopback at ``path`` (its ``url``)."""
    from aiohttp.test_utils import TestServer

    rec = HookReceiver(secret, **kw)
    app = web.Application()
    app.router.add_post(path, rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url(path))
    try:
        yield rec
    finally:
        await server.close()


@asynccontextmanager
async def sms_gateway() -> AsyncIterator[Gateway]:
    """A :class:`Gateway` listening on loopback at ``/sms`` (its ``url``; the app's ``sms_gateway_key`` is
    :data:`KEY`)."""
    from aiohttp.test_utils import TestServer

    gw = Gateway()
    app = web.Application()
    app.router.add_post("/sms", gw.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw.url = str(server.make_url("/sms"))
    try:
        yield gw
    finally:
        if gw.hold is not None:
            gw.hold.set()
        await server.close()
