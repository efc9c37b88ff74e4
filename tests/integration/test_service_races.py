"""Two nodes record a recipient's flag or first opening once, in the audit trail too (issue 12 follow-up).

Each node reads what needs recording, then writes it with its audit entry under the case's lock. When
another node wrote first in between, the conditional update changes nothing: the audit entry must
not be written either (the audit trail is evidence; it must not say a recipient was flagged twice).

The interleaving is made real, not simulated: node B's store reads the database, then node A runs
its whole round, then node B writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.app import DELIVERIES
from server.e_service.endpoints import SERVING
from server.e_service.store import RecipientRow, ServiceRow, ServiceStore
from server.e_service.usecases import ServingService
from tests.builders import case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


class ReadThenWait(ServiceStore):
    """Node B's store: after each read of recipients, node A gets its turn (once)."""

    def __init__(self, serving: ServingService, meanwhile: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(serving.store.engine)
        self.meanwhile: Callable[[], Awaitable[Any]] | None = meanwhile

    async def _turn(self) -> None:
        if self.meanwhile is not None:
            other, self.meanwhile = self.meanwhile, None
            await other()

    async def overdue(self, now: datetime) -> list[tuple[ServiceRow, RecipientRow]]:
        rows = await super().overdue(now)
        await self._turn()
        return rows

    async def recipients(self, case_id: str, service_id: str | None = None) -> list[RecipientRow]:
        rows = await super().recipients(case_id, service_id)
        await self._turn()
        return rows


def node_b(api: Api, meanwhile: Callable[[], Awaitable[Any]]) -> ServingService:
    a: ServingService = api.app[SERVING]
    return ServingService(a.cases, ReadThenWait(a, meanwhile), a.notifier, a.base_url, a.keys)


async def served_by_mail(api: Api) -> dict[str, Any]:
    """A document served on the respondent by e-mail through the log-only channel (never accepted)."""
    await api.app[DELIVERIES].close()  # the test runs the rounds itself
    c = await case_with_parties(api)
    base = c["base"] = f"/api/v1/cases/{c['case_id']}"
    status, _, _ = await api.call("POST", f"{base}/service/consent", c["respondent"], json={"channels": ["email"]})
    assert status == 201
    status, doc, _ = await api.call(
        "POST",
        f"{base}/documents?kind=liability_finding&title=责任认定书&visibility=parties",
        c["mediator"],
        data=b"%PDF-1.7\n% liability finding\n",
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201, doc
    body = {"document_id": doc["id"], "recipients": [c["respondent_id"]], "deadline_hours": 1}
    status, service, _ = await api.call("POST", f"{base}/service", c["mediator"], json=body)
    assert status == 201, service
    c["service_id"] = service["id"]
    return c


async def actions(api: Api, case_id: str, action: str) -> int:
    entries, _ = await api.repo.audit_trail(case_id)
    return sum(1 for e in entries if e.action == action)


async def test_a_recipient_another_node_flagged_is_not_flagged_again(api: Api) -> None:
    c = await served_by_mail(api)
    api.clock.advance(timedelta(hours=1, minutes=1))
    node_a: ServingService = api.app[SERVING]
    flagged_by_a: list[int] = []

    async def a_flags() -> None:
        flagged_by_a.append(await node_a.flag_overdue(api.clock()))

    assert await node_b(api, a_flags).flag_overdue(api.clock()) == 0
    assert flagged_by_a == [1]
    assert await actions(api, c["case_id"], "service.flagged") == 1
    view = (await api.call("GET", f"{c['base']}/service", c["mediator"]))[1]["services"][0]
    assert view["recipients"][0]["flagged_at"]


async def test_a_first_opening_is_recorded_once_when_two_nodes_see_it(api: Api) -> None:
    c = await served_by_mail(api)
    node_a: ServingService = api.app[SERVING]
    link = await node_a.cases.auth.issue_service_link(
        await api.repo.participant(c["respondent_id"]), c["service_id"], timedelta(hours=1), api.clock()
    )
    principal = await node_a.cases.auth.authenticate(link.token, api.clock(), service_link=True)

    async def a_opens() -> None:
        await node_a.served_record(principal, api.clock(), download=False)

    await node_b(api, a_opens).served_record(principal, api.clock(), download=False)
    assert await actions(api, c["case_id"], "service.opened") == 1
