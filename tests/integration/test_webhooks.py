"""Webhooks over real HTTP: the real server, a loopback receiver that checks every signature, both databases.

The outbox is written in the transaction of each state change; the dispatcher
POSTs it signed, retries with back-off, keeps each case's events in order, and
two nodes sharing one PostgreSQL database deliver each event once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from server.app import build_app, utc_now
from server.cases.endpoints import SERVICE
from server.config import Settings, load_settings
from server.errors import ConfigError
from server.notify import check_webhook_signature
from server.outbound.webhook_client import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, masked_host
from server.outbound.webhook_store import endpoint_key
from server.outbound.webhooks import WEBHOOKS, WebhookDispatcher
from server.store import schema as t
from tests.builders import APPLICANT, RESPONDENT, case_with_parties
from tests.channels import HookReceiver, HookRequest, hook_receiver
from tests.conftest import Api, Clock


@pytest.fixture
def db_url(fresh_db_url: str) -> str:
    """A database of this test's own: a URL added here receives the whole outbox, whatever ran before."""
    return fresh_db_url


SECRET = b"webhook-secret-for-the-tests-0123456789"


def receiver(**kw: Any) -> contextlib.AbstractAsyncContextManager[HookReceiver]:
    """A loopback webhook receiver that checks our signature (:class:`tests.channels.HookReceiver`)."""
    return hook_receiver(SECRET, **kw)


@contextlib.asynccontextmanager
async def node(
    db_url: str, data: Path, http: aiohttp.ClientSession, urls: Sequence[str], **tuning: Any
) -> AsyncIterator[Api]:
    """The real application with webhooks to ``urls``; ``tuning``: a dispatcher with these retry settings."""
    settings = Settings(
        data_dir=data,
        database_url=db_url,
        secret_key="k" * 48,
        public_url="https://mediation.test",
        auto_migrate=False,
        transcript_engine="off",
        webhook_urls=",".join(urls),
        webhook_secret=SECRET.decode(),
        webhook_timeout=5.0,
    )
    app = build_app(settings)
    repo = app[SERVICE].repo
    assert isinstance(app[WEBHOOKS], WebhookDispatcher)
    if tuning:
        app[WEBHOOKS] = WebhookDispatcher(repo.engine, list(urls), SECRET, utc_now, 5.0, **tuning)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Api(str(server.make_url("")).rstrip("/"), http, Clock(datetime.now(UTC)), settings, repo, app)
    finally:
        await server.close()


async def state_changes(api: Api, token: str, case_id: str) -> list[dict[str, Any]]:
    status, trail, _ = await api.call("GET", f"/api/v1/cases/{case_id}/audit", token)
    assert status == 200 and trail["verification"]["ok"]
    return [e for e in trail["entries"] if e["action"] == "case.state_changed"]


async def deliveries(api: Api, event_ids: Sequence[int], urls: Sequence[str] = ()) -> list[Any]:
    """The delivery rows of these events (to these URLs; all URLs when none are given)."""
    d = t.webhook_deliveries
    query = select(d).where(d.c.event_id.in_(list(event_ids))).order_by(d.c.event_id, d.c.endpoint)
    if urls:
        query = query.where(d.c.endpoint.in_([endpoint_key(u) for u in urls]))
    async with api.repo.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def settled(
    api: Api, event_ids: Sequence[int], url: str, done: Callable[[list[Any]], bool] = lambda rows: True
) -> list[Any]:
    """The rows of these events to ``url`` once ``done`` holds (the dispatcher records an outcome
    just after the receiver answered)."""
    async with asyncio.timeout(10):
        while not done(rows := await deliveries(api, event_ids, [url])):
            await asyncio.sleep(0.02)
    return rows


async def drive(api: Api, med: str, cid: str, *, nodes: Sequence[Api] = ()) -> None:
    """Six state changes over HTTP (alternating between ``nodes`` when given)."""
    pick = list(nodes) or [api]
    starts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    status, body, _ = await pick[0].call("POST", f"/api/v1/cases/{cid}/sessions", med, {"starts_at": starts})
    assert status == 201, body
    sid = body["session_id"]
    for i, (path, payload) in enumerate(
        (
            (f"sessions/{sid}/start", None),
            (f"sessions/{sid}/end", None),
            ("sessions", {"starts_at": starts}),
        ),
        start=1,
    ):
        status, body, _ = await pick[i % len(pick)].call("POST", f"/api/v1/cases/{cid}/{path}", med, payload)
        assert status in (200, 201), body
    second = body["session_id"]
    status, body, _ = await pick[4 % len(pick)].call("POST", f"/api/v1/cases/{cid}/sessions/{second}/cancel", med)
    assert status == 200 and body["state"] == "between_sessions", body
    status, body, _ = await pick[5 % len(pick)].call(
        "POST", f"/api/v1/cases/{cid}/refer-to-litigation", med, {"reason": "无法达成一致"}
    )
    assert status == 200 and body["state"] == "mediation_failed", body


