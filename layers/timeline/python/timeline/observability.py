"""The powertools Logger and Metrics every function shares (service name and namespace
come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE in template.yaml).

Correlation ids follow a post from its HTTP request to every log line of its fan-out: the
api function's Logger takes API Gateway's request id (the client's `apigw-requestid` header),
and logs one line per request with it; the post's row keeps it (the tweets
stream carries it to fanout_dispatch, which logs a `post dispatched` line); every fan-out
message sent while it is set carries it as the `correlation_id` message attribute
(fanout_worker sets it per message, and logs a `fan-out message applied` line for each).
`timeline logs <function> | grep <request id>` follows a post locally. An upload's
media record keeps it the same way for media_processor.

Metrics are EMF lines with the one default dimension `service`, flushed by each handler's
`@log_metrics` (below): no CloudWatch call on any request path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

_Result = TypeVar("_Result")

# The message attribute that carries a correlation id on the fan-out queue.
CORRELATION_ATTRIBUTE = "correlation_id"
_KEY = "correlation_id"  # the log key, as Logger.set_correlation_id names it


def correlation_id() -> str | None:
    """The correlation id of the work in hand: the record this thread is handling, else the
    invocation's (the api function's Logger takes the request id for the whole invocation)."""
    return logger.thread_safe_get_current_keys().get(_KEY) or logger.get_correlation_id()


def correlate(value: str | None) -> None:
    """Tag every log line this thread writes from here on (until the record's scope ends)
    with `value`. Per thread: a batch's records are handled side by side (timeline.record_batches)."""
    if value:
        logger.thread_safe_append_keys(**{_KEY: value})
    else:
        logger.thread_safe_remove_keys([_KEY])


@contextmanager
def correlated(value: str | None = None) -> Iterator[None]:
    """One batch record's work: its log lines carry `value` (or whatever the work sets with
    `correlate`), and the next record this thread handles starts without it. An id set for a
    whole invocation (Logger.set_correlation_id, as the api's handler does) is not the record's."""
    if logger.get_correlation_id() is not None:
        logger.set_correlation_id(None)
    correlate(value)
    try:
        yield
    finally:
        correlate(None)


def log_metrics(handler: Callable[[Any, Any], _Result]) -> Callable[[Any, Any], _Result]:
    """powertools' `@metrics.log_metrics` for a handler, without its warning on the invocations
    that record no metric (a post or a home read records some; a health check, a sign-in, a
    stream batch of follows or a queue batch of syncs, none). powertools warns `No application metrics to publish` on every
    empty flush, even with raise_on_empty_metrics=False (its default); its documented remedy is
    a process-wide warnings filter, which a test run or another library can reset. Here an
    invocation that recorded nothing flushes nothing (an empty flush writes no line anyway),
    and one that did flushes as log_metrics would, exception or not."""
    @functools.wraps(handler)
    def flushing(event: Any, context: Any) -> _Result:
        try:
            return handler(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()
    return flushing
