"""What the engine heard, kept beside what the record shows (SQLite and PostgreSQL): a final caption's
``heard`` is stored in ``transcript_lines.heard`` only when it differs from the record's text, the
record API returns it, the audit trail chains its hash only then; migration 0030 adds the column and
takes it away again, leaving the append-only lines as they were; the room reads the case's own words
(participants' names, and for a police intake the finding's names, plates, insurers and roads) without
logging them; and the real Whisper worker, given those words, writes a spoken amount as the record does
while keeping the engine's own text."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from recording.asr.engines import EngineSpec
from recording.asr.pool import Caption, TranscriptionPool
from server.app import ROOMS
from server.domain import lifecycle as lc
from server.domain.audit import sha256_text
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.intake.client import IntakeClient
from server.intake.endpoints import INTAKE
from server.intake.store import IntakeStore
from server.intake.usecases import AgencyKeys
from server.organisations.store import OrganisationStore
from server.store import db
from server.store import schema as t
from server.store.record import RecordStore, TranscriptLine
from server.store.repository import CaseRepository, records_from_events
from tests.builders import intake_document, resident_id, staff_account
from tests.conftest import Api
from tests.live import Live, _live
from tests.peers import ClientPeer
from tests.speech import MODELS, opus_packets

pytestmark = pytest.mark.asyncio

MANDARIN = Path(__file__).parents[1] / "mandarin"
NAMES = {"applicant": "张建国", "respondent": "李秀英", "agent": "王志强", "insurer": "中国人保财险"}
"""The case's people, named as the Mandarin test set speaks of them (``tests/mandarin/sentences.tsv``)."""
CASE_WORDS = ["张建国", "李秀英", "王志强", "中国人保财险", "中山北路", "建设路"]


