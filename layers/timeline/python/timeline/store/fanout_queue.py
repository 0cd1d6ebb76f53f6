"""The fan-out queue (SQS): JSON messages, sent ten at a time, failures resent.

A message is anything with a `wire()` giving its JSON object (service/messages.py's models):
this module sends what it is given and knows nothing of the kinds.

Every message sent while a correlation id is set (an HTTP request, or the stream record or
message being handled) carries it as a message attribute, so the work a request causes logs
with the request's id however many messages it takes (timeline.observability).

A stream batch's records each queue a message or two: sent as they come, a batch of 100
records is 100 round trips of one message. `outbox()` gathers them instead (`deferred()`
around each record's work), and sends the batch's messages ten to a request once every
record is handled; the records whose messages did not all go are reported back, to be
retried like any failed record.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Hashable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from timeline.observability import CORRELATION_ATTRIBUTE, correlation_id

if TYPE_CHECKING:  # the stubs are a dev dependency, not deployed
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_BATCH = 10  # SendMessageBatch's limit

_deferred: contextvars.ContextVar[list[Outgoing] | None] = contextvars.ContextVar("deferred_messages",
                                                                                  default=None)


class QueueSendError(Exception):
    pass


class QueueMessage(Protocol):
    def wire(self) -> dict[str, Any]:
        """The JSON object the queue carries."""
        ...


@dataclass(frozen=True)
class Outgoing:
    body: dict[str, Any]  # as the message's wire() gave it
    correlation_id: str | None
    delay_seconds: int = 0  # hidden from the workers this long after it is sent (SQS: at most 900)

    def entry(self, entry_id: str) -> SendMessageBatchRequestEntryTypeDef:
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": entry_id, "MessageBody": json.dumps(self.body, separators=(",", ":"))}
        if self.delay_seconds:
            entry["DelaySeconds"] = self.delay_seconds
        if self.correlation_id:
            entry["MessageAttributes"] = {
                CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": self.correlation_id}}
        return entry


class FanoutQueue:
    def __init__(self, client: SQSClient, queue_url: str, *, max_attempts: int = 5):
        self._client, self._url, self._max_attempts = client, queue_url, max_attempts

    def send(self, messages: Sequence[QueueMessage], *, delay_seconds: int = 0) -> None:
        """Send now (or, inside `deferred()`, keep them for the caller to send); with
        `delay_seconds`, the workers see them that much later."""
        current = correlation_id()
        outgoing = [Outgoing(m.wire(), current, delay_seconds) for m in messages]
        kept = _deferred.get()
        if kept is not None:
            kept.extend(outgoing)
            return
        for start in range(0, len(outgoing), MAX_BATCH):
            error = self._send_batch(outgoing[start:start + MAX_BATCH])
            if error:
                raise QueueSendError(error)

    @contextmanager
    def deferred(self) -> Iterator[list[Outgoing]]:
        """Messages `send` is given in this thread meanwhile are kept in the list yielded."""
        kept: list[Outgoing] = []
        token = _deferred.set(kept)
        try:
            yield kept
        finally:
            _deferred.reset(token)

    def outbox(self, executor: Executor | None = None) -> Outbox:
        return Outbox(self, executor)

    def _send_batch(self, outgoing: Sequence[Outgoing]) -> str | None:
        """Up to ten messages, the ones SQS did not take resent; None, or why some did not go."""
        entries = [o.entry(str(i)) for i, o in enumerate(outgoing)]
        for attempt in range(self._max_attempts):
            failed = self._client.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
            if not failed:
                return None
            if any(f.get("SenderFault") for f in failed):
                return f"queue refused messages: {failed}"
            failed_ids = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in failed_ids]
            time.sleep(0.05 * 2 ** attempt)
        return f"{len(entries)} messages not accepted after retries"


class Outbox:
    """The messages of one batch's records, each tagged with its record, sent together."""

    def __init__(self, queue: FanoutQueue, executor: Executor | None):
        self._queue, self._executor = queue, executor
        self._pending: list[tuple[Hashable, Outgoing]] = []
        self._lock = threading.Lock()

    def add(self, tag: Hashable, outgoing: Sequence[Outgoing]) -> None:
        with self._lock:
            self._pending.extend((tag, o) for o in outgoing)

    def flush(self) -> tuple[list[Hashable], list[str]]:
        """Send everything added, ten to a request (requests side by side on the executor).
        Returns the tags with a message that did not go, and why."""
        with self._lock:
            pending, self._pending = self._pending, []
        chunks = [pending[i:i + MAX_BATCH] for i in range(0, len(pending), MAX_BATCH)]

        def send(chunk: list[tuple[Hashable, Outgoing]]) -> str | None:
            try:
                return self._queue._send_batch([o for _, o in chunk])
            except Exception as exc:  # the records are reported and retried, not lost
                return f"{type(exc).__name__}: {exc}"

        errors = list(self._executor.map(send, chunks)) if self._executor and len(chunks) > 1 \
            else [send(c) for c in chunks]
        failed: dict[Hashable, None] = {}  # a record with several messages is named once
        reasons = []
        for chunk, error in zip(chunks, errors, strict=True):
            if error:
                reasons.append(error)
                failed.update(dict.fromkeys(tag for tag, _ in chunk))
        return list(failed), reasons
