"""moto's DynamoDB tables and transactions: the fixes that make it answer as DynamoDB does
(transactions, their tokens) and at DynamoDB's cost (a query reads its partition, a response
is encoded without a walk through botocore's shapes). Billing is in capacity.py, the
per-partition limits in partitions.py, the stream fixes in dynamodb_streams.py.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import threading
import time
from enum import Enum
from typing import Any

from infra.runtime import dynamodb_faults
from infra.runtime.moto_fixes import capacity, items
from infra.runtime.moto_fixes.registry import Fix, Patch

TABLE = "moto.dynamodb.models.table.Table"
HANDLER = "moto.dynamodb.responses.DynamoHandler"

# ------------------------------------------------------------------ transactions
_transaction_lock = threading.RLock()  # transactions are serialized among themselves, as DynamoDB isolates them


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems deep-copies every table it touches so it can roll back.
    That costs time linear in the table (about 5 ms at 100 items, 220 ms at 4,000, measured
    in-process), so seeding follows (one transaction each) grows quadratically, and in the
    threaded server the copy also races concurrent writers ("dictionary changed size during
    iteration", a 500 that boto retries). DynamoDB's own semantics need no copy: check every
    condition first, write only if all pass, with transactions serialized among themselves.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _transaction_lock:
        planned, reasons, seen = [], [], set()
        for entry in transact_items:  # phase 1: validate against the current state
            if len(entry) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (op["TableName"], str(sorted(key.items())))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues")).expr(current):
                old = (current.to_json()["Attributes"] if current and
                       op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
                reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
            else:
                reasons.append((None, None, None))
            planned.append((op_type, op, key))
        if any(code for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        for op_type, op, key in planned:  # phase 2: every condition held; write
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            elif op_type == "Update":
                self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)


TOKEN_WINDOW_S = 600  # DynamoDB: a ClientRequestToken is valid for 10 minutes after its request completed
# Wall-clock time: the tokens are kept in the DynamoDB backend, which `--persist` pickles across
# restarts of the local stack (infra/runtime/snapshot.py), where a monotonic clock starts again.
_token_clock = time.time


@functools.cache
def _idempotent_parameter_mismatch() -> type:
    from moto.dynamodb.exceptions import DynamodbException

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                             "this ClientRequestToken was used by a different request within the last 10 minutes")

    return IdempotentParameterMismatch


def _repeated(handler: Any) -> Any:
    """The answer to a repeat: nothing written, the items read."""
    from moto.core.responses import ActionResult

    body: dict[str, Any] = {"ItemCollectionMetrics": {}}
    mode = handler.body.get("ReturnConsumedCapacity", "NONE")
    if mode != "NONE":
        backend, bill, labels = handler.dynamodb_backend, capacity._Bill(), []
        for entry in handler.body["TransactItems"]:
            op = next(iter(entry.values()))
            table = backend.get_table(op["TableName"])
            key = op.get("Key") or {name: op["Item"][name] for name in
                                    (table.hash_key_attr, table.range_key_attr) if name}
            item = table.get_item(*backend.get_keys_value(table, key))
            bill.add(table, capacity._read_units(capacity._attributes_size(item.attrs) if item is not None else 0, True))
            labels.append(op["TableName"])
        body["ConsumedCapacity"] = [bill.render(label, backend.get_table(label).name, mode, "Read")
                                    for label in dict.fromkeys(labels)]
    return ActionResult(body)


def _honour_token(inner: Any, self: Any) -> Any:
    """moto ignores TransactWriteItems' ClientRequestToken. botocore draws one for every call
    (idempotencyToken in its model) and sends it again with each retry of that call, so that on
    AWS a transaction whose answer was lost (a timeout, a reset connection) and that botocore
    retried commits once and answers success. On moto the retry ran the transaction again and
    its own "attribute_not_exists" conditions failed: a post that was stored answered
    TransactionCanceled (and was written again under a new id), and a sign-up's handle claim
    answered "handle taken" for the claim it had just made, leaving a profile without a login
    (issue 21, defect 3).

    DynamoDB's rule, as documented for TransactWriteItems: a token is valid for 10 minutes
    after the first request that used it completed; within them, the same token with the same
    request succeeds without writing anything (with ReturnConsumedCapacity, the repeat reports
    read units, for reading the items, not write units), and with any parameter changed it is
    refused, IdempotentParameterMismatchException (400). After 10 minutes the token is new
    again. Here each request that committed is remembered (its parameters, when it completed)
    in its account and region's backend; a request that failed wrote nothing and is not
    remembered, so its retry runs (DynamoDB's guide speaks of repeats of a call that
    succeeded). A repeat is billed one strongly consistent read of each item (AWS says only
    "read units"). The check, the transaction and the record are one step under the
    transactions' lock, so a repeat sent while the first is still running waits for it and
    then answers as a repeat (DynamoDB may answer that one TransactionInProgressException,
    which the caller retries). Measured: a committed transaction retried by botocore (forced by
    answering its needs-retry event; tests/runtime/test_moto_fixes.py), in-process and over the
    server: TransactionCanceled (ConditionalCheckFailed) before, success and one write now."""
    token = self.body.get("ClientRequestToken")
    if token is None:
        return inner(self)
    request = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"},
                         sort_keys=True, default=_blob)  # binary values arrive decoded, as bytes
    with _transaction_lock:
        # token -> (the request, when it completed), oldest first: expired ones are dropped
        remembered = self.dynamodb_backend.__dict__.setdefault("_local_runtime_tokens", {})
        now = _token_clock()
        while remembered and now - next(iter(remembered.values()))[1] >= TOKEN_WINDOW_S:
            del remembered[next(iter(remembered))]
        if token in remembered:
            if remembered[token][0] != request:
                raise _idempotent_parameter_mismatch()()
            return _repeated(self)
        result = inner(self)
        remembered[token] = (request, _token_clock())
        return result


# ------------------------------------------------------------------ a query reads one partition
_partition_hint = threading.local()  # .hint: (table, hash key, by index) during a Query on this thread


def _one_partition_all_items(inner: Any, self: Any) -> Any:
    """During a table Query, `all_items` is just that partition; during an index Query, the
    items unsorted (the query sorts what it keeps), when the index partitions cannot narrow
    them further. Scans and everything else see moto's original behaviour."""
    hint = getattr(_partition_hint, "hint", None)
    if hint is None or hint[0] is not self:
        return inner(self)
    _, hash_key, by_index = hint
    if by_index:
        if self.range_key_attr:
            return [item for partition in self.items.values() for item in partition.values()]
        return list(self.items.values())
    partition = self.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if self.range_key_attr else [partition]


