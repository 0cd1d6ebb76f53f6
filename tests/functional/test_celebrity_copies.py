"""A celebrity's posts are read from copies spread over shards (issue 23, hot keys): a home read
that merges a celebrity Queries the reader's shard of its copies and reads nothing else for
them: not the ByAuthor index partition, not the post items, not the authors' profiles, which
every reader of the account would otherwise share."""

from __future__ import annotations

import collections
import sys

import boto3
import pytest

from tests.support.harness import LAYER

if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))
from timeline.store.celebrity_copies import FLOOR, shard_of

SHARDS = 4


def copies(h, author: int) -> dict[int, list[int]]:
    """shard -> copy ids, newest first (the floor marker as 0)."""
    table = h.stack.outputs["CelebrityCopiesTableName"]
    out: dict[int, list[int]] = collections.defaultdict(list)
    for item in boto3.client("dynamodb").scan(TableName=table)["Items"]:
        who, shard = item["shard"]["S"].split("#")
        if int(who) == author:
            out[int(shard)].append(int(item["tweet_id"]["N"]))
    return {k: sorted(v, reverse=True) for k, v in out.items()}


def make_celebrity(h, name: str, fans: int = 3) -> tuple[int, list[int]]:
    star = h.sign_up(name)
    readers = [h.sign_up(f"{name}_fan{n}") for n in range(fans)]
    for r in readers:
        h.follow(r, name)
    h.drain()
    assert h.user(star).celebrity
    return star, readers


