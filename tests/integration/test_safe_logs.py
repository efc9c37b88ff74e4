"""A database driver's error never carries a statement's parameters (personal data) into an
exception message, a traceback or the log: every engine hides them (issue 12 item 8)."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError

from server.domain.roles import AccountKind
from server.errors import Duplicate
from server.identity.access import new_id
from server.store.accounts import Account, AccountStore
from server.store.repository import CaseRepository

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PHONE = "13800000001"
NAME = "张三"


def _account(username: str, name: str = NAME) -> Account:
    return Account(new_id(), username, name, AccountKind.MEDIATOR, "某某调解委员会", "x" * 60, NOW, phone=PHONE)


def _told(exc: BaseException) -> str:
    """What a log line with this exception shows of the errors themselves: each message of the chain
    (the source lines of a traceback are code, not data)."""
    told: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        told += traceback.format_exception_only(seen)
        seen = seen.__cause__ or seen.__context__
    return "".join(told)


async def test_a_constraint_violation_does_not_show_its_parameters(repo: CaseRepository) -> None:
    """Both backends: the unique user name is refused; the driver's error behind it names none of the
    row's values (PostgreSQL's own detail still names the duplicate key: the user name)."""
    accounts = AccountStore(repo.engine)
    await accounts.create_account(_account("mediator-wang"))
    with pytest.raises(Duplicate) as caught:
        await accounts.create_account(_account("mediator-wang"))
    told = _told(caught.value)
    assert "IntegrityError" in told  # the cause is in the chain ...
    assert PHONE not in told and NAME not in told  # ... the row's values are not
    assert "hidden" in told


@pytest.mark.postgres
async def test_a_nul_in_a_name_does_not_put_the_row_into_the_message(pg_url: str) -> None:
    """PostgreSQL refuses a NUL in text; the error it raises keeps the row to itself."""
    from server.store import db

    engine = db.create_engine(pg_url)
    try:
        with pytest.raises(DBAPIError) as caught:
            await AccountStore(engine).create_account(_account("nul-name", name="张\x00三"))
        told = _told(caught.value)
        assert PHONE not in told and "nul-name" not in told and "\\x00" not in told, told
        assert "[SQL parameters hidden due to hide_parameters=True]" in told
    finally:
        await engine.dispose()