def _one_partition_query(inner: Any, self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """moto answers every Query by sorting the whole table (`Table.all_items`) and then
    keeping one partition, so a query's cost grows with the table, not the partition: with
    the demo's ~40,000 timeline entries a one-item query took longer than a whole request
    should. DynamoDB reads one partition. During a table Query, `all_items` now returns just
    that partition; during an index Query it returns the items unsorted (the query sorts what
    it keeps), when the index partitions (below) cannot narrow them to the index
    partition. Scans and everything else see moto's original behaviour."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    conditions = kwargs.get("hash_key_conditions")
    if hash_key is None and not index_name and not conditions:
        return inner(self, hash_key, *args, **kwargs)
    _partition_hint.hint = (self, hash_key, bool(index_name) or hash_key is None)
    try:
        return inner(self, hash_key, *args, **kwargs)
    finally:
        _partition_hint.hint = None


# ------------------------------------------------------------------ an index query reads one index partition
_INDEX_MAPS = "_local_runtime_index_partitions"
_SCALAR_KEY_TYPES = ("S", "N", "B")


class _IndexMaps(dict):
    """index name -> _IndexPartitions, stored on the Table. moto deep-copies tables (backups);
    a copy starts empty and is rebuilt from the copied items on first use."""

    def __deepcopy__(self, memo: dict) -> _IndexMaps:
        return _IndexMaps()

    def __reduce__(self):
        return (_IndexMaps, ())


class _IndexPartitions:
    """One secondary index as DynamoDB stores it: index hash key value -> {primary key ->
    Item}, holding only items that have every key attribute of the index (sparse index). The
    Items are the table's own objects, so in-place updates of other attributes show through."""

    def __init__(self, table: Any, index: Any):
        self.index = index
        self.schema = _schema_of(index)
        self.key_attrs = [name for name, _ in self.schema]
        self.hash_attr = next(name for name, kind in self.schema if kind == "HASH")
        # Keyed by items.token()s, not DynamoTypes: equal exactly when the DynamoTypes are, but
        # hashed without re-parsing a Decimal each time (which made building 10x slower).
        self.partitions: dict[tuple, dict[tuple, Any]] = {}
        self.placed: dict[tuple, tuple] = {}  # primary key -> the index hash value it is filed under
        for key, item in items.all_stored(table):
            self.place(key, item)

    def describes(self, index: Any) -> bool:
        return index is self.index and _schema_of(index) == self.schema

    def partition(self, value: Any) -> list:
        return list(self.partitions.get(items.token(value), {}).values())

    def place(self, key: tuple, item: Any) -> None:
        """File the item now stored under `key` (None: deleted) where the index keeps it."""
        key = (items.token(key[0]), items.token(key[1]))
        old = self.placed.pop(key, None)
        if old is not None:
            partition = self.partitions.get(old)
            if partition is not None:
                partition.pop(key, None)
                if not partition:
                    del self.partitions[old]
        if item is None or not all(name in item.attrs for name in self.key_attrs):
            return
        value = item.attrs[self.hash_attr]
        if value.type not in _SCALAR_KEY_TYPES:
            return  # not a valid key value: no query can match it
        value = items.token(value)
        self.partitions.setdefault(value, {})[key] = item
        self.placed[key] = value


def _schema_of(index: Any) -> tuple:
    return tuple((k["AttributeName"], k["KeyType"]) for k in index.schema)


class _IndexUpkeep:
    """Write observer: re-files the written item in every index partition map built so far."""

    @staticmethod
    def before(table: Any, key: tuple | None) -> None:
        return None

    @staticmethod
    def after(table: Any, key: tuple | None, state: None, ok: bool) -> None:
        maps = table.__dict__.get(_INDEX_MAPS)
        if not maps:
            return
        if key is None:
            if ok:  # a write we could not place: rebuild on next use
                maps.clear()
            return
        item = items.stored(table, key)
        for partitions in maps.values():
            partitions.place(key, item)


def _index_partition(table: Any, index_name: str, conditions: Any) -> list | None:
    """The items of one index partition, or None when moto's own walk must answer (unknown
    index, no hash key condition, or a hash value that cannot be a key)."""
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    value = next((v for name, v in conditions or () if name == hash_attr), None)
    if value is None or getattr(value, "type", None) not in _SCALAR_KEY_TYPES:
        return None
    with items.write_lock:
        maps = table.__dict__.get(_INDEX_MAPS)
        if maps is None:
            maps = table.__dict__[_INDEX_MAPS] = _IndexMaps()
        partitions = maps.get(index_name)
        if partitions is None or not partitions.describes(index):
            partitions = maps[index_name] = _IndexPartitions(table, index)
        return partitions.partition(value)


_index_hint = threading.local()  # .hint: (table, the index partition's items) during an index Query


@functools.cache
def _query_signature() -> inspect.Signature:
    from moto.dynamodb.models.table import Table

    return inspect.signature(inspect.unwrap(Table.query))


def _index_partition_all_items(inner: Any, self: Any) -> Any:
    hint = getattr(_index_hint, "hint", None)
    if hint is None or hint[0] is not self:
        return inner(self)
    return hint[1]


def _index_partition_query(inner: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    """moto answers a Query on a secondary index by walking every item of the table and
    keeping those whose index hash key matches (queries_read_one_partition only saves it
    the sort), so the home timeline's read of a followed celebrity's posts (ByAuthor, on every
    home timeline read) costs time linear in TweetsTable. DynamoDB reads one index partition.
    Each table now keeps, per index, a map index hash value -> {primary key -> Item} (items
    lacking an index key attribute are not in it, as on AWS), built from the table on the
    index's first Query and then kept current by every item write (items.write_layers);
    an index Query walks only its partition, and moto sorts, pages and projects it as before.
    A ByAuthor-like Query (author_id = :a AND tweet_id < :b, descending, Limit 25, 20 posts
    per author), in-process through boto3, median: with the fixes before this one 4.2 ms at
    1,000 items and 39 ms at 50,000 (unpatched moto 4.6 and 78 ms); with it 3.5 ms at both
    (half of it moto's response serializer). The map costs one walk of the table on the
    index's first Query: 9 ms at 1,000 items, 125 ms at 50,000."""
    arguments = _query_signature().bind_partial(self, *args, **kwargs).arguments
    partition = None
    if arguments.get("index_name"):
        partition = _index_partition(self, arguments["index_name"], arguments.get("hash_key_conditions"))
    if partition is None:
        return inner(self, *args, **kwargs)
    _index_hint.hint = (self, partition)
    try:
        return inner(self, *args, **kwargs)
    finally:
        _index_hint.hint = None


# ------------------------------------------------------------------ responses, serialized directly
# moto's generic serializer (moto/core/serialize.py) turns a result into the response body
# by walking the operation's botocore output shape, looking every structure member up
# through alias providers. What it does to a plain-dict result, and what the direct encoder
# below reproduces member for member:
#   structure: the shape's members only, in the shape's order; a member whose value is None
#       is left out; an empty structure stays {} (a None element of a list stays None)
#   map: every key kept as given; values encoded by the value shape (a None structure value
#       is left out); list: every element encoded by the member shape
#   string: Enum -> its value, then str() (None, {} and [] kept as they are)
#   integer/long: int(); float/double: float(); boolean: as given
#   blob: base64 text (a str is UTF-8 encoded first)
#   timestamp: epoch seconds (moto's own TimestampSerializer is called)
#   then json.dumps(body), indented when MOTO_PRETTIFY_RESPONSES is set: the same text.
# Anything else (a result that is not a dict where a structure is due, a key that is not a
# member, so might be picked through an alias, a shape with a serialization name, or any
# error while encoding) makes that response go through moto's serializer instead.
_SKIP = object()  # "the generic serializer writes nothing here"
_ATTRIBUTE_VALUE = "AttributeValue"
_TAG_ORDER = {tag: i for i, tag in enumerate(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))}  # shape's
_DIRECT_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                                "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


class _NotPlain(Exception):
    """A result (or shape) the direct encoder does not reproduce exactly."""


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).strip().decode("utf-8")


