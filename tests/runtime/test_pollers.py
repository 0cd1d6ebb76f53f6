"""Pollers: SQS and stream event source mappings with Lambda's batching and failure rules,
against moto's HTTP server."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid

import boto3
import pytest

from infra.runtime.deployer import EventSource, Stack, deploy
from infra.runtime.functions import LocalFunctions
from infra.runtime.pollers import Pollers

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server


def _client(name, endpoint):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1")


def _run(stack, sources, specs, endpoint, env):
    """LocalFunctions + Pollers for just these sources, with the journal fixture's settings."""
    stack = dataclasses.replace(stack, event_sources=sources)
    functions = LocalFunctions.start(stack, endpoint_url=endpoint, concurrency=1, specs=specs, extra_env=env)
    lines: list[str] = []
    pollers = Pollers.start(stack, functions, endpoint_url=endpoint, log=lines.append)
    return functions, pollers, lines


def _close(functions, pollers):
    started = time.monotonic()
    pollers.close()
    functions.close()
    return time.monotonic() - started


# ------------------------------------------------------------------------------ SQS


@pytest.fixture
def make_queue(moto_endpoint):
    """A queue with a DLQ, shaped like FanoutQueue but with a short visibility timeout
    (FanoutQueue's real 180 s would make a redrive test wait minutes)."""
    sqs = _client("sqs", moto_endpoint)

    def make(visibility: int = 1, max_receive: int = 3):
        name = f"fixture-{uuid.uuid4().hex[:8]}"
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return sqs, url, arn, dlq_url
    return make


def _sqs_source(arn, *, batch_size=10, window=0):
    return EventSource(uuid=str(uuid.uuid4()), function="SqsConsumer", source_arn=arn, batch_size=batch_size,
                       batching_window=window, starting_position=None, report_failures=True,
                       bisect_on_error=False, maximum_retry_attempts=None, on_failure_arn=None)


def test_given_one_poison_message_in_a_batch_then_only_it_is_redelivered_until_the_dlq_and_others_deleted_once(
        deployed_stack, moto_endpoint, fixture_spec, make_queue, journal):
    sqs, url, arn, dlq_url = make_queue(visibility=1, max_receive=3)
    bodies = ["m0", "m1", "poison", "m3", "m4"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
    functions, pollers, lines = _run(
        deployed_stack, [_sqs_source(arn, batch_size=10, window=0)],
        {"SqsConsumer": fixture_spec("journal", "SqsConsumer")}, moto_endpoint,
        {"JOURNAL_DIR": str(journal.dir), "FAIL_ALWAYS": "poison"})
    try:
        # When: the poison message fails on every delivery
        dead = []
        deadline = time.monotonic() + 20
        while not dead and time.monotonic() < deadline:
            dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1,
                                       MessageSystemAttributeNames=["All"]).get("Messages", [])
        assert pollers.wait_idle(10)
    finally:
        _close(functions, pollers)

    # Then: it reached the DLQ after exactly maxReceiveCount deliveries
    assert [m["Body"] for m in dead] == ["poison"]
    assert journal.failed() == ["poison"] * 3
    receive_counts = [e["record"]["attributes"]["ApproximateReceiveCount"]
                      for e in journal.entries() if e["key"] == "poison"]
    assert receive_counts == ["1", "2", "3"]
    # ... and every other message was handled (and deleted) exactly once, in one first batch
    assert sorted(journal.succeeded()) == ["m0", "m1", "m3", "m4"]
    first_batch = {e["batch"] for e in journal.entries() if e["key"] == "m0"}
    assert {e["key"] for e in journal.entries() if e["batch"] in first_batch} == set(bodies)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert any("batch=5 failed=1" in line for line in lines)


def test_given_an_sqs_message_then_the_event_has_lambdas_sqs_record_shape(
        deployed_stack, moto_endpoint, fixture_spec, make_queue, journal):
    sqs, url, arn, _ = make_queue()
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    functions, pollers, _ = _run(deployed_stack, [_sqs_source(arn)],
                                 {"SqsConsumer": fixture_spec("journal", "SqsConsumer")}, moto_endpoint,
                                 {"JOURNAL_DIR": str(journal.dir)})
    try:
        assert journal.wait_for(lambda j: j.succeeded() == ["hello"])
    finally:
        close_seconds = _close(functions, pollers)

    record = journal.entries()[0]["record"]
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                            "md5OfBody", "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"]
    assert record["messageId"] == sent["MessageId"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
            "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "greeting", "binaryValue": None,
                                                   "stringListValues": [], "binaryListValues": [],
                                                   "dataType": "String"}
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert close_seconds < 3  # idle pollers stop promptly


