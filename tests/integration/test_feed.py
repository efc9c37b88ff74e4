"""The aggregation feed over real HTTP: the real server, a loopback receiver, both databases.

Every feed event of a case reaches the receiver in the order of the audit trail, signed, in the
documented format (checked against docs/feed.schema.json), with nothing personal in it; a receiver
that fails for longer than a webhook's 15 attempts still gets every event; a repeated request is
recognised by its event id; the ordinary webhooks keep their body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from server.app import build_app, utc_now
from server.cases.endpoints import SERVICE
from server.config import Settings, load_settings
from server.errors import ConfigError
from server.notify import check_webhook_signature
from server.outbound.feed import DATA_FIELDS, FEED_SENDER, FORMAT, FeedDispatcher
from server.outbound.webhook_client import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from server.outbound.webhook_store import endpoint_key
from server.store import db
from server.store import schema as t
from tests.builders import COURT, SERVICE_APPLICANT, SERVICE_RESPONDENT, TERMS, case_with_parties, signed_case
from tests.channels import HookReceiver, HookRequest, case_of, hook_receiver
from tests.conftest import Api, Clock


@pytest.fixture
def db_url(fresh_db_url: str) -> str:
    """A database of this test's own: a URL added here receives the whole outbox, whatever ran before."""
    return fresh_db_url


FEED_SECRET = b"feed-secret-for-the-tests-0123456789abcdef"
WEBHOOK_SECRET = b"webhook-secret-for-the-tests-0123456789"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "feed.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def receiver(secret: bytes, **kw: Any) -> contextlib.AbstractAsyncContextManager[HookReceiver]:
    """A loopback receiver of the feed (or of webhooks) that checks ``secret`` (:class:`tests.channels.HookReceiver`)."""
    return hook_receiver(secret, "/feed/local-platform", **kw)


@contextlib.asynccontextmanager
async def node(
    db_url: str,
    data: Path,
    http: aiohttp.ClientSession,
    feeds: Sequence[str] = (),
    webhooks: Sequence[str] = (),
    timeout: float = 5.0,
    **tuning: Any,
) -> AsyncIterator[Api]:
    """The real application with a feed to ``feeds`` and webhooks to ``webhooks``; ``tuning``: the feed
    sender's retry settings."""
    settings = Settings(
        data_dir=data,
        database_url=db_url,
        secret_key="k" * 48,
        public_url="https://mediation.test",
        auto_migrate=False,
        transcript_engine="off",
        feed_urls=",".join(feeds),
        feed_secret=FEED_SECRET.decode() if feeds else "",
        webhook_urls=",".join(webhooks),
        webhook_secret=WEBHOOK_SECRET.decode() if webhooks else "",
        webhook_timeout=timeout,
    )
    app = build_app(settings)
    repo = app[SERVICE].repo
    if feeds:
        assert isinstance(app[FEED_SENDER], FeedDispatcher)
        if tuning:
            app[FEED_SENDER] = FeedDispatcher(repo.engine, list(feeds), FEED_SECRET, utc_now, timeout, **tuning)
    else:
        assert FEED_SENDER not in app
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Api(str(server.make_url("")).rstrip("/"), http, Clock(datetime.now(UTC)), settings, repo, app)
    finally:
        await server.close()


async def trail(api: Api, token: str, case_id: str) -> list[dict[str, Any]]:
    """The case's audit trail, checked."""
    status, body, _ = await api.call("GET", f"/api/v1/cases/{case_id}/audit", token)
    assert status == 200 and body["verification"]["ok"]
    entries: list[dict[str, Any]] = body["entries"]
    return entries


