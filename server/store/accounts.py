"""Accounts (the staff's logins, each in one organisation) and the store's memory of issued tokens.

:class:`server.identity.access.Authenticator` is this store's user: it checks a token against its
record here, looks accounts up by name and id, and revokes tokens (one, a subject's, or all of a
disabled account's in the same transaction that disables it). Nothing here is audited per case.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain.organisations import kind_from_name
from server.domain.roles import AccountKind
from server.errors import Duplicate, NotFound
from server.store import schema as t


@dataclass(frozen=True)
class Account:
    """A mediator's or judge's login."""

    id: str
    """Opaque identifier."""
    username: str
    """Login name."""
    display_name: str
    """Name shown on cases."""
    kind: AccountKind
    """What the account is for in its organisation (mediator, judge, administrator, clerk)."""
    organization: str
    """Its organisation's name (mediation committee, court…), as documents print it."""
    password_hash: str
    """scrypt hash (see ``server.identity.passwords``)."""
    created_at: datetime
    """When created."""
    disabled: bool = False
    """A disabled account cannot log in."""
    phone: str | None = None
    """Mobile number for one-time codes (personal data: never logged)."""
    email: str | None = None
    """E-mail address for one-time codes, if no phone."""
    organisation_id: str = ""
    """Its organisation (``server.domain.organisations``); empty when creating: found or made by name."""


@dataclass(frozen=True)
class TokenRecord:
    """The store's memory of an issued token (never the token itself)."""

    jti: str
    """Token id."""
    kind: str
    """``join`` or ``session``."""
    subject_id: str
    """Participant or account id."""
    case_id: str | None
    """Case of a join link."""
    issued_at: datetime
    """When issued."""
    expires_at: datetime
    """When it stops working."""
    revoked_at: datetime | None = None
    """When revoked, if it was."""


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        kind=AccountKind(row.kind),
        organization=row.organization,
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled=bool(row.disabled) or bool(row.org_disabled),  # a closed organisation's accounts are closed too
        phone=row.phone,
        email=row.email,
        organisation_id=row.organisation_id,
    )


_ACCOUNTS = select(t.accounts, t.organisations.c.disabled.label("org_disabled")).join(
    t.organisations, t.organisations.c.id == t.accounts.c.organisation_id
)
"""Accounts with their organisation's state."""


async def organisation_for(conn: AsyncConnection, account: Account) -> tuple[str, str]:
    """(id, name) of the organisation a new account goes into: the one named by id, else the one with its
    organisation's name, made on the spot if there is none (a court if a judge names it)."""
    orgs = t.organisations
    if account.organisation_id:
        row = (await conn.execute(select(orgs.c.id, orgs.c.name).where(orgs.c.id == account.organisation_id))).first()
        if row is None:
            raise NotFound("No such organisation")
        return row.id, row.name
    name = account.organization.strip() or UNNAMED
    row = (await conn.execute(select(orgs.c.id, orgs.c.name).where(orgs.c.name == name))).first()
    if row is not None:
        return row.id, row.name
    org_id = str(uuid.uuid4())
    kind = kind_from_name(name, account.kind is AccountKind.JUDGE, account.kind)
    await conn.execute(
        insert(orgs).values(
            id=org_id, kind=kind.value, name=name, region="", created_at=account.created_at, disabled=False
        )
    )
    return org_id, name


UNNAMED = "未指定机构"
"""The organisation of accounts created without an organisation's name."""


