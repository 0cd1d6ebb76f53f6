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
    assert [u["followers_count"] for u in replies] == [1, 2, 3]
    h.follow(alice, "dave")
    h.drain()  # the users stream flips the flag; the walk writes celebrity edges for her followers
    assert h.request("GET", "/v1/users/carol", as_user=alice).body["celebrity"] is True

    # When posts interleave
    d1 = h.post(dave, "dave one")
    c1 = h.post(carol, "carol one")
    d2 = h.post(dave, "dave two")
    h.drain()

    # Then carol's post was fanned out to nobody (her own timeline got it with the post)
    assert [e["owner_id"]["N"] for e in timeline_entries(h, c1)] == [str(carol)]
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
    # Given the worker moves two followers per message
    from timeline.service import timeline_sync
    monkeypatch.setattr(timeline_sync, "CELEBRITY_PAGE_SIZE", 2)
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(5)]
    # When the fifth follow crosses the threshold
    for fan in fans:
        h.follow(fan, "star")
    h.drain()
    # Then the promotion walked every page (5 fans = 3 messages)
    pages = [json.loads(r["body"]) for batch in h.worker_batches for r in batch["Records"]]
    assert [p["op"] for p in pages if p["op"] == "celebrity_page"] == ["celebrity_page"] * 3
    post = h.post(star, "now merged at read time")
    h.drain()
    assert [e["owner_id"]["N"] for e in timeline_entries(h, post)] == [str(star)]
    for reader in [star, *fans]:
        assert h.home_ids(reader) == [post]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_celebrities_with_many_posts_when_reading_a_page_then_only_a_page_worth_of_posts_is_hydrated(h, monkeypatch):
    """Found by the benchmark: the merge hydrated every candidate down to the floor (up to 25
    per source), though a page uses at most limit + OVERFETCH of them; with many followed
    celebrities a read fetched hundreds of posts to show twenty."""
    # Given alice follows three celebrities and one ordinary account, all prolific
    alice, fan = h.sign_up("alice"), h.sign_up("fan")
    names = ["cel1", "cel2", "cel3", "dave"]
    authors = {name: h.sign_up(name) for name in names}
    for name in names[:3]:
        h.follow(alice, name)
        h.follow(fan, name)
    h.follow(alice, "dave")
    h.drain()
    posted = []
    for round_ in range(30):
        for name in names:
            posted.append(h.post(authors[name], f"{name} {round_}"))
    h.drain()
    fetched: list[int] = []
    tweets = h.services.reader._tweets
    original = tweets.get_many
    monkeypatch.setattr(tweets, "get_many", lambda ids: fetched.append(len(list(ids))) or original(ids))
    # When alice reads a page of 20
    page = h.home(alice, limit=20).body
    # Then she gets the 20 newest, and no more than 25 posts were fetched for them
    assert [i["id"] for i in page["items"]] == list(reversed(posted))[:20]
    assert sum(fetched) <= 25, fetched
    # and the next page continues exactly where this one stopped
    second = h.home(alice, limit=20, cursor=page["next_cursor"]).body
    assert [i["id"] for i in second["items"]] == list(reversed(posted))[20:40]


@pytest.mark.stack(CelebrityThreshold="2")
def test_when_reading_home_then_the_reader_graph_edges_and_the_timeline_page_are_fetched_together(h, monkeypatch):
    """Two round trips before hydration, not three: neither lookup (the celebrities to merge
    and the accounts to hide, and the timeline's first page) waits for the other (each one
    here waits until the other has started, so done one after the other they would fail)."""
    import threading

    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.post(bob, "hello")
    h.drain()
    together = threading.Barrier(2, timeout=5)
    reader = h.services.reader
    for store, name in ((reader._graph, "home_edges"), (reader._timelines, "page")):
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _original=original, **k: (together.wait() and False) or _original(*a, **k))
    assert h.home(alice).status == 200
    assert not together.broken
