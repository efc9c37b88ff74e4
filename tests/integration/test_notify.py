"""The delivery channels over real loopback connections: a real SMTP server (aiosmtpd) and a real HTTP
SMS gateway (aiohttp) that checks our signature. Chinese text and a PDF arrive intact, a retry keeps its
Message-ID, each answer maps to accepted / permanent / temporary, and no address, number or text reaches
the log. Then one-time codes through the real application: a refused number is a 422, a gateway that is
down a 503."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.errors import DeliveryFailed
from server.notify import (
    Attachment,
    ChannelNotifier,
    Delivery,
    HttpSmsGateway,
    LogNotifier,
    Message,
    Notifier,
    SmtpNotifier,
)
from server.signing.endpoints import SIGNINGS
from server.signing.usecases import SigningService
from tests.builders import TERMS, between_sessions
from tests.channels import KEY, Gateway, Mailbox, smtp_server
from tests.conftest import Api
from tests.processes import free_port

pytestmark = pytest.mark.asyncio

AT = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
SENDER = "court@mediation.example.org"
ADDRESS = "zhang.san@example.org"
PHONE = "13912345678"
SUBJECT = "（2026）京0105民调123号 调解协议送达通知"
TEXT = "张三您好：\n\n请查收附件中的调解协议。验证码 482913，五分钟内有效，请勿告诉他人。\n"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"


def email_message(**kw: Any) -> Message:
    return Message("email", ADDRESS, SUBJECT, TEXT, AT, **kw)


def sms_message(**kw: Any) -> Message:
    return Message("sms", PHONE, "签署验证码", TEXT, AT, **kw)


# ------------------------------------------------------------------ the SMTP server


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1: the server's context and a client context that trusts it."""

    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return Tls(server, client)


def accept_court_login(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"court", b"s3cret")
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def mailbox(tls: Tls) -> Iterator[tuple[Mailbox, Controller]]:
    """A plain SMTP server that also offers STARTTLS (to show that ``tls="none"`` never takes it)."""
    box = Mailbox()
    with smtp_server(box, tls_context=tls.server) as controller:
        yield box, controller


def smtp_for(controller: Controller, **kw: Any) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", controller.port, SENDER, timeout=5, **kw)


async def test_chinese_text_and_a_pdf_arrive_intact(mailbox: tuple[Mailbox, Controller]) -> None:
    box, controller = mailbox
    pdf = Attachment("调解协议.pdf", "application/pdf", PDF)
    delivery = await smtp_for(controller).send(email_message(attachments=(pdf,), reference="service-7.notice"))
    assert delivery == Delivery("email", True, "service-7.notice", delivery.detail)
    assert "250" in delivery.detail and ADDRESS not in delivery.detail

    [got] = box.received
    assert got.mail_from == SENDER and got.rcpt_tos == [ADDRESS]
    assert not got.over_tls and box.starttls == 0  # offered, never taken with tls="none"
    assert got.content.isascii()  # 7-bit clean: RFC 2047 headers, base64 bodies
    assert b"=?utf-8?" in got.content.split(b"\r\n\r\n", 1)[0].lower()
    mail = got.parsed()
    assert mail["Subject"] == SUBJECT and mail["From"] == SENDER and mail["To"] == ADDRESS
    assert mail["Message-ID"] == "<service-7.notice@mediation.example.org>"
    assert mail["Date"].datetime == AT
    body = mail.get_body(("plain",))
    assert body is not None and body.get_content() == TEXT
    [attached] = list(mail.iter_attachments())
    assert attached.get_content_type() == "application/pdf" and attached.get_filename() == "调解协议.pdf"
    assert attached.get_content() == PDF


async def test_a_retry_keeps_its_message_id(mailbox: tuple[Mailbox, Controller]) -> None:
    box, controller = mailbox
    smtp = smtp_for(controller)
    first = await smtp.send(email_message(reference="service-8"))
    again = await smtp.send(email_message(reference="service-8"))
    other = await smtp.send(email_message(reference="service-9"))
    fresh = [await smtp.send(email_message()) for _ in range(2)]
    ids = [r.parsed()["Message-ID"] for r in box.received]
    assert ids[0] == ids[1] == "<service-8@mediation.example.org>" and first.reference == again.reference
    assert ids[2] == "<service-9@mediation.example.org>" and other.reference == "service-9"
    # without a reference each message gets its own, and the Message-ID follows it
    assert fresh[0].reference != fresh[1].reference
    assert ids[3:] == [f"<{d.reference}@mediation.example.org>" for d in fresh]


