"""Event source mappings, run locally: one poller thread per mapping the stack created.

Lambda's pollers are part of the service, not of the function; the emulator cannot run them
(it cannot invoke anything without Docker), so the local runtime does, with Lambda's rules:

SQS (`_QueuePoller`): long-poll, gather up to BatchSize messages within the batching window,
invoke, delete what succeeded. Up to SQS_CONCURRENT_BATCHES batches of one mapping are in
flight at once (Lambda starts with five pollers): the poller hands each batch to its own
thread and goes on receiving, so concurrent writes to one timeline and trims racing adds
happen here as they do on AWS. With ReportBatchItemFailures only the reported messages stay;
an error (exception, timeout) keeps the whole batch. Kept messages reappear after the queue's
visibility timeout and the queue's own redrive policy moves them to its DLQ, as in AWS.

Streams (`_StreamPoller`, DynamoDB Streams and Kinesis): each shard is read in order and
checkpointed by sequence number; records after the checkpoint stay buffered until handled, so
none is skipped and none is handled twice in a healthy run. On failure the batch is retried
from the first reported item (ReportBatchItemFailures), split in two on a function error
(BisectBatchOnFunctionError, splits do not count as retries), and after MaximumRetryAttempts
a Lambda-shaped on-failure record goes to the destination and the shard moves on. Children of
a split shard start when their parent is drained.

`Pollers.wait_idle()` answers "has the fan-out settled?" for tests and the demo seeder.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.runtime.deployer import EventSource, Stack
from infra.runtime.functions import FunctionError, LocalFunctions

_log = logging.getLogger("infra.runtime.pollers")

SQS_LONG_POLL = 1  # seconds; bounds how long close() waits for an idle queue poller
# Backoff between polls of a quiet stream, capped at Lambda's rate: it polls each shard
# four times a second, so a record waits at most 250 ms for its poll.
STREAM_IDLE_MIN, STREAM_IDLE_MAX = 0.05, 0.25
WINDOW_TICK = 0.05  # how often a filling batch is topped up while its window is open
DISCOVERY_INTERVAL = 5.0  # seconds between DescribeStream calls looking for new shards
RETRY_BACKOFF_MAX = 2.0
SQS_CONCURRENT_BATCHES = 5  # Lambda's initial pollers per SQS event source mapping
JOIN_TIMEOUT = 10.0


class DeliveryFaults:
    """At-least-once delivery as AWS practises it, on a seeded schedule (issue 24's chaos soak):
    a share of the stream batches a function handled is delivered again, whole (Lambda does
    when an invocation's answer is lost), and a share of the queue messages it handled is not
    deleted, so each comes back after its visibility timeout (SQS redelivers a message whose
    receipt was not deleted in time). `injected` counts them, per kind."""

    def __init__(self, *, duplicate_stream_batches: float = 0.0, redeliver_messages: float = 0.0, seed: int = 0):
        for share in (duplicate_stream_batches, redeliver_messages):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"a fault rate is a share, from 0 to 1: {share!r}")
        self.duplicate_stream_batches, self.redeliver_messages = duplicate_stream_batches, redeliver_messages
        self._rng, self._lock = random.Random(seed), threading.Lock()
        self.injected = {"duplicate_stream_batches": 0, "redelivered_messages": 0}

    _SHARES: ClassVar[dict[str, str]] = {"duplicate_stream_batches": "duplicate_stream_batches",
                                         "redelivered_messages": "redeliver_messages"}

    def strikes(self, kind: str) -> bool:
        """Whether this batch (or message) gets the fault `kind`, at its share as set now; counted."""
        share = getattr(self, self._SHARES[kind])
        if share <= 0.0:
            return False
        with self._lock:
            hit = self._rng.random() < share
            if hit:
                self.injected[kind] += 1
            return hit


class Pollers:
    """Every event source mapping of a stack, polled in the background."""

    def __init__(self, pollers: list[_Poller], activity: _Activity):
        self._pollers = pollers
        self._activity = activity

    @classmethod
    def start(cls, stack: Stack, functions: LocalFunctions, *, endpoint_url: str,
              log: Callable[[str], None] | None = None, faults: DeliveryFaults | None = None) -> Pollers:
        """Poll every enabled mapping; with `faults`, deliver some batches and messages twice."""
        activity, clients = _Activity(), _Clients(stack, endpoint_url)
        log = log or _log.info
        pollers: list[_Poller] = []
        for source in stack.event_sources:
            kind = source.source_arn.split(":")[2]
            if not source.enabled:
                log(f"event source {source.source_arn}: disabled in the template (Enabled: false), not polled")
                continue
            poller_cls = {"sqs": _QueuePoller, "dynamodb": _StreamPoller, "kinesis": _StreamPoller}.get(kind)
            if poller_cls is None:
                log(f"event source {source.source_arn}: unsupported service {kind!r}, not polled")
                continue
            pollers.append(poller_cls(stack, source, functions, clients, log, activity, faults))
        # Side by side (each is a few requests, slow while the demo loads), and all done before
        # this returns, so LATEST means "from now" for the caller.
        with ThreadPoolExecutor(max(1, len(pollers)), thread_name_prefix="prime") as priming:
            list(priming.map(lambda poller: poller.prime(), pollers))
        for poller in pollers:
            poller.start()
        return cls(pollers, activity)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every queue is empty and every stream is caught up.

        A poller that saw nothing to do may be stale a moment later (a handler of another
        poller just produced work for it), so this waits for a whole round, from a mark, in
        which every stream poller looked and found nothing, every queue then shows no message
        (waiting, in flight or delayed) and no batch of its own, *and* no batch started or
        finished anywhere. The queues are asked, not their pollers: a poller learns that its
        queue is empty only when a long poll comes back with nothing, up to SQS_LONG_POLL
        after the queue emptied, and twice that to cover a poll already under way at the
        mark; that was most of the time the demo spent between its steps.
        """
        deadline = time.monotonic() + timeout
        ordered = sorted(self._pollers, key=lambda p: isinstance(p, _QueuePoller))  # local checks first
        while time.monotonic() < deadline:
            mark, events = time.monotonic(), self._activity.events
            while (busy := next((p for p in ordered if not p.settled_since(mark)), None)) is not None:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.1 if isinstance(busy, _QueuePoller) else 0.02)  # a queue is a request
            if self._activity.events == events:
                return True
        return False

    def close(self) -> None:
        for poller in self._pollers:
            poller.stop_event.set()
        for poller in self._pollers:
            poller.join(JOIN_TIMEOUT)
            if poller.is_alive():
                _log.warning("%s did not stop within %.0f s (a handler is still running)",
                             poller.name, JOIN_TIMEOUT)

    def __enter__(self) -> Pollers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Clients:
    """The pollers' boto3 clients, from one session: each service's model is loaded once for
    all of them, not once per poller (each load is 0.1-1 s at startup, while the demo loads).
    A boto3 session is not thread-safe, so making a client takes a lock; clients are."""

    def __init__(self, stack: Stack, endpoint_url: str):
        self._session, self._lock, self._endpoint_url = _session(stack), threading.Lock(), endpoint_url
        # Long polls must not trip the client's read timeout; retries stay botocore's.
        self._config = Config(read_timeout=SQS_LONG_POLL + 30, retries={"mode": "standard"})

    def __call__(self, service: str, region: str) -> Any:
        with self._lock:
            return self._session.client(service, endpoint_url=self._endpoint_url, region_name=region,
                                        config=self._config)


def _session(stack: Stack) -> boto3.Session:
    """The caller's credentials (the stack was deployed with them; LocalStack maps access
    keys to accounts), or throwaway ones when there are none."""
    session = boto3.Session(region_name=stack.region)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=stack.region, aws_access_key_id="testing",
                                aws_secret_access_key="testing")
    return session


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ReceiveMessage message as Lambda hands it to a function."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {name: {
            "stringValue": attr.get("StringValue"),
            "binaryValue": _jsonable(attr["BinaryValue"]) if "BinaryValue" in attr else None,
            "stringListValues": attr.get("StringListValues", []),
            "binaryListValues": _jsonable(attr.get("BinaryListValues", [])),
            "dataType": attr["DataType"],
        } for name, attr in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return record


