"""A client for police agencies' systems (and the tests): sign an intake request, or send one.

    from server.intake.client import IntakeClient
    client = IntakeClient("https://mediation.example.cn", key_id, bytes.fromhex(secret_hex))
    status, answer = await client.file(document)   # 201 the first time, 200 when sent again

Only the standard library and aiohttp; :func:`signed_headers` alone needs nothing but the standard library.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import aiohttp

from server.intake.keys import KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

PATH = "/api/v1/intake/cases"
"""Where intake documents are sent."""


def signed_headers(
    key_id: str,
    secret: bytes,
    body: bytes,
    *,
    method: str = "POST",
    path: str = PATH,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one request (a fresh nonce and the current time unless given)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(24)
    return {
        "Content-Type": "application/json",
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, method, path, ts, nonce, body),
    }


def encode(document: dict[str, Any]) -> bytes:
    """The document as the body to send (UTF-8 JSON)."""
    return json.dumps(document, ensure_ascii=False).encode()


class IntakeClient:
    """Sends intake documents to the platform, each request signed with a fresh nonce."""

    def __init__(self, base_url: str, key_id: str, secret: bytes, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = secret
        self.session = session

    async def file(self, document: dict[str, Any], *, timestamp: int | None = None) -> tuple[int, Any]:
        """Send one document; the status and the answer (the case, or a problem)."""
        body = encode(document)
        headers = signed_headers(self.key_id, self.secret, body, timestamp=timestamp)
        own = self.session is None
        session = self.session or aiohttp.ClientSession()
        try:
            async with session.post(self.base_url + PATH, data=body, headers=headers) as resp:
                return resp.status, await resp.json(content_type=None)
        finally:
            if own:
                await session.close()
