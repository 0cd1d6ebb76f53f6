"""Table streams -> fan-out work on the queue.

- TweetsTable: INSERT queues follower chunks of the new post; REMOVE queues removals.
- UsersTable: a follower count crossing the celebrity threshold flips the flag; a flip
  queues the walk over the account's followers; a returning reader's new activity stamp
  queues the restamp (and rebuild) of their timeline.
- GraphTable: a follow, an unfollow or a change of reposts queues the follower's timeline
  sync with that account; a block queues the removal of the follows both ways. A celebrity's
  follows and unfollows (their follower edges and tombstones carry `tally`) are counted into
  its follower count here, one update per account per batch, after the records
  (UserStore.tally: exactly once, however often a record comes); an account whose count did
  not take reports its first such record failed, to be retried from there. Likes, reposts and
  replies (their engagement edges, store/engagement.py) are counted into their post's counts
  the same way: one update per post per batch, exactly once; a like edge made or taken back
  puts or deletes its engagement edge first.

Each record is handled on its own, so one bad record is reported in batchItemFailures and
retried (the event source bisects and, after the template's MaximumRetryAttempts, sends it
to the on-failure queue) without holding up the rest of the shard. Records run side by
side, those of one item in stream order (timeline.record_batches), and the messages they
queue are sent together once all are handled, ten to a request (FanoutQueue.outbox); a
record whose messages did not all go is reported failed like any other.

A new post's record carries the correlation id of the request that made it: the record's
log lines (one `post dispatched` line per post, at INFO), and every message it queues, carry
it too (timeline.observability). Per batch: FanoutMessagesQueued, and PostsDispatched (the
new posts and reposts the tweets stream brought, however they were written: the API's, and
the local demo's, which are written as rows).
"""

import json
import threading

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from timeline.observability import correlate, correlated, log_metrics, logger, metrics
from timeline.record_batches import ConcurrentRecords
from timeline.service.container import build_services
from timeline.settings import get_settings
from timeline.store import tweets, users
from timeline.store.engagement import Counted, celebrity_post_of, counted_of, like_of
from timeline.store.graph import tally_of
from timeline.store.users import Tallied

settings = get_settings()
services = build_services(settings)

# Records of the same item (its key) in stream order, as DynamoDB Streams delivers them;
# up to 16 items at once (each record is a read or two, and its messages kept for the end).
records = ConcurrentRecords(EventType.DynamoDBStreams, workers=16,
                            ordered_by=lambda r: (r.event_source_arn, json.dumps(r.raw_event["dynamodb"]["Keys"], sort_keys=True)))


def _source_table(record: DynamoDBRecord) -> str:
    # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    return record.event_source_arn.split(":table/", 1)[1].split("/", 1)[0]


def _tweet_record(record: DynamoDBRecord, raw: dict) -> int:
    if record.event_name == DynamoDBRecordEventName.INSERT:
        correlate(tweets.correlation_of(raw["NewImage"]))
        tweet = tweets.from_image(raw["NewImage"])
        sent = services.planner.posted(tweet)
        logger.info("post dispatched", extra={"tweet_id": str(tweet.tweet_id), "messages": sent})
        return sent
    if record.event_name == DynamoDBRecordEventName.REMOVE:
        return services.planner.deleted(tweets.from_image(raw["OldImage"]))
    return 0  # posts are immutable: nothing to do for MODIFY


def _user_record(raw: dict) -> int:
    old, new = raw.get("OldImage"), raw.get("NewImage")
    return services.changes.user_changed(users.from_image(old) if old else None,
                                         users.from_image(new) if new else None)


def _graph_record(record: DynamoDBRecord, raw: dict) -> int:
    liked = like_of(raw["Keys"], record.raw_event.get("eventName", ""), raw.get("NewImage"))
    if liked is not None:  # a like made or taken back: its engagement edge follows (to be counted)
        services.engagement.mirror_like(*liked)
        return 0
    return services.changes.edge_changed(int(raw["Keys"]["user_id"]["N"]), raw["Keys"]["edge"]["S"],
                                         created=record.event_name == DynamoDBRecordEventName.INSERT)


def _dispatch(record: DynamoDBRecord) -> int:
    raw, table = record.raw_event["dynamodb"], _source_table(record)
    if table == settings.tweets_table:
        return _tweet_record(record, raw)
    if table == settings.users_table:
        return _user_record(raw)
    if table == settings.graph_table:
        return _graph_record(record, raw)
    raise ValueError(f"a stream record from an unexpected table: {table}")


