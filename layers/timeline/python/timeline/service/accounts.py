"""Sign-up, sign-in and profiles.

Guessing is slowed without locking anyone out (security review, issue 22, finding 7): a
sign-in counts per handle *and client address* (the source IP the API's front door saw; an
IPv6 client by its /64), and per address across handles; failures for a handle from an
address make that address wait, longer after each (`Backoff`: 429 with Retry-After), while
the owner, from another address, is never refused for them. Sign-ups count per address
(finding 8). Nothing here knows where the address comes from: the route passes it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from timeline import clock, ids
from timeline.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized, Unprocessable
from timeline.records import Tokens, User
from timeline.settings import Settings
from timeline.store.identity import (
    MATCH,
    MISMATCH,
    BadCredentials,
    IdentityProvider,
    UsernameExists,
    WeakPassword,
)
from timeline.store.rate_limits import HOUR_S, Backoff, Limited, Window, client_key
from timeline.store.users import HandleTaken, UserStore

# How long a handle claimed by an account without a login stays the claiming sign-up's own:
# longer than the api function may run (Timeout, 10 s, in template.yaml), so by then that
# sign-up has answered or died, and a later one may take the claim as abandoned.
SIGN_UP_GRACE_MS = 60_000


def _taken(handle: str) -> Conflict:
    return Conflict(f"the handle @{handle} is taken", code="handle_taken")


def user_by_handle(users: UserStore, handle: str) -> User:
    """The account with this handle (any case), or 404."""
    user = users.get_by_handle(handle)
    if user is None:
        raise NotFound(f"no user @{handle}", code="user_not_found")
    return user


@dataclass(frozen=True)
class AuthLimits:
    sign_ins_per_minute: int = 10  # per handle and client address (SignInRateLimitPerMinute)
    sign_ins_per_address_per_minute: int = 30  # per address, any handle (SignInAttemptsPerAddressPerMinute)
    sign_ups_per_address_per_hour: int = 20  # (SignUpsPerAddressPerHour)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthLimits:
        return cls(settings.sign_in_rate_limit_per_minute, settings.sign_in_attempts_per_address_per_minute,
                   settings.sign_ups_per_address_per_hour)


class Accounts:
    def __init__(self, users: UserStore, identity: IdentityProvider, limits: AuthLimits = AuthLimits()):
        self._users, self._identity, self._limits = users, identity, limits

    def sign_up(self, handle: str, password: str, display_name: str, address: str | None = None) -> User:
        """Claim the handle (UsersTable), then make the login (Cognito). No transaction spans
        the two services, so the profile is written *pending* and the mark is cleared once
        the login exists; until then nobody finds the account (`UserStore.get_by_handle`).
        Whatever stops a sign-up between the two steps (a crash, a lost answer) leaves a
        state the next sign-up for the handle resolves, and only the person who chose the
        password can finish a half-made account:

        - Cognito's answer lost: botocore retries AdminCreateUser (it has no idempotency
          token) and Cognito answers UsernameExists for the login the first attempt made.
          The id is new, so only this sign-up can have made that login: it is ours if the
          password signs in to it (a login whose password is still the temporary one it was
          made with signs in to a challenge, which proves it as well; `IdentityProvider.register`).
        - The handle claimed by a pending account whose login exists (the earlier attempt
          died after making it): finished if the password signs in to it, else "taken".
          Each such try is a sign-in attempt for the handle from the caller's address: it
          checks a password, so it counts and backs off as sign-ins do.
        - The handle claimed by a pending account without a login (the earlier attempt died
          before making it): nobody ever had that account. Within SIGN_UP_GRACE_MS the
          first sign-up may still be running: "taken". Past it the claim is released
          (deleted, if still as read) and this sign-up starts afresh, with a new id.

        Releasing rather than finishing the stale account with this request's password:
        the stale profile carries another request's display name and times, and the
        conditional release lets exactly one of two racing sign-ups through (the other then
        meets a fresh claim, within its grace). Signing in (`issue_tokens`) finishes a pending
        account too: the login authenticated.

        Every sign-up counts against its client address's hourly window first
        (SignUpsPerAddressPerHour), taken handles and resumed accounts alike.

        If Cognito refuses the password, or fails, the claim is deleted: the handle is free."""
        self._count_sign_up(address)
        user = self._claim(handle, display_name)
        if user is None:
            resumed = self._resume(handle, password, address)
            if resumed is not None:
                return resumed
            user = self._claim(handle, display_name)  # the abandoned claim was released
            if user is None:
                raise _taken(handle)
        self._make_login(user, password)
        return user

    def _claim(self, handle: str, display_name: str) -> User | None:
        """A new account holding the handle (pending), or None if the handle is claimed."""
        user = User(user_id=ids.new_id(), handle=handle, display_name=display_name, created_at=clock.now_ms())
        try:
            self._users.create(user)
        except HandleTaken:
            return None
        return user

    def _resume(self, handle: str, password: str, address: str | None) -> User | None:
        """For a claimed handle: the pending account finished for the owner of its login,
        or None once an abandoned claim was released; else Conflict (taken)."""
        found = self._users.profile_by_handle(handle, consistent=True)
        if found is None or found.pending_since is None:
            raise _taken(handle)
        username = str(found.user.user_id)
        if self._identity.exists(username):
            backoff = self._count_sign_in(handle, address)
            if self._identity.verify(username, password) != MATCH:
                backoff.failed()
                raise _taken(handle)
            backoff.succeeded()
            if not self._users.finish_sign_up(found.user.user_id):
                raise _taken(handle)
            return found.user
        if clock.now_ms() - found.pending_since < SIGN_UP_GRACE_MS or not self._users.release(found):
            raise _taken(handle)
        return None

    def _make_login(self, user: User, password: str) -> None:
        username = str(user.user_id)
        try:
            self._identity.register(username, password)
        except WeakPassword as exc:
            self._users.delete(user)
            raise Unprocessable(f"password is too weak: {exc}", code="weak_password",
                                details=[{"field": "password", "problem": str(exc)}]) from None
        except UsernameExists:
            # A login for an id made moments ago: this sign-up's own, whose answer was lost
            if self._identity.verify(username, password) == MISMATCH:  # pragma: no cover - ids are unique
                self._users.delete(user)
                raise Conflict("account already exists") from None
        except Exception:
            # Cognito failed or was out of capacity (Unavailable: 503), maybe after making the
            # login: it is taken back if it can be (only this sign-up knows the new id), and
            # the handle is given back, so a retry after Retry-After starts afresh
            with contextlib.suppress(Exception):  # Cognito still failing: the login is left to nobody, unreachable
                self._identity.remove(username)
            self._users.delete(user)
            raise
        if not self._users.finish_sign_up(user.user_id):
            # The claim was released meanwhile: only past the grace, longer than a request runs
            self._identity.remove(username)  # pragma: no cover
            raise _taken(user.handle)  # pragma: no cover

    def _count_sign_up(self, address: str | None) -> None:
        try:
            Window.now("signup-from", client_key(address), self._limits.sign_ups_per_address_per_hour,
                       HOUR_S).hit()
        except Limited as exc:
            raise TooManyRequests(f"too many sign-ups from your address; try again in {exc.retry_after} s",
                                  code="rate_limited", retry_after=exc.retry_after) from None

    def _count_sign_in(self, handle: str, address: str | None) -> Backoff:
        """Every password check counts, right or wrong, known handle or not, through sign-in
        or sign-up: against the address's window (any handle), then the handle's window for
        that address; then the wait earned by that address's failures for the handle, if any.
        The caller reports the outcome to the returned Backoff (`failed`, `succeeded`)."""
        who = client_key(address)
        per_handle = f"{who}#{handle.casefold()}"
        try:
            Window.now("signin-from", who, self._limits.sign_ins_per_address_per_minute).hit()
        except Limited as exc:
            raise TooManyRequests(f"too many sign-in attempts from your address; try again in {exc.retry_after} s",
                                  code="rate_limited", retry_after=exc.retry_after) from None
        try:
            Window.now("signin", per_handle, self._limits.sign_ins_per_minute).hit()
        except Limited as exc:
            raise TooManyRequests(f"too many sign-in attempts for @{handle}; try again in {exc.retry_after} s",
                                  code="rate_limited", retry_after=exc.retry_after) from None
        backoff = Backoff.read("signin-failures", per_handle)
        wait = backoff.retry_after()
        if wait:
            raise TooManyRequests(f"too many failed sign-ins for @{handle}; try again in {wait} s",
                                  code="rate_limited", retry_after=wait)
        return backoff

    def issue_tokens(self, handle: str, password: str, address: str | None = None) -> Tokens:
        """Tokens for the handle's login. Signing in also finishes an account whose sign-up
        stopped after making the login (one more read of the profile per sign-in). `address`:
        the client's, which the limits count by (None: one shared "unknown" client)."""
        invalid = Unauthorized("handle or password is wrong", code="bad_credentials")
        backoff = self._count_sign_in(handle, address)
        user_id = self._users.id_for_handle(handle)
        if user_id is None:
            backoff.failed()
            raise invalid
        try:
            tokens = self._identity.authenticate(str(user_id), password)
        except BadCredentials:
            backoff.failed()
            raise invalid from None
        backoff.succeeded()
        self._finish_if_pending(user_id)
        return tokens

    def _finish_if_pending(self, user_id: int) -> None:
        found = self._users.profile(user_id)
        if found is not None and found.pending_since is not None:
            self._users.finish_sign_up(user_id)

    def refresh_tokens(self, refresh_token: str) -> Tokens:
        try:
            return self._identity.refresh(refresh_token)
        except BadCredentials:
            raise Unauthorized("this refresh token is not valid (expired, revoked by a sign-out, or not ours); "
                               "sign in again", code="bad_refresh_token") from None

    def confirm(self, handle: str, code: str) -> User:
        """Confirming a sign-up, kept for the clients of the `prod` flow of old: every login
        is made confirmed now (the API asks for no email address, so no code is ever sent),
        so confirming an account is confirming it again, which answers the account whatever
        the code, as it always did. Nothing else is confirmed: no account, an account whose
        sign-up has not finished (its owner finishes it by signing in or up again with the
        password), or a login the public SignUp made before and never confirmed (no code
        can reach its owner) answer as a wrong code."""
        found = self._users.profile_by_handle(handle)
        if found is None or found.pending_since is not None or not self._identity.confirmed(str(found.user.user_id)):
            raise InvalidInput("the confirmation code is wrong", code="bad_confirmation_code")
        return found.user

    def resend_confirmation(self, handle: str) -> str | None:
        """Nothing to send (see `confirm`); the answer is the same for every handle."""
        return None

    def sign_out_everywhere(self, user_id: int) -> None:
        self._identity.sign_out_everywhere(str(user_id))

    def profile(self, handle: str) -> User:
        return user_by_handle(self._users, handle)

    def user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", code="user_not_found")
        return user

    def caller(self, user_id: int) -> User:
        """The signed-in user; a token for an account that no longer exists is refused."""
        user = self._users.get(user_id)
        if user is None:
            raise Unauthorized("this account no longer exists", code="unknown_account")
        return user
