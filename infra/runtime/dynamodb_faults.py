"""Seeded DynamoDB faults in the emulator (issue 24's chaos soak): a share of the data-plane
calls answered as DynamoDB answers a throttled partition or a transaction that met another.

moto never throttles and never sees two transactions race, so the code paths that handle
both (the SDK's retries, store/transactions.py's retries of a cancelled transaction, the 503
past them, a batch's unprocessed items) run on AWS and not here. `set_dynamodb_faults` turns
them on for every process that talks to this emulator (the local runtime's function workers
included): each call draws from one seeded generator, so a run is replayable for the same
sequence of calls, and `dynamodb_faults()` counts what was injected, per kind.

- throttle (a share of GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchGetItem,
  BatchWriteItem, TransactGetItems, TransactWriteItems): ProvisionedThroughputExceededException,
  or for a transaction TransactionCanceledException with ThrottlingError on its first item, as
  `_hot_partitions_throttled` refuses a request over a partition's limit; the request changes
  nothing. Scans are never throttled (only the tests and tools scan).
- conflict (a share of TransactWriteItems): TransactionCanceledException with
  TransactionConflict on its first item and None on the others, changing nothing, as DynamoDB
  cancels a transaction that touched an item another one was writing.

Off by default, and then each call costs one read of a module global.
"""

from __future__ import annotations

import functools
import random
import threading
from typing import Any

THROTTLED_OPS = ("get_item", "put_item", "update_item", "delete_item", "query", "batch_get_item",
                 "batch_write_item", "transact_get_items", "transact_write_items")
CONFLICT_MESSAGE = "Transaction is ongoing for the item"


class _Faults:
    def __init__(self, throttle: float, conflict: float, seed: int):
        self.throttle, self.conflict = throttle, conflict
        self._rng, self._lock = random.Random(seed), threading.Lock()
        self.counts = {"throttled": 0, "conflicts": 0}

    def draw(self, op: str) -> str | None:
        """The fault this call gets, if any ("throttled" or "conflicts"), counted."""
        with self._lock:
            roll = self._rng.random()
            fault = None
            if op == "transact_write_items" and roll < self.conflict:
                fault = "conflicts"
            elif roll < self.conflict + self.throttle if op == "transact_write_items" else roll < self.throttle:
                fault = "throttled"
            if fault:
                self.counts[fault] += 1
            return fault


_faults: _Faults | None = None


def set_dynamodb_faults(*, throttle: float = 0.0, conflict: float = 0.0, seed: int = 0) -> None:
    """Throttle `throttle` of the data-plane calls and cancel `conflict` of the write
    transactions for a conflict, drawn from a generator seeded with `seed`; both 0 turns it
    off. The counts start again at zero."""
    global _faults
    for share in (throttle, conflict):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"a fault rate is a share of calls, from 0 to 1: {share!r}")
    _faults = _Faults(throttle, conflict, seed) if throttle or conflict else None


def dynamodb_faults() -> dict[str, int]:
    """How many calls were throttled and how many transactions cancelled for a conflict since
    the faults were last set (zeros when off)."""
    faults = _faults
    return dict(faults.counts) if faults is not None else {"throttled": 0, "conflicts": 0}


def install() -> None:
    """Wrap moto's DynamoDB handlers (once)."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.responses import DynamoHandler

    from infra.runtime.moto_patches import THROTTLED_MESSAGE, throughput_exceeded

    if getattr(DynamoHandler.get_item, "_faults_injected", False):
        return

    def cancelled(self: Any, reason: str, message: str) -> TransactionCanceledException:
        items = len(self.body.get("TransactItems", [])) or 1
        return TransactionCanceledException([(reason, message, None)] + [(None, None, None)] * (items - 1))

    def faulty(op: str, inner: Any) -> Any:
        @functools.wraps(inner)
        def handle(self):
            faults = _faults
            fault = faults.draw(op) if faults is not None else None
            if fault == "conflicts":
                raise cancelled(self, "TransactionConflict", CONFLICT_MESSAGE)
            if fault == "throttled":
                if op.startswith("transact_"):
                    raise cancelled(self, "ThrottlingError", THROTTLED_MESSAGE)
                raise throughput_exceeded()
            return inner(self)

        handle._faults_injected = True  # type: ignore[attr-defined]
        return handle

    for op in THROTTLED_OPS:
        setattr(DynamoHandler, op, faulty(op, getattr(DynamoHandler, op)))
