"""The engagement rules that need no AWS: where an engagement edge lives and how the graph
stream's record of it is read, the counts cache, and the floor of the reader's own action."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "timeline" / "python"))

from timeline import ids
from timeline.records import Counts, ViewerState
from timeline.service.engagement import CountsCache, shown
from timeline.store.engagement import (
    ENGAGEMENT_SHARDS,
    LIKE,
    LIKED_BY,
    RANGE_GAP_MS,
    REPLIED_BY,
    REPOSTED_BY,
    counted_of,
    counts_partition,
    engagement_partition,
    id_ranges,
    like_of,
    replica_partition,
)
from timeline.store.graph import FOLLOWER_SHARDS, SHARD_STRIDE, account_of, storm_partition
from timeline.store.tables import padded

POST = 917988869558992896


def keys(partition: int, edge: str) -> dict:
    return {"user_id": {"N": str(partition)}, "edge": {"S": edge}}


def test_given_many_likers_then_a_posts_likes_spread_over_every_engagement_partition_and_none_is_a_follower_shard():
    partitions = {engagement_partition(POST, liker) for liker in range(20_000)}
    assert len(partitions) == ENGAGEMENT_SHARDS
    follower_shards = {storm_partition(POST, f) for f in range(5_000)}
    assert not partitions & follower_shards and len(follower_shards) == FOLLOWER_SHARDS
    assert all(account_of(p) == POST for p in partitions)  # the post's own key space
    assert counts_partition(POST) not in partitions and replica_partition(POST, 0) not in partitions


def test_given_stream_records_of_engagement_edges_then_each_is_read_as_its_post_kind_partition_and_sign():
    p = engagement_partition(POST, 42)
    shard = str(-p % SHARD_STRIDE - 512)
    assert counted_of(keys(p, LIKED_BY + padded(42)), "INSERT") == (POST, "likes", shard, 1)
    assert counted_of(keys(p, REPOSTED_BY + padded(42)), "REMOVE") == (POST, "reposts", shard, -1)
    assert counted_of(keys(p, REPLIED_BY + padded(7)), "INSERT") == (POST, "replies", shard, 1)


def test_given_other_graph_records_then_none_counts():
    assert counted_of(keys(POST, LIKED_BY + padded(1)), "INSERT") is None  # an account's own partition
    assert counted_of(keys(storm_partition(POST, 9), "follower#" + padded(9)), "INSERT") is None
    assert counted_of(keys(counts_partition(POST), "counts"), "INSERT") is None
    assert counted_of(keys(engagement_partition(POST, 3), LIKED_BY + padded(3)), "MODIFY") is None


def test_given_counts_read_when_asked_within_the_ttl_then_cached_and_after_it_not():
    now = [100.0]
    cache = CountsCache(ttl_s=2.0, now=lambda: now[0])
    cache.put_many({1: Counts(likes=5)})
    assert cache.get_many([1, 2]) == {1: Counts(likes=5)}
    now[0] += 2.5
    assert cache.get_many([1]) == {}
    assert cache.stale([1]) == {1: Counts(likes=5)}  # still there to fall back on


def test_given_a_zero_ttl_then_nothing_is_served_from_the_cache():
    cache = CountsCache(ttl_s=0.0, now=lambda: 0.0)
    cache.put_many({1: Counts(likes=5)})
    assert cache.get_many([1]) == {}


def test_given_the_cache_is_full_then_the_least_recently_read_post_goes_first():
    cache = CountsCache(ttl_s=60.0, size=2, now=lambda: 0.0)
    cache.put_many({1: Counts(), 2: Counts()})
    cache.get_many([1])
    cache.put_many({3: Counts()})
    assert set(cache.get_many([1, 2, 3])) == {1, 3}


def test_given_hot_posts_remembered_then_their_replicas_are_known_until_forgotten():
    cache = CountsCache(now=lambda: 0.0)
    cache.remember_hot({1: 8})
    assert cache.replicas([1, 2]) == {1: 8}
    cache.forget_hot([1])
    assert cache.replicas([1]) == {}


def test_given_the_readers_own_like_and_repost_not_counted_yet_then_the_counts_show_them():
    assert shown(Counts(), ViewerState(reposted=True, liked=True)).counts == Counts(reposts=1, likes=1)
    assert shown(Counts(likes=7), ViewerState(liked=True)).counts == Counts(likes=7)


def test_given_like_edges_in_the_likers_partition_then_their_records_say_who_liked_what():
    assert like_of(keys(42, LIKE + padded(POST)), "INSERT") == (42, POST, True, False)
    assert like_of(keys(42, LIKE + padded(POST)), "INSERT", {"celebrity_post": {"BOOL": True}}) == (42, POST, True, True)
    assert like_of(keys(42, LIKE + padded(POST)), "REMOVE") == (42, POST, False, False)
    assert like_of(keys(42, LIKE + padded(POST)), "MODIFY") is None
    assert like_of(keys(42, "following#" + padded(7)), "INSERT") is None
    assert like_of(keys(engagement_partition(POST, 42), LIKED_BY + padded(42)), "INSERT") is None


def post_at(ms: int) -> int:
    """A post id minted `ms` after the id epoch (generator 0, sequence 0)."""
    return ms << (ids.GENERATOR_BITS + ids.SEQUENCE_BITS)


def test_given_a_page_of_posts_close_in_time_then_one_range_covers_them():
    page = [post_at(1_000_000 + n * 60_000) for n in range(20)]
    assert id_ranges(page) == ([(min(page), max(page))], [])


def test_given_reposts_of_old_posts_then_each_run_gets_its_range_and_past_the_most_they_go_by_key():
    recent = [post_at(10**11 + n) for n in range(10)]
    old = [post_at(10**11 - k * 10 * RANGE_GAP_MS) for k in range(1, 6)]  # five lone old posts
    ranges, rest = id_ranges(recent + old, most=4)
    assert ranges[0] == (min(recent), max(recent))
    assert len(ranges) == 4 and len(rest) == 2
    covered = {p for p in recent + old if any(lo <= p <= hi for lo, hi in ranges)}
    assert covered | set(rest) == set(recent + old)


class _CountingStore:
    """EngagementStore's page-state reads, recorded: which counts each read asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[int], dict[int, int]]] = []

    def start_page_state(self, viewer_id, post_ids, *, counts_of, replica_of=None):
        from timeline.store.engagement import PageState

        self.asked.append((list(counts_of), dict(replica_of or {})))
        return lambda: PageState({}, frozenset(), frozenset(), {})  # no counts anywhere yet


def test_given_a_celebritys_post_with_no_counts_yet_when_read_twice_then_its_replica_is_asked_once():
    """Every reader of a celebrity reads its fresh post: a replica not written yet (no likes)
    is zero counts, cached like any counts, not a key asked by every read."""
    from timeline.service.engagement import Engagement

    store = _CountingStore()
    engagement = Engagement(None, None, store, 60, CountsCache(ttl_s=60.0, now=lambda: 0.0))  # type: ignore[arg-type]
    first = engagement.start(1, [POST], celebrity_posts=[POST])()
    second = engagement.start(2, [POST], celebrity_posts=[POST])()
    assert first[POST].counts == second[POST].counts == Counts()
    assert [asked for asked, _ in store.asked] == [[POST], []]
    assert set(store.asked[0][1]) == {POST}  # asked from a replica, not the counts item
