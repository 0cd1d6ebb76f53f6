"""Sign-in limits that slow a guesser without locking the owner out (security review, issue 22,
finding 7): attempts count per handle and client address (SignInRateLimitPerMinute) and per
address across handles (SignInAttemptsPerAddressPerMinute); failures for one handle from one
address make the next attempt wait, longer after each further failure (429 with a growing
Retry-After, never a sleep in the function). The client address is the source IP API Gateway
puts in the request context, never a header the client writes."""

from __future__ import annotations

import time

import pytest

from tests.support.addresses import request_from, sign_in_from
from tests.support.harness import to_next_window

PASSWORD = "correct-horse-battery-9"
ATTACKER, OWNER = "198.51.100.66", "192.0.2.10"
FREE_FAILURES = 5  # failures for one handle from one address before any wait




@pytest.mark.stack(SignInRateLimitPerMinute="3")
def test_given_three_wrong_guesses_from_one_address_when_the_owner_signs_in_from_another_then_200(h, clock):
    # Given Alice's account, and someone at another address guessing her password three times
    h.sign_up("alice", PASSWORD)
    to_next_window()
    for guess in ("guess-number-1", "guess-number-2", "guess-number-3"):
        assert sign_in_from(h, ATTACKER, "alice", guess).status == 401
    # When Alice signs in from her own address, with her password
    reply = sign_in_from(h, OWNER, "alice", PASSWORD)
    # Then she is in: nobody else's failures lock her handle
    assert reply.status == 200, reply
    # And the guesser's own window for @alice is full, even with the right password
    reply = sign_in_from(h, ATTACKER, "ALICE", PASSWORD)
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 0 < int(reply.headers["Retry-After"]) <= 60


@pytest.mark.stack(SignInAttemptsPerAddressPerMinute="4")
def test_given_one_address_trying_many_handles_when_over_its_limit_then_429_and_other_addresses_go_on(h, clock):
    h.sign_up("alice", PASSWORD)
    to_next_window()
    # Given four attempts from one address, each on another handle (a password spray), each
    # naming a different X-Forwarded-For: a header the client writes, not its address
    for n in range(4):
        reply = sign_in_from(h, ATTACKER, f"someone{n}", PASSWORD, headers={"X-Forwarded-For": f"10.0.0.{n}"})
        assert reply.status == 401, reply
    # When the address tries a fifth handle
    reply = sign_in_from(h, ATTACKER, "alice", PASSWORD, headers={"X-Forwarded-For": "10.0.0.99"})
    # Then 429 with Retry-After, whatever the handle and the password
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 0 < int(reply.headers["Retry-After"]) <= 60
    # And another address is not affected
    assert sign_in_from(h, OWNER, "alice", PASSWORD).status == 200
    # When the window has passed, Then the first address may try again
    to_next_window()
    assert sign_in_from(h, ATTACKER, "alice", PASSWORD).status == 200


@pytest.mark.stack(SignInAttemptsPerAddressPerMinute="2")
def test_given_ipv6_addresses_of_one_network_then_they_count_as_one_client(h, clock):
    """An IPv6 client holds a whole /64: addresses in it are one client, counted together."""
    h.sign_up("alice", PASSWORD)
    to_next_window()
    for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::2"):
        assert sign_in_from(h, address, "nobody", PASSWORD).status == 401
    assert sign_in_from(h, "2001:db8:1:2::3", "alice", PASSWORD).status == 429
    assert sign_in_from(h, "2001:db8:1:3::1", "alice", PASSWORD).status == 200  # another network


@pytest.mark.stack(SignInRateLimitPerMinute="1000")
def test_given_repeated_failures_from_one_address_then_429_with_a_growing_retry_after_and_no_sleep(
        h, clock, monkeypatch):
    h.sign_up("alice", PASSWORD)

    def no_sleeping(seconds):
        raise AssertionError(f"the function slept {seconds} s: a wait is the client's, through Retry-After")
    monkeypatch.setattr(time, "sleep", no_sleeping)
    # Given the free failures for @alice from one address: each answers 401 at once
    for n in range(FREE_FAILURES):
        assert sign_in_from(h, ATTACKER, "alice", f"guess-number-{n}").status == 401
    # When the guesser goes on, waiting exactly as long as told each time
    waits = []
    for n in range(4):
        refused = sign_in_from(h, ATTACKER, "alice", PASSWORD)  # even the right password waits
        assert (refused.status, refused.error_code) == (429, "rate_limited"), refused
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(ms=waits[-1] * 1000)
        assert sign_in_from(h, ATTACKER, "alice", f"another-guess-{n}").status == 401
    # Then each failure doubled the wait (1, 2, 4, 8 s; a second more at most, for rounding)
    assert all(2 ** n <= wait <= 2 ** n + 1 for n, wait in enumerate(waits)), waits
    # And the owner, from her address, is never refused for it
    assert sign_in_from(h, OWNER, "alice", PASSWORD).status == 200
    # And an unknown handle backs off alike (the answers do not tell which handles exist)
    for n in range(FREE_FAILURES):
        assert sign_in_from(h, ATTACKER, "nobody", f"guess-number-{n}").status == 401
    assert sign_in_from(h, ATTACKER, "nobody", PASSWORD).status == 429


@pytest.mark.stack(SignInRateLimitPerMinute="1000")
def test_given_failures_then_a_success_from_that_address_forgets_them(h, clock):
    h.sign_up("alice", PASSWORD)
    # Given Alice mistyping her password up to the last free failure
    for n in range(FREE_FAILURES - 1):
        assert sign_in_from(h, OWNER, "alice", f"typo-number-{n}").status == 401
    # When she gets it right
    assert sign_in_from(h, OWNER, "alice", PASSWORD).status == 200
    # Then her failures start from nothing again: a typo is a 401, not a wait
    for n in range(FREE_FAILURES - 1):
        assert sign_in_from(h, OWNER, "alice", f"typo-again-{n}").status == 401
    assert sign_in_from(h, OWNER, "alice", PASSWORD).status == 200


@pytest.mark.stack(SignInRateLimitPerMinute="1000")
def test_given_a_back_off_at_its_longest_then_it_is_capped_and_forgotten_an_hour_later(h, clock):
    h.sign_up("alice", PASSWORD)
    # Given a guesser who failed many times, each time after the wait it was told
    for n in range(FREE_FAILURES + 14):
        reply = sign_in_from(h, ATTACKER, "alice", f"guess-number-{n}")
        if reply.status == 429:
            clock.advance(ms=int(reply.headers["Retry-After"]) * 1000)
            reply = sign_in_from(h, ATTACKER, "alice", f"guess-number-{n}")
        assert reply.status == 401, reply
    # Then the wait stops growing at 15 minutes
    reply = sign_in_from(h, ATTACKER, "alice", PASSWORD)
    assert reply.status == 429 and 899 <= int(reply.headers["Retry-After"]) <= 901, reply
    # And an hour after the wait ends, the failures are forgotten
    clock.advance(ms=(901 + 3600) * 1000)
    for n in range(FREE_FAILURES):
        assert sign_in_from(h, ATTACKER, "alice", f"fresh-guess-{n}").status == 401


def test_given_an_event_without_a_source_ip_then_sign_in_still_answers(h):
    """A direct invocation (no API Gateway) has no client address: one shared bucket, no 500."""
    h.sign_up("alice", PASSWORD)
    reply = request_from(h, "", "POST", "/v1/auth/token", body={"handle": "alice", "password": PASSWORD})
    assert reply.status == 200, reply
