"""The fan-out queue (SQS): JSON messages, sent ten at a time, failures resent.

Every message sent while a correlation id is set (an HTTP request, or the stream record or
message being handled) carries it as a message attribute, so the work a request causes logs
with the request's id however many messages it takes (timeline.observability).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from timeline.observability import CORRELATION_ATTRIBUTE, correlation_id


class QueueSendError(Exception):
    pass


class FanoutQueue:
    def __init__(self, client, queue_url: str, *, max_attempts: int = 5):
        self._client, self._url, self._max_attempts = client, queue_url, max_attempts

    def send(self, messages: Sequence[dict]) -> None:
        current = correlation_id()
        attributes = {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": current}} if current else None
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps(m, separators=(",", ":"))}
                       for i, m in enumerate(messages[start:start + 10])]
            if attributes:
                for entry in entries:
                    entry["MessageAttributes"] = attributes
            for attempt in range(self._max_attempts):
                failed = self._client.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
                if not failed:
                    break
                if any(f.get("SenderFault") for f in failed):
                    raise QueueSendError(f"queue refused messages: {failed}")
                failed_ids = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in failed_ids]
                time.sleep(0.05 * 2 ** attempt)
            else:
                raise QueueSendError(f"{len(entries)} messages not accepted after retries")
