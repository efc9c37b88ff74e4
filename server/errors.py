"""The one exception tree of the mediation server.

Every error the server raises on purpose derives from :class:`MediationError`;
the HTTP edge maps each class to a problem response in one place
(``server.http.problems``) and everything else becomes a bare 500 without a
stack trace in the response::

    MediationError                       code
    ├── DomainError                      (the pure core refuses a command)
    │   ├── IllegalTransition            illegal_transition      409
    │   ├── InvalidCommand               invalid_command         422
    │   │   ├── UnsignedOpinion          unsigned_opinion        422
    │   │   ├── NotAnImage               not_an_image            422
    │   │   ├── ImageTooLarge            image_size_refused      422
    │   │   ├── ItemsMissing             items_missing           422
    │   │   ├── JoinCodeRefused          join_code_refused       422
    │   │   └── InsurerNotOnPlatform     insurer_not_on_platform 422
    │   └── ConfirmationDeadlinePassed   confirmation_deadline_passed 409
    ├── StoreError
    │   ├── NotFound                     not_found               404
    │   ├── ConcurrentUpdate             concurrent_update       409
    │   ├── VersionMismatch              precondition_failed     412
    │   ├── Duplicate                    duplicate               409
    │   │   └── IntakeConflict           intake_conflict         409
    │   └── BlobIntegrityError           blob_integrity          500
    ├── AccessError
    │   ├── Unauthenticated              unauthenticated         401
    │   │   ├── TokenExpired             token_expired           401
    │   │   ├── TokenRevoked             token_revoked           401
    │   │   ├── IntakeUnsigned           intake_unsigned         401
    │   │   ├── IntakeBadSignature       intake_bad_signature    401
    │   │   ├── IntakeUnknownKey         intake_unknown_key      401
    │   │   ├── StaleRequest             stale_request           401
    │   │   └── ReplayedRequest          replayed_request        401
    │   ├── Forbidden                    forbidden               403
    │   │   └── BeyondAuthorisation      beyond_authorisation    403
    │   └── TooManyAttempts              too_many_attempts       429
    ├── DeliveryFailed                   delivery_failed         502
    ├── ServiceUnavailable               service_unavailable     503
    └── ConfigError                      (start-up only)

Messages never contain personal data (names, phone numbers, ID numbers,
tokens): they are shown to callers and may reach logs.
"""

from __future__ import annotations


class MediationError(Exception):
    """Base of every error the mediation server raises on purpose."""

    code = "error"
    status = 500


class DomainError(MediationError):
    """The case life cycle refused a command."""

    code = "domain_error"
    status = 409


class IllegalTransition(DomainError):
    """A command is not allowed in the case's current state."""

    code = "illegal_transition"
    status = 409

    def __init__(self, command: str, state: str) -> None:
        super().__init__(f'Cannot {command} in state "{state}"')
        self.command = command
        self.state = state


class InvalidCommand(DomainError):
    """A command is allowed in this state but its arguments are not acceptable."""

    code = "invalid_command"
    status = 422


class ConfirmationDeadlinePassed(DomainError):
    """A joint application for judicial confirmation came after the 30-day limit."""

    code = "confirmation_deadline_passed"
    status = 409


class RecordFinalised(DomainError):
    """The mediation record of that session is final: it can no longer be changed."""

    code = "record_finalised"
    status = 409


class UnsignedOpinion(InvalidCommand):
    """An appraisal opinion was uploaded without a valid signature (``server.appraisal``)."""

    code = "unsigned_opinion"
    status = 422


class StaleRecord(DomainError):
    """The version of the record of undisputed facts answered is no longer the newest (the mediator
    redrafted it)."""

    code = "stale_record"
    status = 409


class SessionNotEnded(DomainError):
    """The session is still running (or never ran): its record cannot be finalised yet."""

    code = "session_not_ended"
    status = 409


class NotAnImage(InvalidCommand):
    """An uploaded photo's bytes are not a JPEG, PNG or HEIC image that can be read (``server.scene.images``)."""

    code = "not_an_image"