def _attribute_value(value: Any) -> Any:
    """An AttributeValue, encoded as the generic serializer would (it probes all ten members,
    twice each through aliases; this reads the one or two present)."""
    if value is None:
        return _SKIP
    if type(value) is not dict:
        raise _NotPlain
    out = {}
    tags = value.items()
    if len(value) > 1:  # not a valid value, but encoded as the serializer would: in the shape's order
        tags = sorted(tags, key=lambda tag_value: _TAG_ORDER.get(tag_value[0], -1))
    for tag, v in tags:
        if v is None:
            continue
        if tag == "S" or tag == "N":
            out[tag] = v if type(v) is str else _string(v)
        elif tag == "M":
            if type(v) is not dict:
                raise _NotPlain
            m = {}
            for name, element in v.items():
                encoded = _attribute_value(element)
                if encoded is not _SKIP:
                    m[name] = encoded
            out[tag] = m
        elif tag == "L":
            out[tag] = [element if encoded is _SKIP else encoded
                        for element in v for encoded in (_attribute_value(element),)]
        elif tag == "B":
            out[tag] = _blob(v)
        elif tag == "SS" or tag == "NS":
            out[tag] = [_string(element) for element in v]
        elif tag == "BS":
            out[tag] = [_blob(element) for element in v]
        elif tag == "BOOL" or tag == "NULL":
            out[tag] = v
        else:  # not a member (the generic serializer might find it through an alias)
            raise _NotPlain
    return out


