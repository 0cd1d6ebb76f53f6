"""Throwaway DynamoDB tables for the emulator's own tests (tests/runtime/test_moto_fixes.py,
tests/runtime/test_partition_limits.py): made on demand, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


@contextmanager
def scratch_tables(client) -> Iterator[Callable[..., str]]:
    """`create(prefix, range_key=None, attrs=None, gsis=None)` makes a PAY_PER_REQUEST table
    with a string hash key `pk` (plus `range_key` (name, type), `attrs` {name: type} for the
    indexes, and `gsis`) and returns its name; every table made is deleted on exit."""
    created: list[str] = []

    def create(prefix: str = "t", *, range_key: tuple[str, str] | None = None,
               attrs: dict[str, str] | None = None, gsis: list[dict] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        definitions = {"pk": "S", **({range_key[0]: range_key[1]} if range_key else {}), **(attrs or {})}
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        if range_key:
            schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
        kwargs = {"GlobalSecondaryIndexes": gsis} if gsis else {}
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=schema,
                            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t}
                                                  for k, t in definitions.items()], **kwargs)
        created.append(name)
        return name

    try:
        yield create
    finally:
        for name in created:
            with suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=name)