class ImageTooLarge(InvalidCommand):
    """An uploaded photo has too many pixels, or too few (``server.scene.images``)."""

    code = "image_size_refused"


class ItemsMissing(InvalidCommand):
    """A driver completes their part of a scene report with items or photos still missing (named in the detail)."""

    code = "items_missing"


class JoinCodeRefused(InvalidCommand):
    """A scene report's join code is wrong, expired or void (too many wrong guesses)."""

    code = "join_code_refused"


class InsurerNotOnPlatform(InvalidCommand):
    """A claim from a scene finding names an insurer that is no open insurer organisation here (``server.claims``)."""

    code = "insurer_not_on_platform"


class StoreError(MediationError):
    """The case store could not do what was asked."""

    code = "store_error"
    status = 500


class NotFound(StoreError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "not_found"
    status = 404


class ConcurrentUpdate(StoreError):
    """Someone else changed the case between our read and our write."""

    code = "concurrent_update"
    status = 409


class VersionMismatch(StoreError):
    """The caller's expected case version (If-Match) is not the stored one."""

    code = "precondition_failed"
    status = 412


class Duplicate(StoreError):
    """A unique value (case number, user name) is already taken."""

    code = "duplicate"
    status = 409


class IntakeConflict(Duplicate):
    """An agency sent another document under a police case number that already filed a case."""

    code = "intake_conflict"


class BlobIntegrityError(StoreError):
    """Stored bytes no longer match their SHA-256 address."""

    code = "blob_integrity"
    status = 500


class AccessError(MediationError):
    """Who is asking, or whether they may, is not settled."""

    code = "access_denied"
    status = 403


class Unauthenticated(AccessError):
    """No valid credential came with the request."""

    code = "unauthenticated"
    status = 401


class TokenExpired(Unauthenticated):
    """The credential was valid but its lifetime is over."""

    code = "token_expired"


class TokenRevoked(Unauthenticated):
    """The credential was revoked and never works again."""

    code = "token_revoked"


class IntakeUnsigned(Unauthenticated):
    """An intake request came without its signature headers, or with malformed ones (``server.intake``)."""

    code = "intake_unsigned"


class IntakeBadSignature(Unauthenticated):
    """An intake request's signature is not the HMAC of the request under its key."""

    code = "intake_bad_signature"


class IntakeUnknownKey(Unauthenticated):
    """An intake request names a key that does not exist or was revoked."""

    code = "intake_unknown_key"


class StaleRequest(Unauthenticated):
    """A signed request's timestamp is more than five minutes from the server's clock."""

    code = "stale_request"


class ReplayedRequest(Unauthenticated):
    """A signed request's nonce was seen before: a replay."""

    code = "replayed_request"


class Forbidden(AccessError):
    """The caller is known but their role may not do this on this case."""

    code = "forbidden"
    status = 403


class BeyondAuthorisation(Forbidden):
    """A claims adjuster holds no authorisation (授权委托书) in force that covers the claim's amount and region."""

    code = "beyond_authorisation"


class TooManyAttempts(AccessError):
    """Too many failed attempts; try again later (``retry_after`` seconds, when known: ``Retry-After``)."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryFailed(MediationError):
    """A channel (mail server, SMS gateway) did not take a message.

    ``permanent``: the recipient's side refused it for good (a bounce: 5xx at
    RCPT, a gateway's 4xx), so retrying the same message is pointless; otherwise
    the failure is temporary (4xx, timeouts, connection errors, a gateway's 5xx)
    and the message may be retried with back-off. The message names the channel's
    answer (codes only), never the address, number or text.
    """

    code = "delivery_failed"
    status = 502

    def __init__(self, message: str, *, permanent: bool, channel: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.channel = channel


class ServiceUnavailable(MediationError):
    """Something the request needs (a mail server, an SMS gateway) is down for now; try again later."""

    code = "service_unavailable"
    status = 503


class ConfigError(MediationError):
    """The configuration is unusable; raised at start-up."""

    code = "config_error"
