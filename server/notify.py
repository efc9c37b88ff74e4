"""The notifier port: how the platform reaches a person (one-time codes now, electronic service next).

Every :class:`Notifier` answers a :class:`Delivery` for each message, or raises
:class:`~server.errors.DeliveryFailed`: ``accepted`` is true only when the
recipient's side took the message (the moment electronic service takes
effect); a failure is ``permanent`` (a bounce: do not retry) or temporary
(retry with back-off)::

    Notifier.send(message) -> Delivery(accepted=True)      the recipient's system took it
                           -> Delivery(accepted=False)     recorded only (log, console)
                           -> raises DeliveryFailed(permanent=True)    refused: a bounce
                           -> raises DeliveryFailed(permanent=False)   try again later

Adapters: :class:`SmtpNotifier` (e-mail over SMTP, the standard library in a
thread), :class:`HttpSmsGateway` (SMS through an HTTP gateway, requests signed
with :func:`sign_webhook`), :class:`ChannelNotifier` (picks one by channel),
:class:`LogNotifier` (the fallback: records that a message went out, to a
masked address, never its text: codes are credentials and messages carry
personal data), :class:`ConsoleNotifier` (development only: prints the whole
message so that a developer can read a code) and :class:`OutboxNotifier`
(keeps messages in memory for tests and tools). :func:`build_notifier`
assembles them from the settings.

Addresses, phone numbers and texts are never logged, and never put into a
:class:`Delivery` detail or an error message (a mail server's reply may echo
the address: only its codes are kept).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol, cast
from urllib.parse import urlsplit

import aiohttp

from server.domain.participants import mask_phone
from server.errors import DeliveryFailed

logger = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "tls"]
TLS_MODES: tuple[TlsMode, ...] = ("none", "starttls", "tls")
"""How :class:`SmtpNotifier` protects the connection: plain, upgraded with STARTTLS, or TLS from the start."""

_REFERENCE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}")
"""What a reference may hold: it becomes the left part of a Message-ID (RFC 5322 ``dot-atom-text``)."""
_ENHANCED_STATUS = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True)
class Attachment:
    """A file that travels with a message (e-mail only)."""

    filename: str
    """The name the recipient sees, e.g. ``调解协议.pdf``."""
    media_type: str
    """MIME type, e.g. ``application/pdf``."""
    data: bytes
    """The content."""


@dataclass(frozen=True)
class Message:
    """One message to one person."""

    channel: str
    """``sms`` or ``email``."""
    to: str
    """Phone number or e-mail address (personal data)."""
    subject: str
    """A short title."""
    text: str
    """The body (may hold a one-time code: never logged)."""
    at: datetime
    """When it was sent."""
    attachments: tuple[Attachment, ...] = ()
    """Files to attach (e-mail only)."""
    reference: str = ""
    """A unique id chosen by the caller (letters, digits, ``.-_`` …): a retry of the same message
    reuses it, so the e-mail keeps its Message-ID; empty: a fresh one per send."""
    kind: str = "message"
    """What the message is for (``service``, ``signing_code`` …): what a log names instead of the
    subject, which may hold a document's title and so people's names."""


@dataclass(frozen=True)
class Delivery:
    """What became of one message."""

    channel: str
    """``sms`` or ``email``."""
    accepted: bool
    """True only when the recipient's side accepted the message (SMTP 250, gateway 2xx)."""
    reference: str
    """The id to follow the message by: the gateway's id, else the message's reference (a fresh
    one when the message had none; for e-mail the Message-ID is ``<reference@host of the sender>``)."""
    detail: str = ""
    """A short note for the record (never the address, number or text)."""


