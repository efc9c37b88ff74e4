"""The address for service is confirmed at most MAX_PER_HOUR times per party in an hour (each confirmation
renders and seals a PDF, about 1.5 s of CPU), over the real server on SQLite and PostgreSQL: the next is
refused with 429, Retry-After and problem+json and writes nothing; the other party is not held back; an hour
after the first, the party may confirm again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.e_service.addresses import MAX_PER_HOUR
from tests.builders import case_with_parties
from tests.conftest import Api
from tests.pdfs import require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

FORM = {"postal_address": "北京市朝阳区建国路88号", "electronic": False, "acknowledged": True}


async def test_a_party_confirming_too_often_is_told_when_to_try_again(api: Api) -> None:
    c = await case_with_parties(api)
    base = f"/api/v1/cases/{c['case_id']}"
    for n in range(MAX_PER_HOUR):
        status, done, _ = await api.call("PUT", f"{base}/service-address", c["applicant"], json=FORM)
        assert status == 200, (n, done)
        api.clock.advance(timedelta(minutes=5))
    documents = len((await api.call("GET", base, c["mediator"]))[1]["documents"])

    # 25 minutes after the first of five: refused until that first one is an hour old
    status, problem, resp = await api.call("PUT", f"{base}/service-address", c["applicant"], json=FORM)
    assert status == 429, problem
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert problem["code"] == "too_many_attempts"
    assert 35 * 60 <= int(resp.headers["Retry-After"]) <= 35 * 60 + 2
    assert len((await api.call("GET", base, c["mediator"]))[1]["documents"]) == documents  # no PDF, no row
    entries = (await api.call("GET", f"{base}/audit", c["mediator"]))[1]["entries"]
    assert sum(e["action"] == "service.address_confirmed" for e in entries) == MAX_PER_HOUR

    # the other party is counted on their own
    status, _, _ = await api.call("PUT", f"{base}/service-address", c["respondent"], json=FORM)
    assert status == 200

    # once the first confirmation is an hour old, one more is allowed, and then the limit holds again
    api.clock.advance(timedelta(minutes=35, seconds=1))
    status, again, _ = await api.call("PUT", f"{base}/service-address", c["applicant"], json=FORM)
    assert status == 200, again
    status, _, resp = await api.call("PUT", f"{base}/service-address", c["applicant"], json=FORM)
    assert status == 429 and int(resp.headers["Retry-After"]) <= 5 * 60 + 2