@pytest.mark.parametrize(
    ("reply", "permanent", "codes"),
    [
        ("550 5.1.1 No such user", True, "550 5.1.1"),
        (f"550 5.1.1 <{ADDRESS}>: Recipient address rejected", True, "550 5.1.1"),
        ("451 4.3.0 Try again later", False, "451 4.3.0"),
        ("452 Too many recipients", False, "452"),
    ],
)
async def test_refused_recipients(reply: str, permanent: bool, codes: str) -> None:
    box = Mailbox(rcpt_reply=reply)
    with smtp_server(box) as controller:
        with pytest.raises(DeliveryFailed) as caught:
            await smtp_for(controller).send(email_message(reference="service-10"))
    assert caught.value.permanent is permanent and caught.value.channel == "email"
    assert codes in str(caught.value) and ADDRESS not in str(caught.value)
    assert caught.value.__cause__ is None  # smtplib's error holds the address and the server's words
    assert box.received == []


async def test_an_unreachable_server_is_temporary() -> None:
    with pytest.raises(DeliveryFailed) as caught:
        await SmtpNotifier("127.0.0.1", free_port(), SENDER, timeout=5).send(email_message())
    assert caught.value.permanent is False and "unreachable" in str(caught.value)


async def test_starttls_and_login(tls: Tls) -> None:
    box = Mailbox()
    with smtp_server(box, tls_context=tls.server, authenticator=accept_court_login) as controller:
        secured = smtp_for(controller, tls="starttls", username="court", password="s3cret", context=tls.client)
        assert (await secured.send(email_message())).accepted
        assert box.starttls == 1 and box.received[-1].over_tls and box.received[-1].login == b"court"
        # a wrong password says nothing about the recipient: temporary, for the operator to fix
        wrong = smtp_for(controller, tls="starttls", username="court", password="nope", context=tls.client)
        with pytest.raises(DeliveryFailed) as caught:
            await wrong.send(email_message())
        assert caught.value.permanent is False and "535 5.7.8" in str(caught.value) and "login" in str(caught.value)
        # an untrusted certificate is refused (the system's trust store does not know ours)
        with pytest.raises(DeliveryFailed) as caught:
            await smtp_for(controller, tls="starttls").send(email_message())
        assert caught.value.permanent is False and "TLS" in str(caught.value)
    assert len(box.received) == 1


async def test_starttls_required_but_not_offered() -> None:
    plain = Mailbox()
    with smtp_server(plain) as controller:
        with pytest.raises(DeliveryFailed) as caught:
            await smtp_for(controller, tls="starttls").send(email_message())
    assert caught.value.permanent is False and "STARTTLS" in str(caught.value)
    assert plain.received == []


async def test_tls_from_the_start(tls: Tls) -> None:
    box = Mailbox()
    with smtp_server(box, ssl_context=tls.server) as controller:
        assert (await smtp_for(controller, tls="tls", context=tls.client).send(email_message())).accepted
    assert box.received[-1].over_tls and box.starttls == 0


async def test_smtp_refuses_what_is_not_email(mailbox: tuple[Mailbox, Controller]) -> None:
    box, controller = mailbox
    with pytest.raises(ValueError, match="e-mail"):
        await smtp_for(controller).send(sms_message())
    with pytest.raises(ValueError, match="reference"):
        await smtp_for(controller).send(email_message(reference="two words>"))
    assert box.received == []


# ------------------------------------------------------------------ the SMS gateway


async def test_the_gateway_accepts_a_signed_message(gateway: Gateway) -> None:
    delivery = await HttpSmsGateway(gateway.url, KEY).send(sms_message(reference="code-1"))
    assert delivery == Delivery("sms", True, "gw-1", delivery.detail) and "200" in delivery.detail
    assert gateway.received == [{"to": PHONE, "text": TEXT, "reference": "code-1"}]
    # with a session the caller owns; an answer without an id keeps our reference
    gateway.answer = "OK"
    async with aiohttp.ClientSession() as http:
        delivery = await HttpSmsGateway(gateway.url, KEY.decode(), session=http).send(sms_message(reference="code-2"))
    assert delivery.accepted and delivery.reference == "code-2"
    assert gateway.bad_signatures == 0


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (404, True), (503, False), (500, False)])
async def test_gateway_answers_map_to_failures(gateway: Gateway, status: int, permanent: bool) -> None:
    gateway.status = status
    with pytest.raises(DeliveryFailed) as caught:
        await HttpSmsGateway(gateway.url, KEY).send(sms_message())
    assert caught.value.permanent is permanent and caught.value.channel == "sms"
    assert str(status) in str(caught.value) and PHONE not in str(caught.value)
    assert len(gateway.received) == 1


async def test_a_wrong_key_is_refused_for_good(gateway: Gateway) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        await HttpSmsGateway(gateway.url, b"not the shared key").send(sms_message())
    assert caught.value.permanent and "401" in str(caught.value)
    assert gateway.bad_signatures == 1 and gateway.received == []


