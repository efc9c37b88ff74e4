"""Parties rate an ended session once, privately from the mediator; the organisation's administrator reads its
mediators' figures, computed by the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from server.domain.roles import AccountKind
from tests.builders import COURT, between_sessions, judge_of, staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


async def test_parties_rate_once_the_mediator_never_sees_it_the_administrator_sees_the_figures(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    view = (await api.call("GET", base, c["mediator"]))[1]
    session = view["sessions"][0]["id"]
    url = f"{base}/sessions/{session}/rating"

    status, mine, _ = await api.call("GET", url, c["applicant"])
    assert status == 200 and (mine["ended"], mine["rated"], mine["rating"]) == (True, False, None)  # not rated yet
    status, rated, _ = await api.call(
        "POST", url, c["applicant"], json={"score": 5, "comment": "调解员很耐心。\n谢谢。"}
    )
    assert status == 201 and rated["score_name"] == "非常满意", rated
    assert (await api.call("GET", url, c["applicant"]))[1]["rating"]["comment"] == "调解员很耐心。\n谢谢。"
    assert (await api.call("POST", url, c["respondent"], json={"score": 2}))[0] == 201
    status, again, _ = await api.call("POST", url, c["applicant"], json={"score": 1})
    assert (status, again["code"]) == (409, "duplicate")  # once: no second thoughts, no ballot stuffing
    assert (await api.call("GET", url, c["applicant"]))[1]["rating"]["score"] == 5

    # the mediator and the judge do not rate, and read nothing of it
    assert (await api.call("POST", url, c["mediator"], json={"score": 5}))[0] == 403
    assert (await api.call("GET", url, c["mediator"]))[0] == 403
    judge = await judge_of(api, COURT, "赵法官")
    assert (await api.call("POST", url, judge, json={"score": 5}))[0] == 404  # not on the case
    for where in (base, f"{base}/audit"):
        text = json.dumps((await api.call("GET", where, c["mediator"]))[1], ensure_ascii=False)
        assert "调解员很耐心" not in text and "rating" not in text

    # a session that has not ended is not rated
    starts = (api.clock()).isoformat()
    status, body, _ = await api.call("POST", f"{base}/sessions", c["mediator"], json={"starts_at": starts})
    assert status == 201, body
    status, problem, _ = await api.call(
        "POST", f"{base}/sessions/{body['session_id']}/rating", c["applicant"], json={"score": 4}
    )
    assert (status, problem["code"]) == (409, "session_not_ended")
    assert (await api.call("POST", f"{base}/sessions/{uuid.uuid4()}/rating", c["applicant"], json={"score": 4}))[
        0
    ] == 404

    # the mediator's organisation (the court that holds their accounts): its administrator sees the figures
    _, admin, admin_account = await staff_account(api, AccountKind.ORG_ADMIN, COURT)
    figures_url = f"/api/v1/organisations/{admin_account.organisation_id}/figures"
    status, figures, _ = await api.call("GET", figures_url, admin)
    assert status == 200, figures
    mediator_id = (await api.call("GET", "/api/v1/me", c["mediator"]))[1]["account_id"]
    [mine] = [m for m in figures["mediators"] if m["account_id"] == mediator_id]
    assert (mine["cases"], mine["ratings"], mine["average_score"]) == (1, 2, 3.5)
    assert "调解员很耐心" not in json.dumps(figures, ensure_ascii=False)
    assert (await api.call("GET", figures_url, c["mediator"]))[0] == 403
    _, other_admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, f"另一调委会{uuid.uuid4().hex[:6]}")
    assert (await api.call("GET", figures_url, other_admin))[0] == 404


@pytest.mark.parametrize(
    "body",
    [
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": 4.5},
        {"score": 1e300},
        {"score": True},
        {"score": 3, "comment": "x" * 501},
        {"score": 3, "comment": "坏\u0000字符"},
        {"score": 3, "extra": 1},
        {},
    ],
)
async def test_bad_ratings_are_refused_with_a_problem(api: Api, body: dict[str, Any]) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    session = (await api.call("GET", base, c["mediator"]))[1]["sessions"][0]["id"]
    status, problem, resp = await api.call("POST", f"{base}/sessions/{session}/rating", c["applicant"], json=body)
    assert status == 422 and resp.headers["Content-Type"].startswith("application/problem+json"), problem
    assert (await api.call("GET", f"{base}/sessions/{session}/rating", c["applicant"]))[1]["rated"] is False
