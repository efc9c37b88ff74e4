"""A party applies to a mediation organisation themselves, from the public page ``/apply``, with no account.

The steps, each a public operation (no token; everyone gets the same answer)::

    listPublicMediationOrganisations   open people's and industry mediation organisations: id, name, kind, region
    sendApplicationCode                a 6-digit code by SMS to the applicant's mainland mobile
    submitApplication                  the application with the code: the case joins the organisation's queue
                                       (state "referred", 当事人申请) and the applicant gets their join link

and one that is not public: ``readApplication`` (the description, for whoever follows the case).

Safety:

- the code proves the applicant holds the mobile they name; only keyed hashes are kept (HMAC under a key of its own,
  ``server.identity.keys.APPLICATION_CODES``, each input also prefixed ``application-…``): of the code (with its id), of the number, of the client's
  address. It expires after :data:`CODE_TTL`; :data:`MAX_ATTEMPTS` wrong guesses void it; a newer code
  voids the older ones of the number;
- sending is limited per number (one a minute, five a day) and per client address (twenty an hour), each
  a window that opens with its first code, decided by conditional UPDATEs (:mod:`.application_store`);
  a refusal is 429 with ``Retry-After``;
- the winning submission claims the code in one conditional UPDATE, and ``applications.code_id`` is
  unique: a code files one case, and a replayed submission gets 409 ``application_submitted``;
- no number, name or description reaches a log or an error message; the audit trail names the applicant
  by their participant id.

Refusals (problem+json, ``code``)::

    InvalidCommand (422)
    ├── invalid_command          unknown, closed or non-mediation organisation
    ├── CodeMissing              code_missing          no code was sent to this mobile
    ├── CodeExpired              code_expired          expired, or no longer valid (spent, replaced)
    ├── CodeVoid                 code_void             too many wrong guesses: ask for a new code
    └── WrongCode                wrong_code            the code does not match (tries left in the detail)
    Duplicate (409)
    └── ApplicationSubmitted     application_submitted this code already filed its case
    TooManyAttempts (429)
    └── TooManyCodes             too_many_codes        a sending limit is full (Retry-After)
    DeliveryFailed → 422 invalid_command (refused for good) or 503 service_unavailable (try again)

Behind a reverse proxy every client has the proxy's address: the per-address limit then counts the
proxy (the server trusts no ``X-Forwarded-For``); the per-number limits still hold.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import NewParticipant
from server.domain.organisations import ORGANISATION_KIND_NAMES
from server.domain.roles import Role
from server.errors import (
    DeliveryFailed,
    Duplicate,
    InvalidCommand,
    NotFound,
    ServiceUnavailable,
    TooManyAttempts,
)
from server.identity.access import Authenticator, Principal
from server.notify import Message, Notifier, mask_address
from server.referrals.application_store import ApplicationStore, Limit
from server.referrals.usecases import MEDIATION_ORGANISATIONS, ReferralService
from server.store.repository import AuditRecord

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
"""How long a code works."""
MAX_ATTEMPTS = 5
"""Wrong guesses that void a code."""
RESEND_AFTER = timedelta(minutes=1)
"""The wait between two codes to one number."""
CODES_PER_DAY = 5
"""Codes one number may be sent in a day (a window of 24 hours from the first)."""
CODES_PER_CLIENT_HOUR = 20
"""Codes one client address may ask for in an hour."""

DISPUTES: dict[str, str] = {
    "traffic_accident": "道路交通事故损害赔偿纠纷",
    "financial": "金融纠纷",
    "family": "婚姻家庭纠纷",
    "other": "纠纷",
}
"""The kinds of dispute a party may apply with, and how the case's title names them (traffic first)."""


class CodeMissing(InvalidCommand):
    """No code was sent to this mobile."""

    code = "code_missing"


class CodeExpired(InvalidCommand):
    """The code expired, or is no longer valid (spent, or replaced by a newer one)."""

    code = "code_expired"


class CodeVoid(InvalidCommand):
    """Too many wrong guesses: the code no longer works."""

    code = "code_void"


class WrongCode(InvalidCommand):
    """The code does not match."""

    code = "wrong_code"


