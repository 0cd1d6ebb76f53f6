"""BatchWriteItem with UnprocessedItems retried under exponential backoff and jitter, a few
batches in flight at once.

pynamodb's own batch writer resends UnprocessedItems immediately, in a tight loop; under
throttling that makes things worse (AWS asks for backoff), so the writes that fan out to
thousands of timelines go through here instead. Items are still pynamodb models:
their serialization is pynamodb's.

A fan-out message holds up to 200 owners, eight batches of 25: written one after another,
a big account's post waits for eight round trips per message. Up to `concurrency` batches
are in flight at once (each retried on its own), so the worker waits for about two.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, cast

from pynamodb.models import Model

if TYPE_CHECKING:  # the stubs are a dev dependency, not deployed
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef, WriteRequestUnionTypeDef

MAX_BATCH = 25


class UnprocessedItemsError(Exception):
    def __init__(self, count: int):
        super().__init__(f"{count} items still unprocessed after retries")
        self.count = count


class BatchWriter:
    def __init__(self, client: DynamoDBClient, *, max_attempts: int = 8, base_delay: float = 0.05,
                 max_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep, concurrency: int = 4):
        self._client = client
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="batch-write") if concurrency > 1 else None

    def put(self, model: type[Model], items: Sequence[Model]) -> None:
        self._write(model.Meta.table_name, [_request({"PutRequest": {"Item": item.serialize()}}) for item in items])

    def delete(self, model: type[Model], keys: Sequence[Model]) -> None:
        requests = []
        # pynamodb leaves these two untyped
        key_attributes = (model._hash_key_attribute(), model._range_key_attribute())  # type: ignore[no-untyped-call]
        key_names = [a.attr_name for a in key_attributes if a]
        for item in keys:
            serialized = item.serialize(null_check=False)
            requests.append(_request({"DeleteRequest": {"Key": {k: serialized[k] for k in key_names}}}))
        self._write(model.Meta.table_name, requests)

    def _write(self, table: str, requests: list[WriteRequestTypeDef]) -> None:
        # DynamoDB rejects a batch holding the same key twice; callers pass distinct keys.
        batches = [requests[start:start + MAX_BATCH] for start in range(0, len(requests), MAX_BATCH)]
        if self._pool is None or len(batches) == 1:
            for batch in batches:
                self._write_batch(table, batch)
            return
        # Every batch runs to its end (or its error) before this returns: a failure is raised
        # after the others were written, and a retry of the message rewrites all of them.
        futures = [self._pool.submit(self._write_batch, table, batch) for batch in batches]
        wait(futures)
        for future in futures:
            future.result()  # the first failure, now that none is still running

    def _write_batch(self, table: str, pending: Sequence[WriteRequestUnionTypeDef]) -> None:
        attempt = 0
        while pending:
            response = self._client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            attempt += 1
            if attempt >= self.max_attempts:
                raise UnprocessedItemsError(len(pending))
            ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
            self._sleep(random.uniform(0, ceiling))  # full jitter


def _request(request: dict[str, Any]) -> WriteRequestTypeDef:
    """A write request around pynamodb's serialized item: DynamoDB's attribute maps, which
    pynamodb types as plain dicts."""
    return cast("WriteRequestTypeDef", request)
