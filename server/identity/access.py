"""Authentication: from a bearer token (or a password) to a :class:`Principal`.

A token must carry a valid signature, be unexpired, be known to the store and
not be revoked; its subject (participant or account) must still exist and, for
accounts, not be disabled. Failed logins are limited per user name.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.errors import NotFound, TokenExpired, TokenRevoked, TooManyAttempts, Unauthenticated
from server.identity.passwords import DUMMY_HASH, verify_password
from server.identity.revocation import LocalRevocations, RevocationBus, Revoked
from server.identity.tokens import TokenClaims, TokenKind, TokenSigner, new_token_id
from server.store.accounts import Account, AccountStore, TokenRecord
from server.store.repository import CaseRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is asking."""

    subject_id: str
    """Account id or participant id."""
    token_id: str
    """The credential's id (for logout and revocation)."""
    account_kind: AccountKind | None = None
    """Set for logged-in accounts."""
    case_id: str | None = None
    """For a join link: the one case it opens."""
    role: Role | None = None
    """For a join link: the participant's role on that case."""
    display_name: str = ""
    """Shown back to the caller."""
    service_id: str | None = None
    """For a service link: the one service it opens (such a principal may do nothing else)."""
    expires_at: datetime | None = None
    """When the credential stops working (a live connection checks it on every event)."""

    @property
    def is_account(self) -> bool:
        """Whether this is a logged-in mediator or judge."""
        return self.account_kind is not None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"account:{self.subject_id}" if self.is_account else f"participant:{self.subject_id}"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued credential."""

    token: str
    """The bearer token (give it to its owner only; never store or log it)."""
    token_id: str
    """Its id."""
    expires_at: datetime
    """When it stops working."""


class LoginThrottle:
    """At most ``limit`` failed password checks per user name in ``window`` seconds (per node).

    An attempt is counted from the moment it starts, not when its slow hash ends: otherwise 40
    concurrent wrong passwords all passed the check before the first failure was counted (40×401,
    no 429). Logins and the mediator's password signature share one throttle.
    """

    MAX_NAMES = 100_000
    """User names whose failures are remembered at once (bounds the memory made-up names take)."""

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._running: dict[str, int] = {}

    def check(self, username: str) -> None:
        """Raise TooManyAttempts if this name is locked out (failures and attempts under way)."""
        now = time.monotonic()
        q = self._failures.get(username)
        failures = 0
        if q is not None:
            while q and q[0] < now - self.window:
                q.popleft()
            failures = len(q)
            if not q:
                del self._failures[username]
        if failures + self._running.get(username, 0) >= self.limit:
            # when the oldest failure leaves the window (attempts under way: a few seconds)
            wait = q[0] + self.window - now if q and failures >= self.limit else 5.0
            minutes = max(1, math.ceil(wait / 60))
            raise TooManyAttempts(
                f"Too many failed attempts for this account; try again in {minutes} minutes",
                retry_after=max(1, math.ceil(wait)),
            )

    async def verify(self, username: str, password: str, stored_hash: str) -> bool:
        """Check a password against its hash under the throttle (the hash runs in a worker thread)."""
        self.check(username)
        self._running[username] = self._running.get(username, 0) + 1
        ok = False
        try:
            ok = await asyncio.to_thread(verify_password, password, stored_hash)
        finally:
            left = self._running[username] - 1
            if left:
                self._running[username] = left
            else:
                del self._running[username]
            if ok:
                self._failures.pop(username, None)
            else:
                self._failed(username)
        return ok

    def _failed(self, username: str) -> None:
        if username not in self._failures and len(self._failures) >= self.MAX_NAMES:
            # many made-up names: forget the oldest name's failures rather than grow without bound
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(username, deque()).append(time.monotonic())


class Authenticator:
    """Issues, checks and revokes credentials."""

    def __init__(
        self,
        repo: CaseRepository,
        accounts: AccountStore,
        signer: TokenSigner,
        join_link_ttl: timedelta,
        session_ttl: timedelta,
        revocations: RevocationBus | None = None,
    ) -> None:
        self.repo = repo
        self.accounts = accounts
        self.signer = signer
        self.join_link_ttl = join_link_ttl
        self.session_ttl = session_ttl
        self.throttle = LoginThrottle()
        self.revocations: RevocationBus = revocations or LocalRevocations()
        """Told of every revocation, so that live connections end at once."""

    async def _issue(
        self, kind: TokenKind, subject: str, case_id: str | None, ttl: timedelta, now: datetime
    ) -> IssuedToken:
        jti = new_token_id()
        expires = now + ttl
        token = self.signer.issue(TokenClaims(jti, kind, subject, case_id, expires))
        await self.accounts.record_token(TokenRecord(jti, kind.value, subject, case_id, now, expires))
        return IssuedToken(token, jti, expires)

    async def issue_join_link(self, participant: Participant, now: datetime) -> IssuedToken:
        """A personal join token for a participant."""
        return await self._issue(TokenKind.JOIN, participant.id, participant.case_id, self.join_link_ttl, now)

    async def login(self, username: str, password: str, now: datetime) -> tuple[IssuedToken, Account]:
        """Check a password and open a session."""
        self.throttle.check(username)
        account = await self.accounts.account_by_username(username)
        stored = account.password_hash if account is not None else DUMMY_HASH
        ok = await self.throttle.verify(username, password, stored)
        if account is None or not ok or account.disabled:
            raise Unauthenticated("Wrong user name or password")
        issued = await self._issue(TokenKind.SESSION, account.id, None, self.session_ttl, now)
        logger.info("account %s logged in", account.id)
        return issued, account

    async def issue_service_link(
        self, participant: Participant, service_id: str, ttl: timedelta, now: datetime
    ) -> IssuedToken:
        """A recipient's personal link to one served document: it opens that and nothing else.

        Its id starts with the service's id (``<service id>.<random>``), so that :meth:`service_link`
        can find a still-good one again.
        """
        jti = f"{service_id}.{new_token_id()}"
        expires = now + ttl
        claims = TokenClaims(jti, TokenKind.SERVICE, participant.id, participant.case_id, expires, ref=service_id)
        token = self.signer.issue(claims)
        await self.accounts.record_token(
            TokenRecord(jti, TokenKind.SERVICE.value, participant.id, participant.case_id, now, expires)
        )
        return IssuedToken(token, jti, expires)

    async def service_link(
        self, participant: Participant, service_id: str, ttl: timedelta, now: datetime
    ) -> IssuedToken:
        """A service link of lifetime ``ttl`` to hand out again and again (the inbox): one issued before
        that still has more than half of ``ttl`` left is signed again (the same token), else a new one.

        Tokens are a function of their claims, so re-signing the stored id, subject and expiry gives
        back the very token issued; the token itself is still never stored.
        """
        record = await self.accounts.live_token(
            participant.id, TokenKind.SERVICE.value, f"{service_id}.", now + ttl / 2, now + ttl
        )
        if record is None or record.case_id != participant.case_id:
            return await self.issue_service_link(participant, service_id, ttl, now)
        claims = TokenClaims(
            record.jti, TokenKind.SERVICE, participant.id, participant.case_id, record.expires_at, ref=service_id
        )
        return IssuedToken(self.signer.issue(claims), record.jti, record.expires_at)

    async def authenticate(self, token: str, now: datetime, *, service_link: bool = False) -> Principal:
        """The principal behind a bearer token; raise Unauthenticated (or a subclass).

        A service link is accepted only where ``service_link`` is set (the served-document
        endpoints), and only a service link there.
        """
        claims = self.signer.verify(token, now)
        if claims.kind is TokenKind.SCENE:
            raise Unauthenticated("This link opens only its scene report")
        if (claims.kind is TokenKind.SERVICE) != service_link:
            raise Unauthenticated(
                "This link opens only the document served on you"
                if claims.kind is TokenKind.SERVICE
                else "Open the link that came with the document"
            )
        record = await self.accounts.token(claims.jti)
        if record is None or record.subject_id != claims.subject:
            raise Unauthenticated("Unknown token")
        if record.revoked_at is not None:
            raise TokenRevoked("This link or login has been revoked")
        if claims.kind is TokenKind.SESSION:
            try:
                account = await self.accounts.account(claims.subject)
            except NotFound as exc:
                raise Unauthenticated("Unknown account") from exc
            if account.disabled:
                raise TokenRevoked("This account is disabled")
            return Principal(
                subject_id=account.id,
                token_id=claims.jti,
                account_kind=account.kind,
                display_name=account.display_name,
                expires_at=claims.expires_at,
            )
        try:
            participant = await self.repo.participant(claims.subject)
        except NotFound as exc:
            raise Unauthenticated("Unknown participant") from exc
        if participant.case_id != claims.case_id:
            raise Unauthenticated("Token does not match its case")
        return Principal(
            subject_id=participant.id,
            token_id=claims.jti,
            case_id=participant.case_id,
            role=participant.role,
            display_name=participant.display_name,
            service_id=claims.ref if claims.kind is TokenKind.SERVICE else None,
            expires_at=claims.expires_at,
        )

    async def issue_scene_link(self, driver_id: str, report_id: str, ttl: timedelta, now: datetime) -> IssuedToken:
        """A driver's link to one scene report (``server.scene``): it opens that report and nothing else.

        Its id starts with the report's id (``<report id>.<random>``); recorded so that it can be revoked."""
        jti = f"{report_id}.{new_token_id()}"
        expires = now + ttl
        token = self.signer.issue(TokenClaims(jti, TokenKind.SCENE, driver_id, None, expires, ref=report_id))
        await self.accounts.record_token(TokenRecord(jti, TokenKind.SCENE.value, driver_id, None, now, expires))
        return IssuedToken(token, jti, expires)

    async def authenticate_scene(self, token: str, now: datetime) -> TokenClaims:
        """The claims of a driver's scene link (subject: driver id, ``ref``: report id); Unauthenticated for any
        other token, or one unknown or revoked."""
        claims = self.signer.verify(token, now)
        if claims.kind is not TokenKind.SCENE or claims.ref is None:
            raise Unauthenticated("Open the scene report's own link")
        record = await self.accounts.token(claims.jti)
        if record is None or record.subject_id != claims.subject or not claims.jti.startswith(f"{claims.ref}."):
            raise Unauthenticated("Unknown token")
        if record.revoked_at is not None:
            raise TokenRevoked("This link has been revoked")
        return claims

    async def authenticate_again(self, principal: Principal, now: datetime) -> Principal:
        """Re-check a principal of a long-lived connection: still unexpired, not revoked, account enabled."""
        record = await self.accounts.token(principal.token_id)
        if record is None:
            raise Unauthenticated("Unknown token")
        if record.revoked_at is not None:
            raise TokenRevoked("This link or login has been revoked")
        if now >= record.expires_at:
            raise TokenExpired("The token has expired")
        if principal.is_account:
            try:
                account = await self.accounts.account(principal.subject_id)
            except NotFound as exc:
                raise Unauthenticated("Unknown account") from exc
            if account.disabled:
                raise TokenRevoked("This account is disabled")
        return principal

    async def logout(self, principal: Principal, now: datetime) -> None:
        """Revoke the credential the principal is using; its live connections end."""
        await self.accounts.revoke_tokens(principal.subject_id, now, jti=principal.token_id)
        await self.revocations.publish(Revoked(principal.subject_id, principal.token_id))

    async def revoke_subject(
        self, subject_id: str, now: datetime, kinds: Sequence[TokenKind] | None = None, *, announce: bool = True
    ) -> int:
        """Revoke every credential of a participant or account (only those of ``kinds``, if given);
        return how many were live.

        Their live connections end at once, on every node (``announce=False``: the caller announces it
        itself, after telling the person why). Reissuing or revoking a join link passes
        ``kinds=(TokenKind.JOIN,)``: the links that came with documents served on the party stay good.
        """
        count = await self.accounts.revoke_tokens(
            subject_id, now, kinds=None if kinds is None else [kind.value for kind in kinds]
        )
        if announce:
            await self.revocations.publish(Revoked(subject_id))
        return count

    async def disable_account(self, username: str, now: datetime) -> Account:
        """Disable an account: it cannot log in, its logins are revoked and its live connections end."""
        account = await self.accounts.account_by_username(username)
        if account is None:
            raise NotFound("No such account")
        await self.accounts.disable_account(account.id, now)
        await self.revocations.publish(Revoked(account.id))
        logger.info("account %s disabled", account.id)
        return account


def new_id() -> str:
    """A fresh opaque identifier."""
    return str(uuid.uuid4())
