"""Fan-out queue -> timeline entries, one message (a chunk of followers) at a time.

A batch's `add` messages are applied together first (their entries share BatchWriteItems,
their checks are two reads per batch: FanoutApplier.add_all), each add's record then
reports that outcome; its `sync_follow` messages' follow edges are read in one request,
each sync starting from its own; the other messages are applied side by side (the queue keeps no
order, and every message is safe to apply in any order: timeline.record_batches). Failed
messages are reported in batchItemFailures and come back after the queue's visibility
timeout; after maxReceiveCount they move to the dead-letter queue.

Each message's work logs with the correlation id it carries (the request that caused it).
Per batch: TimelineEntriesWritten (entries its `add` messages wrote) and FanoutLag (for
each post, epoch ms from its creation, which its id holds, to its entries written).
"""

import json
import threading
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from timeline import clock, ids
from timeline.observability import CORRELATION_ATTRIBUTE, correlated, logger, metrics
from timeline.record_batches import ConcurrentRecords
from timeline.service import messages
from timeline.service.fanout import Add
from timeline.service.container import build_services
from timeline.settings import get_settings

services = build_services(get_settings())
records = ConcurrentRecords(EventType.SQS, workers=10)  # a batch is at most 10 messages


@dataclass
class BatchTally:
    """What one batch's `add` messages did, emitted once per invocation (messages are applied
    on several threads: `added` takes a lock)."""
    entries: int = 0
    lag_ms: dict[int, int] = field(default_factory=dict)  # post id -> ms from created to written
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def added(self, tweet_id: int, owners: int, now_ms: int) -> None:
        with self._lock:
            self.entries += owners
            self.lag_ms[tweet_id] = max(self.lag_ms.get(tweet_id, 0), now_ms - ids.timestamp_ms(tweet_id))

    def emit(self) -> None:
        """Add the batch's metrics (flushed by log_metrics) and start the next batch empty."""
        if self.entries:
            metrics.add_metric(name="TimelineEntriesWritten", unit=MetricUnit.Count, value=self.entries)
        for lag in self.lag_ms.values():  # a batch holds at most ten posts: ten values
            metrics.add_metric(name="FanoutLag", unit=MetricUnit.Milliseconds, value=max(0, lag))
        self.entries, self.lag_ms = 0, {}


tally = BatchTally()


class AddsNotWritten(Exception):
    """This `add` was applied with the batch's other adds, and that failed (logged once)."""


def _of_op(raw_records: list[dict], op: str, parse):
    """message id -> parse(message) for the batch's well-formed messages of one op; a
    malformed one is left out, to fail on its own when its record runs."""
    parsed = {}
    for raw in raw_records:
        try:
            message = json.loads(raw["body"])
            if isinstance(message, dict) and message.get("op") == op:
                parsed[raw["messageId"]] = parse(message)
        except (KeyError, TypeError, ValueError):
            continue
    return parsed


class AddGroup:
    """The batch's well-formed `add` messages (by message id), applied together before the
    batch's records run; a malformed one is left to fail on its own."""

    def __init__(self, raw_records: list[dict]):
        self.adds: dict[str, Add] = _of_op(raw_records, messages.ADD, Add.of)
        self.error: Exception | None = None

    def apply(self) -> None:
        if not self.adds:
            return
        try:
            services.applier.add_all(list(self.adds.values()))
        except Exception as exc:  # every add of the batch is reported, and comes back
            self.error = exc
            logger.exception("fan-out adds failed", extra={"messages": len(self.adds)})

    def settle(self, message_id: str) -> None:
        """The outcome for one add's record: raise if the group failed, else count it."""
        if self.error is not None:
            raise AddsNotWritten(f"applied with {len(self.adds)} adds, which failed: {self.error!r}")
        add = self.adds[message_id]
        tally.added(add.entry.tweet_id, len(add.owners), clock.now_ms())
        logger.debug("entries written", extra={"tweet_id": str(add.entry.tweet_id), "owners": len(add.owners)})


class FollowSyncs:
    """The batch's `sync_follow` messages: the follow edges they start from are read in one
    request before the records run, and each sync starts from its pair's state. If that read
    fails, each sync reads its own, as a lone message does."""

    def __init__(self, raw_records: list[dict]):
        self.pairs: dict[str, tuple[int, int]] = _of_op(
            raw_records, messages.SYNC_FOLLOW, lambda m: (int(m["owner"]), int(m["account"])))
        self.states: dict[tuple[int, int], bool | None] = {}

    def read(self) -> None:
        if len(self.pairs) < 2:
            return  # one message reads its own edge: the same one request
        try:
            self.states = services.applier.follow_states(set(self.pairs.values()))
        except Exception:
            logger.warning("follow edges not read together: each sync reads its own", exc_info=True)

    def run(self, message_id: str) -> bool:
        """Apply this message's sync from the state read; False if it was not read."""
        pair = self.pairs.get(message_id)
        if pair is None or pair not in self.states:
            return False
        services.applier.sync_follow(*pair, state=self.states[pair])
        return True


def _apply(message: dict) -> None:
    op = message.get("op")
    if op == messages.ATTACH_MEDIA:
        services.media_upkeep.attach(messages.media_of(message))
        return
    if op == messages.DELETE_MEDIA:
        services.media_upkeep.delete(messages.media_of(message))
        return
    services.applier.apply(message)


def _correlation_of(record: SQSRecord) -> str | None:
    attribute = (record.get("messageAttributes") or {}).get(CORRELATION_ATTRIBUTE) or {}
    return attribute.get("stringValue")


def record_handler(record: SQSRecord, group: AddGroup, syncs: FollowSyncs) -> None:
    with correlated(_correlation_of(record)):
        try:
            if record.message_id in group.adds:
                group.settle(record.message_id)
            elif not syncs.run(record.message_id):
                _apply(json.loads(record.body))
        except Exception:
            # The batch reports the message for redelivery; this line says why, with its id.
            logger.exception("fan-out message failed", extra={"message_id": record.message_id})
            raise


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    try:
        raw = event.get("Records") or []
        group, syncs = AddGroup(raw), FollowSyncs(raw)
        syncs.read()
        group.apply()
        return records.process(event, context, lambda record: record_handler(record, group, syncs))
    finally:
        tally.emit()
