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
        return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"],
                      expires_in=int(result["ExpiresIn"]), refresh_token=result.get("RefreshToken"))
