"""fanout_worker applies a batch's `add` messages together: their entries share
BatchWriteItems, the posts are checked in one read, the authors' unfollows in another (their
tombstones only for an author unfollowed lately); each add still takes back its own entries,
and each record still reports its own outcome. Its follow syncs read their edges together."""

from __future__ import annotations

import json

import pytest
from moto.dynamodb.responses import DynamoHandler


@pytest.fixture
def requests_made(monkeypatch):
    """DynamoDB actions served by the emulator, by name, while the test runs."""
    made: list[str] = []
    for action in ("batch_write_item", "batch_get_item", "query", "get_item"):
        real = getattr(DynamoHandler, action)

        def counted(self, _real=real, _action=action):
            made.append(_action)
            if _action == "query" and "unfollowed#" in json.dumps(self.body):
                made.append("tombstone_query")
            return _real(self)
        monkeypatch.setattr(DynamoHandler, action, counted)
    return made


def planned_adds(h, authors: list[int], fans: list[int], posts: int) -> list[dict]:
    """`posts` posts by the authors, dispatched: their add messages as the worker gets them."""
    for n in range(posts):
        h.post(authors[n % len(authors)], f"post {n}")
    h.dispatch_pending()
    return [r for r in h.take_queued() if json.loads(r["body"])["op"] == "add"]


def people(h, authors: int, fans: int) -> tuple[list[int], list[int]]:
    a = [h.sign_up(f"author{n}") for n in range(authors)]
    f = [h.sign_up(f"fan{n}") for n in range(fans)]
    for fan in f:
        for n in range(authors):
            h.follow(fan, f"author{n}")
    h.drain()
    return a, f


def test_given_ten_adds_in_a_batch_then_their_entries_share_batch_writes_and_one_read_checks_the_posts(
        h, requests_made):
    authors, fans = people(h, authors=2, fans=3)
    records = planned_adds(h, authors, fans, posts=10)
    assert len(records) == 10
    requests_made.clear()
    # When the worker gets the ten adds (three owners each) in one batch
    result = h.run_worker(records)
    # Then thirty entries took two BatchWriteItems, and two BatchGetItems checked the ten
    # posts and the two authors' profiles (never unfollowed: no tombstone to read), not
    # one of each per message
    assert result == {"batchItemFailures": []}
    assert requests_made.count("batch_write_item") == 2
    assert requests_made.count("batch_get_item") == 2
    assert requests_made.count("tombstone_query") == 0
    assert requests_made.count("query") <= len(fans)  # the odd trim
    for fan in fans:
        assert len(h.entries(fan)) == 10


def test_given_a_batch_whose_post_was_deleted_meanwhile_then_only_its_entries_are_taken_back(h):
    authors, fans = people(h, authors=1, fans=2)
    records = planned_adds(h, authors, fans, posts=3)
    deleted = json.loads(records[1]["body"])["tweet_id"]
    # Given the second post is deleted (and its removal applied) before its add arrives
    h.delete(authors[0], deleted)
    h.drain()
    # When the three adds come in one batch
    assert h.run_worker(records) == {"batchItemFailures": []}
    # Then every fan holds the two other posts, and not the deleted one
    kept = {json.loads(r["body"])["tweet_id"] for r in records} - {deleted}
    for fan in fans:
        assert set(h.entries(fan)) == kept


def test_given_a_malformed_add_among_good_ones_then_only_it_comes_back(h):
    authors, fans = people(h, authors=1, fans=1)
    records = planned_adds(h, authors, fans, posts=2)
    broken = dict(records[0], messageId="broken", body=json.dumps({"op": "add", "tweet_id": "x"}))
    result = h.run_worker([broken, *records])
    assert result == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert set(h.entries(fans[0])) == {json.loads(r["body"])["tweet_id"] for r in records}


def test_given_bodies_that_are_no_message_among_good_ones_then_only_they_come_back(h):
    authors, fans = people(h, authors=1, fans=1)
    records = planned_adds(h, authors, fans, posts=2)
    # Given a kind the worker does not know, a body that is not JSON, and one that is no object
    broken = {"unknown": json.dumps({"op": "celebrity_edges", "celebrity_id": str(authors[0]), "after": None}),
              "not-json": "{op: add", "not-an-object": json.dumps(["trim", str(fans[0])])}
    bad = [dict(records[0], messageId=message_id, body=body) for message_id, body in broken.items()]
    # When they arrive in one batch with two good adds
    result = h.run_worker([*bad, *records])
    # Then exactly they are reported for redelivery, and the adds are written
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == set(broken)
    assert set(h.entries(fans[0])) == {json.loads(r["body"])["tweet_id"] for r in records}


def test_given_the_adds_fail_together_then_each_is_reported_and_the_batchs_other_messages_still_apply(
        h, monkeypatch):
    authors, fans = people(h, authors=1, fans=1)
    records = planned_adds(h, authors, fans, posts=2)
    trim = dict(records[0], messageId="trim", body=json.dumps({"op": "trim", "owner": str(fans[0])}))

    def unavailable(*_):
        raise RuntimeError("timelines table unavailable")
    monkeypatch.setattr(h.worker.services.applier, "add_all", unavailable)
    # When the batch's adds cannot be written
    result = h.run_worker([*records, trim])
    # Then both adds are reported for redelivery, and the trim was applied
    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {r["messageId"] for r in records}
    monkeypatch.undo()
    # And when they come back, they are written
    assert h.run_worker(records) == {"batchItemFailures": []}
    assert len(h.entries(fans[0])) == 2


