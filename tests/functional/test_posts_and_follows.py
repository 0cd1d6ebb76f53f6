"""Posting, deleting, following and unfollowing through the api function."""

from __future__ import annotations

import copy
import json
import time

import boto3
import pytest

from tests.support.harness import sample_event


def entries_for(h, tweet_id: str) -> list[dict]:
    items = boto3.client("dynamodb").scan(TableName=h.settings.timelines_table)["Items"]
    return [i for i in items if i["tweet_id"]["N"] == tweet_id]


# ------------------------------------------------------------------ delete
def test_given_a_fanned_out_post_when_its_author_deletes_it_then_it_leaves_every_home_timeline(h):
    alice, bob, bob2 = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("bobby")
    h.follow(alice, "bob")
    h.follow(bob2, "bob")
    keep = h.post(bob, "keep me")
    doomed = h.post(bob, "delete me")
    h.drain()
    assert len(entries_for(h, doomed)) == 3  # alice, bobby, and bob himself

    reply = h.request("DELETE", f"/v1/tweets/{doomed}", as_user=bob)
    assert reply.status == 204
    # reads hide it at once, before the removal has fanned out
    assert h.home_ids(alice) == [keep]
    h.drain()
    # and the entries are gone from every timeline it reached
    assert entries_for(h, doomed) == []
    for reader in (alice, bob2, bob):
        assert h.home_ids(reader) == [keep]
    assert h.request("GET", f"/v1/tweets/{doomed}", as_user=alice).status == 404
    assert any(r["eventName"] == "REMOVE" for b in h.dispatch_batches for r in b["Records"])


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_a_celebrity_post_when_deleted_then_followers_no_longer_see_it(h):
    alice, zoe, carol = h.sign_up("alice"), h.sign_up("zoe"), h.sign_up("carol")
    h.follow(alice, "carol")
    h.follow(zoe, "carol")
    h.drain()
    keep, doomed = h.post(carol, "keep"), h.post(carol, "doomed")
    h.drain()
    assert h.home_ids(alice) == [doomed, keep]
    assert h.request("DELETE", f"/v1/tweets/{doomed}", as_user=carol).status == 204
    h.drain()
    assert h.home_ids(alice) == [keep]
    assert h.home_ids(zoe) == [keep]
    assert h.home_ids(carol) == [keep]


def test_given_someone_elses_post_when_deleting_it_then_403_and_it_stays(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    tweet = h.post(bob, "mine")
    h.drain()
    reply = h.request("DELETE", f"/v1/tweets/{tweet}", as_user=alice)
    assert reply.status == 403 and reply.body["error"]["code"] == "not_author"
    h.drain()
    assert h.home_ids(alice) == [tweet]
    assert h.request("GET", f"/v1/tweets/{tweet}", as_user=alice).body["text"] == "mine"


# ------------------------------------------------------------------ posting
def test_given_a_post_when_read_back_then_ids_are_strings_and_the_author_is_embedded(h):
    bob = h.sign_up("bob", display_name="Bob B.")
    created = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "  café  "})
    assert created.status == 201
    fetched = h.request("GET", f"/v1/tweets/{created.body['id']}", as_user=bob).body
    assert fetched == created.body
    assert fetched["id"].isdigit() and fetched["author"] == {"id": str(bob), "handle": "bob",
                                                             "display_name": "Bob B."}
    assert fetched["created_at"].endswith("Z")


def test_given_text_with_decomposed_accents_when_posted_then_it_is_stored_nfc(h):
    bob = h.sign_up("bob")
    created = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "cafe\u0301"})
    assert created.body["text"] == "caf\u00e9"


def test_given_a_reply_when_posted_then_it_points_at_its_parent(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    parent = h.post(bob, "question?")
    reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "answer", "reply_to_id": parent})
    assert reply.status == 201 and reply.body["reply_to_id"] == parent


def test_given_the_same_idempotency_key_when_posting_twice_then_one_post_is_created(h):
    bob = h.sign_up("bob")
    headers = {"Idempotency-Key": "req-123"}
    first = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "once"}, headers=headers)
    again = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "once"}, headers=headers)
    assert first.status == again.status == 201
    assert first.body["id"] == again.body["id"]
    h.drain()
    assert h.home_ids(bob) == [first.body["id"]]


def test_given_an_idempotency_key_reused_with_another_body_then_422_and_no_second_post(h):
    bob = h.sign_up("bob")
    headers = {"Idempotency-Key": "req-456"}
    first = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "one"}, headers=headers)
    other = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "two"}, headers=headers)
    assert other.status == 422 and other.body["error"]["code"] == "idempotency_key_reused"
    h.drain()
    assert h.home_ids(bob) == [first.body["id"]]


def test_given_two_authors_using_the_same_idempotency_key_then_each_gets_their_own_post(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    headers = {"Idempotency-Key": "same"}
    a = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "hi"}, headers=headers)
    b = h.request("POST", "/v1/tweets", as_user=bob, body={"text": "hi"}, headers=headers)
    assert a.body["id"] != b.body["id"]
    assert b.body["author"]["handle"] == "bob"