def _tallies(event: dict) -> dict[int, list[Tallied]]:
    """The batch's celebrity follows and unfollows, by followee (stream order kept)."""
    by_account: dict[int, list[Tallied]] = {}
    for r in event.get("Records", []):
        raw = r.get("dynamodb", {})
        if r.get("eventSourceARN", "").split(":table/", 1)[-1].split("/", 1)[0] != settings.graph_table:
            continue
        found = tally_of(raw.get("Keys", {}), raw.get("NewImage"), created=r.get("eventName") == "INSERT")
        if found is not None:
            account, partition, delta = found
            by_account.setdefault(account, []).append(Tallied(int(raw["SequenceNumber"]), delta, partition))
    return by_account


def _count(by_account: dict[int, list[Tallied]]) -> list[str]:
    """Count each account's follows and unfollows; the first sequence number of each account
    whose count failed (to report: the batch is retried from the lowest)."""
    def count(item: tuple[int, list[Tallied]]) -> str | None:
        account, changes = item
        try:
            services.changes.tally(account, changes)
            return None
        except Exception:
            logger.exception("follower count failed", extra={"account": str(account)})
            return str(min(c.seq for c in changes))
    return [seq for seq in records.executor.map(count, by_account.items()) if seq is not None]


def _engagements(event: dict) -> dict[int, list[Counted]]:
    """The batch's likes, reposts and replies made or taken back, by post (stream order kept)."""
    by_post: dict[int, list[Counted]] = {}
    for r in event.get("Records", []):
        raw = r.get("dynamodb", {})
        if r.get("eventSourceARN", "").split(":table/", 1)[-1].split("/", 1)[0] != settings.graph_table:
            continue
        found = counted_of(raw.get("Keys", {}), r.get("eventName", ""))
        if found is not None:
            post, kind, partition, delta = found
            by_post.setdefault(post, []).append(Counted(int(raw["SequenceNumber"]), delta, kind, partition,
                                                        celebrity_post_of(raw.get("NewImage"))))
    return by_post


def _count_engagements(by_post: dict[int, list[Counted]]) -> list[str]:
    """Count each post's engagement changes; the first sequence number of each post whose
    count failed (to report: the batch is retried from the lowest, and counts nothing twice)."""
    def count(item: tuple[int, list[Counted]]) -> str | None:
        post, changes = item
        try:
            services.engagement.count(post, changes)
            return None
        except Exception:
            logger.exception("engagement count failed", extra={"post": str(post)})
            return str(min(c.seq for c in changes))
    return [seq for seq in records.executor.map(count, by_post.items()) if seq is not None]


class _Queued:
    """Messages queued by the batch's records, and the new posts among them, for one
    FanoutMessagesQueued and one PostsDispatched value per batch."""

    def __init__(self) -> None:
        self.count, self.posts, self._lock = 0, 0, threading.Lock()

    def add(self, n: int, *, post: bool = False) -> None:
        with self._lock:
            self.count += n
            self.posts += int(post)


def record_handler(record: DynamoDBRecord, outbox, queued: _Queued) -> None:
    with correlated(), services.queue.deferred() as kept:
        try:
            _dispatch(record)
        except Exception:
            # The batch reports the record and retries it; this line says why, with its id.
            logger.exception("stream record failed", extra={"event_id": record.event_id})
            raise
    outbox.add(record.dynamodb.sequence_number, kept)
    queued.add(len(kept), post=_source_table(record) == settings.tweets_table
               and record.event_name == DynamoDBRecordEventName.INSERT)


@logger.inject_lambda_context
@log_metrics
def handler(event, context):
    outbox, queued = services.queue.outbox(records.executor), _Queued()
    response = records.process(event, context, lambda record: record_handler(record, outbox, queued))
    reported = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"] += [{"itemIdentifier": s} for s in _count(_tallies(event)) if s not in reported]
    reported = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"] += [{"itemIdentifier": s} for s in _count_engagements(_engagements(event))
                                      if s not in reported]
    unsent, reasons = outbox.flush()
    if unsent:
        logger.error("fan-out messages not sent: their records are retried",
                     extra={"records": len(unsent), "reasons": reasons[:3]})
        reported = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        response["batchItemFailures"] += [{"itemIdentifier": s} for s in unsent if s not in reported]
    if queued.count:
        metrics.add_metric(name="FanoutMessagesQueued", unit=MetricUnit.Count, value=queued.count)
    if queued.posts:
        metrics.add_metric(name="PostsDispatched", unit=MetricUnit.Count, value=queued.posts)
    return response
