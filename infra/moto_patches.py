"""Fixes to the embedded moto, applied in the process that hosts it (in-process mock or
ThreadedMotoServer). Each one is a moto behaviour that differs from AWS in a way that
breaks the local runtime; keep this list short and say why.
"""

from __future__ import annotations

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _honour_disabled_stream_mappings()


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
