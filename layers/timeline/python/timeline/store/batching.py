"""BatchWriteItem with UnprocessedItems retried under exponential backoff and jitter.

pynamodb's own batch writer resends UnprocessedItems immediately, in a tight loop; under
throttling that makes things worse (AWS asks for backoff), so the writes that fan out to
thousands of timelines go through here instead. Items are still pynamodb models:
their serialization is pynamodb's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from pynamodb.models import Model

MAX_BATCH = 25


class UnprocessedItemsError(Exception):
    def __init__(self, count: int):
        super().__init__(f"{count} items still unprocessed after retries")
        self.count = count


class BatchWriter:
    def __init__(self, client, *, max_attempts: int = 8, base_delay: float = 0.05,
                 max_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep):
        self._client = client
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self._sleep = sleep

    def put(self, model: type[Model], items: Sequence[Model]) -> None:
        self._write(model.Meta.table_name, [{"PutRequest": {"Item": item.serialize()}} for item in items])

    def delete(self, model: type[Model], keys: Sequence[Model]) -> None:
        requests = []
        key_names = [a.attr_name for a in (model._hash_key_attribute(), model._range_key_attribute()) if a]
        for item in keys:
            serialized = item.serialize(null_check=False)
            requests.append({"DeleteRequest": {"Key": {k: serialized[k] for k in key_names}}})
        self._write(model.Meta.table_name, requests)

    def _write(self, table: str, requests: list[dict]) -> None:
        # DynamoDB rejects a batch holding the same key twice; callers pass distinct keys.
        for start in range(0, len(requests), MAX_BATCH):
            pending = requests[start:start + MAX_BATCH]
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
