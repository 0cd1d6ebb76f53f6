"""Table streams -> fan-out work on the queue.

- TweetsTable: INSERT queues follower chunks of the new post; REMOVE queues removals.
- UsersTable: a follower count crossing the celebrity threshold flips the flag; a flip
  queues the walk over the account's followers; a returning reader's new activity stamp
  queues the restamp (and rebuild) of their timeline.
- GraphTable: a follow, an unfollow or a change of reposts queues the follower's timeline
  sync with that account; a block queues the removal of the follows both ways.

Each record is handled on its own (powertools BatchProcessor), so one bad record is
reported in batchItemFailures and retried (the event source bisects and, after the
template's MaximumRetryAttempts, sends it to the on-failure queue) without holding up
the rest of the shard.

A new post's record carries the correlation id of the request that made it: the record's
log lines, and every message it queues, carry it too (timeline.observability).
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from timeline.observability import correlate, correlated, logger, metrics
from timeline.service.container import build_services
from timeline.settings import get_settings
from timeline.store import tweets, users

settings = get_settings()
services = build_services(settings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _source_table(record: DynamoDBRecord) -> str:
    # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    return record.event_source_arn.split(":table/", 1)[1].split("/", 1)[0]


def _tweet_record(record: DynamoDBRecord, raw: dict) -> int:
    if record.event_name == DynamoDBRecordEventName.INSERT:
        correlate(tweets.correlation_of(raw["NewImage"]))
        tweet = tweets.from_image(raw["NewImage"])
        sent = services.planner.posted(tweet)
        logger.debug("post dispatched", extra={"tweet_id": str(tweet.tweet_id), "messages": sent})
        return sent
    if record.event_name == DynamoDBRecordEventName.REMOVE:
        return services.planner.deleted(tweets.from_image(raw["OldImage"]))
    return 0  # posts are immutable: nothing to do for MODIFY


def _user_record(raw: dict) -> int:
    old, new = raw.get("OldImage"), raw.get("NewImage")
    return services.changes.user_changed(users.from_image(old) if old else None,
                                         users.from_image(new) if new else None)


def _graph_record(record: DynamoDBRecord, raw: dict) -> int:
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


def record_handler(record: DynamoDBRecord) -> None:
    with correlated():
        try:
            sent = _dispatch(record)
        except Exception:
            # The batch reports the record and retries it; this line says why, with its id.
            logger.exception("stream record failed", extra={"event_id": record.event_id})
            raise
    if sent:
        metrics.add_metric(name="FanoutMessagesQueued", unit=MetricUnit.Count, value=sent)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
