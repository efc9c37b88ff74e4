"""The webhooks' HTTP client: one signed POST per attempt, and how a URL may be logged.

Requests: ``Content-Type: application/json``, :data:`EVENT_HEADER` (the event id),
:data:`TIMESTAMP_HEADER` (Unix seconds) and :data:`SIGNATURE_HEADER`
(:func:`server.notify.sign_webhook` over the timestamp and the body; a receiver checks it with
:func:`server.notify.check_webhook_signature`). Redirects are not followed. Logs name the event id
and a masked host (:func:`masked_host`), never a body or a whole URL (it may carry a token).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp

from server.notify import sign_webhook

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Mediation-Event"
"""The event id (a receiver deduplicates by it)."""
TIMESTAMP_HEADER = "X-Mediation-Timestamp"
"""When the request was signed, in Unix seconds."""
SIGNATURE_HEADER = "X-Mediation-Signature"
"""The HMAC of the timestamp and the body."""


def masked_host(url: str) -> str:
    """A URL as it may be logged: scheme and a masked host, ``https://h***.example.org/…``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    labels = host.split(".")
    if host.replace(".", "").isdigit() and len(labels) == 4:
        host = ".".join(labels[:2] + ["*", "*"])
    elif len(labels) > 2:
        host = labels[0][:1] + "***." + ".".join(labels[-2:])
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class WebhookClient:
    """Signs and POSTs webhook bodies over one HTTP session (opened by :meth:`open`)."""

    def __init__(self, secret: bytes, timeout: float) -> None:
        """``secret``: the key that signs requests; ``timeout``: seconds per request."""
        self._secret = secret
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` was called (and :meth:`close` not since)."""
        return self._session is not None

    def open(self) -> None:
        """Open the HTTP session (inside the running event loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, event_id: int, body: bytes, timestamp: int) -> int | None:
        """POST ``body`` signed at ``timestamp``: the receiver's status, or None for a timeout or a
        connection error."""
        if self._session is None:
            raise RuntimeError("WebhookClient.open() was not called")
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: str(event_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(self._secret, timestamp, body),
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                return resp.status
        except TimeoutError:
            logger.info("webhooks: event %s to %s timed out", event_id, masked_host(url))
        except aiohttp.ClientError as exc:
            logger.info("webhooks: event %s to %s: %s", event_id, masked_host(url), type(exc).__name__)
        return None
