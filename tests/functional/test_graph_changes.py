"""Home timelines that stay right while the graph changes: your own post at once, follow
backfill, unfollow cleanup, order-independent messages, celebrity promotion and demotion,
inactive readers, and the cap. Through the real handlers on the in-process stack."""

from __future__ import annotations

import json
import random
from itertools import pairwise

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.support.harness import LambdaContext


def edges(h, owner: int, prefix: str) -> list[int]:
    items = boto3.client("dynamodb").query(
        TableName=h.settings.graph_table, KeyConditionExpression="user_id = :u AND begins_with(edge, :p)",
        ExpressionAttributeValues={":u": {"N": str(owner)}, ":p": {"S": prefix}})["Items"]
    return [int(i["other_id"]["N"]) for i in items]


# ---------------------------------------------------------------------- your own post at once
def test_given_a_post_when_its_author_reads_home_before_any_fan_out_then_the_post_is_there(h):
    alice = h.sign_up("alice")
    # When alice posts and reads at once: no stream record has been dispatched yet
    post = h.post(alice, "hello, me")
    # Then her home shows it
    assert h.home_ids(alice) == [post]


@pytest.mark.stack(CelebrityThreshold="1")
def test_given_a_celebrity_author_when_they_read_home_at_once_then_their_post_is_there_and_shows_once(h):
    star, fan = h.sign_up("star"), h.sign_up("fan")
    h.follow(fan, "star")
    h.drain()
    assert h.user(star).celebrity
    post = h.post(star, "from a celebrity")
    assert h.home_ids(star) == [post]
    h.drain()
    assert h.home_ids(star) == [post]
    assert h.home_ids(fan) == [post]