class Reads:
    """What the api's stores were asked for during a read."""

    def __init__(self, h, monkeypatch):
        self.by_author: list[int] = []
        self.posts: set[int] = set()
        self.profiles: set[int] = set()
        reader = h.services.reader
        tweets, users = reader._tweets, reader._users
        by_author, get_many, get_profiles = tweets.entries_by_author, tweets.get_many, users.get_many

        def entries_by_author(author_id, **kw):
            self.by_author.append(author_id)
            return by_author(author_id, **kw)

        def posts(ids, **kw):
            ids = set(ids)
            self.posts |= ids
            return get_many(ids, **kw)

        def profiles(ids):
            ids = set(ids)
            self.profiles |= ids
            return get_profiles(ids)
        monkeypatch.setattr(tweets, "entries_by_author", entries_by_author)
        monkeypatch.setattr(tweets, "get_many", posts)
        monkeypatch.setattr(users, "get_many", profiles)


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_celebrity_when_a_fan_reads_home_then_her_posts_come_from_the_fans_shard_and_nothing_else_is_read(
        h, monkeypatch):
    # Given carol is a celebrity with two posts, and alice follows her and dave (fanned out)
    carol, (alice, *_) = make_celebrity(h, "carol")
    dave = h.sign_up("dave")
    h.follow(alice, "dave")
    c1, d1, c2 = h.post(carol, "carol one"), h.post(dave, "dave one"), h.post(carol, "carol two")
    h.drain()
    # Then every shard holds both posts
    assert {k: [i for i in v if i != FLOOR] for k, v in copies(h, carol).items()} == {
        k: [int(c2), int(c1)] for k in range(SHARDS)}
    # When alice reads her home timeline
    reads = Reads(h, monkeypatch)
    page = h.home(alice).body
    # Then she sees all three, carol's with her handle and display name
    assert [i["id"] for i in page["items"]] == [c2, d1, c1]
    assert page["items"][0]["author"]["handle"] == "carol"
    # and the read touched neither carol's index partition, nor her posts, nor her profile
    assert carol not in reads.by_author
    assert not {int(c1), int(c2)} & reads.posts
    assert carol not in reads.profiles
    assert {int(d1)} <= reads.posts and dave in reads.profiles and alice in reads.profiles


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_posts_before_the_promotion_when_it_happens_then_every_shard_is_built_with_the_floor_marker(h):
    # Given carol posted twice while ordinary
    carol = h.sign_up("carol")
    early = [h.post(carol, f"early {n}") for n in range(2)]
    # When three follows promote her
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for f in fans:
        h.follow(f, "carol")
    h.drain()
    # Then every shard holds her posts and the marker that says that is all of them
    assert copies(h, carol) == {k: [int(early[1]), int(early[0]), FLOOR] for k in range(SHARDS)}
    # and each fan sees them, from the copies
    for f in fans:
        assert h.home_ids(f) == list(reversed(early))


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_copied_post_when_it_is_deleted_then_it_leaves_every_shard_and_every_page(h):
    carol, (alice, *_) = make_celebrity(h, "carol")
    keep, gone = h.post(carol, "keep"), h.post(carol, "gone")
    h.drain()
    # When carol deletes one
    h.delete(carol, gone)
    h.drain()
    # Then it is in no shard and on no page
    assert all(int(gone) not in ids for ids in copies(h, carol).values())
    assert h.home_ids(alice) == [keep]


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_copy_message_delivered_after_its_posts_delete_then_no_copy_is_left(h):
    # Given carol's post is made, dispatched, and deleted before its copy message is applied
    carol, (alice, *_) = make_celebrity(h, "carol")
    post = h.post(carol, "short-lived")
    h.dispatch_pending()
    copy_messages = h.take_queued()
    h.delete(carol, post)
    h.drain()  # the delete's uncopy runs first
    # When the late copy message is applied
    assert not h.run_worker(copy_messages).get("batchItemFailures")
    h.drain()
    # Then it took itself back: no shard holds the deleted post
    assert all(int(post) not in ids for ids in copies(h, carol).values())
    assert h.home_ids(alice) == []


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_celebrity_reposts_a_post_then_fans_see_it_from_the_copy_and_it_goes_when_the_original_goes(
        h, monkeypatch):
    carol, (alice, *_) = make_celebrity(h, "carol")
    bob = h.sign_up("bob", display_name="Bob B.")
    original = h.post(bob, "worth sharing")
    h.drain()
    repost = h.repost(carol, original)
    h.drain()
    reads = Reads(h, monkeypatch)
    # When alice reads
    items = h.home(alice).body["items"]
    # Then the repost shows bob's post, by bob, reposted by carol, read from the copy alone
    assert [(i["id"], i["author"]["handle"], i["author"]["display_name"], i["repost"]["by"]["handle"])
            for i in items] == [(original, "bob", "Bob B.", "carol")]
    assert not {int(original), int(repost)} & reads.posts and not {bob, carol} & reads.profiles
    # When bob deletes the original, the repost goes too (a repost row is deleted with it)
    h.delete(bob, original)
    h.drain()
    assert all(int(repost) not in ids for ids in copies(h, carol).values())
    assert h.home_ids(alice) == []


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS), DemotionCooldownMinutes="0")
def test_given_a_celebrity_is_demoted_then_her_shards_are_emptied_and_fans_read_entries_again(h):
    carol, fans = make_celebrity(h, "carol")
    post = h.post(carol, "while famous")
    h.drain()
    assert copies(h, carol)
    # When two fans leave (3 -> 1, below 80% of the threshold)
    h.unfollow(fans[0], "carol")
    h.unfollow(fans[1], "carol")
    h.drain()
    # Then she is ordinary again, with no copies; the fan who stayed still sees her post
    assert not h.user(carol).celebrity
    assert copies(h, carol) == {}
    assert h.home_ids(fans[2]) == [post]


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_more_posts_than_a_shard_keeps_when_paging_to_the_end_then_every_post_shows_once(h, monkeypatch):
    # Given shards keep 6 copies (trimmed on every post), and carol posts 30 times
    from timeline.service import celebrity_copies
    monkeypatch.setattr(celebrity_copies, "COPY_KEEP", 6)
    monkeypatch.setattr(celebrity_copies, "TRIM_INTERVAL", 1)
    carol, (alice, *_) = make_celebrity(h, "carol")
    posted = [h.post(carol, f"post {n}") for n in range(30)]
    h.drain()
    # Then each shard holds the newest 6 and no floor marker (older posts exist)
    assert copies(h, carol) == {k: [int(p) for p in reversed(posted[-6:])] for k in range(SHARDS)}
    # When alice pages by 4, then the first pages come from the copies, the rest from the index
    seen, cursor = [], None
    while True:
        body = h.home(alice, limit=4, **({"cursor": cursor} if cursor else {})).body
        seen += [i["id"] for i in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert seen == list(reversed(posted))


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_shard_not_built_yet_when_a_fan_reads_then_the_index_serves_her_posts(h):
    # Given carol's copies are gone (a promotion's build still on its way)
    carol, (alice, *_) = make_celebrity(h, "carol")
    posts = [h.post(carol, f"post {n}") for n in range(3)]
    h.drain()
    ddb, table = boto3.client("dynamodb"), h.stack.outputs["CelebrityCopiesTableName"]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={"shard": item["shard"], "tweet_id": item["tweet_id"]})
    # When alice reads, then nothing is missing
    assert h.home_ids(alice) == list(reversed(posts))


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_celebrity_when_anyone_reads_her_user_timeline_then_it_comes_from_their_shard(h, monkeypatch):
    carol, _ = make_celebrity(h, "carol")
    visitor = h.sign_up("visitor")
    posts = [h.post(carol, f"post {n}") for n in range(3)]
    h.drain()
    reads = Reads(h, monkeypatch)
    page = h.request("GET", "/v1/users/carol/tweets", as_user=visitor).body
    assert [i["id"] for i in page["items"]] == list(reversed(posts))
    assert carol not in reads.by_author and not reads.posts and carol not in reads.profiles


