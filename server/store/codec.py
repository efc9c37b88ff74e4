"""Turn the domain's case value into stored JSON and back.

Sessions live in their own table; everything else a case carries beyond its
plain columns (agreement, signing, service, confirmation) is one JSON column.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from server.domain.lifecycle import (
    Agreement,
    Assignment,
    Case,
    Confirmation,
    ExtensionRequest,
    Period,
    Referral,
    ReferralKind,
    Service,
    ServiceStatus,
    Signing,
)


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _p(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _req(value: Any) -> datetime:
    out = _p(value)
    assert out is not None
    return out


def encode_lifecycle(case: Case) -> str:
    """The JSON column for ``case``."""
    doc: dict[str, Any] = {
        "agreement_effective_at": _t(case.agreement_effective_at),
        "outcome_reason": case.outcome_reason,
        "agreement": None,
        "signing": None,
        "service": None,
        "confirmation": None,
    }
    if case.agreement:
        a = case.agreement
        doc["agreement"] = {"document_id": a.document_id, "version": a.version, "drafted_at": _t(a.drafted_at)}
    if case.signing:
        s = case.signing
        doc["signing"] = {
            "signers": list(s.signers),
            "deadline": _t(s.deadline),
            "signed": {k: _t(v) for k, v in s.signed.items()},
        }
    if case.service:
        v = case.service
        doc["service"] = {
            "document_id": v.document_id,
            "deadline": _t(v.deadline),
            "recipients": {k: st.value for k, st in v.recipients.items()},
            "effective_at": {k: _t(t) for k, t in v.effective_at.items()},
        }
    if case.confirmation:
        c = case.confirmation
        doc["confirmation"] = {
            "applicants": list(c.applicants),
            "applied_at": _t(c.applied_at),
            "confirmed": c.confirmed,
            "ruled_at": _t(c.ruled_at),
            "reasons": c.reasons,
        }
    if case.referral:
        r = case.referral
        doc["referral"] = {
            "kind": r.kind.value,
            "organisation_id": r.organisation_id,
            "at": _t(r.at),
            "court_id": r.court_id,
            "court_case_number": r.court_case_number,
        }
    if case.assignment:
        m = case.assignment
        doc["assignment"] = {
            "mediator_account_id": m.mediator_account_id,
            "assigned_at": _t(m.assigned_at),
            "accepted_at": _t(m.accepted_at),
        }
    if case.period:
        p = case.period
        doc["period"] = {
            "started_at": _t(p.started_at),
            "deadline": _t(p.deadline),
            "reminded_for": _t(p.reminded_for),
            "overdue_at": _t(p.overdue_at),
            "extensions": p.extensions,
            "extension": None,
        }
        if p.extension:
            x = p.extension
            doc["period"]["extension"] = {
                "days": x.days,
                "reason": x.reason,
                "parties": list(x.parties),
                "requested_at": _t(x.requested_at),
                "consents": {k: _t(v) for k, v in x.consents.items()},
            }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def decode_lifecycle(text: str) -> dict[str, Any]:
    """Keyword arguments for :class:`Case` from the JSON column."""
    doc = json.loads(text)
    out: dict[str, Any] = {
        "agreement_effective_at": _p(doc.get("agreement_effective_at")),
        "outcome_reason": doc.get("outcome_reason", ""),
        "agreement": None,
        "signing": None,
        "service": None,
        "confirmation": None,
    }
    if a := doc.get("agreement"):
        out["agreement"] = Agreement(a["document_id"], int(a["version"]), _req(a["drafted_at"]))
    if s := doc.get("signing"):
        out["signing"] = Signing(
            signers=tuple(s["signers"]),
            deadline=_req(s["deadline"]),
            signed={k: _req(v) for k, v in s["signed"].items()},
        )
    if v := doc.get("service"):
        out["service"] = Service(
            document_id=v["document_id"],
            deadline=_req(v["deadline"]),
            recipients={k: ServiceStatus(st) for k, st in v["recipients"].items()},
            effective_at={k: _req(t) for k, t in v["effective_at"].items()},
        )
    if c := doc.get("confirmation"):
        out["confirmation"] = Confirmation(
            applicants=tuple(c["applicants"]),
            applied_at=_req(c["applied_at"]),
            confirmed=c["confirmed"],
            ruled_at=_p(c["ruled_at"]),
            reasons=c["reasons"],
        )
    if r := doc.get("referral"):
        out["referral"] = Referral(
            kind=ReferralKind(r["kind"]),
            organisation_id=r["organisation_id"],
            at=_req(r["at"]),
            court_id=r["court_id"],
            court_case_number=r["court_case_number"],
        )
    if m := doc.get("assignment"):
        out["assignment"] = Assignment(m["mediator_account_id"], _req(m["assigned_at"]), _p(m["accepted_at"]))
    if p := doc.get("period"):
        x = p.get("extension")
        out["period"] = Period(
            started_at=_req(p["started_at"]),
            deadline=_req(p["deadline"]),
            reminded_for=_p(p["reminded_for"]),
            overdue_at=_p(p["overdue_at"]),
            extensions=int(p["extensions"]),
            extension=ExtensionRequest(
                days=int(x["days"]),
                reason=x["reason"],
                parties=tuple(x["parties"]),
                requested_at=_req(x["requested_at"]),
                consents={k: _req(v) for k, v in x["consents"].items()},
            )
            if x
            else None,
        )
    return out
