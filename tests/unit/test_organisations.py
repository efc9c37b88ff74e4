"""The organisations' pure rules (``server.domain.organisations``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.domain.organisations import (
    STAFF_KINDS,
    Organisation,
    OrganisationKind,
    check_staff_kind,
    kind_from_name,
    require_admin_of,
)
from server.domain.roles import AccountKind
from server.errors import Forbidden, InvalidCommand, NotFound
from server.organisations.usecases import UNAMBIGUOUS, new_password

T0 = datetime(2026, 12, 5, tzinfo=UTC)


def test_a_name_held_by_a_judge_or_naming_a_court_is_a_court() -> None:
    assert kind_from_name("示范区人民法院", False) is OrganisationKind.COURT
    assert kind_from_name("Model District Court", False) is OrganisationKind.COURT
    assert kind_from_name("诉调对接中心", True) is OrganisationKind.COURT
    assert kind_from_name("城东人民调解委员会", False) is OrganisationKind.PEOPLES_MEDIATION


def test_an_account_kind_only_one_kind_of_organisation_holds_decides_its_kind() -> None:
    assert kind_from_name("示范区交警大队", False, AccountKind.POLICE_OFFICER) is OrganisationKind.POLICE
    assert kind_from_name("某保险公司", False, AccountKind.CLAIMS_ADJUSTER) is OrganisationKind.INSURER
    assert kind_from_name("某鉴定所", False, AccountKind.APPRAISER) is OrganisationKind.APPRAISAL
    assert kind_from_name("救助基金", False, AccountKind.FUND_OFFICER) is OrganisationKind.RELIEF_FUND
    assert kind_from_name("区司法局", False, AccountKind.BUREAU_OFFICER) is OrganisationKind.JUSTICE_BUREAU
    # held by several kinds: the name decides, as before
    assert kind_from_name("城东人民调解委员会", False, AccountKind.MEDIATOR) is OrganisationKind.PEOPLES_MEDIATION
    assert kind_from_name("示范区人民法院", False, AccountKind.ORG_ADMIN) is OrganisationKind.COURT


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        (OrganisationKind.COURT, {"org_admin", "judge", "clerk", "mediator"}),
        (OrganisationKind.PEOPLES_MEDIATION, {"org_admin", "mediator"}),
        (OrganisationKind.INDUSTRY_MEDIATION, {"org_admin", "mediator"}),
        (OrganisationKind.APPRAISAL, {"org_admin", "appraiser"}),
        (OrganisationKind.INSURER, {"org_admin", "claims_adjuster"}),
        (OrganisationKind.POLICE, {"org_admin", "police_officer"}),
        (OrganisationKind.RELIEF_FUND, {"org_admin", "fund_officer"}),
        (OrganisationKind.JUSTICE_BUREAU, {"org_admin", "bureau_officer"}),
    ],
)
def test_each_kind_of_organisation_holds_its_own_kinds_of_account(kind: OrganisationKind, allowed: set[str]) -> None:
    organisation = Organisation("o", kind, "某机构", T0)
    assert {k.value for k in STAFF_KINDS[kind]} == allowed
    for account_kind in AccountKind:
        if account_kind.value in allowed:
            check_staff_kind(organisation, account_kind)
        else:
            with pytest.raises(InvalidCommand):
                check_staff_kind(organisation, account_kind)


def test_only_an_organisations_own_administrator_manages_it_and_outsiders_learn_nothing() -> None:
    require_admin_of(AccountKind.ORG_ADMIN, "a", "a")
    with pytest.raises(NotFound):
        require_admin_of(AccountKind.ORG_ADMIN, "b", "a")  # another organisation's administrator
    with pytest.raises(NotFound):
        require_admin_of(AccountKind.ORG_ADMIN, "", "")  # no organisation at all
    for kind in (AccountKind.MEDIATOR, AccountKind.JUDGE, AccountKind.CLERK, None):
        with pytest.raises(Forbidden):
            require_admin_of(kind, "a", "a")


def test_generated_passwords_are_long_unambiguous_and_different() -> None:
    passwords = {new_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 14 and set(p) <= set(UNAMBIGUOUS) for p in passwords)
    assert not set("0O1lI") & set(UNAMBIGUOUS)
