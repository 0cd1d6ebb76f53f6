"""Sign-up, sign-in and profiles."""

from __future__ import annotations

from timeline import clock, ids
from timeline.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized, Unprocessable
from timeline.records import Tokens, User
from timeline.store.identity import (
    AlreadyConfirmed,
    BadCode,
    BadCredentials,
    IdentityProvider,
    UsernameExists,
    WeakPassword,
)
from timeline.store.rate_limits import Limited, Window
from timeline.store.users import HandleTaken, UserStore


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
        """Claim the handle, then create the login. If the identity provider refuses,
        the claim is released so the handle is free again."""
        user = User(user_id=ids.new_id(), handle=handle, display_name=display_name,
                    created_at=clock.now_ms())
        try:
            self._users.create(user)
        except HandleTaken:
            raise Conflict(f"the handle @{handle} is taken", code="handle_taken") from None
        try:
            self._identity.register(str(user.user_id), password)
        except WeakPassword as exc:
            self._users.delete(user)
            raise Unprocessable(f"password is too weak: {exc}", code="weak_password",
                                details=[{"field": "password", "problem": str(exc)}]) from None
        except UsernameExists:  # pragma: no cover - ids are unique; keep the store consistent anyway
            self._users.delete(user)
            raise Conflict("account already exists") from None
        except Exception:
            self._users.delete(user)
            raise
        return user

    def issue_tokens(self, handle: str, password: str) -> Tokens:
        invalid = Unauthorized("handle or password is wrong", code="bad_credentials")
        try:  # every attempt counts, right or wrong, known handle or not: guessing is slowed alike
            Window.now("signin", handle.casefold(), self._sign_ins_per_minute).hit()
        except Limited as exc:
            raise TooManyRequests(f"too many sign-in attempts for @{handle}; try again in {exc.retry_after} s",
                                  code="rate_limited", retry_after=exc.retry_after) from None
        user_id = self._users.id_for_handle(handle)
        if user_id is None:
            raise invalid
        try:
            return self._identity.authenticate(str(user_id), password)
        except BadCredentials:
            raise invalid from None

    def refresh_tokens(self, refresh_token: str) -> Tokens:
        try:
            return self._identity.refresh(refresh_token)
        except BadCredentials:
            raise Unauthorized("this refresh token is not valid (expired, revoked by a sign-out, or not ours); "
                               "sign in again", code="bad_refresh_token") from None

    def confirm(self, handle: str, code: str) -> User:
        """Confirm a sign-up (stage prod) with the code sent to the account; idempotent."""
        user = self._users.get_by_handle(handle)
        if user is None:  # the same answer as a wrong code: handles are not probed this way
            raise InvalidInput("the confirmation code is wrong", code="bad_confirmation_code")
        try:
            self._identity.confirm(str(user.user_id), code)
        except BadCode as exc:
            if exc.expired:
                raise InvalidInput("the confirmation code has expired; ask for a new one",
                                   code="confirmation_code_expired") from None
            raise InvalidInput("the confirmation code is wrong", code="bad_confirmation_code") from None
        except AlreadyConfirmed:
            pass
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