def test_given_batch_size_and_a_window_then_messages_arrive_in_batches_no_larger_than_batch_size(
        deployed_stack, moto_endpoint, fixture_spec, make_queue, journal):
    sqs, url, arn, _ = make_queue(visibility=30)
    bodies = [f"w{i}" for i in range(7)]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
    functions, pollers, lines = _run(deployed_stack, [_sqs_source(arn, batch_size=3, window=1)],
                                     {"SqsConsumer": fixture_spec("journal", "SqsConsumer")}, moto_endpoint,
                                     {"JOURNAL_DIR": str(journal.dir)})
    try:
        assert pollers.wait_idle(10)
    finally:
        _close(functions, pollers)

    assert sorted(journal.succeeded()) == bodies
    sizes = {}
    for entry in journal.entries():
        sizes[entry["batch"]] = entry["size"]
    assert sorted(sizes.values()) == [1, 3, 3]
    assert len(lines) == 3


# ------------------------------------------------------------------------------ DynamoDB Streams


def _dispatch_source(stack: Stack, **changes) -> EventSource:
    """The tweets stream's mapping (dispatch also reads the users and graph streams)."""
    tweets = stack.outputs["TweetsTableName"]
    source = next(s for s in stack.event_sources
                  if s.function == "FanoutDispatchFunction" and f":table/{tweets}/" in s.source_arn)
    return dataclasses.replace(source, **changes)


def _put_tweets(endpoint, table, keys):
    ddb = _client("dynamodb", endpoint)
    for i, key in enumerate(keys):
        ddb.put_item(TableName=table, Item={"tweet_id": {"N": str(int(time.time() * 1e6) + i)},
                                            "author_id": {"N": "7"}, "key": {"S": key}})


def test_given_an_idle_queue_whose_poller_is_in_a_long_poll_then_wait_idle_says_so_without_waiting_for_the_poll(
        deployed_stack, moto_endpoint, fixture_spec, make_queue, journal, monkeypatch):
    # Given: a handled message, and a poller whose empty long polls last longer than the wait
    from infra.runtime import pollers as pollers_module
    monkeypatch.setattr(pollers_module, "SQS_LONG_POLL", 8)
    sqs, url, arn, _ = make_queue(visibility=30)
    sqs.send_message(QueueUrl=url, MessageBody="first")
    functions, pollers, _ = _run(deployed_stack, [_sqs_source(arn)],
                                 {"SqsConsumer": fixture_spec("journal", "SqsConsumer")}, moto_endpoint,
                                 {"JOURNAL_DIR": str(journal.dir)})
    try:
        assert journal.wait_for(lambda j: j.succeeded() == ["first"])
        # When: asked whether the pipeline is idle, with less time than one long poll takes
        idle = pollers.wait_idle(4)
        # Then: the queue itself answers (empty, nothing in flight); no poll had to come back empty
        assert idle
        # ... and a message sent now is not mistaken for idleness
        sqs.send_message(QueueUrl=url, MessageBody="second")  # also ends the poller's long poll
        assert pollers.wait_idle(10)
        assert sorted(journal.succeeded()) == ["first", "second"]
    finally:
        _close(functions, pollers)