def test_given_many_readers_then_shards_share_them_about_evenly():
    # Given 4,000 readers with snowflake-like ids, when each picks one of 16 shards
    counts = collections.Counter(shard_of(7_000_000_000_000_000_000 + 4_096 * n + n % 7, 16) for n in range(4_000))
    # Then every shard gets its share within 25% (250 expected)
    assert len(counts) == 16 and max(counts.values()) < 1.25 * 250 and min(counts.values()) > 0.75 * 250


@pytest.mark.stack(CelebrityThreshold="2", CopyThreshold="4", CelebrityCopyShards=str(SHARDS))
def test_given_a_celebrity_below_the_copy_threshold_then_it_is_merged_from_the_index_until_it_crosses_it(
        h, monkeypatch):
    # Given star is a celebrity with 3 followers, below CopyThreshold (4)
    star, fans = make_celebrity(h, "star", fans=3)
    first = h.post(star, "merged from the index")
    h.drain()
    # Then nothing was copied, and her fans read her posts from the index
    assert copies(h, star) == {} and not h.user(star).copied
    reads = Reads(h, monkeypatch)
    assert h.home_ids(fans[0]) == [first]
    assert star in reads.by_author
    # When a fourth follower comes, then she is copied: every shard built, and listed
    h.follow(h.sign_up("fourth"), "star")
    h.drain()
    assert h.user(star).copied
    assert copies(h, star) == {k: [int(first), FLOOR] for k in range(SHARDS)}
    reads = Reads(h, monkeypatch)
    assert h.home_ids(fans[0]) == [first]
    assert star not in reads.by_author and int(first) not in reads.posts


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards=str(SHARDS))
def test_given_a_copied_celebrity_posts_when_she_reads_her_own_page_at_once_then_the_post_is_there(h):
    """Read your writes: the worker copies a post a moment later; the author's own page reads
    the index, so it shows her post before then (others read the copies, up to that moment late)."""
    carol, _ = make_celebrity(h, "carol")
    post = h.post(carol, "just now")  # not copied yet: nothing has been dispatched
    page = h.request("GET", "/v1/users/carol/tweets", as_user=carol).body
    assert [i["id"] for i in page["items"]] == [post]
