"""The powertools Logger and Metrics every function shares (service name and namespace
come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE in template.yaml).

Correlation ids follow a post from its HTTP request to every log line of its fan-out: the
api function's Logger takes API Gateway's request id; the post's row keeps it (the tweets
stream carries it to fanout_dispatch); every fan-out message sent while it is set carries it
as the `correlation_id` message attribute (fanout_worker sets it per message). An upload's
media record keeps it the same way for media_processor.

Metrics are EMF lines with the one default dimension `service`, flushed by each handler's
`@metrics.log_metrics`: no CloudWatch call on any request path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

# The message attribute that carries a correlation id on the fan-out queue.
CORRELATION_ATTRIBUTE = "correlation_id"


def correlation_id() -> str | None:
    """The correlation id of the work in hand (an HTTP request, or the record it caused)."""
    return logger.get_correlation_id()


def correlate(value: str | None) -> None:
    """Tag every log line from here on (until the record's scope ends) with `value`."""
    logger.set_correlation_id(value)


@contextmanager
def correlated(value: str | None = None) -> Iterator[None]:
    """One batch record's work: its log lines carry `value` (or whatever the work sets with
    `correlate`), and the next record, or the next invocation, starts without it."""
    correlate(value)
    try:
        yield
    finally:
        correlate(None)