class AccountStore:
    """Reads and writes accounts and token records."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ accounts

    async def create_account(self, account: Account) -> str:
        """Insert an account into its organisation (see :func:`organisation_for`); return the organisation's id.

        Duplicate if the user name is taken."""
        for attempt in range(2):
            try:
                async with self.engine.begin() as conn:
                    org_id, org_name = await organisation_for(conn, account)
                    await conn.execute(
                        insert(t.accounts).values(
                            id=account.id,
                            username=account.username,
                            display_name=account.display_name,
                            kind=account.kind.value,
                            organisation_id=org_id,
                            organization=org_name,
                            password_hash=account.password_hash,
                            created_at=account.created_at,
                            disabled=account.disabled,
                            phone=account.phone,
                            email=account.email,
                        )
                    )
                return org_id
            except IntegrityError:
                # the user name is taken, or another request made the same new organisation at once: the second
                # try finds that organisation, so a second refusal is the user name.
                # from None: PostgreSQL's detail names the key's value (``Key (username)=(…)``), and a cause
                # rides along into every logged traceback
                if attempt:
                    raise Duplicate("This user name is taken") from None
        raise AssertionError("unreachable")

    async def account_by_username(self, username: str) -> Account | None:
        """The account with this login name, if any."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(_ACCOUNTS.where(t.accounts.c.username == username))).first()
        return _account(row) if row is not None else None

    async def account(self, account_id: str) -> Account:
        """One account; raise NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(_ACCOUNTS.where(t.accounts.c.id == account_id))).first()
        if row is None:
            raise NotFound("No such account")
        return _account(row)

    async def disable_account(self, account_id: str, now: datetime) -> int:
        """Disable an account and revoke its live logins, in one transaction; return how many logins."""
        async with self.engine.begin() as conn:
            await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(disabled=True))
            result = await conn.execute(
                update(t.tokens)
                .where(and_(t.tokens.c.subject_id == account_id, t.tokens.c.revoked_at.is_(None)))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    async def set_password(self, account_id: str, password_hash: str, now: datetime) -> int:
        """Replace an account's password and revoke its live logins, in one transaction; return how many."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.accounts).where(t.accounts.c.id == account_id).values(password_hash=password_hash)
            )
            result = await conn.execute(
                update(t.tokens)
                .where(and_(t.tokens.c.subject_id == account_id, t.tokens.c.revoked_at.is_(None)))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    async def set_contacts(self, account_id: str, phone: str | None, email: str | None) -> None:
        """Where the account's one-time codes go."""
        async with self.engine.begin() as conn:
            await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(phone=phone, email=email))

    async def accounts_of(self, organisation_id: str) -> list[Account]:
        """Every account of an organisation, by kind and name."""
        query = _ACCOUNTS.where(t.accounts.c.organisation_id == organisation_id).order_by(
            t.accounts.c.kind, t.accounts.c.username
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_account(r) for r in rows]

    # ------------------------------------------------------------------ tokens

    async def record_token(self, token: TokenRecord) -> None:
        """Remember an issued token's id so it can be checked and revoked."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.tokens).values(
                    jti=token.jti,
                    kind=token.kind,
                    subject_id=token.subject_id,
                    case_id=token.case_id,
                    issued_at=token.issued_at,
                    expires_at=token.expires_at,
                    revoked_at=token.revoked_at,
                )
            )

    async def token(self, jti: str) -> TokenRecord | None:
        """What the store knows of a token id."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.tokens).where(t.tokens.c.jti == jti))).first()
        if row is None:
            return None
        return TokenRecord(
            row.jti, row.kind, row.subject_id, row.case_id, row.issued_at, row.expires_at, row.revoked_at
        )

    async def live_token(
        self, subject_id: str, kind: str, jti_prefix: str, expires_after: datetime, expires_by: datetime
    ) -> TokenRecord | None:
        """The subject's unrevoked token of ``kind`` whose id starts with ``jti_prefix`` and that expires in
        (``expires_after``, ``expires_by``]: the one that lives longest, if any."""
        tk = t.tokens
        query = (
            select(tk)
            .where(
                tk.c.subject_id == subject_id,
                tk.c.kind == kind,
                tk.c.jti.startswith(jti_prefix, autoescape=True),
                tk.c.revoked_at.is_(None),
                tk.c.expires_at > expires_after,
                tk.c.expires_at <= expires_by,
            )
            .order_by(tk.c.expires_at.desc(), tk.c.jti)
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return TokenRecord(row.jti, row.kind, row.subject_id, row.case_id, row.issued_at, row.expires_at)

    async def revoke_tokens(
        self, subject_id: str, now: datetime, jti: str | None = None, kinds: Sequence[str] | None = None
    ) -> int:
        """Revoke one token (``jti``) or all of a subject's (of ``kinds`` only, if given); return how many were live."""
        where = [t.tokens.c.subject_id == subject_id, t.tokens.c.revoked_at.is_(None)]
        if jti is not None:
            where.append(t.tokens.c.jti == jti)
        if kinds is not None:
            where.append(t.tokens.c.kind.in_(list(kinds)))
        async with self.engine.begin() as conn:
            result = await conn.execute(update(t.tokens).where(and_(*where)).values(revoked_at=now))
        return int(result.rowcount)
