"""One-time signing codes over real HTTP on SQLite and PostgreSQL (issue 12 items 12 and 19b).

- at most one code a minute per signer, also when ten requests arrive at once (the store decides,
  not a lock in one process: several nodes share the database);
- a daily cap on the codes a signer is sent and on their wrong guesses, answered 429 with the
  time to try again, and an audit entry when a cap is reached;
- each code is bound to the SHA-256 of the file it was sent for, and the message names that file;
  a code never signs another file (a re-opened round signs its own file, not the last round's);
- the code hashes and the tokens use keys derived from the secret, not the secret itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.agreement.usecases import DRAFT_KIND
from server.app import DEADLINES
from server.domain import lifecycle as lc
from server.identity.tokens import TokenClaims, TokenKind, TokenSigner, new_token_id
from server.notify import OutboxNotifier
from server.signing.endpoints import SIGNINGS
from server.signing.usecases import MAX_CODES_PER_DAY, MAX_WRONG_PER_DAY, SIGNING_KIND
from server.store import schema as t
from server.store.repository import AuditRecord, DocumentRecord
from tests.builders import TERMS, between_sessions, code_for, mark
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

APPLICANT_PHONE = "13912345678"
RESPONDENT_PHONE = "13987654321"


async def _signing(api: Api, hours: int = 48) -> dict[str, Any]:
    """A case out for signature, every code kept in an outbox."""
    outbox = OutboxNotifier()
    api.app[SIGNINGS].notifier = outbox
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", c["mediator"], json=TERMS)
    assert status == 201, body
    status, opened, _ = await api.call("POST", f"{base}/signing", c["mediator"], json={"deadline_hours": hours})
    assert status == 201, opened
    c.update(base=base, outbox=outbox, opened=opened)
    return c


def _to(outbox: OutboxNotifier, phone: str) -> list[Any]:
    return [m for m in outbox.sent if m.to == phone]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _actions(api: Api, c: dict[str, Any], action: str) -> list[dict[str, Any]]:
    entries = (await api.call("GET", f"{c['base']}/audit", c["mediator"]))[1]["entries"]
    return [e for e in entries if e["action"] == action]


async def test_ten_requests_at_once_send_one_code(api: Api) -> None:
    c = await _signing(api)
    results = await asyncio.gather(*(api.call("POST", f"{c['base']}/signing/code", c["applicant"]) for _ in range(10)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [201] + [429] * 9, [r[1] for r in results]
    assert len(_to(c["outbox"], APPLICANT_PHONE)) == 1
    refused = next(r for r in results if r[0] == 429)
    assert refused[1]["code"] == "too_many_attempts" and "try again" in refused[1]["detail"]
    assert int(refused[2].headers["Retry-After"]) in range(1, 61)
    doc = (await api.call("GET", "/api/v1/openapi.json"))[1]
    documented = doc["paths"]["/api/v1/cases/{case_id}/signing/code"]["post"]["responses"]["429"]
    assert "Retry-After" in documented["headers"]
    # one stored code, and it is the one that was sent
    async with api.repo.engine.connect() as conn:
        rows = (await conn.execute(select(t.signing_codes).where(t.signing_codes.c.case_id == c["case_id"]))).all()
    assert len(rows) == 1
    code = code_for(c["outbox"], APPLICANT_PHONE)
    status, body, _ = await api.call(
        "POST", f"{c['base']}/signing/sign", c["applicant"], json={"code": code, "mark_png": mark()}
    )
    assert status == 201, body


async def test_a_signer_gets_at_most_ten_codes_a_day(api: Api) -> None:
    c = await _signing(api)
    url = f"{c['base']}/signing/code"
    for _ in range(MAX_CODES_PER_DAY):
        status, body, _ = await api.call("POST", url, c["applicant"])
        assert status == 201, body
        api.clock.advance(timedelta(seconds=61))
    status, body, resp = await api.call("POST", url, c["applicant"])
    assert (status, body["code"]) == (429, "too_many_attempts")
    # the clock reads 09:11 UTC, 17:11 in Beijing: the next day starts at 16:00 UTC
    assert "2026-11-24 00:00" in body["detail"], body["detail"]
    assert int(resp.headers["Retry-After"]) == int(
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC) - api.clock()).total_seconds()
    )
    assert len(_to(c["outbox"], APPLICANT_PHONE)) == MAX_CODES_PER_DAY
    reached = await _actions(api, c, "signing.code_limit_reached")
    assert len(reached) == 1 and reached[0]["details"]["participant_id"] == c["applicant_id"], reached
    assert reached[0]["details"]["until"].startswith("2026-11-24T00:00:00+08:00")
    # the other party is not held back by it
    assert (await api.call("POST", url, c["respondent"]))[0] == 201
    # the next day (Beijing time) the signer gets codes again
    api.clock.now = datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)
    assert (await api.call("POST", url, c["applicant"]))[0] == 201
    assert len(await _actions(api, c, "signing.code_limit_reached")) == 1


async def test_wrong_guesses_are_capped_per_day(api: Api) -> None:
    c = await _signing(api)
    code_url, sign_url = f"{c['base']}/signing/code", f"{c['base']}/signing/sign"

    async def new_code() -> str:
        api.clock.advance(timedelta(seconds=61))
        status, body, _ = await api.call("POST", code_url, c["applicant"])
        assert status == 201, body
        return code_for(c["outbox"], APPLICANT_PHONE)

    async def guess(code: str) -> tuple[int, Any, Any]:
        return await api.call("POST", sign_url, c["applicant"], json={"code": code, "mark_png": mark()})

    wrongs = 0
    while wrongs < MAX_WRONG_PER_DAY - 1:  # five a code, a new code when one is used up
        code = await new_code()
        for _ in range(min(5, MAX_WRONG_PER_DAY - 1 - wrongs)):
            status, body, _ = await guess(_wrong(code))
            assert (status, body["code"]) == (403, "forbidden"), body
            wrongs += 1
    code = await new_code()
    status, body, _ = await guess(_wrong(code))  # the last wrong guess of the day
    assert status == 403, body
    assert len(await _actions(api, c, "signing.guess_limit_reached")) == 1
    # now even the right code is refused until tomorrow, and no new code is sent
    status, body, resp = await guess(code)
    assert (status, body["code"]) == (429, "too_many_attempts"), body
    assert "2026-11-24 00:00" in body["detail"] and int(resp.headers["Retry-After"]) > 0
    sent = len(_to(c["outbox"], APPLICANT_PHONE))
    api.clock.advance(timedelta(seconds=61))
    status, body, _ = await api.call("POST", code_url, c["applicant"])
    assert (status, body["code"]) == (429, "too_many_attempts")
    assert len(_to(c["outbox"], APPLICANT_PHONE)) == sent
    entry = (await _actions(api, c, "signing.guess_limit_reached"))[0]
    assert entry["details"]["participant_id"] == c["applicant_id"] and entry["details"]["limit"] == MAX_WRONG_PER_DAY
    # the right code spends nothing: a signer who guesses right keeps their allowance
    api.clock.now = datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)
    code = await new_code()
    status, body, _ = await guess(code)
    assert status == 201, body


async def test_the_code_names_the_file_and_signs_only_that_file_or_its_later_signatures(api: Api) -> None:
    c = await _signing(api)
    base = c["base"]
    opened = c["opened"]["document"]
    assert (await api.call("POST", f"{base}/signing/code", c["applicant"]))[0] == 201
    message = _to(c["outbox"], APPLICANT_PHONE)[-1]
    assert opened["title"] in message.text and opened["sha256"][:8] in message.text, message.text
    async with api.repo.engine.connect() as conn:
        row = (await conn.execute(select(t.signing_codes).where(t.signing_codes.c.case_id == c["case_id"]))).one()
    assert row.document_sha256 == opened["sha256"]
    applicant_code = code_for(c["outbox"], APPLICANT_PHONE)

    # the respondent signs meanwhile: the file grows by their signature; the applicant's code still
    # signs, because the file it was sent for is unchanged inside the new one
    assert (await api.call("POST", f"{base}/signing/code", c["respondent"]))[0] == 201
    body = {"code": code_for(c["outbox"], RESPONDENT_PHONE), "mark_png": mark()}
    assert (await api.call("POST", f"{base}/signing/sign", c["respondent"], json=body))[0] == 201

    # another file on the same draft takes the place of the one the code was sent for (a different
    # update of the draft, not an extension of the file the code named): refused
    docs = await api.repo.documents(c["case_id"])
    draft = next(d for d in docs if d.kind == DRAFT_KIND)
    other = await api.app[SIGNINGS].cases.blobs.get(draft.sha256) + b"\n%" + b"0" * 400_000 + b"\n"
    ref = await api.app[SIGNINGS].cases.blobs.put(other)
    loaded = await api.repo.load_case(c["case_id"])
    doc = DocumentRecord(
        str(uuid.uuid4()),
        c["case_id"],
        SIGNING_KIND,
        "another",
        ref.sha256,
        ref.size,
        "application/pdf",
        "parties",
        api.clock(),
        "test",
    )
    await api.repo.add_document(loaded, doc, [AuditRecord("test", "document.added", {"document_id": doc.id})])
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", c["applicant"], json={"code": applicant_code, "mark_png": mark()}
    )
    assert status == 403 and "ask for a new code" in body["detail"], body
    assert (await api.repo.load_case(c["case_id"])).case.signing.signed.keys() == {c["respondent_id"]}  # type: ignore[union-attr]


async def test_a_reopened_round_signs_its_own_file(api: Api) -> None:
    c = await _signing(api, hours=1)
    base, med = c["base"], c["mediator"]
    first = c["opened"]["document"]
    # round one: the respondent signs, the applicant does not; the deadline passes
    assert (await api.call("POST", f"{base}/signing/code", c["respondent"]))[0] == 201
    body = {"code": code_for(c["outbox"], RESPONDENT_PHONE), "mark_png": mark()}
    assert (await api.call("POST", f"{base}/signing/sign", c["respondent"], json=body))[0] == 201
    api.clock.advance(timedelta(hours=1, seconds=1))
    api.app[DEADLINES].poke()
    async with asyncio.timeout(30):
        while (await api.repo.load_case(c["case_id"])).case.state is not lc.CaseState.SIGNING_EXPIRED:
            await asyncio.sleep(0.05)

    # round two on a new draft
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    assert status == 201, body
    status, reopened, _ = await api.call("POST", f"{base}/signing", med, json={"deadline_hours": 48})
    assert status == 201, reopened
    second = reopened["document"]
    assert second["sha256"] != first["sha256"]
    status, state, _ = await api.call("GET", f"{base}/signing", c["applicant"])
    assert state["document"]["sha256"] == second["sha256"], "the signing file is the new round's"

    assert (await api.call("POST", f"{base}/signing/code", c["applicant"]))[0] == 201
    message = _to(c["outbox"], APPLICANT_PHONE)[-1]
    assert second["sha256"][:8] in message.text and first["sha256"][:8] not in message.text, message.text
    body = {"code": code_for(c["outbox"], APPLICANT_PHONE), "mark_png": mark()}
    status, signed, _ = await api.call("POST", f"{base}/signing/sign", c["applicant"], json=body)
    assert status == 201, signed
    # the applicant's signature went into the new round's file, which extends the new draft
    new_pdf = (await api.call("GET", f"{base}/documents/{signed['document']['id']}", c["applicant"]))[1]
    draft_pdf = (await api.call("GET", f"{base}/documents/{second['id']}", c["applicant"]))[1]
    assert new_pdf.startswith(draft_pdf) and len(new_pdf) > len(draft_pdf)
    # the respondent, who signed round one only, still has to sign round two
    status, state, _ = await api.call("GET", f"{base}/signing", c["respondent"])
    assert state["you"]["signed"] is False


async def test_code_hashes_and_tokens_use_keys_derived_from_the_secret(api: Api) -> None:
    secret = api.settings.signing_key()
    c = await _signing(api)
    assert (await api.call("POST", f"{c['base']}/signing/code", c["applicant"]))[0] == 201
    code = code_for(c["outbox"], APPLICANT_PHONE)
    async with api.repo.engine.connect() as conn:
        row = (await conn.execute(select(t.signing_codes).where(t.signing_codes.c.case_id == c["case_id"]))).one()
    with_secret = hmac.new(secret, f"{row.id}:{code}".encode(), hashlib.sha256).hexdigest()
    assert row.code_hash != with_secret, "the code hash is keyed with the token secret itself"
    # a token the server issues does not verify with the secret itself
    token = c["applicant"]
    signed_part, _, mac = token.rpartition(".")
    raw = TokenSigner(secret)._mac(signed_part)
    assert mac != raw, "tokens are signed with the secret itself"
    # a link issued before the keys were separated (signed with the secret itself) keeps working
    # until it expires: links already sent by SMS or e-mail, and service links, must survive an upgrade
    participant = await api.repo.participant(c["applicant_id"])
    from server.store.accounts import AccountStore, TokenRecord

    jti = new_token_id()
    expires = api.clock() + timedelta(days=7)
    old = TokenSigner(secret).issue(TokenClaims(jti, TokenKind.JOIN, participant.id, participant.case_id, expires))
    await AccountStore(api.repo.engine).record_token(
        TokenRecord(jti, "join", participant.id, participant.case_id, api.clock(), expires)
    )
    status, body, _ = await api.call("GET", c["base"], old)
    assert status == 200, body
