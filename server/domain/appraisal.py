"""Online appraisal (在线鉴定): the pure rules of one appraisal inside a case.

An appraisal walks these states, changed only through :func:`step` (legality is the table :data:`LEGAL`)::

    consenting ──choose/draw──▶ chosen ──appoint──▶ appointed ──opinion──▶ opinion ──grant re-appraisal──▶ superseded
        ▲  every party agreed        fee, payer, notice        signed PDF            (a new round starts consenting)

- **Consent**: each party of the case answers *agree* or *object* (with a reason), and may change their
  answer while the appraisal is ``consenting``. An institution is chosen only when every party agreed:
  one objection (or one party silent) blocks the appointment (:func:`check_consents`).
- **The institution**: one all the parties agreed on (the mediator records it), or one **drawn** at random
  from the roster's open institutions that list the appraisal's specialty. The draw is reproducible and
  recorded: the candidates' ids sorted, a seed from :mod:`secrets` (the caller makes it), and the pick is
  ``sha256(seed | ids…) mod n`` (:func:`draw`), so anyone holding the audit entry can redo it.
- **Fee and payer**, then the opinion, evaluations (a score 1-5 and a comment, once per evaluator and opinion),
  and re-appraisal: a party applies with reasons while the opinion stands; the mediator grants (this round
  becomes ``superseded`` and a new round starts) or refuses with reasons.

No I/O, no clock: time comes in as arguments.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from server.errors import IllegalTransition, InvalidCommand

logger = logging.getLogger(__name__)

SPECIALTIES: Mapping[str, str] = MappingProxyType(
    {
        "injury": "法医临床",
        "disability": "伤残等级",
        "vehicle_damage": "车辆损失",
        "pathology": "法医病理",
        "toxicology": "法医毒物",
        "traffic_trace": "交通事故痕迹",
        "vehicle_safety": "车辆安全技术",
    }
)
"""What an institution may appraise (its specialties) and what an appraisal asks for, with their Chinese names."""

PAYERS: Mapping[str, str] = MappingProxyType(
    {"applicant": "申请人", "respondent": "被申请人", "insurer": "保险公司", "shared": "各方分担"}
)
"""Who pays the appraisal fee."""

MAX_TEXT = 500
"""Longest reason, comment or description, in characters."""
MAX_FEE = Decimal("1000000")
"""Highest fee in yuan."""


class AppraisalState(enum.StrEnum):
    """Where an appraisal is."""

    CONSENTING = "consenting"
    """Started: the parties agree or object."""
    CHOSEN = "chosen"
    """The institution is chosen (agreed or drawn)."""
    APPOINTED = "appointed"
    """The fee recorded and the appointment notice issued: the institution works on the materials sent."""
    OPINION = "opinion"
    """The institution's signed opinion is in."""
    SUPERSEDED = "superseded"
    """A re-appraisal was granted: a new round replaces this one."""


END_STATES = frozenset({AppraisalState.SUPERSEDED})


class Command(enum.StrEnum):
    """What may be done to an appraisal."""

    CONSENT = "consent"
    CHOOSE = "choose"
    DRAW = "draw"
    APPOINT = "appoint"
    SEND_MATERIALS = "send_materials"
    SUBMIT_OPINION = "submit_opinion"
    EVALUATE = "evaluate"
    APPLY_REAPPRAISAL = "apply_reappraisal"
    DECIDE_REAPPRAISAL = "decide_reappraisal"


S = AppraisalState
LEGAL: Mapping[Command, frozenset[AppraisalState]] = MappingProxyType(
    {
        Command.CONSENT: frozenset({S.CONSENTING}),
        Command.CHOOSE: frozenset({S.CONSENTING}),
        Command.DRAW: frozenset({S.CONSENTING}),
        Command.APPOINT: frozenset({S.CHOSEN}),
        Command.SEND_MATERIALS: frozenset({S.APPOINTED}),
        Command.SUBMIT_OPINION: frozenset({S.APPOINTED}),
        Command.EVALUATE: frozenset({S.OPINION, S.SUPERSEDED}),
        Command.APPLY_REAPPRAISAL: frozenset({S.OPINION}),
        Command.DECIDE_REAPPRAISAL: frozenset({S.OPINION}),
    }
)
"""In which states each command is legal."""
assert set(LEGAL) == set(Command), "every command says where it is legal"

NEXT: Mapping[Command, AppraisalState] = MappingProxyType(
    {
        Command.CHOOSE: S.CHOSEN,
        Command.DRAW: S.CHOSEN,
        Command.APPOINT: S.APPOINTED,
        Command.SUBMIT_OPINION: S.OPINION,
    }
)
"""The state a command leads to (commands not named here keep the state; a granted re-appraisal: superseded)."""


def check(state: AppraisalState, command: Command) -> None:
    """IllegalTransition unless ``command`` is legal in ``state``."""
    if state not in LEGAL[command]:
        raise IllegalTransition(f"{command.value.replace('_', ' ')} an appraisal", state.value)


