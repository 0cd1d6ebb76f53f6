"""moto's DynamoDB Streams: a disabled event source mapping leaves the shard alone."""

from __future__ import annotations

from typing import Any

from infra.runtime.moto_fixes.registry import Fix, Patch


def _shard_add(inner: Any, self: Any, old: Any, new: Any) -> None:
    """moto hands every DynamoDB stream record to the table's event source mappings itself,
    ignoring their Enabled flag (it honours it for SQS). Without Docker that invocation
    fails, and moto then empties the shard, so GetRecords never sees the records. The local
    runtime disables the mappings and polls the stream itself, as Lambda does; with this fix a
    disabled mapping leaves the shard alone."""
    mappings = self.table.lambda_event_source_mappings
    if any(getattr(esm, "enabled", True) for esm in mappings.values()):
        return inner(self, old, new)
    from moto.dynamodb.models.table import StreamRecord

    view_type = self.table.stream_specification["StreamViewType"]
    event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    sequence = len(self.items) + self.starting_sequence_number
    self.items.append(StreamRecord(self.table, view_type, event_name, old, new, sequence))


FIXES = [
    Fix("dynamodb_streams.disabled_mappings_honoured", "correctness",
        "moto pushes stream records to event source mappings whatever their Enabled flag, and without Docker "
        "that fails and empties the shard; a disabled mapping now leaves the records for GetRecords",
        patches=(Patch("moto.dynamodb.models.table.StreamShard.add", wrap=_shard_add),)),
]
