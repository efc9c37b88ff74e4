"""Judicial confirmation over real HTTP on SQLite and PostgreSQL: the parties' joint application,
the court's queue (and who may not see it), one-click verification of the packet, a request for
more material served electronically, and the ruling signed with the court's own key — validated
by pyHanko and by poppler's pdfsig — served on the parties. Late applications are refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from e_sign.verify import verify_pdf
from server.domain.roles import AccountKind
from server.signing.endpoints import SIGNING
from tests.builders import COURT, PASSWORD, account, judge_of, served_case
from tests.conftest import Api
from tests.pdfs import make_nss_db, pdf_text, pdfsig, require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio


async def test_joint_application_review_and_ruling(api: Api, tmp_path: Path) -> None:
    api.clock.now = datetime.now(UTC)  # pdfsig judges certificates at the real time: sign at it
    judge = await judge_of(api, COURT, "赵法官")
    stranger = await judge_of(api, "另一法院", "钱法官")
    c = await served_case(api)
    base, med = c["base"], c["mediator"]

    courts = (await api.call("GET", "/api/v1/courts", med))[1]["courts"]
    assert COURT in courts and "另一法院" in courts
    status, body, _ = await api.call("POST", f"{base}/confirmation", med, json={"court": "不存在的法院"})
    assert status == 422
    assert (await api.call("POST", f"{base}/confirmation", c["applicant"], json={"court": COURT}))[0] == 403
    status, prepared, _ = await api.call("POST", f"{base}/confirmation", med, json={"court": COURT})
    assert status == 201 and prepared["submitted_at"] is None, prepared

    # each party confirms; the last confirmation submits the packet to the court's queue
    status, first, _ = await api.call("POST", f"{base}/confirmation/confirm", c["applicant"])
    assert status == 200 and first["submitted_at"] is None
    assert (await api.call("GET", "/api/v1/court/applications", judge))[1]["applications"] == []
    assert (await api.call("POST", f"{base}/confirmation/confirm", med))[0] == 403  # the mediator is no applicant
    status, done, _ = await api.call("POST", f"{base}/confirmation/confirm", c["respondent"])
    assert status == 200 and done["submitted_at"] and done["state"] == "confirmation_applied", done

    # the court's queue: this court's judges only
    queue = (await api.call("GET", "/api/v1/court/applications", judge))[1]["applications"]
    assert [a["case_id"] for a in queue] == [c["case_id"]] and queue[0]["days_left"] in (14, 15)
    assert (await api.call("GET", "/api/v1/court/applications", stranger))[1]["applications"] == []
    assert (await api.call("GET", "/api/v1/court/applications", c["applicant"]))[0] == 403
    assert (await api.call("POST", f"/api/v1/court/applications/{c['case_id']}/take", stranger))[0] == 404
    assert (await api.call("GET", f"{base}/confirmation/packet", stranger))[0] == 404  # not on the case
    assert (await api.call("GET", f"{base}/confirmation/packet", c["applicant"]))[0] == 403
    assert (await api.call("GET", f"{base}/confirmation/packet", judge))[0] == 404  # before taking it
    status, taken, _ = await api.call("POST", f"/api/v1/court/applications/{c['case_id']}/take", judge)
    assert status == 200, taken

    # the packet: application, signed agreement, certificate (and whatever else the case has), with hashes
    packet = (await api.call("GET", f"{base}/confirmation/packet", judge))[1]
    kinds = [d["kind"] for d in packet["documents"]]
    assert kinds[0] == "agreement_signing" and "signing_certificate" in kinds
    assert {a["name"] for a in packet["applicants"]} == {"张三", "李四"}
    assert any(a["id_number"] for a in packet["applicants"])  # the court sees identities in full
    status, application_pdf, _ = await api.call("GET", f"{base}/documents/{packet['application']['id']}", judge)
    assert status == 200 and "司法确认申请书" in pdf_text(application_pdf)

    # one click verifies everything
    status, checked, _ = await api.call("POST", f"{base}/confirmation/verify", judge)
    assert status == 200 and checked["ok"], checked
    assert checked["agreement"]["ok"] and len(checked["agreement"]["signatures"]) == 3
    assert checked["audit"]["ok"] and all(d["intact"] for d in checked["documents"])

    # more material: a court-sealed notice served on the parties; a party hands material in
    status, asked, _ = await api.call(
        "POST", f"{base}/confirmation/requests", judge, json={"text": "请提交交通事故责任认定书原件扫描件。", "days": 5}
    )
    assert status == 201 and asked["service"]["service_id"], asked
    await c["worker"].tick()
    inbox = (await api.call("GET", f"{base}/service/inbox", c["applicant"]))[1]["services"]
    assert any(s["purpose"] == "request" for s in inbox)
    status, material, _ = await api.call(
        "POST",
        f"{base}/confirmation/materials?title=责任认定书",
        c["applicant"],
        data=b"%PDF-1.4\n%scan\n%%EOF\n",
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201 and material["kind"] == "supplementary_material"
    assert (await api.call("POST", f"{base}/confirmation/ruling", med, json={"confirmed": True}))[0] == 403

    # the ruling: a rejection needs reasons; the confirmation is signed with the court's own key
    status, body, _ = await api.call("POST", f"{base}/confirmation/ruling", judge, json={"confirmed": False})
    assert status == 422
    status, ruled, _ = await api.call(
        "POST", f"{base}/confirmation/ruling", judge, json={"confirmed": True, "reasons": "协议内容不违反法律规定。"}
    )
    assert status == 201 and ruled["confirmed"] and ruled["service"]["service_id"], ruled
    assert (await api.call("GET", base, med))[1]["state"] == "confirmed"
    ruling = (await api.call("GET", f"{base}/documents/{ruled['document']['id']}", c["respondent"]))[1]
    report = await asyncio.to_thread(verify_pdf, ruling, api.app[SIGNING].trust_roots)
    assert report.ok and report.signatures[0].signer_name == COURT, report.reasons
    court_ca = next(r for r in api.app[SIGNING].court_roots() if COURT in r.subject.rfc4514_string())
    path = tmp_path / "ruling.pdf"
    path.write_bytes(ruling)
    verdict = pdfsig(path, make_nss_db(tmp_path / "nss" / "db", court_ca))
    assert len(verdict) == 1 and verdict[0]["Signature Validation"] == "Signature is Valid.", verdict
    assert verdict[0]["Certificate Validation"] == "Certificate is Trusted.", verdict
    text = "".join(pdf_text(ruling).split())
    assert "民事裁定书" in text and "有效。" in text and c["agreement"]["sha256"] in text
    await c["worker"].tick()
    services = (await api.call("GET", f"{base}/service", c["respondent"]))[1]["services"]
    assert any(s["purpose"] == "ruling" and s["recipients"][0]["effective_at"] for s in services)
    trail = [e["action"] for e in (await api.call("GET", f"{base}/audit", med))[1]["entries"]]
    for action in ("confirmation.prepared", "confirmation.confirmed", "confirmation.submitted", "confirmation.ruled"):
        assert action in trail, action


async def test_a_late_application_is_refused_with_the_date(api: Api) -> None:
    c = await served_case(api)
    _, _judge = await account(api, AccountKind.JUDGE, "孙法官")
    api.clock.advance(timedelta(days=31))
    login = {"username": c["mediator_username"], "password": PASSWORD}
    mediator = (await api.call("POST", "/api/v1/auth/login", json=login))[1]["token"]
    status, body, _ = await api.call("POST", f"{c['base']}/confirmation", mediator, json={"court": COURT})
    assert (status, body["code"]) == (409, "confirmation_deadline_passed"), body
    assert "30 days" in body["detail"] and "ended at" in body["detail"]
    # the scheduler's next round closes the case with the reason (issue 12 item 7); before, it
    # stayed "served" for ever
    from server.app import DEADLINES

    # (the PostgreSQL database is shared by the session's tests: other served cases may come due too)
    issued = [i for i in await api.app[DEADLINES].tick() if i.case_id == c["case_id"]]
    assert [(i.kind, i.outcome) for i in issued] == [("confirmation_window", "issued")], issued
    view = (await api.call("GET", c["base"], mediator))[1]
    assert view["state"] == "closed"
    trail = (await api.call("GET", f"{c['base']}/audit", mediator))[1]
    ended = [e for e in trail["entries"] if e["action"] == "case.ended"]
    assert len(ended) == 1 and ended[0]["actor"] == "system" and trail["verification"]["ok"]
    assert await api.app[DEADLINES].tick() == []  # issued once
