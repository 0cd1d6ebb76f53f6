"""Transactions under contention: DynamoDB cancels a transaction that races another one on
the same items (TransactionConflict). moto never does, so the cancellation is injected where
DynamoDB would answer it: in front of the TransactWriteItems call, on the real botocore client
the stores use, shaped as DynamoDB shapes it (400 TransactionCanceledException with a reason
per item)."""

from __future__ import annotations

import boto3
import pytest

from tests.support.aws_answers import Injected, error


class Cancellations(Injected):
    """Cancels the next `count` TransactWriteItems calls with `reason`, then lets calls through."""

    def __init__(self, h, count: int, reason: str = "TransactionConflict"):
        super().__init__(h.services.accounts._users._connection.client, "dynamodb.TransactWriteItems")
        self.count, self.reason = count, reason
        self.cancelled = self.calls = 0

    def __call__(self, params, **_kwargs):
        self.calls += 1
        if self.cancelled >= self.count:
            return None
        self.cancelled += 1
        return error(400, "TransactionCanceledException",
                     f"Transaction cancelled, please refer cancellation reasons for specific reasons "
                     f"[{self.reason}, None]",
                     CancellationReasons=[{"Code": self.reason, "Message": "Transaction is ongoing for the item"},
                                          {"Code": "None"}])


def users(h) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=h.settings.users_table)["Items"]


def counts(h, user_id: int) -> tuple[int, int]:
    user = h.user(user_id)
    return user.followers_count, user.following_count


@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError"])
def test_given_a_sign_up_racing_other_transactions_when_it_is_cancelled_twice_then_it_commits_once(h, reason):
    with Cancellations(h, 2, reason) as injected:
        reply = h.request("POST", "/v1/auth/signup", body={"handle": "carol", "password": "correct-horse-9",
                                                            "display_name": "Carol"})
    assert reply.status == 201, reply
    assert (injected.cancelled, injected.calls) == (2, 3)  # two cancelled commits, then the one that held
    assert len(users(h)) == 2  # the profile and the handle claim, once


def test_given_follow_and_unfollow_cancelled_for_conflicts_when_retried_then_edges_and_counters_agree(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    with Cancellations(h, 3):
        assert h.follow(alice, "bob").status == 200
    assert counts(h, bob) == (1, 0) and counts(h, alice) == (0, 1)
    with Cancellations(h, 4):
        h.unfollow(alice, "bob")
    assert counts(h, bob) == (0, 0) and counts(h, alice) == (0, 0)


def test_given_a_post_cancelled_for_a_conflict_when_retried_then_it_is_posted_once(h):
    alice = h.sign_up("alice")
    with Cancellations(h, 1):
        post_id = h.post(alice, "after a conflict")
    assert h.home_ids(alice) == [post_id]


def test_given_contention_that_outlasts_every_retry_when_following_then_409_and_nothing_changed(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    before = users(h)
    with Cancellations(h, 100) as injected:
        reply = h.request("POST", "/v1/users/bob/follow", as_user=alice)
    assert (reply.status, reply.error_code) == (409, "contention"), reply
    assert "try again" in reply.body["error"]["message"]
    assert injected.cancelled == 5  # the tries, then the answer
    assert users(h) == before and counts(h, bob) == (0, 0)


def test_given_a_failed_condition_when_a_transaction_is_cancelled_then_it_is_not_retried(h):
    alice = h.sign_up("alice")
    with Cancellations(h, 0) as injected:
        reply = h.request("POST", "/v1/auth/signup", body={"handle": "alice", "password": "correct-horse-9",
                                                            "display_name": "Alice again"})
    assert (reply.status, injected.calls) == (409, 1)  # the handle is taken: one try, a real answer
    assert h.user(alice).display_name == "alice"


def test_given_throttling_that_outlasts_every_retry_when_posting_then_503_with_retry_after_and_nothing_changed(h):
    # Given a partition past its limit for every try (the hot-celebrity bench's over-limit run)
    alice = h.sign_up("alice")
    before = users(h)
    with Cancellations(h, 100, "ThrottlingError") as injected:
        reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "into a hot partition"},
                          headers={"Idempotency-Key": "k-1"})
    # Then the answer says "busy, come back", not "conflict", and nothing was posted
    assert (reply.status, reply.error_code) == (503, "unavailable"), reply
    assert reply.headers.get("Retry-After") == "1"
    assert injected.cancelled == 5
    assert users(h) == before and h.home_ids(alice) == []
