"""What the DynamoDB fixes share about items: how a key is held, what is stored under it,
and the one place where every item write is seen before and after it happens. No fix is
declared here.

Every write of an item in moto's DynamoDB ends in one of three methods: Table.put_item
(PutItem, BatchWriteItem puts, transaction puts, PartiQL, imports, and UpdateItem when it
creates the item), Table.delete_item (DeleteItem, batch and transaction deletes, PartiQL),
or DynamoDBBackend.update_item (UpdateItem and transaction updates, which change the stored
Item in place, possibly an index key attribute). `write_layers(observer)` gives the layers a
fix wraps those three with, to see the state of an item just before and just after its
write: the index partitions (dynamodb.py) follow each write, and capacity billing
(capacity.py) reads the old item's size there. Writes are serialized by `write_lock`, so an
observer sees each write whole; ThreadedMotoServer runs requests on several threads, and a
lazily built index partition map must not be built while another thread writes. A write
nested in another on the same item (UpdateItem creating it with put_item) is part of the
outer write, observed once.
"""

from __future__ import annotations

import threading
from typing import Any

PUT_ITEM = "moto.dynamodb.models.table.Table.put_item"
DELETE_ITEM = "moto.dynamodb.models.table.Table.delete_item"
UPDATE_ITEM = "moto.dynamodb.models.DynamoDBBackend.update_item"

write_lock = threading.RLock()
_writes_in_progress = threading.local()


def write_layers(observer: Any) -> dict[str, Any]:
    """target -> layer, for the three methods every item write ends in. `observer` has
    before(table, key) -> state and after(table, key, state, ok); key is (hash DynamoType,
    range DynamoType or None), or None when the write's key cannot be known beforehand."""
    def put_item(inner, self, item_attrs, *args, **kwargs):
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            key = (DynamoType(item_attrs[self.hash_key_attr]),
                   DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None)
        except Exception:  # no key: moto rejects the item before storing anything
            key = None
        return _observed(observer, self, key, lambda: inner(self, item_attrs, *args, **kwargs))

    def delete_item(inner, self, hash_key, range_key):
        # moto pops the whole partition if a range table is given no range key: observe it as unknown
        key = None if self.range_key_attr and not range_key else (hash_key, range_key if self.range_key_attr else None)
        return _observed(observer, self, key, lambda: inner(self, hash_key, range_key))

    def update_item(inner, self, table_name, key, *args, **kwargs):
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            table = self.get_table(table_name)
        except Exception:
            return inner(self, table_name, key, *args, **kwargs)
        try:  # moto's own reading of `key`
            stored_key = (DynamoType(key[table.hash_key_attr]),
                          DynamoType(key[table.range_key_attr]) if table.range_key_attr else None)
        except Exception:
            stored_key = None
        return _observed(observer, table, stored_key, lambda: inner(self, table_name, key, *args, **kwargs))

    return {PUT_ITEM: put_item, DELETE_ITEM: delete_item, UPDATE_ITEM: update_item}


def _observed(observer: Any, table: Any, key: tuple | None, write: Any) -> Any:
    active = _writes_in_progress.__dict__.setdefault(id(observer), set())
    token = (id(table), key)
    with write_lock:
        if key is not None and token in active:
            return write()
        state = observer.before(table, key)
        active.add(token)
        ok = False
        try:
            result = write()
            ok = True
            return result
        finally:
            active.discard(token)
            observer.after(table, key, state, ok)


def stored(table: Any, key: tuple) -> Any:
    """The Item stored under (hash, range) now, or None; never creates a partition."""
    hash_key, range_key = key
    if not table.range_key_attr:
        return table.items.get(hash_key)
    partition = table.items.get(hash_key)
    return partition.get(range_key) if partition is not None and range_key is not None else None


def all_stored(table: Any):
    for hash_key, partition in list(table.items.items()):
        if table.range_key_attr:
            for range_key, item in list(partition.items()):
                yield (hash_key, range_key), item
        else:
            yield (hash_key, None), partition


def token(value: Any) -> tuple | None:
    """A scalar DynamoType as an immutable, cheaply hashed (type, value) pair."""
    return None if value is None else (value.type, value.cast_value)


def hash_token(table: Any, key: dict) -> tuple | None:
    """The partition key value of a request's Key (or Item), as a token."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    return token(DynamoType(key[table.hash_key_attr]))


def partition_id(table: Any, index_name: str | None, key: tuple | None) -> tuple:
    """One partition: (table ARN, table name, global index name or None, key value token)."""
    return table.table_arn, table.name, index_name, key
