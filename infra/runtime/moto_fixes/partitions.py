"""DynamoDB's per-partition throughput, which moto does not have: a token bucket per
partition key value, and the meter (partition_usage) that the benchmark reads. The fix
`dynamodb.hot_partitions_throttled`.

moto has no partitions: it serves any number of requests a second on one key. DynamoDB
serves at most 3,000 read and 1,000 write units a second from one partition (of a table or a
global index) and answers ProvisionedThroughputExceededException above that, which the SDKs
retry with backoff: a hot key (a celebrity's posts, a counter) shows on AWS and not here.
Off by default (set_partition_limits / set_dynamodb_partition_limits turn it on; off, each
request costs one check of a module global). On, every data-plane call is metered per
partition key value (partition_usage), in the units capacity.py reports as ConsumedCapacity
(it bills every request then, whatever it asked for, and records each unit against the
partition it was spent in: the table's key of the item, a global index's key of the entry
put or deleted, a Query's key in its index; a local index's units count in its table's
partition, which holds them), and each partition has a token bucket per kind (see
_PartitionLimits). Before a request runs, the partitions each of its items would touch are
found (writes: the item's key and the global index partitions of its old and new entries, an
update tried on a copy); an item needing an empty bucket is refused, as DynamoDB answers:
GetItem, PutItem, UpdateItem, DeleteItem and Query raise
ProvisionedThroughputExceededException; BatchGetItem and BatchWriteItem perform the rest and
return the refused keys/items in UnprocessedKeys/UnprocessedItems (the exception only if
every one was refused); TransactGetItems and TransactWriteItems are cancelled whole
(TransactionCanceledException, reason ThrottlingError for the throttled items, None for the
others). A refused request changes and bills nothing. Scans are metered (each page's units
spread over its items' partitions by bytes read) but never throttled. Not covered: PartiQL,
and a TransactWriteItems repeated with its ClientRequestToken (answered by
`dynamodb.transaction_tokens_honoured`, outside this). Partitions are checked and then
debited without one lock over both, so concurrent requests may overdraw a bucket together, as
they may on DynamoDB. Measured in-process through boto3, 2,000 GetItems of a 250-byte item
over 100 keys: off, each call costs one more function frame and a global read (~25 ns; the
loop took 1.73 s, 1.82 s before this fix: noise); on, ~40 us more per call (~5%): finding
the partitions 10 us, the check 5, the debit 3, the rest billing a call that did not ask for
its capacity.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from typing import Any

from infra.runtime.moto_fixes import capacity, items
from infra.runtime.moto_fixes.registry import Fix, Patch

PARTITION_READ_UNITS_PER_S = 3000.0  # DynamoDB's ceiling per partition, base tables and global indexes alike
PARTITION_WRITE_UNITS_PER_S = 1000.0
THROTTLED_MESSAGE = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
                     "scaling your table or index so please try again shortly. If exceptions persist, check if you "
                     "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                     "bp-partition-key-design.html")
# The buckets' clock (tests replace it). Monotonic: buckets live in this process only, never pickled.
_partition_clock = time.monotonic
_partition_lock = threading.Lock()  # guards the buckets and the usage
_partition_limits: _PartitionLimits | None = None  # None: off, neither metered nor throttled
# items.partition_id -> [read units, write units, throttled reads, throttled writes], since the last reset
_partition_usage: dict[tuple, list[float]] = {}
_PARTITION_READS = frozenset({"get_item", "batch_get_item", "transact_get_items", "query", "scan"})


def set_partition_limits(read_units_per_s: float | None, write_units_per_s: float | None) -> None:
    """Meter DynamoDB per partition key value and throttle a partition above these units per
    second (None: that kind is metered, never throttled); (None, None) turns it all off, as it
    starts. Each call starts every bucket full again; the usage is kept (reset_partition_usage).
    Acts on the moto hosted by this process (in-process mock or ThreadedMotoServer)."""
    global _partition_limits
    for rate in (read_units_per_s, write_units_per_s):
        if rate is not None and not rate > 0:
            raise ValueError(f"a partition limit is a positive number of units per second, or None: {rate!r}")
    if read_units_per_s is None and write_units_per_s is None:
        _partition_limits = None
    else:
        _partition_limits = _PartitionLimits(None if read_units_per_s is None else float(read_units_per_s),
                                             None if write_units_per_s is None else float(write_units_per_s))


def set_dynamodb_partition_limits(scale: float = 1.0) -> None:
    """DynamoDB's own per-partition limits (3,000 read and 1,000 write units a second), times
    `scale` (below 1 to meet them with a smaller load)."""
    set_partition_limits(PARTITION_READ_UNITS_PER_S * scale, PARTITION_WRITE_UNITS_PER_S * scale)


def partition_usage() -> list[dict[str, Any]]:
    """Every partition touched while metering since the last reset_partition_usage(), in the
    order first touched: {"table", "index" (a global index's name, or None for the table and
    its local indexes), "key" (the partition key value as text; binary as base64),
    "read_units", "write_units" (as ConsumedCapacity reports them), "throttled_reads",
    "throttled_writes" (request items refused on this partition)}."""
    with _partition_lock:
        rows = [(partition, list(figures)) for partition, figures in _partition_usage.items()]
    return [{"table": partition[1], "index": partition[2], "key": _key_text(partition[3]),
             "read_units": reads, "write_units": writes,
             "throttled_reads": int(throttled_reads), "throttled_writes": int(throttled_writes)}
            for partition, (reads, writes, throttled_reads, throttled_writes) in rows]


def reset_partition_usage() -> None:
    """Forget the usage recorded so far (the buckets stay as they are)."""
    with _partition_lock:
        _partition_usage.clear()


def _key_text(key: tuple | None) -> str:
    if key is None:
        return ""
    kind, value = key
    if kind == "B" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _usage_of(partition: tuple) -> list[float]:  # under _partition_lock
    figures = _partition_usage.get(partition)
    if figures is None:
        figures = _partition_usage[partition] = [0.0, 0.0, 0, 0]
    return figures


class _PartitionLimits:
    """A token bucket per partition and kind ("read", "write"): it holds at most one second
    of the limit, starts full and refills continuously at the limit per second. A request
    item is refused while a bucket it needs is empty (<= 0); what was performed is debited
    afterwards, so a bucket may go below zero and then takes longer to refill."""

    def __init__(self, read_units_per_s: float | None, write_units_per_s: float | None):
        self.rates = {"read": read_units_per_s, "write": write_units_per_s}
        self.buckets: dict[tuple, list[float]] = {}  # (kind, partition) -> [tokens, when last refilled]

    def _bucket(self, kind: str, rate: float, partition: tuple, now: float) -> list[float]:  # under the lock
        bucket = self.buckets.get((kind, partition))
        if bucket is None:
            bucket = self.buckets[(kind, partition)] = [rate, now]
        elif now > bucket[1]:
            bucket[0] = min(rate, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        return bucket

    def refuse(self, kind: str, plan: list[list[tuple]]) -> list[bool]:
        """For each item of a request (the partitions it would touch), whether to refuse it;
        each refusal is counted on the empty partitions that caused it."""
        rate = self.rates[kind]
        if rate is None or not plan:
            return [False] * len(plan)
        column = 2 if kind == "read" else 3
        refused = []
        with _partition_lock:
            now = _partition_clock()
            for partitions in plan:
                empty = [p for p in dict.fromkeys(partitions) if self._bucket(kind, rate, p, now)[0] <= 0]
                for partition in empty:
                    _usage_of(partition)[column] += 1
                refused.append(bool(empty))
        return refused

    def debit(self, kind: str, units: dict[tuple, float]) -> None:
        rate = self.rates[kind]
        column = 0 if kind == "read" else 1
        with _partition_lock:
            now = _partition_clock()
            for partition, spent in units.items():
                _usage_of(partition)[column] += spent
                if rate is not None:
                    self._bucket(kind, rate, partition, now)[0] -= spent


def _write_partitions(backend: Any, table_name: str, op_type: str, op: dict) -> list[tuple]:
    """The partitions one item write would touch, before it is made: its table's, and each
    global index partition whose entry it would put or delete (capacity._index_entry_writes on the
    stored item and the item the write would leave; an update is tried on a copy of the
    stored item with moto's own update-expression code). op_type: Put (op holds Item),
    Update, Delete or ConditionCheck (op holds Key)."""
    import copy
    import types

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    table = backend.get_table(table_name)
    key = op["Item"] if op_type == "Put" else op["Key"]
    partitions = [items.partition_id(table, None, items.hash_token(table, key))]
    if op_type == "ConditionCheck" or not table.global_indexes:
        return partitions
    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        with items.write_lock:  # the stored item, whole (UpdateItem changes it in place)
            stored = items.stored(table, (hash_value, range_value))
            old = capacity._Footprint(table, stored) if stored is not None else None
            if op_type == "Put":
                new = capacity._Footprint(table, types.SimpleNamespace(attrs={k: DynamoType(v) for k, v in key.items()}))
            elif op_type == "Delete":
                new = None
            else:
                item = copy.deepcopy(stored) if stored is not None else Item(hash_value, range_value, {
                    name: {value.type: value.value} for name, value in
                    ((table.hash_key_attr, hash_value), (table.range_key_attr, range_value)) if value is not None})
        if op_type == "Update":
            _updated(table, item, op)
            new = capacity._Footprint(table, item)
    except Exception:  # moto will refuse the write itself (or the update cannot be foreseen): the table's partition
        return partitions
    for index, _, entry_key in capacity._index_entry_writes(table, old, new):
        if isinstance(index, GlobalSecondaryIndex):
            partitions.append(items.partition_id(table, index.name, entry_key))
    return partitions


def _updated(table: Any, item: Any, op: dict) -> None:
    """Apply an UpdateItem's update to `item` (a copy), as DynamoDBBackend.update_item does."""
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    names = op.get("ExpressionAttributeNames") or {}
    if op.get("UpdateExpression"):
        validated = UpdateExpressionValidator(UpdateExpressionParser.make(op["UpdateExpression"]),
                                              expression_attribute_names=names,
                                              expression_attribute_values=op.get("ExpressionAttributeValues") or {},
                                              item=item, table=table).validate()
        validated.normalize()
        UpdateExpressionExecutor(validated, item, names).execute()
    elif op.get("AttributeUpdates"):
        item.update_with_attribute_updates(op["AttributeUpdates"])


def _query_partitions(backend: Any, body: dict) -> list[tuple]:
    """A Query's one partition: its key condition's hash value, in the queried index if global."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.key_condition_expression import parse_expression

    table = backend.get_table(body["TableName"])
    index_name = body.get("IndexName")
    schema = backend.get_schema(body["TableName"], index_name)
    if body.get("KeyConditionExpression"):
        conditions, _, _ = parse_expression(key_condition_expression=body["KeyConditionExpression"],
                                            expression_attribute_names=body.get("ExpressionAttributeNames") or {},
                                            expression_attribute_values=body.get("ExpressionAttributeValues") or {},
                                            schema=schema)
        value = conditions[0][1]  # moto's hash_key, which the bill meters
    else:
        hash_attr = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        value = body["KeyConditions"][hash_attr]["AttributeValueList"][0]
    is_global = index_name is not None and any(i.name == index_name for i in table.global_indexes)
    return [items.partition_id(table, index_name if is_global else None, items.token(DynamoType(value)))]


def _planned(handler: Any, op: str) -> list[list[tuple]]:
    """Per item of the request, in its order (batches: table by table), the partitions it
    would touch; [] for an item that cannot be read (moto answers it as it would)."""
    body, backend = handler.body, handler.dynamodb_backend

    def safely(find: Any, *args: Any) -> list[tuple]:
        try:
            return find(*args)
        except Exception:
            return []

    def read(table_name: str, key: dict) -> list[tuple]:
        table = backend.get_table(table_name)
        return [items.partition_id(table, None, items.hash_token(table, key))]

    if op == "get_item":
        return [safely(read, body.get("TableName"), body.get("Key"))]
    if op == "query":
        return [safely(_query_partitions, backend, body)]
    if op in ("put_item", "update_item", "delete_item"):
        op_type = {"put_item": "Put", "update_item": "Update", "delete_item": "Delete"}[op]
        return [safely(_write_partitions, backend, body.get("TableName"), op_type, body)]
    if op == "batch_get_item":
        return [safely(read, label, key) for label, request in (body.get("RequestItems") or {}).items()
                for key in request.get("Keys") or []]
    if op == "batch_write_item":
        return [safely(_write_partitions, backend, label, "Put" if "PutRequest" in entry else "Delete",
                       entry.get("PutRequest") or entry.get("DeleteRequest") or {})
                for label, requests in (body.get("RequestItems") or {}).items() for entry in requests]
    if op in ("transact_get_items", "transact_write_items"):
        plan = []
        for entry in body.get("TransactItems") or []:
            op_type, spec = next(iter(entry.items()), (None, {}))
            if op_type == "Get":
                plan.append(safely(read, spec.get("TableName"), spec.get("Key")))
            else:
                plan.append(safely(_write_partitions, backend, spec.get("TableName"), op_type, spec))
        return plan
    return []  # scan: metered, never throttled


def _batch_split(op: str, body: dict, refused: list[bool]) -> tuple[dict, dict]:
    """A batch request without its refused items, and those items as DynamoDB hands them back
    (UnprocessedKeys: each table's KeysAndAttributes with the refused keys; UnprocessedItems:
    each table's refused write requests). A table all of whose items were refused stays in
    the request with none (so it still has its Responses entry and ConsumedCapacity)."""
    verdicts = iter(refused)
    kept: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for label, request in body["RequestItems"].items():
        entries = request["Keys"] if op == "batch_get_item" else request
        keep, leave = [], []
        for entry in entries:
            (leave if next(verdicts) else keep).append(entry)
        if op == "batch_get_item":
            kept[label] = {**request, "Keys": keep}
            if leave:
                left[label] = {**request, "Keys": leave}
        else:
            kept[label] = keep
            if leave:
                left[label] = leave
    return {**body, "RequestItems": kept}, left


@functools.cache
def _throughput_exceeded_class() -> type:
    from moto.dynamodb.exceptions import DynamodbException

    class ProvisionedThroughputExceeded(DynamodbException):
        def __init__(self) -> None:
            super().__init__("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                             THROTTLED_MESSAGE)

    return ProvisionedThroughputExceeded


def throughput_exceeded() -> Exception:
    """The error DynamoDB answers a throttled request with (the SDKs retry it), as moto raises
    its errors (a partition over its limit here; an injected fault, infra/runtime/dynamodb_faults.py)."""
    return _throughput_exceeded_class()()


def _limited(op: str) -> Any:
    """The layer over DynamoHandler.<op>: refuse what an empty bucket cannot serve, debit the rest."""
    kind = "read" if op in _PARTITION_READS else "write"

    def handle(inner, self):
        from moto.dynamodb.exceptions import TransactionCanceledException

        limits = _partition_limits
        if limits is None:
            return inner(self)
        refused = limits.refuse(kind, _planned(self, op))
        body, unprocessed = self.body, None
        if any(refused):
            if op.startswith("transact_"):
                raise TransactionCanceledException([("ThrottlingError", THROTTLED_MESSAGE, None) if no
                                                    else (None, None, None) for no in refused])
            if not op.startswith("batch_") or all(refused):
                raise throughput_exceeded()
            self.body, unprocessed = _batch_split(op, body, refused)
        setattr(self, capacity.METERED, True)  # the billing layer, inside this one, bills it for the meter
        setattr(self, capacity.BILL, None)
        try:
            result = inner(self)
        finally:
            self.body = body
        bill = getattr(self, capacity.BILL)
        if bill is not None and bill.partitions:
            limits.debit(kind, bill.partitions)
        if unprocessed:
            answer = result.result
            if op == "batch_get_item":
                left = answer.setdefault("UnprocessedKeys", {})
                for label, request in unprocessed.items():
                    if label in left:
                        left[label]["Keys"].extend(request["Keys"])
                    else:
                        left[label] = request
            else:
                left = answer.setdefault("UnprocessedItems", {})
                for label, requests in unprocessed.items():
                    left.setdefault(label, []).extend(requests)
        return result
    return handle


FIXES = [
    Fix("dynamodb.hot_partitions_throttled", "feature",
        "moto serves any load on one key; DynamoDB throttles a partition above 3,000 read / 1,000 write units a "
        "second: when set_partition_limits turns it on, each partition is metered and throttled so",
        patches=tuple(Patch(f"moto.dynamodb.responses.DynamoHandler.{op}", wrap=_limited(op))
                      for op in capacity.DATA_PLANE)),
]
