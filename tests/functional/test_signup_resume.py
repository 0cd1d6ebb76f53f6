"""A sign-up is two writes in two services: the handle claim (with the profile) in UsersTable,
then the login in Cognito (itself two admin calls: AdminCreateUser with the password as the
temporary one, then AdminSetUserPassword making it permanent). Whatever stops it between them
(a crash, an answer lost on the way back) must not burn the handle, and nobody but the person
who chose the password may finish someone else's half-made account (issue 21, defect 3).

A crash is simulated by an exception no handler catches (a BaseException: no cleanup runs,
as when the process dies); a lost answer by botocore retrying a call whose answer it got, as
it does after a timeout or a reset connection.
"""

from __future__ import annotations

import pytest

from tests.support.addresses import request_from
from tests.support.harness import to_next_window

PASSWORD = "correct-horse-battery-9"
OTHER_PASSWORD = "another-horse-battery-7"
GRACE_MS = 60_000
FREE_FAILURES = 5  # failed password checks for a handle from one address before any wait
HER_ADDRESS = "192.0.2.10"  # not the sample events' (tests.support.addresses)


class Crash(BaseException):
    """The process died here."""


def identity_provider():
    from timeline.store.identity import IdentityProvider  # the layer is importable once the stack is (h)
    return IdentityProvider


def advance_past_the_grace() -> None:
    from timeline import clock
    clock.advance(ms=GRACE_MS + 1)


def crash_before_the_login(monkeypatch):
    def register(self, username, password):
        raise Crash()
    monkeypatch.setattr(identity_provider(), "register", register)


def crash_after_the_login(monkeypatch):
    real = identity_provider().register

    def register(self, username, password):
        real(self, username, password)
        raise Crash()
    monkeypatch.setattr(identity_provider(), "register", register)


def sign_up(h, handle: str = "alice", password: str = PASSWORD, display_name: str = "Alice"):
    return h.request("POST", "/v1/auth/signup",
                     body={"handle": handle, "password": password, "display_name": display_name})


def sign_in(h, handle: str = "alice", password: str = PASSWORD):
    return h.request("POST", "/v1/auth/token", body={"handle": handle, "password": password})


def crash_between_the_two_login_calls(h):
    """The process dies once Cognito has made the login, before its password is permanent."""
    client = h.services.accounts._identity._idp

    def crash(**_):
        raise Crash()
    event = "before-call.cognito-idp.AdminSetUserPassword"
    client.meta.events.register_first(event, crash, unique_id="test-crash")
    return lambda: client.meta.events.unregister(event, unique_id="test-crash")


def crashed_sign_up(h, monkeypatch, crash) -> None:
    with monkeypatch.context() as patched:
        crash(patched)
        with pytest.raises(Crash):
            sign_up(h)


def answers_lost(client, operation: str, times: int = 1):
    """botocore retries `operation` on this client as if its first `times` answers were lost."""
    service = client.meta.service_model.service_id.hyphenize()

    def lost(attempts=1, **_):
        return 0 if attempts <= times else None
    event = f"needs-retry.{service}.{operation}"
    client.meta.events.register_first(event, lost, unique_id="test-answers-lost")
    return lambda: client.meta.events.unregister(event, unique_id="test-answers-lost")


def test_given_a_crash_before_the_login_when_the_sign_up_is_retried_after_the_grace_then_the_handle_is_free(
        h, monkeypatch):
    # Given a sign-up that claimed @alice and died before making her login
    crashed_sign_up(h, monkeypatch, crash_before_the_login)
    watcher = h.sign_up("watcher")
    # Then nobody sees a half-made account: it has no login, nobody can act as it
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 404
    assert h.request("POST", "/v1/users/alice/follow", as_user=watcher).status == 404
    # When a sign-up for @alice comes within the grace (the first one might still be running)
    reply = sign_up(h)
    assert (reply.status, reply.error_code) == (409, "handle_taken")
    # Then it is refused; past the grace the stale claim is released and the sign-up succeeds
    advance_past_the_grace()
    reply = sign_up(h, display_name="Alice again")
    assert reply.status == 201, reply
    assert sign_in(h).status == 200
    profile = h.request("GET", "/v1/users/alice", as_user=watcher)
    assert profile.status == 200 and profile.body["id"] == reply.body["id"]
    assert profile.body["display_name"] == "Alice again"


def test_given_a_crash_after_the_login_when_the_same_person_retries_then_the_sign_up_completes(h, monkeypatch):
    # Given a sign-up that made @alice's login and died before answering
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    # When she signs up again at once, with her password
    reply = sign_up(h)
    # Then it succeeds, as her account: she can sign in and be found
    assert reply.status == 201, reply
    assert sign_in(h).status == 200
    watcher = h.sign_up("watcher")
    assert h.request("GET", "/v1/users/alice", as_user=watcher).body["id"] == reply.body["id"]
    assert sign_up(h).status == 409  # a finished account is never "resumed"


def test_given_a_crash_after_the_login_when_a_stranger_signs_up_for_the_handle_then_refused_even_after_the_grace(
        h, monkeypatch):
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    advance_past_the_grace()
    # When someone else asks for @alice with another password
    reply = sign_up(h, password=OTHER_PASSWORD)
    # Then refused: the login is Alice's, and so stays the handle
    assert (reply.status, reply.error_code) == (409, "handle_taken")
    assert sign_in(h, password=OTHER_PASSWORD).status == 401
    assert sign_in(h).status == 200


