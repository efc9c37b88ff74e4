"""The life of a case as a pure state machine.

``apply(case, command, now)`` checks a command against the case's state and
returns the new case and the events that happened; it does no I/O, never reads
the clock (``now`` is passed in) and imports no framework. The case store
persists the new case and turns every event into an audit-trail entry.

Which command is legal in which state is data (:data:`LEGAL_STATES`); the state
changes in one place (:func:`_set_state`), which logs ``"old -> new"`` and emits
:class:`StateChanged`. See ``docs/design.md`` for the diagram.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from server.errors import ConfirmationDeadlinePassed, IllegalTransition, InvalidCommand

logger = logging.getLogger(__name__)

CONFIRMATION_WINDOW = timedelta(days=30)
"""Parties may apply for judicial confirmation within 30 days of the agreement taking effect."""

SCHEDULE_SLACK = timedelta(minutes=5)
"""How far in the past a session may be scheduled (clock skew between desk and server)."""

MEDIATION_PERIOD = timedelta(days=30)
"""The mediation period by default: 30 days from the mediator's acceptance (configurable)."""

PERIOD_REMINDER = timedelta(days=3)
"""How long before the end of the mediation period the mediator is reminded."""

MAX_EXTENSION_DAYS = 30
"""The longest extension of the mediation period one request may ask for."""


class CaseState(enum.StrEnum):
    """Where a case is in its life."""

    REFERRED = "referred"
    """Referred by a court (or applied for by a party) to an organisation, waiting for a mediator."""
    ASSIGNED = "assigned"
    """The organisation named a mediator, who has not accepted yet."""
    FILED = "filed"
    SESSION_SCHEDULED = "session_scheduled"
    IN_SESSION = "in_session"
    BETWEEN_SESSIONS = "between_sessions"
    AGREEMENT_DRAFTED = "agreement_drafted"
    SIGNING = "signing"
    SIGNED = "signed"
    SERVING = "serving"
    SERVED = "served"
    CONFIRMATION_APPLIED = "confirmation_applied"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    MEDIATION_FAILED = "mediation_failed"
    WITHDRAWN = "withdrawn"
    SIGNING_EXPIRED = "signing_expired"
    SERVICE_FAILED = "service_failed"
    CLOSED = "closed"


END_STATES = frozenset(
    {
        CaseState.CONFIRMED,
        CaseState.REJECTED,
        CaseState.MEDIATION_FAILED,
        CaseState.WITHDRAWN,
        CaseState.CLOSED,
    }
)
"""States a case never leaves."""


class SessionStatus(enum.StrEnum):
    """Where one mediation session is."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ServiceStatus(enum.StrEnum):
    """Where service of the agreement on one recipient is."""

    PENDING = "pending"
    EFFECTIVE = "effective"
    FAILED = "failed"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Session:
    """One scheduled mediation session (a video meeting) of a case."""

    id: str
    """Opaque identifier, unique in the store."""
    scheduled_start: datetime
    """When the mediator plans to open it (UTC)."""
    duration: timedelta
    """Planned length."""
    status: SessionStatus = SessionStatus.SCHEDULED
    """Where the session is."""
    started_at: datetime | None = None
    """When it actually started."""
    ended_at: datetime | None = None
    """When it ended or was cancelled."""


@dataclass(frozen=True)
class Agreement:
    """The current draft of the mediation agreement."""

    document_id: str
    """The draft's document in the case store."""
    version: int
    """1 for the first draft, one more for each redraft."""
    drafted_at: datetime
    """When this version was drafted."""


@dataclass(frozen=True)
class Signing:
    """A signing round over one agreement version."""

    signers: tuple[str, ...]
    """Participant ids who must sign; the last one signs last (the mediator)."""
    deadline: datetime
    """After this the round can be expired."""
    signed: Mapping[str, datetime] = field(default_factory=dict)
    """Participant id -> when they signed."""


@dataclass(frozen=True)
class Service:
    """Electronic service of the signed agreement."""

    document_id: str
    """The document being served."""
    deadline: datetime
    """When an unserved recipient is flagged to the mediator."""
    recipients: Mapping[str, ServiceStatus] = field(default_factory=dict)
    """Participant id -> status on that recipient."""
    effective_at: Mapping[str, datetime] = field(default_factory=dict)
    """Participant id -> when service on them took effect."""


@dataclass(frozen=True)
class Confirmation:
    """A joint application for judicial confirmation and its outcome."""

    applicants: tuple[str, ...]
    """Participant ids who applied jointly."""
    applied_at: datetime
    """When the application was made."""
    confirmed: bool | None = None
    """The ruling: True confirmed, False rejected, None pending."""
    ruled_at: datetime | None = None
    """When the court ruled."""
    reasons: str = ""
    """The court's reasons (for rejection mostly)."""


class ReferralKind(enum.StrEnum):
    """How a case reached the organisation that mediates it."""

    OWN = "own"
    """Filed by the mediator (or brought in before organisations were recorded)."""
    PRE_LITIGATION = "pre_litigation"
    """诉前委派: a court refers a dispute before it is docketed."""
    IN_LITIGATION = "in_litigation"
    """诉中委托: a court entrusts a docketed case to mediation."""
    APPLICATION = "application"
    """当事人申请: a party applied to the organisation directly."""
    POLICE = "police"
    """公安交管部门委托调解: a traffic police agency's system sent the case (``server.intake``); the police case
    number is kept as ``Referral.court_case_number``."""


