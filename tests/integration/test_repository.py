"""The case store on SQLite and on the local PostgreSQL: round trips, locking, append-only audit, tampering."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.domain import lifecycle as lc
from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.errors import BlobIntegrityError, ConcurrentUpdate, Duplicate, NotFound
from server.store.accounts import Account, AccountStore
from server.store.blobs import InMemoryBlobStore, LocalBlobStore
from server.store.repository import AuditRecord, CaseRepository, LoadedCase, records_from_events

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.asyncio


def uid() -> str:
    return str(uuid.uuid4())


async def new_case(repo: CaseRepository) -> LoadedCase:
    cid = uid()
    tr = lc.file_case(cid, f"N-{cid[:8]}", "traffic_accident", "交通事故纠纷", T0)
    mediator = Participant(uid(), cid, Role.MEDIATOR, "调解员", T0)
    return await repo.create_case(tr.case, None, records_from_events("system", tr.events), T0, [mediator])


async def test_case_round_trip_with_every_part_of_the_life_cycle(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    case = loaded.case
    now = T0
    for cmd in [
        lc.ScheduleSession("s1-" + case.id[:8], T0 + timedelta(hours=1)),
        lc.StartSession("s1-" + case.id[:8]),
        lc.EndSession("s1-" + case.id[:8]),
        lc.DraftAgreement("doc-1"),
        lc.OpenSigning(("a", "b", "m"), T0 + timedelta(days=2)),
        lc.RecordSignature("a"),
        lc.RecordSignature("b"),
        lc.RecordSignature("m"),
        lc.StartService("doc-2", ("a", "b"), T0 + timedelta(days=9)),
        lc.RecordServiceEffective("a"),
        lc.RecordServiceEffective("b"),
        lc.ApplyForConfirmation(("a", "b")),
    ]:
        now += timedelta(minutes=5)
        tr = lc.apply(loaded.case, cmd, now)
        loaded = await repo.save_case(loaded, tr.case, records_from_events("account:x", tr.events), now)
        again = await repo.load_case(case.id)
        assert again.case == tr.case
        assert again.version == loaded.version
    assert loaded.case.state is lc.CaseState.CONFIRMATION_APPLIED
    assert (await repo.verify_audit(case.id)).ok


async def test_unknown_case_is_not_found(repo: CaseRepository) -> None:
    with pytest.raises(NotFound):
        await repo.load_case(uid())
    with pytest.raises(NotFound):
        await repo.audit_trail(uid())


async def test_duplicate_case_number_is_refused(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    tr = lc.file_case(uid(), loaded.case.number, "traffic_accident", "dup", T0)
    with pytest.raises(Duplicate):
        await repo.create_case(tr.case, None, records_from_events("system", tr.events), T0)


async def test_two_concurrent_updates_cannot_both_win(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    sid_a, sid_b = "a-" + loaded.case.id[:8], "b-" + loaded.case.id[:8]
    tr_a = lc.apply(loaded.case, lc.ScheduleSession(sid_a, T0 + timedelta(hours=1)), T0)
    tr_b = lc.apply(loaded.case, lc.ScheduleSession(sid_b, T0 + timedelta(hours=2)), T0)
    results = await asyncio.gather(
        repo.save_case(loaded, tr_a.case, records_from_events("account:a", tr_a.events), T0),
        repo.save_case(loaded, tr_b.case, records_from_events("account:b", tr_b.events), T0),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, LoadedCase)]
    losses = [r for r in results if isinstance(r, ConcurrentUpdate)]
    assert len(wins) == 1 and len(losses) == 1, results
    stored = await repo.load_case(loaded.case.id)
    assert stored.case == wins[0].case
    assert [s.id for s in stored.case.sessions] in ([sid_a], [sid_b])
    entries, head = await repo.audit_trail(loaded.case.id)
    assert head.seq == len(entries)
    assert (await repo.verify_audit(loaded.case.id)).ok


async def test_stale_version_is_refused_even_later(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    await repo.record(loaded.case.id, [AuditRecord("system", "note", {})], T0)
    tr = lc.apply(loaded.case, lc.Withdraw("x"), T0)
    with pytest.raises(ConcurrentUpdate):
        await repo.save_case(loaded, tr.case, records_from_events("system", tr.events), T0)
    assert (await repo.load_case(loaded.case.id)).case.state is lc.CaseState.FILED


async def test_concurrent_audit_only_appends_all_land_in_one_chain(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    await asyncio.gather(
        *(repo.record(loaded.case.id, [AuditRecord("system", "note", {"n": n})], T0, attempts=20) for n in range(6))
    )
    entries, head = await repo.audit_trail(loaded.case.id)
    assert sorted(e.details_dict().get("n", -1) for e in entries if e.action == "note") == list(range(6))
    assert head.seq == len(entries)
    assert (await repo.verify_audit(loaded.case.id)).ok


async def test_a_live_case_s_chain_checks_intact_while_entries_are_appended(repo: CaseRepository) -> None:
    # the head and the entries are read in two statements: an append between them once read as "altered"
    loaded = await new_case(repo)
    stop = asyncio.Event()

    async def append() -> None:
        n = 0
        while not stop.is_set():
            await repo.record(loaded.case.id, [AuditRecord("system", "note", {"n": n})], T0, attempts=50)
            n += 1

    writers = [asyncio.create_task(append()) for _ in range(2)]
    try:
        verdicts = [await repo.verify_audit(loaded.case.id) for _ in range(40)]
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert [v for v in verdicts if not v.ok] == []
    entries, head = await repo.audit_trail(loaded.case.id)
    assert head.seq == len(entries) > 10  # appends went on while the chain was checked


async def test_participants_accounts_and_tokens(repo: CaseRepository) -> None:
    accounts = AccountStore(repo.engine)
    loaded = await new_case(repo)
    acc = Account(uid(), f"judge-{uid()[:8]}", "法官", AccountKind.JUDGE, "某某法院", "scrypt$x", T0)
    await accounts.create_account(acc)
    with pytest.raises(Duplicate):
        await accounts.create_account(Account(uid(), acc.username, "x", AccountKind.JUDGE, "", "h", T0))
    stored = await accounts.account_by_username(acc.username)
    assert stored is not None and stored.organisation_id  # placed in its organisation (made on the spot)
    assert stored == replace(acc, organisation_id=stored.organisation_id)
    judge = Participant(uid(), loaded.case.id, Role.JUDGE, "法官", T0, account_id=acc.id)
    party = Participant(uid(), loaded.case.id, Role.APPLICANT, "张三", T0, phone="13800000001", id_number="X1234567")
    loaded = await repo.add_participant(loaded, judge, [AuditRecord("system", "participant.added", {})], T0)
    loaded = await repo.add_participant(loaded, party, [AuditRecord("system", "participant.added", {})], T0)
    assert await repo.participant(party.id) == party
    assert await repo.account_role_on_case(acc.id, loaded.case.id) == judge
    summaries, total = await repo.list_cases(acc.id)
    assert total == 1 and summaries[0].id == loaded.case.id and summaries[0].role is Role.JUDGE

    from server.store.accounts import TokenRecord

    for jti in ("t1-" + party.id, "t2-" + party.id):
        await accounts.record_token(TokenRecord(jti, "join", party.id, loaded.case.id, T0, T0 + timedelta(days=1)))
    assert await accounts.revoke_tokens(party.id, T0, jti="t1-" + party.id) == 1
    assert await accounts.revoke_tokens(party.id, T0) == 1
    rec = await accounts.token("t2-" + party.id)
    assert rec is not None and rec.revoked_at == T0


async def test_list_filters_and_search(repo: CaseRepository) -> None:
    acc = Account(uid(), f"med-{uid()[:8]}", "调解员", AccountKind.MEDIATOR, "委员会", "h", T0)
    await AccountStore(repo.engine).create_account(acc)
    ids = []
    for i, title in enumerate(["追尾事故 A", "刮擦事故 B", "100%_literal"]):
        cid = uid()
        tr = lc.file_case(cid, f"L-{cid[:8]}", "traffic_accident", title, T0 + timedelta(minutes=i))
        m = Participant(uid(), cid, Role.MEDIATOR, "调解员", T0, account_id=acc.id)
        await repo.create_case(tr.case, acc.id, records_from_events("system", tr.events), T0, [m])
        ids.append(cid)
    items, total = await repo.list_cases(acc.id)
    assert total == 3 and [c.id for c in items] == ids[::-1]
    items, total = await repo.list_cases(acc.id, query="追尾")
    assert [c.id for c in items] == [ids[0]]
    items, total = await repo.list_cases(acc.id, query="%_")
    assert [c.id for c in items] == [ids[2]]
    items, total = await repo.list_cases(acc.id, states=[lc.CaseState.WITHDRAWN])
    assert total == 0
    items, total = await repo.list_cases(acc.id, limit=2, offset=2)
    assert total == 3 and [c.id for c in items] == [ids[0]]


async def test_audit_table_refuses_update_and_delete(repo: CaseRepository) -> None:
    loaded = await new_case(repo)
    for sql in (
        "UPDATE audit_entries SET action = 'forged' WHERE case_id = :c",
        "DELETE FROM audit_entries WHERE case_id = :c",
    ):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            async with repo.engine.begin() as conn:
                await conn.execute(text(sql), {"c": loaded.case.id})
    assert (await repo.verify_audit(loaded.case.id)).ok


async def _tamper(repo: CaseRepository, sql: str, params: dict[str, object]) -> None:
    """Change audit rows the way someone with database access could: around the trigger."""
    async with repo.engine.begin() as conn:
        if repo.engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_append_only"))
            await conn.execute(text(sql), params)
            await conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_append_only"))
        else:
            await conn.execute(text("DROP TRIGGER audit_no_update"))
            await conn.execute(text("DROP TRIGGER audit_no_delete"))
            await conn.execute(text(sql), params)


async def _case_with_entries(repo: CaseRepository, n: int) -> LoadedCase:
    loaded = await new_case(repo)
    for i in range(n):
        await repo.record(loaded.case.id, [AuditRecord("account:m", "note", {"i": i})], T0 + timedelta(seconds=i))
    return await repo.load_case(loaded.case.id)


async def test_tamper_altered_row_is_named(repo: CaseRepository) -> None:
    loaded = await _case_with_entries(repo, 5)
    await _tamper(
        repo,
        "UPDATE audit_entries SET details = :d WHERE case_id = :c AND seq = 4",
        {"d": '{"i":99}', "c": loaded.case.id},
    )
    verdict = await repo.verify_audit(loaded.case.id)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 4, "altered")


async def test_tamper_deleted_row_is_named(repo: CaseRepository) -> None:
    loaded = await _case_with_entries(repo, 5)
    await _tamper(repo, "DELETE FROM audit_entries WHERE case_id = :c AND seq = 3", {"c": loaded.case.id})
    verdict = await repo.verify_audit(loaded.case.id)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 3, "missing")


async def test_tamper_deleted_newest_rows_are_named(repo: CaseRepository) -> None:
    loaded = await _case_with_entries(repo, 5)
    await _tamper(repo, "DELETE FROM audit_entries WHERE case_id = :c AND seq > 5", {"c": loaded.case.id})
    verdict = await repo.verify_audit(loaded.case.id)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 6, "truncated")


async def test_local_blob_store_is_content_addressed_and_checked(tmp_path: Path) -> None:
    for store in (LocalBlobStore(tmp_path / "blobs"), InMemoryBlobStore()):
        ref = await store.put("调解协议".encode())
        assert ref.size == 12
        assert await store.get(ref.sha256) == "调解协议".encode()
        assert await store.put("调解协议".encode()) == ref
        with pytest.raises(NotFound):
            await store.get("0" * 64)
        with pytest.raises(NotFound):
            await store.get("../../etc/passwd")
    local = LocalBlobStore(tmp_path / "blobs")
    ref = await local.put(b"evidence")
    path = tmp_path / "blobs" / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    path.write_bytes(b"evidencE")
    with pytest.raises(BlobIntegrityError, match=ref.sha256):
        await local.get(ref.sha256)
    assert not list((tmp_path / "blobs").rglob(".incoming-*"))