def _encoder(shape: Any, memo: dict[str, Any]) -> Any:
    """A function: value -> its JSON-ready form (or _SKIP) under `shape`, as moto's
    JSONSerializer would produce it. Raises _NotPlain for shapes it does not handle."""
    if shape.name in memo:
        return memo[shape.name]
    if shape.name == _ATTRIBUTE_VALUE:
        memo[shape.name] = _attribute_value
        return _attribute_value
    cell: list[Any] = []
    memo[shape.name] = lambda value: cell[0](value)  # recursive shapes reach themselves through it
    kind = shape.type_name
    if kind == "structure" and shape.is_document_type:
        def encode(value):
            return value
    elif kind == "structure":
        members = []
        for name, member in shape.members.items():
            if member.serialization.get("name", name) != name:
                raise _NotPlain
            members.append((name, _encoder(member, memo)))
        names = frozenset(name for name, _ in members)

        def encode(value):
            if value is None:
                return _SKIP
            if type(value) is not dict or not names.issuperset(value):
                raise _NotPlain
            out = {}
            for name, member_encoder in members:
                v = value.get(name)
                if v is not None:
                    encoded = member_encoder(v)
                    if encoded is not _SKIP:
                        out[name] = encoded
            return out
    elif kind == "map":
        if shape.value.serialization.get("name"):
            raise _NotPlain
        value_encoder = _encoder(shape.value, memo)

        def encode(value):
            if type(value) is not dict:
                raise _NotPlain
            out = {}
            for k, v in value.items():
                encoded = value_encoder(v)
                if encoded is not _SKIP:
                    out[k] = encoded
            return out
    elif kind == "list":
        element_encoder = _encoder(shape.member, memo)

        def encode(value):
            if not isinstance(value, (list, tuple)):
                raise _NotPlain
            return [element if encoded is _SKIP else encoded
                    for element in value for encoded in (element_encoder(element),)]
    elif kind == "string":
        encode = _string
    elif kind in ("integer", "long"):
        encode = int
    elif kind in ("float", "double"):
        encode = float
    elif kind == "blob":
        encode = _blob
    elif kind == "timestamp":
        from moto.core.serialize import TimestampSerializer

        timestamps = TimestampSerializer(TimestampSerializer.TIMESTAMP_FORMAT_UNIX)

        def encode(value):
            wrapper: dict[str, Any] = {}
            timestamps.serialize(wrapper, value, shape, "timestamp")
            return wrapper["timestamp"]
    elif kind == "boolean":
        def encode(value):
            return value
    else:
        raise _NotPlain
    cell.append(encode)
    memo[shape.name] = encode
    return encode


