"""DynamoDB's capacity as on-demand DynamoDB bills it, where moto reports constants: the
fix `dynamodb.consumed_capacity_as_billed`, and the bill the partition limits
(partitions.py) meter with.

moto answers ReturnConsumedCapacity with constants whatever the items: 1.0 per call (0.5 for
GetItem), every Query and Scan alike whatever it read, 1 per key for BatchGetItem, 1 per
table for BatchWriteItem, an empty list for TransactWriteItems, and UpdateItem and the batch
calls report it even when not asked. A benchmark that sums the capacity every call reports
(ReturnConsumedCapacity=TOTAL or INDEXES) so learns nothing about what the service would
cost. Capacity is now what on-demand DynamoDB bills: item size = sum of UTF-8 attribute name
lengths and value sizes (strings UTF-8 bytes, numbers 1 byte per two significant digits + 1,
binary raw bytes, null/bool 1, list/map 3 + 1 per element). GetItem ceil(size/4 KB) read
units, halved unless ConsistentRead; BatchGetItem each item so; TransactGetItems twice the
strong units. Query and Scan: the items read (before FilterExpression and
ProjectionExpression; for an index, the index entries) summed and rounded up to 4 KB once per
request, halved if eventually consistent, at least 0.5/1. PutItem/UpdateItem/DeleteItem, and
each BatchWriteItem request: ceil(max(old, new size)/1 KB), at least 1 (deleting nothing
costs 1); plus per secondary index whose entry changed, 1 KB units of the entry put or
deleted (both when its key changed); TransactWriteItems twice all that, and a ConditionCheck
counts as a write of its item. Responses carry AWS's shapes: TOTAL {TableName,
CapacityUnits}, INDEXES adds Table and GlobalSecondaryIndexes/LocalSecondaryIndexes, batch
and transaction calls a list per table (transactions add Read/WriteCapacityUnits); with NONE
there is none. Measured in-process through boto3 on a table with one KEYS_ONLY index
(pynamodb asks for TOTAL on every call): asking adds ~0.1 ms to a PutItem (0.7 ms),
UpdateItem (1.0 ms), GetItem (0.8 ms) or ByAuthor Query (3.5 ms). While the partition limits
are on (partitions.py), every request is billed, asked or not, and each unit is also recorded
against the partition it was spent in, for the limits to meter.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import math
import threading
from decimal import Decimal
from typing import Any

from infra.runtime.moto_fixes import items
from infra.runtime.moto_fixes.registry import Fix, Patch

_billing = threading.local()  # .bill: the _Bill of the request this thread is serving, if it asked for one
# The partition limits' layer (outside this fix's) sets this on a request's handler to have it
# billed whatever it asked for, with each unit recorded per partition.
METERED = "_local_runtime_metered"
BILL = "_local_runtime_bill"  # where the bill of a metered request is left for the limits' layer
DATA_PLANE = ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
              "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items")


def _value_size(value: Any) -> int:
    """Bytes DynamoDB counts for an attribute value (its name not included)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(value, DynamoType):
        value = DynamoType(value)
    kind, v = value.type, value.value
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return _binary_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "BS":
        return sum(_binary_size(b) for b in v)
    if kind == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(_value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(e) + 1 for k, e in v.items())
    return len(str(v).encode("utf-8"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed), plus 1."""
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return (len(digits) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, (bytes, bytearray)) else len(base64.b64decode(value))


def _attributes_size(attrs: Any, names: Any = None) -> int:
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in attrs.items()
               if names is None or name in names)


def item_size(item: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for an item in DynamoDB JSON ({"name": {"S": "..."}}), as it bills
    them; the benchmark uses it to report the sizes its capacity model was fed."""
    return _attributes_size(item)


def _projected_names(table: Any, index: Any) -> set | None:
    """Attribute names an index entry holds; None for all of them."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    names = set(table.table_key_attrs) | {k["AttributeName"] for k in index.schema}
    if kind == "INCLUDE":
        names |= set(projection.get("NonKeyAttributes", []))
    return names


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


class _Footprint:
    """What a stored item costs to write: its size, and per index its entry (key values,
    size, a canonical form to tell whether the projected view changed, and the partition key
    value as an items.token)."""

    def __init__(self, table: Any, item: Any):
        from moto.dynamodb.models.utilities import DynamoJsonEncoder

        self.size = _attributes_size(item.attrs)
        self.entries: dict[str, tuple] = {}
        for index in table.all_indexes():
            key_names = [k["AttributeName"] for k in index.schema]
            if not all(name in item.attrs for name in key_names):
                continue  # not in this (sparse) index
            names = _projected_names(table, index)
            keys = tuple((item.attrs[n].type, item.attrs[n].cast_value) for n in key_names)
            view = {n: v for n, v in item.attrs.items() if names is None or n in names}
            hash_at = next((i for i, k in enumerate(index.schema) if k["KeyType"] == "HASH"), 0)
            self.entries[index.name] = (keys, _attributes_size(view),
                                        json.dumps(view, cls=DynamoJsonEncoder, sort_keys=True), keys[hash_at])


def _index_entry_writes(table: Any, old: _Footprint | None, new: _Footprint | None):
    """Per index whose entry an item write changes, (index, 1 KB units, the entry's partition
    key token) for the entry put or deleted, both when its key changed (each under its own
    partition); a changed view under the same key costs the larger of the two entries."""
    for index in table.all_indexes():
        before = old.entries.get(index.name) if old else None
        after = new.entries.get(index.name) if new else None
        if before is None and after is None:
            continue
        if before is None or after is None:
            entry = before or after
            yield index, _write_units(entry[1]), entry[3]
        elif before[0] != after[0]:
            yield index, _write_units(before[1]), before[3]
            yield index, _write_units(after[1]), after[3]
        elif before[2] != after[2]:
            yield index, _write_units(max(before[1], after[1])), after[3]


class _Bill:
    """Capacity units one request consumed: per table, on the table and on each index; and,
    when `metered` (the partition limits are on), per partition too."""

    def __init__(self, transactional: bool = False, metered: bool = False):
        self.factor = 2.0 if transactional else 1.0  # TransactWriteItems: 2 units per write
        self.tables: dict[str, dict[str, Any]] = {}
        # items.partition_id -> units; None when not metered (callers then skip finding the keys)
        self.partitions: dict[tuple, float] | None = {} if metered else None

    def add(self, table: Any, units: float, index: Any = None, key: tuple | None = None) -> None:
        """`key`: the partition key value (an items.token) the units were spent in, for the meter: the
        table's, or a global index's (a local index lives in its table's partitions)."""
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        entry = self.tables.setdefault(table.name, {"table": 0.0, "GlobalSecondaryIndexes": {},
                                                    "LocalSecondaryIndexes": {}})
        is_global = isinstance(index, GlobalSecondaryIndex)
        if index is None:
            entry["table"] += units
        else:
            kind = "GlobalSecondaryIndexes" if is_global else "LocalSecondaryIndexes"
            entry[kind][index.name] = entry[kind].get(index.name, 0.0) + units
        if key is not None and self.partitions is not None:
            partition = items.partition_id(table, index.name if is_global else None, key)
            self.partitions[partition] = self.partitions.get(partition, 0.0) + units

    def spread(self, table: Any, units: float, index: Any, read_items: list, sizes: list[int]) -> None:
        """Meter the units of one Scan page over the partitions its items came from, in
        proportion to the bytes read from each (DynamoDB rounds a page once, not per
        partition), so the partitions' figures add up to the page's bill."""
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        if self.partitions is None or not read_items:
            return
        is_global = isinstance(index, GlobalSecondaryIndex)
        hash_attr = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH") if is_global \
            else table.hash_key_attr
        read: dict[tuple, int] = {}
        for item, size in zip(read_items, sizes, strict=True):
            key = items.token(item.attrs.get(hash_attr) or item.attrs.get(table.hash_key_attr))
            read[key] = read.get(key, 0) + size
        total = sum(read.values())
        for key, size in read.items():
            partition = items.partition_id(table, index.name if is_global else None, key)
            self.partitions[partition] = self.partitions.get(partition, 0.0) + units * size / total

    def write(self, table: Any, old: _Footprint | None, new: _Footprint | None, key: tuple | None = None) -> None:
        """One item write: the larger of the item's sizes before and after, in 1 KB units (at
        least 1: a delete of nothing costs 1), and per index whose entry changed, the
        entry's put or delete, or both when its key changed. `key`: the item's partition key
        value (an items.token), for the meter."""
        self.add(table, self.factor * _write_units(max(old.size if old else 0, new.size if new else 0)), key=key)
        for index, units, entry_key in _index_entry_writes(table, old, new):
            self.add(table, self.factor * units, index, entry_key)

    def render(self, label: str, table_name: str, mode: str, kind: str | None = None) -> dict[str, Any]:
        """AWS's ConsumedCapacity for one table; `kind` ("Read"/"Write") adds the
        ReadCapacityUnits/WriteCapacityUnits that transactions report."""
        entry = self.tables.get(table_name) or {"table": 0.0, "GlobalSecondaryIndexes": {},
                                                "LocalSecondaryIndexes": {}}

        def capacity(units: float) -> dict[str, float]:
            return {"CapacityUnits": units, **({f"{kind}CapacityUnits": units} if kind else {})}

        total = entry["table"] + sum(u for k in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
                                     for u in entry[k].values())
        out: dict[str, Any] = {"TableName": label, **capacity(total)}
        if mode == "INDEXES":
            out["Table"] = capacity(entry["table"])
            for k in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if entry[k]:
                    out[k] = {name: capacity(units) for name, units in entry[k].items()}
        return out


class _WriteBilling:
    """Write observer: bills each item write of a request that asked for its capacity."""

    @staticmethod
    def before(table: Any, key: tuple | None) -> Any:
        bill = getattr(_billing, "bill", None)
        if bill is None or key is None:
            return None
        item = items.stored(table, key)
        return bill, (_Footprint(table, item) if item is not None else None)

    @staticmethod
    def after(table: Any, key: tuple | None, state: Any, ok: bool) -> None:
        if state is None or not ok:  # a failed write answers with an error, without capacity
            return
        bill, old = state
        item = items.stored(table, key)
        bill.write(table, old, _Footprint(table, item) if item is not None else None,
                   items.token(key[0]) if bill.partitions is not None else None)


@functools.cache
def _signature(method: str) -> inspect.Signature:
    from moto.dynamodb.models.table import Table

    return inspect.signature(inspect.unwrap(getattr(Table, method)))


def _billed_read(method: str, projection_name: str) -> Any:
    """Query and Scan: run moto's without the filter and the projection, bill what was read,
    then filter and project exactly as moto does."""
    def read(inner, self, *args, **kwargs):
        bill = getattr(_billing, "bill", None)
        if bill is None:
            return inner(self, *args, **kwargs)
        arguments = dict(_signature(method).bind(self, *args, **kwargs).arguments)
        del arguments["self"]
        extra = arguments.pop("filter_kwargs", {})
        filter_expression = arguments.pop("filter_expression", None)
        projection = arguments.pop(projection_name, None)
        found, scanned, last_key = inner(self, filter_expression=None, **{projection_name: None},
                                         **arguments, **extra)
        index_name = arguments.get("index_name")
        index = self.get_index(index_name) if index_name else None
        sizes = [_attributes_size(item.attrs) for item in found]
        units = _read_units(sum(sizes), bool(arguments.get("consistent_read")))
        if method == "scan":  # metered by each item's partition
            bill.add(self, units, index)
            bill.spread(self, units, index, found, sizes)
        else:  # an index query: Table 0.0, the units on the index (and metered on its partition)
            bill.add(self, units, index, items.token(arguments.get("hash_key")) if bill.partitions is not None else None)
        if filter_expression is not None:
            found = [item for item in found if filter_expression.expr(item)]
        if projection:
            found = [item.project(projection) for item in found]
        return found, scanned, last_key
    return read


def _stored_size(handler: Any, table_name: str, key: dict, bill: _Bill) -> tuple[Any, int, tuple | None]:
    """The table, the stored item's size, and (when metered) its partition key token."""
    backend = handler.dynamodb_backend
    table = backend.get_table(table_name)
    item = table.get_item(*backend.get_keys_value(table, key))
    return (table, _attributes_size(item.attrs) if item is not None else 0,
            items.hash_token(table, key) if bill.partitions is not None else None)


# Reads of single items are billed from the request once moto has answered it; `response`
# is moto's answer (for the keys it left unprocessed).
def _bill_get_item(handler, response, bill):
    request = handler.body
    table, size, key = _stored_size(handler, request["TableName"], request["Key"], bill)
    bill.add(table, _read_units(size, bool(request.get("ConsistentRead"))), key=key)


def _bill_batch_get_item(handler, response, bill):
    unprocessed = response.get("UnprocessedKeys") or {}
    for label, request in handler.body["RequestItems"].items():
        skip = unprocessed.get(label, {}).get("Keys", [])  # dicts: compared whatever their order
        for key in request["Keys"]:
            if key not in skip:  # (binary keys arrive as bytes, which json.dumps refuses)
                table, size, partition_key = _stored_size(handler, label, key, bill)
                bill.add(table, _read_units(size, bool(request.get("ConsistentRead"))), key=partition_key)


def _bill_transact_get_items(handler, response, bill):
    for entry in handler.body["TransactItems"]:
        table, size, key = _stored_size(handler, entry["Get"]["TableName"], entry["Get"]["Key"], bill)
        bill.add(table, 2 * _read_units(size, True), key=key)


def _bill_condition_checks(handler, response, bill):  # the transaction's writes were observed
    for entry in handler.body["TransactItems"]:
        if "ConditionCheck" in entry:
            check = entry["ConditionCheck"]
            table, size, key = _stored_size(handler, check["TableName"], check["Key"], bill)
            bill.add(table, bill.factor * _write_units(size), key=key)


def _tables_of(handler: Any, op: str) -> list[str]:
    body = handler.body
    if op in ("batch_get_item", "batch_write_item"):
        return list(body["RequestItems"])
    if op in ("transact_get_items", "transact_write_items"):
        return list(dict.fromkeys(next(iter(e.values()))["TableName"] for e in body["TransactItems"]))
    return [body["TableName"]]


_EXTRAS = {"get_item": _bill_get_item, "batch_get_item": _bill_batch_get_item,
           "transact_get_items": _bill_transact_get_items, "transact_write_items": _bill_condition_checks}
_KINDS = {"transact_get_items": "Read", "transact_write_items": "Write"}
_SINGLE = {"get_item", "put_item", "update_item", "delete_item", "query", "scan"}


def _billed(op: str) -> Any:
    """The layer over DynamoHandler.<op>: moto's made-up figures out, the bill in."""
    def handle(inner, self):
        from moto.dynamodb.exceptions import MockValidationException

        mode = self.body.get("ReturnConsumedCapacity", "NONE")
        if mode not in ("INDEXES", "TOTAL", "NONE"):
            raise MockValidationException(
                f"1 validation error detected: Value '{mode}' at 'returnConsumedCapacity' failed to satisfy "
                "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")
        metered = getattr(self, METERED, False)  # then billed whatever was asked, for the meter
        bill = (_Bill(transactional=op == "transact_write_items", metered=metered)
                if mode != "NONE" or metered else None)
        _billing.bill = bill
        try:
            result = inner(self)
        finally:
            _billing.bill = None
        body = result.result
        body.pop("ConsumedCapacity", None)  # moto's made-up figures
        body.pop("ConsumedCapacityUnits", None)
        if bill is None:
            return result
        if op in _EXTRAS:
            _EXTRAS[op](self, body, bill)
        if metered:
            setattr(self, BILL, bill)  # for the partition limits' layer, which debits it
        if mode == "NONE":
            return result
        backend = self.dynamodb_backend
        rendered = [bill.render(label, backend.get_table(label).name, mode, _KINDS.get(op))
                    for label in _tables_of(self, op)]
        body["ConsumedCapacity"] = rendered[0] if op in _SINGLE else rendered
        return result
    return handle


FIXES = [
    Fix("dynamodb.consumed_capacity_as_billed", "correctness",
        "moto reports constant ConsumedCapacity (1.0 a call, [] for transactions); here it is what on-demand "
        "DynamoDB bills for the items read and written, indexes included",
        patches=(Patch("moto.dynamodb.models.table.Table.query", wrap=_billed_read("query", "projection_expressions")),
                 Patch("moto.dynamodb.models.table.Table.scan", wrap=_billed_read("scan", "projection_expression")),
                 *(Patch(target, wrap=layer) for target, layer in items.write_layers(_WriteBilling).items()),
                 *(Patch(f"moto.dynamodb.responses.DynamoHandler.{op}", wrap=_billed(op)) for op in DATA_PLANE))),
]