class ApplicationSubmitted(Duplicate):
    """The code already filed its case: a replayed submission files nothing."""

    code = "application_submitted"


class TooManyCodes(TooManyAttempts):
    """A sending limit is full (``retry_after``: when it frees up)."""

    code = "too_many_codes"


@dataclass(frozen=True)
class Application:
    """What the applicant submits with their code."""

    organisation_id: str
    """The mediation organisation applied to."""
    kind: str
    """One of :data:`DISPUTES`."""
    description: str
    """The dispute in the applicant's words (at most 500 characters; personal data)."""
    applicant_name: str
    """The applicant's name."""
    applicant_phone: str
    """The applicant's mainland mobile, proved by the code."""
    respondent_name: str
    """The other party's name."""
    respondent_phone: str | None
    """The other party's mobile, if the applicant knows it."""
    code: str
    """The 6-digit code sent to the applicant's mobile."""


class PublicApplications:
    """The public page's operations: the listing, the code, the application."""

    def __init__(
        self,
        referrals: ReferralService,
        auth: Authenticator,
        store: ApplicationStore,
        notifier: Notifier,
        key: bytes,
        base_url: str,
    ) -> None:
        self.referrals = referrals
        self.auth = auth
        self.store = store
        self.notifier = notifier
        self.key = key
        self.base_url = base_url.rstrip("/")

    def _hash(self, *parts: str) -> str:
        return hmac.new(self.key, ":".join(("application", *parts)).encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ the listing

    async def organisations(self, region: str = "") -> list[dict[str, Any]]:
        """Open mediation organisations (filtered by ``region`` text): nothing but id, name, kind and region."""
        wanted = region.strip().casefold()
        found = await self.store.open_mediation_organisations(MEDIATION_ORGANISATIONS)
        return [
            {
                "id": o.id,
                "name": o.name,
                "kind": o.kind.value,
                "kind_name": ORGANISATION_KIND_NAMES[o.kind],
                "region": o.region,
            }
            for o in found
            if wanted in o.region.casefold()
        ]

    async def _open_organisation(self, organisation_id: str) -> str:
        """The organisation's name, if it is an open mediation organisation; else InvalidCommand (422)."""
        try:
            organisation = await self.referrals.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such mediation organisation") from None
        if organisation.kind not in MEDIATION_ORGANISATIONS or organisation.disabled:
            raise InvalidCommand("Applications go to a mediation organisation that is open")
        return organisation.name

    # ------------------------------------------------------------------ the code

    def _limits(self, phone: str, client: str) -> tuple[Limit, ...]:
        number = self._hash("phone", phone)
        return (
            Limit(f"phone-minute:{number}", 1, RESEND_AFTER),
            Limit(f"phone-day:{number}", CODES_PER_DAY, timedelta(days=1)),
            Limit(f"client-hour:{self._hash('client', client)}", CODES_PER_CLIENT_HOUR, timedelta(hours=1)),
        )

    async def send_code(self, organisation_id: str, phone: str, client: str, now: datetime) -> dict[str, Any]:
        """Send a one-time code to the applicant's mobile, within the limits (TooManyCodes: 429)."""
        name = await self._open_organisation(organisation_id)
        code = f"{secrets.randbelow(10**6):06d}"
        code_id = str(uuid.uuid4())
        limits = self._limits(phone, client)
        until = await self.store.add_code(
            code_id, self._hash("phone", phone), self._hash("code", code_id, code), now, CODE_TTL, limits
        )
        if until is not None:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyCodes("Too many codes were asked for: try again later", retry_after=wait)
        minutes = int(CODE_TTL.total_seconds() // 60)
        text = (
            f"您的调解申请验证码为 {code}，{minutes} 分钟内有效，仅用于向{name}申请调解。"
            "如非本人操作，请忽略本短信，切勿将验证码告诉他人。"
        )
        try:
            await self.notifier.send(Message("sms", phone, "调解申请验证码", text, now, kind="application_code"))
        except DeliveryFailed as exc:
            await self.store.void_code(code_id, now, limits)  # not counted: ask again at once
            if exc.permanent:
                raise InvalidCommand(f"The code could not be delivered: {exc}; check the number") from exc
            raise ServiceUnavailable(f"The code could not be delivered now: {exc}; try again later") from exc
        logger.info("application code %s sent", code_id)
        return {
            "to": mask_address("sms", phone),
            "expires_at": (now + CODE_TTL).isoformat(),
            "resend_after_seconds": int(RESEND_AFTER.total_seconds()),
        }

    # ------------------------------------------------------------------ the application

    async def _claim(self, application: Application, now: datetime) -> str:
        """The id of the applicant's code, claimed by this submission (one winner, ever); else the refusal."""
        latest = await self.store.latest_code(self._hash("phone", application.applicant_phone))
        if latest is None:
            raise CodeMissing("No code was sent to this mobile: ask for one")
        matched = hmac.compare_digest(latest.code_hash, self._hash("code", latest.id, application.code))
        if latest.used_at is not None:
            if matched:  # its case is filed, or being filed by the submission that claimed it
                raise ApplicationSubmitted("This application was already submitted with this code")
            raise CodeExpired("The code is no longer valid: ask for a new one")
        if latest.attempts >= MAX_ATTEMPTS:
            raise CodeVoid("Too many wrong codes: ask for a new one")
        if latest.expires_at <= now:
            raise CodeExpired("The code has expired: ask for a new one")
        if await self.store.spend(latest.id, matched, now, MAX_ATTEMPTS):
            return latest.id
        if matched:  # another submission with the same code won a moment ago
            raise ApplicationSubmitted("This application was already submitted with this code")
        left = MAX_ATTEMPTS - latest.attempts - 1
        if left <= 0:
            raise CodeVoid("Too many wrong codes: ask for a new one")
        raise WrongCode(f"The code is wrong ({left} tries left)")

    async def submit(self, application: Application, now: datetime) -> dict[str, Any]:
        """File the application with its code: the case joins the organisation's queue; the applicant's join link."""
        if application.kind not in DISPUTES:
            raise InvalidCommand("Unknown kind of dispute")
        await self._open_organisation(application.organisation_id)
        code_id = await self._claim(application, now)
        title = f"{application.applicant_name}与{application.respondent_name}{DISPUTES[application.kind]}"
        applicant = NewParticipant(Role.APPLICANT, application.applicant_name, application.applicant_phone)
        respondent = NewParticipant(Role.RESPONDENT, application.respondent_name, application.respondent_phone)
        try:
            case, participant = await self.referrals.receive_application(
                application.organisation_id,
                kind=application.kind,
                title=title[:200],
                applicant=applicant,
                others=[respondent],
                now=now,
            )
        except Exception:
            await self.store.release(code_id)  # nothing was filed: the code may be submitted again
            raise
        await self.store.record_application(
            case["id"], code_id, application.organisation_id, application.description, now
        )
        link = await self.auth.issue_join_link(participant, now)
        actor = f"participant:{participant.id}"
        details = {
            "participant_id": participant.id,
            "token_id": link.token_id,
            "expires_at": link.expires_at.isoformat(),
        }
        await self.referrals.cases.repo.record(case["id"], [AuditRecord(actor, "link.issued", details)], now)
        logger.info("[case=%s] application filed with code %s", case["id"], code_id)
        return {
            "case": {
                "id": case["id"],
                "number": case["number"],
                "state": case["state"],
                "organisation": case["organisation"],
            },
            "join_url": f"{self.base_url}/join#token={link.token}",
            "expires_at": link.expires_at.isoformat(),
        }

    # ------------------------------------------------------------------ reading it later

    async def read(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The application that filed the case, as the applicant wrote it: for those who follow the case."""
        await self.referrals.require_follower(principal, case_id)
        found = await self.store.application(case_id)
        if found is None:
            raise NotFound("This case was not filed by a party's own application")
        return {
            "case_id": found["case_id"],
            "organisation": {"id": found["organisation_id"], "name": found["name"]},
            "description": found["description"],
            "submitted_at": found["submitted_at"].isoformat(),
        }
