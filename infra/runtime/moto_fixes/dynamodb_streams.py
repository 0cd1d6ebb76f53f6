"""moto's DynamoDB Streams: a disabled event source mapping leaves the shard alone, and the
pollers' GetRecords is encoded without moto's generic serializer."""

from __future__ import annotations

from typing import Any

from infra.runtime.moto_fixes.dynamodb import serialized_directly
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
    # The stream pollers read every shard four times a second, up to 100 records a call: the
    # same walk as DynamoDB's responses, over records whose images are the same AttributeValue
    # maps. Measured draining 1,420 follows' stream records in-process (moto 5.2): 13 s of 30 s
    # went to serializing GetRecords.
    Fix("dynamodb_streams.records_serialized_directly", "speed",
        "moto's generic serializer walks every AttributeValue of every stream record through botocore shapes; "
        "GetRecords is encoded directly, as DynamoDB's data plane is (dynamodb.responses_serialized_directly)",
        patches=(Patch("moto.dynamodbstreams.responses.DynamoDBStreamsHandler.serialized", wrap=serialized_directly),)),
]