def test_given_the_tweets_stream_then_each_insert_is_delivered_exactly_once_in_order(
        moto_endpoint, fixture_spec, journal):
    # Given: a fresh stack (its stream starts empty) and records written before the pollers
    # start, which TRIM_HORIZON must not miss
    stack = deploy(f"streams-{uuid.uuid4().hex[:6]}", endpoint_url=moto_endpoint)
    source = _dispatch_source(stack)
    assert source.starting_position == "TRIM_HORIZON"
    table = stack.physical_ids["TweetsTable"]
    keys = [f"t{i:02d}" for i in range(40)]
    functions, pollers, lines = _run(stack, [source], {"FanoutDispatchFunction": fixture_spec(
        "journal", "FanoutDispatchFunction")}, moto_endpoint, {"JOURNAL_DIR": str(journal.dir)})
    try:
        _put_tweets(moto_endpoint, table, keys[:20])
        time.sleep(0.3)
        # When: more records arrive while the pollers run
        _put_tweets(moto_endpoint, table, keys[20:])
        assert pollers.wait_idle(15)
    finally:
        _close(functions, pollers)

    # Then
    assert journal.succeeded() == keys
    assert journal.failed() == []
    records = [e["record"] for e in journal.entries()]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(keys)
    record = records[0]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == source.source_arn and record["awsRegion"] == "us-east-1"
    assert {"eventID", "eventVersion"} <= set(record)
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert record["dynamodb"]["NewImage"]["key"] == {"S": "t00"}
    assert set(record["dynamodb"]["Keys"]) == {"tweet_id"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert isinstance(record["dynamodb"]["SizeBytes"], int)
    assert all(e["size"] <= source.batch_size for e in journal.entries())
    assert any(line.startswith("FanoutDispatchFunction <- ") and " ms" in line for line in lines)


def test_given_a_stream_batch_with_a_reported_failure_then_it_is_retried_from_that_item(
        deployed_stack, moto_endpoint, fixture_spec, journal):
    source = _dispatch_source(deployed_stack, starting_position="LATEST")
    keys = [f"p{i}" for i in range(10)]
    functions, pollers, _ = _run(deployed_stack, [source], {"FanoutDispatchFunction": fixture_spec(
        "journal", "FanoutDispatchFunction")}, moto_endpoint,
        {"JOURNAL_DIR": str(journal.dir), "FAIL_ONCE": "p4"})
    try:
        # When: ten records land within one batching window and p4 fails its first delivery
        _put_tweets(moto_endpoint, deployed_stack.physical_ids["TweetsTable"], keys)
        assert pollers.wait_idle(15)
    finally:
        _close(functions, pollers)

    entries = journal.entries()
    assert journal.succeeded() == keys  # each exactly once, in order
    assert journal.failed() == ["p4"]
    failed_at = next(i for i, e in enumerate(entries) if not e["ok"])
    assert entries[failed_at - 1]["key"] == "p3"
    retry = entries[failed_at + 1]
    assert retry["key"] == "p4" and retry["position"] == 0  # the retried batch starts at p4


def test_given_a_poison_stream_record_then_bisect_isolates_it_and_it_goes_to_on_failure_after_retries(
        deployed_stack, moto_endpoint, fixture_spec, journal):
    source = _dispatch_source(deployed_stack, starting_position="LATEST")
    assert source.bisect_on_error and source.maximum_retry_attempts is not None and source.on_failure_arn
    sqs = _client("sqs", moto_endpoint)
    failure_queue = deployed_stack.physical_ids["DispatchFailureQueue"]
    keys = [f"b{i}" for i in range(8)]
    functions, pollers, lines = _run(deployed_stack, [source], {"FanoutDispatchFunction": fixture_spec(
        "journal", "FanoutDispatchFunction")}, moto_endpoint,
        {"JOURNAL_DIR": str(journal.dir), "FAIL_ALWAYS": "b5", "FAIL_MODE": "raise"})
    try:
        # When: b5 makes every batch containing it raise
        _put_tweets(moto_endpoint, deployed_stack.physical_ids["TweetsTable"], keys)
        assert pollers.wait_idle(20)
    finally:
        _close(functions, pollers)

    # Then: every other record was handled, first in order (records sharing a batch that
    # raised are redelivered: at-least-once, as in Lambda), and b5 alone was discarded
    succeeded = journal.succeeded()
    assert list(dict.fromkeys(succeeded)) == [k for k in keys if k != "b5"]
    assert succeeded.count("b6") == succeeded.count("b7") == 1
    single_attempts = [e for e in journal.entries() if e["key"] == "b5" and e["size"] == 1]
    assert len(single_attempts) == source.maximum_retry_attempts + 1
    message = sqs.receive_message(QueueUrl=failure_queue, WaitTimeSeconds=1)["Messages"][0]
    record = json.loads(message["Body"])
    b5 = next(e["record"] for e in journal.entries() if e["key"] == "b5")
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == b5["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1 and info["streamArn"] == source.source_arn and info["shardId"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"].endswith(deployed_stack.physical_ids["FanoutDispatchFunction"])
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert any("discarded 1 record(s)" in line for line in lines)


# ------------------------------------------------------------------------------ Kinesis


def test_given_a_kinesis_stream_then_records_arrive_in_order_with_lambdas_kinesis_shape(
        deployed_stack, moto_endpoint, fixture_spec, journal):
    kinesis = _client("kinesis", moto_endpoint)
    name = f"fixture-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    source = EventSource(uuid=str(uuid.uuid4()), function="KinesisConsumer", source_arn=arn, batch_size=3,
                         batching_window=0, starting_position="TRIM_HORIZON", report_failures=True,
                         bisect_on_error=False, maximum_retry_attempts=2, on_failure_arn=None)
    for i in range(7):
        kinesis.put_record(StreamName=name, Data=f"k{i}".encode(), PartitionKey="p")
    functions, pollers, _ = _run(deployed_stack, [source], {"KinesisConsumer": fixture_spec(
        "journal", "KinesisConsumer")}, moto_endpoint, {"JOURNAL_DIR": str(journal.dir)})
    try:
        assert pollers.wait_idle(10)
    finally:
        _close(functions, pollers)

    assert journal.succeeded() == [f"k{i}" for i in range(7)]
    assert max(e["size"] for e in journal.entries()) == 3
    record = journal.entries()[0]["record"]
    assert record["eventSource"] == "aws:kinesis" and record["eventName"] == "aws:kinesis:record"
    assert record["eventID"].endswith(":" + record["kinesis"]["sequenceNumber"])
    assert record["kinesis"]["partitionKey"] == "p" and record["eventSourceARN"] == arn