async def delivery_rows(api: Api, event_ids: Sequence[int], url: str) -> list[Any]:
    d = t.webhook_deliveries
    query = (
        select(d)
        .where(d.c.event_id.in_(list(event_ids)), d.c.endpoint == endpoint_key(url, "feed"))
        .order_by(d.c.event_id)
    )
    async with api.repo.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def settled(api: Api, event_ids: Sequence[int], url: str) -> list[Any]:
    """The rows once none is pending (the sender records an outcome just after the receiver answered)."""
    async with asyncio.timeout(10):
        while True:
            rows = await delivery_rows(api, event_ids, url)
            if rows and all(r.status != "pending" for r in rows):
                return rows
            await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_a_cases_events_reach_the_feed_in_order_signed_in_the_format_and_without_personal_data(
    db_url: str, tmp_path: Path
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        receiver(FEED_SECRET) as feed,
        receiver(WEBHOOK_SECRET) as hooks,
        node(db_url, tmp_path, http, [feed.url], [hooks.url]) as api,
    ):
        c = await signed_case(api)
        cid, med = c["case_id"], c["mediator"]
        entries = await trail(api, med, cid)
        expected = [e for e in entries if e["action"] in DATA_FIELDS]
        assert {e["action"] for e in expected} >= {
            "case.filed",
            "case.state_changed",
            "session.started",
            "session.ended",
            "agreement.drafted",
            "signing.signed",
        }
        assert any(e["action"] not in DATA_FIELDS for e in entries)  # session.scheduled, signing.opened …
        await feed.wait_for(lambda: len(feed.accepted(cid)) >= len(expected))
        got = [r.event for r in feed.accepted(cid)]
        _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)

        # in the order of the trail, each once, announcing its audit entry
        assert [(g["type"], g["audit_seq"], g["audit_hash"], g["at"]) for g in got] == [
            (e["action"], e["seq"], e["hash"], e["at"]) for e in expected
        ]
        ids = [g["event_id"] for g in got]
        assert ids == sorted(set(ids))
        for r in feed.accepted(cid):
            assert r.signature_ok and r.headers[EVENT_HEADER] == str(r.event["event_id"])
            assert not check_webhook_signature(
                WEBHOOK_SECRET, r.headers[TIMESTAMP_HEADER], r.body, r.headers[SIGNATURE_HEADER], now=time.time()
            ), "the feed has its own key"

        # the documented format, every body
        for g in got:
            VALIDATOR.validate(g)
            assert g["format"] == FORMAT and g["type"] in DATA_FIELDS
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate({**got[0], "case": {**got[0]["case"], "title": "追尾"}})
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate({**got[0], "type": "case.filed", "data": {"number": "x", "kind": "y", "note": "z"}})

        # the data of each type
        by_type: dict[str, list[dict[str, Any]]] = {}
        for g in got:
            by_type.setdefault(g["type"], []).append(g["data"])
        assert by_type["case.filed"] == [{"number": view["number"], "kind": "traffic_accident"}]
        signers = {d["signer_id"] for d in by_type["signing.signed"]}
        assert {c["applicant_id"], c["respondent_id"]} <= signers and len(signers) == 3  # and the mediator
        assert [d["version"] for d in by_type["agreement.drafted"]] == [1]
        changes = [(d["old"], d["new"]) for d in by_type["case.state_changed"]]
        assert changes[-1] == ("signing", "signed")
        assert len(by_type["session.started"]) == len(by_type["session.ended"]) == 1

        # the case as of each event: the state its transaction left it in (entries of one write share `at`)
        state = "filed"
        for g in got:
            for e in entries:
                if e["at"] == g["at"] and e["action"] == "case.state_changed":
                    state = e["details"]["new"]
            assert g["case"]["state"] == state, g
            assert g["case"]["id"] == cid and g["case"]["number"] == view["number"]
            assert g["case"]["kind"] == "traffic_accident" and g["case"]["referral_kind"] == "own"
            assert g["case"]["organisation"]["name"] == COURT and g["case"]["court"] is None
        assert got[-1]["case"]["state"] == view["state"] == "signed"
        assert got[0]["case"]["agreement_at"] is None
        assert {g["case"]["overdue"] for g in got} == {False}

        # nothing personal travels
        everything = b"".join(r.body for r in feed.requests).decode()
        for person in (SERVICE_APPLICANT, SERVICE_RESPONDENT):
            for key in ("display_name", "phone", "email", "id_number"):
                assert key not in person or person[key] not in everything, key
        for text in ("王调解员", "追尾", TERMS["facts"][:12], "张三放弃", "银行转账"):
            assert text not in everything

        # acknowledged: nothing left to send
        rows = await settled(api, ids, feed.url)
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("delivered", 1, 204)] * len(ids)

        # the ordinary webhooks: the state changes only, in their own body, as before
        states = [e for e in entries if e["action"] == "case.state_changed"]
        await hooks.wait_for(lambda: len(hooks.accepted(cid)) >= len(states))
        assert [r.event for r in hooks.accepted(cid)] == [
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
            for r, e in zip(hooks.accepted(cid), states, strict=True)
        ]
        assert all(r.signature_ok for r in hooks.requests)