async def test_a_slow_or_absent_gateway_is_temporary(gateway: Gateway) -> None:
    gateway.hold = asyncio.Event()
    with pytest.raises(DeliveryFailed) as caught:
        await HttpSmsGateway(gateway.url, KEY, timeout=0.3).send(sms_message())
    assert caught.value.permanent is False and "timed out" in str(caught.value)
    with pytest.raises(DeliveryFailed) as caught:
        await HttpSmsGateway(f"http://127.0.0.1:{free_port()}/sms", KEY).send(sms_message())
    assert caught.value.permanent is False and "unreachable" in str(caught.value)


async def test_an_sms_carries_no_attachments(gateway: Gateway) -> None:
    with pytest.raises(ValueError, match="attachments"):
        await HttpSmsGateway(gateway.url, KEY).send(sms_message(attachments=(Attachment("a.pdf", "x/y", b""),)))
    with pytest.raises(ValueError, match="SMS"):
        await HttpSmsGateway(gateway.url, KEY).send(email_message())
    assert gateway.received == []


# ------------------------------------------------------------------ routing and the log


async def test_messages_go_by_channel(mailbox: tuple[Mailbox, Controller], gateway: Gateway) -> None:
    box, controller = mailbox
    both = ChannelNotifier(smtp_for(controller), HttpSmsGateway(gateway.url, KEY), LogNotifier())
    assert (await both.send(email_message())).accepted and len(box.received) == 1
    assert (await both.send(sms_message())).accepted and len(gateway.received) == 1
    logged = await both.send(Message("fax", "010-12345678", "s", "t", AT))
    assert logged == Delivery("fax", False, logged.reference, "logged only") and logged.reference  # a fresh one
    email_only = ChannelNotifier(smtp_for(controller), None, LogNotifier())
    assert (await email_only.send(sms_message(reference="r-1"))) == Delivery("sms", False, "r-1", "logged only")
    assert len(gateway.received) == 1 and len(box.received) == 1


async def test_no_address_number_or_text_is_logged(
    caplog: pytest.LogCaptureFixture, tls: Tls, gateway: Gateway
) -> None:
    caplog.set_level(logging.DEBUG)
    box, refusing = Mailbox(), Mailbox(rcpt_reply=f"550 5.1.1 <{ADDRESS}>: No such user")
    with smtp_server(box) as ok, smtp_server(refusing) as bounce:
        notifiers: list[Notifier] = [
            ChannelNotifier(smtp_for(ok), HttpSmsGateway(gateway.url, KEY), LogNotifier()),
            ChannelNotifier(smtp_for(bounce), HttpSmsGateway(gateway.url, b"wrong"), LogNotifier()),
            ChannelNotifier(None, None, LogNotifier()),
        ]
        for notifier in notifiers:
            for message in (email_message(), sms_message()):
                try:
                    await notifier.send(message)
                except DeliveryFailed as exc:
                    logging.getLogger("server.tests").warning("delivery failed: %s", exc)
    # the recipient's own server (aiosmtpd, logger "mail.log") logs the conversation: that is their side
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]
    assert any(r.name == "server.notify" and "z***@example.org" in r.getMessage() for r in ours)
    assert any(r.name == "server.notify" and "139****5678" in r.getMessage() for r in ours)
    assert any("550 5.1.1" in r.getMessage() for r in ours)
    formatter = logging.Formatter()
    for record in ours:
        line = formatter.format(record)
        for secret in (ADDRESS, "zhang.san", PHONE, "482913", TEXT.strip().splitlines()[0]):
            assert secret not in line, (record.name, line)


# ------------------------------------------------------------------ codes through the application


async def test_signing_codes_that_cannot_be_delivered(api: Api, gateway: Gateway) -> None:
    signing: SigningService = api.app[SIGNINGS]
    signing.notifier = ChannelNotifier(None, HttpSmsGateway(gateway.url, KEY), LogNotifier())
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", c["mediator"], json=TERMS)
    assert status == 201, body
    status, body, _ = await api.call("POST", f"{base}/signing", c["mediator"], json={"deadline_hours": 48})
    assert status == 201, body

    gateway.status = 503  # the gateway is down: try again later
    status, body, _ = await api.call("POST", f"{base}/signing/code", c["applicant"])
    assert (status, body["code"]) == (503, "service_unavailable") and "503" in body["detail"]
    gateway.status = 400  # the gateway refuses the number for good
    status, body, _ = await api.call("POST", f"{base}/signing/code", c["respondent"])
    assert (status, body["code"]) == (422, "invalid_command") and "could not be delivered" in body["detail"]
    assert "13987654321" not in body["detail"] and "139****" not in body["detail"]

    gateway.status = 200  # an undelivered code is void: the signer may ask again at once
    status, sent, _ = await api.call("POST", f"{base}/signing/code", c["applicant"])
    assert status == 201 and sent["channel"] == "sms"
    assert [m["to"] for m in gateway.received] == ["13912345678", "13987654321", "13912345678"]
