"""A Lambda batch's records handled side by side, with powertools' partial-failure reporting.

A batch of 100 stream records handled one after another waits for 100 chains of round
trips; nothing in a fan-out record depends on the record before it unless both are about
the same thing. So records run on a thread pool through powertools' AsyncBatchProcessor
(each record a coroutine awaiting its work on the pool; the batch's failures reported as
powertools always does):

- SQS (fanout_worker): the queue keeps no order, so every message at once.
- Streams (fanout_dispatch), `ordered_by` a key of the record: records with the same key in
  stream order, different keys side by side. That is what Lambda's ParallelizationFactor
  promises for a shard's partition keys; doing it inside the invocation keeps one
  invocation per batch. A record whose predecessor (same key) failed fails too, without
  running: the event source retries from the lowest failed sequence number, so both come
  back, in order.

Record handlers run on pool threads: what they share (metrics, tallies) needs a lock, and a
correlation id is per thread (timeline.observability).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


class EarlierRecordFailed(Exception):
    """A record was not handled because an earlier record with the same key failed."""


class ConcurrentRecords:
    def __init__(self, event_type: EventType, *, workers: int,
                 ordered_by: Callable[[Any], Hashable] | None = None):
        self._processor = AsyncBatchProcessor(event_type=event_type)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="record")
        self._ordered_by = ordered_by

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The records' pool: idle once `process` returns, free for the batch's last requests."""
        return self._pool

    def process(self, event: dict[str, Any], context: Any,
                record_handler: Callable[[Any], Any]) -> PartialItemFailureResponse:
        """Run `record_handler` (synchronous) on every record; returns the partial batch
        response ({"batchItemFailures": [...]}), as process_partial_response does."""
        last_of: dict[Hashable, asyncio.Future[bool]] = {}  # key -> whether its latest record succeeded

        async def handle(record: Any) -> Any:
            loop = asyncio.get_running_loop()
            if self._ordered_by is None:
                return await loop.run_in_executor(self._pool, record_handler, record)
            # Runs up to its first await in record order (gather schedules the records in
            # order), so each record finds the one before it with its key.
            key = self._ordered_by(record)
            previous, done = last_of.get(key), loop.create_future()
            last_of[key] = done
            succeeded = False
            try:
                if previous is not None and not await previous:
                    raise EarlierRecordFailed(f"an earlier record with key {key!r} failed")
                result = await loop.run_in_executor(self._pool, record_handler, record)
                succeeded = True
                return result
            finally:
                done.set_result(succeeded)

        return async_process_partial_response(event=event, record_handler=handle, processor=self._processor,
                                              context=context)
