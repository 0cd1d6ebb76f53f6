"""Media queue (S3 ObjectCreated notifications for uploads/) -> checked media.

Each SQS message is one S3 event notification. S3 sends an `s3:TestEvent` when the bucket's
notification is configured; it has no records and is acknowledged. A record that fails for
a reason of ours (S3 or DynamoDB unavailable) is reported in batchItemFailures and comes back
after the queue's visibility timeout; after maxReceiveCount it moves to the media DLQ. A bad
image is not a failure: it is rejected, recorded and acknowledged. Two runs on one upload (S3
notifies at least once; SQS redelivers) are safe: the run that claims the upload checks it,
and a run that finds it claimed or settled writes no image and is acknowledged
(timeline.service.media.MediaProcessor).
"""

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from timeline.observability import correlated, log_metrics, logger, metrics
from timeline.service.container import build_services
from timeline.settings import get_settings

services = build_services(get_settings())
processor = BatchProcessor(event_type=EventType.SQS)

_METRIC = {"ready": "MediaReady", "rejected": "MediaRejected", "ignored": "MediaIgnored"}


def uploaded_keys(notification: dict) -> list[str]:
    """The object keys of an S3 event notification's ObjectCreated records (keys arrive
    URL-encoded, spaces as '+')."""
    return [unquote_plus(r["s3"]["object"]["key"]) for r in notification.get("Records", [])
            if r.get("eventSource") == "aws:s3" and r.get("eventName", "").startswith("ObjectCreated")]


def record_handler(record: SQSRecord) -> None:
    for key in uploaded_keys(json.loads(record.body)):
        with correlated():  # the upload request's id, once the processor has read its record
            try:
                outcome = services.media_processor.process(key)
            except Exception:
                logger.exception("upload check failed", extra={"key": key})
                raise
        metrics.add_metric(name=_METRIC[outcome], unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@log_metrics
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