_plans: dict[tuple[str, str], Any] = {}  # (service, operation) -> (status, content type, encoder), or None


def _plan_for(service_model: Any, action: str) -> Any:
    from moto.core.serialize import JSONSerializer

    key = (service_model.service_name, action)
    if key not in _plans:
        try:
            operation = service_model.operation_model(action)
            if operation.has_event_stream_output or operation.output_shape is None:
                raise _NotPlain
            serializer = JSONSerializer(operation_model=operation)  # its status and Content-Type
            _plans[key] = (serializer._create_default_response()["status_code"],
                           serializer._get_protocol_specific_content_type(),
                           _encoder(operation.output_shape, {}))
        except _NotPlain:
            _plans[key] = None
    return _plans[key]


def _direct(handler: Any, action_result: Any) -> Any:
    """(status, headers, body) as moto's serializer would give them, or None to let it."""
    from moto import settings
    from moto.core.responses import ActionResult
    from moto.core.serialize import JSONSerializer, get_serializer_class
    from moto.core.utils import get_service_model

    result = action_result.result
    action = handler._get_action()
    if (action not in _DIRECT_OPERATIONS or isinstance(result, Exception)
            # a subclass with its own execute_result (PaginatedResult) does more than serialize
            or type(action_result).execute_result is not ActionResult.execute_result
            or getattr(handler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)):
        return None
    service_model = get_service_model(handler.boto3_service_name)
    protocol = handler.determine_response_protocol(service_model)
    plan = _plan_for(service_model, action)
    if plan is None or get_serializer_class(service_model.service_name, protocol) is not JSONSerializer:
        return None
    status, content_type, encode = plan
    try:
        body = encode(result)
        text = json.dumps({} if body is _SKIP else body, indent=4 if settings.PRETTIFY_RESPONSES else None)
    except Exception:  # _NotPlain, or what moto's serializer would fail on too: let it
        return None
    headers = {"Content-Type": content_type}
    headers.update(handler.response_headers)  # as BaseResponse.serialized does
    return status, headers, text


def _serialized_directly(inner: Any, self: Any, action_result: Any) -> Any:
    """moto 5.2 serializes every response through its generic, botocore-shape-driven
    serializer, which for DynamoDB walks every attribute value of every item and, for each,
    looks up all ten AttributeValue members (S, N, B, SS, NS, BS, M, L, NULL, BOOL) through
    its alias providers, about 80 lookups per value: every DynamoDB read on the emulator costs
    time proportional to attributes x 10, which dominated the home timeline read. For the
    data-plane operations, whose results are already plain DynamoDB JSON (GetItem, PutItem,
    UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems,
    TransactWriteItems), a successful result is now encoded directly: the same transformation
    of the result (see the notes above `_SKIP`), then json.dumps, with the status code
    (200) and headers (Content-Type application/x-amz-json-1.0, plus the handler's own) the
    serializer gives. The request id and the x-amz-crc32 header, which botocore checks for
    DynamoDB, are added after this, by moto's call_action, over whichever body was produced.
    Errors, the control plane (DescribeTable, CreateTable, ListTables..., whose results hold
    datetimes and model objects) and any result the encoder cannot reproduce exactly still go
    through moto's serializer. Measured in-process through boto3 (mock_aws, all the fixes,
    ReturnConsumedCapacity=TOTAL), median of 300 calls: a BatchGetItem of 11 items of
    10 attributes took 6.7 ms, of which serializing the result 4.8 ms; now 1.6 ms (0.06 ms).
    A Query returning 25 items of 10 attributes took 16.5 ms, serializing 12.9 ms; now 3.1 ms
    (0.16 ms). The bodies are the serializer's, byte for byte (tests/runtime/test_moto_fixes.py)."""
    response = _direct(self, action_result)
    return response if response is not None else inner(self, action_result)


