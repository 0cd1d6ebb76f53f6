"""infra.runtime.moto_fixes' partition limits (partitions.py, fix `dynamodb.hot_partitions_throttled`) on moto's in-process mock
and behind ThreadedMotoServer, through boto3.

DynamoDB serves at most 3,000 read and 1,000 write units a second from one partition of a
table or global index, and throttles above that; moto has no partitions. With the limits on,
every call is metered per partition key value, in ConsumedCapacity's units, and a token bucket
per partition refuses what would need an empty one, as DynamoDB answers it. Off, nothing is
metered or refused.

The buckets read `partitions._partition_clock`: most tests freeze it (a `Clock` they move by
hand), so nothing sleeps and nothing refills behind their back. Clients that must see the
throttling make one attempt only (retries={"total_max_attempts": 1}: botocore's legacy
"max_attempts" counts retries, so max_attempts=1 would still retry once); one test lets a
default client retry on the real clock. Tables get unique names and are deleted afterwards,
and the limits are turned off after every test (fixture `limits`), so the session's mock stays
as the other tests expect it.
"""

from __future__ import annotations

import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from infra.runtime import moto_fixes
from infra.runtime.moto_fixes import capacity as capacity_fix
from infra.runtime.moto_fixes import partitions
from tests.support.scratch_tables import scratch_tables

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})
THROTTLED = "ProvisionedThroughputExceededException"


