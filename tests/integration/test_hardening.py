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
from tests.builders import CLAIM, PASSWORD, TERMS, account, between_sessions, case_with_parties
from tests.conftest import Api

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
    from server.http import kit

    monkeypatch.setattr(kit, "BODY_IDLE_TIMEOUT", 0.5)
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


# ---------------------------------------------------------------- item 2: uploads cannot pose as the platform's


@pytest.mark.parametrize(
    "kind",
    ["agreement_terms", "agreement_draft", "agreement_signing", "signing_certificate", "ruling", "mediation_record"],
)
async def test_an_upload_cannot_take_a_kind_the_platform_makes(api: Api, kind: str) -> None:
    c = await case_with_parties(api)
    status, problem, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind={kind}&title=t&visibility=parties",
        c["mediator"],
        data=b"%PDF-1.7\n%%EOF\n",
        headers={"Content-Type": "application/pdf"},
    )
    # before the fix: 201, and later stages trusted the kind (terms to sign, certificate, ruling)
    assert status == 422, problem
    _, view, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}", c["mediator"])
    assert view["documents"] == []


async def test_a_forged_terms_upload_cannot_open_signing_without_the_parties(api: Api) -> None:
    c = await between_sessions(api)
    forged = json.dumps({"version": 1, "signers": [], "pdf_document_id": "x"}).encode()
    status, _, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind=agreement_terms&title=t&visibility=parties",
        c["mediator"],
        data=forged,
        headers={"Content-Type": "text/plain"},
    )
    assert status == 422
    status, problem, _ = await api.call("POST", f"/api/v1/cases/{c['case_id']}/signing", c["mediator"], json={})
    assert status == 404 and problem["code"] == "not_found"  # no draft of the agreement


@pytest.mark.parametrize(
    ("claimed", "data"),
    [
        ("application/pdf", b"<html><script>alert(1)</script></html>"),
        ("image/png", b"\xff\xd8\xff\xe0 a jpeg"),
        ("image/jpeg", b"%PDF-1.7\n"),
        ("text/plain", b"MZ\x90\x00\x03 an executable"),
    ],
)
async def test_an_upload_must_be_what_its_bytes_show(api: Api, claimed: str, data: bytes) -> None:
    c = await case_with_parties(api)
    status, problem, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind=evidence&title=t",
        c["mediator"],
        data=data,
        headers={"Content-Type": claimed},
    )
    assert status == 422 and problem["code"] == "invalid_command", problem


# ---------------------------------------------------------------- item 3: numbers that cost seconds


@pytest.mark.parametrize("share", ["1e-300000", "1E+999999999", "0." + "0" * 5000 + "1", "-5", "nan", "Infinity"])
async def test_a_costly_or_odd_percentage_is_refused_at_once(api: Api, share: str) -> None:
    c = await case_with_parties(api)
    status, problem, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/agreement/calculate",
        c["mediator"],
        json={**CLAIM, "victim_share": share},
    )
    assert status == 422 and problem["code"] == "invalid_command", problem


@pytest.mark.parametrize("amount", ["1e5", "1" * 40, "1." + "0" * 40, "12,345,678,901,234,567,890.00"])
async def test_a_costly_amount_is_refused(api: Api, amount: str) -> None:
    c = await case_with_parties(api)
    claim = {**CLAIM, "items": [{"kind": "医疗费", "amount": amount}]}
    status, problem, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/agreement/calculate", c["mediator"], json=claim
    )
    assert status == 422, problem


# ---------------------------------------------------------------- item 6: concurrent drafts


async def test_concurrent_drafts_get_distinct_versions(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}/agreement/drafts"
    results = await asyncio.gather(
        *(api.call("POST", base, c["mediator"], json={**TERMS, "other_terms": [f"第{i}条。"]}) for i in range(3))
    )
    assert [status for status, _, _ in results] == [201, 201, 201], [body for _, body, _ in results]
    versions = sorted(body["version"] for _, body, _ in results)
    # before the fix: two drafts were stored as version 2 while the case said version 3
    assert versions == [1, 2, 3]
    _, drafts, _ = await api.call("GET", base, c["mediator"])
    listed = [d["version"] for d in drafts["drafts"]]
    assert listed == [1, 2, 3]
    _, view, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}", c["mediator"])
    assert view["agreement"]["version"] == 3
    by_version = {d["version"]: d["terms"]["other_terms"] for d in drafts["drafts"]}
    assert sorted(t[0] for t in by_version.values()) == ["第0条。", "第1条。", "第2条。"]


# ---------------------------------------------------------------- item 8: control characters


@pytest.mark.parametrize("name", ["张\u0000三", "a\u001bb", "x\u0085y"])
async def test_control_characters_are_refused_before_the_store(api: Api, name: str) -> None:
    status, problem, _ = await api.call("POST", "/api/v1/auth/login", json={"username": name, "password": "p"})
    assert status == 422 and problem["code"] == "validation_failed"
    c = await case_with_parties(api)
    status, problem, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/participants",
        c["mediator"],
        json={"role": "agent", "display_name": name, "represents": c["applicant_id"]},
    )
    assert status == 422 and problem["code"] == "validation_failed"


# ---------------------------------------------------------------- item 4: throttling concurrent guesses


async def test_concurrent_wrong_passwords_are_throttled(api: Api) -> None:
    username, _ = await account(api, AccountKind.MEDIATOR)
    results = await asyncio.gather(
        *(
            api.call("POST", "/api/v1/auth/login", json={"username": username, "password": f"wrong {i}"})
            for i in range(40)
        )
    )
    statuses = sorted(status for status, _, _ in results)
    # before the fix: 40 × 401 (every attempt passed the check before the first failure was counted)
    assert statuses.count(401) == 5 and statuses.count(429) == 35, statuses
    status, problem, resp = await api.call(
        "POST", "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert status == 429  # locked for the window, even with the right password
    assert 800 <= int(resp.headers["Retry-After"]) <= 900 and "15 minutes" in problem["detail"]


# ---------------------------------------------------------------- item 9: unhandled errors


async def test_a_non_ascii_bearer_token_is_a_401_not_a_500(api: Api) -> None:
    for token in ("m1.тест.签名", "m1.a.b\u00e9", "\u00ff" * 10):
        head = f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
        status, problem = await _raw_request(api, head.encode(), [], 0)
        assert status == 401 and problem["code"] == "unauthenticated", (status, problem)


async def test_a_non_ascii_token_on_a_socket_is_refused_with_a_code(api: Api) -> None:
    import socketio  # type: ignore[import-untyped]

    refused: list[Any] = []
    client = socketio.AsyncClient(reconnection=False)
    client.on("connect_error", lambda data: refused.append(data))
    started = asyncio.get_running_loop().time()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(api.base, auth={"token": "m1.тест.签名"}, transports=["websocket"], wait_timeout=10)
    # before the fix: a traceback on the server and a 10 s wait for the client
    assert asyncio.get_running_loop().time() - started < 5
    assert refused and refused[0]["data"]["code"] == "unauthenticated"
    await client.disconnect()