@pytest.mark.asyncio
async def test_a_feed_is_retried_past_fifteen_attempts_until_acknowledged_and_reports_its_backlog(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.outbound")
    async with (
        aiohttp.ClientSession() as http,
        receiver(FEED_SECRET, fail_first=20) as feed,
        node(
            db_url, tmp_path, http, [feed.url], base_delay=0.01, max_delay=0.02, poll_interval=0.02, report_every=0
        ) as api,
    ):
        c = await case_with_parties(api)
        cid, med = c["case_id"], c["mediator"]
        expected = [e for e in await trail(api, med, cid) if e["action"] in DATA_FIELDS]
        assert expected[0]["action"] == "case.filed" and len(expected) >= 2
        await feed.wait_for(lambda: len(feed.accepted(cid)) == len(expected))
        assert [r.event["audit_seq"] for r in feed.accepted(cid)] == [e["seq"] for e in expected]
        ids = [r.event["event_id"] for r in feed.accepted(cid)]
        for event_id in ids:
            assert [r.answered for r in feed.attempts(event_id)] == [500] * 20 + [204]
            assert all(r.signature_ok for r in feed.attempts(event_id))
        # each waited until the one before was acknowledged
        for before, after in zip(ids, ids[1:], strict=False):
            assert min(r.at for r in feed.attempts(after)) >= feed.attempts(before)[-1].at
        rows = await settled(api, ids, feed.url)
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("delivered", 21, 204)] * len(ids)
        # while it waited, the backlog was logged with its age; then that it was cleared
        backlog = [r.getMessage() for r in caplog.records if "not acknowledged yet" in r.getMessage()]
        assert backlog and all(r.startswith("feed: ") for r in backlog)
        async with asyncio.timeout(10):
            while api.app[FEED_SENDER].backlog.events:
                await asyncio.sleep(0.02)
        assert any(r.getMessage() == "feed: every event acknowledged" for r in caplog.records)
        assert feed.url.split("//")[1] not in caplog.text, "no whole URL in the log"
    # by default: never given up, at most ten minutes apart
    sender = FeedDispatcher(api.repo.engine, ["https://feed.example.org/x"], FEED_SECRET, utc_now)
    assert sender.max_attempts is None
    assert [sender.retry_delay(n).total_seconds() for n in (1, 2, 9, 10, 15, 40)] == [2, 4, 512, 600, 600, 600]