def test_given_a_post_when_fanned_out_then_the_author_is_not_written_twice(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    h.post(bob, "one")
    h.drain()
    adds = [json.loads(r["body"]) for b in h.worker_batches for r in b["Records"]]
    adds = [m for m in adds if m["op"] == "add"]
    assert [m["owners"] for m in adds] == [[str(alice)]]


# ---------------------------------------------------------------------- follow backfill
@pytest.mark.stack(TimelineMax="40")
def test_given_bob_has_posts_when_alice_follows_then_his_newest_quarter_of_timeline_max_is_backfilled_in_order(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    posts = [h.post(bob, f"p{n}") for n in range(12)]
    mine = h.post(alice, "mine")
    h.drain()
    # When alice follows bob (TimelineMax 40: up to 10 of his posts come along)
    h.follow(alice, "bob")
    h.drain()
    # Then his newest 10 are in her timeline, merged by time with her own, once each
    assert h.home_ids(alice) == [mine, *list(reversed(posts[-10:]))]
    # And a redelivered backfill changes nothing
    h.follow(alice, "bob")
    h.drain()
    assert sorted(h.entries(alice)) == sorted([mine, *posts[-10:]])


@pytest.mark.stack(TimelineMax="10")
def test_given_a_full_timeline_when_following_then_only_posts_newer_than_its_oldest_entry_come_in(h):
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    old_bob = [h.post(bob, f"old bob {n}") for n in range(2)]
    h.follow(alice, "carol")
    h.drain()
    carols = [h.post(carol, f"carol {n}") for n in range(10)]
    new_bob = h.post(bob, "new bob")
    h.drain()
    assert len(h.entries(alice)) == 10  # full, with carol's ten
    # When alice follows bob, whose posts are two older than all of carol's and one newer
    h.follow(alice, "bob")
    h.drain()
    # Then only the newer one comes in (the old ones would be trimmed at once), and the cap holds
    entries = h.entries(alice)
    assert new_bob in entries and not set(old_bob) & set(entries)
    assert h.home_ids(alice) == [new_bob, *list(reversed(carols[1:]))]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_a_celebrity_when_followed_then_nothing_is_backfilled_and_their_posts_are_merged(h):
    star, fan1, fan2, alice = (h.sign_up(n) for n in ("star", "fan1", "fan2", "alice"))
    h.follow(fan1, "star")
    h.follow(fan2, "star")
    h.drain()
    posts = [h.post(star, f"s{n}") for n in range(3)]
    h.drain()
    h.follow(alice, "star")
    h.drain()
    assert h.entries(alice) == []
    assert h.home_ids(alice) == list(reversed(posts))


# ---------------------------------------------------------------------- unfollow cleanup
@pytest.mark.stack(CelebrityThreshold="3")
def test_given_alice_follows_bob_carol_and_a_celebrity_when_she_unfollows_them_then_only_their_posts_go(h):
    alice, bob, carol, star, f1, f2 = (h.sign_up(n) for n in ("alice", "bob", "carol", "star", "f1", "f2"))
    for follower in (alice, f1, f2):
        h.follow(follower, "star")
    h.follow(alice, "bob")
    h.follow(alice, "carol")
    h.drain()
    bobs = [h.post(bob, f"b{n}") for n in range(3)]
    carols = [h.post(carol, f"c{n}") for n in range(2)]
    stars = [h.post(star, "s")]
    mine = h.post(alice, "mine")
    h.drain()
    assert set(h.home_ids(alice)) == set(bobs + carols + stars + [mine])
    # When she unfollows bob and the celebrity
    h.unfollow(alice, "bob")
    h.unfollow(alice, "star")
    h.drain()
    # Then their posts are gone from her home and his entries from her table; the rest stay
    assert h.home_ids(alice) == [mine, *list(reversed(carols))]
    assert sorted(h.entries(alice)) == sorted([*carols, mine])


# ---------------------------------------------------------------------- order does not matter
@pytest.mark.parametrize("seed", range(6))
def test_given_follow_unfollow_follow_when_messages_arrive_in_any_order_and_twice_then_the_last_action_wins(h, seed):
    rng = random.Random(seed)
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    posts = [h.post(bob, f"b{n}") for n in range(3)]
    h.drain()
    # When alice follows, unfollows and follows again before any of it is applied
    h.follow(alice, "bob")
    h.unfollow(alice, "bob")
    h.follow(alice, "bob")
    h.dispatch_pending()
    messages = h.take_queued()
    assert [json.loads(m["body"])["op"] for m in messages] == ["sync_follow"] * 3
    # And the worker gets them shuffled, each one twice
    replay = messages + messages
    rng.shuffle(replay)
    for m in replay:
        assert not h.run_worker([m]).get("batchItemFailures")
    # Then she follows bob and has his posts once
    assert h.home_ids(alice) == list(reversed(posts))
    # And after unfollow-follow-unfollow, in any order, she has none
    h.unfollow(alice, "bob")
    h.follow(alice, "bob")
    h.unfollow(alice, "bob")
    h.dispatch_pending()
    replay = h.take_queued() * 2
    rng.shuffle(replay)
    for m in replay:
        h.run_worker([m])
    assert h.home_ids(alice) == []


def test_given_a_fan_out_planned_before_an_unfollow_when_applied_after_its_cleanup_then_the_post_is_taken_back(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    post = h.post(bob, "in flight")
    h.dispatch_pending()
    late_add = h.take_queued()  # the add for alice, not applied yet
    # When alice unfollows and the cleanup runs first
    h.unfollow(alice, "bob")
    h.drain()
    for m in late_add:
        h.run_worker([m])
    # Then the late add leaves nothing of bob's in her timeline
    assert post not in h.entries(alice)
    assert h.home_ids(alice) == []


def test_given_a_remove_applied_before_its_add_then_no_orphan_entry_is_left(h):
    """Review finding: a failed add comes back after the visibility timeout, after the
    post's removal ran; its entries stayed until their TTL and counted toward TimelineMax."""
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    post = h.post(bob, "soon gone")
    h.dispatch_pending()
    late_add = h.take_queued()
    h.delete(bob, post)
    h.drain()
    for m in late_add:
        h.run_worker([m])
    assert post not in h.entries(alice)
    assert post not in h.entries(bob)


# ---------------------------------------------------------------------- celebrity switches
@pytest.mark.stack(CelebrityThreshold="5")
def test_given_threshold_5_then_promotion_at_5_followers_and_demotion_only_below_4(h):
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(5)]
    for fan in fans[:4]:
        h.follow(fan, "star")
    h.drain()
    assert not h.user(star).celebrity
    h.follow(fans[4], "star")
    h.drain()
    assert h.user(star).celebrity
    h.unfollow(fans[4], "star")  # 4 followers: 80% of 5, not below it
    h.drain()
    assert h.user(star).celebrity
    h.unfollow(fans[3], "star")  # 3 followers: below 80%
    h.drain()
    assert not h.user(star).celebrity


@pytest.mark.stack(CelebrityThreshold="5")
def test_given_a_demotion_spanning_several_pages_then_every_follower_keeps_every_post_once(h, monkeypatch):
    from timeline.service import timeline_sync
    monkeypatch.setattr(timeline_sync, "CELEBRITY_PAGE_SIZE", 2)
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(6)]
    for fan in fans:
        h.follow(fan, "star")
    h.drain()
    assert h.user(star).celebrity
    merged = [h.post(star, f"merged {n}") for n in range(3)]
    h.drain()
    assert all(h.entries(fan) == [] for fan in fans)
    # When three unfollow, leaving 3 (< 4): demoted, walked two followers per message
    for fan in fans[3:]:
        h.unfollow(fan, "star")
    h.drain()
    assert not h.user(star).celebrity
    pages = [json.loads(r["body"]) for b in h.worker_batches for r in b["Records"]]
    assert sum(1 for p in pages if p["op"] == "celebrity_page" and not h.user(star).celebrity) >= 2
    # Then the remaining followers have the merged posts as entries, and no celebrity edge
    fanned = h.post(star, "fanned out again")
    h.drain()
    for fan in fans[:3]:
        assert edges(h, fan, "home#celebrity#") == []
        assert h.home_ids(fan) == [fanned, *list(reversed(merged))]
        assert sorted(h.entries(fan)) == sorted([*merged, fanned])
    for fan in fans[3:]:
        assert h.home_ids(fan) == []


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_two_follows_read_the_same_stale_count_when_they_cross_together_then_the_flag_flips(h, monkeypatch):
    """Review finding: each follow decided promotion from its own stale profile read; two
    follows reaching the threshold together both saw 2 of 3 and neither promoted."""
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(4)]
    h.follow(fans[0], "star")
    h.drain()
    stale = h.services.accounts.profile("star")  # followers_count 1
    from timeline.store.users import UserStore
    monkeypatch.setattr(UserStore, "get_by_handle", lambda self, handle: stale)
    h.follow(fans[1], "star")
    h.follow(fans[2], "star")
    h.drain()
    user = h.user(star)
    assert (user.followers_count, user.celebrity) == (3, True)
    assert sorted(edges(h, star, "follower#")) == sorted(edges_for := fans[:3]) and edges_for
    post = h.post(star, "merged")
    h.drain()
    for fan in fans[:3]:
        assert h.home_ids(fan) == [post]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_the_flag_flipped_after_the_follow_read_the_profile_then_the_follow_still_gets_the_celebrity_edge(
        h, monkeypatch):
    """Review finding: a follow deciding from a profile read before a promotion got a plain
    edge to a celebrity and saw nothing of theirs; following again could not repair it."""
    star, f1, f2, late = (h.sign_up(n) for n in ("star", "f1", "f2", "late"))
    h.follow(f1, "star")
    stale = h.services.accounts.profile("star")  # not a celebrity yet
    h.follow(f2, "star")
    h.drain()
    assert h.user(star).celebrity
    from timeline.store.users import UserStore
    monkeypatch.setattr(UserStore, "get_by_handle", lambda self, handle: stale)
    h.follow(late, "star")
    monkeypatch.undo()
    h.drain()
    assert edges(h, late, "home#celebrity#") == [star]
    post = h.post(star, "seen by the late follower")
    h.drain()
    assert h.home_ids(late) == [post]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_the_queue_refuses_a_send_during_promotion_when_the_record_is_retried_then_followers_get_the_account(
        h, monkeypatch):
    """Review finding: the flag flipped, the first page's send raised, the follow answered 500,
    its retry answered 200, and no page was ever queued: the followers saw nothing."""
    from timeline.store.fanout_queue import FanoutQueue, QueueSendError
    star, f1, f2 = (h.sign_up(n) for n in ("star", "f1", "f2"))
    h.follow(f1, "star")
    h.follow(f2, "star")
    real_send, refused = FanoutQueue.send, []

    def refuse_celebrity_pages(self, messages):
        if any(m.op == "celebrity_page" for m in messages) and not refused:
            refused.append(messages)
            raise QueueSendError("throttled")
        return real_send(self, messages)
    monkeypatch.setattr(FanoutQueue, "send", refuse_celebrity_pages)
    # When dispatch handles the users stream: the flip lands, the walk's send fails
    failed = []
    for _ in range(4):
        records = h._stream_records(h.stream_of("UsersTableName"))
        if not records:
            break
        try:
            result = h.run_dispatch(records)
        except BatchProcessingError:  # every record of the batch failed: the whole batch is retried
            failed += records
            continue
        failed += [r for r in records if r["dynamodb"]["SequenceNumber"] in
                   {f["itemIdentifier"] for f in result["batchItemFailures"]}]
    assert refused and failed and h.user(star).celebrity
    # Then the event source retries the failed record, and the walk is queued after all
    assert not h.run_dispatch(failed)["batchItemFailures"]
    h.drain()
    assert sorted(edges(h, f1, "home#celebrity#") + edges(h, f2, "home#celebrity#")) == [star, star]
    post = h.post(star, "everyone sees this")
    h.drain()
    assert h.home_ids(f1) == h.home_ids(f2) == [post]


