"""Signing the agreement over real HTTP on SQLite and PostgreSQL: one-time codes (wrong, expired,
replayed, too many), two parties signing at the same moment, the mediator last with their
password, and the final PDF verified by the signing core — every signature in its own box."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from e_sign.verify import verify_pdf
from server.domain.roles import AccountKind
from server.notify import OutboxNotifier
from server.signing.endpoints import SIGNING, SIGNINGS
from tests.builders import PASSWORD, SERVICE_APPLICANT, TERMS, account, between_sessions, code_for, mark, signed_case
from tests.conftest import Api
from tests.pdfs import pdf_text

pytestmark = pytest.mark.asyncio


async def test_a_full_signing_round(api: Api) -> None:
    outbox = OutboxNotifier()
    api.app[SIGNINGS].notifier = outbox
    c = await between_sessions(api)
    cid, med = c["case_id"], c["mediator"]
    base = f"/api/v1/cases/{cid}"
    status, body, _ = await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    assert status == 201, body
    status, body, _ = await api.call("POST", f"{base}/signing", c["applicant"], json={})
    assert status == 403
    status, opened, _ = await api.call("POST", f"{base}/signing", med, json={"deadline_hours": 48})
    assert status == 201, opened
    signers = opened["signers"]
    assert signers[:2] == [c["applicant_id"], c["respondent_id"]] and len(signers) == 3  # the mediator last

    # codes go to the registered phone; the answer shows it masked
    status, sent, _ = await api.call("POST", f"{base}/signing/code", c["applicant"])
    assert status == 201 and sent["channel"] == "sms" and sent["to"] == "139****5678"
    status, body, _ = await api.call("POST", f"{base}/signing/code", c["applicant"])
    assert (status, body["code"]) == (429, "too_many_attempts")  # at most one a minute
    good = code_for(outbox, "13912345678")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", c["applicant"], json={"code": wrong, "mark_png": mark()}
    )
    assert (status, body["code"]) == (403, "forbidden")
    # an expired code is refused; a new one voids the old
    api.clock.advance(timedelta(minutes=6))
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", c["applicant"], json={"code": good, "mark_png": mark()}
    )
    assert status == 403 and "expired" in body["detail"]
    await api.call("POST", f"{base}/signing/code", c["applicant"])
    old, applicant_code = good, code_for(outbox, "13912345678")
    if old != applicant_code:
        status, _, _ = await api.call(
            "POST", f"{base}/signing/sign", c["applicant"], json={"code": old, "mark_png": mark()}
        )
        assert status == 403
        await api.call("POST", f"{base}/signing/code", c["applicant"])  # that wrong try is spent: resend later
    # five wrong tries use a code up
    api.clock.advance(timedelta(minutes=2))
    await api.call("POST", f"{base}/signing/code", c["applicant"])
    applicant_code = code_for(outbox, "13912345678")
    wrong = f"{(int(applicant_code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await api.call("POST", f"{base}/signing/sign", c["applicant"], json={"code": wrong, "mark_png": mark()})
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", c["applicant"], json={"code": applicant_code, "mark_png": mark()}
    )
    assert status in (403, 429), body
    # the mediator cannot sign before the parties
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", med, json={"password": PASSWORD, "mark_png": mark()}
    )
    assert status == 422 and "after everyone else" in body["detail"]

    # both parties sign at the same moment: both signatures end up in the PDF
    api.clock.advance(timedelta(minutes=2))
    await api.call("POST", f"{base}/signing/code", c["applicant"])
    await api.call("POST", f"{base}/signing/code", c["respondent"])
    codes = {
        who: code_for(outbox, phone) for who, phone in (("applicant", "13912345678"), ("respondent", "13987654321"))
    }
    results = await asyncio.gather(
        *(
            api.call("POST", f"{base}/signing/sign", c[who], json={"code": codes[who], "mark_png": mark()})
            for who in ("applicant", "respondent")
        )
    )
    assert [r[0] for r in results] == [201, 201], [r[1] for r in results]
    # replaying a used code: refused (and the signer has signed anyway)
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", c["respondent"], json={"code": codes["respondent"], "mark_png": mark()}
    )
    assert status in (403, 422)
    # the mediator signs last, with their password
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", med, json={"password": "wrong password", "mark_png": mark()}
    )
    assert status == 401
    status, done, _ = await api.call(
        "POST", f"{base}/signing/sign", med, json={"password": PASSWORD, "mark_png": mark()}
    )
    assert status == 201, done
    status, state, _ = await api.call("GET", f"{base}/signing", c["respondent"])
    assert status == 200 and all(s["signed_at"] for s in state["signers"])
    status, view, _ = await api.call("GET", base, med)
    assert view["state"] == "signed", view["state"]

    # the final file: three signatures, each in its own signer's field, every one valid
    status, pdf, _ = await api.call("GET", f"{base}/documents/{state['document']['id']}", c["applicant"])
    assert status == 200
    report = await asyncio.to_thread(verify_pdf, pdf, [api.app[SIGNING].ca.certificate])
    assert report.ok, report.reasons
    by_field: dict[str, Any] = {s.field_name: s for s in report.signatures}
    for pid, name in ((c["applicant_id"], "张三"), (c["respondent_id"], "李四")):
        assert by_field["Signature_" + pid].signer_name == name
    assert [s.field_name for s in report.signatures][-1] == "Signature_" + signers[-1]
    # the codes themselves never reached the logs or the audit trail
    entries = (await api.call("GET", f"{base}/audit", med))[1]["entries"]
    assert not any(code in str(entries) for code in codes.values())

    # the completion certificate came with the last signature: signed by the platform, naming each
    # signer, how they proved control (masked), and the signed file's SHA-256
    assert done["state"] == "signed" and done["certificate"]["kind"] == "signing_certificate"
    assert state["certificate"]["id"] == done["certificate"]["id"]  # made once
    status, cert, _ = await api.call("GET", f"{base}/documents/{done['certificate']['id']}", c["respondent"])
    assert status == 200
    cert_report = await asyncio.to_thread(verify_pdf, cert, [api.app[SIGNING].ca.certificate])
    assert cert_report.ok and [s.signer_name for s in cert_report.signatures] == ["在线调解平台"], cert_report.reasons
    text = "".join(pdf_text(cert).split())  # table cells wrap: compare without white space
    assert state["document"]["sha256"] in text
    for words in (
        "张三",
        "李四",
        "调解员",
        "短信验证码（139****5678）",
        "短信验证码（139****4321）",
        "调解员账户密码",
        "有效",
    ):
        assert words in text, words
    assert "13912345678" not in text and "无效" not in text
    view = (await api.call("GET", base, med))[1]
    assert [d["kind"] for d in view["documents"]].count("signing_certificate") == 1


async def test_a_mediator_with_a_phone_on_their_account_signs_with_a_code(api: Api) -> None:
    phone = "13700001111"
    c = await signed_case(api, mediator_phone=phone)  # asserts the code round itself
    base = c["base"]
    status, state, _ = await api.call("GET", f"{base}/signing", c["mediator"])
    assert status == 200 and state["you"]["verify_with"] == "code"
    cert = (await api.call("GET", f"{base}/documents/{state['certificate']['id']}", c["mediator"]))[1]
    text = "".join(pdf_text(cert).split())
    assert "短信验证码（137****1111）" in text and "调解员账户密码" not in text


async def test_a_mediator_with_a_phone_cannot_sign_with_the_password_alone(api: Api) -> None:
    outbox = OutboxNotifier()
    api.app[SIGNINGS].notifier = outbox
    _, med = await account(api, AccountKind.MEDIATOR, "王调解员", phone="13700002222")
    status, case, _ = await api.call("POST", "/api/v1/cases", med, json={"kind": "traffic_accident", "title": "t"})
    base = f"/api/v1/cases/{case['id']}"
    applicant = (await api.call("POST", f"{base}/participants", med, json=SERVICE_APPLICANT))[1]
    starts = (api.clock() + timedelta(hours=1)).isoformat()
    sid = (await api.call("POST", f"{base}/sessions", med, json={"starts_at": starts}))[1]["session_id"]
    for step in ("start", "end"):
        await api.call("POST", f"{base}/sessions/{sid}/{step}", med)
    await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    await api.call("POST", f"{base}/signing", med, json={})
    token = applicant["link"]["token"]
    await api.call("POST", f"{base}/signing/code", token)
    body = {"code": code_for(outbox, SERVICE_APPLICANT["phone"]), "mark_png": mark()}
    assert (await api.call("POST", f"{base}/signing/sign", token, json=body))[0] == 201
    status, body, _ = await api.call(
        "POST", f"{base}/signing/sign", med, json={"password": PASSWORD, "mark_png": mark()}
    )
    assert status == 403 and "code" in body["detail"], body
    status, sent, _ = await api.call("POST", f"{base}/signing/code", med)
    assert status == 201 and sent["to"] == "137****2222"


async def test_an_agent_signs_for_their_party_with_their_own_phone(api: Api) -> None:
    outbox = OutboxNotifier()
    api.app[SIGNINGS].notifier = outbox
    _, med = await account(api, AccountKind.MEDIATOR, "王调解员")
    status, case, _ = await api.call("POST", "/api/v1/cases", med, json={"kind": "traffic_accident", "title": "t"})
    base = f"/api/v1/cases/{case['id']}"
    people = {}
    for person in (
        {"role": "applicant", "display_name": "张三"},  # no phone: the agent acts for them
        {"role": "respondent", "display_name": "李四", "phone": "13987654321"},
    ):
        added = (await api.call("POST", f"{base}/participants", med, json=person))[1]
        people[person["role"]] = added
    agent_body = {
        "role": "agent",
        "display_name": "赵律师",
        "phone": "13600003333",
        "represents": people["applicant"]["participant"]["id"],
    }
    agent = (await api.call("POST", f"{base}/participants", med, json=agent_body))[1]
    tokens = {k: v["link"]["token"] for k, v in people.items()} | {"agent": agent["link"]["token"]}
    starts = (api.clock() + timedelta(hours=1)).isoformat()
    sid = (await api.call("POST", f"{base}/sessions", med, json={"starts_at": starts}))[1]["session_id"]
    for step in ("start", "end"):
        await api.call("POST", f"{base}/sessions/{sid}/{step}", med)
    await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS)
    opened = (await api.call("POST", f"{base}/signing", med, json={}))[1]
    assert agent["participant"]["id"] not in opened["signers"]  # the party's block, not one of its own

    status, state, _ = await api.call("GET", f"{base}/signing", tokens["agent"])
    assert state["you"]["acting_for"] == people["applicant"]["participant"]["id"] and state["you"]["signer"]
    status, sent, _ = await api.call("POST", f"{base}/signing/code", tokens["agent"])
    assert status == 201 and sent["to"] == "136****3333"  # the agent's own phone
    body = {"code": code_for(outbox, "13600003333"), "mark_png": mark()}
    status, signed, _ = await api.call("POST", f"{base}/signing/sign", tokens["agent"], json=body)
    assert status == 201, signed
    # the block is signed: neither the party nor the agent signs it again
    status, body, _ = await api.call("POST", f"{base}/signing/code", tokens["agent"])
    status, again, _ = await api.call(
        "POST", f"{base}/signing/sign", tokens["agent"], json={"code": "000000", "mark_png": mark()}
    )
    assert status == 422 and "already signed" in again["detail"], again
    await api.call("POST", f"{base}/signing/code", tokens["respondent"])
    body = {"code": code_for(outbox, "13987654321"), "mark_png": mark()}
    assert (await api.call("POST", f"{base}/signing/sign", tokens["respondent"], json=body))[0] == 201
    status, done, _ = await api.call(
        "POST", f"{base}/signing/sign", med, json={"password": PASSWORD, "mark_png": mark()}
    )
    assert status == 201 and done["state"] == "signed", done

    pdf = (await api.call("GET", f"{base}/documents/{done['document']['id']}", med))[1]
    report = await asyncio.to_thread(verify_pdf, pdf, [api.app[SIGNING].ca.certificate])
    assert report.ok, report.reasons
    field = report.signature("Signature_" + people["applicant"]["participant"]["id"])
    assert field.signer_name == "赵律师（代理张三）"
    cert = (await api.call("GET", f"{base}/documents/{done['certificate']['id']}", med))[1]
    text = "".join(pdf_text(cert).split())
    assert "张三（由代理人赵律师代签）" in text and "136****3333" in text