@pytest.mark.asyncio
async def test_a_request_sent_twice_is_the_same_event_by_its_id(db_url: str, tmp_path: Path) -> None:
    async with (
        aiohttp.ClientSession() as http,
        receiver(FEED_SECRET, slow_first=1.0) as feed,
        node(db_url, tmp_path, http, [feed.url], timeout=0.3, base_delay=0.01, poll_interval=0.02) as api,
    ):
        c = await case_with_parties(api)
        cid, med = c["case_id"], c["mediator"]
        expected = [e for e in await trail(api, med, cid) if e["action"] in DATA_FIELDS]

        def seen() -> list[HookRequest]:
            return [r for r in feed.requests if case_of(r.event) == cid]

        await feed.wait_for(lambda: len(seen()) >= 2 * len(expected))  # each sent again: the sender stopped waiting
        ids = sorted({r.event["event_id"] for r in seen()})
        rows = await settled(api, ids, feed.url)
        assert [(r.status, r.attempts, r.last_status) for r in rows] == [("delivered", 2, 204)] * len(expected)
        assert len(seen()) == 2 * len(expected)
        by_id: dict[int, list[HookRequest]] = {}
        for r in seen():
            by_id.setdefault(r.event["event_id"], []).append(r)
        for copies in by_id.values():
            assert len(copies) == 2 and copies[0].body == copies[1].body and all(r.signature_ok for r in copies)
        assert [json.loads(copies[0].body)["audit_seq"] for copies in by_id.values()] == [e["seq"] for e in expected]


@pytest.mark.asyncio
async def test_a_feed_added_later_receives_the_events_written_before(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'later.db'}"
    await db.upgrade(db_url)
    async with aiohttp.ClientSession() as http:
        async with node(db_url, tmp_path / "a", http) as api:
            c = await case_with_parties(api)
            cid, med = c["case_id"], c["mediator"]
            expected = [e for e in await trail(api, med, cid) if e["action"] in DATA_FIELDS]
        async with receiver(FEED_SECRET) as feed, node(db_url, tmp_path / "b", http, [feed.url]):
            await feed.wait_for(lambda: len(feed.accepted(cid)) == len(expected))
            assert [r.event["audit_seq"] for r in feed.accepted(cid)] == [e["seq"] for e in expected]


def test_settings_need_http_urls_and_a_long_secret_for_a_feed() -> None:
    good = {
        "MEDIATION_FEED_URLS": "https://national.example.org/feed/a, http://10.0.0.2:8080/feed",
        "MEDIATION_FEED_SECRET": "f" * 32,
    }
    settings = load_settings(environ=good)
    assert settings.feed_urls.startswith("https://national.example.org/feed/a") and "f" * 32 not in repr(settings)
    assert load_settings(environ={}).feed_urls == ""
    for bad in (
        {**good, "MEDIATION_FEED_SECRET": "f" * 31},
        {"MEDIATION_FEED_URLS": good["MEDIATION_FEED_URLS"]},
        {**good, "MEDIATION_FEED_URLS": "ftp://national.example.org/feed"},
    ):
        with pytest.raises(ConfigError):
            load_settings(environ=bad)


def test_the_documented_example_is_signed_and_shaped_as_the_code_does() -> None:
    """docs/feed.md's worked example: its signature is what the sender computes, its body passes the schema."""
    import re

    from server.notify import sign_webhook

    doc = (Path(__file__).parents[2] / "docs" / "feed.md").read_text(encoding="utf-8")
    body = re.search(r"```json\n(.*?)\n```", doc, re.S)
    key = re.search(r"the key\s+`([^`]+)`", doc)
    stamp = re.search(r"the timestamp `(\d+)`", doc)
    signature = re.search(r"is signed `(sha256=[0-9a-f]{64})`", doc)
    assert body and key and stamp and signature
    raw = body.group(1).encode("utf-8")
    assert f"({len(raw)} bytes" in doc
    assert sign_webhook(key.group(1).encode("ascii"), int(stamp.group(1)), raw) == signature.group(1)
    assert check_webhook_signature(key.group(1).encode(), stamp.group(1), raw, signature.group(1), int(stamp.group(1)))
    VALIDATOR.validate(json.loads(raw))
    # every documented type is one the feed carries, and the other way round
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", doc, re.M))
    assert documented == set(DATA_FIELDS)