class Clock:
    """A stand-in for the buckets' clock: still unless moved."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ddb(aws):
    """A one-attempt client, with create(...) for a (pk: S) table, optionally with a KEYS_ONLY
    global index ByG on g (S); tables are deleted afterwards."""
    moto_fixes.apply()
    client = boto3.client("dynamodb", region_name="us-east-1", config=ONE_ATTEMPT)
    by_g = [{"IndexName": "ByG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}}]
    with scratch_tables(client) as make:
        client.create = lambda prefix="hot", *, with_index=False: make(
            prefix, attrs={"g": "S"} if with_index else None, gsis=by_g if with_index else None)
        yield client


@pytest.fixture
def limits(ddb, monkeypatch):
    """Given a frozen bucket clock and no usage; afterwards, the limits off and no usage."""
    clock = Clock()
    monkeypatch.setattr(partitions, "_partition_clock", clock)
    partitions.set_partition_limits(None, None)
    partitions.reset_partition_usage()
    yield clock
    partitions.set_partition_limits(None, None)
    partitions.reset_partition_usage()


def key(pk: str) -> dict:
    return {"pk": {"S": pk}}


def usage() -> dict[tuple[str | None, str], dict]:
    """(index, key) -> the usage row (tables are unique per test)."""
    return {(row["index"], row["key"]): row for row in partitions.partition_usage()}


def gets(client, table: str, pk: str, times: int) -> tuple[int, int]:
    """(answered, throttled) of `times` GetItems on one key."""
    answered = throttled = 0
    for _ in range(times):
        try:
            client.get_item(TableName=table, Key=key(pk))
            answered += 1
        except client.exceptions.ProvisionedThroughputExceededException:
            throttled += 1
    return answered, throttled


# ============================================================ off by default

def test_given_limits_off_when_a_burst_of_get_items_hits_one_key_then_all_succeed_and_nothing_is_metered(ddb, limits):
    table = ddb.create()
    ddb.put_item(TableName=table, Item={**key("hot"), "v": {"S": "x"}})
    # When 300 GetItems hit one key at once (150 read units: fifteen times a 10 unit/s limit)
    answered, throttled = gets(ddb, table, "hot", 300)
    # Then every one is answered, and nothing was recorded
    assert (answered, throttled) == (300, 0)
    assert partitions.partition_usage() == []


def test_given_limits_off_then_the_billing_meters_nothing_and_bills_only_what_is_asked(ddb, limits, monkeypatch):
    table = ddb.create()
    ddb.put_item(TableName=table, Item=key("k"))
    bills: list = []

    class Recording(capacity_fix._Bill):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bills.append(self)

    monkeypatch.setattr(capacity_fix, "_Bill", Recording)
    ddb.get_item(TableName=table, Key=key("k"))
    ddb.get_item(TableName=table, Key=key("k"), ReturnConsumedCapacity="TOTAL")
    # Then only the call that asked was billed, without a meter
    assert len(bills) == 1 and bills[0].partitions is None
    # When the limits are on: every call is billed for the meter, asked or not
    partitions.set_partition_limits(1000, 1000)
    answer = ddb.get_item(TableName=table, Key=key("k"))
    assert "ConsumedCapacity" not in answer
    assert len(bills) == 2 and list(bills[1].partitions.values()) == [0.5]


# ============================================================ buckets

def test_given_10_read_units_a_second_when_a_burst_hits_one_key_then_one_second_of_it_passes_and_another_key_does_not_notice(
        ddb, limits):
    table = ddb.create()
    for pk in ("hot", "cold"):
        ddb.put_item(TableName=table, Item={**key(pk), "v": {"S": "x"}})  # small: 0.5 units an eventual read
    partitions.set_partition_limits(10, None)
    # When 30 GetItems hit "hot" within the same instant
    answered, throttled = gets(ddb, table, "hot", 30)
    # Then one second of the limit is served (20 x 0.5 units) and the rest throttled, as DynamoDB answers
    assert (answered, throttled) == (20, 10)
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException) as caught:
        ddb.get_item(TableName=table, Key=key("hot"))
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == partitions.THROTTLED_MESSAGE
    # ... while another key of the same table is served in full
    assert gets(ddb, table, "cold", 20) == (20, 0)
    rows = usage()
    assert rows[(None, "hot")] == {"table": table, "index": None, "key": "hot", "read_units": 10.0,
                                   "write_units": 0.0, "throttled_reads": 11, "throttled_writes": 0}
    assert rows[(None, "cold")]["read_units"] == 10.0 and rows[(None, "cold")]["throttled_reads"] == 0


def test_given_an_empty_bucket_when_time_passes_then_it_refills_at_the_limit_up_to_one_second_of_it(ddb, limits):
    table = ddb.create()
    ddb.put_item(TableName=table, Item=key("hot"))
    partitions.set_partition_limits(10, None)
    assert gets(ddb, table, "hot", 21) == (20, 1)
    # When 50 ms pass: 0.5 units come back, enough for one read
    limits.advance(0.05)
    assert gets(ddb, table, "hot", 2) == (1, 1)
    # When a minute passes: the bucket holds one second of the limit again, not sixty
    limits.advance(60)
    assert gets(ddb, table, "hot", 25) == (20, 5)


def test_given_a_large_read_then_the_bucket_goes_below_zero_and_takes_longer_to_refill(ddb, limits):
    table = ddb.create()
    ddb.put_item(TableName=table, Item={**key("big"), "body": {"S": "z" * (60 * 1024 - 10)}})  # 60 KB
    partitions.set_partition_limits(10, None)
    # A strongly consistent read of 60 KB: 15 units from a bucket of 10, performed, debited after
    got = ddb.get_item(TableName=table, Key=key("big"), ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert got["ConsumedCapacity"]["CapacityUnits"] == 15.0
    limits.advance(0.5)  # -5 + 5 = 0: still empty
    assert gets(ddb, table, "big", 1) == (0, 1)
    limits.advance(0.01)
    assert gets(ddb, table, "big", 1) == (1, 0)


def test_given_a_global_index_when_queried_then_its_own_partition_is_metered_and_throttled_not_the_tables(
        ddb, limits):
    table = ddb.create(with_index=True)
    for i in range(5):  # five items in five table partitions, one index partition "hot"
        ddb.put_item(TableName=table, Item={**key(f"p{i}"), "g": {"S": "hot"}})
    partitions.set_partition_limits(2, None)

    def query_index() -> dict:
        return ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "hot"}}, ReturnConsumedCapacity="INDEXES")

    page = query_index()
    assert page["Count"] == 5
    assert page["ConsumedCapacity"]["GlobalSecondaryIndexes"] == {"ByG": {"CapacityUnits": 0.5}}
    assert usage() == {("ByG", "hot"): {"table": table, "index": "ByG", "key": "hot", "read_units": 0.5,
                                        "write_units": 0.0, "throttled_reads": 0, "throttled_writes": 0}}
    for _ in range(3):
        query_index()
    # When the index partition's bucket is empty (4 x 0.5 units of 2)
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        query_index()
    # Then the table's partitions of the same items are still served
    assert gets(ddb, table, "p0", 4) == (4, 0)
    assert usage()[("ByG", "hot")]["throttled_reads"] == 1


def test_given_a_query_on_the_table_then_its_key_is_metered_and_throttled(ddb, limits):
    table = ddb.create()
    ddb.put_item(TableName=table, Item={**key("hot"), "body": {"S": "z" * 5000}})  # 5 KB: 1 unit eventual
    partitions.set_partition_limits(2, None)

    def query(**extra) -> dict:
        return ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "hot"}}, **extra)

    assert query(ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]["CapacityUnits"] == 1.0
    query()
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        query()
    assert usage()[(None, "hot")]["read_units"] == 2.0


# ============================================================ writes

def test_given_a_key_whose_write_bucket_is_empty_when_put_then_refused_and_the_item_is_unchanged(ddb, limits):
    table = ddb.create()
    partitions.set_partition_limits(None, 2)
    ddb.put_item(TableName=table, Item={**key("hot"), "v": {"S": "first"}, "body": {"S": "z" * 1500}})  # 2 units
    # When the same key is written again in the same instant
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.put_item(TableName=table, Item={**key("hot"), "v": {"S": "second"}})
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.update_item(TableName=table, Key=key("hot"), UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": {"S": "third"}})
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.delete_item(TableName=table, Key=key("hot"))
    # Then nothing changed, and reads (another bucket) are served
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["v"] == {"S": "first"}
    # ... while another key is written
    ddb.put_item(TableName=table, Item={**key("cold"), "v": {"S": "x"}})
    rows = usage()
    assert rows[(None, "hot")]["write_units"] == 2.0 and rows[(None, "hot")]["throttled_writes"] == 3
    assert rows[(None, "cold")]["write_units"] == 1.0
    limits.advance(1)
    ddb.put_item(TableName=table, Item={**key("hot"), "v": {"S": "later"}})
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["v"] == {"S": "later"}


def test_given_a_hot_index_partition_then_writes_that_would_put_or_move_an_entry_into_it_are_refused(ddb, limits):
    table = ddb.create(with_index=True)
    partitions.set_partition_limits(None, 2)
    for pk in ("a", "b"):  # each: 1 unit in its own table partition, 1 in the index partition "hot"
        ddb.put_item(TableName=table, Item={**key(pk), "g": {"S": "hot"}})
    ddb.put_item(TableName=table, Item={**key("c"), "g": {"S": "cold"}})
    # When a new item would add an entry to "hot": refused, though its own partition is fresh
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.put_item(TableName=table, Item={**key("d"), "g": {"S": "hot"}})
    # ... so is an update moving "c" into "hot" (foreseen on a copy of the item)
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.update_item(TableName=table, Key=key("c"), UpdateExpression="SET g = :g",
                        ExpressionAttributeValues={":g": {"S": "hot"}})
    # ... and an update of "c" that leaves the (KEYS_ONLY) index alone is served, as a new item outside it
    ddb.update_item(TableName=table, Key=key("c"), UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"S": "x"}})
    ddb.put_item(TableName=table, Item=key("e"))
    stored = {i["pk"]["S"]: i.get("g", {}).get("S") for i in ddb.scan(TableName=table)["Items"]}
    assert stored == {"a": "hot", "b": "hot", "c": "cold", "e": None}
    rows = usage()
    assert rows[("ByG", "hot")]["write_units"] == 2.0 and rows[("ByG", "hot")]["throttled_writes"] == 2
    assert rows[("ByG", "cold")]["write_units"] == 1.0 and rows[(None, "c")]["write_units"] == 2.0


def test_given_a_batch_write_with_a_throttled_key_then_it_comes_back_unprocessed_and_the_others_are_written(
        ddb, limits):
    table, other = ddb.create(), ddb.create("other")
    partitions.set_partition_limits(None, 1)
    ddb.put_item(TableName=table, Item={**key("hot"), "v": {"S": "before"}})
    hot_put = {"PutRequest": {"Item": {**key("hot"), "v": {"S": "after"}}}}
    written = ddb.batch_write_item(RequestItems={
        table: [hot_put, {"PutRequest": {"Item": key("cold1")}}, {"DeleteRequest": {"Key": key("cold2")}}],
        other: [{"PutRequest": {"Item": key("hot")}}],  # another table: another partition
    }, ReturnConsumedCapacity="TOTAL")
    # Then the throttled put comes back, the others were written, and only they are billed
    assert written["UnprocessedItems"] == {table: [hot_put]}
    assert written["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 2.0},
                                           {"TableName": other, "CapacityUnits": 1.0}]
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["v"] == {"S": "before"}
    assert "Item" in ddb.get_item(TableName=table, Key=key("cold1"))
    assert "Item" in ddb.get_item(TableName=other, Key=key("hot"))
    # When every item of a batch is throttled: the exception, as DynamoDB answers it
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.batch_write_item(RequestItems={table: [hot_put, {"DeleteRequest": {"Key": key("cold1")}}]})
    assert "Item" in ddb.get_item(TableName=table, Key=key("cold1"))
    # And resending what came back, once the bucket refilled, writes it
    limits.advance(1)
    assert ddb.batch_write_item(RequestItems=written["UnprocessedItems"])["UnprocessedItems"] == {}
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["v"] == {"S": "after"}


def test_given_a_batch_get_with_a_throttled_key_then_it_comes_back_in_unprocessed_keys_with_its_request(
        ddb, limits):
    table = ddb.create()
    for pk in ("hot", "cold1", "cold2"):
        ddb.put_item(TableName=table, Item={**key(pk), "v": {"S": pk}})
    partitions.set_partition_limits(1, None)
    ddb.get_item(TableName=table, Key=key("hot"), ConsistentRead=True)  # 1 unit: the bucket is empty
    request = {"Keys": [key("hot"), key("cold1"), key("cold2")], "ConsistentRead": True, "ProjectionExpression": "v"}
    got = ddb.batch_get_item(RequestItems={table: request}, ReturnConsumedCapacity="TOTAL")
    assert sorted(i["v"]["S"] for i in got["Responses"][table]) == ["cold1", "cold2"]
    assert got["UnprocessedKeys"] == {table: {**request, "Keys": [key("hot")]}}
    assert got["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 2.0}]
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.batch_get_item(RequestItems={table: {"Keys": [key("hot")]}})
    assert usage()[(None, "hot")]["throttled_reads"] == 2


def test_given_a_transaction_touching_a_throttled_key_then_it_is_cancelled_whole_with_throttling_error(ddb, limits):
    table = ddb.create()
    partitions.set_partition_limits(1, 2)
    ddb.put_item(TableName=table, Item={**key("hot"), "n": {"N": "1"}, "body": {"S": "z" * 1500}})  # 2 units
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": key("cold")}},
            {"Update": {"TableName": table, "Key": key("hot"), "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    # Then the reasons say which item was throttled, and nothing was written
    assert caught.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ThrottlingError", "Message": partitions.THROTTLED_MESSAGE}]
    assert "Item" not in ddb.get_item(TableName=table, Key=key("cold"))
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["n"] == {"N": "1"}
    # ... a ConditionCheck is a write of its item too
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": table, "Key": key("hot"), "ConditionExpression": "attribute_exists(pk)"}},
            {"Put": {"TableName": table, "Item": key("cold")}}])
    assert "Item" not in ddb.get_item(TableName=table, Key=key("cold"))
    # ... and TransactGetItems is cancelled the same way once a read bucket is empty
    partitions.set_partition_limits(1, 2)  # every bucket full again
    ddb.get_item(TableName=table, Key=key("hot"))  # 0.5 of 1
    ddb.get_item(TableName=table, Key=key("hot"))
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key("cold")}},
                                              {"Get": {"TableName": table, "Key": key("hot")}}])
    assert [r["Code"] for r in caught.value.response["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert usage()[(None, "hot")]["throttled_writes"] == 2


def test_given_a_throttled_transaction_with_a_token_then_it_is_not_remembered_and_a_committed_repeat_still_answers(
        ddb, limits):
    table = ddb.create()
    partitions.set_partition_limits(None, 2)
    request = {"ClientRequestToken": "tok-" + uuid.uuid4().hex, "ReturnConsumedCapacity": "TOTAL", "TransactItems": [
        {"Put": {"TableName": table, "Item": {**key("hot"), "v": {"S": "t"}}}}]}  # 2 units (a transaction)
    ddb.put_item(TableName=table, Item=key("hot"))  # 1 of 2
    ddb.put_item(TableName=table, Item=key("hot"))  # empty
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(**request)
    limits.advance(1)
    # Then its retry with the same token runs (a refused request wrote nothing and is not a repeat)
    first = ddb.transact_write_items(**request)
    assert first["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}]
    assert ddb.get_item(TableName=table, Key=key("hot"))["Item"]["v"] == {"S": "t"}
    # ... and a repeat of the committed one answers from the token patch, even with the bucket empty
    repeat = ddb.transact_write_items(**request)
    assert repeat["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 1.0, "ReadCapacityUnits": 1.0}]


# ============================================================ usage = ConsumedCapacity

def test_given_a_mix_of_calls_then_the_usage_adds_up_to_the_consumed_capacity_they_report(ddb, limits):
    table = ddb.create(with_index=True)
    partitions.set_dynamodb_partition_limits()  # DynamoDB's own: nothing here comes near them
    reported: dict[tuple[str | None, str], float] = {}  # (index, "read"/"write") -> units reported

    def count(response: dict, kind: str) -> dict:
        capacities = response["ConsumedCapacity"]
        for capacity in capacities if isinstance(capacities, list) else [capacities]:
            assert capacity["TableName"] == table
            reported[(None, kind)] = reported.get((None, kind), 0.0) + capacity["Table"]["CapacityUnits"]
            for name, units in capacity.get("GlobalSecondaryIndexes", {}).items():
                reported[(name, kind)] = reported.get((name, kind), 0.0) + units["CapacityUnits"]
        return response

    cap = {"ReturnConsumedCapacity": "INDEXES"}
    for i in range(6):
        count(ddb.put_item(TableName=table, Item={**key(f"p{i % 3}"), "g": {"S": f"g{i % 2}"},
                                                  "body": {"S": "z" * (700 * i)}}, **cap), "write")
    count(ddb.update_item(TableName=table, Key=key("p0"), UpdateExpression="SET g = :g",
                          ExpressionAttributeValues={":g": {"S": "g9"}}, **cap), "write")
    count(ddb.get_item(TableName=table, Key=key("p1"), ConsistentRead=True, **cap), "read")
    count(ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "g1"}}, **cap), "read")
    count(ddb.batch_get_item(RequestItems={table: {"Keys": [key("p0"), key("p2"), key("none")]}}, **cap), "read")
    count(ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {**key("p3"), "g": {"S": "g1"}}}},
                                                     {"DeleteRequest": {"Key": key("p2")}}]}, **cap), "write")
    count(ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": key("p1"), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "x" * 2000}}}},
        {"ConditionCheck": {"TableName": table, "Key": key("p3"), "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": table, "Key": key("p0")}}], **cap), "write")
    count(ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key("p1")}}], **cap), "read")
    count(ddb.scan(TableName=table, **cap), "read")
    ddb.get_item(TableName=table, Key=key("p3"))  # capacity not asked: metered all the same,
    reported[(None, "read")] += 0.5  # as it would have reported (a small item, read eventually)

    metered: dict[tuple[str | None, str], float] = {}
    for row in partitions.partition_usage():
        for kind in ("read", "write"):
            if row[f"{kind}_units"]:
                metered[(row["index"], kind)] = metered.get((row["index"], kind), 0.0) + row[f"{kind}_units"]
    assert metered == pytest.approx(reported)
    assert set(metered) == {(None, "read"), (None, "write"), ("ByG", "read"), ("ByG", "write")}


def test_given_a_scan_then_it_is_metered_per_item_partition_and_never_throttled(ddb, limits):
    table = ddb.create()
    for pk, size in (("a", 3000), ("b", 1000)):
        ddb.put_item(TableName=table, Item={**key(pk), "body": {"S": "z" * size}})
    partitions.set_partition_limits(0.5, None)
    for _ in range(3):  # three scans of one 4 KB page (0.5 units each, eventual): well above the limit
        page = ddb.scan(TableName=table, ReturnConsumedCapacity="TOTAL")
        assert page["Count"] == 2 and page["ConsumedCapacity"]["CapacityUnits"] == 0.5
    rows = usage()
    assert rows[(None, "a")]["read_units"] + rows[(None, "b")]["read_units"] == pytest.approx(1.5)
    assert rows[(None, "a")]["read_units"] > 2.5 * rows[(None, "b")]["read_units"]  # by bytes read
    # ... and they emptied the buckets the keys' own reads need
    assert gets(ddb, table, "a", 1) == (0, 1)


# ============================================================ retries, threads, the server

def test_given_a_default_client_when_throttled_then_botocore_retries_and_succeeds_once_the_bucket_refilled(
        ddb, limits, monkeypatch):
    """The real clock: botocore's (legacy) DynamoDB retries back off 50, 100, 200, 400 ms..."""
    monkeypatch.setattr(partitions, "_partition_clock", time.monotonic)
    table = ddb.create()
    ddb.put_item(TableName=table, Item={**key("big"), "body": {"S": "z" * (52 * 1024 - 10)}})  # 13 strong units
    default = boto3.client("dynamodb", region_name="us-east-1")
    attempts: list[str | None] = []
    default.meta.events.register("needs-retry.dynamodb.GetItem", lambda response=None, **_: attempts.append(
        response[1].get("Error", {}).get("Code") if response else None))
    partitions.set_partition_limits(10, None)
    started = time.monotonic()
    default.get_item(TableName=table, Key=key("big"), ConsistentRead=True)  # 10 - 13: -3, 0.3 s to refill
    got = default.get_item(TableName=table, Key=key("big"), ConsistentRead=True)
    elapsed = time.monotonic() - started
    assert got["Item"]["pk"] == {"S": "big"}
    assert attempts[0] is None and THROTTLED in attempts and attempts[-1] is None
    assert got["ResponseMetadata"]["RetryAttempts"] >= 1
    assert 0.3 <= elapsed < 3
    assert usage()[(None, "big")]["throttled_reads"] == attempts.count(THROTTLED)