def mask_address(channel: str, to: str) -> str:
    """A destination as it may be shown or logged: ``138****5678``, ``z***@example.org``."""
    if channel == "sms":
        return mask_phone(to) or "***"
    name, _, domain = to.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def sign_webhook(key: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value of a signed request: ``sha256=`` and the hex HMAC-SHA256 of ``"{timestamp}." + body``."""
    mac = hmac.new(key, f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_webhook_signature(
    key: bytes, timestamp: int | str | None, body: bytes, header: str | None, now: float, tolerance: float = 300
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` with ``key``, and ``timestamp`` is within
    ``tolerance`` seconds of ``now`` (either side). Missing or malformed values are simply false."""
    if timestamp is None or header is None:
        return False
    try:
        seconds = int(timestamp)
    except ValueError:
        return False
    if abs(now - seconds) > tolerance:
        return False
    expected = sign_webhook(key, seconds, body).encode("ascii")
    return hmac.compare_digest(header.strip().encode("utf-8", "backslashreplace"), expected)


def _reference(message: Message) -> str:
    if not message.reference:
        return uuid.uuid4().hex
    if not _REFERENCE.fullmatch(message.reference) or ".." in message.reference:
        raise ValueError("A message reference may hold only letters, digits and !#$%&'*+/=?^_`{|}~.-")
    return message.reference


class Notifier(Protocol):
    """Sends a message; raises :class:`~server.errors.DeliveryFailed` when the channel refuses it or fails."""

    async def send(self, message: Message) -> Delivery:
        """Deliver ``message`` (or hand it to the channel) and say what became of it."""
        ...


class LogNotifier:
    """Logs that a message went out: the channel, the masked address, the message's kind and reference;
    never its subject (a document's title may name people) or text. Production needs a real channel."""

    async def send(self, message: Message) -> Delivery:
        reference = _reference(message)
        to = mask_address(message.channel, message.to)
        logger.info("%s to %s: %s %s", message.channel, to, message.kind, reference)
        return Delivery(message.channel, False, reference, "logged only")


class ConsoleNotifier:
    """Development only: prints every message in full (one-time codes included) to standard output."""

    async def send(self, message: Message) -> Delivery:
        print(f"[{message.channel} to {message.to}] {message.subject}: {message.text}", file=sys.stdout, flush=True)
        return Delivery(message.channel, False, message.reference, "printed to the console only")


@dataclass
class OutboxNotifier:
    """Keeps messages in memory (tests, and tools that hand them on)."""

    sent: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> Delivery:
        self.sent.append(message)
        return Delivery(message.channel, True, message.reference, "kept in the outbox")


def _smtp_codes(code: int, reply: bytes | str) -> str:
    """``550 5.1.1`` from a reply: the codes only (the text may echo the address)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    enhanced = _ENHANCED_STATUS.match(text)
    return f"{code} {enhanced.group(1)}" if enhanced else str(code)


class SmtpNotifier:
    """E-mail over SMTP (``smtplib`` in a worker thread), one connection per message.

    A message is accepted when the server answers 250 to the whole transaction
    (MAIL, RCPT, DATA). A 5xx reply in that transaction is a permanent failure
    (550 at RCPT: a bounce), a 4xx reply a temporary one. Failing to connect,
    greet, secure the connection or log in says nothing about the message: those
    are temporary (the operator fixes the relay, the message is retried).
    """

    channel = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        tls: TlsMode = "none",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        """``context`` verifies the server for ``starttls`` and ``tls`` (default: the system's trust store)."""
        if tls not in TLS_MODES:
            raise ValueError('tls must be "none", "starttls" or "tls"')
        self.host = host
        self.port = port
        self.sender = sender
        self.tls = tls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._context = context
        self.domain = sender.rpartition("@")[2] or "localhost"
        """The host part of the sender: it names this side in EHLO and Message-IDs."""

    def __repr__(self) -> str:
        return f"SmtpNotifier({self.host!r}, {self.port}, {self.sender!r}, tls={self.tls!r})"

    def message_id(self, reference: str) -> str:
        """The Message-ID of the message with ``reference``: the same for every retry."""
        return f"<{reference}@{self.domain}>"

    def compose(self, message: Message, reference: str) -> EmailMessage:
        """The e-mail (UTF-8, headers RFC 2047-encoded by the default policy, attachments by type)."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.at)
        mail["Message-ID"] = self.message_id(reference)
        mail.set_content(message.text, charset="utf-8", cte="base64")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.media_type.partition("/")
            mail.add_attachment(
                attachment.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return mail

    async def send(self, message: Message) -> Delivery:
        if message.channel != self.channel:
            raise ValueError(f"SmtpNotifier sends e-mail, not {message.channel!r}")
        reference = _reference(message)
        mail = self.compose(message, reference)
        await asyncio.to_thread(self._transmit, mail, message.to)
        logger.info("email to %s accepted by %s (%s)", mask_address("email", message.to), self.host, reference)
        return Delivery(self.channel, True, reference, "accepted by the mail server (250)")

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.domain, timeout=self.timeout, context=self._tls_context()
            )
        return smtplib.SMTP(self.host, self.port, local_hostname=self.domain, timeout=self.timeout)

    def _tls_context(self) -> ssl.SSLContext:
        return self._context if self._context is not None else ssl.create_default_context()

    def _transmit(self, mail: EmailMessage, to: str) -> None:
        """Runs in a worker thread: connect, secure, log in, send; failures as :class:`DeliveryFailed`."""
        stage = "connecting"
        try:
            with self._connect() as smtp:
                if self.tls == "starttls":
                    stage = "STARTTLS"
                    smtp.starttls(context=self._tls_context())
                if self.username:
                    stage = "login"
                    smtp.login(self.username, self._password)
                stage = "sending"
                smtp.send_message(mail, from_addr=self.sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            # the reply text may echo the address: keep the codes, drop the cause
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise self._refused("recipient refused", code, reply) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            what = "sender refused" if isinstance(exc, smtplib.SMTPSenderRefused) else "message refused"
            raise self._refused(what, exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:  # greeting, EHLO, STARTTLS, AUTH: not about the message
            detail = f"mail server answered {_smtp_codes(exc.smtp_code, exc.smtp_error)} while {stage}"
            raise DeliveryFailed(detail, permanent=False, channel=self.channel) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryFailed(
                f"mail server does not support {stage}", permanent=False, channel=self.channel
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryFailed(
                f"mail server closed the connection while {stage}", permanent=False, channel=self.channel
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryFailed(
                f"TLS with the mail server failed while {stage}", permanent=False, channel=self.channel
            ) from exc
        except TimeoutError as exc:
            raise DeliveryFailed(f"mail server timed out while {stage}", permanent=False, channel=self.channel) from exc
        except OSError as exc:  # refused, unreachable, and smtplib's other errors
            raise DeliveryFailed(
                f"mail server unreachable while {stage} ({type(exc).__name__})", permanent=False, channel=self.channel
            ) from exc

    def _refused(self, what: str, code: int, reply: bytes | str) -> DeliveryFailed:
        permanent = 500 <= code < 600
        return DeliveryFailed(f"{what}: {_smtp_codes(code, reply)}", permanent=permanent, channel=self.channel)


class HttpSmsGateway:
    """SMS through an HTTP gateway: a signed JSON POST per message.

    The body is ``{"to", "text", "reference"}``; the headers
    ``X-Mediation-Timestamp`` (Unix seconds) and ``X-Mediation-Signature``
    (:func:`sign_webhook` with the shared key) let the gateway check that it
    comes from us, unchanged and recent. 2xx: accepted (the gateway's ``id``
    becomes the reference); 4xx: refused for good; 5xx, 3xx, timeouts and
    connection errors: temporary.
    """

    channel = "sms"
    TIMESTAMP_HEADER = "X-Mediation-Timestamp"
    SIGNATURE_HEADER = "X-Mediation-Signature"

    def __init__(
        self,
        url: str,
        key: bytes | str,
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``session``: one the caller owns and closes; None: a short-lived one per message."""
        self.url = url
        self._key = key.encode("utf-8") if isinstance(key, str) else key
        self.timeout = timeout
        self._session = session
        self._clock = clock

    def __repr__(self) -> str:
        parts = urlsplit(self.url)  # a gateway's URL may carry an account token in its path or query
        return f"HttpSmsGateway('{parts.scheme}://{parts.netloc}/…')"

    async def send(self, message: Message) -> Delivery:
        if message.channel != self.channel:
            raise ValueError(f"HttpSmsGateway sends SMS, not {message.channel!r}")
        if message.attachments:
            raise ValueError("An SMS cannot carry attachments")
        reference = _reference(message)
        payload = {"to": message.to, "text": message.text, "reference": reference}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            self.TIMESTAMP_HEADER: str(timestamp),
            self.SIGNATURE_HEADER: sign_webhook(self._key, timestamp, body),
        }
        try:
            if self._session is not None:
                status, answer = await self._post(self._session, body, headers)
            else:
                async with aiohttp.ClientSession() as session:
                    status, answer = await self._post(session, body, headers)
        except TimeoutError as exc:
            raise DeliveryFailed("SMS gateway timed out", permanent=False, channel=self.channel) from exc
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(
                f"SMS gateway unreachable ({type(exc).__name__})", permanent=False, channel=self.channel
            ) from exc
        if 200 <= status < 300:
            gateway_id = answer.get("id") if isinstance(answer, dict) else None
            if isinstance(gateway_id, str | int) and not isinstance(gateway_id, bool) and str(gateway_id):
                reference = str(gateway_id)
            logger.info("sms to %s accepted by the gateway (%s)", mask_address("sms", message.to), reference)
            return Delivery(self.channel, True, reference, f"accepted by the SMS gateway ({status})")
        permanent = 400 <= status < 500
        raise DeliveryFailed(f"SMS gateway answered {status}", permanent=permanent, channel=self.channel)

    async def _post(self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with session.post(self.url, data=body, headers=headers, timeout=timeout, allow_redirects=False) as resp:
            if not 200 <= resp.status < 300:
                return resp.status, None
            raw = await resp.read()
        try:
            answer: object = json.loads(raw) if raw else None
        except ValueError:  # a gateway may answer plain text: it accepted all the same
            answer = None
        return resp.status, answer


@dataclass(frozen=True)
class ChannelNotifier:
    """Sends each message through the adapter of its channel, or the fallback when there is none."""

    email: Notifier | None
    """E-mail (``SmtpNotifier``); None: e-mail goes to the fallback."""
    sms: Notifier | None
    """SMS (``HttpSmsGateway``); None: SMS goes to the fallback."""
    fallback: Notifier
    """Every channel without an adapter (``LogNotifier`` or ``ConsoleNotifier``)."""

    def adapter(self, channel: str) -> Notifier:
        """The notifier that carries ``channel``."""
        chosen = {"email": self.email, "sms": self.sms}.get(channel)
        return chosen if chosen is not None else self.fallback

    async def send(self, message: Message) -> Delivery:
        return await self.adapter(message.channel).send(message)


class NotifierSettings(Protocol):
    """What :func:`build_notifier` reads of the server's settings (``server.config.Settings`` has it)."""

    @property
    def notifier(self) -> str: ...
    @property
    def smtp_host(self) -> str: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_tls(self) -> str: ...
    @property
    def smtp_username(self) -> str: ...
    @property
    def smtp_password(self) -> str: ...
    @property
    def smtp_from(self) -> str: ...
    @property
    def smtp_timeout(self) -> float: ...
    @property
    def sms_gateway_url(self) -> str: ...
    @property
    def sms_gateway_key(self) -> str: ...


def build_notifier(settings: NotifierSettings) -> Notifier:
    """The notifier the settings describe: SMTP and the SMS gateway where configured, else the fallback."""
    fallback: Notifier = ConsoleNotifier() if settings.notifier == "console" else LogNotifier()
    email: Notifier | None = None
    if settings.smtp_host:
        email = SmtpNotifier(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            tls=cast(TlsMode, settings.smtp_tls),  # checked by load_settings, and again by SmtpNotifier
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )
    sms: Notifier | None = None
    if settings.sms_gateway_url:
        sms = HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_key)
    logger.info(
        "notifier: email %s, sms %s, otherwise %s",
        email or "not configured",
        sms or "not configured",
        type(fallback).__name__,
    )
    return ChannelNotifier(email, sms, fallback)
