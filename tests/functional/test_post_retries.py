"""A post is made once, however its request is retried (issue 21, defects 2, 3 and 10).

- An Idempotency-Key is claimed inside the post's own transaction, so a retry always finds
  the post its key made, even when the first attempt died after committing (no separate
  idempotency record to lose).
- A transaction whose answer was lost and which is sent again finds its own row: success,
  not a second post under a new id.
- Repeating a repost answers the existing repost, even when the rate window is full.
"""

from __future__ import annotations

import base64

import pytest
from pynamodb.connection.base import Connection

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def post(h, author: int, body: dict, key: str | None = None):
    return h.request("POST", "/v1/tweets", as_user=author, body=body,
                     headers={"Idempotency-Key": key} if key else None)


def posts_of(h, author: int, handle: str) -> list[str]:
    reply = h.request("GET", f"/v1/users/{handle}/tweets", as_user=author, query={"limit": 100})
    assert reply.status == 200, reply
    return [i["id"] for i in reply.body["items"]]


@pytest.fixture
def dies_after_commit(monkeypatch):
    """The api function is killed right after its first post commits, before it answers (or
    saves anything else): the client sees no answer and retries."""
    from timeline.store.tweets import TweetStore
    real, killed = TweetStore.put_new, []

    def put_new(self, *args, **kwargs):
        real(self, *args, **kwargs)
        if not killed:
            killed.append(True)
            raise RuntimeError("the function was killed after the commit")
    monkeypatch.setattr(TweetStore, "put_new", put_new)
    return killed


# ---------------------------------------------------------------------- defect 2
def test_given_a_post_committed_when_the_function_dies_before_answering_then_the_retry_returns_that_post(
        h, dies_after_commit):
    bob = h.sign_up("bob")
    first = post(h, bob, {"text": "once"}, key="retry-1")
    assert first.status == 500 and dies_after_commit  # no answer reached the client
    # When the client retries with the same key and body
    again = post(h, bob, {"text": "once"}, key="retry-1")
    # Then it gets the post the first attempt made, and there is one post
    assert again.status == 201, again
    assert posts_of(h, bob, "bob") == [again.body["id"]]
    h.drain()
    assert h.home_ids(bob) == [again.body["id"]]
    # and the key still refuses another body
    other = post(h, bob, {"text": "another"}, key="retry-1")
    assert (other.status, other.error_code) == (422, "idempotency_key_reused")


def test_given_a_post_with_an_image_committed_when_the_function_dies_then_the_retry_returns_it_not_409(
        h, dies_after_commit):
    bob = h.sign_up("bob")
    media_id = h.upload(bob, PNG, "image/png")
    body = {"text": "look", "media_ids": [media_id]}
    assert post(h, bob, body, key="with-media").status == 500
    again = post(h, bob, body, key="with-media")
    assert again.status == 201, again
    assert [m["media_id"] for m in again.body["media"]] == [media_id]
    assert posts_of(h, bob, "bob") == [again.body["id"]]


def test_given_two_requests_with_the_same_key_then_both_answer_the_one_post(h):
    bob = h.sign_up("bob")
    first = post(h, bob, {"text": "once"}, key="same")
    again = post(h, bob, {"text": "once"}, key="same")
    assert (first.status, again.status) == (201, 201)
    assert first.body == again.body
    assert posts_of(h, bob, "bob") == [first.body["id"]]


def test_given_a_keyed_post_deleted_when_the_key_is_used_again_within_a_day_then_409_not_a_second_post(h):
    bob = h.sign_up("bob")
    first = post(h, bob, {"text": "once"}, key="gone")
    h.delete(bob, first.body["id"])
    again = post(h, bob, {"text": "once"}, key="gone")
    assert (again.status, again.error_code) == (409, "idempotency_key_used"), again
    assert again.body["error"]["details"]["id"] == first.body["id"]
    assert posts_of(h, bob, "bob") == []


def test_given_a_key_when_a_day_has_passed_then_it_makes_a_new_post(h):
    from timeline import clock
    bob = h.sign_up("bob")
    first = post(h, bob, {"text": "daily"}, key="daily")
    clock.advance(ms=24 * 3600 * 1000 + 1000)
    again = post(h, bob, {"text": "daily"}, key="daily")
    assert again.status == 201 and again.body["id"] != first.body["id"]


# ---------------------------------------------------------------------- defect 3 (the post's side)
def test_given_a_post_whose_commit_answer_was_lost_when_the_transaction_is_sent_again_then_one_post(h, monkeypatch):
    """The commit succeeded, its answer was lost, and the same transaction went again (as a
    retry does where nothing honours its token): it fails its own "does not exist" condition,
    which must read as success, not as an id taken by someone else."""
    bob = h.sign_up("bob")
    real, replayed = Connection.transact_write_items, []

    def answer_lost(self, *args, **kwargs):
        if replayed:
            return real(self, *args, **kwargs)
        replayed.append(True)
        real(self, *args, **kwargs)  # committed; its answer never arrives
        kwargs.pop("client_request_token", None)
        return real(self, *args, **kwargs)  # sent again, as a new request
    monkeypatch.setattr(Connection, "transact_write_items", answer_lost)
    reply = post(h, bob, {"text": "just once"})
    assert reply.status == 201, reply
    assert posts_of(h, bob, "bob") == [reply.body["id"]]


def test_given_a_repost_whose_commit_answer_was_lost_when_sent_again_then_201_and_one_repost(h, monkeypatch):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    original = h.post(alice, "share me")
    real, replayed = Connection.transact_write_items, []

    def answer_lost(self, *args, **kwargs):
        if replayed:
            return real(self, *args, **kwargs)
        replayed.append(True)
        real(self, *args, **kwargs)
        kwargs.pop("client_request_token", None)
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Connection, "transact_write_items", answer_lost)
    reply = h.request("POST", f"/v1/tweets/{original}/repost", as_user=bob)
    assert reply.status == 201, reply
    assert posts_of(h, bob, "bob") == [original]


# ---------------------------------------------------------------------- defect 10
@pytest.mark.stack(PostRateLimitPerMinute="2")
def test_given_a_full_rate_window_when_a_repost_is_repeated_then_200_with_the_existing_repost(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    original = h.post(alice, "share me")
    first = h.request("POST", f"/v1/tweets/{original}/repost", as_user=bob)
    assert first.status == 201
    h.post(bob, "fills the window")  # bob's second action this minute: the window is full
    assert post(h, bob, {"text": "one too many"}).status == 429
    # When bob reposts the same post again
    again = h.request("POST", f"/v1/tweets/{original}/repost", as_user=bob)
    # Then the existing repost, as the route promises
    assert again.status == 200, again
    assert again.body["repost"]["id"] == first.body["repost"]["id"]
    # and a new repost is still limited (alice's window is her own)
    third = h.request("POST", f"/v1/tweets/{h.post(alice, 'another')}/repost", as_user=bob)
    assert (third.status, third.error_code) == (429, "rate_limited")