def test_given_threads_hammering_one_key_then_what_is_served_is_metered_exactly_and_the_rest_throttled(ddb, limits):
    table = ddb.create()
    ddb.put_item(TableName=table, Item=key("hot"))
    partitions.set_partition_limits(10, None)
    clients = [boto3.client("dynamodb", region_name="us-east-1", config=ONE_ATTEMPT) for _ in range(8)]
    results: list[tuple[int, int]] = []

    def hammer(client) -> None:
        results.append(gets(client, table, "hot", 25))

    threads = [threading.Thread(target=hammer, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered, throttled = sum(a for a, _ in results), sum(t for _, t in results)
    assert answered + throttled == 200
    # one second of burst (20 reads), plus at most one per thread let through between check and debit
    assert 20 <= answered <= 28
    row = usage()[(None, "hot")]
    assert row["read_units"] == 0.5 * answered and row["throttled_reads"] == throttled


def test_given_a_threaded_moto_server_then_throttling_answers_over_http_as_dynamodb_does(monkeypatch):
    from moto.server import ThreadedMotoServer

    moto_fixes.apply()
    clock = Clock()
    monkeypatch.setattr(partitions, "_partition_clock", clock)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="testing", aws_secret_access_key="testing", config=ONE_ATTEMPT)
        table = f"wire-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        partitions.reset_partition_usage()
        partitions.set_partition_limits(1, 1)
        client.put_item(TableName=table, Item={**key("hot"), "v": {"B": b"\x00\xff"}})
        assert gets(client, table, "hot", 3) == (2, 1)
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as caught:
            client.put_item(TableName=table, Item=key("hot"))
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        written = client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {**key("hot"), "v": {"B": b"\x01"}}}},
                                                                {"PutRequest": {"Item": key("cold")}}]})
        assert written["UnprocessedItems"] == {table: [{"PutRequest": {"Item": {**key("hot"), "v": {"B": b"\x01"}}}}]}
        got = client.batch_get_item(RequestItems={table: {"Keys": [key("hot"), key("cold")]}})
        assert got["UnprocessedKeys"] == {table: {"Keys": [key("hot")]}}
        assert got["Responses"][table] == [key("cold")]
        with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
            client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": key("hot")}}])
        assert cancelled.value.response["CancellationReasons"] == [
            {"Code": "ThrottlingError", "Message": partitions.THROTTLED_MESSAGE}]
        client.delete_table(TableName=table)
    finally:
        partitions.set_partition_limits(None, None)
        partitions.reset_partition_usage()
        server.stop()
