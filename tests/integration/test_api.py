"""The HTTP API over real HTTP on both databases: access control, role filtering, error paths."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest

from server.domain.roles import AccountKind
from tests.builders import PASSWORD, account, case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


async def test_health_and_security_headers(api: Api) -> None:
    status, body, resp = await api.call("GET", "/api/v1/health")
    assert status == 200 and body["status"] == "ok" and body["database"] == "ok"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_party_link_opens_only_its_own_case_and_hides_other_contacts(api: Api) -> None:
    c = await case_with_parties(api)
    status, me, _ = await api.call("GET", "/api/v1/me", c["applicant"])
    assert status == 200 and me["role"] == "applicant" and me["case_id"] == c["case_id"]
    status, view, resp = await api.call("GET", f"/api/v1/cases/{c['case_id']}", c["applicant"])
    assert status == 200
    assert resp.headers["ETag"] == f'"{view["version"]}"'
    by_role = {p["role"]: p for p in view["participants"]}
    assert by_role["applicant"]["phone"] == "13912345678"
    assert by_role["applicant"]["id_number"] == "110***********1234"
    assert "phone" not in by_role["respondent"] and "email" not in by_role["respondent"]
    assert "13987654321" not in str(view) and "li@example.org" not in str(view)
    assert "documents" in view and view["your_role"] == "applicant"
    # the mediator sees every contact detail in full
    status, full, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}", c["mediator"])
    by_role = {p["role"]: p for p in full["participants"]}
    assert by_role["respondent"]["email"] == "li@example.org"
    assert by_role["applicant"]["id_number"] == "110101199001011234"


async def test_judge_on_the_case_sees_all_and_lists_it(api: Api) -> None:
    c = await case_with_parties(api)
    judge_name, judge = await account(api, AccountKind.JUDGE)
    status, body, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/participants",
        c["mediator"],
        json={"role": "judge", "display_name": "陈法官", "account_username": judge_name},
    )
    assert status == 201 and body["link"] is None
    status, view, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}", judge)
    assert status == 200 and view["your_role"] == "judge"
    assert {p["role"]: p for p in view["participants"]}["respondent"]["phone"] == "13987654321"
    status, page, _ = await api.call("GET", "/api/v1/cases", judge)
    assert status == 200 and [i["id"] for i in page["items"]] == [c["case_id"]]
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/participants", judge, json={"role": "observer", "display_name": "x"}
    )
    assert (status, body["code"]) == (403, "forbidden")
    status, body, _ = await api.call("POST", "/api/v1/cases", judge, json={"kind": "traffic_accident", "title": "x"})
    assert (status, body["code"]) == (403, "forbidden")


async def test_401_paths(api: Api) -> None:
    c = await case_with_parties(api)
    path = f"/api/v1/cases/{c['case_id']}"
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nonsense"}):
        status, body, resp = await api.call("GET", path, headers=headers)
        assert status == 401 and body["code"] == "unauthenticated"
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    forged = c["applicant"][:-3] + ("AAA" if not c["applicant"].endswith("AAA") else "BBB")
    status, body, _ = await api.call("GET", path, forged)
    assert (status, body["code"]) == (401, "unauthenticated")
    api.clock.advance(api.settings.join_link_ttl + timedelta(seconds=1))
    status, body, _ = await api.call("GET", path, c["applicant"])
    assert (status, body["code"]) == (401, "token_expired")
    status, body, _ = await api.call("GET", path, c["mediator"])
    assert (status, body["code"]) == (401, "token_expired")


async def test_403_paths(api: Api) -> None:
    c = await case_with_parties(api)
    cid = c["case_id"]
    for method, path, payload in (
        ("POST", f"/api/v1/cases/{cid}/participants", {"role": "observer", "display_name": "x"}),
        ("POST", f"/api/v1/cases/{cid}/sessions", {"starts_at": "2026-11-24T09:00:00+08:00"}),
        ("POST", f"/api/v1/cases/{cid}/withdraw", {"reason": "x"}),
        ("GET", f"/api/v1/cases/{cid}/audit", None),
        ("DELETE", f"/api/v1/cases/{cid}/participants/{c['respondent_id']}/link", None),
        ("GET", "/api/v1/cases", None),
        ("POST", "/api/v1/cases", {"kind": "traffic_accident", "title": "x"}),
    ):
        status, body, _ = await api.call(method, path, c["applicant"], json=payload)
        assert (status, body["code"]) == (403, "forbidden"), (method, path, body)
    # nothing was changed by those attempts
    _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", c["mediator"])
    assert view["state"] == "filed" and len(view["participants"]) == 3


async def test_404_paths_do_not_reveal_other_cases(api: Api) -> None:
    c1 = await case_with_parties(api)
    c2 = await case_with_parties(api)
    for token in (c1["applicant"], c1["mediator"]):
        status, body, _ = await api.call("GET", f"/api/v1/cases/{c2['case_id']}", token)
        assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("GET", f"/api/v1/cases/{uuid.uuid4()}", c1["mediator"])
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("GET", "/api/v1/cases/" + "x" * 300, c1["mediator"])
    assert status == 404
    status, body, _ = await api.call(
        "DELETE", f"/api/v1/cases/{c1['case_id']}/participants/{c2['applicant_id']}/link", c1["mediator"]
    )
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("GET", "/api/v1/no-such-route")
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("PATCH", "/api/v1/health")
    assert (status, body["code"]) == (405, "method_not_allowed")


async def test_409_412_and_the_life_cycle_through_http(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    starts = (api.clock() + timedelta(hours=2)).isoformat()
    status, body, resp = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, json={"starts_at": starts})
    assert status == 201 and body["case"]["state"] == "session_scheduled"
    sid, version = body["session_id"], body["case"]["version"]
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/end", med)
    assert (status, body["code"]) == (409, "illegal_transition")
    assert body["detail"] == 'Cannot end a session in state "session_scheduled"'
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/sessions/{sid}/start", med, headers={"If-Match": f'"{version - 1}"'}
    )
    assert (status, body["code"]) == (412, "precondition_failed")
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/sessions/{sid}/start", med, headers={"If-Match": f'"{version}"'}
    )
    assert status == 200 and body["state"] == "in_session"
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/end", med)
    assert status == 200 and body["state"] == "between_sessions"
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/refer-to-litigation", med, json={"reason": "无法达成一致"}
    )
    assert status == 200 and body["state"] == "mediation_failed"
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/withdraw", med, json={})
    assert (status, body["code"]) == (409, "illegal_transition")
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/participants", med, json={"role": "observer", "display_name": "late"}
    )
    assert (status, body["code"]) == (409, "illegal_transition")
    _, view, _ = await api.call("GET", "/api/v1/cases", med)
    number = next(i["number"] for i in view["items"] if i["id"] == cid)
    status, body, _ = await api.call(
        "POST", "/api/v1/cases", med, json={"kind": "traffic_accident", "title": "d", "number": number}
    )
    assert (status, body["code"]) == (409, "duplicate")


async def test_concurrent_writes_with_the_same_version_one_wins(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    starts = (api.clock() + timedelta(hours=2)).isoformat()
    results = await asyncio.gather(
        *(
            api.call(
                "POST",
                f"/api/v1/cases/{cid}/sessions",
                med,
                json={"starts_at": starts},
                headers={"If-Match": str(view["version"])},
            )
            for _ in range(2)
        )
    )
    statuses = sorted(r[0] for r in results)
    assert statuses[0] == 201 and statuses[1] in (409, 412), [r[1] for r in results]
    _, after, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    assert len(after["sessions"]) == 1
    # without If-Match both are re-checked against fresh state, and both land
    results = await asyncio.gather(
        *(api.call("POST", f"/api/v1/cases/{cid}/sessions", med, json={"starts_at": starts}) for _ in range(2))
    )
    assert [r[0] for r in results] == [201, 201]
    _, after, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    assert len(after["sessions"]) == 3
    _, trail, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    assert trail["verification"]["ok"] is True


async def test_422_paths(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    bad_bodies: list[tuple[str, Any]] = [
        ("participants", {"role": "applicant"}),
        ("participants", {"role": "emperor", "display_name": "x"}),
        ("participants", {"role": "applicant", "display_name": 5}),
        ("participants", {"role": "applicant", "display_name": "x" * 201}),
        ("participants", {"role": "applicant", "display_name": "x", "phone": "call me"}),
        ("participants", {"role": "applicant", "display_name": "x", "is_admin": True}),
        ("participants", {"role": "applicant", "display_name": "x", "id_number": "1" * 33}),
        ("participants", ["not", "an", "object"]),
        ("participants", "just a string"),
        ("sessions", {"starts_at": "tomorrow"}),
        ("sessions", {"starts_at": "2026-11-24T09:00:00"}),
        ("sessions", {"starts_at": "2026-11-24T09:00:00Z", "duration_minutes": "60"}),
        ("sessions", {"starts_at": "2026-11-24T09:00:00Z", "duration_minutes": 100000}),
    ]
    for sub, payload in bad_bodies:
        status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/{sub}", med, json=payload)
        assert (status, body["code"]) == (422, "validation_failed"), (payload, body)
        assert body["errors"], body
        assert set(body["errors"][0]) == {"field", "message", "type"}
        assert "call me" not in str(body)  # submitted values are never echoed back
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/participants", med, json={"role": "judge", "display_name": "x"}
    )
    assert (status, body["code"]) == (422, "invalid_command")
    past = (api.clock() - timedelta(days=1)).isoformat()
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, json={"starts_at": past})
    assert (status, body["code"]) == (422, "invalid_command")
    status, body, _ = await api.call("GET", "/api/v1/cases?limit=0", med)
    assert (status, body["code"]) == (422, "validation_failed")
    status, body, _ = await api.call("GET", "/api/v1/cases?state=nonsense", med)
    assert (status, body["code"]) == (422, "validation_failed")
    status, body, _ = await api.call("GET", "/api/v1/cases?colour=red", med)
    assert (status, body["code"]) == (422, "validation_failed")
    _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    assert len(view["participants"]) == 3 and view["sessions"] == []


async def test_bad_transport_input_stores_nothing(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    _, before, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    url = f"/api/v1/cases/{cid}/participants"
    auth = {"Authorization": f"Bearer {med}"}
    cases = [
        (
            {**auth, "Content-Type": "application/json"},
            b'{"role": "applicant", "display_name": ',
            400,
            "malformed_json",
        ),
        ({**auth, "Content-Type": "application/json"}, b"\xff\xfe\x00", 400, "malformed_json"),
        (
            {**auth, "Content-Type": "text/plain"},
            b'{"role": "applicant", "display_name": "x"}',
            415,
            "unsupported_media_type",
        ),
        (
            {**auth, "Content-Type": "application/json"},
            b'{"display_name": "' + b"x" * 70_000 + b'"}',
            413,
            "payload_too_large",
        ),
    ]
    for headers, data, want_status, want_code in cases:
        async with api.http.post(api.base + url, data=data, headers=headers) as resp:
            body = await resp.json(content_type=None)
            assert (resp.status, body["code"]) == (want_status, want_code), body
            assert "Traceback" not in str(body)

    # chunked upload without Content-Length is limited too
    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    async with api.http.post(
        api.base + url, data=chunks(), headers={**auth, "Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 413
    _, after, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    assert len(after["entries"]) == len(before["entries"])
    status, page, _ = await api.call("GET", "/api/v1/cases", med)
    assert page["total"] == 1


async def test_login_throttle_and_logout(api: Api) -> None:
    username, token = await account(api, AccountKind.MEDIATOR)
    for _ in range(5):
        status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": username, "password": "wrong"})
        assert (status, body["code"]) == (401, "unauthenticated")
    status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert (status, body["code"]) == (429, "too_many_attempts")
    status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert (status, body["code"]) == (401, "unauthenticated")
    status, _, _ = await api.call("POST", "/api/v1/auth/logout", token)
    assert status == 204
    status, body, _ = await api.call("GET", "/api/v1/me", token)
    assert (status, body["code"]) == (401, "token_revoked")


async def test_revoked_link_never_works_again_and_a_new_one_does(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med, pid = c["case_id"], c["mediator"], c["respondent_id"]
    status, body, _ = await api.call("DELETE", f"/api/v1/cases/{cid}/participants/{pid}/link", med)
    assert (status, body) == (200, {"revoked": 1})
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}", c["respondent"])
    assert (status, body["code"]) == (401, "token_revoked")
    status, link, _ = await api.call("POST", f"/api/v1/cases/{cid}/participants/{pid}/link", med)
    assert status == 201
    status, _, _ = await api.call("GET", f"/api/v1/cases/{cid}", link["token"])
    assert status == 200
    status, again, _ = await api.call("POST", f"/api/v1/cases/{cid}/participants/{pid}/link", med)
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}", link["token"])
    assert (status, body["code"]) == (401, "token_revoked")
    status, _, _ = await api.call("GET", f"/api/v1/cases/{cid}", again["token"])
    assert status == 200
    _, trail, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    actions = [e["action"] for e in trail["entries"]]
    assert actions.count("link.revoked") == 3 and actions.count("link.issued") == 4


async def test_documents_are_content_addressed_and_visibility_is_enforced(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    pdf = b"%PDF-1.7\n% liability finding\n"
    status, shared, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/documents?kind=liability_finding&title=责任认定书&visibility=parties",
        med,
        data=pdf,
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201 and shared["size"] == len(pdf)
    import hashlib

    assert shared["sha256"] == hashlib.sha256(pdf).hexdigest()
    status, staff, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/documents?kind=note&title=内部备注",
        med,
        data=b"internal",
        headers={"Content-Type": "text/plain"},
    )
    assert status == 201 and staff["visibility"] == "staff"
    status, data, resp = await api.call("GET", f"/api/v1/cases/{cid}/documents/{shared['id']}", c["applicant"])
    assert status == 200 and data == pdf and resp.headers["X-Content-SHA256"] == shared["sha256"]
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/documents/{staff['id']}", c["applicant"])
    assert (status, body["code"]) == (404, "not_found")
    _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", c["applicant"])
    assert [d["id"] for d in view["documents"]] == [shared["id"]]
    status, body, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/documents?kind=x1&title=t",
        med,
        data=b"MZ\x90",
        headers={"Content-Type": "application/x-msdownload"},
    )
    assert (status, body["code"]) == (415, "unsupported_media_type")


async def test_audit_trail_records_who_did_what(api: Api) -> None:
    c = await case_with_parties(api)
    status, trail, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/audit", c["mediator"])
    assert status == 200
    assert trail["verification"] == {
        "ok": True,
        "entries": len(trail["entries"]),
        "first_bad_seq": None,
        "problem": None,
        "summary": f"{len(trail['entries'])} entries, chain intact",
    }
    actions = [e["action"] for e in trail["entries"]]
    # the mediator who files a case holds it at once: named, accepted, the mediation period running
    assert actions[:5] == ["case.filed", "case.assigned", "assignment.accepted", "period.started", "participant.added"]
    assert actions.count("participant.added") == 3
    assert all(e["actor"].startswith("account:") for e in trail["entries"])
    assert "13912345678" not in str(trail) and "张三" not in str(trail)


async def test_personal_data_and_tokens_never_reach_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = await case_with_parties(api)
    await api.call("GET", f"/api/v1/cases/{c['case_id']}", c["applicant"])
    await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/participants",
        c["mediator"],
        json={"role": "applicant", "display_name": "x", "phone": "bad phone 13912345678"},
    )
    await api.call("GET", f"/api/v1/cases/{c['case_id']}/audit", c["mediator"])
    # a NUL, refused by PostgreSQL with a driver error that used to quote the statement's parameters;
    # anyone can send one in a login name (issue 12 item 8)
    await api.call("POST", "/api/v1/auth/login", json={"username": "13800000001\u0000", "password": PASSWORD})
    await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/participants",
        c["mediator"],
        json={
            "role": "respondent",
            "display_name": "张\u0000三",
            "phone": "13800000002",
            "id_number": "110101199001011234",
        },
    )
    # the messages and everything a handler prints with them (tracebacks, exception texts)
    logged = "\n".join(r.getMessage() for r in caplog.records) + "\n" + caplog.text
    assert "logged in" in logged  # the log did capture the flow
    for secret in (
        "13912345678",
        "110101199001011234",
        "13987654321",
        "13800000001",
        "13800000002",
        "li@example.org",
        c["applicant"],
        c["mediator"],
        PASSWORD,
    ):
        assert secret not in logged


async def test_generated_case_number_collision_draws_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, mediator = await account(api, AccountKind.MEDIATOR)
    status, first, _ = await api.call(
        "POST", "/api/v1/cases", mediator, json={"kind": "traffic_accident", "title": "a"}
    )
    assert status == 201
    numbers = iter([first["number"], "TJ-FRESH-0001"])
    monkeypatch.setattr("server.cases.usecases._case_number", lambda now: next(numbers))
    status, second, _ = await api.call(
        "POST", "/api/v1/cases", mediator, json={"kind": "traffic_accident", "title": "b"}
    )
    assert (status, second["number"]) == (201, "TJ-FRESH-0001")
