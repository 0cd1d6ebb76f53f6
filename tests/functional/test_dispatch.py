"""fanout_dispatch on stream batches shaped like events/fanout_dispatch_*.json."""

from __future__ import annotations

import copy
import json
import sys
import threading

import boto3
import pytest

from tests.support.harness import LambdaContext, sample_event


def stream_record(h, name: str, tweet_id: int, author_id: int, sequence: str) -> dict:
    record = copy.deepcopy(sample_event(name)["Records"][0])
    record["eventSourceARN"] = h.stream_of("TweetsTableName")
    ddb = record["dynamodb"]
    ddb["Keys"]["tweet_id"]["N"] = str(tweet_id)
    image = ddb.get("NewImage") or ddb["OldImage"]
    image["tweet_id"]["N"], image["author_id"]["N"] = str(tweet_id), str(author_id)
    ddb["SequenceNumber"] = sequence
    return record


def queued(h) -> list[dict]:
    sqs = boto3.client("sqs")
    out = []
    while batch := sqs.receive_message(QueueUrl=h.queue_url, MaxNumberOfMessages=10).get("Messages"):
        for m in batch:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=h.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_given_an_insert_for_an_author_with_followers_then_one_chunk_per_page_of_followers_is_queued(h):
    bob = h.sign_up("bob")
    fans = [h.sign_up(f"fan{n}") for n in range(5)]
    for n in range(5):
        h.follow(fans[n], "bob")

    event = {"Records": [stream_record(h, "fanout_dispatch_insert.json", 777, bob, "1")]}
    result = h.dispatch.handler(event, LambdaContext("fanout_dispatch"))

    assert result == {"batchItemFailures": []}
    messages = [m for m in queued(h) if m["op"] != "trim"]  # a trim of the author's timeline may ride along
    assert [m["op"] for m in messages] == ["add"]
    # the author's own entry was written with the post: only the followers are fanned out to
    assert sorted(messages[0]["owners"]) == sorted(str(u) for u in fans)