COURT_REFERRALS = frozenset({ReferralKind.PRE_LITIGATION, ReferralKind.IN_LITIGATION})
"""The kinds of referral that come from a court."""


@dataclass(frozen=True)
class Referral:
    """Where the case came from."""

    kind: ReferralKind
    """How it came."""
    organisation_id: str
    """The organisation it was referred to (that mediates it)."""
    at: datetime
    """When it reached the organisation."""
    court_id: str | None = None
    """The referring court (court referrals only)."""
    court_case_number: str = ""
    """The court's own case number (诉中委托), if any."""


@dataclass(frozen=True)
class Assignment:
    """The mediator who holds (or is asked to hold) the case."""

    mediator_account_id: str
    """Their account."""
    assigned_at: datetime
    """When they were named (or took the case)."""
    accepted_at: datetime | None = None
    """When they accepted; None while the assignment waits for them."""


@dataclass(frozen=True)
class ExtensionRequest:
    """A request to extend the mediation period: it takes effect once every party named consents."""

    days: int
    """By how many days."""
    reason: str
    """Why, in the mediator's words."""
    parties: tuple[str, ...]
    """Participant ids whose consent is needed (every party of the case)."""
    requested_at: datetime
    """When it was asked for."""
    consents: Mapping[str, datetime] = field(default_factory=dict)
    """Participant id -> when they consented."""


@dataclass(frozen=True)
class Period:
    """The mediation period (调解期限): from acceptance to its deadline."""

    started_at: datetime
    """When it began (the mediator accepted the case)."""
    deadline: datetime
    """When it ends, extensions included."""
    reminded_for: datetime | None = None
    """The deadline the mediator was last reminded of (a reminder is sent once per deadline)."""
    overdue_at: datetime | None = None
    """When the period was flagged as passed without an agreement (None: not overdue)."""
    extensions: int = 0
    """How many extensions took effect."""
    extension: ExtensionRequest | None = None
    """An extension waiting for the parties' consent."""


@dataclass(frozen=True)
class Case:
    """One dispute, from filing to its end state."""

    id: str
    """Opaque identifier."""
    number: str
    """Human case number, e.g. ``(2026)道调字第0001号``."""
    kind: str
    """Dispute type, e.g. ``traffic_accident``."""
    title: str
    """Short description for lists."""
    state: CaseState
    """Where the case is."""
    filed_at: datetime
    """When the case entered the platform."""
    sessions: tuple[Session, ...] = ()
    """Every session ever scheduled, in scheduling order."""
    agreement: Agreement | None = None
    """The current agreement draft, if any."""
    signing: Signing | None = None
    """The current signing round, if any."""
    agreement_effective_at: datetime | None = None
    """When the last signature made the agreement binding."""
    service: Service | None = None
    """Service of the signed agreement, if started."""
    confirmation: Confirmation | None = None
    """Judicial confirmation, if applied for."""
    outcome_reason: str = ""
    """Why the case ended (withdrawal, failure), in the mediator's words."""
    referral: Referral | None = None
    """Where the case came from (None: recorded before referrals existed)."""
    assignment: Assignment | None = None
    """Who holds it (None: nobody yet, or recorded before assignments existed)."""
    period: Period | None = None
    """The mediation period, once a mediator accepted the case."""

    def session(self, session_id: str) -> Session:
        """Return the session with this id or raise :class:`InvalidCommand`."""
        for s in self.sessions:
            if s.id == session_id:
                return s
        raise InvalidCommand("No such session on this case")


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    """Base of every command; ``name`` is how errors and the audit trail call it."""

    name = "command"


@dataclass(frozen=True)
class ScheduleSession(Command):
    """Put a mediation session on the calendar."""

    name = "schedule a session"
    session_id: str
    """New session's id."""
    starts_at: datetime
    """Planned start (UTC)."""
    duration: timedelta = timedelta(hours=1)
    """Planned length."""


@dataclass(frozen=True)
class CancelSession(Command):
    """Take a scheduled session off the calendar."""

    name = "cancel a session"
    session_id: str
    """The scheduled session."""


@dataclass(frozen=True)
class StartSession(Command):
    """Open a scheduled session: the mediator is in the room."""

    name = "start a session"
    session_id: str
    """The scheduled session."""


@dataclass(frozen=True)
class EndSession(Command):
    """Close the running session."""

    name = "end a session"
    session_id: str
    """The running session."""


@dataclass(frozen=True)
class DraftAgreement(Command):
    """Record a new draft of the mediation agreement."""

    name = "draft the agreement"
    document_id: str
    """The draft's document."""


@dataclass(frozen=True)
class OpenSigning(Command):
    """Start collecting signatures on the current draft."""

    name = "open signing"
    signers: tuple[str, ...]
    """Participant ids; the last signs last (the mediator)."""
    deadline: datetime
    """After this the round may expire."""


@dataclass(frozen=True)
class RecordSignature(Command):
    """One signer has signed."""

    name = "record a signature"
    signer_id: str
    """Participant id of the signer."""


@dataclass(frozen=True)
class ExpireSigning(Command):
    """The signing deadline passed with signatures missing."""

    name = "expire signing"


