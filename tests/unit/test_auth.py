"""Auth that works in production: refresh tokens, sign-up confirmation (stage prod), global
sign-out. Cognito is moto's, with the confirmation codes infra.moto_patches adds."""

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
def test_given_stage_prod_when_a_sign_up_is_confirmed_with_its_code_then_the_account_can_sign_in(h):
    from infra.moto_patches import CONFIRMATION_CODES
    alice = h.sign_up("alice", PASSWORD)
    # Not confirmed yet: no tokens
    reply = h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD})
    assert reply.status == 401
    # A wrong code, and an unknown handle, get the same answer
    for handle in ("alice", "nobody"):
        reply = h.request("POST", "/v1/auth/confirm", body={"handle": handle, "code": "000000x"})
        assert (reply.status, reply.error_code) == (400, "bad_confirmation_code"), reply
    # A new code is sent on request; the answer does not say whether the handle exists
    for handle in ("alice", "nobody"):
        reply = h.request("POST", "/v1/auth/confirm/resend", body={"handle": handle})
        assert reply.status == 202 and reply.body["sent"] is True
    code = CONFIRMATION_CODES[(h.stack.user_pool_client_id, str(alice))]
    reply = h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": code})
    assert reply.status == 200 and reply.body["id"] == str(alice)
    assert sign_in(h, "alice")["access_token"]
    # Confirming again is harmless
    assert h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": code}).status == 200
