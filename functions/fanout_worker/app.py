"""Fan-out queue -> timeline entries, one message (a chunk of followers) at a time.

Each record's body is parsed once into its model (timeline.service.messages), and `apply`
dispatches on the model's kind; a body that does not parse fails its record, as any failed
message does. A batch's `add` messages are applied together first (their entries share
BatchWriteItems, their checks are two reads per batch: FanoutApplier.add_all), each add's
record then reports that outcome; its `sync_follow` messages' follow edges are read in one
request, each sync starting from its own; the other messages are applied side by side (the
queue keeps no order, and every message is safe to apply in any order: timeline.record_batches). Failed
messages are reported in batchItemFailures and come back after the queue's visibility
timeout; after maxReceiveCount they move to the dead-letter queue.

Each message's work logs with the correlation id it carries (the request that caused it),
and each message applied logs one `fan-out message applied` line (at INFO) with its kind and
post. Per batch: TimelineEntriesWritten (entries its `add` messages wrote) and FanoutLag (for
each post, ms from its creation, which its id holds, to its entries written). A post created
more than LAG_HORIZON_MS before its entries are written, or in the future, is no sample of
the pipeline's lag: the tweets stream keeps a record a day, so a live post's fan-out starts
within a day or never; such an `add` came back from a dead-letter queue or is a replayed
sample event (events/fanout_worker.json). It is logged (a warning, with its age) instead.
"""

import threading
from dataclasses import dataclass, field
from typing import assert_never

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from timeline import clock, ids
from timeline.observability import CORRELATION_ATTRIBUTE, correlated, log_metrics, logger, metrics
from timeline.record_batches import ConcurrentRecords
from timeline.service import messages
from timeline.service.container import build_services
from timeline.service.messages import (
    Add,
    AttachMedia,
    CelebrityCopies,
    CelebrityPage,
    Copy,
    DeleteMedia,
    DropReposts,
    FanoutMessage,
    Rebuild,
    Remove,
    Sever,
    SyncFollow,
    Trim,
    Uncopy,
)
from timeline.service.timeline_sync import UNREAD
from timeline.settings import get_settings

services = build_services(get_settings())
records = ConcurrentRecords(EventType.SQS, workers=10)  # a batch is at most 10 messages

LAG_HORIZON_MS = 24 * 3600 * 1000  # a day: the tweets stream's retention
CLOCK_SKEW_MS = 60_000  # a post "from the future" by less than this is the hosts' clocks: lag 0


@dataclass
class BatchTally:
    """What one batch's `add` messages did, emitted once per invocation (messages are applied
    on several threads: `added` takes a lock)."""
    entries: int = 0
    lag_ms: dict[int, int] = field(default_factory=dict)  # post id -> ms from created to written
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def added(self, tweet_id: int, owners: int, now_ms: int) -> None:
        lag = now_ms - ids.timestamp_ms(tweet_id)
        with self._lock:
            self.entries += owners
            if -CLOCK_SKEW_MS <= lag <= LAG_HORIZON_MS:
                self.lag_ms[tweet_id] = max(self.lag_ms.get(tweet_id, 0), lag, 0)
                return
        logger.warning("post written outside the lag horizon: not a FanoutLag sample (a redriven or sample "
                       "message?)", extra={"tweet_id": str(tweet_id), "age_ms": lag})

    def emit(self) -> None:
        """Add the batch's metrics (flushed by log_metrics) and start the next batch empty."""
        if self.entries:
            metrics.add_metric(name="TimelineEntriesWritten", unit=MetricUnit.Count, value=self.entries)
        for lag in self.lag_ms.values():  # a batch holds at most ten posts: ten values
            metrics.add_metric(name="FanoutLag", unit=MetricUnit.Milliseconds, value=lag)
        self.entries, self.lag_ms = 0, {}


tally = BatchTally()


class AddsNotWritten(Exception):
    """This `add` was applied with the batch's other adds, and that failed (logged once)."""