def dynamodb_stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB Streams GetRecords record as Lambda hands it to a function."""
    record = {k: raw[k] for k in ("eventID", "eventName", "eventVersion", "eventSource") if k in raw}
    record["awsRegion"] = region  # moto always says us-east-1
    record["dynamodb"] = _jsonable(raw["dynamodb"])
    if "ApproximateCreationDateTime" in record["dynamodb"]:  # Lambda sends whole seconds
        record["dynamodb"]["ApproximateCreationDateTime"] = int(record["dynamodb"]["ApproximateCreationDateTime"])
    if "userIdentity" in raw:  # TTL deletions
        record["userIdentity"] = raw["userIdentity"]
    record["eventSourceARN"] = stream_arn
    return record


# ------------------------------------------------------------------------------ shared


class _Activity:
    """Counts batch starts and ends across all pollers (see Pollers.wait_idle)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events = 0

    def bump(self) -> None:
        with self._lock:
            self.events += 1


class _Poller(threading.Thread):
    def __init__(self, stack: Stack, source: EventSource, functions: LocalFunctions,
                 clients: _Clients, log: Callable[[str], None], activity: _Activity,
                 faults: DeliveryFaults | None = None):
        self.source, self.faults = source, faults
        self.label = f"{source.function} <- {_short_name(source.source_arn)}"
        super().__init__(name=f"poller {self.label}", daemon=True)
        self.stack, self.functions, self.log, self.activity = stack, functions, log, activity
        self.region = source.source_arn.split(":")[3]
        self.function_arn = _function_arn(stack, source)
        self.client = lambda name: clients(name, self.region)
        self.stop_event = threading.Event()
        # Start time of this poller's latest look that found nothing to do; None while busy
        # (a stream poller's; a queue poller's queue is asked instead, see settled_since).
        self.idle_since: float | None = None

    def prime(self) -> None:
        """Work to do before the thread starts (e.g. take shard iterators)."""

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # a poller must outlive a flaky emulator call
                self.idle_since = None
                _log.exception("%s: poll failed: %s", self.label, exc)
                self.stop_event.wait(1.0)

    def poll_once(self) -> None:
        raise NotImplementedError

    def settled_since(self, mark: float) -> bool:
        """Whether this poller found nothing to do in a look that started at or after `mark`."""
        return self.idle_since is not None and self.idle_since >= mark

    def invoke(self, records: list[dict[str, Any]], identifier: Callable[[dict], str]) -> _Outcome:
        """Invoke the function with one batch and log one line about it."""
        self.activity.bump()
        started = time.perf_counter()
        try:
            result = self.functions.invoke(self.source.function, {"Records": records})
            outcome = _Outcome(self._reported_failures(result, records, identifier), None)
        except FunctionError as exc:
            outcome = _Outcome(list(range(len(records))), f"{exc.error_type}: {exc.error_message}")
        finally:
            self.activity.bump()
        self.log(f"{self.label} batch={len(records)} failed={len(outcome.failed)} "
                 f"{(time.perf_counter() - started) * 1000:.0f} ms"
                 + (f" error={outcome.error[:200]}" if outcome.error else ""))
        return outcome

    def _reported_failures(self, result: Any, records: list[dict], identifier: Callable[[dict], str]
                           ) -> list[int]:
        """Indexes named in batchItemFailures. Without ReportBatchItemFailures any result is
        success; with it, an unknown or empty itemIdentifier fails the batch, as in Lambda."""
        if not self.source.report_failures or not isinstance(result, dict):
            return []
        position = {identifier(r): i for i, r in enumerate(records)}
        failed = set()
        for failure in result.get("batchItemFailures") or []:
            item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not item or item not in position:
                _log.warning("%s: invalid batchItemFailures entry %r: whole batch failed", self.label, failure)
                return list(range(len(records)))
            failed.add(position[item])
        return sorted(failed)