def test_given_a_crash_after_the_login_when_she_signs_in_instead_then_her_profile_is_finished(h, monkeypatch):
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    watcher = h.sign_up("watcher")
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 404
    # When Alice signs in (the login exists: the answer was all that was lost)
    assert sign_in(h).status == 200
    # Then her profile is complete: others find and follow her
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 200
    assert h.request("POST", "/v1/users/alice/follow", as_user=watcher).status == 200



@pytest.mark.stack(SignInRateLimitPerMinute="3")
def test_given_passwords_guessed_through_sign_ups_then_they_count_as_sign_ins(h, monkeypatch):
    # Given a half-made account with a login: a sign-up for it checks the password
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    to_next_window()
    # When a stranger tries password after password through sign-up
    answers = [sign_up(h, password=f"guess-number-{n}").status for n in range(4)]
    # Then they count in the handle's window for that address, as sign-ins do, and even the
    # right password waits, from there
    assert answers == [409, 409, 409, 429]
    assert sign_up(h).status == 429
    assert sign_in(h).status == 429
    # And Alice, from her own address, finishes her sign-up
    reply = request_from(h, HER_ADDRESS, "POST", "/v1/auth/signup",
                         body={"handle": "alice", "password": PASSWORD, "display_name": "Alice"})
    assert reply.status == 201, reply


def test_given_passwords_guessed_through_sign_ups_then_failures_back_off_as_sign_ins_do(h, monkeypatch):
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    # When a stranger tries password after password through sign-up (the window allows them)
    answers = [sign_up(h, password=f"guess-number-{n}") for n in range(FREE_FAILURES + 1)]
    # Then after the free failures, the address waits: 429 with Retry-After
    assert [a.status for a in answers] == [409] * FREE_FAILURES + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    # And guessing through sign-in shares the back-off: it is the same password check
    assert sign_in(h, password="guess-number-x").status == 429


@pytest.mark.parametrize("stage", ["dev", pytest.param("prod", marks=pytest.mark.stack(Stage="prod"))])
@pytest.mark.parametrize("operation", ["AdminCreateUser", "AdminSetUserPassword"])
def test_given_the_answer_of_a_login_call_lost_when_botocore_retries_then_the_sign_up_succeeds(h, stage, operation):
    # Given Cognito's answer to AdminCreateUser lost: botocore sends it again and Cognito
    # answers UsernameExists, for the login the first attempt made (AdminSetUserPassword sent
    # again sets the same password again)
    restore = answers_lost(h.services.accounts._identity._idp, operation)
    try:
        reply = sign_up(h)
    finally:
        restore()
    # Then the sign-up succeeds, in every stage: the password signs in, the login is ours
    assert reply.status == 201, reply
    assert sign_in(h).status == 200


def test_given_a_crash_between_the_two_login_calls_when_she_retries_then_the_sign_up_completes(h):
    # Given a sign-up that died after Cognito made the login, before its password was permanent
    restore = crash_between_the_two_login_calls(h)
    try:
        with pytest.raises(Crash):
            sign_up(h)
    finally:
        restore()
    # When a stranger asks for @alice past the grace, Then refused: the login is Alice's
    advance_past_the_grace()
    assert sign_up(h, password=OTHER_PASSWORD).status == 409
    # When Alice signs up again with her password, Then it completes (her password still is
    # the login's temporary one: it signs in to a challenge, which proves it)
    reply = sign_up(h)
    assert reply.status == 201, reply
    assert sign_in(h).status == 200


def test_given_a_crash_between_the_two_login_calls_when_she_signs_in_instead_then_she_is_in(h):
    restore = crash_between_the_two_login_calls(h)
    try:
        with pytest.raises(Crash):
            sign_up(h)
    finally:
        restore()
    assert sign_in(h, password=OTHER_PASSWORD).status == 401
    assert sign_in(h).status == 200
    watcher = h.sign_up("watcher")
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 200


@pytest.mark.stack(Stage="prod")
def test_given_a_crash_after_the_login_when_someone_confirms_the_handle_then_the_account_stays_unfinished(
        h, monkeypatch):
    """Confirming proves nothing (no code is sent: README, "Reliability"), so it finishes no
    half-made account; the password does, through sign-up or sign-in."""
    crashed_sign_up(h, monkeypatch, crash_after_the_login)
    reply = h.request("POST", "/v1/auth/confirm", body={"handle": "alice", "code": "123456"})
    assert (reply.status, reply.error_code) == (400, "bad_confirmation_code"), reply
    watcher = h.sign_up("watcher")
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 404
    assert sign_up(h).status == 201
    assert h.request("GET", "/v1/users/alice", as_user=watcher).status == 200


def test_given_the_answer_of_the_claim_lost_on_an_emulator_without_tokens_then_the_claim_is_ours(h, monkeypatch):
    """Without ClientRequestToken (another emulator, or a retry of our own past botocore's),
    the repeated claim fails its own "does not exist" conditions: the code reads the claim."""
    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler.transact_write_items
    if getattr(handler, "_honours_tokens", False):  # the emulator fix: without it, as moto was
        monkeypatch.setattr(DynamoHandler, "transact_write_items", handler.__wrapped__)
    restore = answers_lost(h.services.accounts._users._connection.client, "TransactWriteItems")
    try:
        reply = sign_up(h)
    finally:
        restore()
    assert reply.status == 201, reply
    assert sign_in(h).status == 200
