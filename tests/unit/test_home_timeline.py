"""The write path (post -> stream -> dispatch -> queue -> worker) and the home timeline read."""

from __future__ import annotations

import json

import boto3
import pytest


def timeline_entries(h, tweet_id: str | None = None) -> list[dict]:
    items = boto3.client("dynamodb").scan(TableName=h.settings.timelines_table)["Items"]
    return [i for i in items if tweet_id is None or i["tweet_id"]["N"] == tweet_id]


def test_given_alice_follows_bob_when_bob_posts_then_alice_sees_it_first_and_bob_user_timeline_has_it(h):
    # Given
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    older = h.post(alice, "alice was here first")
    h.drain()
    # When
    newest = h.post(bob, "hello from bob")
    h.drain()
    # Then
    assert h.home_ids(alice) == [newest, older]
    page = h.request("GET", "/v1/users/bob/tweets", as_user=alice).body
    assert [i["id"] for i in page["items"]] == [newest]
    assert page["items"][0]["author"]["handle"] == "bob"
    # and the post went through the real event path: a stream INSERT, then a queue message
    assert any(r["eventName"] == "INSERT" for b in h.dispatch_batches for r in b["Records"])
    assert h.worker_batches


def test_given_a_post_when_the_author_reads_home_then_their_own_post_is_there(h):
    bob = h.sign_up("bob")
    tweet = h.post(bob, "talking to myself")
    h.drain()
    assert h.home_ids(bob) == [tweet]


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_carol_is_a_celebrity_when_she_posts_then_no_entries_are_written_but_followers_see_it_merged(h):
    # Given carol crosses the threshold (3 followers) and alice also follows dave, a normal author
    alice, x, y = h.sign_up("alice"), h.sign_up("xavier"), h.sign_up("yuki")
    carol, dave = h.sign_up("carol"), h.sign_up("dave")
    replies = [h.follow(follower, "carol").body["user"] for follower in (alice, x, y)]
    assert [(u["followers_count"], u["celebrity"]) for u in replies] == [(1, False), (2, False), (3, True)]
    h.follow(alice, "dave")
    h.drain()  # the promotion writes celebrity edges for followers who came before the flip
    assert h.request("GET", "/v1/users/carol", as_user=alice).body["celebrity"] is True

    # When posts interleave
    d1 = h.post(dave, "dave one")
    c1 = h.post(carol, "carol one")
    d2 = h.post(dave, "dave two")
    h.drain()

    # Then carol's post was fanned out to nobody
    assert timeline_entries(h, c1) == []
    # and each follower still sees it, in id order with the materialized posts
    assert h.home_ids(alice) == [d2, c1, d1]
    assert h.home_ids(x) == [c1]
    assert h.home_ids(y) == [c1]
    # and carol sees her own post too
    assert h.home_ids(carol) == [c1]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_a_post_fanned_out_before_promotion_when_read_after_then_it_shows_once(h):
    alice, zoe, carol = h.sign_up("alice"), h.sign_up("zoe"), h.sign_up("carol")
    h.follow(alice, "carol")
    early = h.post(carol, "before fame")
    h.drain()
    h.follow(zoe, "carol")  # crosses the threshold: carol's posts are now merged at read
    late = h.post(carol, "after fame")
    h.drain()
    # the early post is both materialized and in carol's posts: shown once
    assert h.home_ids(alice) == [late, early]
    assert h.home_ids(zoe) == [late, early]


def walk(h, user: int, path: str, limit: int) -> list[str]:
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        reply = h.request("GET", path, as_user=user, query=query)
        assert reply.status == 200, reply
        assert len(reply.body["items"]) <= limit
        seen += [i["id"] for i in reply.body["items"]]
        cursor = reply.body["next_cursor"]
        pages += 1
        if not cursor:
            return seen
        assert pages < 1000


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_250_posts_from_a_normal_author_and_a_celebrity_when_paging_by_20_then_each_shows_once_newest_first(h):
    # Given alice follows bob (fanned out) and carol (a celebrity, merged at read)
    alice, other, bob, carol = h.sign_up("alice"), h.sign_up("other"), h.sign_up("bob"), h.sign_up("carol")
    h.follow(alice, "bob")
    h.follow(alice, "carol")
    h.follow(other, "carol")
    posted = []
    for n in range(250):
        posted.append(h.post(bob if n % 3 else carol, f"post {n}"))
    h.drain()
    # When every page is walked
    seen = walk(h, alice, "/v1/timeline", 20)
    # Then each post appears exactly once, newest first
    assert seen == list(reversed(posted))
    assert len(seen) == 250


def test_given_250_posts_when_paging_the_user_timeline_by_20_then_each_shows_once(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    posted = [h.post(bob, f"post {n}") for n in range(250)]
    assert walk(h, alice, "/v1/users/bob/tweets", 20) == list(reversed(posted))


@pytest.mark.stack(TimelineMax="10")
def test_given_timeline_max_10_when_60_posts_fan_out_then_the_timeline_keeps_about_the_newest_10(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    posted = [h.post(bob, f"post {n}") for n in range(60)]
    h.drain()
    owned = [e for e in timeline_entries(h) if e["owner_id"]["N"] == str(alice)]
    # trimming runs on about one write in TimelineMax // 8 (here every write): exactly 10 remain
    assert sorted(int(e["tweet_id"]["N"]) for e in owned) == sorted(int(t) for t in posted[-10:])
    assert h.home_ids(alice)[:10] == list(reversed(posted[-10:]))


@pytest.mark.stack(CelebrityThreshold="5")
def test_given_a_promotion_with_more_followers_than_a_page_then_every_follower_gets_the_celebrity_edge(
        h, monkeypatch):
    # Given the worker writes celebrity edges two followers per message
    monkeypatch.setattr(type(h.worker.services.applier), "CELEBRITY_EDGE_PAGE", 2)
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(5)]
    # When the fifth follow crosses the threshold
    for fan in fans:
        h.follow(fan, "star")
    h.drain()
    # Then the promotion walked every page (5 fans + star's own edge = 3 messages)
    pages = [json.loads(r["body"]) for batch in h.worker_batches for r in batch["Records"]]
    assert [p["op"] for p in pages] == ["celebrity_edges"] * 3
    post = h.post(star, "now merged at read time")
    h.drain()
    assert timeline_entries(h, post) == []
    for reader in [star, *fans]:
        assert h.home_ids(reader) == [post]