def step(appraisal_id: str, state: AppraisalState, command: Command) -> AppraisalState:
    """The state after ``command`` (checked); logs each change as ``old -> new``."""
    check(state, command)
    new = NEXT.get(command, state)
    if new is not state:
        logger.info("[appraisal=%s] %s -> %s", appraisal_id, state.value, new.value)
    return new


def supersede(appraisal_id: str, state: AppraisalState) -> AppraisalState:
    """The state of a round whose re-appraisal was granted (checked like the decision)."""
    check(state, Command.DECIDE_REAPPRAISAL)
    logger.info("[appraisal=%s] %s -> %s", appraisal_id, state.value, AppraisalState.SUPERSEDED.value)
    return AppraisalState.SUPERSEDED


def check_subject(subject: str) -> str:
    """The appraisal's subject (one of :data:`SPECIALTIES`), or InvalidCommand."""
    if subject not in SPECIALTIES:
        raise InvalidCommand("The subject of an appraisal is one of: " + ", ".join(SPECIALTIES))
    return subject


def check_specialties(specialties: Sequence[str]) -> tuple[str, ...]:
    """An institution's specialties, each known, none repeated, in :data:`SPECIALTIES` order."""
    unknown = [s for s in specialties if s not in SPECIALTIES]
    if unknown:
        raise InvalidCommand("Specialties are among: " + ", ".join(SPECIALTIES))
    return tuple(s for s in SPECIALTIES if s in specialties)


def check_text(text: str, what: str, *, required: bool) -> str:
    """A reason or comment, stripped: at most :data:`MAX_TEXT` characters, present when ``required``."""
    text = text.strip()
    if required and not text:
        raise InvalidCommand(f"Give {what}")
    if len(text) > MAX_TEXT:
        raise InvalidCommand(f"{what.capitalize()} has at most {MAX_TEXT} characters")
    return text


@dataclass(frozen=True)
class ConsentAnswer:
    """One party's answer to an appraisal."""

    participant_id: str
    """The party."""
    agree: bool
    """Agree, or object."""
    reason: str
    """Why they object ('' when they agree)."""


def consent(participant_id: str, agree: bool, reason: str) -> ConsentAnswer:
    """A party's answer, checked: an objection gives its reason."""
    reason = check_text(reason, "a reason for the objection", required=not agree)
    return ConsentAnswer(participant_id, agree, reason if not agree else "")


def check_consents(parties: Sequence[str], answers: Mapping[str, ConsentAnswer]) -> None:
    """InvalidCommand unless every party (by id) agreed: an objection, or a party who has not answered, blocks."""
    objected = [p for p in parties if p in answers and not answers[p].agree]
    if objected:
        raise InvalidCommand(f"{len(objected)} party(ies) objected to the appraisal: no institution can be appointed")
    silent = [p for p in parties if p not in answers]
    if silent:
        raise InvalidCommand(f"{len(silent)} party(ies) have not consented to the appraisal yet")


@dataclass(frozen=True)
class Draw:
    """A random draw of the institution, as recorded."""

    candidates: tuple[str, ...]
    """The ids of the matching open institutions, sorted."""
    seed: str
    """The seed (hex, from :mod:`secrets`)."""
    result: str
    """The id drawn."""


def draw(candidates: Sequence[str], seed: str) -> Draw:
    """Draw one of ``candidates`` with ``seed``: ``sha256(seed|id1|id2…) mod n`` over the sorted ids (reproducible)."""
    ordered = tuple(sorted(set(candidates)))
    if not ordered:
        raise InvalidCommand("No open appraisal institution lists this specialty: nothing to draw from")
    if not seed:
        raise InvalidCommand("A draw needs a seed")
    digest = hashlib.sha256("|".join((seed, *ordered)).encode("utf-8")).digest()
    return Draw(ordered, seed, ordered[int.from_bytes(digest, "big") % len(ordered)])


def check_fee(amount: str, payer: str) -> tuple[Decimal, str]:
    """The fee (yuan, at most two decimals, 0 to :data:`MAX_FEE`) and who pays it (one of :data:`PAYERS`)."""
    try:
        fee = Decimal(amount.strip())
    except InvalidOperation:
        raise InvalidCommand("The fee is an amount in yuan, e.g. 3000.00") from None
    if not fee.is_finite() or fee < 0 or fee > MAX_FEE or fee.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidCommand(f"The fee is 0 to {MAX_FEE} yuan, with at most two decimals")
    if payer not in PAYERS:
        raise InvalidCommand("Who pays the fee is one of: " + ", ".join(PAYERS))
    return fee.quantize(Decimal("0.01")), payer


def check_score(score: int) -> int:
    """An evaluation's score: 1 to 5."""
    if not 1 <= score <= 5:
        raise InvalidCommand("A score is 1 to 5")
    return score
