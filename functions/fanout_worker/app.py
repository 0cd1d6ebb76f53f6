"""Fan-out queue -> timeline entries, one message (a chunk of followers) at a time.

A batch's `add` messages are applied together first (their entries share BatchWriteItems,
their checks are two reads per batch: FanoutApplier.add_all), each add's record then
reports that outcome; the other messages are applied side by side (the queue keeps no
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


class AddGroup:
    """The batch's well-formed `add` messages (by message id), applied together before the
    batch's records run; a malformed one is left to fail on its own."""

    def __init__(self, raw_records: list[dict]):
        self.adds: dict[str, Add] = {}
        self.error: Exception | None = None
        for raw in raw_records:
            try:
                message = json.loads(raw["body"])
                if isinstance(message, dict) and message.get("op") == messages.ADD:
                    self.adds[raw["messageId"]] = Add.of(message)
            except (KeyError, TypeError, ValueError):
                continue

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


def record_handler(record: SQSRecord, group: AddGroup) -> None:
    with correlated(_correlation_of(record)):
        try:
            if record.message_id in group.adds:
                group.settle(record.message_id)
            else:
                _apply(json.loads(record.body))
        except Exception:
            # The batch reports the message for redelivery; this line says why, with its id.
            logger.exception("fan-out message failed", extra={"message_id": record.message_id})
            raise


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    try:
        group = AddGroup(event.get("Records") or [])
        group.apply()
        return records.process(event, context, lambda record: record_handler(record, group))
    finally:
        tally.emit()
