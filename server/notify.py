"""The notifier port: how the platform reaches a person (one-time codes now; service later).

Adapters: :class:`LogNotifier` (the default: records that a message went out,
to a masked address, never its text: codes are credentials and messages
carry personal data), :class:`ConsoleNotifier` (development only: prints the
whole message to standard output so that a developer can read a code) and
:class:`OutboxNotifier` (keeps messages in memory for tests and tools). SMTP
e-mail and an SMS gateway adapter come with electronic service.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.domain.participants import mask_phone

logger = logging.getLogger(__name__)


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


def mask_address(channel: str, to: str) -> str:
    """A destination as it may be shown or logged: ``138****5678``, ``z***@example.org``."""
    if channel == "sms":
        return mask_phone(to) or "***"
    name, _, domain = to.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


class Notifier(Protocol):
    """Sends a message; raises on a channel failure."""

    async def send(self, message: Message) -> None:
        """Deliver ``message`` (or hand it to the channel)."""
        ...


class LogNotifier:
    """Logs that a message went out (masked address, no text). Production needs a real channel."""

    async def send(self, message: Message) -> None:
        logger.info("%s to %s: %s", message.channel, mask_address(message.channel, message.to), message.subject)


class ConsoleNotifier:
    """Development only: prints every message in full (one-time codes included) to standard output."""

    async def send(self, message: Message) -> None:
        print(f"[{message.channel} to {message.to}] {message.subject}: {message.text}", file=sys.stdout, flush=True)


@dataclass
class OutboxNotifier:
    """Keeps messages in memory (tests, and tools that hand them on)."""

    sent: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        self.sent.append(message)
