"""Rate limits: posts per account (PostRateLimitPerMinute), sign-in attempts per handle and client
address (SignInRateLimitPerMinute), fixed one-minute windows in RateLimitsTable. The sign-in limits
by address and their back-off: tests/functional/test_sign_in_limits.py; sign-ups per address:
tests/functional/test_cognito_admin_only.py."""

from __future__ import annotations

import pytest

from tests.support.harness import to_next_window

PASSWORD = "correct-horse-battery-9"




@pytest.mark.stack(PostRateLimitPerMinute="3")
def test_given_a_full_window_when_posting_again_then_429_with_retry_after_and_nothing_posted(h, clock):
    alice = h.sign_up("alice")
    to_next_window()
    posted = [h.post(alice, f"post {n}") for n in range(3)]
    reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "one too many"})
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 0 < int(reply.headers["Retry-After"]) <= 60
    assert "3 times a minute" in reply.body["error"]["message"]
    assert h.home_ids(alice) == posted[::-1]  # the refused post exists nowhere
    # A repost counts too
    bob = h.sign_up("bob")
    assert h.request("POST", f"/v1/tweets/{posted[0]}/repost", as_user=alice).status == 429
    # Another account has its own window
    assert h.request("POST", "/v1/tweets", as_user=bob, body={"text": "mine"}).status == 201
    # When the window has passed, Then posting works again
    to_next_window()
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "a new minute"}).status == 201


@pytest.mark.stack(PostRateLimitPerMinute="2")
def test_given_a_refused_post_when_counting_then_it_did_not_use_up_the_window(h, clock):
    alice = h.sign_up("alice")
    to_next_window()
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": ""}).status == 422  # invalid: not counted
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "one"}).status == 201
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "two"}).status == 201
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "three"}).status == 429


@pytest.mark.stack(PostRateLimitPerMinute="1")
def test_given_an_idempotent_retry_when_the_window_is_full_then_it_still_returns_the_first_post(h, clock):
    alice = h.sign_up("alice")
    to_next_window()
    body, key = {"text": "once"}, {"Idempotency-Key": "retry-me"}
    first = h.request("POST", "/v1/tweets", as_user=alice, body=body, headers=key)
    again = h.request("POST", "/v1/tweets", as_user=alice, body=body, headers=key)
    assert first.status == again.status == 201 and again.body["id"] == first.body["id"]


@pytest.mark.stack(SignInRateLimitPerMinute="3")
def test_given_repeated_sign_ins_for_a_handle_from_one_address_when_over_the_limit_then_429_even_with_the_right_password(
        h, clock):
    h.sign_up("alice", PASSWORD)
    h.sign_up("bob", PASSWORD)
    to_next_window()
    for password in ("wrong-1-password", "wrong-2-password", PASSWORD):
        assert h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": password}).status in (200, 401)
    reply = h.request("POST", "/v1/auth/token", body={"handle": "ALICE", "password": PASSWORD})  # any case
    assert (reply.status, reply.error_code) == (429, "rate_limited") and int(reply.headers["Retry-After"]) > 0
    assert h.request("POST", "/v1/auth/token", body={"handle": "bob", "password": PASSWORD}).status == 200
    to_next_window()
    assert h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD}).status == 200


@pytest.mark.stack(SignInAttemptsPerAddressPerMinute="3", SignInRateLimitPerMinute="1000")
def test_given_one_address_flooding_sign_ins_when_its_window_is_full_then_later_attempts_write_nothing(
        h, clock, monkeypatch):
    """Issue 23 (hot keys): a refused conditional update still costs a write unit, so a flood
    from one address would put every attempt on its window item. Once a container has seen the
    window full, it refuses the rest of that window without a request."""
    from timeline.store.tables import RateLimitModel

    h.sign_up("alice", PASSWORD)
    to_next_window()
    writes: list[str] = []
    update = RateLimitModel.update
    monkeypatch.setattr(RateLimitModel, "update", lambda self, *a, **k: writes.append(self.pk) or update(self, *a, **k))
    flood = [h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": "wrong-password-9"})
             for _ in range(20)]
    assert [r.status for r in flood[3:]] == [429] * 17
    assert all(0 < int(r.headers["Retry-After"]) <= 60 for r in flood[3:])
    window = [k for k in writes if k.startswith("signin-from#")]
    assert len(window) == 4, window  # three counted, one refused: then none
    # When the window has passed, the address is counted again
    to_next_window()
    reply = h.request("POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD})
    assert reply.status == 200, reply


def test_given_the_template_then_the_limits_are_parameters_with_the_documented_defaults():
    from infra.runtime import template as tpl
    params = tpl.load_sam()["Parameters"]
    assert params["PostRateLimitPerMinute"]["Default"] == 30
    assert params["SignInRateLimitPerMinute"]["Default"] == 10
    assert params["SignInAttemptsPerAddressPerMinute"]["Default"] == 30
    assert params["SignUpsPerAddressPerHour"]["Default"] == 20