@pytest_asyncio.fixture
async def live(db_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The real server on each backend, with a case whose parties carry :data:`NAMES`."""
    contacts = {role: {"display_name": name} for role, name in NAMES.items()}
    roles = ("applicant", "respondent", "agent", "insurer")
    async for value in _live(tmp_path, contacts=contacts, roles=roles, database_url=db_url):
        yield value


def caption(text: str, heard: str, at: datetime) -> Caption:
    return Caption(True, text, at, at + timedelta(seconds=3), "whisper-base/ct2-int8", "zh", 0.4, 0.2, heard)


async def until(check: Any, what: str) -> Any:
    for _ in range(100):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


async def test_a_final_line_keeps_what_the_engine_heard_when_the_record_wrote_it_otherwise(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mediator = ClientPeer(live.base, live.tokens["mediator"], case_id=live.case_id)
    applicant = ClientPeer(live.base, live.tokens["applicant"])
    try:
        for peer in (mediator, applicant):
            await peer.connect()
            assert (await peer.join())["ok"]
        assert (await mediator.emit("admit", {"participant_id": live.ids["applicant"]}))["ok"]
        service = live.app[ROOMS]
        # the room read the case's own words when it opened: every participant's name, never logged
        words = service.rooms[live.case_id].words
        assert words is not None and set(NAMES.values()) <= set(words)
        assert not [name for name in NAMES.values() if name in caplog.text]
        assert service.rooms[live.case_id].room.session_id

        now = datetime.now(UTC)
        spoken = [
            ("申请人张建国要求赔偿，共计35,000元。", "申请人张建国要求赔偿，共计三万五千元。"),  # written out
            ("双方当事人都已经到场。", "双方当事人都已经到场。"),  # nothing to change
            ("伤残等级的鉴定意见已经送达。", ""),  # an engine that reports no heard text (not Mandarin)
        ]
        for i, (shown, heard) in enumerate(spoken):
            await service.caption(
                live.case_id, live.ids["applicant"], caption(shown, heard, now + timedelta(seconds=5 * i))
            )
        # the speaker's page (no one else hears them: they publish nothing) shows the record's text
        await until(lambda: len([c for c in applicant.captions if c["final"]]) >= 3, "the three captions")
        finals = [c for c in applicant.captions if c["final"]]
        assert [c["text"] for c in finals] == [shown for shown, _ in spoken]
        assert all("heard" not in c and c["name"] == NAMES["applicant"] for c in finals)
        # the chain holds; checked while the room is quiet: CaseRepository.audit_trail reads the head and
        # the entries in two statements, so a check while members leave may see a moving chain as altered
        assert (await service.cases.repo.verify_audit(live.case_id)).ok
    finally:
        for peer in (applicant, mediator):
            await peer.close()

    # stored: heard only where it differs (NULL otherwise)
    records = live.app[ROOMS].cases.records
    lines = await records.transcript(live.case_id)
    assert [(x.text, x.heard) for x in lines] == [(spoken[0][0], spoken[0][1]), (spoken[1][0], ""), (spoken[2][0], "")]
    assert all(x.participant_id == live.ids["applicant"] for x in lines)
    engine = live.app[ROOMS].cases.repo.engine
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.transcript_lines.c.id, t.transcript_lines.c.heard).where(
                    t.transcript_lines.c.case_id == live.case_id
                )
            )
        ).all()
    stored = dict(rows)
    assert stored == {lines[0].id: spoken[0][1], lines[1].id: None, lines[2].id: None}

    # the audit trail chains the heard text's hash only where it differs
    repo = live.app[ROOMS].cases.repo
    trail, _ = await repo.audit_trail(live.case_id)
    chained = {e.details_dict()["line_id"]: e.details_dict() for e in trail if e.action == "transcript.line"}
    assert chained[lines[0].id]["heard_sha256"] == sha256_text(spoken[0][1])
    assert chained[lines[0].id]["sha256"] == sha256_text(spoken[0][0])
    assert "heard_sha256" not in chained[lines[1].id] and "heard_sha256" not in chained[lines[2].id]

    # the record API: heard beside text and original (the text itself where the engine's was the same)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{live.base}/api/v1/cases/{live.case_id}/transcript",
            headers={"Authorization": f"Bearer {live.tokens['mediator']}"},
        ) as resp,
    ):
        assert resp.status == 200
        body = await resp.json()
    [session] = body["sessions"]
    got = [(x["text"], x["original"], x["heard"], x["speaker"], x["role"]) for x in session["lines"]]
    assert got == [
        (spoken[0][0], spoken[0][0], spoken[0][1], "张建国", "applicant"),
        (spoken[1][0], spoken[1][0], spoken[1][0], "张建国", "applicant"),
        (spoken[2][0], spoken[2][0], spoken[2][0], "张建国", "applicant"),
    ]


async def test_a_case_from_police_intake_lends_the_finding_s_words_to_the_room(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    orgs = OrganisationStore(api.repo.engine)
    police = Organisation(str(uuid.uuid4()), OrganisationKind.POLICE, f"上海市公安局交通警察总队{tag}", api.clock())
    mediation = Organisation(
        str(uuid.uuid4()), OrganisationKind.PEOPLES_MEDIATION, f"静安区道路交通事故人民调解委员会{tag}", api.clock()
    )
    for organisation in (police, mediation):
        await orgs.create(organisation)
    key_id, secret = await AgencyKeys(orgs, IntakeStore(api.repo.engine), api.app[INTAKE].intake_key).create_key(
        police.id, api.clock()
    )
    client = IntakeClient(api.base, key_id, bytes.fromhex(secret), api.http)
    doc = intake_document(mediation.id, f"公交认字[2026]第{uuid.uuid4().int % 10**8:08d}号")
    doc["accident"]["place"] = "上海市静安区中山北路与建设路交叉口"
    doc["parties"][0].update(name="张建国", plate="沪B67890", id_number=resident_id("31010619850312002"))
    doc["parties"][1].update(name="李秀英", plate="沪A12345", id_number=resident_id("31010219900705152"))
    doc["vehicles"] = [
        {"plate": "沪B67890", "party": "P1", "model": "小型轿车", "damage": "左前部受损"},
        {"plate": "沪A12345", "party": "P2", "model": "小型轿车", "damage": "右前部受损"},
    ]
    for insurer in doc["insurers"]:
        insurer["name"] = "中国人保财险"
    status, answer = await client.file(doc, timestamp=int(api.clock().timestamp()))
    assert status == 201, answer
    case_id = answer["case"]["id"]

    words = await api.app[ROOMS]._case_words(case_id)
    assert {"张建国", "李秀英", "沪B67890", "沪A12345", "中国人保财险", "建设路"} <= set(words)
    assert {"上海市", "静安区", "中山北路", "建设路"} <= set(words), "the place in its parts"
    assert len(words) == len(set(words)), "each word once"
    assert "交叉口" not in "".join(words)
    # nothing beyond what is said: no identity number, phone or e-mail reaches the recogniser
    private = [doc["parties"][0][k] for k in ("id_number", "mobile", "email")] + [doc["parties"][1]["id_number"]]
    assert not [w for w in words if any(p in w for p in private)]

    # a case typed in by hand has no finding: its participants' names only
    _, token, _ = await staff_account(api, AccountKind.MEDIATOR, mediation.name, "陈调解员")
    status, case, _ = await api.call("POST", "/api/v1/cases", token, json={"kind": "traffic_accident", "title": "追尾"})
    assert status == 201, case
    status, added, _ = await api.call(
        "POST", f"/api/v1/cases/{case['id']}/participants", token, json={"role": "applicant", "display_name": "赵六"}
    )
    assert status == 201, added
    assert set(await api.app[ROOMS]._case_words(case["id"])) == {"陈调解员", "赵六"}


async def test_migration_0030_adds_the_heard_column_and_takes_it_away(fresh_db_url: str) -> None:
    """Down to 0029 and up again on a database that holds a line: the line stays, and stays append-only."""
    from alembic import command

    engine = db.create_engine(fresh_db_url)
    try:
        line_id = await _one_line(engine)

        async def columns() -> set[str]:
            async with engine.connect() as conn:
                found = await conn.run_sync(lambda c: inspect(c).get_columns("transcript_lines"))
            return {c["name"] for c in found}

        async def rows(sql: str) -> list[tuple[Any, ...]]:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]

        assert "heard" in await columns()
        assert await rows("SELECT id, heard FROM transcript_lines") == [(line_id, "共计三万五千元。")]
        await engine.dispose()  # the migration runs on connections of its own
        await asyncio.to_thread(command.downgrade, db.alembic_config(fresh_db_url), "0029")
        assert "heard" not in await columns()
        assert await rows("SELECT id, text FROM transcript_lines") == [(line_id, "共计35,000元。")]
        await _refuses_changes(engine)
        await engine.dispose()
        await db.upgrade(fresh_db_url)
        assert "heard" in await columns()
        assert await rows("SELECT id, text, heard FROM transcript_lines") == [(line_id, "共计35,000元。", None)]
        await _refuses_changes(engine)
    finally:
        await engine.dispose()


async def _refuses_changes(engine: Any) -> None:
    """The append-only triggers survived the migration: the database refuses to change or delete a line."""
    for sql in ("UPDATE transcript_lines SET text = 'x'", "DELETE FROM transcript_lines"):
        with pytest.raises(DBAPIError, match="append-only|append_only"):
            async with engine.begin() as conn:
                await conn.execute(text(sql))


async def _one_line(engine: Any) -> str:
    """A case with its mediator and one stored line whose heard text differs (through the real stores)."""
    repo = CaseRepository(engine)
    now = datetime.now(UTC)
    case_id = str(uuid.uuid4())
    filed = lc.file_case(case_id, f"N-{case_id[:8]}", "traffic_accident", "交通事故纠纷", now)
    mediator = Participant(str(uuid.uuid4()), case_id, Role.MEDIATOR, "调解员", now)
    await repo.create_case(filed.case, None, records_from_events("system", filed.events), now, [mediator])
    line_id = str(uuid.uuid4())
    line = TranscriptLine(
        line_id,
        case_id,
        "s1",
        mediator.id,
        now,
        now + timedelta(seconds=2),
        "共计35,000元。",
        "zh",
        "t",
        "共计三万五千元。",
    )
    await RecordStore(repo).add_transcript_line(line, now)
    return line_id


async def test_the_worker_writes_a_spoken_amount_as_the_record_does_and_keeps_what_it_heard() -> None:
    pool = TranscriptionPool(
        EngineSpec(name="whisper", cache_dir=str(MODELS)), workers=1, language="zh", clock=lambda: datetime.now(UTC)
    )
    await pool.start()
    try:
        await pool.wait_ready()
        got: list[Caption] = []
        stream = pool.open(got.append, "zh", words=CASE_WORDS)
        ts = 90_000
        for i, packet in enumerate(opus_packets(MANDARIN / "zh02.wav")):  # 申请人张建国…共计三万五千元。
            stream.feed(packet, ts)
            ts = (ts + 960) & 0xFFFFFFFF
            if i % 5 == 4:
                await asyncio.sleep(0.025)
        await stream.close()
    finally:
        await pool.close()
    finals = [c for c in got if c.final and c.text]
    assert finals, "nothing recognised"
    [amount] = [c for c in finals if "35,000元" in c.text]
    assert amount.heard and amount.heard != amount.text and "35,000" not in amount.heard
    assert "张建国" in "".join(c.text for c in finals)
    assert all(not c.heard for c in got if not c.final), "partials carry no heard text"
