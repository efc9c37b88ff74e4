"""What an organisation's administrator does with its accounts, and what any staff member sees of their own.

Every method takes the :class:`~server.identity.access.Principal` asking and checks it
with ``server.domain.organisations``: an administrator manages exactly their own
organisation (anyone outside it gets NotFound, its other staff Forbidden). A new
account gets a generated password, shown once to the administrator who made it; a
reset does the same and ends the account's logins; disabling ends its logins and its
live connections on every node at once. Each change is recorded in the organisation's
events (never a password, a phone number or an e-mail address).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any

from server.domain.organisations import (
    ORGANISATION_KIND_NAMES,
    STAFF_KINDS,
    Organisation,
    check_staff_kind,
    require_admin_of,
)
from server.domain.roles import ACCOUNT_KIND_NAMES, AccountKind
from server.errors import Forbidden, InvalidCommand, NotFound
from server.identity.access import Authenticator, Principal, new_id
from server.identity.passwords import hash_password
from server.identity.revocation import Revoked
from server.organisations.store import OrganisationEvent, OrganisationStore
from server.store.accounts import Account, AccountStore

UNAMBIGUOUS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Letters and digits that cannot be misread for one another (no 0/O, 1/l/I)."""
PASSWORD_LENGTH = 14
"""About 81 bits: enough for a password read off a screen once and changed later."""


def new_password() -> str:
    """A generated password for a new or reset account."""
    return "".join(secrets.choice(UNAMBIGUOUS) for _ in range(PASSWORD_LENGTH))


def organisation_view(organisation: Organisation) -> dict[str, Any]:
    """An organisation as its staff see it."""
    return {
        "id": organisation.id,
        "kind": organisation.kind.value,
        "kind_name": ORGANISATION_KIND_NAMES[organisation.kind],
        "name": organisation.name,
        "region": organisation.region,
        "disabled": organisation.disabled,
        "staff_kinds": sorted(k.value for k in STAFF_KINDS[organisation.kind]),
    }


def account_view(account: Account) -> dict[str, Any]:
    """An account as its organisation's administrator sees it (with the contacts they manage)."""
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "kind": account.kind.value,
        "kind_name": ACCOUNT_KIND_NAMES[account.kind],
        "disabled": account.disabled,
        "created_at": account.created_at.isoformat(),
        "phone": account.phone,
        "email": account.email,
    }


class OrganisationService:
    """Organisations and their accounts."""

    def __init__(self, organisations: OrganisationStore, accounts: AccountStore, auth: Authenticator) -> None:
        self.organisations = organisations
        self.accounts = accounts
        self.auth = auth

    async def _caller(self, principal: Principal) -> Account:
        if not principal.is_account:
            raise Forbidden("Only staff accounts belong to an organisation")
        return await self.accounts.account(principal.subject_id)

    async def admin_of(self, principal: Principal, organisation_id: str) -> tuple[Account, Organisation]:
        """The caller and the organisation, if the caller administers it (NotFound outside it, else Forbidden)."""
        caller = await self._caller(principal)
        require_admin_of(caller.kind, caller.organisation_id, organisation_id)
        return caller, await self.organisations.get(organisation_id)

    async def _member(self, principal: Principal, organisation_id: str, account_id: str) -> tuple[Account, Account]:
        caller, _ = await self.admin_of(principal, organisation_id)
        try:
            target = await self.accounts.account(account_id)
        except NotFound:
            raise NotFound("No such account in this organisation") from None
        if target.organisation_id != organisation_id:
            raise NotFound("No such account in this organisation")
        return caller, target

    async def mine(self, principal: Principal) -> dict[str, Any]:
        """The caller's organisation and what they are there."""
        caller = await self._caller(principal)
        organisation = await self.organisations.get(caller.organisation_id)
        return {
            "organisation": organisation_view(organisation),
            "account_kind": caller.kind.value,
            "account_kind_name": ACCOUNT_KIND_NAMES[caller.kind],
            "may_manage_accounts": caller.kind is AccountKind.ORG_ADMIN,
        }

    async def staff(self, principal: Principal, organisation_id: str) -> dict[str, Any]:
        """Every account of the organisation, and what was done to them lately."""
        _, organisation = await self.admin_of(principal, organisation_id)
        accounts = await self.accounts.accounts_of(organisation_id)
        events = await self.organisations.events(organisation_id)
        return {
            "organisation": organisation_view(organisation),
            "accounts": [account_view(a) for a in accounts],
            "events": [e.as_dict() for e in events],
        }

    async def create_account(
        self,
        principal: Principal,
        organisation_id: str,
        *,
        username: str,
        display_name: str,
        kind: AccountKind,
        phone: str | None,
        email: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """A new account in the organisation, with a generated password shown once."""
        _, organisation = await self.admin_of(principal, organisation_id)
        check_staff_kind(organisation, kind)
        password = new_password()
        account = Account(
            id=new_id(),
            username=username,
            display_name=display_name,
            kind=kind,
            organization=organisation.name,
            password_hash=await asyncio.to_thread(hash_password, password),
            created_at=now,
            phone=phone,
            email=email,
            organisation_id=organisation_id,
        )
        await self.accounts.create_account(account)
        await self.organisations.record(
            organisation_id, OrganisationEvent(now, principal.actor, "account.created", account.id)
        )
        return {"account": account_view(account), "password": password}

    async def disable(
        self, principal: Principal, organisation_id: str, account_id: str, now: datetime
    ) -> dict[str, Any]:
        """Disable an account: it cannot log in, its logins end and its live connections close at once."""
        caller, target = await self._member(principal, organisation_id, account_id)
        if target.id == caller.id:
            raise InvalidCommand("An administrator cannot disable their own account")
        await self.auth.disable_account(target.username, now)
        await self.organisations.record(
            organisation_id, OrganisationEvent(now, principal.actor, "account.disabled", target.id)
        )
        return account_view(await self.accounts.account(target.id))

    async def reset_password(
        self, principal: Principal, organisation_id: str, account_id: str, now: datetime
    ) -> dict[str, Any]:
        """A new generated password, shown once; the account's logins end."""
        _, target = await self._member(principal, organisation_id, account_id)
        password = new_password()
        await self.accounts.set_password(target.id, await asyncio.to_thread(hash_password, password), now)
        await self.auth.revocations.publish(Revoked(target.id))
        await self.organisations.record(
            organisation_id, OrganisationEvent(now, principal.actor, "account.password_reset", target.id)
        )
        return {"account": account_view(target), "password": password}

    async def set_contacts(
        self,
        principal: Principal,
        organisation_id: str,
        account_id: str,
        phone: str | None,
        email: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Where the account's one-time codes go (signing with a code needs one of them)."""
        _, target = await self._member(principal, organisation_id, account_id)
        await self.accounts.set_contacts(target.id, phone, email)
        await self.organisations.record(
            organisation_id, OrganisationEvent(now, principal.actor, "account.contacts_set", target.id)
        )
        return account_view(await self.accounts.account(target.id))