# ------------------------------------------------------------------ follow / unfollow
def test_given_a_follow_repeated_then_one_edge_and_counts_move_once(h):
    alice, _ = h.sign_up("alice"), h.sign_up("bob")
    first = h.follow(alice, "bob").body
    again = h.follow(alice, "bob").body
    assert first["following"] is again["following"] is True
    assert again["user"]["followers_count"] == 1
    assert h.request("GET", "/v1/users/alice", as_user=alice).body["following_count"] == 1


def test_given_an_unfollow_repeated_then_counts_go_back_once(h):
    alice, _ = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    first = h.request("DELETE", "/v1/users/bob/follow", as_user=alice)
    again = h.request("DELETE", "/v1/users/bob/follow", as_user=alice)
    assert first.status == again.status == 200
    assert again.body == {"following": False, "reposts": None, "user": again.body["user"]}
    assert again.body["user"]["followers_count"] == 0
    assert h.request("GET", "/v1/users/alice", as_user=alice).body["following_count"] == 0


def test_given_handles_in_other_case_when_following_then_it_is_the_same_account(h):
    alice, _ = h.sign_up("alice"), h.sign_up("Bob")
    assert h.follow(alice, "BOB").body["user"]["handle"] == "Bob"
    assert h.request("POST", "/v1/users/ALICE/follow", as_user=alice).status == 400  # still yourself


def test_given_followers_when_listed_in_pages_then_each_appears_once(h):
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(7)]
    for fan in fans:
        h.follow(fan, "star")
    seen, cursor = [], None
    while True:
        reply = h.request("GET", "/v1/users/star/followers", as_user=star,
                          query={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200
        seen += [u["handle"] for u in reply.body["items"]]
        cursor = reply.body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"fan{n}" for n in range(7))
    following = h.request("GET", "/v1/users/fan0/following", as_user=star).body
    assert [u["handle"] for u in following["items"]] == ["star"]


# ------------------------------------------------------------------ the worker's partial batches
def test_given_a_worker_batch_with_one_bad_message_then_only_it_is_reported_and_the_rest_written_once(h):
    alice, bob, carl = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carl")
    h.follow(alice, "bob")
    h.follow(carl, "bob")
    posts = [int(h.post(bob, f"p{n}")) for n in range(3)]
    base = sample_event("fanout_worker.json")["Records"][0]
    good = [{"op": "add", "tweet_id": str(post), "author_id": str(bob), "via_id": str(bob),
             "owners": [str(alice), str(carl)], "planned_at": int(time.time() * 1000)} for post in posts]
    bodies = [*good[:1], {"op": "add", "tweet_id": "oops", "author_id": str(bob), "owners": []}, *good[1:]]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(base)
        record.update(messageId=f"msg-{n}", body=json.dumps(body), eventSourceARN=h.queue_arn)
        records.append(record)

    result = h.run_worker(records)

    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    table = boto3.client("dynamodb").scan(TableName=h.settings.timelines_table)["Items"]
    written = sorted((int(i["owner_id"]["N"]), int(i["tweet_id"]["N"])) for i in table
                     if int(i["owner_id"]["N"]) != bob)  # bob's own entries came with his posts
    assert written == sorted((o, post) for post in posts for o in (alice, carl))


# ------------------------------------------------------------------ the sample events in events/
def test_given_the_sample_events_when_replayed_then_each_route_family_answers(h):
    """events/*.json are what `sam local invoke -e` takes; they must stay valid against the code."""
    from tests.support.harness import LambdaContext

    signup = h.api.handler(sample_event("api_signup.json"), LambdaContext("api"))
    assert signup["statusCode"] == 201, signup
    alice = json.loads(signup["body"])["id"]
    bob = h.sign_up("bob")

    def as_alice(name: str) -> dict:
        event = sample_event(name)
        event["requestContext"]["authorizer"]["jwt"]["claims"].update(
            {"username": alice, "cognito:username": alice})
        return event

    follow = h.api.handler(as_alice("api_follow.json"), LambdaContext("api"))
    assert follow["statusCode"] == 200 and json.loads(follow["body"])["following"] is True
    post = h.api.handler(as_alice("api_post_tweet.json"), LambdaContext("api"))
    assert post["statusCode"] == 201
    h.post(bob, "from bob")
    h.drain()
    home = h.api.handler(as_alice("api_home_timeline.json"), LambdaContext("api"))
    assert home["statusCode"] == 200
    assert [i["author"]["handle"] for i in json.loads(home["body"])["items"]] == ["bob", "alice"]
    mute = h.api.handler(as_alice("api_mute.json"), LambdaContext("api"))
    assert mute["statusCode"] == 200 and json.loads(mute["body"])["muting"] is True
    home = h.api.handler(as_alice("api_home_timeline.json"), LambdaContext("api"))
    assert [i["author"]["handle"] for i in json.loads(home["body"])["items"]] == ["alice"]
