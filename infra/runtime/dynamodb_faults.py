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
  the partition limits (infra/runtime/moto_fixes/partitions.py) refuse a request over a
  partition's limit; the request changes nothing. Scans are never throttled (only the tests and tools scan).
- conflict (a share of TransactWriteItems): TransactionCanceledException with
  TransactionConflict on its first item and None on the others, changing nothing, as DynamoDB
  cancels a transaction that touched an item another one was writing.

Off by default, and then each call costs one read of a module global.
"""

from __future__ import annotations

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


def layer(op: str) -> Any:
    """The layer over DynamoHandler.<op> that infra.runtime.moto_fixes (fix
    dynamodb.faults_injected) wraps it with: draw this call's fault, if any, and answer it."""
    def handle(inner: Any, self: Any) -> Any:
        faults = _faults
        fault = faults.draw(op) if faults is not None else None
        if fault is None:
            return inner(self)
        from moto.dynamodb.exceptions import TransactionCanceledException

        from infra.runtime.moto_fixes.partitions import THROTTLED_MESSAGE, throughput_exceeded

        items = len(self.body.get("TransactItems", [])) or 1
        if fault == "conflicts":
            raise TransactionCanceledException([("TransactionConflict", CONFLICT_MESSAGE, None)]
                                               + [(None, None, None)] * (items - 1))
        if op.startswith("transact_"):
            raise TransactionCanceledException([("ThrottlingError", THROTTLED_MESSAGE, None)]
                                               + [(None, None, None)] * (items - 1))
        raise throughput_exceeded()

    return handle