FIXES = [
    Fix("dynamodb.transactions_without_table_copies", "correctness",
        "moto's TransactWriteItems deep-copies every table it touches to roll back: time linear in the table, "
        "and under the threaded server the copy races writers (a 500); check all conditions, then write",
        patches=(Patch("moto.dynamodb.models.DynamoDBBackend.transact_write_items", value=_transact_write_items),)),
    Fix("dynamodb.transaction_tokens_honoured", "correctness",
        "moto ignores TransactWriteItems' ClientRequestToken, so botocore's retry of a committed transaction "
        "ran it again and failed its own conditions; a repeat within 10 minutes now succeeds without writing",
        patches=(Patch(f"{HANDLER}.transact_write_items", wrap=_honour_token),)),
    Fix("dynamodb.faults_injected", "feature",
        "moto never throttles nor sees transactions race: dynamodb_faults.set_dynamodb_faults answers a seeded "
        "share of calls as DynamoDB would then (off by default)",
        patches=tuple(Patch(f"{HANDLER}.{op}", wrap=dynamodb_faults.layer(op)) for op in dynamodb_faults.THROTTLED_OPS)),
    Fix("dynamodb.queries_read_one_partition", "speed",
        "moto answers a table Query by sorting the whole table (all_items) and keeping one partition; "
        "here all_items is that partition during a Query",
        patches=(Patch(f"{TABLE}.query", wrap=_one_partition_query),
                 Patch(f"{TABLE}.all_items", wrap=_one_partition_all_items))),
    Fix("dynamodb.index_queries_read_one_partition", "speed",
        "moto answers an index Query by walking every item of the table; each table here keeps its index "
        "partitions, current with every write, and an index Query walks only its own",
        patches=(Patch(f"{TABLE}.query", wrap=_index_partition_query),
                 Patch(f"{TABLE}.all_items", wrap=_index_partition_all_items),
                 *(Patch(target, wrap=layer) for target, layer in items.write_layers(_IndexUpkeep).items()))),
    Fix("dynamodb.responses_serialized_directly", "speed",
        "moto 5.2's generic serializer looks every AttributeValue member up through botocore shapes (~80 lookups "
        "a value); data-plane results, already DynamoDB JSON, are encoded directly, byte for byte the same",
        patches=(Patch(f"{HANDLER}.serialized", wrap=_serialized_directly),)),
]

# Table.query and Table.all_items are wrapped by several fixes, DynamoHandler's data-plane calls
# too: each is wrapped once, its layers in this order, outermost first.
QUERY_ORDER = [
    "dynamodb.consumed_capacity_as_billed",  # outermost: runs moto's query unfiltered and unprojected, bills it
    "dynamodb.index_queries_read_one_partition",  # narrows all_items to an index partition when it can
    "dynamodb.queries_read_one_partition",  # else to the table's partition, or the unsorted items
]
ALL_ITEMS_ORDER = ["dynamodb.index_queries_read_one_partition", "dynamodb.queries_read_one_partition"]
WRITE_ORDER = ["dynamodb.consumed_capacity_as_billed", "dynamodb.index_queries_read_one_partition"]
HANDLER_ORDER = [
    "dynamodb.transaction_tokens_honoured",  # a repeat is answered before anything else: billed as reads
    "dynamodb.faults_injected",  # an injected fault is refused before any metering
    "dynamodb.hot_partitions_throttled",  # a refused request is not billed; it meters what the bill records
    "dynamodb.consumed_capacity_as_billed",  # innermost: bills what moto did
]
ORDER = {
    f"{TABLE}.query": QUERY_ORDER,
    f"{TABLE}.all_items": ALL_ITEMS_ORDER,
    **{target: WRITE_ORDER for target in (items.PUT_ITEM, items.DELETE_ITEM, items.UPDATE_ITEM)},
    **{f"{HANDLER}.{op}": HANDLER_ORDER for op in capacity.DATA_PLANE},
}
