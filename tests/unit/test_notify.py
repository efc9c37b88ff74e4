"""The notifier's pure parts: webhook signatures, Message-IDs, addresses masked, settings to adapters."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.config import Settings, load_settings
from server.errors import ConfigError, DeliveryFailed, MediationError, ServiceUnavailable
from server.notify import (
    ChannelNotifier,
    ConsoleNotifier,
    HttpSmsGateway,
    LogNotifier,
    Message,
    SmtpNotifier,
    build_notifier,
    check_webhook_signature,
    mask_address,
    sign_webhook,
)

KEY = b"gateway-key-0123456789abcdef0123"
BODY = '{"to": "13912345678", "text": "验证码 123456", "reference": "r-1"}'.encode()
T = 1_795_000_000


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(KEY, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(KEY, T, BODY) == "sha256=" + expected


def test_a_fresh_signature_checks() -> None:
    header = sign_webhook(KEY, T, BODY)
    assert check_webhook_signature(KEY, T, BODY, header, now=T)
    assert check_webhook_signature(KEY, str(T), BODY, header, now=T + 10)  # as read from a header


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (86_400, False)])
def test_tolerance_either_side(skew: int, ok: bool) -> None:
    header = sign_webhook(KEY, T, BODY)
    assert check_webhook_signature(KEY, T, BODY, header, now=T + skew) is ok
    assert check_webhook_signature(KEY, T, BODY, header, now=T + skew, tolerance=86_400)


def test_tampering_is_refused() -> None:
    header = sign_webhook(KEY, T, BODY)
    assert not check_webhook_signature(KEY, T, BODY.replace(b"123456", b"654321"), header, now=T)
    assert not check_webhook_signature(KEY, T + 1, BODY, header, now=T)  # a replay with a newer timestamp
    assert not check_webhook_signature(b"another key", T, BODY, header, now=T)
    flipped = header[:-1] + ("1" if header.endswith("0") else "0")
    assert not check_webhook_signature(KEY, T, BODY, flipped, now=T)


@pytest.mark.parametrize(
    ("timestamp", "header"),
    [(None, "sha256=00"), (T, None), ("yesterday", "sha256=00"), (T, ""), (T, "sha256=不是签名"), (T, "md5=00")],
)
def test_missing_or_malformed_values_are_false(timestamp: int | str | None, header: str | None) -> None:
    assert not check_webhook_signature(KEY, timestamp, BODY, header, now=T)


def test_message_keeps_its_positional_fields() -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    m = Message("sms", "13912345678", "标题", "正文", at)
    assert (m.channel, m.to, m.subject, m.text, m.at, m.attachments, m.reference) == (
        "sms",
        "13912345678",
        "标题",
        "正文",
        at,
        (),
        "",
    )


def test_message_id_is_the_reference_at_the_senders_host() -> None:
    smtp = SmtpNotifier("mail.example.org", 25, "court@mediation.example.org")
    assert smtp.message_id("service-42.1") == "<service-42.1@mediation.example.org>"
    with pytest.raises(ValueError, match="tls"):
        SmtpNotifier("mail.example.org", 25, "a@b", tls="ssl")  # type: ignore[arg-type]


def test_masked_addresses() -> None:
    assert mask_address("sms", "13912345678") == "139****5678"
    assert mask_address("email", "zhang.san@example.org") == "z***@example.org"
    assert mask_address("email", "nonsense") == "***"


def test_errors() -> None:
    permanent = DeliveryFailed("recipient refused: 550 5.1.1", permanent=True, channel="email")
    assert isinstance(permanent, MediationError) and permanent.code == "delivery_failed" and permanent.permanent
    assert not DeliveryFailed("timed out", permanent=False).permanent
    assert ServiceUnavailable.code == "service_unavailable" and ServiceUnavailable.status == 503


def test_settings_build_the_channels(tmp_path: Path) -> None:
    plain = build_notifier(Settings(data_dir=tmp_path))
    assert isinstance(plain, ChannelNotifier)
    assert plain.email is None and plain.sms is None and isinstance(plain.fallback, LogNotifier)
    assert isinstance(plain.adapter("email"), LogNotifier) and isinstance(plain.adapter("fax"), LogNotifier)

    settings = load_settings(
        environ={
            "MEDIATION_DATA_DIR": str(tmp_path),
            "MEDIATION_NOTIFIER": "console",
            "MEDIATION_SMTP_HOST": "mail.example.org",
            "MEDIATION_SMTP_PORT": "587",
            "MEDIATION_SMTP_TLS": "starttls",
            "MEDIATION_SMTP_USERNAME": "court",
            "MEDIATION_SMTP_PASSWORD": "mail-secret",
            "MEDIATION_SMTP_FROM": "court@mediation.example.org",
            "MEDIATION_SMTP_TIMEOUT": "3.5",
            "MEDIATION_SMS_GATEWAY_URL": "https://sms.example.org/send",
            "MEDIATION_SMS_GATEWAY_KEY": "sms-secret",
        }
    )
    assert "mail-secret" not in repr(settings) and "sms-secret" not in repr(settings)
    built = build_notifier(settings)
    assert isinstance(built, ChannelNotifier) and isinstance(built.fallback, ConsoleNotifier)
    assert isinstance(built.email, SmtpNotifier) and isinstance(built.sms, HttpSmsGateway)
    assert (built.email.host, built.email.port, built.email.tls, built.email.timeout) == (
        "mail.example.org",
        587,
        "starttls",
        3.5,
    )
    assert built.email.username == "court" and built.email.domain == "mediation.example.org"
    assert built.sms.url == "https://sms.example.org/send"
    assert "secret" not in repr(built.email) + repr(built.sms)


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"MEDIATION_SMTP_TLS": "ssl"}, "smtp_tls"),
        ({"MEDIATION_SMTP_TIMEOUT": "0"}, "smtp_timeout"),
        ({"MEDIATION_SMTP_PORT": "twenty-five"}, "smtp_port"),
        ({"MEDIATION_SMS_GATEWAY_URL": "https://sms.example.org"}, "sms_gateway_key"),
        ({"MEDIATION_SMS_GATEWAY_URL": "sms.example.org", "MEDIATION_SMS_GATEWAY_KEY": "k"}, "sms_gateway_url"),
    ],
)
def test_bad_channel_settings_are_refused(environ: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(environ=environ)
