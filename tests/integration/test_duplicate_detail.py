"""A duplicate user name or case number is refused without the database's own detail (issue 12 follow-up b).

PostgreSQL's unique-violation message names the key and its value (``Key (username)=(…) already
exists``). The repository turns it into :class:`~server.errors.Duplicate`; the original must not ride
along as the cause, where any logged traceback (``logger.exception``, the CLI, an error reporter) would
print it.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from datetime import UTC, datetime

import pytest

from server.domain.roles import AccountKind
from server.errors import Duplicate
from server.identity.access import new_id
from server.store.accounts import Account, AccountStore
from server.store.repository import CaseRepository

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def account(username: str) -> Account:
    return Account(new_id(), username, "王调解员", AccountKind.MEDIATOR, "人民调解委员会", "not-a-login", NOW)


async def test_a_taken_user_name_is_refused_without_naming_it(
    repo: CaseRepository, caplog: pytest.LogCaptureFixture
) -> None:
    username = f"zhangsan-{uuid.uuid4().hex[:8]}"
    accounts = AccountStore(repo.engine)
    await accounts.create_account(account(username))
    with pytest.raises(Duplicate) as caught:
        await accounts.create_account(account(username))
    assert str(caught.value) == "This user name is taken"
    logger = logging.getLogger("tests.duplicate")
    with caplog.at_level(logging.DEBUG):
        logger.exception("creating an account failed", exc_info=caught.value)
    printed = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert "This user name is taken" in printed
    assert username not in printed
    assert "already exists" not in printed and "UNIQUE constraint" not in printed