@pytest.mark.stack(CelebrityThreshold="2")
def test_given_an_unfollow_while_a_promotion_page_is_written_then_no_celebrity_edge_is_left(h, monkeypatch):
    """Review finding: a promotion page wrote edges for the followers it had read; one who
    unfollowed in between kept being merged the account's posts."""
    from timeline.store.graph import GraphStore
    star, f1, f2, f3 = (h.sign_up(n) for n in ("star", "f1", "f2", "f3"))
    for fan in (f1, f2, f3):  # after f1 leaves, 2 remain: still a celebrity (not below 80% of 2)
        h.follow(fan, "star")
    real_page = GraphStore.followers_with_activity

    def page_then_unfollow(self, user_id, limit, after=None, **kwargs):
        page = real_page(self, user_id, limit, after, **kwargs)
        if user_id == star and after is None:
            h.services.social.unfollow(f1, "star")  # lands between the page read and the edge write
        return page
    monkeypatch.setattr(GraphStore, "followers_with_activity", page_then_unfollow)
    h.drain()
    monkeypatch.undo()
    h.drain()
    assert h.user(star).celebrity
    assert edges(h, f1, "home#celebrity#") == []
    assert edges(h, f2, "home#celebrity#") == edges(h, f3, "home#celebrity#") == [star]
    h.post(star, "only f2 and f3 see this")
    h.drain()
    assert h.home_ids(f1) == []


