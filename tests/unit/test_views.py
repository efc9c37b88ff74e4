"""Role filtering: who sees whose contact details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.domain import lifecycle as lc
from server.domain.participants import Participant, mask_id_number
from server.domain.roles import Role
from server.domain.views import case_view

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def people() -> list[Participant]:
    return [
        Participant("m", "c", Role.MEDIATOR, "Mediator", T0, account_id="acc-m"),
        Participant("a", "c", Role.APPLICANT, "Zhang", T0, phone="13800000001", id_number="110101199001011234"),
        Participant("r", "c", Role.RESPONDENT, "Li", T0, phone="13800000002", email="li@example.org"),
        Participant("g", "c", Role.AGENT, "Lawyer", T0, phone="13800000003", represents="r"),
        Participant("j", "c", Role.JUDGE, "Judge", T0, account_id="acc-j"),
    ]


CASE = lc.file_case("c", "N1", "traffic_accident", "t", T0).case


def contacts(view: dict[str, object]) -> dict[str, dict[str, object]]:
    out = {}
    for p in view["participants"]:  # type: ignore[attr-defined]
        out[p["id"]] = {k: p[k] for k in ("phone", "email", "id_number") if k in p}
    return out


def test_party_sees_only_own_contacts() -> None:
    seen = contacts(case_view(CASE, people(), Role.APPLICANT, "a", 1))
    assert seen["a"] == {"phone": "13800000001", "email": None, "id_number": "110***********1234"}
    assert seen["r"] == {} and seen["g"] == {} and seen["m"] == {}


def test_agent_sees_the_party_they_represent() -> None:
    seen = contacts(case_view(CASE, people(), Role.AGENT, "g", 1))
    assert seen["r"]["email"] == "li@example.org"
    assert seen["g"]["phone"] == "13800000003"
    assert seen["a"] == {}


def test_mediator_and_judge_see_everything() -> None:
    for role, pid in ((Role.MEDIATOR, "m"), (Role.JUDGE, "j")):
        view = case_view(CASE, people(), role, pid, 1)
        seen = contacts(view)
        assert seen["a"]["id_number"] == "110101199001011234"
        assert seen["r"]["phone"] == "13800000002"
        assert "outcome_reason" in view


def test_service_status_is_filtered_to_own_for_parties() -> None:
    case = lc.Case(
        **{
            **CASE.__dict__,
            "state": lc.CaseState.SERVING,
            "service": lc.Service(
                "d", T0 + timedelta(days=3), {"a": lc.ServiceStatus.PENDING, "r": lc.ServiceStatus.FAILED}
            ),
        }
    )
    assert case_view(case, people(), Role.APPLICANT, "a", 1)["service"]["recipients"] == {"a": "pending"}
    assert case_view(case, people(), Role.MEDIATOR, "m", 1)["service"]["recipients"] == {"a": "pending", "r": "failed"}


def test_masking() -> None:
    assert mask_id_number("110101199001011234") == "110***********1234"
    assert mask_id_number("12345") == "*****"
    assert mask_id_number(None) is None
