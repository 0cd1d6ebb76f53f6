"""Accounts in the Cognito user pool. Usernames are our numeric user ids; handles live in
UsersTable, so a handle can be looked up (and later renamed) without touching Cognito.

Every call is an admin call, authorized by the function's role (security review, issue 22,
finding 8): the pool takes sign-ups from administrators only (AllowAdminCreateUserOnly) and
its app client allows no flow but ADMIN_USER_PASSWORD_AUTH and refresh, so nobody signs up or
guesses passwords at Cognito around the API, with the client id every token names. A login
is made confirmed, in every stage: the API asks for no email address or phone number, so
Cognito has nowhere to send a confirmation code (docs/security.md).

Cognito out of capacity (its account-wide request quotas: TooManyRequestsException,
LimitExceededException), throttling, a server error or no connection, once botocore's own
retries are spent, is `Unavailable` (503 with Retry-After), never a 500 (finding 9).
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import botocore.exceptions

from timeline.errors import Unavailable
from timeline.records import Tokens

if TYPE_CHECKING:  # the stubs are a dev dependency, not deployed
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AuthenticationResultTypeTypeDef

_P = ParamSpec("_P")
_R = TypeVar("_R")


class WeakPassword(Exception):
    pass


class UsernameExists(Exception):
    pass


class BadCredentials(Exception):
    pass


# What `IdentityProvider.verify` can tell about a password.
MATCH = "match"  # the login's password: it authenticated
MISMATCH = "mismatch"  # not its password (or no such login)
UNCONFIRMED = "unconfirmed"  # cannot tell: a login made by the public SignUp of old, never confirmed

# Error codes of a dependency out of capacity, whatever the operation: Cognito's quotas
# (TooManyRequestsException; LimitExceededException) and the throttling codes botocore knows.
OUT_OF_CAPACITY = frozenset({
    "TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException",
    "ThrottledException", "RequestThrottledException", "RequestThrottled", "RequestLimitExceeded",
    "InternalErrorException", "ServiceUnavailable", "ServiceUnavailableException",
})
RETRY_AFTER_S = (2, 6)  # told to clients, drawn in this range: they do not all come back at once


def _unavailable_when_out_of_capacity(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Cognito out of capacity, failing or out of reach -> Unavailable (503, Retry-After)."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if error.get("Code") not in OUT_OF_CAPACITY and status < 500:
                raise
            raise _unavailable() from exc
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise _unavailable() from exc
    return guarded


def _unavailable() -> Unavailable:
    retry_after = random.randint(*RETRY_AFTER_S)
    return Unavailable(f"accounts are out of reach right now (Cognito is busy); try again in {retry_after} s",
                       retry_after=retry_after)


class IdentityProvider:
    def __init__(self, client: CognitoIdentityProviderClient, user_pool_id: str, client_id: str):
        # Every login is made confirmed, in every stage: no stage waits for an emailed code.
        self._idp, self._pool, self._client_id = client, user_pool_id, client_id

    @_unavailable_when_out_of_capacity
    def register(self, username: str, password: str) -> None:
        """Make the login, confirmed, with this password. Two calls: AdminCreateUser makes it
        with the password as its temporary one (MessageAction SUPPRESS: nothing is sent), and
        AdminSetUserPassword makes that permanent. A login left between the two (the process
        died, an answer was lost) signs in with that password to a NEW_PASSWORD_REQUIRED
        challenge, which `verify` and `authenticate` take as the proof and finish: only the
        person who chose the password can, as after the old SignUp."""
        try:
            self._idp.admin_create_user(UserPoolId=self._pool, Username=username, TemporaryPassword=password,
                                        MessageAction="SUPPRESS")
        except self._idp.exceptions.InvalidPasswordException as exc:
            raise WeakPassword(_message(exc)) from exc
        except self._idp.exceptions.UsernameExistsException as exc:
            raise UsernameExists(username) from exc
        try:
            self._idp.admin_set_user_password(UserPoolId=self._pool, Username=username, Password=password,
                                              Permanent=True)
        except self._idp.exceptions.InvalidPasswordException as exc:
            self.remove(username)  # (an emulator checks only here) nothing half-made stays
            raise WeakPassword(_message(exc)) from exc

    @_unavailable_when_out_of_capacity
    def exists(self, username: str) -> bool:
        """Whether the login exists. An admin read: the pool client's PreventUserExistenceErrors
        makes the sign-in answers alike for a missing login and a wrong password."""
        try:
            self._idp.admin_get_user(UserPoolId=self._pool, Username=username)
        except self._idp.exceptions.UserNotFoundException:
            return False
        return True

    @_unavailable_when_out_of_capacity
    def verify(self, username: str, password: str) -> str:
        """MATCH if the password signs in to the login, MISMATCH if not (or there is no
        login), UNCONFIRMED when Cognito cannot say (a login the public SignUp made before
        the API made logins itself, never confirmed). A login `register` left half-made is
        finished on the way (see there). The tokens are thrown away."""
        try:
            self._sign_in(username, password)
        except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException):
            return MISMATCH
        except self._idp.exceptions.UserNotConfirmedException:
            return UNCONFIRMED
        return MATCH

    def _sign_in(self, username: str, password: str) -> AuthenticationResultTypeTypeDef:
        """AdminInitiateAuth's AuthenticationResult; a login left half-made by `register` (its
        password still temporary: NEW_PASSWORD_REQUIRED, which Cognito asks only once the
        password is right) is finished first."""
        for _ in range(2):
            answer = self._idp.admin_initiate_auth(
                UserPoolId=self._pool, ClientId=self._client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password})
            if "AuthenticationResult" in answer:
                return answer["AuthenticationResult"]
            if answer.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
                break  # a challenge this pool does not set (MFA): no tokens here
            self._idp.admin_set_user_password(UserPoolId=self._pool, Username=username, Password=password,
                                              Permanent=True)
        raise self._idp.exceptions.NotAuthorizedException(
            {"Error": {"Code": "NotAuthorizedException", "Message": "no tokens"}}, "AdminInitiateAuth")

    @_unavailable_when_out_of_capacity
    def remove(self, username: str) -> None:
        with contextlib.suppress(self._idp.exceptions.UserNotFoundException):
            self._idp.admin_delete_user(UserPoolId=self._pool, Username=username)

    @_unavailable_when_out_of_capacity
    def authenticate(self, username: str, password: str) -> Tokens:
        try:
            result = self._sign_in(username, password)
        except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException,
                self._idp.exceptions.UserNotConfirmedException) as exc:
            raise BadCredentials() from exc
        return _tokens(result)

    @_unavailable_when_out_of_capacity
    def refresh(self, refresh_token: str) -> Tokens:
        """Fresh id and access tokens for a refresh token (it stays the same: Cognito rotates
        refresh tokens only when the app client asks for it). BadCredentials if it is not one
        this pool issued, or it was revoked by a sign-out."""
        try:
            result = self._idp.admin_initiate_auth(
                UserPoolId=self._pool, ClientId=self._client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
        except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException) as exc:
            raise BadCredentials() from exc
        return _tokens(result, refresh_token)

    @_unavailable_when_out_of_capacity
    def confirmed(self, username: str) -> bool:
        """Whether the login exists and is confirmed (every login `register` makes is)."""
        try:
            user = self._idp.admin_get_user(UserPoolId=self._pool, Username=username)
        except self._idp.exceptions.UserNotFoundException:
            return False
        return user.get("UserStatus") == "CONFIRMED"

    @_unavailable_when_out_of_capacity
    def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token of the account (global sign-out). Access and id tokens
        already issued stay valid until they expire (at most an hour): API Gateway's JWT
        authorizer checks their signature, not a revocation list."""
        self._idp.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)


def _message(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message") or "password too weak"


def _tokens(result: AuthenticationResultTypeTypeDef, refresh_token: str | None = None) -> Tokens:
    return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"],
                  expires_in=int(result["ExpiresIn"]), refresh_token=result.get("RefreshToken") or refresh_token)
