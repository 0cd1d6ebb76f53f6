"""Cognito out of capacity is never a 500 (security review, issue 22, finding 9).

When the account-wide quota of Cognito runs out it answers TooManyRequestsException (or
LimitExceededException); botocore's own retries give up with that error, or with a throttling
code, a server error, or no connection at all. Policy for any dependency out of capacity: a
read degrades (a page marked partial), a write or a sign-in answers 503
{"error": {"code": "unavailable"}} with Retry-After. Here the api function's Cognito client
answers every call with such an error, as botocore raises it once its retries are spent."""

from __future__ import annotations

import botocore.exceptions
import pytest

PASSWORD = "correct-horse-battery-9"

OUT_OF_CAPACITY = [
    ("TooManyRequestsException", 400),  # the account's request-rate quota for the operation's category
    ("LimitExceededException", 400),
    ("ThrottlingException", 400),
    ("InternalErrorException", 500),
    (None, None),  # no connection
]


class Unavailable:
    """A stand-in for the api's Cognito client: every operation fails the same way."""

    def __init__(self, real, code: str | None, status: int | None):
        self._real, self._code, self._status = real, code, status
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        if name in ("exceptions", "meta"):
            return getattr(self._real, name)

        def fail(**_):
            self.calls.append(name)
            if self._code is None:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://cognito-idp.example")
            error = {"Error": {"Code": self._code, "Message": "Rate exceeded"},
                     "ResponseMetadata": {"HTTPStatusCode": self._status}}
            operation = "".join(part.title() for part in name.split("_"))
            raise self._real.exceptions.from_code(self._code)(error, operation)
        return fail


@pytest.fixture
def alice(h):
    reply = h.request("POST", "/v1/auth/signup", body={"handle": "alice", "password": PASSWORD, "display_name": "A"})
    assert reply.status == 201, reply
    tokens = h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD})
    assert tokens.status == 200, tokens
    return int(reply.body["id"]), tokens.body["refresh_token"]


def out_of_capacity(h, monkeypatch, code, status) -> Unavailable:
    identity = h.services.accounts._identity
    failing = Unavailable(identity._idp, code, status)
    monkeypatch.setattr(identity, "_idp", failing)
    return failing


def assert_unavailable(reply) -> None:
    assert (reply.status, reply.error_code) == (503, "unavailable"), reply
    assert 0 < int(reply.headers["Retry-After"]) <= 60, reply.headers
    assert reply.body["error"]["message"]


@pytest.mark.parametrize("code,status", OUT_OF_CAPACITY)
def test_given_cognito_out_of_capacity_when_signing_in_then_503_with_retry_after(h, monkeypatch, alice, code, status):
    failing = out_of_capacity(h, monkeypatch, code, status)
    assert_unavailable(h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD}))
    assert failing.calls == ["admin_initiate_auth"]


@pytest.mark.parametrize("code,status", OUT_OF_CAPACITY)
def test_given_cognito_out_of_capacity_when_refreshing_then_503_with_retry_after(h, monkeypatch, alice, code, status):
    out_of_capacity(h, monkeypatch, code, status)
    assert_unavailable(h.request("POST", "/v1/auth/refresh", body={"refresh_token": alice[1]}))


@pytest.mark.parametrize("code,status", OUT_OF_CAPACITY)
def test_given_cognito_out_of_capacity_when_signing_out_then_503_with_retry_after(h, monkeypatch, alice, code, status):
    out_of_capacity(h, monkeypatch, code, status)
    assert_unavailable(h.request("POST", "/v1/auth/signout", as_user=alice[0]))


@pytest.mark.parametrize("code,status", OUT_OF_CAPACITY)
def test_given_cognito_out_of_capacity_when_confirming_then_503_with_retry_after(h, monkeypatch, alice, code, status):
    out_of_capacity(h, monkeypatch, code, status)
    assert_unavailable(h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": "123456"}))


@pytest.mark.parametrize("code,status", OUT_OF_CAPACITY)
def test_given_cognito_out_of_capacity_when_signing_up_then_503_and_the_handle_stays_free(
        h, monkeypatch, code, status):
    body = {"handle": "bob", "password": PASSWORD, "display_name": "Bob"}
    # Given Cognito out of capacity; When Bob signs up, Then 503 with Retry-After
    with monkeypatch.context() as patched:
        out_of_capacity(h, patched, code, status)
        assert_unavailable(h.request("POST", "/v1/auth/signup", body=body))
    # And nothing holds his handle: once Cognito answers again, his sign-up goes through
    reply = h.request("POST", "/v1/auth/signup", body=body)
    assert reply.status == 201, reply
    assert h.request("POST", "/v1/auth/token", body={"handle": "bob", "password": PASSWORD}).status == 200


def test_given_cognito_out_of_capacity_when_a_half_made_sign_up_is_resumed_then_503(h, monkeypatch):
    """The resume path's calls (does the login exist, does the password sign in) too."""
    from timeline.store.identity import IdentityProvider

    class Crash(BaseException):
        """The process died here."""

    real = IdentityProvider.register

    def register_then_die(self, username, password):
        real(self, username, password)
        raise Crash()  # the process dies after making the login: the claim stays pending
    with monkeypatch.context() as patched:
        patched.setattr(IdentityProvider, "register", register_then_die)
        with pytest.raises(Crash):
            h.request("POST", "/v1/auth/signup", body={"handle": "carol", "password": PASSWORD, "display_name": "C"})
    with monkeypatch.context() as patched:
        out_of_capacity(h, patched, "TooManyRequestsException", 400)
        assert_unavailable(h.request("POST", "/v1/auth/signup",
                                     body={"handle": "carol", "password": PASSWORD, "display_name": "C"}))
    reply = h.request("POST", "/v1/auth/signup", body={"handle": "carol", "password": PASSWORD, "display_name": "C"})
    assert reply.status == 201, reply


def test_given_the_document_then_the_auth_routes_say_503_with_retry_after(h):
    spec = h.request("GET", "/v1/openapi.json").body
    for path in ("/v1/auth/signup", "/v1/auth/token", "/v1/auth/refresh", "/v1/auth/confirm", "/v1/auth/signout"):
        response = spec["paths"][path]["post"]["responses"]["503"]
        assert "Retry-After" in response["headers"], path