def test_given_a_stream_batch_with_a_broken_record_then_only_its_sequence_number_is_reported(h):
    bob, fan = h.sign_up("bob"), h.sign_up("fan")
    h.follow(fan, "bob")
    h.drain()
    good_1 = stream_record(h, "fanout_dispatch_insert.json", 801, bob, "101")
    broken = stream_record(h, "fanout_dispatch_insert.json", 802, bob, "102")
    del broken["dynamodb"]["NewImage"]["author_id"]
    good_2 = stream_record(h, "fanout_dispatch_remove.json", 803, bob, "103")

    result = h.dispatch.handler({"Records": [good_1, broken, good_2]}, LambdaContext("fanout_dispatch"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    # 803's removal: one message for the author's own entry, one for the page of followers,
    # one for its reposts (801 may also queue a trim of the author's timeline: TrimPolicy picks
    # about one post in TimelineMax/8 by a hash of the author's id, which is random per run)
    messages = [m for m in queued(h) if m["op"] != "trim"]
    assert sorted((m["op"], m.get("tweet_id") or m["original"]) for m in messages) == [
        ("add", "801"), ("drop_reposts", "803"), ("remove", "803"), ("remove", "803")]


@pytest.mark.stack(CelebrityThreshold="1")
def test_given_a_celebrity_post_record_then_nothing_is_queued(h):
    carol, fan = h.sign_up("carol"), h.sign_up("fan")
    h.follow(fan, "carol")
    h.drain()
    record = stream_record(h, "fanout_dispatch_insert.json", 901, carol, "201")
    record["dynamodb"]["NewImage"]["fanout"] = {"BOOL": False}
    assert h.dispatch.handler({"Records": [record]}, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    assert [m for m in queued(h) if m["op"] == "add"] == []


def test_given_a_post_made_as_a_celebrity_when_the_author_was_demoted_since_then_it_fans_out_after_all(h):
    """The demotion's backfill reads the author index, which may not list a post made just
    before the flip yet: dispatch checks the flag again and fans such a post out."""
    carol, fan = h.sign_up("carol"), h.sign_up("fan")
    h.follow(fan, "carol")
    h.drain()
    record = stream_record(h, "fanout_dispatch_insert.json", 902, carol, "202")
    record["dynamodb"]["NewImage"]["fanout"] = {"BOOL": False}
    assert h.dispatch.handler({"Records": [record]}, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    assert [m["owners"] for m in queued(h) if m["op"] == "add"] == [[str(fan)]]


class FakeGraph:
    def __init__(self, followers: list[int]):
        self.followers, self.page_sizes = followers, []

    def followers_with_activity(self, user_id, limit, after=None):
        self.page_sizes.append(limit)
        start = int(after or 0)
        from timeline.store.graph import Follower
        page = [Follower(f, None, True) for f in self.followers[start:start + limit]]
        more = start + limit < len(self.followers)
        return page, (str(start + limit) if more else None)


class FakeQueue:
    def __init__(self):
        self.sent = []

    def send(self, messages):
        self.sent += [m.wire() for m in messages]  # as the queue carries them


def test_given_an_author_with_250_followers_then_every_message_but_the_last_fills_whole_25_item_batches():
    """Found by the benchmark: the author's own entry rode on a full first page (201 owners), so
    that message needed nine BatchWriteItems for what eight could hold. The author's entry is
    now written with the post, so pages are whole: 200 + 50 owners, 8 + 2 batches."""
    from tests.support.harness import LAYER

    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    from timeline.records import Tweet
    from timeline.service.fanout import FanoutPlanner
    from timeline.settings import Settings

    settings = Settings(users_table="u", tweets_table="t", graph_table="g", timelines_table="tl",
                        idempotency_table="i", fanout_queue_url="q", cursor_secret_arn="s")
    graph, queue = FakeGraph(list(range(1000, 1250))), FakeQueue()
    FanoutPlanner(settings, graph, None, queue).posted(Tweet(tweet_id=1, author_id=7, text="hi", created_at=0))
    owners = [m["owners"] for m in queue.sent if m["op"] == "add"]
    assert [len(o) for o in owners] == [200, 50]
    assert sorted(int(x) for o in owners for x in o) == list(range(1000, 1250))
    assert sum(-(-len(o) // 25) for o in owners) == 250 // 25


# ---------------------------------------------------------------------- one batch, its messages together
def post_records(h, authors: list[int], count: int, first_id: int = 5000) -> list[dict]:
    return [stream_record(h, "fanout_dispatch_insert.json", first_id + n, authors[n % len(authors)],
                          str(7000 + n)) for n in range(count)]


def sends_of(h, monkeypatch, fail_call: int | None = None) -> list[list[dict]]:
    """Every SendMessageBatch dispatch makes, as its message bodies; with `fail_call`, that
    request (1-based) fails as an unreachable endpoint would."""
    from botocore.exceptions import EndpointConnectionError

    calls: list[list[dict]] = []
    lock = threading.Lock()  # dispatch sends its requests side by side: number them one at a time

    def hook(params, **_):
        with lock:
            calls.append([json.loads(e["MessageBody"]) for e in params["Entries"]])
            number = len(calls)
        if number == fail_call:
            raise EndpointConnectionError(endpoint_url="https://sqs.invalid")

    events = h.dispatch.services.queue._client.meta.events
    events.register("before-parameter-build.sqs.SendMessageBatch", hook)
    monkeypatch.setattr(h, "_unhook_sends", lambda: events.unregister("before-parameter-build.sqs.SendMessageBatch", hook),
                        raising=False)
    return calls


def test_given_a_batch_of_posts_then_their_messages_go_ten_to_a_request_across_records(h, monkeypatch):
    authors = [h.sign_up(f"author{n}") for n in range(3)]
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for author, fan in zip(authors, fans, strict=True):
        h.follow(fan, f"author{authors.index(author)}")
    h.drain()
    calls = sends_of(h, monkeypatch)
    # When dispatch gets 25 posts of three authors with a follower each
    records = post_records(h, authors, 25)
    result = h.dispatch.handler({"Records": records}, LambdaContext("fanout_dispatch"))
    h._unhook_sends()
    # Then every record succeeded, and its messages shared full requests with the others'
    assert result == {"batchItemFailures": []}
    sent = [m for call in calls for m in call]
    adds = sorted(int(m["tweet_id"]) for m in sent if m["op"] == "add")
    assert adds == list(range(5000, 5025))
    assert len(calls) == -(-len(sent) // 10)  # 25 posts (and the odd trim): three requests, not 25
    assert all(len(call) == 10 for call in calls[:-1])
    # And the queue holds exactly what was sent
    assert sorted(int(m["tweet_id"]) for m in queued(h) if m["op"] == "add") == adds


def test_given_a_send_that_fails_then_exactly_its_records_are_reported_and_their_retry_delivers_them(
        h, monkeypatch):
    authors = [h.sign_up(f"author{n}") for n in range(3)]
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for n, fan in enumerate(fans):
        h.follow(fan, f"author{n}")
    h.drain()
    records = post_records(h, authors, 25)
    by_tweet = {r["dynamodb"]["Keys"]["tweet_id"]["N"]: r["dynamodb"]["SequenceNumber"] for r in records}
    # Given the second of the batch's requests to the queue fails
    calls = sends_of(h, monkeypatch, fail_call=2)
    result = h.dispatch.handler({"Records": records}, LambdaContext("fanout_dispatch"))
    h._unhook_sends()
    # Then the records with a message in that request are reported, and no other
    lost = {by_tweet[m.get("tweet_id")] for m in calls[1] if m["op"] == "add"}
    assert lost and {f["itemIdentifier"] for f in result["batchItemFailures"]} == lost
    delivered = {m["tweet_id"] for m in queued(h) if m["op"] == "add"}
    assert delivered == {t for t, s in by_tweet.items() if s not in lost}
    # And when the event source retries from the first reported record, every post is queued
    retry = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= min(int(s) for s in lost)]
    assert h.dispatch.handler({"Records": retry}, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    delivered |= {m["tweet_id"] for m in queued(h) if m["op"] == "add"}
    assert delivered == set(by_tweet)


def test_given_a_record_with_several_messages_in_a_failed_request_then_it_is_reported_once():
    from tests.support.harness import LAYER

    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    from timeline.store.fanout_queue import FanoutQueue, Outgoing

    class RefusingSqs:  # every entry refused as the sender's fault: no retry helps
        def send_message_batch(self, QueueUrl, Entries):
            return {"Failed": [{"Id": e["Id"], "SenderFault": True, "Code": "InvalidMessageContents"}
                               for e in Entries]}

    outbox = FanoutQueue(RefusingSqs(), "q").outbox()
    # Given record 101 queued three messages and record 102 one, all in one request
    outbox.add("101", [Outgoing({"op": "remove", "n": n}, None) for n in range(3)])
    outbox.add("102", [Outgoing({"op": "add"}, None)])
    unsent, reasons = outbox.flush()
    # Then each record is named once, in order, with why
    assert unsent == ["101", "102"]
    assert len(reasons) == 1 and "InvalidMessageContents" in reasons[0]
