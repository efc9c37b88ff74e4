"""What each role sees of a case: one pure function, the only place that filters.

A party sees every participant's name and role but only their own contact
details (and, for an agent, those of the party they act for); staff with
``READ_CONTACTS`` (mediator, judge) see everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.domain.lifecycle import Case
from server.domain.participants import Participant, mask_id_number
from server.domain.roles import Action, Role, may


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def participant_view(p: Participant, *, contacts: bool, full_id: bool) -> dict[str, Any]:
    """One participant as shown; contact fields only when ``contacts``."""
    out: dict[str, Any] = {
        "id": p.id,
        "role": p.role.value,
        "display_name": p.display_name,
        "represents": p.represents,
        "added_at": _iso(p.added_at),
        "has_account": p.account_id is not None,
    }
    if contacts:
        out["phone"] = p.phone
        out["email"] = p.email
        out["id_number"] = p.id_number if full_id else mask_id_number(p.id_number)
    return out


def case_view(
    case: Case,
    participants: Iterable[Participant],
    viewer_role: Role,
    viewer_participant_id: str | None,
    version: int,
) -> dict[str, Any]:
    """The case as ``viewer_role`` may see it."""
    staff = may(viewer_role, Action.READ_CONTACTS)
    people = list(participants)
    mine = {viewer_participant_id} if viewer_participant_id else set()
    for p in people:
        if p.id == viewer_participant_id and p.represents:
            mine.add(p.represents)
    shown = [participant_view(p, contacts=staff or p.id in mine, full_id=staff) for p in people]
    view: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "kind": case.kind,
        "title": case.title,
        "state": case.state.value,
        "filed_at": _iso(case.filed_at),
        "version": version,
        "your_role": viewer_role.value,
        "your_participant_id": viewer_participant_id,
        "participants": shown,
        "sessions": [
            {
                "id": s.id,
                "scheduled_start": _iso(s.scheduled_start),
                "duration_minutes": int(s.duration.total_seconds() // 60),
                "status": s.status.value,
                "started_at": _iso(s.started_at),
                "ended_at": _iso(s.ended_at),
            }
            for s in case.sessions
        ],
        "agreement": None,
        "signing": None,
        "agreement_effective_at": _iso(case.agreement_effective_at),
        "service": None,
        "confirmation": None,
    }
    if case.agreement:
        view["agreement"] = {"version": case.agreement.version, "drafted_at": _iso(case.agreement.drafted_at)}
    if case.signing:
        view["signing"] = {
            "signers": list(case.signing.signers),
            "signed": sorted(case.signing.signed),
            "deadline": _iso(case.signing.deadline),
        }
    if case.service:
        recipients = case.service.recipients
        if not staff:
            recipients = {k: v for k, v in recipients.items() if k in mine}
        view["service"] = {
            "deadline": _iso(case.service.deadline),
            "recipients": {k: v.value for k, v in recipients.items()},
        }
    if case.confirmation:
        c = case.confirmation
        view["confirmation"] = {
            "applied_at": _iso(c.applied_at),
            "confirmed": c.confirmed,
            "ruled_at": _iso(c.ruled_at),
        }
    view["referral"] = (
        {"kind": case.referral.kind.value, "court_case_number": case.referral.court_case_number}
        if case.referral
        else None
    )
    view["period"] = None
    if case.period:
        period = case.period
        x = period.extension
        view["period"] = {
            "started_at": _iso(period.started_at),
            "deadline": _iso(period.deadline),
            "overdue": period.overdue_at is not None,
            "extensions": period.extensions,
            "extension": {
                "days": x.days,
                "reason": x.reason,
                "requested_at": _iso(x.requested_at),
                "parties": list(x.parties),
                "consented": sorted(x.consents),
            }
            if x
            else None,
        }
    if staff:
        view["outcome_reason"] = case.outcome_reason
    return view
