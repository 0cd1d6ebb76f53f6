"""fanout_worker applies a batch's `add` messages together: their entries share
BatchWriteItems, the posts are checked in one read; each add still takes back its own
entries, and each record still reports its own outcome."""

from __future__ import annotations

import json

import pytest
from moto.dynamodb.responses import DynamoHandler


@pytest.fixture
def requests_made(monkeypatch):
    """DynamoDB actions served by the emulator, by name, while the test runs."""
    made: list[str] = []
    for action in ("batch_write_item", "batch_get_item", "query"):
        real = getattr(DynamoHandler, action)

        def counted(self, _real=real, _action=action):
            made.append(_action)
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
    # Then thirty entries took two BatchWriteItems, one BatchGetItem checked the ten posts,
    # and one tombstone Query per author was made (not one of each per message)
    assert result == {"batchItemFailures": []}
    assert requests_made.count("batch_write_item") == 2
    assert requests_made.count("batch_get_item") == 1
    assert requests_made.count("query") <= len(authors) + len(fans)  # tombstones, and the odd trim
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
