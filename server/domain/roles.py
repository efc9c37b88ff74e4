"""Roles on a case and what each may do: access rules as data.

A caller reaches a case either through an account (mediators and judges log
in) or through a personal join link (parties). Either way they hold exactly one
:class:`Role` on that case, and :data:`PERMISSIONS` says which
:class:`Action` that role may take. Nothing else decides access.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class Role(enum.StrEnum):
    """A participant's role on one case."""

    MEDIATOR = "mediator"
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    AGENT = "agent"
    INSURER = "insurer"
    JUDGE = "judge"
    OBSERVER = "observer"


PARTY_ROLES = frozenset({Role.APPLICANT, Role.RESPONDENT, Role.AGENT, Role.INSURER})
"""Roles that speak for a side of the dispute."""

ACCOUNT_ROLES = frozenset({Role.MEDIATOR, Role.JUDGE})
"""Roles held through a logged-in account rather than a join link."""

ROLE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        Role.MEDIATOR: "调解员",
        Role.JUDGE: "法官",
        Role.APPLICANT: "申请人",
        Role.RESPONDENT: "被申请人",
        Role.AGENT: "代理人",
        Role.INSURER: "保险公司",
        Role.OBSERVER: "旁听人",
    }
)
"""Each role as documents name it, in Chinese (keyed by :class:`Role`, which is also its value)."""

assert set(ROLE_NAMES) == set(Role), "every role needs its name in documents"


def role_name(role: str) -> str:
    """A role as documents name it ("申请人"); a value that is no role comes back unchanged."""
    return ROLE_NAMES.get(role, str(role))


class AccountKind(enum.StrEnum):
    """What a staff account is for, within its organisation.

    Mediators and judges take the same role on the cases they hold; an organisation's
    administrator manages its accounts; a court clerk (书记员) works the court's cases
    without holding a role on them."""

    MEDIATOR = "mediator"
    JUDGE = "judge"
    ORG_ADMIN = "org_admin"
    CLERK = "clerk"
    POLICE_OFFICER = "police_officer"
    """A traffic police officer (交警): the scene-report desk and the liability finding."""
    CLAIMS_ADJUSTER = "claims_adjuster"
    """An insurer's claims adjuster (理赔员): the claims desk, acting under the insurer's authorisation."""
    APPRAISER = "appraiser"
    """A forensic appraiser (鉴定人) of an appraisal institution: the appraisal desk."""
    FUND_OFFICER = "fund_officer"
    """A relief fund officer (救助基金经办人): decides advances and tracks recovery."""
    BUREAU_OFFICER = "bureau_officer"
    """A justice bureau officer (司法局工作人员): reads the evaluations of appraisal opinions."""


ACCOUNT_KIND_NAMES: Mapping[str, str] = MappingProxyType(
    {
        AccountKind.MEDIATOR: "调解员",
        AccountKind.JUDGE: "法官",
        AccountKind.ORG_ADMIN: "机构管理员",
        AccountKind.CLERK: "书记员",
        AccountKind.POLICE_OFFICER: "交警",
        AccountKind.CLAIMS_ADJUSTER: "理赔员",
        AccountKind.APPRAISER: "鉴定人",
        AccountKind.FUND_OFFICER: "救助基金经办人",
        AccountKind.BUREAU_OFFICER: "司法局工作人员",
    }
)
"""Each account kind in Chinese, as the pages name it."""

assert set(ACCOUNT_KIND_NAMES) == set(AccountKind), "every account kind needs its name"


class Action(enum.StrEnum):
    """Something a caller may try to do to a case."""

    READ_CASE = "read_case"
    READ_CONTACTS = "read_contacts"
    """See every participant's phone, e-mail and ID number."""
    ADD_PARTICIPANT = "add_participant"
    MANAGE_LINKS = "manage_links"
    """Issue and revoke participants' join links."""
    SCHEDULE_SESSION = "schedule_session"
    RUN_SESSION = "run_session"
    """Start and end sessions."""
    CHANGE_STATE = "change_state"
    """Withdraw, refer to litigation, close."""
    READ_AUDIT = "read_audit"
    ADD_DOCUMENT = "add_document"
    READ_DOCUMENTS = "read_documents"
    """Read documents meant for parties."""
    READ_ALL_DOCUMENTS = "read_all_documents"
    """Read every document of the case, staff-only ones included."""
    PLAY_RECORDING = "play_recording"
    """Play the session recordings (parties only where the server is configured to allow it)."""
    READ_TRANSCRIPT = "read_transcript"
    """Read the stored transcript lines with their corrections."""
    EDIT_RECORD = "edit_record"
    """Correct transcript lines, add notes and finalise the mediation record."""
    DRAFT_AGREEMENT = "draft_agreement"
    """Draft (and redraft) the mediation agreement."""
    COMMENT_AGREEMENT = "comment_agreement"
    """Comment on a draft of the agreement (the mediator and the parties)."""
    SERVE_DOCUMENTS = "serve_documents"
    """Serve a document electronically, follow the service, retry it, make proofs of service."""


_STAFF_READ = frozenset(
    {
        Action.READ_CASE,
        Action.READ_CONTACTS,
        Action.READ_AUDIT,
        Action.READ_DOCUMENTS,
        Action.READ_ALL_DOCUMENTS,
        Action.PLAY_RECORDING,
        Action.READ_TRANSCRIPT,
    }
)
_PARTY = frozenset({Action.READ_CASE, Action.READ_DOCUMENTS, Action.COMMENT_AGREEMENT})

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.MEDIATOR: frozenset(Action),
    Role.JUDGE: _STAFF_READ,
    Role.APPLICANT: _PARTY,
    Role.RESPONDENT: _PARTY,
    Role.AGENT: _PARTY,
    Role.INSURER: _PARTY,
    Role.OBSERVER: frozenset({Action.READ_CASE}),
}
"""Which role may take which action on a case it belongs to."""

ACCOUNT_PERMISSIONS: dict[AccountKind, frozenset[str]] = {
    AccountKind.MEDIATOR: frozenset({"create_case", "list_cases"}),
    AccountKind.JUDGE: frozenset({"list_cases"}),
    AccountKind.ORG_ADMIN: frozenset({"manage_accounts"}),
    AccountKind.CLERK: frozenset({"list_cases"}),
    # the front's staff work their own desks (scene reports, claims, appraisals, advances), not the case list
    AccountKind.POLICE_OFFICER: frozenset(),
    AccountKind.CLAIMS_ADJUSTER: frozenset(),
    AccountKind.APPRAISER: frozenset(),
    AccountKind.FUND_OFFICER: frozenset(),
    AccountKind.BUREAU_OFFICER: frozenset(),
}
"""Actions that concern no single case, by account kind."""

assert set(ACCOUNT_PERMISSIONS) == set(AccountKind), "every account kind needs its case-free permissions"


def may(role: Role, action: Action) -> bool:
    """Return whether ``role`` may take ``action`` on its own case."""
    return action in PERMISSIONS[role]
