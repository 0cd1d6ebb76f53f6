"""fanout_dispatch on stream batches shaped like events/fanout_dispatch_*.json."""

from __future__ import annotations

import copy
import json

import boto3

from tests.support.harness import LambdaContext, sample_event


def stream_record(name: str, tweet_id: int, author_id: int, sequence: str) -> dict:
    record = copy.deepcopy(sample_event(name)["Records"][0])
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

    event = {"Records": [stream_record("fanout_dispatch_insert.json", 777, bob, "1")]}
    result = h.dispatch.handler(event, LambdaContext("fanout_dispatch"))

    assert result == {"batchItemFailures": []}
    messages = queued(h)
    assert [m["op"] for m in messages] == ["add"]
    assert sorted(messages[0]["owners"]) == sorted(str(u) for u in [bob, *fans])


def test_given_a_stream_batch_with_a_broken_record_then_only_its_sequence_number_is_reported(h):
    bob = h.sign_up("bob")
    good_1 = stream_record("fanout_dispatch_insert.json", 801, bob, "101")
    broken = stream_record("fanout_dispatch_insert.json", 802, bob, "102")
    del broken["dynamodb"]["NewImage"]["author_id"]
    good_2 = stream_record("fanout_dispatch_remove.json", 803, bob, "103")

    result = h.dispatch.handler({"Records": [good_1, broken, good_2]}, LambdaContext("fanout_dispatch"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    assert sorted((m["op"], m["tweet_id"]) for m in queued(h)) == [("add", "801"), ("remove", "803")]


def test_given_a_celebrity_post_record_then_nothing_is_queued(h):
    carol = h.sign_up("carol")
    record = stream_record("fanout_dispatch_insert.json", 901, carol, "201")
    record["dynamodb"]["NewImage"]["fanout"] = {"BOOL": False}
    assert h.dispatch.handler({"Records": [record]}, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    assert queued(h) == []
