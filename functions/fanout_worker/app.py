"""Fan-out queue -> timeline entries, one message (a chunk of followers) at a time.

Failed messages are reported in batchItemFailures and come back after the queue's
visibility timeout; after maxReceiveCount they move to the dead-letter queue.
"""

import json

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from timeline.observability import logger, metrics
from timeline.service import messages
from timeline.service.container import build_services
from timeline.settings import get_settings

services = build_services(get_settings())
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if message.get("op") == messages.ATTACH_MEDIA:
        services.media_upkeep.attach(messages.media_of(message))
        return
    if message.get("op") == messages.DELETE_MEDIA:
        services.media_upkeep.delete(messages.media_of(message))
        return
    services.applier.apply(message)
    metrics.add_metric(name="TimelineEntriesWritten", unit=MetricUnit.Count, value=len(message.get("owners", [])))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
