"""A follow storm (issue 23, hot keys): many follows of one celebrity at once must not read its
handle claim and profile on every follow. A container reuses the celebrity's profile as the
follow target for a few seconds (service/social.py). A follow of an account read as a celebrity
touches none of its hot items (no counter, no flag check: the graph stream counts it), and a
demotion walks twice, the second time after every follow that read the old flag is in."""

from __future__ import annotations

import boto3
import pytest


def celebrity_edges(h, owner: int) -> list[str]:
    return _edges_of(h, owner, "home#celebrity#")


@pytest.fixture
def lookups(h, monkeypatch):
    """Every handle the api's social service looks up."""
    users = h.services.social._users
    seen: list[str] = []
    get_by_handle = users.get_by_handle
    monkeypatch.setattr(users, "get_by_handle", lambda handle, *a, **k: seen.append(handle) or get_by_handle(handle, *a, **k))
    return seen


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_when_many_follow_it_then_its_handle_is_looked_up_once_and_every_edge_matches(h, lookups):
    star = h.sign_up("star")
    for n in range(3):
        h.follow(h.sign_up(f"early{n}"), "star")
    h.drain()
    assert h.user(star).celebrity
    fans = [h.sign_up(f"fan{n}") for n in range(12)]
    lookups.clear()
    # When twelve accounts follow the celebrity in a burst
    replies = [h.follow(f, "STAR") for f in fans]
    # Then its handle and profile were read once, and every follow is a celebrity follow
    assert all(r.status == 200 for r in replies)
    assert lookups == ["STAR"]
    assert all(celebrity_edges(h, f) for f in fans)
    # and its follower count, counted from the graph stream, is exact once that is read
    h.drain()
    assert h.request("GET", "/v1/users/star", as_user=fans[0]).body["followers_count"] == 15


@pytest.mark.stack(CelebrityThreshold="3", DemotionCooldownMinutes="0")
def test_given_a_reused_celebrity_target_demoted_meanwhile_when_followed_then_the_demotions_second_walk_puts_the_edge_right(h):
    star = h.sign_up("star")
    early = [h.sign_up(f"early{n}") for n in range(3)]
    for f in early:
        h.follow(f, "star")
    h.drain()
    late = h.sign_up("late")
    assert h.follow(late, "star").status == 200  # the container now reuses star's profile (a celebrity)
    for f in early:
        h.unfollow(f, "star")
    h.drain()
    assert not h.user(star).celebrity and h.user(star).followers_count == 1
    assert len(h.delayed) == 1  # the demotion's second walk, held until its delay has passed
    # When another account follows, with the reused profile still saying "celebrity", after the
    # demotion's first walk went by
    newcomer = h.sign_up("newcomer")
    post = h.post(star, "ordinary again")
    h.drain()
    assert h.follow(newcomer, "star").status == 200
    h.drain()
    # Then the follow took the storm path (its transaction checks no flag): a celebrity edge for
    # now, but the post reaches the newcomer's timeline through the follow's backfill, which reads
    # the flag itself, and the count is right
    assert celebrity_edges(h, newcomer) != []
    assert h.home_ids(newcomer) == [post]
    assert h.user(star).followers_count == 2
    # and once the second walk has run, the edge matches the flag again, and nothing is missing
    assert h.release_delayed() == 1
    h.drain()
    assert celebrity_edges(h, newcomer) == [] and celebrity_edges(h, late) == []
    assert h.home_ids(newcomer) == [post]


def _celebrity_with_fans(h, fans: int) -> tuple[int, list[int], list[int]]:
    """A celebrity with three followers from before its promotion (`early`), and `fans` accounts
    that do not follow it yet."""
    star = h.sign_up("star")
    early = [h.sign_up(f"early{n}") for n in range(3)]
    for e in early:
        h.follow(e, "star")
    h.drain()
    assert h.user(star).celebrity and h.user(star).followers_count == 3
    return star, [h.sign_up(f"fan{n}") for n in range(fans)], early


