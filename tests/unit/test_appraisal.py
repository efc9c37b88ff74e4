"""The pure rules of an appraisal: legality as a table, consent, the reproducible draw, fee, score."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from server.domain import appraisal as ap
from server.domain.appraisal import AppraisalState, Command
from server.errors import IllegalTransition, InvalidCommand


@pytest.mark.parametrize("state", list(AppraisalState))
@pytest.mark.parametrize("command", list(Command))
def test_every_command_in_every_state(state: AppraisalState, command: Command) -> None:
    if state in ap.LEGAL[command]:
        after = ap.step("a", state, command)
        assert after is ap.NEXT.get(command, state)
    else:
        with pytest.raises(IllegalTransition) as refused:
            ap.step("a", state, command)
        assert refused.value.state == state.value


def test_the_happy_path_and_the_end_state() -> None:
    state = AppraisalState.CONSENTING
    for command in (Command.CONSENT, Command.DRAW, Command.APPOINT, Command.SEND_MATERIALS, Command.SUBMIT_OPINION):
        state = ap.step("a", state, command)
    assert state is AppraisalState.OPINION
    assert ap.supersede("a", state) is AppraisalState.SUPERSEDED
    for command in Command:
        if command is not Command.EVALUATE:
            with pytest.raises(IllegalTransition):
                ap.check(AppraisalState.SUPERSEDED, command)


def test_an_objection_or_a_silent_party_blocks() -> None:
    agree = ap.consent("p1", True, "ignored")
    assert agree.reason == ""
    with pytest.raises(InvalidCommand):
        ap.consent("p2", False, "  ")
    objection = ap.consent("p2", False, " 太早 ")
    assert objection.reason == "太早"
    with pytest.raises(InvalidCommand, match="objected"):
        ap.check_consents(["p1", "p2"], {"p1": agree, "p2": objection})
    with pytest.raises(InvalidCommand, match="not consented"):
        ap.check_consents(["p1", "p2"], {"p1": agree})
    ap.check_consents(["p1", "p2"], {"p1": agree, "p2": ap.consent("p2", True, "")})


def test_the_draw_is_reproducible_and_uses_every_candidate() -> None:
    ids = ["c", "a", "b"]
    first = ap.draw(ids, "00ff")
    assert first.candidates == ("a", "b", "c")
    digest = hashlib.sha256(b"00ff|a|b|c").digest()
    assert first.result == first.candidates[int.from_bytes(digest, "big") % 3]
    assert ap.draw(list(reversed(ids)), "00ff") == first  # the order given does not matter
    results = {ap.draw(ids, f"{seed:04x}").result for seed in range(60)}
    assert results == {"a", "b", "c"}
    with pytest.raises(InvalidCommand, match="nothing to draw"):
        ap.draw([], "00ff")
    with pytest.raises(InvalidCommand):
        ap.draw(ids, "")


@pytest.mark.parametrize(
    ("amount", "payer", "expected"),
    [("3000", "insurer", Decimal("3000.00")), ("0", "shared", Decimal("0.00")), ("2500.5", "applicant", None)],
)
def test_fees(amount: str, payer: str, expected: Decimal | None) -> None:
    fee, who = ap.check_fee(amount, payer)
    assert who == payer and fee == (expected if expected is not None else Decimal(amount))


@pytest.mark.parametrize(
    ("amount", "payer"), [("-1", "insurer"), ("1.234", "insurer"), ("NaN", "insurer"), ("x", "insurer"), ("1", "x")]
)
def test_bad_fees(amount: str, payer: str) -> None:
    with pytest.raises(InvalidCommand):
        ap.check_fee(amount, payer)


def test_scores_subjects_and_specialties() -> None:
    assert [ap.check_score(s) for s in (1, 5)] == [1, 5]
    for bad in (0, 6):
        with pytest.raises(InvalidCommand):
            ap.check_score(bad)
    with pytest.raises(InvalidCommand):
        ap.check_subject("palmistry")
    assert ap.check_specialties(["vehicle_damage", "injury", "injury"]) == ("injury", "vehicle_damage")
    with pytest.raises(InvalidCommand):
        ap.check_specialties(["injury", "palmistry"])
