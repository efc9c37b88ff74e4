"""Organisations (机构): courts, mediation organisations, appraisal institutions, insurers, police, the relief fund.

Every staff account belongs to exactly one organisation and holds one
:class:`~server.domain.roles.AccountKind` there. What kinds an organisation may hold
depends on what it is (:data:`STAFF_KINDS`): judges and clerks work in courts; mediators
in mediation organisations and in courts (a court's own mediators); every organisation
has administrators, who manage its accounts and nothing else.

Pure rules only: the store keeps the records and the use-cases
(``server.organisations``) apply these rules to who is asking.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from server.domain.roles import AccountKind
from server.errors import Forbidden, InvalidCommand, NotFound


class OrganisationKind(enum.StrEnum):
    """What an organisation is."""

    COURT = "court"
    """A people's court (人民法院)."""
    PEOPLES_MEDIATION = "peoples_mediation"
    """A people's mediation committee (人民调解委员会)."""
    INDUSTRY_MEDIATION = "industry_mediation"
    """An industry or professional mediation organisation (行业性专业性调解组织), e.g. the insurance association's."""
    APPRAISAL = "appraisal"
    """A forensic appraisal institution (司法鉴定机构)."""
    INSURER = "insurer"
    """An insurance company (保险公司)."""
    POLICE = "police"
    """A traffic police unit (公安机关交通管理部门): scene reports, liability findings, intake of its cases."""
    RELIEF_FUND = "relief_fund"
    """The road-accident social relief fund's administrator (道路交通事故社会救助基金管理机构)."""
    JUSTICE_BUREAU = "justice_bureau"
    """A justice bureau (司法局): supervises mediation and reads the evaluations of appraisal opinions."""


ORGANISATION_KIND_NAMES: Mapping[str, str] = MappingProxyType(
    {
        OrganisationKind.COURT: "人民法院",
        OrganisationKind.PEOPLES_MEDIATION: "人民调解委员会",
        OrganisationKind.INDUSTRY_MEDIATION: "行业性专业性调解组织",
        OrganisationKind.APPRAISAL: "司法鉴定机构",
        OrganisationKind.INSURER: "保险公司",
        OrganisationKind.POLICE: "公安交通管理部门",
        OrganisationKind.RELIEF_FUND: "道路交通事故社会救助基金",
        OrganisationKind.JUSTICE_BUREAU: "司法局",
    }
)
"""Each kind in Chinese, as the pages name it."""

assert set(ORGANISATION_KIND_NAMES) == set(OrganisationKind), "every organisation kind needs its name"

STAFF_KINDS: Mapping[OrganisationKind, frozenset[AccountKind]] = MappingProxyType(
    {
        OrganisationKind.COURT: frozenset(
            {AccountKind.ORG_ADMIN, AccountKind.JUDGE, AccountKind.CLERK, AccountKind.MEDIATOR}
        ),
        OrganisationKind.PEOPLES_MEDIATION: frozenset({AccountKind.ORG_ADMIN, AccountKind.MEDIATOR}),
        OrganisationKind.INDUSTRY_MEDIATION: frozenset({AccountKind.ORG_ADMIN, AccountKind.MEDIATOR}),
        OrganisationKind.APPRAISAL: frozenset({AccountKind.ORG_ADMIN, AccountKind.APPRAISER}),
        OrganisationKind.INSURER: frozenset({AccountKind.ORG_ADMIN, AccountKind.CLAIMS_ADJUSTER}),
        OrganisationKind.POLICE: frozenset({AccountKind.ORG_ADMIN, AccountKind.POLICE_OFFICER}),
        OrganisationKind.RELIEF_FUND: frozenset({AccountKind.ORG_ADMIN, AccountKind.FUND_OFFICER}),
        OrganisationKind.JUSTICE_BUREAU: frozenset({AccountKind.ORG_ADMIN, AccountKind.BUREAU_OFFICER}),
    }
)
"""Which account kinds each kind of organisation may hold."""

assert set(STAFF_KINDS) == set(OrganisationKind), "every organisation kind needs its staff kinds"

MAX_NAME = 200
"""Longest organisation name, in characters."""


@dataclass(frozen=True)
class Organisation:
    """One organisation."""

    id: str
    """Its id."""
    kind: OrganisationKind
    """What it is."""
    name: str
    """Its full name, e.g. 示范区人民法院; unique."""
    created_at: datetime
    """When it was recorded."""
    region: str = ""
    """Administrative division code or name, e.g. 330106 (empty: not given)."""
    disabled: bool = False
    """Whether it is closed: its accounts cannot log in."""


def kind_from_name(name: str, has_judges: bool, account_kind: AccountKind | None = None) -> OrganisationKind:
    """The kind an organisation known only by name most likely is (for accounts recorded before organisations,
    and for an account recorded with the name of an organisation not yet recorded).

    An account kind that only one kind of organisation holds (a police officer, a claims adjuster…) decides;
    a name held by a judge, or one that names a court, is a court; anything else is taken for a people's
    mediation committee, the most common mediation organisation.
    """
    if account_kind is not None:
        holders = [k for k, kinds in STAFF_KINDS.items() if account_kind in kinds]
        if len(holders) == 1:
            return holders[0]
    if has_judges or "法院" in name or "court" in name.lower():
        return OrganisationKind.COURT
    return OrganisationKind.PEOPLES_MEDIATION


def check_staff_kind(organisation: Organisation, kind: AccountKind) -> None:
    """InvalidCommand unless an organisation of this kind may hold an account of ``kind``."""
    if kind not in STAFF_KINDS[organisation.kind]:
        allowed = "、".join(sorted(k.value for k in STAFF_KINDS[organisation.kind]))
        raise InvalidCommand(
            f'A {organisation.kind.value} cannot hold a "{kind.value}" account (it may hold: {allowed})'
        )


def require_admin_of(kind: AccountKind | None, own_organisation: str, organisation_id: str) -> None:
    """The caller must be an administrator of exactly this organisation.

    NotFound for anyone outside it (another organisation's staff learn nothing of it, not
    even that it exists), Forbidden for its own staff who are not administrators."""
    if not own_organisation or own_organisation != organisation_id:
        raise NotFound("No such organisation")
    if kind is not AccountKind.ORG_ADMIN:
        raise Forbidden("Only an administrator of this organisation may manage its accounts")
