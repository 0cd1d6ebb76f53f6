"""Auth that works in production: refresh tokens, sign-up confirmation (stage prod), global
sign-out. Cognito is moto's, with the confirmation codes infra.runtime.moto_fixes.cognito adds."""

from __future__ import annotations

import jwt
import pytest

PASSWORD = "correct-horse-battery-9"


def sign_in(h, handle: str) -> dict:
    reply = h.request("POST", "/v1/auth/token", body={"handle": handle, "password": PASSWORD})
    assert reply.status == 200, reply
    return reply.body


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_given_a_signed_in_user_when_refreshing_then_fresh_tokens_for_the_same_account(h):
    alice = h.sign_up("alice", PASSWORD)
    tokens = sign_in(h, "alice")
    assert tokens["refresh_token"]
    reply = h.request("POST", "/v1/auth/refresh", body={"refresh_token": tokens["refresh_token"]})
    assert reply.status == 200, reply
    assert claims(reply.body["access_token"])["username"] == str(alice)
    assert claims(reply.body["id_token"])["cognito:username"] == str(alice)
    assert reply.body["refresh_token"] == tokens["refresh_token"] and reply.body["expires_in"] > 0


@pytest.mark.parametrize("token", ["not-a-token", "x" * 4096, "eyJhbGciOiJub25lIn0.e30."])
def test_given_a_bad_refresh_token_when_refreshing_then_401(h, token):
    reply = h.request("POST", "/v1/auth/refresh", body={"refresh_token": token})
    assert (reply.status, reply.error_code) == (401, "bad_refresh_token"), reply


def test_given_a_sign_out_when_the_old_refresh_token_is_used_then_401(h):
    alice = h.sign_up("alice", PASSWORD)
    tokens = sign_in(h, "alice")
    assert h.request("POST", "/v1/auth/signout", as_user=alice).status == 204
    reply = h.request("POST", "/v1/auth/refresh", body={"refresh_token": tokens["refresh_token"]})
    assert (reply.status, reply.error_code) == (401, "bad_refresh_token")
    assert sign_in(h, "alice")["refresh_token"]  # signing in again works


def test_given_no_token_when_signing_out_then_401(h):
    assert h.request("POST", "/v1/auth/signout").status == 401


@pytest.mark.stack(Stage="prod")
def test_given_stage_prod_when_signing_up_then_the_account_signs_in_at_once_and_confirming_it_is_harmless(h):
    """Every stage makes logins confirmed (security review, issue 22, finding 8): they are made
    by the api with admin calls, and the api asks for no email address, so Cognito has no code
    to send (README, "Reliability"). /v1/auth/confirm and /resend stay for the clients of the
    emailed-code flow of old, and answer as they did for a confirmed account."""
    import boto3

    alice = h.sign_up("alice", PASSWORD)
    # No code awaited: the new account signs in at once
    assert sign_in(h, "alice")["access_token"]
    login = boto3.client("cognito-idp", region_name="us-east-1").admin_get_user(
        UserPoolId=h.stack.user_pool_id, Username=str(alice))
    assert login["UserStatus"] == "CONFIRMED"
    # Confirming it again answers the account, whatever the code (as for any confirmed account)
    for code in ("000000x", "123456"):
        reply = h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": code})
        assert reply.status == 200 and reply.body["id"] == str(alice), reply
    # An unknown handle is a wrong code
    reply = h.request("POST", "/v1/auth/confirm", body={"handle": "nobody", "code": "000000x"})
    assert (reply.status, reply.error_code) == (400, "bad_confirmation_code"), reply
    # Asking for a code again says "sent" whatever the handle, and sends nothing
    from infra.runtime.moto_fixes.cognito import CONFIRMATION_CODES
    for handle in ("alice", "nobody"):
        reply = h.request("POST", "/v1/auth/confirm/resend", body={"handle": handle})
        assert reply.status == 202 and reply.body["sent"] is True and reply.body["destination"] is None
    assert (h.stack.user_pool_client_id, str(alice)) not in CONFIRMATION_CODES