@dataclass(frozen=True)
class StartService(Command):
    """Begin electronic service of the signed agreement."""

    name = "start service"
    document_id: str
    """The signed agreement's document."""
    recipients: tuple[str, ...]
    """Participant ids to serve."""
    deadline: datetime
    """When unserved recipients are flagged."""


@dataclass(frozen=True)
class RecordServiceEffective(Command):
    """The document reached a recipient's system: service on them took effect."""

    name = "record effective service"
    recipient_id: str
    """Participant id."""


@dataclass(frozen=True)
class RecordServiceFailure(Command):
    """Every channel to a recipient failed after retries."""

    name = "record failed service"
    recipient_id: str
    """Participant id."""


@dataclass(frozen=True)
class RetryService(Command):
    """Try failed recipients again (e.g. with new contact details)."""

    name = "retry service"


@dataclass(frozen=True)
class ApplyForConfirmation(Command):
    """The parties jointly apply to the court for judicial confirmation."""

    name = "apply for judicial confirmation"
    applicants: tuple[str, ...]
    """Participant ids of the applying parties."""


@dataclass(frozen=True)
class RuleOnConfirmation(Command):
    """The judge's ruling on the application."""

    name = "rule on judicial confirmation"
    confirmed: bool
    """True: confirmed valid; False: application rejected."""
    reasons: str = ""
    """The court's reasons."""


@dataclass(frozen=True)
class FailMediation(Command):
    """Mediation failed: the case is referred to litigation."""

    name = "record failed mediation"
    reason: str = ""
    """Why, in the mediator's words."""


@dataclass(frozen=True)
class Withdraw(Command):
    """The applicant withdrew the case."""

    name = "withdraw the case"
    reason: str = ""
    """Why, if given."""


@dataclass(frozen=True)
class CloseCase(Command):
    """Close a served case for which no confirmation is sought."""

    name = "close the case"
    reason: str = ""
    """Why, if given."""


@dataclass(frozen=True)
class AssignMediator(Command):
    """The organisation names the mediator who is to hold a referred case (or names another)."""

    name = "assign a mediator"
    mediator_account_id: str
    """The mediator's account."""


@dataclass(frozen=True)
class AcceptAssignment(Command):
    """The named mediator accepts the case: the mediation period starts."""

    name = "accept the case"
    mediator_account_id: str
    """Who accepts (must be the mediator named)."""
    period: timedelta = MEDIATION_PERIOD
    """How long the mediation period is."""


@dataclass(frozen=True)
class DeclineAssignment(Command):
    """The named mediator declines the case, with a reason: it goes back to the organisation's queue."""

    name = "decline the case"
    mediator_account_id: str
    """Who declines (must be the mediator named)."""
    reason: str
    """Why."""


@dataclass(frozen=True)
class TakeCase(Command):
    """A mediator of the organisation takes a referred case from its queue (named and accepted at once)."""

    name = "take the case"
    mediator_account_id: str
    """Who takes it."""
    period: timedelta = MEDIATION_PERIOD
    """How long the mediation period is."""


@dataclass(frozen=True)
class RequestExtension(Command):
    """The mediator asks to extend the mediation period; every party must consent."""

    name = "request an extension"
    days: int
    """By how many days (1 to MAX_EXTENSION_DAYS)."""
    reason: str
    """Why."""
    parties: tuple[str, ...]
    """Participant ids of every party of the case."""


@dataclass(frozen=True)
class ConsentToExtension(Command):
    """A party consents to the requested extension."""

    name = "consent to the extension"
    participant_id: str
    """Who consents."""


@dataclass(frozen=True)
class RemindPeriod(Command):
    """The end of the mediation period is near: the mediator is reminded (issued by the scheduler)."""

    name = "remind of the mediation period"


