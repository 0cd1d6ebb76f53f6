"""Overload (issue 23, with issue 14's policy): when DynamoDB throttles a hot partition past the
SDK's retries, a home read leaves out the source it cannot read and says the page is partial;
anything else answers 503 with Retry-After. Never a 500.

The emulator's partition limits (infra.runtime.moto_fixes.partitions.set_partition_limits) with a frozen bucket
clock: a drained partition stays drained through every retry."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from infra.runtime.moto_fixes import partitions

NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def limits(monkeypatch):
    """Partition limits on (50 read units a second a key, generous for one reader's keys) with
    the buckets' clock stopped; off again afterwards."""
    monkeypatch.setattr(partitions, "_partition_clock", lambda: 1_000.0)
    partitions.set_partition_limits(50.0, None)
    yield
    partitions.set_partition_limits(None, None)
    partitions.reset_partition_usage()


def drain(table: str, key: dict) -> None:
    """Query one partition until the emulator refuses it (its bucket is then empty for good)."""
    ddb = boto3.client("dynamodb", config=NO_RETRIES)
    (name, value), = key.items()
    for _ in range(1_000):
        try:
            ddb.query(TableName=table, KeyConditionExpression="#k = :v", ExpressionAttributeNames={"#k": name},
                      ExpressionAttributeValues={":v": value})
        except ddb.exceptions.ProvisionedThroughputExceededException:
            return
    raise AssertionError("the partition was never throttled")


@pytest.mark.stack(CelebrityThreshold="3", CopyThreshold="3", CelebrityCopyShards="1")
def test_given_a_celebritys_copies_throttled_when_a_fan_reads_then_the_page_is_partial_and_has_the_rest(h, limits):
    # Given alice follows carol (copied, one shard) and dave, who both posted
    carol, alice = h.sign_up("carol"), h.sign_up("alice")
    for name in ("fan1", "fan2"):
        h.follow(h.sign_up(name), "carol")
    h.follow(alice, "carol")
    dave = h.sign_up("dave")
    h.follow(alice, "dave")
    h.drain()
    h.post(carol, "from carol")
    d1 = h.post(dave, "from dave")
    h.drain()
    # When carol's shard is throttled past every retry
    drain(h.stack.outputs["CelebrityCopiesTableName"], {"shard": {"S": f"{carol}#0"}})
    reply = h.home(alice)
    # Then alice still gets dave's post, on a page marked partial, not an error
    assert reply.status == 200, reply
    assert [i["id"] for i in reply.body["items"]] == [d1] and reply.body["partial"] is True


def test_given_the_readers_own_timeline_throttled_when_read_then_503_with_retry_after(h, limits):
    alice = h.sign_up("alice")
    h.post(alice, "mine")
    h.drain()
    drain(h.settings.timelines_table, {"owner_id": {"N": str(alice)}})
    reply = h.home(alice)
    assert reply.status == 503, reply
    assert reply.body["error"]["code"] == "unavailable" and reply.headers.get("Retry-After") == "1"
