"""The API is the only door to the user pool (security review, issue 22, finding 8).

The app client was public and allowed USER_PASSWORD_AUTH, and every token names the pool and
the client: passwords could be guessed at Cognito, around the API's limits, and SignUp needed
only the client id, making logins that skip the handle and name rules and have no profile.
Now the function makes admin calls only (IAM-authorized, with its role), the client allows no
flow but the admin password flow and refresh, and the pool refuses sign-ups from anyone but an
administrator. moto enforces neither allowed flows nor AllowAdminCreateUserOnly, so the
template's settings are read, and the calls the code makes are recorded."""

from __future__ import annotations

import ast
from pathlib import Path

import boto3
import pytest

from infra.runtime import template as tpl
from tests.support.addresses import request_from, sign_up_from

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = ROOT / "layers/timeline/python/timeline/store/identity.py"
PASSWORD = "correct-horse-battery-9"
ATTACKER, OTHER = "198.51.100.66", "192.0.2.10"
ADMIN_FLOWS = {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


def resource(logical_id: str) -> dict:
    return tpl.load_sam()["Resources"][logical_id]["Properties"]


def test_given_the_template_then_the_app_client_allows_only_the_admin_password_flow_and_refresh():
    client = resource("UserPoolClient")
    # No USER_PASSWORD_AUTH, USER_SRP_AUTH or CUSTOM_AUTH: nobody signs in at Cognito with the public id
    assert set(client["ExplicitAuthFlows"]) == ADMIN_FLOWS
    # and no hosted UI / OAuth flow is another door
    assert not client.get("AllowedOAuthFlowsUserPoolClient") and not client.get("AllowedOAuthFlows")
    assert not client.get("CallbackURLs") and not client.get("SupportedIdentityProviders")


def test_given_the_template_then_the_user_pool_refuses_sign_ups_but_an_administrators():
    assert resource("UserPool")["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_given_the_deployed_stack_then_the_pool_and_its_client_are_as_the_template_says(h):
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    pool = idp.describe_user_pool(UserPoolId=h.stack.user_pool_id)["UserPool"]
    client = idp.describe_user_pool_client(UserPoolId=h.stack.user_pool_id,
                                           ClientId=h.stack.user_pool_client_id)["UserPoolClient"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert set(client["ExplicitAuthFlows"]) == ADMIN_FLOWS


@pytest.fixture
def cognito_calls(h):
    """The operations the api function's Cognito client sends, in order."""
    client = h.services.accounts._identity._idp
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)
    client.meta.events.register("before-call.cognito-idp", record, unique_id="test-cognito-calls")
    yield calls
    client.meta.events.unregister("before-call.cognito-idp", unique_id="test-cognito-calls")


def test_given_every_auth_route_then_the_api_makes_admin_calls_only(h, cognito_calls):
    # When an account is made, signs in (wrong, then right), refreshes, confirms, asks for a
    # code and signs out everywhere
    reply = h.request("POST", "/v1/auth/signup", body={"handle": "alice", "password": PASSWORD, "display_name": "A"})
    assert reply.status == 201, reply
    alice = int(reply.body["id"])
    assert h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": "wrong-password-1"}).status == 401
    tokens = h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD})
    assert tokens.status == 200, tokens
    refreshed = h.request("POST", "/v1/auth/refresh", body={"refresh_token": tokens.body["refresh_token"]})
    assert refreshed.status == 200, refreshed
    assert h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": "123456"}).status == 200
    assert h.request("POST", "/v1/auth/confirm/resend", body={"handle": "alice"}).status == 202
    assert h.request("POST", "/v1/auth/signout", as_user=alice).status == 204
    # Then every call to Cognito was an admin call, authorized by the function's role
    assert cognito_calls and all(name.startswith("Admin") for name in cognito_calls), cognito_calls
    assert {"AdminCreateUser", "AdminSetUserPassword", "AdminInitiateAuth",
            "AdminUserGlobalSignOut"} <= set(cognito_calls)


def test_given_the_identity_store_then_it_calls_none_of_cognitos_public_operations():
    from tests.support.permissions import PUBLIC_COGNITO

    called = set()
    for node in ast.walk(ast.parse(IDENTITY.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "_idp"):
            called.add(node.func.attr)
    assert called and all(name.startswith("admin_") for name in called), sorted(called)
    assert PUBLIC_COGNITO == ()


@pytest.mark.stack(SignUpsPerAddressPerHour="3")
def test_given_sign_ups_from_one_address_when_over_its_hourly_limit_then_429_and_nothing_made(h):
    from timeline import clock

    # Given three sign-ups from one address this hour (one refused as taken: it counts too)
    assert sign_up_from(h, ATTACKER, "bot1", PASSWORD).status == 201
    assert sign_up_from(h, ATTACKER, "bot2", PASSWORD).status == 201
    assert sign_up_from(h, ATTACKER, "bot1", PASSWORD).status == 409
    # When the address signs up once more, whatever X-Forwarded-For says
    reply = request_from(h, ATTACKER, "POST", "/v1/auth/signup", headers={"X-Forwarded-For": "10.1.2.3"},
                         body={"handle": "bot3", "password": PASSWORD, "display_name": "bot3"})
    # Then 429 with Retry-After (up to the hour), and no account
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 0 < int(reply.headers["Retry-After"]) <= 3600
    watcher = sign_up_from(h, OTHER, "watcher", PASSWORD)  # another address signs up
    assert watcher.status == 201, watcher
    assert h.request("GET", "/v1/users/bot3", as_user=int(watcher.body["id"])).status == 404
    # When the hour has passed, Then the address may sign up again
    clock.advance(ms=int(reply.headers["Retry-After"]) * 1000)
    assert sign_up_from(h, ATTACKER, "bot3", PASSWORD).status == 201


def test_given_the_template_then_the_sign_up_limit_is_a_parameter_with_its_documented_default():
    params = tpl.load_sam()["Parameters"]
    assert params["SignUpsPerAddressPerHour"]["Default"] == 20