@dataclass(frozen=True)
class FlagOverdue(Command):
    """The mediation period passed without an agreement (issued by the scheduler)."""

    name = "flag the case overdue"


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """Base of every event; ``action`` names it in the audit trail."""

    action = "event"

    def details(self) -> dict[str, Any]:
        """The event's fields as JSON-ready values (for the audit trail)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class CaseFiled(Event):
    """A case entered the platform."""

    action = "case.filed"
    number: str
    """Case number."""
    kind: str
    """Dispute type."""


@dataclass(frozen=True)
class StateChanged(Event):
    """The case moved from one state to another."""

    action = "case.state_changed"
    old: CaseState
    """State before."""
    new: CaseState
    """State after."""


@dataclass(frozen=True)
class SessionScheduled(Event):
    """A session was put on the calendar."""

    action = "session.scheduled"
    session_id: str
    """The session."""
    starts_at: datetime
    """Planned start."""


@dataclass(frozen=True)
class SessionCancelled(Event):
    """A scheduled session was cancelled."""

    action = "session.cancelled"
    session_id: str
    """The session."""


@dataclass(frozen=True)
class SessionStarted(Event):
    """A session opened."""

    action = "session.started"
    session_id: str
    """The session."""


@dataclass(frozen=True)
class SessionEnded(Event):
    """A session closed."""

    action = "session.ended"
    session_id: str
    """The session."""


@dataclass(frozen=True)
class AgreementDrafted(Event):
    """A new agreement draft was recorded."""

    action = "agreement.drafted"
    document_id: str
    """The draft."""
    version: int
    """Its version number."""


@dataclass(frozen=True)
class SigningOpened(Event):
    """Signature collection started."""

    action = "signing.opened"
    signers: tuple[str, ...]
    """Who must sign."""
    deadline: datetime
    """Until when."""


@dataclass(frozen=True)
class SignatureRecorded(Event):
    """A signer signed."""

    action = "signing.signed"
    signer_id: str
    """Who."""


@dataclass(frozen=True)
class SigningExpired(Event):
    """The signing deadline passed with signatures missing."""

    action = "signing.expired"
    missing: tuple[str, ...]
    """Who did not sign."""


@dataclass(frozen=True)
class ServiceStarted(Event):
    """Electronic service began."""

    action = "service.started"
    document_id: str
    """The document served."""
    recipients: tuple[str, ...]
    """On whom."""


@dataclass(frozen=True)
class ServiceEffective(Event):
    """Service took effect on one recipient."""

    action = "service.effective"
    recipient_id: str
    """On whom."""


@dataclass(frozen=True)
class ServiceFailed(Event):
    """Service on one recipient failed."""

    action = "service.failed"
    recipient_id: str
    """On whom."""


@dataclass(frozen=True)
class ServiceRetried(Event):
    """Failed recipients are being served again."""

    action = "service.retried"
    recipients: tuple[str, ...]
    """On whom."""


@dataclass(frozen=True)
class ConfirmationApplied(Event):
    """The parties applied for judicial confirmation."""

    action = "confirmation.applied"
    applicants: tuple[str, ...]
    """Who applied."""


@dataclass(frozen=True)
class ConfirmationRuled(Event):
    """The court ruled on the application."""

    action = "confirmation.ruled"
    confirmed: bool
    """The outcome."""


@dataclass(frozen=True)
class CaseEnded(Event):
    """The case reached an end state for a reason given by a person."""

    action = "case.ended"
    outcome: CaseState
    """The end state."""


@dataclass(frozen=True)
class CaseReferred(Event):
    """A case was referred to an organisation (by a court, or a party applied)."""

    action = "case.referred"
    referral_kind: ReferralKind
    """How."""
    organisation_id: str
    """To which organisation."""
    court_id: str | None
    """The referring court, if any."""


@dataclass(frozen=True)
class CaseAssigned(Event):
    """A mediator was named to hold the case."""

    action = "case.assigned"
    mediator_account_id: str
    """Who."""


@dataclass(frozen=True)
class AssignmentAccepted(Event):
    """The named mediator accepted the case."""

    action = "assignment.accepted"
    mediator_account_id: str
    """Who."""


@dataclass(frozen=True)
class AssignmentDeclined(Event):
    """The named mediator declined the case."""

    action = "assignment.declined"
    mediator_account_id: str
    """Who."""
    reason: str
    """Why."""


@dataclass(frozen=True)
class PeriodStarted(Event):
    """The mediation period started."""

    action = "period.started"
    deadline: datetime
    """When it ends."""


@dataclass(frozen=True)
class ExtensionRequested(Event):
    """The mediator asked the parties to extend the mediation period."""

    action = "period.extension_requested"
    days: int
    """By how many days."""
    parties: tuple[str, ...]
    """Whose consent is needed."""


@dataclass(frozen=True)
class ExtensionConsented(Event):
    """A party consented to the extension."""

    action = "period.extension_consented"
    participant_id: str
    """Who."""


@dataclass(frozen=True)
class PeriodExtended(Event):
    """Every party consented: the mediation period was extended."""

    action = "period.extended"
    deadline: datetime
    """The new deadline."""


@dataclass(frozen=True)
class PeriodReminder(Event):
    """The mediator was reminded that the mediation period ends soon."""

    action = "period.reminder"
    deadline: datetime
    """The deadline reminded of."""


@dataclass(frozen=True)
class PeriodOverdue(Event):
    """The mediation period passed without an agreement."""

    action = "period.overdue"
    deadline: datetime
    """The deadline that passed."""


# --------------------------------------------------------------------------- the machine

_S = CaseState
_PRE_AGREEMENT = frozenset({_S.FILED, _S.SESSION_SCHEDULED, _S.BETWEEN_SESSIONS, _S.AGREEMENT_DRAFTED})
_UNASSIGNED = frozenset({_S.REFERRED, _S.ASSIGNED})

PERIOD_STATES = _PRE_AGREEMENT | {_S.IN_SESSION, _S.SIGNING, _S.SIGNING_EXPIRED}
"""States in which the mediation period runs (from acceptance until the agreement is signed)."""

LEGAL_STATES: dict[type[Command], frozenset[CaseState]] = {
    ScheduleSession: frozenset(
        {_S.FILED, _S.SESSION_SCHEDULED, _S.BETWEEN_SESSIONS, _S.AGREEMENT_DRAFTED, _S.SIGNING_EXPIRED}
    ),
    CancelSession: frozenset({_S.SESSION_SCHEDULED}),
    StartSession: frozenset({_S.SESSION_SCHEDULED}),
    EndSession: frozenset({_S.IN_SESSION}),
    DraftAgreement: frozenset({_S.BETWEEN_SESSIONS, _S.AGREEMENT_DRAFTED, _S.SIGNING_EXPIRED}),
    OpenSigning: frozenset({_S.AGREEMENT_DRAFTED}),
    RecordSignature: frozenset({_S.SIGNING}),
    ExpireSigning: frozenset({_S.SIGNING}),
    StartService: frozenset({_S.SIGNED}),
    RecordServiceEffective: frozenset({_S.SERVING, _S.SERVICE_FAILED}),
    RecordServiceFailure: frozenset({_S.SERVING}),
    RetryService: frozenset({_S.SERVICE_FAILED}),
    ApplyForConfirmation: frozenset({_S.SERVED}),
    RuleOnConfirmation: frozenset({_S.CONFIRMATION_APPLIED}),
    FailMediation: _PRE_AGREEMENT | {_S.SIGNING_EXPIRED},
    Withdraw: _PRE_AGREEMENT | _UNASSIGNED | {_S.SIGNING, _S.SIGNING_EXPIRED},
    CloseCase: frozenset({_S.SERVED}),
    AssignMediator: _UNASSIGNED,
    AcceptAssignment: frozenset({_S.ASSIGNED}),
    DeclineAssignment: frozenset({_S.ASSIGNED}),
    TakeCase: frozenset({_S.REFERRED}),
    RequestExtension: PERIOD_STATES,
    ConsentToExtension: PERIOD_STATES,
    RemindPeriod: PERIOD_STATES,
    FlagOverdue: PERIOD_STATES,
}
"""Which command is legal in which state. Anything not listed is illegal."""


@dataclass(frozen=True)
class Transition:
    """What :func:`apply` returns: the case after the command and what happened."""

    case: Case
    """The new case value."""
    events: tuple[Event, ...]
    """What happened, in order."""


def file_case(
    case_id: str,
    number: str,
    kind: str,
    title: str,
    now: datetime,
    *,
    referral: Referral | None = None,
    mediator_account_id: str | None = None,
    period: timedelta = MEDIATION_PERIOD,
) -> Transition:
    """Create a new case.

    With a ``mediator_account_id`` the mediator files it themselves (a case of their own organisation,
    ``referral``): it is ``filed``, held and accepted by them, its mediation period running. With only
    a ``referral`` it arrives ``referred`` (a court's referral or a party's application) and waits in
    the organisation's queue for a mediator. With neither it is a bare ``filed`` case (no holder, no
    period: how cases were filed before referrals existed).
    """
    if not number.strip() or not kind.strip():
        raise InvalidCommand("A case needs a number and a kind")
    events: list[Event] = [CaseFiled(number=number, kind=kind)]
    if mediator_account_id is None and referral is None:
        return Transition(
            Case(id=case_id, number=number, kind=kind, title=title, state=_S.FILED, filed_at=now), (events[0],)
        )
    if mediator_account_id is None:
        assert referral is not None
        if referral.kind is ReferralKind.OWN:
            raise InvalidCommand("A referred case needs its referral")
        if (referral.kind in COURT_REFERRALS) != (referral.court_id is not None):
            raise InvalidCommand("A court's referral names its court; a party's application names none")
        case = Case(id=case_id, number=number, kind=kind, title=title, state=_S.REFERRED, filed_at=now)
        case = replace(case, referral=replace(referral, at=now))
        events.append(
            CaseReferred(
                referral_kind=referral.kind, organisation_id=referral.organisation_id, court_id=referral.court_id
            )
        )
        return Transition(case, tuple(events))
    case = Case(id=case_id, number=number, kind=kind, title=title, state=_S.FILED, filed_at=now)
    if referral is not None:
        case = replace(case, referral=replace(referral, at=now))
    case = _accept(case, Assignment(mediator_account_id, now), period, now, events)
    return Transition(case, tuple(events))


def apply(case: Case, command: Command, now: datetime) -> Transition:
    """Apply ``command`` to ``case`` at time ``now``; raise if it is not allowed."""
    legal = LEGAL_STATES.get(type(command))
    if legal is None or case.state not in legal:
        raise IllegalTransition(command.name, case.state.value)
    handler = _HANDLERS[type(command)]
    events: list[Event] = []
    new_case = handler(case, command, now, events)
    return Transition(new_case, tuple(events))


def _set_state(case: Case, new: CaseState, events: list[Event]) -> Case:
    if new is case.state:
        return case
    logger.info("[case=%s] %s -> %s", case.id, case.state.value, new.value)
    events.append(StateChanged(old=case.state, new=new))
    return replace(case, state=new)


def _resting_state(case: Case) -> CaseState:
    """The state of a case with no session running, from its sessions."""
    if any(s.status is SessionStatus.SCHEDULED for s in case.sessions):
        return _S.SESSION_SCHEDULED
    if any(s.status is SessionStatus.ENDED for s in case.sessions):
        return _S.BETWEEN_SESSIONS
    return _S.FILED


def _replace_session(case: Case, session: Session) -> Case:
    return replace(case, sessions=tuple(session if s.id == session.id else s for s in case.sessions))


def _cancel_open_sessions(case: Case, now: datetime, events: list[Event]) -> Case:
    for s in case.sessions:
        if s.status is SessionStatus.SCHEDULED:
            case = _replace_session(case, replace(s, status=SessionStatus.CANCELLED, ended_at=now))
            events.append(SessionCancelled(session_id=s.id))
    return case


_C = TypeVar("_C", bound=Command)
_Handler = Callable[[Case, Any, datetime, list[Event]], Case]


def _schedule(case: Case, cmd: ScheduleSession, now: datetime, events: list[Event]) -> Case:
    if any(s.id == cmd.session_id for s in case.sessions):
        raise InvalidCommand("A session with this id already exists")
    if cmd.starts_at < now - SCHEDULE_SLACK:
        raise InvalidCommand("A session cannot be scheduled in the past")
    if cmd.duration <= timedelta(0) or cmd.duration > timedelta(hours=12):
        raise InvalidCommand("A session lasts between one minute and twelve hours")
    session = Session(id=cmd.session_id, scheduled_start=cmd.starts_at, duration=cmd.duration)
    case = replace(case, sessions=(*case.sessions, session))
    events.append(SessionScheduled(session_id=session.id, starts_at=session.scheduled_start))
    return _set_state(case, _S.SESSION_SCHEDULED, events)


def _cancel(case: Case, cmd: CancelSession, now: datetime, events: list[Event]) -> Case:
    session = case.session(cmd.session_id)
    if session.status is not SessionStatus.SCHEDULED:
        raise InvalidCommand(f'Cannot cancel a session in status "{session.status.value}"')
    case = _replace_session(case, replace(session, status=SessionStatus.CANCELLED, ended_at=now))
    events.append(SessionCancelled(session_id=session.id))
    return _set_state(case, _resting_state(case), events)


def _start(case: Case, cmd: StartSession, now: datetime, events: list[Event]) -> Case:
    session = case.session(cmd.session_id)
    if session.status is not SessionStatus.SCHEDULED:
        raise InvalidCommand(f'Cannot start a session in status "{session.status.value}"')
    case = _replace_session(case, replace(session, status=SessionStatus.IN_PROGRESS, started_at=now))
    events.append(SessionStarted(session_id=session.id))
    return _set_state(case, _S.IN_SESSION, events)


def _end(case: Case, cmd: EndSession, now: datetime, events: list[Event]) -> Case:
    session = case.session(cmd.session_id)
    if session.status is not SessionStatus.IN_PROGRESS:
        raise InvalidCommand(f'Cannot end a session in status "{session.status.value}"')
    case = _replace_session(case, replace(session, status=SessionStatus.ENDED, ended_at=now))
    events.append(SessionEnded(session_id=session.id))
    return _set_state(case, _resting_state(case), events)


def _draft(case: Case, cmd: DraftAgreement, now: datetime, events: list[Event]) -> Case:
    version = case.agreement.version + 1 if case.agreement else 1
    case = replace(
        case,
        agreement=Agreement(document_id=cmd.document_id, version=version, drafted_at=now),
        signing=None,
    )
    events.append(AgreementDrafted(document_id=cmd.document_id, version=version))
    return _set_state(case, _S.AGREEMENT_DRAFTED, events)


def _open_signing(case: Case, cmd: OpenSigning, now: datetime, events: list[Event]) -> Case:
    if not cmd.signers or len(set(cmd.signers)) != len(cmd.signers):
        raise InvalidCommand("Signing needs at least one signer, each named once")
    if cmd.deadline <= now:
        raise InvalidCommand("The signing deadline must be in the future")
    case = replace(case, signing=Signing(signers=cmd.signers, deadline=cmd.deadline))
    events.append(SigningOpened(signers=cmd.signers, deadline=cmd.deadline))
    return _set_state(case, _S.SIGNING, events)


def _sign(case: Case, cmd: RecordSignature, now: datetime, events: list[Event]) -> Case:
    signing = case.signing
    assert signing is not None  # guaranteed by state SIGNING
    if cmd.signer_id not in signing.signers:
        raise InvalidCommand("This participant is not a signer of the agreement")
    if cmd.signer_id in signing.signed:
        raise InvalidCommand("This signer has already signed")
    if now > signing.deadline:
        raise InvalidCommand("The signing deadline has passed")
    last = signing.signers[-1]
    if cmd.signer_id == last and len(signing.signed) < len(signing.signers) - 1:
        raise InvalidCommand("The final signer signs after everyone else")
    signed = {**signing.signed, cmd.signer_id: now}
    case = replace(case, signing=replace(signing, signed=signed))
    events.append(SignatureRecorded(signer_id=cmd.signer_id))
    if len(signed) == len(signing.signers):
        case = replace(case, agreement_effective_at=now)
        return _set_state(case, _S.SIGNED, events)
    return case


def _expire(case: Case, cmd: ExpireSigning, now: datetime, events: list[Event]) -> Case:
    signing = case.signing
    assert signing is not None
    if now < signing.deadline:
        raise InvalidCommand("The signing deadline has not passed yet")
    missing = tuple(s for s in signing.signers if s not in signing.signed)
    events.append(SigningExpired(missing=missing))
    return _set_state(case, _S.SIGNING_EXPIRED, events)


def _start_service(case: Case, cmd: StartService, now: datetime, events: list[Event]) -> Case:
    if not cmd.recipients or len(set(cmd.recipients)) != len(cmd.recipients):
        raise InvalidCommand("Service needs at least one recipient, each named once")
    if cmd.deadline <= now:
        raise InvalidCommand("The service deadline must be in the future")
    service = Service(
        document_id=cmd.document_id,
        deadline=cmd.deadline,
        recipients={r: ServiceStatus.PENDING for r in cmd.recipients},
    )
    case = replace(case, service=service)
    events.append(ServiceStarted(document_id=cmd.document_id, recipients=cmd.recipients))
    return _set_state(case, _S.SERVING, events)


def _service_recipient(case: Case, recipient_id: str) -> Service:
    service = case.service
    assert service is not None
    if recipient_id not in service.recipients:
        raise InvalidCommand("This participant is not a recipient of the service")
    return service


def _service_effective(case: Case, cmd: RecordServiceEffective, now: datetime, events: list[Event]) -> Case:
    service = _service_recipient(case, cmd.recipient_id)
    if service.recipients[cmd.recipient_id] is ServiceStatus.EFFECTIVE:
        raise InvalidCommand("Service on this recipient already took effect")
    service = replace(
        service,
        recipients={**service.recipients, cmd.recipient_id: ServiceStatus.EFFECTIVE},
        effective_at={**service.effective_at, cmd.recipient_id: now},
    )
    case = replace(case, service=service)
    events.append(ServiceEffective(recipient_id=cmd.recipient_id))
    if all(s is ServiceStatus.EFFECTIVE for s in service.recipients.values()):
        return _set_state(case, _S.SERVED, events)
    return case


def _service_failed(case: Case, cmd: RecordServiceFailure, now: datetime, events: list[Event]) -> Case:
    service = _service_recipient(case, cmd.recipient_id)
    if service.recipients[cmd.recipient_id] is not ServiceStatus.PENDING:
        raise InvalidCommand("Only a pending recipient can fail")
    service = replace(service, recipients={**service.recipients, cmd.recipient_id: ServiceStatus.FAILED})
    case = replace(case, service=service)
    events.append(ServiceFailed(recipient_id=cmd.recipient_id))
    return _set_state(case, _S.SERVICE_FAILED, events)


def _retry_service(case: Case, cmd: RetryService, now: datetime, events: list[Event]) -> Case:
    service = case.service
    assert service is not None
    failed = tuple(r for r, s in service.recipients.items() if s is ServiceStatus.FAILED)
    recipients = {r: (ServiceStatus.PENDING if s is ServiceStatus.FAILED else s) for r, s in service.recipients.items()}
    case = replace(case, service=replace(service, recipients=recipients))
    events.append(ServiceRetried(recipients=failed))
    return _set_state(case, _S.SERVING, events)


def _apply_confirmation(case: Case, cmd: ApplyForConfirmation, now: datetime, events: list[Event]) -> Case:
    effective = case.agreement_effective_at
    assert effective is not None  # a served case has a signed agreement
    if now > effective + CONFIRMATION_WINDOW:
        raise ConfirmationDeadlinePassed(
            "Judicial confirmation must be applied for within 30 days of the agreement taking effect; "
            f"that period ended at {(effective + CONFIRMATION_WINDOW).isoformat()}"
        )
    if len(cmd.applicants) < 2 or len(set(cmd.applicants)) != len(cmd.applicants):
        raise InvalidCommand("Judicial confirmation is applied for jointly by at least two parties")
    case = replace(case, confirmation=Confirmation(applicants=cmd.applicants, applied_at=now))
    events.append(ConfirmationApplied(applicants=cmd.applicants))
    return _set_state(case, _S.CONFIRMATION_APPLIED, events)


def _rule(case: Case, cmd: RuleOnConfirmation, now: datetime, events: list[Event]) -> Case:
    confirmation = case.confirmation
    assert confirmation is not None
    if not cmd.confirmed and not cmd.reasons.strip():
        raise InvalidCommand("A rejection must give reasons")
    case = replace(
        case,
        confirmation=replace(confirmation, confirmed=cmd.confirmed, ruled_at=now, reasons=cmd.reasons),
    )
    events.append(ConfirmationRuled(confirmed=cmd.confirmed))
    return _set_state(case, _S.CONFIRMED if cmd.confirmed else _S.REJECTED, events)


def _end_case(outcome: CaseState) -> _Handler:
    def handler(case: Case, cmd: FailMediation | Withdraw | CloseCase, now: datetime, events: list[Event]) -> Case:
        case = _cancel_open_sessions(case, now, events)
        case = replace(case, outcome_reason=cmd.reason)
        events.append(CaseEnded(outcome=outcome))
        return _set_state(case, outcome, events)

    return handler


def _start_period(case: Case, length: timedelta, now: datetime, events: list[Event]) -> Case:
    if length <= timedelta(0) or length > timedelta(days=365):
        raise InvalidCommand("The mediation period lasts between one day and one year")
    period = Period(started_at=now, deadline=now + length)
    events.append(PeriodStarted(deadline=period.deadline))
    return replace(case, period=period)


def _accept(case: Case, assignment: Assignment, length: timedelta, now: datetime, events: list[Event]) -> Case:
    """The mediator named in ``assignment`` holds the case from ``now``: accepted, the period running."""
    if case.assignment is None or case.assignment.mediator_account_id != assignment.mediator_account_id:
        events.append(CaseAssigned(mediator_account_id=assignment.mediator_account_id))
    case = replace(case, assignment=replace(assignment, accepted_at=now))
    events.append(AssignmentAccepted(mediator_account_id=assignment.mediator_account_id))
    return _start_period(case, length, now, events)


def _assign(case: Case, cmd: AssignMediator, now: datetime, events: list[Event]) -> Case:
    if case.assignment is not None and case.assignment.mediator_account_id == cmd.mediator_account_id:
        raise InvalidCommand("This mediator is already named for the case")
    case = replace(case, assignment=Assignment(cmd.mediator_account_id, now))
    events.append(CaseAssigned(mediator_account_id=cmd.mediator_account_id))
    return _set_state(case, _S.ASSIGNED, events)


def _named(case: Case, account_id: str) -> Assignment:
    assignment = case.assignment
    if assignment is None or assignment.mediator_account_id != account_id:
        raise InvalidCommand("The case is assigned to another mediator")
    return assignment


def _accept_assignment(case: Case, cmd: AcceptAssignment, now: datetime, events: list[Event]) -> Case:
    case = _accept(case, _named(case, cmd.mediator_account_id), cmd.period, now, events)
    return _set_state(case, _S.FILED, events)


def _decline(case: Case, cmd: DeclineAssignment, now: datetime, events: list[Event]) -> Case:
    _named(case, cmd.mediator_account_id)
    if not cmd.reason.strip():
        raise InvalidCommand("Declining a case needs a reason")
    case = replace(case, assignment=None)
    events.append(AssignmentDeclined(mediator_account_id=cmd.mediator_account_id, reason=cmd.reason))
    return _set_state(case, _S.REFERRED, events)


def _take(case: Case, cmd: TakeCase, now: datetime, events: list[Event]) -> Case:
    case = _accept(case, Assignment(cmd.mediator_account_id, now), cmd.period, now, events)
    return _set_state(case, _S.FILED, events)


def _period(case: Case) -> Period:
    if case.period is None:
        raise InvalidCommand("This case has no mediation period")
    return case.period


def _request_extension(case: Case, cmd: RequestExtension, now: datetime, events: list[Event]) -> Case:
    period = _period(case)
    if period.extension is not None:
        raise InvalidCommand("An extension is already waiting for the parties' consent")
    if not 1 <= cmd.days <= MAX_EXTENSION_DAYS:
        raise InvalidCommand(f"An extension is between 1 and {MAX_EXTENSION_DAYS} days")
    if not cmd.reason.strip():
        raise InvalidCommand("An extension needs a reason")
    if not cmd.parties or len(set(cmd.parties)) != len(cmd.parties):
        raise InvalidCommand("An extension needs the consent of the parties, each named once")
    request = ExtensionRequest(days=cmd.days, reason=cmd.reason, parties=cmd.parties, requested_at=now)
    events.append(ExtensionRequested(days=cmd.days, parties=cmd.parties))
    return replace(case, period=replace(period, extension=request))


def _consent_extension(case: Case, cmd: ConsentToExtension, now: datetime, events: list[Event]) -> Case:
    period = _period(case)
    request = period.extension
    if request is None:
        raise InvalidCommand("No extension is waiting for consent")
    if cmd.participant_id not in request.parties:
        raise InvalidCommand("This participant's consent is not asked for")
    if cmd.participant_id in request.consents:
        raise InvalidCommand("This party has already consented")
    request = replace(request, consents={**request.consents, cmd.participant_id: now})
    events.append(ExtensionConsented(participant_id=cmd.participant_id))
    if len(request.consents) < len(request.parties):
        return replace(case, period=replace(period, extension=request))
    deadline = period.deadline + timedelta(days=request.days)
    events.append(PeriodExtended(deadline=deadline))
    return replace(
        case,
        period=replace(
            period,
            deadline=deadline,
            extension=None,
            extensions=period.extensions + 1,
            overdue_at=period.overdue_at if deadline <= now else None,
        ),
    )


def _remind(case: Case, cmd: RemindPeriod, now: datetime, events: list[Event]) -> Case:
    period = _period(case)
    if period.reminded_for == period.deadline:
        raise InvalidCommand("The mediator was already reminded of this deadline")
    if now < period.deadline - PERIOD_REMINDER:
        raise InvalidCommand("The mediation period is not near its end")
    events.append(PeriodReminder(deadline=period.deadline))
    return replace(case, period=replace(period, reminded_for=period.deadline))


def _flag_overdue(case: Case, cmd: FlagOverdue, now: datetime, events: list[Event]) -> Case:
    period = _period(case)
    if period.overdue_at is not None:
        raise InvalidCommand("The case is already flagged overdue")
    if now < period.deadline:
        raise InvalidCommand("The mediation period has not ended")
    events.append(PeriodOverdue(deadline=period.deadline))
    return replace(case, period=replace(period, overdue_at=now))


_HANDLERS: dict[type[Command], _Handler] = {
    ScheduleSession: _schedule,
    CancelSession: _cancel,
    StartSession: _start,
    EndSession: _end,
    DraftAgreement: _draft,
    OpenSigning: _open_signing,
    RecordSignature: _sign,
    ExpireSigning: _expire,
    StartService: _start_service,
    RecordServiceEffective: _service_effective,
    RecordServiceFailure: _service_failed,
    RetryService: _retry_service,
    ApplyForConfirmation: _apply_confirmation,
    RuleOnConfirmation: _rule,
    FailMediation: _end_case(_S.MEDIATION_FAILED),
    Withdraw: _end_case(_S.WITHDRAWN),
    CloseCase: _end_case(_S.CLOSED),
    AssignMediator: _assign,
    AcceptAssignment: _accept_assignment,
    DeclineAssignment: _decline,
    TakeCase: _take,
    RequestExtension: _request_extension,
    ConsentToExtension: _consent_extension,
    RemindPeriod: _remind,
    FlagOverdue: _flag_overdue,
}

assert set(_HANDLERS) == set(LEGAL_STATES), "every command needs a handler and a legality entry"
