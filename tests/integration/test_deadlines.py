"""The deadline scheduler over the real server and both databases (issue 12 item 7): a signing
round whose deadline passes expires (``signing_expired``, an audit entry by ``system``) and the
mediator can redraft; a node that starts after the deadline passed issues it in its first round;
a claim left by a dead node is taken over when its lease runs out; two schedulers on one
PostgreSQL database (two engines) issue each command exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, select

from server.app import DEADLINES, build_app
from server.domain import lifecycle as lc
from server.outbound.deadlines import DeadlineScheduler
from server.store import db
from server.store import schema as t
from server.store.repository import CaseRepository, records_from_events
from tests.builders import TERMS, between_sessions
from tests.conftest import Api, Clock

pytestmark = pytest.mark.asyncio


async def _signing(api: Api, hours: int = 1) -> dict[str, Any]:
    """A case whose agreement is out for signature, the deadline ``hours`` away."""
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", c["mediator"], json=TERMS)
    assert status == 201, body
    status, body, _ = await api.call("POST", f"{base}/signing", c["mediator"], json={"deadline_hours": hours})
    assert status == 201, body
    c["base"], c["signers"] = base, body["signers"]
    return c


async def _state_becomes(repo: CaseRepository, case_id: str, state: lc.CaseState, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while (await repo.load_case(case_id)).case.state is not state:
            await asyncio.sleep(0.05)


async def test_the_signing_deadline_passes_and_the_mediator_redrafts(api: Api) -> None:
    c = await _signing(api, hours=1)
    med, base = c["mediator"], c["base"]
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    assert (status, body["code"]) == (409, "illegal_transition")  # while signing runs, no redraft

    api.clock.advance(timedelta(hours=1, seconds=1))
    api.app[DEADLINES].poke()  # the running scheduler looks now rather than at its next interval
    await _state_becomes(api.repo, c["case_id"], lc.CaseState.SIGNING_EXPIRED)

    case = (await api.call("GET", base, med))[1]
    assert case["state"] == "signing_expired"
    entries = (await api.call("GET", f"{base}/audit", med))[1]
    expired = [e for e in entries["entries"] if e["action"] == "signing.expired"]
    assert len(expired) == 1 and expired[0]["actor"] == "system", expired
    assert len(expired[0]["details"]["missing"]) == len(c["signers"])  # nobody had signed
    assert entries["verification"]["ok"]

    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    assert status == 201, body
    assert (await api.call("GET", base, med))[1]["state"] == "agreement_drafted"
    async with api.repo.engine.connect() as conn:
        row = (await conn.execute(select(t.deadlines).where(t.deadlines.c.case_id == c["case_id"]))).one()
    assert (row.kind, row.outcome, row.due_at) == ("signing", "issued", api.clock() - timedelta(seconds=1))


async def test_a_node_that_starts_after_the_deadline_issues_it_at_once(api: Api) -> None:
    c = await _signing(api, hours=2)
    await api.app[DEADLINES].close()  # the node goes down with the round still open
    api.clock.advance(timedelta(hours=3))
    restarted = build_app(api.settings, clock=api.clock)  # a new process on the same database
    server = TestServer(restarted, host="127.0.0.1")
    await server.start_server()
    try:
        await _state_becomes(api.repo, c["case_id"], lc.CaseState.SIGNING_EXPIRED)  # no poke: start-up looks
    finally:
        await server.close()
    actions = [e.action for e in (await api.repo.audit_trail(c["case_id"]))[0]]
    assert actions.count("signing.expired") == 1


# ---------------------------------------------------------------------- straight on the store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def _cases_in_signing(repo: CaseRepository, count: int, deadline: datetime) -> list[str]:
    """``count`` cases taken to ``signing`` through the life cycle, straight in the store."""
    ids = []
    for _ in range(count):
        filed = lc.file_case(str(uuid.uuid4()), f"DL-{uuid.uuid4().hex[:10]}", "traffic_accident", "t", NOW)
        loaded = await repo.create_case(filed.case, None, records_from_events("system", filed.events), NOW)
        session = str(uuid.uuid4())
        for command in (
            lc.ScheduleSession(session, NOW + timedelta(minutes=10)),
            lc.StartSession(session),
            lc.EndSession(session),
            lc.DraftAgreement(str(uuid.uuid4())),
            lc.OpenSigning(("a", "b", "m"), deadline),
        ):
            step = lc.apply(loaded.case, command, NOW)
            loaded = await repo.save_case(loaded, step.case, records_from_events("system", step.events), NOW)
        ids.append(loaded.case.id)
    return ids


async def _expired_entries(repo: CaseRepository, case_id: str) -> int:
    return sum(e.action == "signing.expired" for e in (await repo.audit_trail(case_id))[0])


async def test_a_claim_left_by_a_dead_node_is_taken_over_when_its_lease_runs_out(repo: CaseRepository) -> None:
    deadline = NOW + timedelta(hours=1)
    (case_id,) = await _cases_in_signing(repo, 1, deadline)
    clock = Clock(deadline + timedelta(minutes=1))
    async with repo.engine.begin() as conn:  # a node claimed it, then died before issuing it
        await conn.execute(
            insert(t.deadlines).values(
                case_id=case_id,
                kind="signing",
                due_at=deadline,
                claimed_by="dead",
                lease_until=clock() + timedelta(minutes=2),
            )
        )
    scheduler = DeadlineScheduler(repo, clock)
    assert [i for i in await scheduler.tick() if i.case_id == case_id] == []  # its lease still holds
    assert (await repo.load_case(case_id)).case.state is lc.CaseState.SIGNING
    clock.advance(timedelta(minutes=2))
    issued = [i for i in await scheduler.tick() if i.case_id == case_id]
    assert [(i.kind, i.outcome) for i in issued] == [("signing", "issued")]
    assert (await repo.load_case(case_id)).case.state is lc.CaseState.SIGNING_EXPIRED
    assert await _expired_entries(repo, case_id) == 1
    assert [i for i in await scheduler.tick() if i.case_id == case_id] == []  # settled: never again


@pytest.mark.postgres
async def test_two_schedulers_on_one_postgresql_issue_each_command_once(pg_url: str) -> None:
    engines = [db.create_engine(pg_url), db.create_engine(pg_url)]
    try:
        repos = [CaseRepository(e) for e in engines]
        deadline = NOW + timedelta(days=400)  # later than any other test's: only these cases are due
        ours = set(await _cases_in_signing(repos[0], 12, deadline))
        clock = Clock(deadline + timedelta(seconds=1))
        nodes = [DeadlineScheduler(r, clock, node=f"node-{i}") for i, r in enumerate(repos)]
        rounds = await asyncio.gather(*(n.tick() for n in nodes for _ in range(3)))
        issued = [i for r in rounds for i in r if i.case_id in ours]
        assert sorted(i.case_id for i in issued) == sorted(ours)  # each once, by one node or the other
        assert {i.outcome for i in issued} == {"issued"}
        for case_id in ours:
            assert (await repos[1].load_case(case_id)).case.state is lc.CaseState.SIGNING_EXPIRED
            assert await _expired_entries(repos[1], case_id) == 1
        async with engines[0].connect() as conn:
            rows = (await conn.execute(select(t.deadlines).where(t.deadlines.c.case_id.in_(ours)))).all()
        assert len(rows) == len(ours) and {r.outcome for r in rows} == {"issued"}
        assert {r.claimed_by for r in rows} <= {"node-0", "node-1"}
    finally:
        for engine in engines:
            await engine.dispose()