class Batch:
    """One invocation's records, each body parsed once (by message id). A body that does not
    parse keeps its error, raised when its record runs: it is reported for redelivery as any
    failed message is. Before the records run, the batch's `add` messages are applied
    together, and the follow edges its `sync_follow` messages start from are read in one
    request."""

    def __init__(self, raw_records: list[dict]):
        self.parsed: dict[str, FanoutMessage | ValueError] = {}
        for raw in raw_records:
            try:
                body, message_id = raw["body"], raw["messageId"]
            except (KeyError, TypeError):
                continue  # not an SQS record: it fails when it runs
            try:
                self.parsed[message_id] = messages.parse(body)
            except ValueError as exc:  # pydantic's ValidationError
                self.parsed[message_id] = exc
        self.adds = [m for m in self.parsed.values() if isinstance(m, Add)]
        self.adds_error: Exception | None = None
        self.syncs = [m for m in self.parsed.values() if isinstance(m, SyncFollow)]
        self.follow_states: dict[tuple[int, int], bool | None] = {}

    def message(self, message_id: str) -> FanoutMessage:
        parsed = self.parsed[message_id]
        if isinstance(parsed, ValueError):
            raise parsed
        return parsed

    def prepare(self) -> None:
        """Read the syncs' follow edges, then write the adds' entries."""
        if len(self.syncs) >= 2:  # one message reads its own edge: the same one request
            try:
                self.follow_states = services.applier.follow_states({(m.owner, m.account) for m in self.syncs})
            except Exception:
                logger.warning("follow edges not read together: each sync reads its own", exc_info=True)
        if self.adds:
            try:
                services.applier.add_all(self.adds)
            except Exception as exc:  # every add of the batch is reported, and comes back
                self.adds_error = exc
                logger.exception("fan-out adds failed", extra={"messages": len(self.adds)})

    def settle(self, add: Add) -> None:
        """The outcome for one add's record: raise if the batch's adds failed, else count it."""
        if self.adds_error is not None:
            raise AddsNotWritten(f"applied with {len(self.adds)} adds, which failed: {self.adds_error!r}")
        tally.added(add.tweet_id, len(add.owners), clock.now_ms())


def apply(message: FanoutMessage, batch: Batch | None = None) -> None:
    """Apply one message. In a batch, its adds were written together (this add's outcome is
    reported from there) and its syncs' follow edges read together; alone, it does its own."""
    match message:
        case Add():
            if batch is None:
                services.applier.add_all([message])
            else:
                batch.settle(message)
        case SyncFollow(owner=owner, account=account):
            state = batch.follow_states.get((owner, account), UNREAD) if batch is not None else UNREAD
            services.applier.sync_follow(owner, account, state=state)
        case Remove(tweet_id=tweet_id, owners=owners):
            services.fanout.remove(tweet_id, owners)
        case Trim(owner=owner):
            services.fanout.trim(owner)
        case CelebrityPage(account=account, epoch=epoch, after=after):
            services.applier.celebrity_page(account, epoch, after)
        case Rebuild(owner=owner, started=started, after=after):
            services.applier.rebuild(owner, started, after)
        case Sever(blocker=blocker, blocked=blocked):
            services.applier.sever(blocker, blocked)
        case DropReposts(original=original, after=after):
            services.applier.drop_reposts(original, after)
        case Copy(tweet_id=tweet_id):
            services.copies.copy([tweet_id])
        case Uncopy(tweet_id=tweet_id, author_id=author_id):
            services.copies.uncopy(author_id, [tweet_id])
        case CelebrityCopies(account=account, first=first, last=last):
            services.copies.sync(account, first, last)
        case AttachMedia(media=media):
            services.media_upkeep.attach(media)
        case DeleteMedia(media=media):
            services.media_upkeep.delete(media)
        case _:
            assert_never(message)


def _correlation_of(record: SQSRecord) -> str | None:
    attribute = (record.get("messageAttributes") or {}).get(CORRELATION_ATTRIBUTE) or {}
    return attribute.get("stringValue")


def _described(message: FanoutMessage) -> dict[str, object]:
    """A message's kind, its post (if it names one) and how many timelines it is for."""
    found: dict[str, object] = {"op": message.op}
    tweet_id = getattr(message, "tweet_id", None)
    if tweet_id is not None:
        found["tweet_id"] = str(tweet_id)
    owners = getattr(message, "owners", None)
    if owners is not None:
        found["owners"] = len(owners)
    return found


def record_handler(record: SQSRecord, batch: Batch) -> None:
    with correlated(_correlation_of(record)):
        try:
            message = batch.message(record.message_id)
            apply(message, batch)
        except Exception:
            # The batch reports the message for redelivery; this line says why, with its id.
            logger.exception("fan-out message failed", extra={"message_id": record.message_id})
            raise
        logger.info("fan-out message applied", extra={**_described(message), "message_id": record.message_id})


@logger.inject_lambda_context
@log_metrics
def handler(event, context):
    try:
        batch = Batch(event.get("Records") or [])
        batch.prepare()
        return records.process(event, context, lambda record: record_handler(record, batch))
    finally:
        tally.emit()