@dataclass
class _Outcome:
    failed: list[int]  # indexes of the records that failed, ascending; empty: all succeeded
    error: str | None  # the function raised or timed out (then every record failed)


def _short_name(arn: str) -> str:
    resource = arn.split(":", 5)[5]
    return resource.split("/")[1] if resource.startswith(("table/", "stream/")) else resource


def _function_arn(stack: Stack, source: EventSource) -> str:
    account = source.source_arn.split(":")[4]
    name = stack.physical_ids.get(source.function) or source.function
    return f"arn:aws:lambda:{stack.region}:{account}:function:{name}"


def _jsonable(value: Any) -> Any:
    """boto3 parses what Lambda passes through raw: bytes back to base64, times to epoch."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


# ------------------------------------------------------------------------------ SQS


class _QueuePoller(_Poller):
    def prime(self) -> None:
        self.sqs = self.client("sqs")
        _, _, _, _, account, name = self.source.source_arn.split(":", 5)
        self.queue_url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        # ScalingConfig.MaximumConcurrency caps the batches in flight, as it caps Lambda's pollers.
        slots = min(SQS_CONCURRENT_BATCHES, self.source.max_concurrency or SQS_CONCURRENT_BATCHES)
        self._slots = threading.Semaphore(slots)
        self._batches = ThreadPoolExecutor(slots, thread_name_prefix=f"batch {self.label}")
        self._in_flight = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        super().run()
        self._batches.shutdown(wait=True)  # batches in flight finish (and delete) before close returns

    def poll_once(self) -> None:
        while not self._slots.acquire(timeout=SQS_LONG_POLL):  # every batch slot is busy
            if self.stop_event.is_set():
                return
        try:
            messages = self._gather()
        except BaseException:
            self._slots.release()
            raise
        if not messages:
            self._slots.release()
            return
        with self._lock:
            self._in_flight += 1
        self._batches.submit(self._handle, messages)

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._handle_batch(messages)
        except Exception as exc:  # the messages stay; they come back after the visibility timeout
            _log.exception("%s: batch failed: %s", self.label, exc)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()

    def _handle_batch(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(m) for m in messages]
        outcome = self.invoke(records, lambda r: r["messageId"])
        # Failed messages are left alone: they reappear after the visibility timeout and the
        # queue's redrive policy counts the receives. SQS has no order, so exactly they stay.
        failed = set(outcome.failed)
        done = [r for i, r in enumerate(records) if i not in failed]
        if self.faults is not None:  # a chaos fault: handled, not deleted, so it comes back
            done = [r for r in done if not self.faults.strikes("redelivered_messages")]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)])
            for failure in response.get("Failed", []):
                _log.warning("%s: delete failed: %s", self.label, failure)

    def _gather(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: long-poll for the first, then top up until the batch is
        full or the batching window (counted from the first message) closes."""
        batch: dict[str, dict[str, Any]] = {}  # by MessageId, in arrival order
        window_closes = None
        while len(batch) < self.source.batch_size and not self.stop_event.is_set():
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.source.batch_size - len(batch)),
                WaitTimeSeconds=0 if batch else SQS_LONG_POLL,
                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch and not received:
                return []
            if window_closes is None:
                window_closes = time.monotonic() + self.source.batching_window
            # A visibility timeout shorter than the window hands us a message again: keep
            # one copy with the newest receipt handle (deleting by a stale one would be
            # honoured by moto and drop a message we report as failed).
            batch.update((m["MessageId"], m) for m in received)
            remaining = window_closes - time.monotonic()
            if remaining <= 0:
                break
            if not received:
                self.stop_event.wait(min(WINDOW_TICK * 2, remaining))
        return list(batch.values())

    def settled_since(self, mark: float) -> bool:
        """No batch of this mapping in flight, and the queue, asked now (after `mark`), holds
        no message: a received one counts as in flight until its batch deletes it."""
        with self._lock:
            if self._in_flight:
                return False
        try:
            return self._drained()
        except Exception as exc:  # an emulator that does not answer is not idle
            _log.debug("%s: queue attributes unavailable: %s", self.label, exc)
            return False

    def _drained(self) -> bool:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return all(int(v) == 0 for v in attrs.values())

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_record(message, self.source.source_arn, self.region)


