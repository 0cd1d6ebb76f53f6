"""Sign-up, sign-in and profiles."""

from __future__ import annotations

from timeline import clock, ids
from timeline.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized, Unprocessable
from timeline.records import Tokens, User
from timeline.store.identity import (
    MATCH,
    MISMATCH,
    AlreadyConfirmed,
    BadCode,
    BadCredentials,
    IdentityProvider,
    UsernameExists,
    WeakPassword,
)
from timeline.store.rate_limits import Limited, Window
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


class Accounts:
    def __init__(self, users: UserStore, identity: IdentityProvider, sign_ins_per_minute: int = 10):
        self._users, self._identity, self._sign_ins_per_minute = users, identity, sign_ins_per_minute

    def sign_up(self, handle: str, password: str, display_name: str) -> User:
        """Claim the handle (UsersTable), then make the login (Cognito). No transaction spans
        the two services, so the profile is written *pending* and the mark is cleared once
        the login exists; until then nobody finds the account (`UserStore.get_by_handle`).
        Whatever stops a sign-up between the two steps (a crash, a lost answer) leaves a
        state the next sign-up for the handle resolves, and only the person who chose the
        password can finish a half-made account:

        - Cognito's answer lost: botocore retries SignUp (it has no idempotency token) and
          Cognito answers UsernameExists for the login the first attempt made. The id is
          new, so only this sign-up can have made that login: it is ours if the password
          signs in to it, or if Cognito cannot tell (unconfirmed, stage prod).
        - The handle claimed by a pending account whose login exists (the earlier attempt
          died after making it): finished if the password signs in to it, else "taken".
          Each such try counts against the handle's sign-in limit: it checks a password.
        - The handle claimed by a pending account without a login (the earlier attempt died
          before making it): nobody ever had that account. Within SIGN_UP_GRACE_MS the
          first sign-up may still be running: "taken". Past it the claim is released
          (deleted, if still as read) and this sign-up starts afresh, with a new id.

        Releasing rather than finishing the stale account with this request's password:
        the stale profile carries another request's display name and times, and the
        conditional release lets exactly one of two racing sign-ups through (the other then
        meets a fresh claim, within its grace). A pending account whose login is unconfirmed
        (stage prod) cannot have its password checked, so a sign-up is refused; its owner
        finishes it by confirming the emailed code (`confirm`). Signing in (`issue_tokens`)
        finishes a pending account too: the login authenticated.

        If Cognito refuses the password, or fails, the claim is deleted: the handle is free."""
        user = self._claim(handle, display_name)
        if user is None:
            resumed = self._resume(handle, password)
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

    def _resume(self, handle: str, password: str) -> User | None:
        """For a claimed handle: the pending account finished for the owner of its login,
        or None once an abandoned claim was released; else Conflict (taken)."""
        found = self._users.profile_by_handle(handle, consistent=True)
        if found is None or found.pending_since is None:
            raise _taken(handle)
        username = str(found.user.user_id)
        if self._identity.exists(username):
            self._count_sign_in(handle)
            if self._identity.verify(username, password) != MATCH or not self._users.finish_sign_up(
                    found.user.user_id):
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
            self._users.delete(user)
            raise
        if not self._users.finish_sign_up(user.user_id):
            # The claim was released meanwhile: only past the grace, longer than a request runs
            self._identity.remove(username)  # pragma: no cover
            raise _taken(user.handle)  # pragma: no cover

    def _count_sign_in(self, handle: str) -> None:
        """Every password check counts, right or wrong, known handle or not: guessing is
        slowed alike, through sign-in or sign-up."""
        try:
            Window.now("signin", handle.casefold(), self._sign_ins_per_minute).hit()
        except Limited as exc:
            raise TooManyRequests(f"too many sign-in attempts for @{handle}; try again in {exc.retry_after} s",
                                  code="rate_limited", retry_after=exc.retry_after) from None

    def issue_tokens(self, handle: str, password: str) -> Tokens:
        """Tokens for the handle's login. Signing in also finishes an account whose sign-up
        stopped after making the login (one more read of the profile per sign-in)."""
        invalid = Unauthorized("handle or password is wrong", code="bad_credentials")
        self._count_sign_in(handle)
        user_id = self._users.id_for_handle(handle)
        if user_id is None:
            raise invalid
        try:
            tokens = self._identity.authenticate(str(user_id), password)
        except BadCredentials:
            raise invalid from None
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
        """Confirm a sign-up (stage prod) with the code sent to the account; idempotent.
        The code proves the login is the caller's: it also finishes a pending account."""
        found = self._users.profile_by_handle(handle)
        if found is None:  # the same answer as a wrong code: handles are not probed this way
            raise InvalidInput("the confirmation code is wrong", code="bad_confirmation_code")
        user = found.user
        try:
            self._identity.confirm(str(user.user_id), code)
        except BadCode as exc:
            if exc.expired:
                raise InvalidInput("the confirmation code has expired; ask for a new one",
                                   code="confirmation_code_expired") from None
            raise InvalidInput("the confirmation code is wrong", code="bad_confirmation_code") from None
        except AlreadyConfirmed:
            pass
        if found.pending_since is not None:
            self._users.finish_sign_up(user.user_id)
        return user

    def resend_confirmation(self, handle: str) -> str | None:
        """Send the confirmation code again, if there is such an unconfirmed account; the
        answer is the same either way."""
        user_id = self._users.id_for_handle(handle)
        return self._identity.resend_code(str(user_id)) if user_id is not None else None

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