def _graph_records(h) -> list[dict]:
    return h._stream_records(h.stream_of("GraphTableName"))


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_when_followed_then_the_transaction_leaves_its_profile_alone_and_the_stream_counts_each_follow_once(h):
    star, fans, _ = _celebrity_with_fans(h, 3)
    profile_before = h.user(star)
    # When three accounts follow it
    for f in fans:
        assert h.follow(f, "star").status == 200
    # Then its profile item is untouched by the follows themselves (no counter, no flag check:
    # the items 5,000 follows a second could not share)
    assert h.user(star) == profile_before
    # and the graph stream counts them: once, however often the batch is delivered, whole or in part
    records = _graph_records(h)
    tallied = [r for r in records if "tally" in r["dynamodb"].get("NewImage", {})]
    assert len(tallied) == 3
    assert not h.run_dispatch(records).get("batchItemFailures")
    assert h.user(star).followers_count == 6
    assert not h.run_dispatch(records).get("batchItemFailures")  # the batch again
    assert not h.run_dispatch(records[len(records) // 2:]).get("batchItemFailures")  # its tail again
    assert h.user(star).followers_count == 6
    h.drain()
    assert h.user(star).followers_count == 6 and h.user(star).celebrity


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_when_unfollowed_then_the_stream_counts_the_unfollow_once_and_stamps_it(h):
    star, fans, _ = _celebrity_with_fans(h, 2)
    for f in fans:
        h.follow(f, "star")
    h.drain()
    assert h.user(star).followers_count == 5
    from timeline.store.tables import UserModel

    def unfollowed_at() -> int:
        return int(UserModel.get(UserModel.key(star), consistent_read=True).unfollowed_at)
    before = unfollowed_at()
    # When one unfollows
    assert h.unfollow(fans[0], "star").status == 200
    records = _graph_records(h)
    # Then the tombstone carries the count, and the stream takes it once, batch retried or not
    assert [r["dynamodb"]["NewImage"]["tally"] for r in records if "tally" in r["dynamodb"].get("NewImage", {})] == [
        {"N": "-1"}]
    h.run_dispatch(records)
    h.run_dispatch(records)
    assert h.user(star).followers_count == 4
    # and stamps the profile's latest unfollow (fan-out reads the tombstones of accounts unfollowed lately)
    assert unfollowed_at() > before


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_batches_that_overlap_when_dispatched_then_each_follow_is_counted_exactly_once(h):
    star, fans, _ = _celebrity_with_fans(h, 4)
    h.follow(fans[0], "star")
    h.follow(fans[1], "star")
    first = _graph_records(h)
    h.follow(fans[2], "star")
    h.follow(fans[3], "star")
    second = _graph_records(h)
    # When the first batch is delivered, then one that repeats its last records with the new ones
    # (a retry from a failed record, as the event source does)
    h.run_dispatch(first)
    h.run_dispatch(first[-2:] + second)
    # Then every follow counted once
    assert h.user(star).followers_count == 7


def _edges_of(h, partition: int, prefix: str) -> list[str]:
    items = boto3.client("dynamodb").query(
        TableName=h.settings.graph_table, KeyConditionExpression="user_id = :u AND begins_with(edge, :p)",
        ExpressionAttributeValues={":u": {"N": str(partition)}, ":p": {"S": prefix}})["Items"]
    return [i["edge"]["S"] for i in items]


def _shard_edges(h, star: int, prefix: str = "follower#") -> list[str]:
    from timeline.store.graph import follower_partitions
    return [e for p in follower_partitions(star, sharded=True)[1:] for e in _edges_of(h, p, prefix)]


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_when_followed_then_the_follower_edges_spread_over_its_shards_and_every_list_finds_them(h):
    star, fans, early = _celebrity_with_fans(h, 6)
    # When six accounts follow it (the storm path)
    for f in fans:
        h.follow(f, "star")
    h.drain()
    # Then their follower edges are in its shards (picked by each follower's hash), not its own
    # partition, which holds only the three that followed before it was promoted
    from timeline.store.graph import storm_partition
    assert len(_edges_of(h, star, "follower#")) == 3
    assert len(_shard_edges(h, star)) == 6
    assert {storm_partition(star, f) for f in fans} != {storm_partition(star, fans[0])}  # spread
    # and the followers list pages across partitions, each follower once
    seen, cursor = [], None
    while True:
        reply = h.request("GET", "/v1/users/star/followers", as_user=fans[0],
                          query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply
        seen += [u["handle"] for u in reply.body["items"]]
        cursor = reply.body.get("next_cursor")
        if not cursor:
            break
    assert sorted(seen) == sorted([f"early{n}" for n in range(3)] + [f"fan{n}" for n in range(6)])
    # and a reposts choice and an unfollow find the shard edge; the unfollow's tombstone lies beside it
    h.follow(fans[0], "star", reposts=False)
    assert h.request("DELETE", "/v1/users/star/follow", as_user=fans[1]).status == 200
    h.drain()
    assert len(_shard_edges(h, star)) == 5 and len(_shard_edges(h, star, "unfollowed#")) == 1
    assert h.user(star).followers_count == 8
    # and an account that followed before the promotion unfollows from the own partition
    assert h.request("DELETE", "/v1/users/star/follow", as_user=early[0]).status == 200
    h.drain()
    assert len(_edges_of(h, star, "follower#")) == 2 and h.user(star).followers_count == 7


@pytest.mark.stack(CelebrityThreshold="3", DemotionCooldownMinutes="0")
def test_given_a_demoted_celebrity_with_storm_followers_then_its_walk_moves_them_home_and_fan_out_reaches_them(h):
    star, fans, early = _celebrity_with_fans(h, 1)
    h.follow(fans[0], "star")
    # Given a follower from before the promotion who unfollows (a tombstone in the own partition)
    # and follows again (the storm path: the edge in a shard, the old tombstone left behind)
    h.unfollow(early[0], "star")
    h.drain()
    h.follow(early[0], "star")
    h.drain()
    assert len(_shard_edges(h, star)) == 2 and _edges_of(h, star, "unfollowed#") != []
    # When the other two unfollow, and the account is demoted (2 followers) and its walks run
    for e in early[1:]:
        h.unfollow(e, "star")
    h.drain()
    assert not h.user(star).celebrity and h.user(star).followers_count == 2
    assert h.release_delayed() == 1
    h.drain()
    # Then the storm followers' edges are home, none left in shards, and the stale tombstone is gone
    home = {fans[0], early[0]}
    assert sorted(_edges_of(h, star, "follower#")) == sorted(f"follower#{str(f).zfill(20)}" for f in home)
    assert _shard_edges(h, star) == []
    assert [e for e in _edges_of(h, star, "unfollowed#") if e.endswith(str(early[0]).zfill(20))] == []
    # and a new post fans out to both (fan-out reads only the own partition, and its tombstones)
    post = h.post(star, "back to fan-out")
    h.drain()
    assert all(post in h.home_ids(f) for f in home)
