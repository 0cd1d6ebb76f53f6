"""moto's Cognito user pools: sign-up confirmation codes that are checked (and can be sent
again), and an unknown refresh token refused as Cognito refuses it."""

from __future__ import annotations

import logging
import secrets as random_codes
from typing import Any

from infra.runtime.moto_fixes.registry import Fix, Patch

CONFIRMATION_CODES: dict[tuple[str, str], str] = {}  # (client id, username) -> the code Cognito would send
ANNOUNCE_CONFIRMATION_CODES = False  # set by `make run` with Stage=prod: codes are logged, as Cognito emails them

BACKEND = "moto.cognitoidp.models.CognitoIdpBackend"
RESPONSE = "moto.cognitoidp.responses.CognitoIdpResponse"
log = logging.getLogger("infra.cognito")


# moto confirms a sign-up whatever code it is given and has no ResendConfirmationCode, so a
# `prod`-stage sign-up could not be tried locally as it works on AWS. Here sign-up draws a
# six-digit code (Cognito would email it; `make run` with Stage=prod logs it, logger
# "infra.cognito"), ConfirmSignUp checks it (CodeMismatchException, and
# NotAuthorizedException for a confirmed user, as Cognito answers), and
# ResendConfirmationCode draws a new one.
def _draw(client_id: str, username: str) -> None:
    code = f"{random_codes.randbelow(10**6):06d}"
    CONFIRMATION_CODES[(client_id, username)] = code
    if ANNOUNCE_CONFIRMATION_CODES:
        log.warning("confirmation code for user %s: %s (Cognito would send it by email)", username, code)


def _sign_up(inner: Any, self: Any, client_id: str, username: str, password: str, attributes: Any) -> Any:
    result = inner(self, client_id, username, password, attributes)
    _draw(client_id, username)
    return result


def _confirm_sign_up(self: Any, client_id: str, username: str, code: str | None = None) -> str:
    from moto.cognitoidp.exceptions import CodeMismatchException, NotAuthorizedError
    from moto.cognitoidp.models import UserStatus

    pool = next(p for p in self.user_pools.values() if client_id in p.clients)
    user = self.admin_get_user(pool.id, username)
    if user.status == UserStatus.CONFIRMED:
        raise NotAuthorizedError("User cannot be confirmed. Current status is CONFIRMED")
    if code is None or CONFIRMATION_CODES.get((client_id, username)) != code:
        raise CodeMismatchException("Invalid verification code provided, please try again.")
    CONFIRMATION_CODES.pop((client_id, username), None)
    user.status = UserStatus.CONFIRMED
    return ""


def _responds_confirm_sign_up(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self._get_region_agnostic_backend()._find_backend_for_clientid(self._get_param("ClientId"))
    _confirm_sign_up(backend, self._get_param("ClientId"), self._get_param("Username"),
                     self._get_param("ConfirmationCode"))
    return ActionResult({})


def _resend_confirmation_code(self: Any) -> Any:
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import UserStatus
    from moto.core.responses import ActionResult

    client_id, username = self._get_param("ClientId"), self._get_param("Username")
    backend = self._get_region_agnostic_backend()._find_backend_for_clientid(client_id)
    pool = next(p for p in backend.user_pools.values() if client_id in p.clients)
    user = backend.admin_get_user(pool.id, username)  # UserNotFoundException, as Cognito
    if user.status == UserStatus.CONFIRMED:
        raise NotAuthorizedError("User is already confirmed.")
    _draw(client_id, username)
    return ActionResult({"CodeDeliveryDetails": {"Destination": "the local stack's log",
                                                 "DeliveryMedium": "EMAIL", "AttributeName": "email"}})


def _known_refresh_token(inner: Any, self: Any, refresh_token: str) -> Any:
    """moto's AdminInitiateAuth with REFRESH_TOKEN_AUTH looks the token up unguarded: a token
    the pool never issued raised KeyError (a 500; InitiateAuth checks it). Cognito answers
    NotAuthorizedException, as moto does for a revoked one."""
    if refresh_token not in self.refresh_tokens:
        from moto.cognitoidp.exceptions import NotAuthorizedError

        raise NotAuthorizedError("Invalid Refresh Token")
    return inner(self, refresh_token)


FIXES = [
    Fix("cognito.confirmation_codes", "feature",
        "moto confirms a sign-up whatever code it is given and has no ResendConfirmationCode; here sign-up draws "
        "a code (logged when announced), ConfirmSignUp checks it and ResendConfirmationCode draws another",
        patches=(Patch(f"{BACKEND}.sign_up", wrap=_sign_up),
                 Patch(f"{BACKEND}.confirm_sign_up", value=_confirm_sign_up),
                 Patch(f"{RESPONSE}.confirm_sign_up", value=_responds_confirm_sign_up),
                 Patch(f"{RESPONSE}.resend_confirmation_code", value=_resend_confirmation_code, new=True))),
    Fix("cognito.unknown_refresh_tokens_refused", "correctness",
        "moto's AdminInitiateAuth raises KeyError (a 500) for a refresh token the pool never issued; Cognito "
        "answers NotAuthorizedException",
        patches=(Patch("moto.cognitoidp.models.CognitoIdpUserPool.create_tokens_from_refresh_token",
                       wrap=_known_refresh_token),),
        issue="getmoto/moto#7563"),
]
