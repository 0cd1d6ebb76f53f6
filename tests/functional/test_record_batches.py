"""timeline.record_batches: a batch's records side by side, one item's records in order,
failures reported as powertools reports them. No AWS call here (the records are the sample
events'); the stack fixture only gives the layer the environment its functions run with."""

from __future__ import annotations

import copy
import threading
import time

import pytest
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.support.harness import LambdaContext, sample_event


@pytest.fixture(autouse=True)
def layer(h):
    """The layer imported as the functions import it: after their environment is set (its
    Metrics read their namespace from it once, at import)."""


def ConcurrentRecords(*args, **kwargs):
    from timeline.record_batches import ConcurrentRecords as cls
    return cls(*args, **kwargs)


def stream_event(keys: list[int]) -> dict:
    """One tweets-stream record per key, sequence numbers in order."""
    template = sample_event("fanout_dispatch_insert.json")["Records"][0]
    records = []
    for n, key in enumerate(keys):
        record = copy.deepcopy(template)
        record["dynamodb"]["Keys"] = {"tweet_id": {"N": str(key)}}
        record["dynamodb"]["SequenceNumber"] = str(100 + n)
        records.append(record)
    return {"Records": records}


def sqs_event(count: int) -> dict:
    template = sample_event("fanout_worker.json")["Records"][0]
    return {"Records": [dict(copy.deepcopy(template), messageId=f"m{n}", body=str(n)) for n in range(count)]}


def by_key(record) -> str:
    return record.raw_event["dynamodb"]["Keys"]["tweet_id"]["N"]


def seq(record) -> str:
    return record.dynamodb.sequence_number


def failed(response: dict) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def test_given_records_of_different_items_then_they_run_side_by_side():
    # Given four records of four items, each waiting until all four have started
    started = threading.Barrier(4, timeout=10)
    records = ConcurrentRecords(EventType.DynamoDBStreams, workers=4, ordered_by=by_key)
    # When the batch runs, then none waits for another to finish (one at a time, the barrier breaks)
    response = records.process(stream_event([1, 2, 3, 4]), LambdaContext("fanout_dispatch"),
                               lambda record: started.wait())
    assert response == {"batchItemFailures": []}


def test_given_records_of_one_item_then_they_run_in_stream_order():
    order, lock = [], threading.Lock()

    def handle(record):
        time.sleep(0.01 * (2 - int(seq(record)) % 3))  # unordered, later records would overtake
        with lock:
            order.append((by_key(record), seq(record)))

    records = ConcurrentRecords(EventType.DynamoDBStreams, workers=8, ordered_by=by_key)
    # Given three items' records interleaved in the stream
    keys = [7, 8, 7, 9, 7, 8, 7]
    records.process(stream_event(keys), LambdaContext("fanout_dispatch"), handle)
    # Then each item's records ran in stream order
    for key in ("7", "8", "9"):
        assert [s for k, s in order if k == key] == sorted(s for k, s in order if k == key)
    assert len(order) == len(keys)


def test_given_a_failing_record_then_its_items_later_records_fail_unrun_and_other_items_run():
    ran = []

    def handle(record):
        if seq(record) == "101":
            raise RuntimeError("this record is broken")
        ran.append(seq(record))

    records = ConcurrentRecords(EventType.DynamoDBStreams, workers=4, ordered_by=by_key)
    # Given item 7's second record (101) fails
    response = records.process(stream_event([7, 7, 8, 7, 9]), LambdaContext("fanout_dispatch"), handle)
    # Then it and item 7's later record (103) are reported, 103 without having run
    assert failed(response) == {"101", "103"}
    assert sorted(ran) == ["100", "102", "104"]


def test_given_queue_messages_then_all_of_a_batch_run_at_once_and_only_the_failures_come_back():
    started = threading.Barrier(10, timeout=10)

    def handle(record):
        started.wait()
        if record.body in ("3", "7"):
            raise ValueError("bad message")

    records = ConcurrentRecords(EventType.SQS, workers=10)
    response = records.process(sqs_event(10), LambdaContext("fanout_worker"), handle)
    assert failed(response) == {"m3", "m7"}


def test_given_every_record_fails_then_the_batch_fails_as_powertools_says():
    records = ConcurrentRecords(EventType.SQS, workers=2)
    with pytest.raises(BatchProcessingError):
        records.process(sqs_event(3), LambdaContext("fanout_worker"), lambda record: 1 / 0)


def test_given_a_correlated_record_then_the_next_record_on_the_same_thread_starts_without_its_id():
    from timeline.observability import correlated, correlation_id

    seen = {}

    def handle(record):
        with correlated("request-1" if record.message_id == "m0" else None):
            seen[record.message_id] = correlation_id()

    # One thread: the second message runs where the first one ran
    ConcurrentRecords(EventType.SQS, workers=1).process(sqs_event(2), LambdaContext("fanout_worker"), handle)
    assert seen == {"m0": "request-1", "m1": None}