# ------------------------------------------------------------------------------ streams


class _DynamoStreamApi:
    batch_info_key = "DDBStreamBatchInfo"
    max_limit = 1000

    def __init__(self, client_factory, arn: str, region: str):
        self.client, self.arn, self.region = client_factory("dynamodbstreams"), arn, region

    def shards(self) -> list[dict[str, Any]]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self.client.describe_stream(**kwargs)["StreamDescription"]
            shards += description["Shards"]
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str:
        kwargs = {"SequenceNumber": sequence} if sequence else {}
        return self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id,
                                              ShardIteratorType=kind, **kwargs)["ShardIterator"]

    def read(self, iterator: str, limit: int, shard_id: str) -> tuple[list[dict], str | None]:
        response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, self.max_limit))
        records = [dynamodb_stream_record(raw, self.arn, self.region) for raw in response["Records"]]
        return records, response.get("NextShardIterator")

    @staticmethod
    def sequence(record: dict) -> str:
        return record["dynamodb"]["SequenceNumber"]

    @staticmethod
    def arrival(record: dict) -> float:
        return float(record["dynamodb"].get("ApproximateCreationDateTime", time.time()))


class _KinesisApi:
    batch_info_key = "KinesisBatchInfo"
    max_limit = 10000

    def __init__(self, client_factory, arn: str, region: str):
        self.client, self.arn, self.region = client_factory("kinesis"), arn, region
        self.name = arn.split(":", 5)[5].split("/", 1)[1]
        self.role = f"arn:aws:iam::{arn.split(':')[4]}:role/local-event-source-mapping"

    def shards(self) -> list[dict[str, Any]]:
        shards, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {"StreamName": self.name}
            response = self.client.list_shards(**kwargs)
            shards += response["Shards"]
            token = response.get("NextToken")
            if not token:
                return shards

    def iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str:
        kwargs = {"StartingSequenceNumber": sequence} if sequence else {}
        return self.client.get_shard_iterator(StreamName=self.name, ShardId=shard_id,
                                              ShardIteratorType=kind, **kwargs)["ShardIterator"]

    def read(self, iterator: str, limit: int, shard_id: str) -> tuple[list[dict], str | None]:
        response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, self.max_limit))
        records = [{
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": raw["SequenceNumber"],
                "data": base64.b64encode(raw["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": raw["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{raw['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role,
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        } for raw in response["Records"]]
        return records, response.get("NextShardIterator")

    @staticmethod
    def sequence(record: dict) -> str:
        return record["kinesis"]["sequenceNumber"]

    @staticmethod
    def arrival(record: dict) -> float:
        return float(record["kinesis"]["approximateArrivalTimestamp"])


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    start_at: str  # shard iterator type for the first read
    iterator: str | None = None
    started: bool = False
    finished: bool = False  # the shard is closed and everything in it was handled
    buffer: list[dict] = field(default_factory=list)  # read, not yet checkpointed, in order
    checkpoint: str | None = None  # sequence number of the last record handled
    last_read: str | None = None
    first_buffered_at: float | None = None
    limit: int = 0  # current batch size (shrinks while bisecting)
    attempts: int = 0  # failed attempts of the batch at the head of the buffer
    retry_at: float = 0.0


class _StreamPoller(_Poller):
    def prime(self) -> None:
        api_cls = _DynamoStreamApi if self.source.source_arn.split(":")[2] == "dynamodb" else _KinesisApi
        self.api = api_cls(self.client, self.source.source_arn, self.region)
        self.shards: dict[str, _Shard] = {}
        self.next_discovery = 0.0
        self.idle_sleep = STREAM_IDLE_MIN
        self._discover(initial=True)
        for shard in self.shards.values():  # now, so that LATEST means "after start() returned"
            if self._ready(shard):
                self._open(shard)

    def _discover(self, initial: bool = False) -> None:
        for info in self.api.shards():
            if info["ShardId"] not in self.shards:
                # Shards found later were created after we started: read them whole.
                start_at = (self.source.starting_position or "TRIM_HORIZON") if initial else "TRIM_HORIZON"
                self.shards[info["ShardId"]] = _Shard(info["ShardId"], info.get("ParentShardId"),
                                                      start_at, limit=self.source.batch_size)
        self.next_discovery = time.monotonic() + DISCOVERY_INTERVAL

    def _ready(self, shard: _Shard) -> bool:
        """A child shard waits until its parent (if we know it) is drained."""
        parent = self.shards.get(shard.parent_id or "")
        return not shard.finished and (parent is None or parent.finished)

    def poll_once(self) -> None:
        looked_at = time.monotonic()
        if looked_at >= self.next_discovery:
            self._discover()
        states = [self._poll_shard(shard) for shard in list(self.shards.values()) if self._ready(shard)]
        if "worked" in states:
            self.idle_since, self.idle_sleep = None, STREAM_IDLE_MIN
        elif "waiting" in states:
            self.idle_since = None
            self.stop_event.wait(WINDOW_TICK)
        else:
            self.idle_since = looked_at
            self.stop_event.wait(self.idle_sleep)
            self.idle_sleep = min(self.idle_sleep * 2, STREAM_IDLE_MAX)

    def _poll_shard(self, shard: _Shard) -> str:
        """'worked' (invoked), 'waiting' (records held for the window or a retry) or 'idle'."""
        if not shard.started:
            self._open(shard)
        if shard.iterator and len(shard.buffer) < shard.limit:
            self._read(shard)
        if not shard.buffer:
            if shard.iterator is None:
                shard.finished = True
                self.log(f"{self.label} shard {shard.shard_id} closed and drained")
            return "idle"
        now = time.monotonic()
        window_open = now - (shard.first_buffered_at or now) < self.source.batching_window
        if (len(shard.buffer) < shard.limit and window_open and shard.iterator) or now < shard.retry_at:
            return "waiting"
        self._deliver(shard)
        return "worked"

    def _open(self, shard: _Shard) -> None:
        shard.iterator = self.api.iterator(shard.shard_id, shard.start_at)
        shard.started = True

    def _read(self, shard: _Shard) -> None:
        try:
            records, shard.iterator = self.api.read(shard.iterator, shard.limit - len(shard.buffer), shard.shard_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExpiredIteratorException":
                raise
            # Pick up right after the last record read (or where we would have started).
            shard.iterator = (self.api.iterator(shard.shard_id, "AFTER_SEQUENCE_NUMBER", shard.last_read)
                              if shard.last_read else self.api.iterator(shard.shard_id, shard.start_at))
            return
        if records:
            if not shard.buffer:
                shard.first_buffered_at = time.monotonic()
            shard.buffer.extend(records)
            shard.last_read = self.api.sequence(records[-1])

    def _deliver(self, shard: _Shard) -> None:
        batch = shard.buffer[:shard.limit]
        outcome = self.invoke(batch, self.api.sequence)
        if (not outcome.failed and self.faults is not None
                and self.faults.strikes("duplicate_stream_batches")):
            outcome = self.invoke(batch, self.api.sequence)  # a chaos fault: the same batch again
        error = outcome.error
        if not outcome.failed:
            self._checkpoint(shard, len(batch))
            shard.limit, shard.attempts, shard.retry_at = self.source.batch_size, 0, 0.0
            return
        first_failed = outcome.failed[0]
        if first_failed > 0:  # everything before the first reported failure is done
            self._checkpoint(shard, first_failed)
            batch = batch[first_failed:]
        if error is not None and self.source.bisect_on_error and len(batch) > 1:
            shard.limit = (len(batch) + 1) // 2  # a split is not a retry
            return
        shard.limit = len(batch)  # retry exactly this batch
        shard.attempts += 1
        max_retries = self.source.maximum_retry_attempts
        if max_retries is None or max_retries < 0 or shard.attempts <= max_retries:
            shard.retry_at = time.monotonic() + min(0.1 * 2 ** (shard.attempts - 1), RETRY_BACKOFF_MAX)
            return
        self._send_to_on_failure(shard, batch, error)
        self._checkpoint(shard, len(batch))
        shard.limit, shard.attempts, shard.retry_at = self.source.batch_size, 0, 0.0

    def _checkpoint(self, shard: _Shard, count: int) -> None:
        shard.checkpoint = self.api.sequence(shard.buffer[count - 1])
        del shard.buffer[:count]
        shard.first_buffered_at = time.monotonic() if shard.buffer else None

    def _send_to_on_failure(self, shard: _Shard, batch: list[dict], error: str | None) -> None:
        """Lambda's invocation record for a discarded stream batch: pointers, not data."""
        iso = lambda ts: dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        record = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.function_arn,
                               "condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": shard.attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                **({"functionError": "Unhandled"} if error else {})},
            "version": "1.0",
            "timestamp": iso(time.time()),
            self.api.batch_info_key: {
                "shardId": shard.shard_id,
                "startSequenceNumber": self.api.sequence(batch[0]),
                "endSequenceNumber": self.api.sequence(batch[-1]),
                "approximateArrivalOfFirstRecord": iso(self.api.arrival(batch[0])),
                "approximateArrivalOfLastRecord": iso(self.api.arrival(batch[-1])),
                "batchSize": len(batch),
                "streamArn": self.source.source_arn,
            },
        }
        destination = self.source.on_failure_arn
        self.log(f"{self.label} discarded {len(batch)} record(s) after {shard.attempts} attempt(s)"
                 f" -> {_short_name(destination) if destination else 'nowhere (no on-failure destination)'}")
        if not destination:
            return
        body = json.dumps(record)
        _, _, service, _, account, name = destination.split(":", 5)
        if service == "sqs":
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self.client("sns").publish(TopicArn=destination, Message=body)
        else:
            _log.warning("%s: unsupported on-failure destination %s", self.label, destination)
