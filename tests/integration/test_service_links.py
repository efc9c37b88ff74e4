"""Service links outlive join links, and the inbox does not mint a token per listing (issue 12 item 16).

A service link (``/served#token=…``) is how a recipient opens a document served on them; service took
effect when it reached them, so a new join link (the old one lost, say) must not take it away. The
inbox hands out short-lived service links: listing it again reuses a link that still has most of
its life, rather than minting a new one-hour token on every look.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.app import DELIVERIES
from server.store import schema as t
from tests.builders import case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


async def served_by_inbox(api: Api) -> dict[str, Any]:
    """A case with a liability finding served on the applicant through the platform inbox."""
    worker = api.app[DELIVERIES]
    await worker.close()  # the test runs the worker's rounds itself
    c = await case_with_parties(api)
    base = c["base"] = f"/api/v1/cases/{c['case_id']}"
    med = c["mediator"]
    status, _, _ = await api.call("POST", f"{base}/service/consent", c["applicant"], json={"channels": ["inbox"]})
    assert status == 201
    status, doc, _ = await api.call(
        "POST",
        f"{base}/documents?kind=liability_finding&title=责任认定书&visibility=parties",
        med,
        data=b"%PDF-1.7\n% liability finding\n",
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201, doc
    body = {"document_id": doc["id"], "recipients": [c["applicant_id"]], "deadline_hours": 24}
    status, service, _ = await api.call("POST", f"{base}/service", med, json=body)
    assert status == 201, service
    await worker.tick()
    c["service_id"] = service["id"]
    return c


async def inbox_links(api: Api, c: dict[str, Any]) -> list[str]:
    status, body, _ = await api.call("GET", f"{c['base']}/service/inbox", c["applicant"])
    assert status == 200, body
    return [s["link"].split("#token=", 1)[1] for s in body["services"]]


async def service_tokens(api: Api, participant_id: str) -> int:
    tokens = t.tokens
    query = select(func.count()).where(tokens.c.subject_id == participant_id, tokens.c.kind == "service")
    async with api.repo.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_a_new_join_link_leaves_the_service_links_already_sent(api: Api) -> None:
    c = await served_by_inbox(api)
    [served] = await inbox_links(api, c)
    assert (await api.call("GET", "/api/v1/served", served))[0] == 200
    link = f"{c['base']}/participants/{c['applicant_id']}/link"

    status, fresh, _ = await api.call("POST", link, c["mediator"])
    assert status == 201, fresh
    assert (await api.call("GET", "/api/v1/me", c["applicant"]))[0] == 401  # the old join link is gone
    assert (await api.call("GET", "/api/v1/me", fresh["token"]))[0] == 200
    status, body, _ = await api.call("GET", "/api/v1/served", served)
    assert status == 200, body  # the document served on them still opens
    assert (await api.call("GET", "/api/v1/served/document", served))[0] == 200

    status, body, _ = await api.call("DELETE", link, c["mediator"])
    assert status == 200 and body["revoked"] == 1, body  # only the live join link counts
    assert (await api.call("GET", "/api/v1/me", fresh["token"]))[0] == 401
    assert (await api.call("GET", "/api/v1/served", served))[0] == 200


async def test_listing_the_inbox_reuses_a_link_that_is_still_good(api: Api) -> None:
    c = await served_by_inbox(api)
    first = await inbox_links(api, c)
    minted = await service_tokens(api, c["applicant_id"])
    for _ in range(5):
        assert await inbox_links(api, c) == first
    assert await service_tokens(api, c["applicant_id"]) == minted  # no new token per listing
    assert (await api.call("GET", "/api/v1/served", first[0]))[0] == 200

    # half an hour on, a listed link would have less than half its hour left: a new one is handed out
    api.clock.advance(timedelta(minutes=31))
    later = await inbox_links(api, c)
    assert later != first
    assert await service_tokens(api, c["applicant_id"]) == minted + 1
    assert (await api.call("GET", "/api/v1/served", later[0]))[0] == 200
    assert (await api.call("GET", "/api/v1/served", first[0]))[0] == 200  # the old one runs out by itself
    api.clock.advance(timedelta(minutes=29))  # the first link's hour is over; the second has 31 minutes
    assert (await api.call("GET", "/api/v1/served", first[0]))[0] == 401
    assert await inbox_links(api, c) == later
