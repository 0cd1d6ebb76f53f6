"""Fixes to the embedded moto, applied in the process that hosts it (in-process mock or
ThreadedMotoServer). Each one is a moto behaviour that differs from AWS in a way that
breaks the local runtime; keep this list short and say why.
"""

from __future__ import annotations

import threading
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _honour_disabled_stream_mappings()
    _transactions_without_table_copies()
    _queries_read_one_partition()


def _honour_disabled_stream_mappings() -> None:
    """moto hands every DynamoDB stream record to the table's event source mappings itself,
    ignoring their Enabled flag (it honours it for SQS). Without Docker that invocation
    fails, and moto then empties the shard, so GetRecords never sees the records. The
    local runtime disables the mappings and polls the stream itself, as Lambda does; with
    this fix a disabled mapping leaves the shard alone."""
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    original_add = StreamShard.add

    def add(self, old, new):
        mappings = self.table.lambda_event_source_mappings
        if any(getattr(esm, "enabled", True) for esm in mappings.values()):
            return original_add(self, old, new)
        view_type = self.table.stream_specification["StreamViewType"]
        event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        sequence = len(self.items) + self.starting_sequence_number
        self.items.append(StreamRecord(self.table, view_type, event_name, old, new, sequence))

    StreamShard.add = add


def _transactions_without_table_copies() -> None:
    """moto's TransactWriteItems deep-copies every table it touches so it can roll back.
    That costs time linear in the table (about 5 ms at 100 items, 220 ms at 4,000, measured
    in-process), so seeding follows (one transaction each) grows quadratically, and in the
    threaded server the copy also races concurrent writers ("dictionary changed size during
    iteration", a 500 that boto retries). DynamoDB's own semantics need no copy: check every
    condition first, write only if all pass, with transactions serialized among themselves.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (MultipleTransactionsException, TooManyTransactionsException,
                                          TransactionCanceledException, TransactWriteSingleOpException)
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_local_runtime", False):
        return
    lock = threading.RLock()

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with lock:
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

    transact_write_items._local_runtime = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items


def _queries_read_one_partition() -> None:
    """moto answers every Query by sorting the whole table (`Table.all_items`) and then
    keeping one partition, so a query's cost grows with the table, not the partition: with
    the demo's ~40,000 timeline entries a one-item query took longer than a whole request
    should. DynamoDB reads one partition. During a table Query, `all_items` now returns just
    that partition; during an index Query it returns the items unsorted (the query sorts what
    it keeps). Scans and everything else see moto's original behaviour."""
    from moto.dynamodb.models.table import Table

    local = threading.local()
    original_all_items, original_query = Table.all_items, Table.query

    def all_items(self):
        hint = getattr(local, "hint", None)
        if hint is None or hint[0] is not self:
            return original_all_items(self)
        _, hash_key, by_index = hint
        if by_index:
            if self.range_key_attr:
                return [item for partition in self.items.values() for item in partition.values()]
            return list(self.items.values())
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        conditions = kwargs.get("hash_key_conditions")
        if hash_key is None and not index_name and not conditions:
            return original_query(self, hash_key, *args, **kwargs)
        local.hint = (self, hash_key, bool(index_name) or hash_key is None)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            local.hint = None

    Table.all_items = all_items
    Table.query = query