@pytest.mark.asyncio
async def test_every_state_change_is_delivered_once_in_order_and_signed(db_url: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http, receiver() as rec, node(db_url, tmp_path, http, [rec.url]) as api:
        c = await case_with_parties(api)
        cid, med = c["case_id"], c["mediator"]
        await drive(api, med, cid)
        changes = await state_changes(api, med, cid)
        assert [(e["details"]["old"], e["details"]["new"]) for e in changes] == [
            ("filed", "session_scheduled"),
            ("session_scheduled", "in_session"),
            ("in_session", "between_sessions"),
            ("between_sessions", "session_scheduled"),
            ("session_scheduled", "between_sessions"),
            ("between_sessions", "mediation_failed"),
        ]
        await rec.wait_for(lambda: len(rec.accepted(cid)) >= len(changes))
        got = rec.accepted(cid)
        _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
        assert [r.event for r in got] == [
            {
                "event_id": r.event["event_id"],
                "type": "case.state_changed",
                "case_id": cid,
                "case_number": view["number"],
                "old": e["details"]["old"],
                "new": e["details"]["new"],
                "at": e["at"],
                "audit_seq": e["seq"],
                "audit_hash": e["hash"],
            }
            for r, e in zip(got, changes, strict=True)
        ]
        assert all(r.signature_ok for r in rec.requests)
        ids = [r.event["event_id"] for r in got]
        assert ids == sorted(set(ids)), "one request per event, in the order of the trail"
        for r in got:
            assert r.headers[EVENT_HEADER] == str(r.event["event_id"])
            assert r.headers["Content-Type"] == "application/json"
        # nothing personal travels: no names, phone numbers, ID numbers or e-mail addresses
        everything = b"".join(r.body for r in rec.requests).decode()
        for person in (APPLICANT, RESPONDENT):
            for key in ("display_name", "phone", "email", "id_number"):
                if key in person:
                    assert person[key] not in everything
        # all delivered, each once: nothing is left to send
        rows = await settled(api, ids, rec.url, lambda rows: all(r.status != "pending" for r in rows))
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("delivered", 1, 204)] * len(ids)
        assert len(rec.accepted(cid)) == len(changes)
        # a body changed on the way no longer matches its signature
        first = got[0]
        tampered = first.body.replace(b'"mediation_failed"', b'"confirmed"').replace(b'"filed"', b'"closed"')
        assert tampered != first.body
        ts, sig = first.headers[TIMESTAMP_HEADER], first.headers[SIGNATURE_HEADER]
        assert check_webhook_signature(SECRET, ts, first.body, sig, now=time.time())
        assert not check_webhook_signature(SECRET, ts, tampered, sig, now=time.time())
        assert not check_webhook_signature(
            b"another secret, 32 bytes or more....", ts, first.body, sig, now=time.time()
        )


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"http://127.0.0.1:{port}/gone"


@pytest.mark.asyncio
async def test_failed_attempts_are_retried_with_back_off(db_url: str, tmp_path: Path) -> None:
    dead = closed_port_url()
    async with (
        aiohttp.ClientSession() as http,
        receiver(fail_first=3) as rec,
        node(db_url, tmp_path, http, [rec.url, dead], base_delay=0.1, max_delay=0.3, poll_interval=0.05) as api,
    ):
        c = await case_with_parties(api)
        cid, med = c["case_id"], c["mediator"]
        starts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, {"starts_at": starts})
        assert status == 201
        [change] = await state_changes(api, med, cid)
        await rec.wait_for(lambda: len(rec.accepted(cid)) == 1)
        [accepted] = rec.accepted(cid)
        event_id = accepted.event["event_id"]
        assert accepted.event["audit_seq"] == change["seq"]
        tries = rec.attempts(event_id)
        assert [r.answered for r in tries] == [500, 500, 500, 204]
        assert all(r.signature_ok for r in tries)
        gaps = [b.at - a.at for a, b in zip(tries, tries[1:], strict=False)]
        for gap, wait in zip(gaps, (0.1, 0.2, 0.3), strict=True):  # 0.1 s, doubled, capped at 0.3 s
            assert gap >= wait * 0.9, gaps
        [ok] = await settled(api, [event_id], rec.url, lambda rows: bool(rows) and rows[0].status == "delivered")
        assert (ok.status, ok.attempts, ok.last_status) == ("delivered", 4, 204) and ok.delivered_at is not None
        # the unreachable URL is tried on its own schedule and holds nothing else up
        [gone] = await settled(api, [event_id], dead, lambda rows: bool(rows) and rows[0].attempts >= 1)
        assert gone.status == "pending" and gone.attempts >= 1 and gone.last_status is None
        assert gone.delivered_at is None
    assert masked_host("https://hooks.court.example.org/x?token=secret") == "https://h***.example.org/…"


