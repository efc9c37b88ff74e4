"""Issue 12, tried as an attacker and a slow phone would: bodies, forged kinds, costly numbers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from server.domain.roles import AccountKind
from tests.conftest import Api
from tests.integration.test_api import PASSWORD, account, case_with_parties

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


async def _raw_request(api: Api, head: bytes, pieces: list[bytes], pause: float) -> tuple[int, dict[str, Any]]:
    """Send a request over a plain socket, its body in ``pieces`` with ``pause`` seconds between them."""
    url = urlsplit(api.base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head)
        await writer.drain()
        for piece in pieces:
            await asyncio.sleep(pause)
            writer.write(piece)
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


async def test_a_json_body_sent_in_slow_pieces_is_read_whole(api: Api) -> None:
    username, _ = await account(api, AccountKind.MEDIATOR)
    data = json.dumps({"username": username, "password": PASSWORD}).encode()
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n"
    )
    # before the fix: 400 malformed_json (only the first piece was read)
    status, answer = await _raw_request(api, head, [data[:20], data[20:40], data[40:]], 0.3)
    assert status == 200, answer
    assert answer["token"].startswith("m1.")


async def test_an_upload_sent_in_slow_pieces_is_stored_whole(api: Api) -> None:
    c = await case_with_parties(api)
    payload = b"%PDF-1.4\n" + bytes(range(256)) * 7800 + b"\n%%EOF\n"  # about 2 MB

    async def slowly() -> AsyncIterator[bytes]:
        for at in range(0, len(payload), 256 * 1024):
            await asyncio.sleep(0.05)
            yield payload[at : at + 256 * 1024]

    status, doc, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind=evidence&title=%E8%AF%81%E6%8D%AE",
        c["mediator"],
        data=slowly(),
        headers={"Content-Type": "application/pdf", "Content-Length": str(len(payload))},
    )
    # before the fix: 201 with a stored size of the first buffered part and another digest
    assert status == 201, doc
    assert doc["size"] == len(payload)
    assert doc["sha256"] == hashlib.sha256(payload).hexdigest()


async def test_a_body_over_the_limit_is_refused_even_without_content_length(api: Api) -> None:
    _, token = await account(api, AccountKind.MEDIATOR)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"kind": "traffic_accident", "title": "'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"}'

    status, problem, _ = await api.call(
        "POST", "/api/v1/cases", token, data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert status == 413 and problem["code"] == "payload_too_large"


async def test_a_body_that_stalls_is_refused_with_408(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.api import routes

    monkeypatch.setattr(routes, "BODY_IDLE_TIMEOUT", 0.5)
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: 60\r\n\r\n"
    )
    status, problem = await _raw_request(api, head, [b'{"username": "'], 0)
    assert status == 408 and problem["code"] == "request_timeout"


async def test_the_largest_documented_mark_fits_the_signing_body(api: Api) -> None:
    # the mark may be 360,000 characters; the 64 KiB body cap used to refuse anything over ~48 KB
    c = await case_with_parties(api)
    mark = "A" * 360_000
    status, problem, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/signing/sign", c["applicant"], json={"code": "123456", "mark_png": mark}
    )
    assert status != 413, problem
    assert status in (403, 409), problem  # no signing open: refused by the case, not by the body cap
