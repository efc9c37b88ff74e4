"""The electronic accident finding over real HTTP, with the scene stage's own reports (SQLite and PostgreSQL): the
officer's finding, both drivers signing from their scene links at the same moment, the report moving to
``signed``, pdfsig validating the unit's certification and both signatures; who may touch it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.domain.roles import AccountKind
from server.notify import OutboxNotifier
from server.scene.finding_endpoints import FINDINGS
from tests.builders import code_for, found_report, mark, staff_of
from tests.conftest import Api
from tests.pdfs import make_nss_db, pdfsig, require_pdf_tools

require_pdf_tools()

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)]

SCENE = "/api/v1/scene-reports"
DESK = "/api/v1/police/scene-reports"
PHONES = {1: "13900000011", 2: "13900000022"}  # tests.builders.SCENE_DRIVERS


async def test_both_drivers_sign_from_their_phones_and_the_report_is_signed(api: Api, tmp_path: Path) -> None:
    api.clock.now = datetime.now(UTC)  # pdfsig judges certificates at the real time: sign at it
    report = await found_report(api)
    rid, tokens, officer = report["id"], report["tokens"], report["officer"]
    outbox = OutboxNotifier()
    api.app[FINDINGS].notifier = outbox

    status, out, _ = await api.call("GET", f"{DESK}/{rid}/finding/signing", officer)
    assert status == 200, out
    assert out["complete"] is False and out["you"] is None and out["document"]["seq"] == 0
    status, out, _ = await api.call("GET", f"{SCENE}/{rid}/finding", tokens[2])
    assert status == 200 and out["you"] == 2 and [d["name"] for d in out["drivers"]] == ["孙一", "周二"]
    status, pdf, resp = await api.call("GET", f"{SCENE}/{rid}/finding/document", tokens[1])
    assert status == 200 and resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-SHA256"] == hashlib.sha256(pdf).hexdigest()

    for n in (1, 2):
        status, sent, _ = await api.call("POST", f"{SCENE}/{rid}/finding/code", tokens[n])
        assert status == 201 and sent["to"] == PHONES[n][:3] + "****" + PHONES[n][-4:], sent
    codes = {n: code_for(outbox, PHONES[n]) for n in (1, 2)}
    results = await asyncio.gather(
        *(
            api.call("POST", f"{SCENE}/{rid}/finding/signature", tokens[n], json={"code": codes[n], "mark": mark()})
            for n in (1, 2)
        )
    )
    assert [r[0] for r in results] == [201, 201], [r[1] for r in results]
    replay = await api.call(
        "POST", f"{SCENE}/{rid}/finding/signature", tokens[1], json={"code": codes[1], "mark": mark()}
    )
    assert replay[0] == 409 and replay[1]["code"] == "illegal_transition"

    status, out, _ = await api.call("GET", f"{DESK}/{rid}/finding/signing", officer)
    assert out["complete"] is True and out["state"] == "signed" and out["document"]["seq"] == 2
    assert all(d["signed_at"] for d in out["drivers"])
    status, view, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[1])
    assert view["state"] == "signed"

    status, pdf, _ = await api.call("GET", f"{DESK}/{rid}/finding/document", officer)
    assert status == 200 and hashlib.sha256(pdf).hexdigest() == out["document"]["sha256"]
    path = tmp_path / "finding.pdf"
    path.write_bytes(pdf)
    found = pdfsig(path, make_nss_db(tmp_path / "nss", api.app[FINDINGS].keys.ca.certificate))
    assert [e["Signature Field Name"] for e in found][0] == "Signature_police"
    assert sorted(e["Signature Field Name"] for e in found[1:]) == ["Signature_driver1", "Signature_driver2"]
    for entry in found:
        assert entry["Signature Validation"] == "Signature is Valid.", entry
        assert entry["Certificate Validation"] == "Certificate is Trusted.", entry
    assert sorted(e["Signer Certificate Common Name"] for e in found[1:]) == ["周二", "孙一"]


async def test_only_the_reports_drivers_and_units_officers_reach_the_finding(api: Api) -> None:
    report = await found_report(api)
    other = await found_report(api, "另一区公安局交通警察大队")
    rid = report["id"]
    for token in (other["tokens"][1], other["officer"]):  # another report's driver, another unit's officer
        path = f"{SCENE}/{rid}/finding" if token != other["officer"] else f"{DESK}/{rid}/finding/signing"
        assert (await api.call("GET", path, token))[0] == 404
    assert (await api.call("GET", f"{SCENE}/{rid}/finding/document", other["tokens"][2]))[0] == 404
    assert (await api.call("POST", f"{SCENE}/{rid}/finding/code", other["tokens"][1]))[0] == 404
    mediator = await staff_of(api, AccountKind.MEDIATOR, "示范调解委员会", "王调解员")
    assert (await api.call("GET", f"{DESK}/{rid}/finding/signing", mediator))[0] == 403
    assert (await api.call("GET", f"{SCENE}/{rid}/finding", mediator))[0] == 401
    assert (await api.call("GET", f"{DESK}/{rid}/finding/signing", report["tokens"][1]))[0] == 401
    bad = await api.call(
        "POST", f"{SCENE}/{rid}/finding/signature", report["tokens"][1], json={"code": "12", "mark": "x"}
    )
    assert bad[0] == 422
