"""Accounts in the Cognito user pool. Usernames are our numeric user ids; handles live in
UsersTable, so a handle can be looked up (and later renamed) without touching Cognito."""

from __future__ import annotations

from timeline.records import Tokens


class WeakPassword(Exception):
    pass


class UsernameExists(Exception):
    pass


class BadCredentials(Exception):
    pass


class BadCode(Exception):
    """A confirmation code that is wrong or expired; `expired` says which."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "mismatch")
        self.expired = expired


class AlreadyConfirmed(Exception):
    pass


# What `IdentityProvider.verify` can tell about a password.
MATCH = "match"  # the login's password: it authenticated
MISMATCH = "mismatch"  # not its password (or no such login)
UNCONFIRMED = "unconfirmed"  # cannot tell: the login awaits its confirmation code (stage prod)


class IdentityProvider:
    def __init__(self, client, user_pool_id: str, client_id: str, *, auto_confirm: bool):
        self._idp, self._pool, self._client_id, self._auto_confirm = client, user_pool_id, client_id, auto_confirm

    def register(self, username: str, password: str) -> None:
        try:
            self._idp.sign_up(ClientId=self._client_id, Username=username, Password=password)
        except self._idp.exceptions.InvalidPasswordException as exc:
            raise WeakPassword(exc.response["Error"].get("Message", "password too weak")) from exc
        except self._idp.exceptions.UsernameExistsException as exc:
            raise UsernameExists(username) from exc
        if self._auto_confirm:
            self._idp.admin_confirm_sign_up(UserPoolId=self._pool, Username=username)

    def exists(self, username: str) -> bool:
        """Whether the login exists. An admin read: the pool client's PreventUserExistenceErrors
        makes the sign-in answers alike for a missing login and a wrong password."""
        try:
            self._idp.admin_get_user(UserPoolId=self._pool, Username=username)
        except self._idp.exceptions.UserNotFoundException:
            return False
        return True

    def verify(self, username: str, password: str) -> str:
        """MATCH if the password signs in to the login, MISMATCH if not (or there is no
        login), UNCONFIRMED when Cognito cannot say: it answers "not confirmed" for an
        unconfirmed login whatever the password (moto checks the password first). Where
        sign-ups confirm themselves (`auto_confirm`), an unconfirmed login is one whose
        sign-up stopped before confirming it: it is confirmed, as that sign-up would have,
        and asked again. The tokens are thrown away."""
        for attempt in range(2):
            try:
                self._idp.initiate_auth(ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": username, "PASSWORD": password})
                return MATCH
            except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException):
                return MISMATCH
            except self._idp.exceptions.UserNotConfirmedException:
                if not self._auto_confirm or attempt:
                    return UNCONFIRMED
                self._idp.admin_confirm_sign_up(UserPoolId=self._pool, Username=username)
        raise AssertionError("unreachable")

    def remove(self, username: str) -> None:
        try:
            self._idp.admin_delete_user(UserPoolId=self._pool, Username=username)
        except self._idp.exceptions.UserNotFoundException:
            pass

    def authenticate(self, username: str, password: str) -> Tokens:
        try:
            result = self._idp.initiate_auth(
                ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )["AuthenticationResult"]
        except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException,
                self._idp.exceptions.UserNotConfirmedException) as exc:
            raise BadCredentials() from exc
        return _tokens(result)

    def refresh(self, refresh_token: str) -> Tokens:
        """Fresh id and access tokens for a refresh token (it stays the same: Cognito rotates
        refresh tokens only when the app client asks for it). BadCredentials if it is not one
        this pool issued, or it was revoked by a sign-out."""
        try:
            result = self._idp.initiate_auth(ClientId=self._client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                             AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
        except (self._idp.exceptions.NotAuthorizedException, self._idp.exceptions.UserNotFoundException) as exc:
            raise BadCredentials() from exc
        return _tokens(result, refresh_token)

    def confirm(self, username: str, code: str) -> None:
        """Confirm a sign-up with the code Cognito sent (stage prod)."""
        try:
            self._idp.confirm_sign_up(ClientId=self._client_id, Username=username, ConfirmationCode=code)
        except self._idp.exceptions.CodeMismatchException as exc:
            raise BadCode(expired=False) from exc
        except self._idp.exceptions.ExpiredCodeException as exc:
            raise BadCode(expired=True) from exc
        except self._idp.exceptions.NotAuthorizedException as exc:  # "User cannot be confirmed. Current status is CONFIRMED"
            raise AlreadyConfirmed() from exc
        except self._idp.exceptions.UserNotFoundException as exc:
            raise BadCode(expired=False) from exc

    def resend_code(self, username: str) -> str | None:
        """Send the confirmation code again; returns where it went (e.g. "a***@e***"), if said."""
        try:
            sent = self._idp.resend_confirmation_code(ClientId=self._client_id, Username=username)
        except (self._idp.exceptions.UserNotFoundException, self._idp.exceptions.InvalidParameterException,
                self._idp.exceptions.NotAuthorizedException):
            return None  # unknown or already confirmed: say nothing an attacker could use
        return (sent.get("CodeDeliveryDetails") or {}).get("Destination")

    def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token of the account (global sign-out). Access and id tokens
        already issued stay valid until they expire (at most an hour): API Gateway's JWT
        authorizer checks their signature, not a revocation list."""
        self._idp.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)


def _tokens(result: dict, refresh_token: str | None = None) -> Tokens:
    return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"],
                  expires_in=int(result["ExpiresIn"]), refresh_token=result.get("RefreshToken") or refresh_token)
