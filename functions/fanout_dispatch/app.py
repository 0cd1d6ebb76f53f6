"""TweetsTable stream -> fan-out plan. INSERT queues follower chunks; REMOVE queues removals.

Each record is handled on its own (powertools BatchProcessor), so one bad record is
reported in batchItemFailures and retried (the event source bisects and, after the
template's MaximumRetryAttempts, sends it to the on-failure queue) without holding up
the rest of the shard.
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from timeline.observability import logger, metrics
from timeline.service.container import build_services
from timeline.settings import get_settings
from timeline.store.tweets import from_image

services = build_services(get_settings())
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name == DynamoDBRecordEventName.INSERT:
        sent = services.planner.posted(from_image(record.raw_event["dynamodb"]["NewImage"]))
    elif record.event_name == DynamoDBRecordEventName.REMOVE:
        sent = services.planner.deleted(from_image(record.raw_event["dynamodb"]["OldImage"]))
    else:
        return  # posts are immutable: nothing to do for MODIFY
    metrics.add_metric(name="FanoutMessagesQueued", unit=MetricUnit.Count, value=sent)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
