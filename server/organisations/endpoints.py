"""The organisations' endpoints: one's own organisation, and its administrator's management of its accounts."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints

from server.domain.roles import AccountKind
from server.http import schemas as s
from server.http.kit import API, Endpoint, body, now, principal, respond
from server.organisations.usecases import OrganisationService

ORGANISATIONS: web.AppKey[OrganisationService] = web.AppKey("organisations", OrganisationService)

LoginName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
"""A new account's user name: 3 to 64 letters, digits, dots, dashes and underscores."""


class CreateAccountRequest(s.Strict):
    """A new account in the organisation."""

    username: LoginName
    display_name: s.Name
    kind: Literal["mediator", "judge", "org_admin", "clerk"]
    phone: s.Phone | None = Field(default=None, description="For one-time signing codes")
    email: s.Email | None = Field(default=None, description="For one-time signing codes, if no phone")


class ContactsRequest(s.Strict):
    """Where an account's one-time codes go."""

    phone: s.Phone | None = None
    email: s.Email | None = None


class OrganisationOut(s.Open):
    """An organisation."""

    id: str
    kind: Literal["court", "peoples_mediation", "industry_mediation", "appraisal", "insurer"]
    kind_name: str
    name: str
    region: str
    disabled: bool
    staff_kinds: list[str]


class MyOrganisation(s.Open):
    """The caller's organisation and what they are there."""

    organisation: OrganisationOut
    account_kind: str
    account_kind_name: str
    may_manage_accounts: bool


class StaffAccount(s.Open):
    """An account as its organisation's administrator sees it."""

    id: str
    username: str
    display_name: str
    kind: str
    kind_name: str
    disabled: bool
    created_at: AwareDatetime
    phone: str | None
    email: str | None


class OrganisationEventOut(s.Open):
    """One thing done to the organisation's accounts."""

    at: AwareDatetime
    actor: str
    action: str
    account_id: str | None


class Staff(s.Open):
    """The organisation's accounts and the latest changes to them."""

    organisation: OrganisationOut
    accounts: list[StaffAccount]
    events: list[OrganisationEventOut]


class NewPassword(s.Open):
    """An account with the password just generated for it: shown this once."""

    account: StaffAccount
    password: str


def _org(request: web.Request) -> str:
    return request.match_info["organisation_id"]


def _account(request: web.Request) -> str:
    return request.match_info["account_id"]


async def my_organisation(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ORGANISATIONS].mine(who))


async def staff(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ORGANISATIONS].staff(who, _org(request)))


async def create_account(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, CreateAccountRequest)
    created = await request.app[ORGANISATIONS].create_account(
        who,
        _org(request),
        username=req.username,
        display_name=req.display_name,
        kind=AccountKind(req.kind),
        phone=req.phone,
        email=req.email,
        now=now(request),
    )
    return respond(created, 201)


async def disable_account(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ORGANISATIONS].disable(who, _org(request), _account(request), now(request)))


async def reset_password(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[ORGANISATIONS].reset_password(who, _org(request), _account(request), now(request)))


async def set_contacts(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ContactsRequest)
    return respond(
        await request.app[ORGANISATIONS].set_contacts(
            who, _org(request), _account(request), req.phone, req.email, now(request)
        )
    )


_ORG = f"{API}/organisations/{{organisation_id}}"
_ACCOUNT = f"{_ORG}/accounts/{{account_id}}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/organisations/mine",
        my_organisation,
        "The caller's organisation and what they are there",
        "readMyOrganisation",
        MyOrganisation,
        errors=(401, 403),
        tags=("organisations",),
    ),
    Endpoint(
        "GET",
        f"{_ORG}/accounts",
        staff,
        "The organisation's accounts and the latest changes to them (its administrators only)",
        "listOrganisationAccounts",
        Staff,
        errors=(401, 403, 404),
        tags=("organisations",),
    ),
    Endpoint(
        "POST",
        f"{_ORG}/accounts",
        create_account,
        "Create an account in the organisation; its generated password is in the answer, once",
        "createOrganisationAccount",
        NewPassword,
        status=201,
        body=CreateAccountRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("organisations",),
    ),
    Endpoint(
        "POST",
        f"{_ACCOUNT}/disable",
        disable_account,
        "Disable an account: its logins end and its live connections close at once",
        "disableOrganisationAccount",
        StaffAccount,
        errors=(401, 403, 404, 422),
        tags=("organisations",),
    ),
    Endpoint(
        "POST",
        f"{_ACCOUNT}/password",
        reset_password,
        "Reset an account's password: a new one is generated and shown once; its logins end",
        "resetOrganisationAccountPassword",
        NewPassword,
        errors=(401, 403, 404),
        tags=("organisations",),
    ),
    Endpoint(
        "PUT",
        f"{_ACCOUNT}/contacts",
        set_contacts,
        "Set where an account's one-time codes go",
        "setOrganisationAccountContacts",
        StaffAccount,
        body=ContactsRequest,
        errors=(401, 403, 404, 422),
        tags=("organisations",),
    ),
)