# ------------------------------------------------------------------------------ follow syncs


def queued_syncs(h) -> list[dict]:
    """The sync_follow messages the follows made so far queued, as the worker gets them."""
    h.dispatch_pending()
    return [r for r in h.take_queued() if json.loads(r["body"])["op"] == "sync_follow"]


def test_given_ten_follow_syncs_in_a_batch_then_their_follow_edges_are_read_in_one_request(h, requests_made):
    # Given: two readers each follow five new accounts, and the ten syncs reach one batch
    authors = [h.sign_up(f"quiet{n}") for n in range(5)]
    fans = [h.sign_up(f"reader{n}") for n in range(2)]
    h.drain()
    for fan in fans:
        for n in range(len(authors)):
            h.follow(fan, f"quiet{n}")
    records = queued_syncs(h)
    assert len(records) == 10
    requests_made.clear()
    # When the worker applies them
    result = h.run_worker(records)
    # Then one BatchGetItem read the ten follow edges, and no sync read its own
    assert result == {"batchItemFailures": []}
    assert requests_made.count("batch_get_item") == 1
    assert requests_made.count("get_item") == 0


def test_given_a_batch_of_syncs_then_each_starts_from_its_own_pairs_state(h):
    # Given: accounts with posts; two readers follow them, one with an account's reposts off,
    # and one reader has unfollowed an account again before the batch of syncs runs
    authors = [h.sign_up(f"poster{n}") for n in range(3)]
    originals = {a: h.post(a, f"post by {n}") for n, a in enumerate(authors)}
    repost = h.repost(authors[2], originals[authors[0]])
    h.drain()
    keen, fickle = h.sign_up("keen"), h.sign_up("fickle")
    for n in range(3):
        h.follow(keen, f"poster{n}", reposts=n != 2)
        h.follow(fickle, f"poster{n}")
    h.unfollow(fickle, "poster1")
    records = queued_syncs(h)
    assert len(records) >= 6
    # When the worker applies the batch
    assert h.run_worker(records) == {"batchItemFailures": []}
    # Then each reader's timeline holds what its own follows bring: keen misses poster2's
    # repost, fickle misses poster1's post
    assert set(h.entries(keen)) == {originals[a] for a in authors}
    assert set(h.entries(fickle)) == {originals[authors[0]], originals[authors[2]], repost}


def test_given_the_batchs_follow_edges_cannot_be_read_together_then_each_sync_reads_its_own(h, monkeypatch):
    authors = [h.sign_up(f"writer{n}") for n in range(2)]
    posts = {h.post(a, "hello") for a in authors}
    h.drain()
    fan = h.sign_up("fan")
    for n in range(2):
        h.follow(fan, f"writer{n}")
    records = queued_syncs(h)

    def unavailable(*_):
        raise RuntimeError("graph table unavailable for a moment")
    monkeypatch.setattr(h.worker.services.applier, "follow_states", unavailable)
    # When the batch's read fails, then every sync still applies, reading its own edge
    assert h.run_worker(records) == {"batchItemFailures": []}
    assert set(h.entries(fan)) == posts


# ------------------------------------------------------------------------------ unfollows


def test_given_a_reader_unfollowed_after_the_adds_were_planned_then_only_that_authors_tombstones_are_read(
        h, requests_made):
    authors, fans = people(h, authors=2, fans=2)
    records = planned_adds(h, authors, fans, posts=4)
    # Given fan0 unfollows author0 after the adds were planned, and that cleanup runs first
    h.unfollow(fans[0], "author0")
    h.drain()
    requests_made.clear()
    # When the adds arrive
    assert h.run_worker(records) == {"batchItemFailures": []}
    # Then author0's tombstones were read (one Query), author1's were not
    assert requests_made.count("tombstone_query") == 1
    # ... and fan0 holds only author1's posts while fan1 holds all four
    by_author = {}
    for r in records:
        body = json.loads(r["body"])
        by_author.setdefault(int(body["author_id"]), set()).add(body["tweet_id"])
    assert set(h.entries(fans[0])) == by_author[authors[1]]
    assert set(h.entries(fans[1])) == by_author[authors[0]] | by_author[authors[1]]


def test_given_a_profile_older_than_its_unfollow_stamp_then_the_tombstones_are_read_as_before(h, requests_made):
    from timeline.store.tables import UserModel

    authors, fans = people(h, authors=1, fans=2)
    records = planned_adds(h, authors, fans, posts=2)
    # Given an unfollow, and the author's profile without an unfollow stamp, as a profile
    # written (and unfollowed) before there was one
    h.unfollow(fans[0], "author0")
    h.drain()
    UserModel(UserModel.key(authors[0])).update(actions=[UserModel.unfollowed_at.remove()])
    requests_made.clear()
    # When the adds arrive, then the tombstones are read and the unfollower gets nothing
    assert h.run_worker(records) == {"batchItemFailures": []}
    assert requests_made.count("tombstone_query") == 1
    assert h.entries(fans[0]) == []
    assert len(h.entries(fans[1])) == 2