# ---------------------------------------------------------------------- pages and the cap
def test_given_a_page_of_only_hidden_entries_then_it_says_partial_and_the_cursor_leads_on(h):
    """Review finding: after the read's round limit a page came back empty with a cursor and
    no partial flag; a client stopping on an empty page stopped early."""
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    kept = h.post(bob, "the one that stays")
    gone = [h.post(bob, f"deleted {n}") for n in range(60)]
    h.drain()
    ddb = boto3.client("dynamodb")
    for tweet_id in gone:  # deleted, with the entries' removal not applied yet
        ddb.delete_item(TableName=h.settings.tweets_table, Key={"tweet_id": {"N": tweet_id}})
    reply = h.home(alice, limit=1)
    assert reply.body["items"] == [] and reply.body["partial"] is True and reply.body["next_cursor"]
    ids, _ = h.home_all(alice, limit=1)
    assert ids == [kept]


@pytest.mark.stack(TimelineMax="10")
def test_given_more_entries_than_timeline_max_before_a_trim_then_reads_return_at_most_timeline_max_of_them(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    posts = [h.post(bob, f"p{n}") for n in range(14)]
    h.drain()
    # Given 14 entries stored (written without the trim, as between two amortized trims)
    expires = 2**31
    from timeline.records import Entry
    from timeline.store.batching import BatchWriter
    from timeline.store.timelines import TimelineStore
    TimelineStore(BatchWriter(boto3.client("dynamodb"))).add_posts(alice, [Entry(int(p), bob, bob, int(p)) for p in posts], expires)
    assert len(h.entries(alice)) == 14
    # Then every way of paging shows the newest 10 and no more
    for limit in (3, 10, 100):
        ids, _ = h.home_all(alice, limit=limit)
        assert ids == list(reversed(posts))[:10], limit


@pytest.mark.stack(TimelineMax="10")
def test_given_an_author_posting_a_lot_then_their_own_timeline_is_trimmed_too(h):
    alice = h.sign_up("alice")
    posts = [h.post(alice, f"p{n}") for n in range(40)]
    h.drain()
    # TimelineMax 10 checks on about one write in 10 // 8 = 1: the cap holds exactly here
    assert h.entries(alice) == list(reversed(posts))[:10]


# ---------------------------------------------------------------------- inactive readers
@pytest.mark.stack(InactiveDays="30", CelebrityThreshold="2")
def test_given_a_reader_away_for_longer_than_inactive_days_then_no_fan_out_and_a_rebuild_on_return(h):
    from timeline import clock
    alice, bob, star, f2 = (h.sign_up(n) for n in ("alice", "bob", "star", "f2"))
    h.follow(alice, "bob")
    h.follow(alice, "star")
    h.follow(f2, "star")
    h.drain()
    before = h.post(bob, "before the break")
    h.drain()
    assert h.home_ids(alice) == [before]
    # When 31 days pass and bob and the celebrity post
    clock.advance(days=31)
    while_away = [h.post(bob, f"while away {n}") for n in range(2)]
    star_post = h.post(star, "merged at read")
    h.drain()
    # Then fan-out wrote nothing to alice
    assert not set(while_away) & set(h.entries(alice))
    # When she returns, her first read is partial: what can be had at once
    first = h.home(alice, limit=20).body
    assert first["partial"] is True
    assert star_post in [i["id"] for i in first["items"]]
    # And after the rebuild her timeline is complete
    h.drain()
    again = h.home(alice, limit=20).body
    assert again["partial"] is False
    assert [i["id"] for i in again["items"]] == [star_post, *list(reversed(while_away)), before]
    # And she is active again: the next post fans out to her
    after = h.post(bob, "after the return")
    h.drain()
    assert after in h.entries(alice)
    # And the rebuilt entries came through bob: unfollowing him takes every one of them away
    h.unfollow(alice, "bob")
    h.drain()
    assert h.entries(alice) == []


@pytest.mark.stack(InactiveDays="30")
def test_given_daily_reads_then_last_seen_is_written_once_a_day_and_edges_restamped_once_a_week(h):
    from timeline import clock
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    ddb = boto3.client("dynamodb")

    def edge_stamp():
        return int(ddb.get_item(TableName=h.settings.graph_table, Key={
            "user_id": {"N": str(bob)}, "edge": {"S": f"follower#{alice:020d}"}})["Item"]["seen_at"]["N"])
    stamps, seen = [edge_stamp()], [h.user(alice).last_seen_at]
    for _day in range(1, 9):
        clock.advance(days=1)
        h.home_ids(alice)
        first_read = h.user(alice).last_seen_at
        h.home_ids(alice)
        h.home_ids(alice)
        assert h.user(alice).last_seen_at == first_read  # one write a day, not one per read
        seen.append(first_read)
        h.drain()
        stamps.append(edge_stamp())
    assert all(later - earlier >= 86_400_000 for earlier, later in pairwise(seen))
    assert len(set(stamps)) == 2  # the follow's stamp, then one restamp after a quarter of 30 days
    # And a month of daily reads never makes her inactive
    for _day in range(30):
        clock.advance(days=1)
        assert h.home(alice).body["partial"] is False
        h.drain()
    post = h.post(bob, "still fanned out to her")
    h.drain()
    assert post in h.entries(alice)


def test_given_the_sample_users_and_graph_stream_events_when_dispatched_then_work_is_queued(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    from tests.support.harness import sample_event
    event = sample_event("fanout_dispatch_follow.json")
    for record in event["Records"]:
        record["dynamodb"]["Keys"]["user_id"]["N"] = str(alice)
        record["dynamodb"]["Keys"]["edge"]["S"] = f"following#{bob:020d}"
        record["eventSourceARN"] = h.stream_of("GraphTableName")
    assert h.dispatch.handler(event, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    assert [json.loads(m["body"]) for m in h.take_queued()] == [
        {"op": "sync_follow", "owner": str(alice), "account": str(bob)}]


def test_given_recording_the_visit_fails_then_the_home_read_still_answers_and_the_next_read_records_it(h, monkeypatch):
    from timeline import clock
    from timeline.store.users import UserStore
    alice = h.sign_up("alice")
    post = h.post(alice, "mine")
    clock.advance(days=2)
    before = h.user(alice).last_seen_at

    def throttled(self, *args, **kwargs):
        raise RuntimeError("ProvisionedThroughputExceededException")
    monkeypatch.setattr(UserStore, "touch", throttled)
    assert h.home_ids(alice) == [post]
    assert h.user(alice).last_seen_at == before
    monkeypatch.undo()
    assert h.home_ids(alice) == [post]
    assert h.user(alice).last_seen_at > before


def test_given_a_timeline_with_posts_when_reading_home_then_the_readers_profile_rides_with_the_authors(h, monkeypatch):
    """Recording the visit must not cost a home read a request of its own: the profile comes
    in the authors' BatchGetItem."""
    from timeline.store.users import UserStore
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(alice, "bob")
    h.drain()
    post = h.post(bob, "hi")
    h.drain()
    batches = []
    real_get_many = UserStore.get_many
    monkeypatch.setattr(UserStore, "get", lambda self, user_id: pytest.fail("a GetItem of its own"))
    monkeypatch.setattr(UserStore, "get_many", lambda self, ids: batches.append(set(ids)) or real_get_many(self, ids))
    assert h.home_ids(alice) == [post]
    assert batches == [{alice, bob}]


def test_given_the_followee_flips_on_every_attempt_then_the_follow_answers_409_and_writes_nothing(h, monkeypatch):
    from timeline.store.graph import FolloweeChanged, GraphStore
    alice, bob = h.sign_up("alice"), h.sign_up("bob")

    def always_flipped(self, *args, **kwargs):
        raise FolloweeChanged()
    monkeypatch.setattr(GraphStore, "follow", always_flipped)
    reply = h.request("POST", "/v1/users/bob/follow", as_user=alice)
    assert (reply.status, reply.error_code) == (409, "followee_changing")
    assert edges(h, alice, "following#") == [] and h.user(bob).followers_count == 0