@pytest.mark.asyncio
async def test_a_delivery_given_up_no_longer_holds_back_the_next(db_url: str, tmp_path: Path) -> None:
    async with (
        aiohttp.ClientSession() as http,
        receiver(fail_always=True) as rec,
        node(db_url, tmp_path, http, [rec.url], base_delay=0.05, max_attempts=3, poll_interval=0.05) as api,
    ):
        c = await case_with_parties(api)
        cid, med = c["case_id"], c["mediator"]
        starts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, {"starts_at": starts})
        assert status == 201
        sid = body["session_id"]

        def tried(case_id: str) -> list[HookRequest]:
            return [r for r in rec.requests if r.event["case_id"] == case_id]

        # the second event waits while the first is being retried
        status, _, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/start", med)
        assert status == 200
        await rec.wait_for(lambda: len(tried(cid)) >= 3)
        first, second = (e["seq"] for e in await state_changes(api, med, cid))
        seqs = [r.event["audit_seq"] for r in tried(cid)]
        assert seqs[:3] == [first] * 3
        # after the third failure the first is given up and the second goes out (and fails in turn)
        await rec.wait_for(lambda: len(tried(cid)) >= 6)
        assert [r.event["audit_seq"] for r in tried(cid)] == [first] * 3 + [second] * 3
        ids = sorted({r.event["event_id"] for r in tried(cid)})
        rows = await settled(api, ids, rec.url, lambda rows: all(r.status == "failed" for r in rows))
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("failed", 3, 500)] * 2


@pytest.mark.asyncio
@pytest.mark.postgres
async def test_two_nodes_on_one_database_deliver_each_event_once(pg_url: str, tmp_path: Path) -> None:
    async with (
        aiohttp.ClientSession() as http,
        receiver(delay=0.02) as rec,
        node(pg_url, tmp_path / "a", http, [rec.url]) as a,
        node(pg_url, tmp_path / "b", http, [rec.url]) as b,
    ):
        cases = [await case_with_parties(a) for _ in range(3)]
        await asyncio.gather(*(drive(a, c["mediator"], c["case_id"], nodes=[a, b]) for c in cases))
        for c in cases:
            changes = await state_changes(a, c["mediator"], c["case_id"])
            await rec.wait_for(lambda c=c, changes=changes: len(rec.accepted(c["case_id"])) >= len(changes))
            got = rec.accepted(c["case_id"])
            assert [r.event["audit_seq"] for r in got] == [e["seq"] for e in changes]
        # each event exactly once, whichever node sent it (the receiver also saw the older backlog)
        ids = [r.event["event_id"] for r in rec.requests]
        assert len(ids) == len(set(ids))
        assert all(r.signature_ok and r.answered == 204 for r in rec.requests)
        rows = await settled(a, ids, rec.url, lambda rows: all(r.status != "pending" for r in rows))
        assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}


def test_settings_need_http_urls_and_a_long_secret() -> None:
    good = {
        "MEDIATION_WEBHOOK_URLS": "https://a.example.org/hook, http://10.0.0.2:8080/h",
        "MEDIATION_WEBHOOK_SECRET": "s" * 32,
    }
    settings = load_settings(environ=good)
    assert settings.webhook_urls.startswith("https://a.example.org/hook") and "s" * 32 not in repr(settings)
    for bad in (
        {**good, "MEDIATION_WEBHOOK_SECRET": "s" * 31},
        {"MEDIATION_WEBHOOK_URLS": good["MEDIATION_WEBHOOK_URLS"]},
        {**good, "MEDIATION_WEBHOOK_URLS": "ftp://a.example.org/hook"},
        {**good, "MEDIATION_WEBHOOK_TIMEOUT": "0"},
    ):
        with pytest.raises(ConfigError):
            load_settings(environ=bad)
