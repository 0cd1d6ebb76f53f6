"""infra.runtime.moto_fixes on moto's in-process mock, through a boto3 client.

Index queries: every answer must be exactly what unpatched moto gives (same items, order,
LastEvaluatedKey), whatever sequence of writes came before, and must touch only the queried
partition. Consumed capacity: hand-computed on-demand units for each kind of call. Responses
serialized directly: every data-plane answer must be moto's serializer's, byte for byte, and
be read by botocore over real HTTP.

Tables here get unique names and are deleted afterwards, so these tests share the session's
mock (tests/support/moto_inprocess.py) with the stack-based tests without disturbing them.
"""

from __future__ import annotations

import inspect
import json
import random
import threading
import uuid
from decimal import Decimal

import boto3
import pytest
from botocore import parsers
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from infra.runtime import moto_fixes
from infra.runtime.moto_fixes import capacity as capacity_fix
from infra.runtime.moto_fixes import dynamodb, iam
from tests.support.scratch_tables import scratch_tables


@pytest.fixture
def ddb(aws):
    moto_fixes.apply()
    client = boto3.client("dynamodb", region_name="us-east-1")
    with scratch_tables(client) as create:
        client.create = create
        yield client


def backend():
    return dynamodb_backends["123456789012"]["us-east-1"]


def gsi(name: str, hash_key: str, range_key: str | None = None, projection: str = "KEYS_ONLY",
        non_key: list[str] | None = None) -> dict:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    spec = {"ProjectionType": projection, **({"NonKeyAttributes": non_key} if non_key else {})}
    return {"IndexName": name, "KeySchema": schema, "Projection": spec}


def strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def unpatched_moto(monkeypatch_context):
    """Within the context, Table.query/all_items are moto's own (no patch, no billing)."""
    monkeypatch_context.setattr(Table, "query", inspect.unwrap(Table.query))
    monkeypatch_context.setattr(Table, "all_items", inspect.unwrap(Table.all_items))


# ============================================================ index queries: one partition

class Model:
    """The table as plain dicts: (pk, sk) -> attributes (python values)."""

    def __init__(self):
        self.items: dict[tuple[str, int], dict] = {}

    def put(self, item: dict) -> None:
        self.items[(item["pk"], item["sk"])] = dict(item)

    def expected(self, index: str, owner: int, cond: tuple | None, forward: bool) -> list[tuple]:
        """Index entries of one partition, in index order: ByOwner sorts by rank then the
        table key; ByOwnerHashOnly (no range key) by the table key."""
        rows = []
        for (pk, sk), item in self.items.items():
            if item.get("owner") != owner:
                continue
            if index == "ByOwner":
                if "rank" not in item:
                    continue
                if cond and not matches(item["rank"], cond):
                    continue
                rows.append(((item["rank"], pk, sk), (pk, sk)))
            else:  # moto orders a GSI without a sort key by the table's sort key, then hash key
                rows.append(((sk, pk), (pk, sk)))
        rows.sort(key=lambda r: r[0], reverse=not forward)
        return [key for _, key in rows]


def matches(value: int, cond: tuple) -> bool:
    op, *args = cond
    return {"=": value == args[0], "<": value < args[0], "<=": value <= args[0], ">": value > args[0],
            ">=": value >= args[0], "between": len(args) == 2 and args[0] <= value <= args[1]}[op]


def ddb_item(item: dict) -> dict:
    out = {"pk": {"S": item["pk"]}, "sk": {"N": str(item["sk"])}}
    for name in ("owner", "rank"):
        if name in item:
            out[name] = {"N": str(item[name])}
    if "body" in item:
        out["body"] = {"S": item["body"]}
    return out


def random_item(rng: random.Random) -> dict:
    item = {"pk": f"p{rng.randrange(12)}", "sk": rng.randrange(4), "body": "x" * rng.randrange(20)}
    if rng.random() < 0.85:
        item["owner"] = rng.randrange(4)
    if rng.random() < 0.85:
        item["rank"] = rng.randrange(6)  # few values: ties broken by the table key
    return item


def random_update(rng: random.Random, model: Model, key: tuple[str, int]) -> dict:
    """An UpdateItem (as TransactWriteItems Update takes it), applied to the model too."""
    current = dict(model.items.get(key, {"pk": key[0], "sk": key[1]}))
    choice = rng.randrange(4)
    if choice == 0:
        current["owner"] = rng.randrange(4)
        expr, values = "SET #o = :v", {":v": {"N": str(current["owner"])}}
    elif choice == 1:
        current.pop("owner", None)
        expr, values = "REMOVE #o", None
    elif choice == 2:
        current["rank"] = rng.randrange(6)
        expr, values = "SET #r = :v", {":v": {"N": str(current["rank"])}}
    else:
        current["body"] = "y" * rng.randrange(20)
        expr, values = "SET #b = :v", {":v": {"S": current["body"]}}
    model.put(current)
    names = {p: n for p, n in (("#o", "owner"), ("#r", "rank"), ("#b", "body")) if p in expr}
    update = {"Key": {"pk": {"S": key[0]}, "sk": {"N": str(key[1])}}, "UpdateExpression": expr}
    if names:
        update["ExpressionAttributeNames"] = names
    if values:
        update["ExpressionAttributeValues"] = values
    return update


def random_write(rng: random.Random, client, table: str, model: Model) -> None:
    kind = rng.choice(["put", "put", "update", "update", "delete", "batch", "transact"])
    if kind == "put":
        item = random_item(rng)
        client.put_item(TableName=table, Item=ddb_item(item))
        model.put(item)
    elif kind == "update":
        key = (f"p{rng.randrange(12)}", rng.randrange(4))
        client.update_item(TableName=table, **random_update(rng, model, key))
    elif kind == "delete":
        key = (f"p{rng.randrange(12)}", rng.randrange(4))
        client.delete_item(TableName=table, Key={"pk": {"S": key[0]}, "sk": {"N": str(key[1])}})
        model.items.pop(key, None)
    elif kind == "batch":
        requests, seen = [], set()
        for _ in range(rng.randrange(1, 8)):
            if rng.random() < 0.6:
                item = random_item(rng)
                if (item["pk"], item["sk"]) in seen:
                    continue
                seen.add((item["pk"], item["sk"]))
                requests.append({"PutRequest": {"Item": ddb_item(item)}})
                model.put(item)
            else:
                key = (f"p{rng.randrange(12)}", rng.randrange(4))
                if key in seen:
                    continue
                seen.add(key)
                requests.append({"DeleteRequest": {"Key": {"pk": {"S": key[0]}, "sk": {"N": str(key[1])}}}})
                model.items.pop(key, None)
        client.batch_write_item(RequestItems={table: requests})
    else:
        actions, seen = [], set()
        for _ in range(rng.randrange(1, 5)):
            key = (f"p{rng.randrange(12)}", rng.randrange(4))
            if key in seen:
                continue
            seen.add(key)
            action = rng.randrange(3)
            if action == 0:
                item = {**random_item(rng), "pk": key[0], "sk": key[1]}
                actions.append({"Put": {"TableName": table, "Item": ddb_item(item)}})
                model.put(item)
            elif action == 1:
                actions.append({"Update": {"TableName": table, **random_update(rng, model, key)}})
            else:
                actions.append({"Delete": {"TableName": table, "Key": {"pk": {"S": key[0]}, "sk": {"N": str(key[1])}}}})
                model.items.pop(key, None)
        client.transact_write_items(TransactItems=actions)


def query_params(table: str, index: str, owner: int, cond: tuple | None, forward: bool,
                 limit: int | None) -> dict:
    expr, values = "#o = :o", {":o": {"N": str(owner)}}
    if cond:
        op, *args = cond
        if op == "between":
            expr += " AND #r BETWEEN :a AND :b"
            values.update({":a": {"N": str(args[0])}, ":b": {"N": str(args[1])}})
        else:
            expr += f" AND #r {op} :a"
            values[":a"] = {"N": str(args[0])}
    params = {"TableName": table, "IndexName": index, "KeyConditionExpression": expr,
              "ExpressionAttributeNames": {"#o": "owner", **({"#r": "rank"} if cond else {})},
              "ExpressionAttributeValues": values, "ScanIndexForward": forward}
    if limit:
        params["Limit"] = limit
    return params


def check_every_query(client, table: str, model: Model, rng: random.Random) -> int:
    """Every owner (and one nobody has), both indexes, with and without range conditions,
    both directions, paged with a Limit or not: page by page equal to unpatched moto, and
    all pages together equal to the brute-force expectation."""
    conditions = [None, ("=", 2), ("<", 3), ("<=", 3), (">", 1), (">=", 4), ("between", 1, 4)]
    checked = 0
    for owner in range(5):
        for index in ("ByOwner", "ByOwnerHashOnly"):
            for cond in conditions if index == "ByOwner" else [None]:
                for forward in (True, False):
                    limit = rng.choice([None, 1, 2, 3])
                    params = query_params(table, index, owner, cond, forward, limit)
                    got: list[tuple] = []
                    for _ in range(100):
                        page = strip(client.query(**params))
                        with pytest.MonkeyPatch.context() as m:
                            unpatched_moto(m)
                            assert page == strip(client.query(**params)), params
                        checked += 1
                        got += [(i["pk"]["S"], int(i["sk"]["N"])) for i in page["Items"]]
                        if "LastEvaluatedKey" not in page:
                            break
                        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
                    assert got == model.expected(index, owner, cond, forward), params
    return checked


@pytest.mark.parametrize("seed", range(3))
def test_index_queries_match_unpatched_moto_after_random_writes(ddb, seed):
    """Given a table with two GSIs (owner+rank KEYS_ONLY; owner only, INCLUDE body), when
    random puts, updates (moving items between partitions, in and out of the sparse
    indexes), deletes, batch writes and transactions run, then every index query answers
    as unpatched moto does and as the brute-force model expects."""
    rng = random.Random(seed)
    table = ddb.create(range_key=("sk", "N"), attrs={"owner": "N", "rank": "N"}, gsis=[
        gsi("ByOwner", "owner", "rank"), gsi("ByOwnerHashOnly", "owner", projection="INCLUDE", non_key=["body"])])
    model = Model()
    checked = check_every_query(ddb, table, model, rng)  # empty, and builds the partitions
    for _ in range(12):
        for _ in range(rng.randrange(1, 15)):
            random_write(rng, ddb, table, model)
        checked += check_every_query(ddb, table, model, rng)
    assert checked > 500


def test_index_query_touches_only_its_partition(ddb, monkeypatch):
    """Given 20,000 items in a ByAuthor-like table, when one author's 5 posts are queried,
    then the query examines those 5 items, not the table (counted, not timed)."""
    table = ddb.create("tweets", attrs={"author_id": "N", "tweet_id": "N"},
                       gsis=[gsi("ByAuthor", "author_id", "tweet_id")])
    for i in range(20_000):  # straight into the backend: 20,000 boto3 calls would take a minute
        backend().put_item(table, {"pk": {"S": f"t{i}"}, "tweet_id": {"N": str(i)},
                                   "author_id": {"N": str(i % 4000)}, "text": {"S": "hello"}})
    examined: list[int] = []
    inner = Table.all_items

    def counting_all_items(self):
        items = inner(self)
        examined.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting_all_items)

    def query(author: int, **extra) -> dict:
        return ddb.query(TableName=table, IndexName="ByAuthor", KeyConditionExpression="author_id = :a",
                         ExpressionAttributeValues={":a": {"N": str(author)}}, ScanIndexForward=False, **extra)

    query(1)  # the first query on the index builds its partitions from the table, once
    examined.clear()
    page = query(7)
    assert [int(i["tweet_id"]["N"]) for i in page["Items"]] == [16_007, 12_007, 8_007, 4_007, 7]
    assert examined == [5]

    # writes after the build keep it current: a new post, a post moved to another author, a delete
    ddb.put_item(TableName=table, Item={"pk": {"S": "new"}, "tweet_id": {"N": "20000"}, "author_id": {"N": "7"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "t12007"}}, UpdateExpression="SET author_id = :a",
                    ExpressionAttributeValues={":a": {"N": "8"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "t8007"}})
    examined.clear()
    page = query(7, Limit=2)
    assert [int(i["tweet_id"]["N"]) for i in page["Items"]] == [20_000, 16_007]
    assert examined == [4]
    assert [int(i["tweet_id"]["N"]) for i in query(8)["Items"]] == [16_008, 12_008, 12_007, 8_008, 4_008, 8]


def test_index_partitions_follow_table_and_index_lifecycle(ddb):
    """Given a queried index, when the table is deleted and recreated, restored from a
    backup, or its GSI is replaced by one on another attribute, then queries see the new
    table's items, never a stale partition map."""
    table = ddb.create(attrs={"g": "S"}, gsis=[gsi("ByG", "g")])

    def owners_of(name: str, index: str, attr: str, value: str) -> list[str]:
        page = ddb.query(TableName=name, IndexName=index, KeyConditionExpression="#k = :v",
                         ExpressionAttributeNames={"#k": attr}, ExpressionAttributeValues={":v": {"S": value}})
        return sorted(i["pk"]["S"] for i in page["Items"])

    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "g": {"S": "x"}, "h": {"S": "1"}})
    assert owners_of(table, "ByG", "g", "x") == ["a"]

    backup = ddb.create_backup(TableName=table, BackupName="lifecycle")["BackupDetails"]["BackupArn"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "b"}, "g": {"S": "x"}, "h": {"S": "1"}})
    restored = f"{table}-restored"
    ddb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup)
    try:
        assert owners_of(restored, "ByG", "g", "x") == ["a"]
        assert owners_of(table, "ByG", "g", "x") == ["a", "b"]
    finally:
        ddb.delete_table(TableName=restored)
        ddb.delete_backup(BackupArn=backup)

    ddb.update_table(TableName=table, AttributeDefinitions=[
        {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "h", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "ByG"}},
                                     {"Create": {**gsi("ByG", "h")}}])
    assert owners_of(table, "ByG", "h", "1") == ["a", "b"]

    ddb.delete_table(TableName=table)
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     GlobalSecondaryIndexes=[gsi("ByG", "g")])
    assert owners_of(table, "ByG", "g", "x") == []
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}, "g": {"S": "x"}})
    assert owners_of(table, "ByG", "g", "x") == ["c"]


def test_index_partitions_stay_exact_under_concurrent_writers(ddb):
    """Given writer threads (as ThreadedMotoServer runs requests) putting, moving and
    deleting items while another thread queries, then afterwards every partition still
    holds exactly the items the table holds."""
    table = ddb.create(attrs={"g": "N"}, gsis=[gsi("ByG", "g")])
    b = backend()
    b.put_item(table, {"pk": {"S": "seed"}, "g": {"N": "0"}})
    ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
              ExpressionAttributeValues={":g": {"N": "0"}})  # build the partitions first
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                pk = {"S": f"p{rng.randrange(50)}"}
                action = rng.randrange(3)
                if action == 0:
                    b.put_item(table, {"pk": pk, "g": {"N": str(rng.randrange(5))}})
                elif action == 1:
                    b.update_item(table, {"pk": pk}, "SET g = :g", {}, {":g": {"N": str(rng.randrange(5))}})
                else:
                    b.delete_item(table, {"pk": pk})
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.wait(0.002):
                ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
                          ExpressionAttributeValues={":g": {"N": "1"}})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    query_thread = threading.Thread(target=reader)
    query_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    query_thread.join()
    assert not errors
    stored = b.get_table(table)
    for g in range(5):
        page = ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"N": str(g)}})
        expected = sorted(h.value for h, item in stored.items.items() if item.attrs["g"] == DynamoType({"N": str(g)}))
        assert sorted(i["pk"]["S"] for i in page["Items"]) == expected


# ============================================================ consumed capacity, as billed

@pytest.fixture
def cap(ddb):
    """A table (pk) with a KEYS_ONLY GSI on g, and a table (pk, sk) for queries."""
    return ddb.create("cap", attrs={"g": "S"}, gsis=[gsi("ByG", "g")]), ddb.create("capq", range_key=("sk", "N"))


def item(pk: str, size: int, **extra) -> dict:
    """An item of exactly `size` bytes: pk (2 + len) and body (4 + n) plus `extra` strings."""
    attrs = {"pk": {"S": pk}, **{k: {"S": v} for k, v in extra.items()}}
    used = 2 + len(pk) + sum(len(k) + len(v) for k, v in extra.items()) + 4
    return {**attrs, "body": {"S": "z" * (size - used)}}


def test_item_sizes_follow_the_documented_rules():
    size = capacity_fix._value_size
    assert size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert size({"N": "123"}) == 3  # 3 significant digits: 2 bytes, + 1
    assert size({"N": "1000"}) == size({"N": "0.001"}) == size({"N": "-1"}) == 2  # zeros trimmed
    assert size({"N": "-12.345"}) == 4
    assert size({"N": "1" * 38}) == 20
    assert size({"N": "0"}) == 1
    assert size({"B": "AAEC"}) == 3  # base64 of 3 raw bytes
    assert size({"BOOL": True}) == size({"NULL": True}) == 1
    assert size({"L": [{"N": "1"}, {"BOOL": False}]}) == 3 + (2 + 1) + (1 + 1)
    assert size({"M": {"ab": {"S": "xyz"}}}) == 3 + (2 + 3 + 1)
    assert size({"L": []}) == size({"M": {}}) == 3
    assert size({"SS": ["a", "bc"]}) == 3
    assert capacity_fix._attributes_size(
        {"pk": DynamoType({"S": "k"}), "n": DynamoType({"N": "42"})}) == (2 + 1) + (1 + 2)


def test_get_item_reads_round_up_to_4kb_halved_when_eventual(ddb, cap):
    table, _ = cap
    ddb.put_item(TableName=table, Item=item("big", 5 * 1024))  # 5 KB: two 4 KB units
    key = {"pk": {"S": "big"}}
    strong = ddb.get_item(TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    eventual = ddb.get_item(TableName=table, Key=key, ReturnConsumedCapacity="TOTAL")
    assert strong["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 2.0}
    assert eventual["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 1.0}
    projected = ddb.get_item(TableName=table, Key=key, ProjectionExpression="pk", ReturnConsumedCapacity="INDEXES")
    assert projected["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
    missing = ddb.get_item(TableName=table, Key={"pk": {"S": "none"}}, ReturnConsumedCapacity="TOTAL")
    assert missing["ConsumedCapacity"]["CapacityUnits"] == 0.5


def test_writes_bill_the_larger_of_old_and_new_in_1kb_units(ddb, cap):
    table, _ = cap

    def units(response: dict) -> float:
        return response["ConsumedCapacity"]["CapacityUnits"]

    assert units(ddb.put_item(TableName=table, Item=item("p", 1536), ReturnConsumedCapacity="TOTAL")) == 2.0
    ddb.put_item(TableName=table, Item=item("o", 3 * 1024))
    # overwriting a 3 KB item with a small one: 3
    assert units(ddb.put_item(TableName=table, Item={"pk": {"S": "o"}}, ReturnConsumedCapacity="TOTAL")) == 3.0
    # an update growing a 20-byte item to 2.5 KB: 3
    ddb.put_item(TableName=table, Item=item("u", 20))
    grown = ddb.update_item(TableName=table, Key={"pk": {"S": "u"}}, UpdateExpression="SET more = :m",
                            ExpressionAttributeValues={":m": {"S": "m" * 2500}}, ReturnConsumedCapacity="TOTAL")
    assert units(grown) == 3.0
    ddb.put_item(TableName=table, Item=item("d", int(2.2 * 1024)))
    assert units(ddb.delete_item(TableName=table, Key={"pk": {"S": "d"}}, ReturnConsumedCapacity="TOTAL")) == 3.0
    # deleting nothing still costs 1
    assert units(ddb.delete_item(TableName=table, Key={"pk": {"S": "d"}}, ReturnConsumedCapacity="TOTAL")) == 1.0
    # a failed condition is an error, as on AWS (its capacity is not reported)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=table, Item={"pk": {"S": "o"}}, ConditionExpression="attribute_not_exists(pk)",
                     ReturnConsumedCapacity="TOTAL")


def test_gsi_writes_add_index_units_per_changed_entry(ddb, cap):
    table, _ = cap

    def consumed(response: dict) -> dict:
        return response["ConsumedCapacity"]

    put = ddb.put_item(TableName=table, Item=item("a", 200, g="x"), ReturnConsumedCapacity="INDEXES")
    assert consumed(put) == {"TableName": table, "CapacityUnits": 2.0, "Table": {"CapacityUnits": 1.0},
                             "GlobalSecondaryIndexes": {"ByG": {"CapacityUnits": 1.0}}}
    # not projected into a KEYS_ONLY index: the table only
    untouched = ddb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET body = :d",
                                ExpressionAttributeValues={":d": {"S": "new"}}, ReturnConsumedCapacity="INDEXES")
    assert consumed(untouched) == {"TableName": table, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
    # the index key changes: delete the old entry + put the new one
    moved = ddb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET g = :g",
                            ExpressionAttributeValues={":g": {"S": "y"}}, ReturnConsumedCapacity="INDEXES")
    assert consumed(moved)["GlobalSecondaryIndexes"] == {"ByG": {"CapacityUnits": 2.0}}
    assert consumed(moved)["CapacityUnits"] == 3.0
    # TOTAL: the same sum, without the breakdown
    removed = ddb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE g",
                              ReturnConsumedCapacity="TOTAL")
    assert consumed(removed) == {"TableName": table, "CapacityUnits": 2.0}
    # an item outside the (sparse) index costs the table only; deleting an indexed one, both
    ddb.put_item(TableName=table, Item=item("b", 100, g="x"))
    assert consumed(ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}}, ReturnConsumedCapacity="INDEXES")) == {
        "TableName": table, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
    assert consumed(ddb.delete_item(TableName=table, Key={"pk": {"S": "b"}}, ReturnConsumedCapacity="INDEXES")) == {
        "TableName": table, "CapacityUnits": 2.0, "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"ByG": {"CapacityUnits": 1.0}}}


def test_query_and_scan_sum_what_they_read_then_round_once(ddb, cap):
    _table, qtable = cap
    for sk in range(30):  # 30 small items: well under 4 KB together
        ddb.put_item(TableName=qtable, Item={"pk": {"S": "small"}, "sk": {"N": str(sk)}, "v": {"S": "abc"}})
    for sk in range(1, 10):  # nine items of exactly 1 KB (sk: one digit, 2 bytes + "sk")
        ddb.put_item(TableName=qtable, Item={"pk": {"S": "n"}, "sk": {"N": str(sk)}, "body": {"S": "z" * 1013}})

    def query(pk: str, **extra) -> dict:
        return ddb.query(TableName=qtable, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": pk}, **extra.pop("values", {})},
                         ReturnConsumedCapacity="TOTAL", **extra)

    assert query("small")["ConsumedCapacity"] == {"TableName": qtable, "CapacityUnits": 0.5}
    assert query("small", ConsistentRead=True)["ConsumedCapacity"]["CapacityUnits"] == 1.0
    nine = query("n")
    assert nine["Count"] == 9 and nine["ConsumedCapacity"]["CapacityUnits"] == 1.5  # 9 KB -> 12 KB -> 3 / 2
    assert query("n", ConsistentRead=True)["ConsumedCapacity"]["CapacityUnits"] == 3.0
    # a filter and a projection change what is returned, not what is read
    filtered = query("n", FilterExpression="attribute_not_exists(body)", ProjectionExpression="sk")
    assert filtered["Count"] == 0 and filtered["ScannedCount"] == 9
    assert filtered["ConsumedCapacity"]["CapacityUnits"] == 1.5
    # Limit bounds what is read: 4 KB
    assert query("n", Limit=4)["ConsumedCapacity"]["CapacityUnits"] == 0.5
    assert query("nobody")["ConsumedCapacity"]["CapacityUnits"] == 0.5
    scan = ddb.scan(TableName=qtable, FilterExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "n"}},
                    ReturnConsumedCapacity="INDEXES")
    assert scan["Count"] == 9 and scan["ScannedCount"] == 39
    small = sum(len("pk") + len("small") + len("sk") + capacity_fix._number_size(str(sk)) + len("v") + 3
                for sk in range(30))
    assert scan["ConsumedCapacity"] == {"TableName": qtable, "CapacityUnits": -(-(9 * 1024 + small) // 4096) / 2,
                                        "Table": {"CapacityUnits": -(-(9 * 1024 + small) // 4096) / 2}}


def test_keys_only_index_query_bills_the_index_entries(ddb, cap):
    table, _ = cap
    for pk in ("a", "b", "c"):  # 5 KB items, tiny KEYS_ONLY entries (pk + g)
        ddb.put_item(TableName=table, Item=item(pk, 5 * 1024, g="k"))
    page = ddb.query(TableName=table, IndexName="ByG", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "k"}}, ReturnConsumedCapacity="INDEXES")
    assert page["Count"] == 3
    assert page["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.0},
                                        "GlobalSecondaryIndexes": {"ByG": {"CapacityUnits": 0.5}}}
    scan = ddb.scan(TableName=table, IndexName="ByG", ReturnConsumedCapacity="TOTAL")
    assert scan["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 0.5}


def test_batch_calls_bill_each_item_and_answer_a_list(ddb, cap):
    table, qtable = cap
    keys = [{"pk": {"S": f"h{i}"}} for i in range(3)]
    for key in keys:
        ddb.put_item(TableName=table, Item=item(key["pk"]["S"], 100))
    got = ddb.batch_get_item(RequestItems={table: {"Keys": keys}}, ReturnConsumedCapacity="TOTAL")
    assert got["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 1.5}]
    strong = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}},
                                ReturnConsumedCapacity="INDEXES")
    assert strong["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 3.0}}]

    written = ddb.batch_write_item(RequestItems={
        table: [{"PutRequest": {"Item": item("w1", 1500, g="x")}}, {"DeleteRequest": {"Key": keys[0]}}],
        qtable: [{"PutRequest": {"Item": {"pk": {"S": "w"}, "sk": {"N": "1"}}}}],
    }, ReturnConsumedCapacity="INDEXES")
    assert written["ConsumedCapacity"] == [
        {"TableName": table, "CapacityUnits": 4.0, "Table": {"CapacityUnits": 3.0},  # 2 (1.5 KB) + 1 (delete)
         "GlobalSecondaryIndexes": {"ByG": {"CapacityUnits": 1.0}}},
        {"TableName": qtable, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}]


def test_transactions_bill_twice(ddb, cap):
    table, qtable = cap
    written = ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "t1"}}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "t2"}}}},
    ], ReturnConsumedCapacity="TOTAL")
    assert written["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}]
    mixed = ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": {"pk": {"S": "t1"}}, "UpdateExpression": "SET g = :g",
                    "ExpressionAttributeValues": {":g": {"S": "x"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "t2"}}, "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": qtable, "Key": {"pk": {"S": "none"}, "sk": {"N": "1"}}}},
    ], ReturnConsumedCapacity="INDEXES")
    assert mixed["ConsumedCapacity"] == [
        {"TableName": table, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0,  # update 2 + check 2, index put 2
         "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
         "GlobalSecondaryIndexes": {"ByG": {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}}},
        {"TableName": qtable, "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0,
         "Table": {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}}]
    ddb.put_item(TableName=table, Item=item("big", 5 * 1024))
    read = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"pk": {"S": "big"}}}},
                                                 {"Get": {"TableName": table, "Key": {"pk": {"S": "t1"}}}}],
                                  ReturnConsumedCapacity="TOTAL")
    assert read["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0, "ReadCapacityUnits": 6.0}]


def test_no_capacity_unless_asked(ddb, cap):
    table, _ = cap
    key = {"pk": {"S": "q"}}
    responses = [
        ddb.put_item(TableName=table, Item={**key, "g": {"S": "x"}}),
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": {"N": "1"}}, ReturnConsumedCapacity="NONE"),
        ddb.get_item(TableName=table, Key=key),
        ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key["pk"]}),
        ddb.scan(TableName=table),
        ddb.batch_get_item(RequestItems={table: {"Keys": [key]}}),
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "r"}}}}]}),
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "s"}}}}]),
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        ddb.delete_item(TableName=table, Key=key),
    ]
    assert [r for r in responses if "ConsumedCapacity" in r] == []


def test_capacity_is_reported_per_request_and_thread(ddb, cap):
    """Given requests on several threads at once, each reports only its own writes."""
    table, _ = cap
    results: dict[int, float] = {}
    clients = [boto3.client("dynamodb", region_name="us-east-1") for _ in range(12)]

    def put(i: int) -> None:
        response = clients[i].put_item(TableName=table, Item=item(f"c{i}", 1024 * (i % 3 + 1) - 10),
                                   ReturnConsumedCapacity="TOTAL")
        results[i] = response["ConsumedCapacity"]["CapacityUnits"]

    threads = [threading.Thread(target=put, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: float(i % 3 + 1) for i in range(12)}


# ============================================================ responses, serialized directly

class Twin:
    """Records, for every DynamoDB response, the direct encoder's answer, moto's serializer's
    answer to the same ActionResult, and how often the serializer ran for the first."""

    def __init__(self, client):
        self.client = client
        self.records: list[tuple[str, tuple, tuple, int]] = []

    def check(self, response: dict, action: str) -> dict:
        """The boto3 response (parsed from the direct answer) equals the generic answer, parsed."""
        recorded, direct, generic, serializer_calls = self.records[-1]
        assert recorded == action
        assert serializer_calls == 0, f"{action} went through moto's serializer"
        assert direct[0] == generic[0]  # status
        assert direct[1] == generic[1]  # headers (Content-Type and the handler's own)
        assert direct[2] == generic[2]  # the body, byte for byte
        parsed = parsers.create_parser("json").parse(
            {"status_code": generic[0], "headers": generic[1], "body": generic[2].encode()},
            self.client.meta.service_model.operation_model(action).output_shape)
        assert strip(response) == strip(parsed)
        return response


@pytest.fixture
def twin(ddb, monkeypatch) -> Twin:
    from moto.core.responses import BaseResponse
    from moto.core.serialize import ResponseSerializer
    from moto.dynamodb.responses import DynamoHandler

    calls = [0]
    serialize = ResponseSerializer.serialize

    def counting(self, result):
        calls[0] += 1
        return serialize(self, result)

    monkeypatch.setattr(ResponseSerializer, "serialize", counting)
    patched, generic = DynamoHandler.serialized, BaseResponse.serialized
    assert "dynamodb.responses_serialized_directly" in patched.__moto_fixes__ and patched.__wrapped__ is generic
    recorder = Twin(ddb)

    def serialized(self, action_result):
        before = calls[0]
        direct = patched(self, action_result)
        used = calls[0] - before
        snapshot = (direct[0], dict(direct[1]), direct[2])  # call_action adds the request id and CRC to the dict later
        recorder.records.append((self._get_action(), snapshot, generic(self, action_result), used))
        return direct

    monkeypatch.setattr(DynamoHandler, "serialized", serialized)
    return recorder


def rich_item(pk: str, sk: int, kind: str = "a") -> dict:
    """Every kind of attribute value, nested ones included."""
    return {
        "pk": {"S": pk}, "sk": {"N": str(sk)}, "kind": {"S": kind},
        "s": {"S": "héllo ☃ \"quoted\"\n"}, "empty": {"S": ""},
        "n": {"N": "-12345678901234567890.125"}, "int": {"N": "42"},
        "b": {"B": bytes(range(256))}, "b0": {"B": b"\x00"},
        "t": {"BOOL": True}, "f": {"BOOL": False}, "z": {"NULL": True},
        "ss": {"SS": ["x", "ÿ", "z z"]}, "ns": {"NS": ["1", "-2.5", "1e10"]},
        "bs": {"BS": [b"\x00\x01", b"\xff", b"plain"]},
        "l": {"L": [{"S": "a"}, {"N": "1"}, {"B": b"\x80"}, {"NULL": True}, {"L": []},
                    {"M": {"deep": {"BS": [b"\x01"]}}}]},
        "m": {"M": {"inner": {"S": "v"}, "num": {"N": "0.5"}, "bin": {"B": b"\xfe\xed"},
                    "set": {"SS": ["p"]}, "list": {"L": [{"BOOL": False}]}, "empty": {"M": {}}}},
    }


@pytest.fixture
def rich(ddb):
    """A (pk, sk) table with a GSI ByKind (kind, sk), holding 5 rich items in partition p."""
    table = ddb.create("rich", range_key=("sk", "N"), attrs={"kind": "S"},
                       gsis=[gsi("ByKind", "kind", "sk", projection="ALL")])
    for sk in range(5):
        ddb.put_item(TableName=table, Item=rich_item("p", sk, kind="ab"[sk % 2]))
    return table


def pages(twin: Twin, action: str, call, **kwargs) -> list[dict]:
    """Every page of a Query or Scan, each checked against moto's serializer as it comes."""
    out = [twin.check(call(**kwargs), action)]
    while "LastEvaluatedKey" in out[-1]:
        out.append(twin.check(call(**kwargs, ExclusiveStartKey=out[-1]["LastEvaluatedKey"]), action))
    return out


def test_given_rich_items_when_single_item_calls_answer_then_the_direct_encoding_equals_moto_serializer(
        ddb, rich, twin):
    key = {"pk": {"S": "p"}, "sk": {"N": "0"}}
    names = {"#b": "b", "#m": "m"}
    for capacity in ("NONE", "TOTAL", "INDEXES"):
        twin.check(ddb.put_item(TableName=rich, Item=rich_item("q", 1), ReturnConsumedCapacity=capacity), "PutItem")
        old = twin.check(ddb.put_item(TableName=rich, Item=rich_item("q", 1, "b"), ReturnValues="ALL_OLD",
                                      ReturnConsumedCapacity=capacity), "PutItem")
        assert old["Attributes"]["b"]["B"] == bytes(range(256))  # raw bytes back through base64
        got = twin.check(ddb.get_item(TableName=rich, Key=key, ReturnConsumedCapacity=capacity), "GetItem")
        assert got["Item"]["bs"]["BS"] == [b"\x00\x01", b"\xff", b"plain"]
        twin.check(ddb.get_item(TableName=rich, Key=key, ConsistentRead=True, ReturnConsumedCapacity=capacity,
                                ProjectionExpression="#b, #m.inner, #m.bin, l[2], ns, z",
                                ExpressionAttributeNames=names), "GetItem")
        twin.check(ddb.get_item(TableName=rich, Key={"pk": {"S": "none"}, "sk": {"N": "0"}},
                                ReturnConsumedCapacity=capacity), "GetItem")
    updates = [("SET #n = #n + :one, s = :s", {"#n": "n"}, {":one": {"N": "1"}, ":s": {"S": "new"}}),
               ("ADD ss :ss, ns :ns, bs :bs", {},
                {":ss": {"SS": ["w"]}, ":ns": {"NS": ["7"]}, ":bs": {"BS": [b"\x09"]}}),
               ("SET #m.bin = :b, l[0] = :b, fresh = :b REMOVE t", {"#m": "m"}, {":b": {"B": b"\x00\xff"}}),
               ("DELETE bs :bs", {}, {":bs": {"BS": [b"\xff"]}})]
    for i, (expression, attribute_names, values) in enumerate(updates):
        for returns in ("NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
            twin.check(ddb.update_item(TableName=rich, Key=key, UpdateExpression=expression,
                                       **({"ExpressionAttributeNames": attribute_names} if attribute_names else {}),
                                       ExpressionAttributeValues=values, ReturnValues=returns,
                                       ReturnConsumedCapacity=("NONE", "TOTAL", "INDEXES")[i % 3]),
                       "UpdateItem")
    twin.check(ddb.update_item(TableName=rich, Key={"pk": {"S": "new"}, "sk": {"N": "9"}}, ReturnValues="ALL_NEW",
                               UpdateExpression="SET b = :b", ExpressionAttributeValues={":b": {"B": b"\x01"}}),
               "UpdateItem")
    for returns, capacity in (("ALL_OLD", "INDEXES"), ("NONE", "TOTAL"), ("ALL_OLD", "NONE")):
        twin.check(ddb.delete_item(TableName=rich, Key={"pk": {"S": "q"}, "sk": {"N": "1"}}, ReturnValues=returns,
                                   ReturnConsumedCapacity=capacity), "DeleteItem")


def test_given_rich_items_when_queries_and_scans_page_then_the_direct_encoding_equals_moto_serializer(
        ddb, rich, twin):
    values = {":p": {"S": "p"}}
    for capacity in ("NONE", "TOTAL", "INDEXES"):
        for kwargs in ({}, {"ScanIndexForward": False, "ConsistentRead": True},
                       {"ProjectionExpression": "pk, sk, b, m.bin, bs"},
                       {"FilterExpression": "sk <> :one", "ExpressionAttributeValues": {**values, ":one": {"N": "1"}}},
                       {"Select": "COUNT"}):
            query = {"TableName": rich, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": values,
                     "Limit": 2, "ReturnConsumedCapacity": capacity, **kwargs}
            found = pages(twin, "Query", ddb.query, **query)
            assert len(found) == 3 and all("LastEvaluatedKey" in page for page in found[:2])
            scan = {k: v for k, v in query.items() if k not in ("KeyConditionExpression", "ScanIndexForward")}
            if "FilterExpression" not in scan:
                scan.pop("ExpressionAttributeValues")
            pages(twin, "Scan", ddb.scan, **scan)
        index_pages = pages(twin, "Query", ddb.query, TableName=rich, IndexName="ByKind",
                            KeyConditionExpression="kind = :k",
                            ExpressionAttributeValues={":k": {"S": "a"}}, Limit=2, ReturnConsumedCapacity=capacity)
        assert [page["Count"] for page in index_pages] == [2, 1]
        assert "kind" in index_pages[0]["LastEvaluatedKey"]  # an index key: the index and table keys
        pages(twin, "Scan", ddb.scan, TableName=rich, IndexName="ByKind", Limit=3, ReturnConsumedCapacity=capacity)
    empty = twin.check(ddb.query(TableName=rich, KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": {"S": "nobody"}}), "Query")
    assert empty["Items"] == [] and empty["Count"] == 0


def test_given_rich_items_when_batch_and_transaction_calls_answer_then_the_direct_encoding_equals_moto_serializer(
        ddb, rich, twin, monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item

    other = ddb.create("rich2")
    keys = [{"pk": {"S": "p"}, "sk": {"N": str(sk)}} for sk in (0, 3, 4, 8)]  # 8: no such item
    for capacity in ("NONE", "TOTAL", "INDEXES"):
        twin.check(ddb.batch_write_item(RequestItems={
            rich: [{"PutRequest": {"Item": rich_item("w", 1)}},
                   {"DeleteRequest": {"Key": {"pk": {"S": "w"}, "sk": {"N": "2"}}}}],
            other: [{"PutRequest": {"Item": {"pk": {"S": "o"}, "b": {"B": b"\x00"}}}}]},
            ReturnConsumedCapacity=capacity), "BatchWriteItem")
        got = twin.check(ddb.batch_get_item(RequestItems={
            rich: {"Keys": keys, "ConsistentRead": True},
            other: {"Keys": [{"pk": {"S": "o"}}], "ProjectionExpression": "b"}},
            ReturnConsumedCapacity=capacity), "BatchGetItem")
        assert len(got["Responses"][rich]) == 3 and got["Responses"][other] == [{"b": {"B": b"\x00"}}]
        twin.check(ddb.transact_get_items(TransactItems=[
            {"Get": {"TableName": rich, "Key": keys[0]}}, {"Get": {"TableName": rich, "Key": keys[3]}},
            {"Get": {"TableName": other, "Key": {"pk": {"S": "o"}}}}], ReturnConsumedCapacity=capacity),
            "TransactGetItems")
        twin.check(ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": rich, "Item": rich_item("x", 1)}},
            {"Update": {"TableName": rich, "Key": keys[0], "UpdateExpression": "SET b = :b",
                        "ExpressionAttributeValues": {":b": {"B": b"\x07"}}}},
            {"Delete": {"TableName": other, "Key": {"pk": {"S": "gone"}}}},
            {"ConditionCheck": {"TableName": rich, "Key": keys[1], "ConditionExpression": "attribute_exists(pk)"}}],
            ReturnConsumedCapacity=capacity), "TransactWriteItems")
    # UnprocessedKeys: moto defers keys once the answer passes 16 MB; make each item look 9 MB
    with monkeypatch.context() as m:
        m.setattr(Item, "size", lambda self: 9 * 1024 * 1024)
        partial = twin.check(ddb.batch_get_item(RequestItems={rich: {"Keys": keys[:3]}}), "BatchGetItem")
    assert len(partial["Responses"][rich]) == 1 and partial["UnprocessedKeys"][rich]["Keys"] == keys[1:3]


def test_given_the_patch_when_batch_get_and_query_answer_then_moto_serializer_is_not_used_but_describe_table_still_is(
        ddb, monkeypatch):
    from moto.core.serialize import ResponseSerializer

    table = ddb.create("spy", range_key=("sk", "N"))
    for sk in range(25):
        ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"N": str(sk)}, "b": {"B": b"\x00\x01"},
                                            **{f"a{i}": {"S": "x" * i} for i in range(8)}})
    calls = {"serialize": 0, "get_value": 0}
    for name in calls:
        original = getattr(ResponseSerializer, name)

        def spy(self, *args, _name=name, _original=original):
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(ResponseSerializer, name, spy)

    def used(call) -> dict:
        before = dict(calls)
        call()
        return {name: calls[name] - before[name] for name in calls}

    keys = [{"pk": {"S": "p"}, "sk": {"N": str(sk)}} for sk in range(11)]
    batch = used(lambda: ddb.batch_get_item(RequestItems={table: {"Keys": keys}}, ReturnConsumedCapacity="TOTAL"))
    query = used(lambda: ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                                   ExpressionAttributeValues={":p": {"S": "p"}}, ReturnConsumedCapacity="TOTAL"))
    assert batch == query == {"serialize": 0, "get_value": 0}
    described = used(lambda: ddb.describe_table(TableName=table))
    assert described["serialize"] == 1 and described["get_value"] > 0


def handler_for(action: str):
    """A DynamoHandler as moto's dispatch leaves it for a JSON request of `action`."""
    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler()
    handler.querystring = {}
    handler.headers = {"X-Amz-Target": f"DynamoDB_20120810.{action}", "Content-Type": "application/x-amz-json-1.0"}
    handler.response_headers = {"server": "amazon.com"}
    return handler


def test_given_errors_control_plane_or_odd_results_when_serialized_then_the_answer_is_moto_serializers(
        ddb, monkeypatch):
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, BaseResponse
    from moto.core.serialize import ResponseSerializer
    from moto.dynamodb.responses import DynamoHandler

    serializer_calls = []
    serialize = ResponseSerializer.serialize
    monkeypatch.setattr(ResponseSerializer, "serialize",
                        lambda self, result: serializer_calls.append(result) or serialize(self, result))

    def both(action: str, result: ActionResult) -> tuple:
        handler = handler_for(action)
        del serializer_calls[:]
        direct = DynamoHandler.serialized(handler, result)
        used = len(serializer_calls)
        return direct, BaseResponse.serialized(handler, result), used

    class ConditionFailed(ServiceException):  # defined here: moto looks a moto module's errors up by its package
        code = "ConditionalCheckFailedException"

    error = ConditionFailed("The conditional request failed")
    direct, generic, used = both("PutItem", ActionResult(error))
    assert used == 1 and direct == generic and direct[0] == 400  # DynamoDB's own errors never get here: moto
    # raises them as JsonRESTError, answered before any serializer; a ServiceException still goes to moto's
    direct, generic, used = both("ListTables", ActionResult({"TableNames": ["a"]}))
    assert used == 1 and direct == generic  # the control plane: moto's serializer
    direct, generic, used = both("GetItem", ActionResult({"Item": {"a": {"s": "lower-case tag"}}}))
    assert used == 1 and direct == generic  # not a member: the serializer may find it through an alias
    direct, generic, used = both("GetItem", ActionResult({"Item": {"a": {"B": b"\x00"}}, "Unknown": 1}))
    assert used == 1 and direct == generic  # likewise a key the output shape does not have
    odd = {"a": {"B": b"\x00", "N": 5, "SS": [1], "S": None}, "d": {"N": Decimal("1.50")}, "s": {"B": "text"},
           "m": {"M": {"none": None, "x": {"NULL": True}}}, "l": {"L": [None, {"BOOL": False}]}}
    direct, generic, used = both("GetItem", ActionResult({"Item": odd, "ConsumedCapacity": {"CapacityUnits": 1}}))
    assert used == 0 and direct == generic  # what the serializer does to them, done directly
    assert json.loads(direct[2]) == {"Item": {"a": {"N": "5", "B": "AA==", "SS": ["1"]}, "d": {"N": "1.50"},
                                              "s": {"B": "dGV4dA=="}, "m": {"M": {"x": {"NULL": True}}},
                                              "l": {"L": [None, {"BOOL": False}]}},
                                     "ConsumedCapacity": {"CapacityUnits": 1.0}}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=ddb.create("err"), Item={"pk": {"S": "k"}}, ConditionExpression="attribute_exists(pk)")


def test_given_a_threaded_moto_server_when_binary_items_travel_over_http_then_botocore_accepts_the_wire_format(
        monkeypatch):
    import urllib.request
    import zlib

    from moto.core.serialize import ResponseSerializer
    from moto.server import ThreadedMotoServer

    moto_fixes.apply()
    serialized = []  # operations moto's serializer answered (the server runs in this process)
    serialize = ResponseSerializer.serialize
    monkeypatch.setattr(ResponseSerializer, "serialize",
                        lambda self, result: serialized.append(self.operation_name) or serialize(self, result))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        table = f"wire-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "B"}])
        items = [{"pk": {"S": "p"}, "sk": {"B": bytes([i])}, "blob": {"B": bytes(range(256)) * (i + 1)},
                  "set": {"BS": [b"\x00", bytes([255, i])]}, "text": {"S": "ünïcode ☃"},
                  "m": {"M": {"b": {"B": b"\xde\xad"}}}} for i in range(3)]
        del serialized[:]
        for item in items:
            client.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL")
        got = client.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"B": b"\x01"}})
        assert got["Item"] == items[1]
        queried = client.query(TableName=table, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "p"}}, Limit=2)
        assert queried["Items"] == items[:2] and queried["LastEvaluatedKey"]["sk"] == {"B": b"\x01"}
        batch = client.batch_get_item(RequestItems={table: {"Keys": [{"pk": i["pk"], "sk": i["sk"]} for i in items]}},
                                      ReturnConsumedCapacity="TOTAL")  # binary keys: billed too
        assert sorted(batch["Responses"][table], key=lambda i: i["sk"]["B"]) == items
        assert batch["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 1.5}]
        headers = batch["ResponseMetadata"]["HTTPHeaders"]
        assert headers["content-type"] == "application/x-amz-json-1.0"
        assert "x-amzn-requestid" in headers and headers["x-amz-crc32"].isdigit()  # botocore checked it
        assert serialized == []  # every answer above was encoded directly

        # the raw answer: its x-amz-crc32 is the CRC32 of the body botocore read
        request = urllib.request.Request(endpoint, method="POST", data=json.dumps(
            {"TableName": table, "Key": {"pk": {"S": "p"}, "sk": {"B": "AQ=="}}}).encode(), headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(request) as response:
            body = response.read()
            assert response.headers["x-amz-crc32"] == str(zlib.crc32(body))
        assert json.loads(body)["Item"]["sk"] == {"B": "AQ=="}
        client.delete_table(TableName=table)
    finally:
        server.stop()


def test_given_data_plane_calls_over_http_then_they_skip_flask_and_answer_exactly_as_through_flask(monkeypatch):
    import botocore.exceptions
    from flask import Flask
    from moto.server import ThreadedMotoServer

    moto_fixes.apply()
    through_flask = []
    flask_call = Flask.__call__
    monkeypatch.setattr(Flask, "__call__", lambda self, *a: through_flask.append(self.service) or flask_call(self, *a))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()

        def clients(origin: str | None):
            def add_origin(request, **_):
                request.headers["Origin"] = origin  # a browser's request: Flask answers it (CORS)
            made = {}
            for name in ("dynamodb", "dynamodbstreams", "sqs"):
                made[name] = boto3.client(name, region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                                          aws_access_key_id="testing", aws_secret_access_key="testing")
                if origin:
                    made[name].meta.events.register("before-send", add_origin)
            return made
        direct, flask = clients(None), clients("http://localhost:3000")
        table = f"direct-{uuid.uuid4().hex[:8]}"
        arn = direct["dynamodb"].create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        direct["dynamodb"].put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        queue = direct["sqs"].create_queue(QueueName=f"direct-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        calls = [  # (service, operation, arguments): answers and errors
            ("dynamodb", "get_item", {"TableName": table, "Key": {"pk": {"S": "a"}}, "ReturnConsumedCapacity": "TOTAL"}),
            ("dynamodb", "get_item", {"TableName": table + "-missing", "Key": {"pk": {"S": "a"}}}),
            ("dynamodb", "query", {"TableName": table, "KeyConditionExpression": "pk = :p",
                                   "ExpressionAttributeValues": {":p": {"S": "a"}}}),
            ("dynamodbstreams", "describe_stream", {"StreamArn": arn}),
            ("dynamodbstreams", "describe_stream", {"StreamArn": arn + "-missing"}),
            ("sqs", "get_queue_url", {"QueueName": queue.rsplit("/", 1)[1]}),
            ("sqs", "get_queue_url", {"QueueName": "no-such-queue"}),
            ("sqs", "get_queue_attributes", {"QueueUrl": queue, "AttributeNames": ["VisibilityTimeout"]}),
        ]

        def answer(client, operation, arguments):
            try:
                reply = getattr(client, operation)(**arguments)
            except botocore.exceptions.ClientError as error:
                return "error", error.response["Error"], error.response["ResponseMetadata"]["HTTPStatusCode"]
            status = reply.pop("ResponseMetadata")["HTTPStatusCode"]
            return "answer", reply, status

        for service, operation, arguments in calls:
            del through_flask[:]
            # When the same call is made straight to dispatch and through Flask
            straight = answer(direct[service], operation, arguments)
            assert through_flask == [], (service, operation)
            flasked = answer(flask[service], operation, arguments)
            assert through_flask == [service]
            # Then the answers are the same
            assert straight == flasked, (service, operation)
        # ... and the table holds what it held: reads changed nothing
        assert direct["dynamodb"].scan(TableName=table)["Count"] == 1
    finally:
        server.stop()


# ------------------------------------------------------------------ SQS receive at depth
def test_a_deep_queue_delivers_fresh_messages_and_drops_expired_ones_without_walking_the_queue(aws, monkeypatch):
    """Receiving must not compute the queue's attributes (a walk over every message) per message."""
    from moto.sqs.models import Queue
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"deep-{uuid.uuid4().hex[:8]}", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for start in range(0, 300, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
    walks = []
    real = Queue.attributes
    monkeypatch.setattr(Queue, "attributes", property(lambda self: walks.append(1) or real.fget(self)))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == 10 and walks == []
    monkeypatch.undo()
    # the counts, now taken with one clock read per walk, say what they said
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"],
            counts["ApproximateNumberOfMessagesDelayed"]) == ("290", "10", "1")
    # and the retention period still holds: a message older than it is not delivered
    from moto.sqs.models import sqs_backends
    queue = sqs_backends["123456789012"]["us-east-1"].queues[url.rsplit("/", 1)[1]]
    for message in queue._messages:
        message.sent_timestamp -= 120_000
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []) == []
    sqs.delete_queue(QueueUrl=url)


def test_given_stream_records_of_rich_items_when_polled_then_every_image_arrives_whole(ddb):
    """GetRecords (every poll of every stream shard) answers each record's images whole. Its
    direct encoding was dropped as a fix (moto_fixes/__init__.py): moto's serializer answers."""
    name = f"streamed-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    try:
        for sk in range(3):
            ddb.put_item(TableName=name, Item=rich_item("p", sk))
        ddb.put_item(TableName=name, Item=rich_item("p", 1, kind="changed"))  # MODIFY: both images
        ddb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "2"}})  # REMOVE

        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=100)["Records"]
        assert [r["eventName"] for r in records] == ["INSERT"] * 3 + ["MODIFY", "REMOVE"]
        assert records[3]["dynamodb"]["OldImage"]["b"] == {"B": bytes(range(256))}
        assert records[3]["dynamodb"]["NewImage"] == rich_item("p", 1, kind="changed")
    finally:
        ddb.delete_table(TableName=name)


# ------------------------------------------------------------------ IAM as the functions see it

class _Request:
    """What moto's response object offers the IAM check: region, account, method, body."""

    def __init__(self, body, method="POST"):
        self.region, self.current_account, self.method, self.body = "us-east-1", "123456789012", method, body


def test_given_a_transaction_then_each_item_is_checked_under_its_own_action_on_its_own_table():
    # Given a transaction over two tables, as posting writes it
    body = {"TransactItems": [{"Put": {"TableName": "Tweets"}}, {"Update": {"TableName": "RateLimits"}},
                              {"ConditionCheck": {"TableName": "Users"}}]}
    # When the checks it needs are listed
    checks = iam._iam_checks(_Request(body), "dynamodb", "dynamodb:TransactWriteItems", "*")
    # Then there is one per item, as DynamoDB authorizes a transaction
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert checks == [("dynamodb:PutItem", table + "Tweets"), ("dynamodb:UpdateItem", table + "RateLimits"),
                      ("dynamodb:ConditionCheckItem", table + "Users")]


def test_given_batches_queries_on_indexes_and_multi_deletes_then_every_resource_touched_is_checked():
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    batch = iam._iam_checks(_Request({"RequestItems": {"A": [], "B": []}}), "dynamodb",
                                     "dynamodb:BatchWriteItem", "*")
    query = iam._iam_checks(_Request({"TableName": "Graph", "IndexName": "by_followee"}), "dynamodb",
                                     "dynamodb:Query", "*")
    deletes = iam._iam_checks(
        _Request(b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>originals/1</Key></Object>'
                 b'<Object><Key>variants/1</Key></Object></Delete>'), "s3", "s3:DeleteObject", "arn:aws:s3:::media")
    assert batch == [("dynamodb:BatchWriteItem", table + "A"), ("dynamodb:BatchWriteItem", table + "B")]
    assert query == [("dynamodb:Query", table + "Graph/index/by_followee")]
    assert deletes == [("s3:DeleteObject", "arn:aws:s3:::media/originals/1"),
                       ("s3:DeleteObject", "arn:aws:s3:::media/variants/1")]


def test_given_identity_policies_then_a_deny_wins_wildcards_match_and_unknown_resources_check_the_action():
    allow_prefix = {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "sqs:SendMessage"],
                                   "Resource": "arn:aws:s3:::media/originals/*"}]}
    deny_secret = {"Statement": {"Effect": "Deny", "NotAction": "s3:GetObject*", "Resource": "*"}}
    allows = iam._iam_allows
    assert allows([allow_prefix], "s3:GetObject", "arn:aws:s3:::media/originals/1")
    assert allows([allow_prefix], "S3:getobject", "arn:aws:s3:::media/originals/1")  # actions ignore case
    assert not allows([allow_prefix], "s3:GetObject", "arn:aws:s3:::media/uploads/1")
    assert not allows([allow_prefix], "s3:PutObject", "arn:aws:s3:::media/originals/1")
    assert not allows([allow_prefix, deny_secret], "s3:GetBucketPolicy", "arn:aws:s3:::media/originals/x")
    assert allows([allow_prefix], "sqs:SendMessage", None)  # resource unknown: the action decides
    assert not allows([allow_prefix], "sqs:DeleteMessage", None)
    assert not allows([], "s3:GetObject", "arn:aws:s3:::media/originals/1")


def test_given_a_host_seen_before_then_its_backend_is_remembered_rather_than_searched_for_again(monkeypatch):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_fixes.apply()
    app = DomainDispatcherApplication(create_backend_app)
    # Given moto's search found the backends of two hosts once
    assert app.get_backend_for_host("dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert app.get_backend_for_host("sqs.us-east-1.amazonaws.com") == "sqs"
    # When the patterns it searches are gone, then the same hosts still route, from memory
    monkeypatch.setattr(app, "backend_url_patterns", [])
    assert app.get_backend_for_host("dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert app.get_backend_for_host("sqs.us-east-1.amazonaws.com") == "sqs"
    # And a host never seen is still searched for (and found nowhere now), its miss not kept
    assert app.get_backend_for_host("sns-never-seen.us-east-1.amazonaws.com") is None


def test_given_an_action_served_once_then_its_handler_is_found_without_listing_the_class_again(aws, monkeypatch):
    moto_fixes.apply()
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"names-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])  # SQSResponse seen once
    listed = []
    original = inspect.getmembers
    monkeypatch.setattr(inspect, "getmembers", lambda *a, **k: listed.append(a[0]) or original(*a, **k))
    # When: more requests reach the same response class, with actions seen and not seen before
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    received = sqs.receive_message(QueueUrl=url)["Messages"]
    # Then: each found its handler, and nobody listed the class's members again
    assert [m["Body"] for m in received] == ["hello"]
    assert listed == []
    sqs.delete_queue(QueueUrl=url)


def test_given_sends_receives_and_deletes_racing_on_one_queue_then_no_message_is_lost_or_comes_back(aws):
    """moto's delete rebuilds the queue's message list from a copy, outside the queue's lock:
    a message sent meanwhile vanished, and of two deletes at once the later one put back the
    message the other had deleted (in flight, so it came back after the visibility timeout:
    a three-minute stall in `make run`'s demo)."""
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"race-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = url.rsplit("/", 1)[1]
    backend = sqs_backends["123456789012"]["us-east-1"]
    sent = [f"m{n}" for n in range(1200)]
    received: list[str] = []
    lock, senders_done = threading.Lock(), threading.Event()

    def send(bodies):
        for body in bodies:
            backend.send_message(name, body)

    def consume():
        while True:
            batch = backend.receive_message(name, 10, 0, 600)
            if not batch:
                if senders_done.is_set() and not backend.receive_message(name, 10, 0, 600):
                    return
                continue
            for message in batch:
                backend.delete_message(name, message.receipt_handle)
            with lock:
                received.extend(m.body for m in batch)

    # Given two senders and three consumers on one queue
    senders = [threading.Thread(target=send, args=(sent[i::2],)) for i in range(2)]
    consumers = [threading.Thread(target=consume) for _ in range(3)]
    for t in senders + consumers:
        t.start()
    for t in senders:
        t.join()
    senders_done.set()
    for t in consumers:
        t.join(timeout=60)
    # Then every message sent was received, and none is left behind in flight
    assert set(received) == set(sent)
    assert backend.get_queue(name)._messages == []
    sqs.delete_queue(QueueUrl=url)


def test_given_a_projected_query_then_it_answers_the_projection_and_the_stored_items_stay_as_they_were(ddb):
    """The fix that skipped moto's deep copy during a projected Query was dropped (the billing
    layer runs every billed query unprojected, so it never fired for pynamodb's calls; see
    moto_fixes/__init__.py): what stays is that projections and the stored items are right."""
    table = ddb.create(range_key=("sk", "N"), gsis=[gsi("by_kind", "kind", "sk", projection="ALL")],
                       attrs={"kind": "S"})
    for n in range(30):
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": str(n)}, "kind": {"S": "k"},
                                            "text": {"S": f"post {n}"}, "tags": {"L": [{"S": "x"}]}})
    # When a projected query reads the table and an index, filtered
    projected = ddb.query(TableName=table, KeyConditionExpression="pk = :a AND sk < :n",
                          FilterExpression="begins_with(#t, :p)", ProjectionExpression="sk, #t",
                          ExpressionAttributeNames={"#t": "text"},
                          ExpressionAttributeValues={":a": {"S": "a"}, ":n": {"N": "25"}, ":p": {"S": "post 1"}},
                          ScanIndexForward=False)
    on_index = ddb.query(TableName=table, IndexName="by_kind", KeyConditionExpression="kind = :k",
                         ProjectionExpression="sk", ExpressionAttributeValues={":k": {"S": "k"}}, Limit=5)
    # Then the answers are the projections asked for
    assert [i["sk"]["N"] for i in projected["Items"]] == ["19", "18", "17", "16", "15", "14", "13", "12", "11",
                                                         "10", "1"]
    assert all(set(i) == {"sk", "text"} for i in projected["Items"])
    assert [i["sk"]["N"] for i in on_index["Items"]] == ["0", "1", "2", "3", "4"]
    # And the stored items are whole
    whole = ddb.query(TableName=table, KeyConditionExpression="pk = :a",
                      ExpressionAttributeValues={":a": {"S": "a"}}, Limit=3)
    assert whole["Items"][0] == {"pk": {"S": "a"}, "sk": {"N": "0"}, "kind": {"S": "k"},
                                 "text": {"S": "post 0"}, "tags": {"L": [{"S": "x"}]}}


# ============================================================ transactions: ClientRequestToken

def _tokened_transaction(table: str, token: str, value: str = "first") -> dict:
    """A first write of an item (attribute_not_exists) and a counter bump: run twice, the put's
    condition fails; run once, the counter reads 1."""
    return {"ClientRequestToken": token, "TransactItems": [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "post"}, "text": {"S": value}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "count"}}, "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}}]}


def _answers_lost(client, times: int = 1) -> list[str]:
    """botocore retries the next TransactWriteItems as if its first `times` answers were lost
    in transit (a timeout, a reset connection): the request reached the table each time. Returns
    the ClientRequestToken of every attempt sent."""
    tokens: list[str] = []

    def lost(response=None, attempts=1, request_dict=None, **_):
        tokens.append(json.loads(request_dict["body"])["ClientRequestToken"])
        return 0 if attempts <= times else None  # 0: retry now; None: let the real retry rules decide

    client.meta.events.register_first("needs-retry.dynamodb.TransactWriteItems", lost)
    return tokens


def _stored(client, table: str) -> dict:
    return {i["pk"]["S"]: i for i in client.scan(TableName=table, ConsistentRead=True)["Items"]}


def test_given_a_committed_transaction_when_it_is_repeated_with_its_token_then_it_succeeds_without_writing_again(ddb):
    table = ddb.create("token")
    request = _tokened_transaction(table, "token-1")
    ddb.transact_write_items(**request)
    # When the same request, with the same token, comes again within ten minutes
    again = ddb.transact_write_items(**request)
    # Then it succeeds, and wrote nothing: the counter was bumped once
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _stored(ddb, table)["count"]["n"] == {"N": "1"}


def test_given_a_token_used_when_another_request_carries_it_then_idempotent_parameter_mismatch(ddb):
    table = ddb.create("token")
    ddb.transact_write_items(**_tokened_transaction(table, "token-2"))
    other = {"ClientRequestToken": "token-2", "TransactItems": [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "other"}}}}]}
    with pytest.raises(ddb.exceptions.IdempotentParameterMismatchException) as caught:
        ddb.transact_write_items(**other)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert set(_stored(ddb, table)) == {"post", "count"}  # the other request wrote nothing


def test_given_a_token_older_than_ten_minutes_then_a_repeat_is_a_new_request(ddb, monkeypatch):
    table = ddb.create("token")
    request = _tokened_transaction(table, "token-3")
    ddb.transact_write_items(**request)
    clock = dynamodb._token_clock
    monkeypatch.setattr(dynamodb, "_token_clock", lambda: clock() + 601)
    # Then it runs again: its put's condition fails now
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(**request)
    # ... and a mismatching request with that token is a new one too
    ddb.transact_write_items(ClientRequestToken="token-3", TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "other"}}}}])
    assert set(_stored(ddb, table)) == {"post", "count", "other"}


def test_given_a_repeat_with_its_token_when_capacity_is_asked_then_it_reports_reads_not_writes(ddb):
    table = ddb.create("token")
    request = {**_tokened_transaction(table, "token-4"), "ReturnConsumedCapacity": "TOTAL"}
    first = ddb.transact_write_items(**request)
    assert first["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}]
    again = ddb.transact_write_items(**request)
    # DynamoDB: "subsequent calls with the same client token return the read capacity units
    # consumed in reading the item": here one strongly consistent read of each
    assert again["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}]


def test_given_an_answer_lost_in_process_when_botocore_retries_then_the_transaction_succeeds_once(ddb):
    table = ddb.create("token")
    request = _tokened_transaction(table, "unused")
    del request["ClientRequestToken"]  # botocore draws one (idempotencyToken in its model)
    tokens = _answers_lost(ddb)
    ddb.transact_write_items(**request)
    assert len(tokens) == 2 and tokens[0] == tokens[1]  # retried, with the same token
    assert _stored(ddb, table)["count"]["n"] == {"N": "1"}


def test_given_an_answer_lost_over_http_when_botocore_retries_then_the_transaction_succeeds_once():
    from moto.server import ThreadedMotoServer

    moto_fixes.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        table = f"token-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        request = _tokened_transaction(table, "unused")
        del request["ClientRequestToken"]
        tokens = _answers_lost(client, times=2)
        client.transact_write_items(**request)
        assert len(tokens) == 3 and len(set(tokens)) == 1
        assert _stored(client, table)["count"]["n"] == {"N": "1"}
        with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
            client.transact_write_items(ClientRequestToken=tokens[0], TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "other"}}}}])
        client.delete_table(TableName=table)
    finally:
        server.stop()


# ============================================================ the registry

class _Target:
    """Something to fix, in place of moto."""

    def greet(self, name: str) -> str:
        return f"hello {name}"


def _registry(*fixes, order=None, version="1.0"):
    from infra.runtime.moto_fixes.registry import Registry

    return Registry(list(fixes), order or {}, version)


_GREET = f"{__name__}._Target.greet"


def test_given_every_fix_applied_then_each_is_recorded_once_with_its_kind_and_listed_by_the_module(aws):
    import subprocess
    import sys

    moto_fixes.apply()
    applied = moto_fixes.applied()
    assert [fix.name for fix in applied] == [fix.name for fix in moto_fixes.FIXES]
    assert len({fix.name for fix in applied}) == len(applied)
    assert {fix.kind for fix in applied} <= {"correctness", "speed", "feature"}
    assert all(fix.reason and "\n" not in fix.reason for fix in applied)
    listing = subprocess.run([sys.executable, "-m", "infra.runtime.moto_fixes"], capture_output=True, text=True,
                             check=True).stdout
    for fix in applied:
        assert f"{fix.name}  [{fix.kind}]  {fix.issue or 'no moto issue found'}" in listing


def test_given_several_fixes_on_one_method_then_it_is_wrapped_once_in_the_stated_order(aws):
    from moto.dynamodb.responses import DynamoHandler

    moto_fixes.apply()
    # Table.query: one wrapper, straight over moto's own function
    assert Table.query.__wrapped__ is inspect.unwrap(Table.query)
    assert set(Table.query.__moto_fixes__) >= {"dynamodb.consumed_capacity_as_billed",
                                               "dynamodb.queries_read_one_partition",
                                               "dynamodb.index_queries_read_one_partition"}
    # DynamoHandler.transact_write_items: four concerns, one wrapper over moto's (its own decorator kept)
    wrapper = DynamoHandler.transact_write_items
    assert not hasattr(wrapper.__wrapped__, "__moto_fixes__")
    assert set(wrapper.__moto_fixes__) == set(dynamodb.HANDLER_ORDER)


def test_given_apply_called_twice_then_the_second_call_changes_nothing(aws):
    moto_fixes.apply()
    before = Table.query, Table.all_items, moto_fixes.applied()
    moto_fixes.apply()
    assert (Table.query, Table.all_items, moto_fixes.applied()) == before


def test_given_a_fix_whose_target_is_missing_then_applying_refuses_it_by_name_and_changes_nothing():
    from infra.runtime.moto_fixes import Fix, FixError, Patch

    original = _Target.greet
    good = Fix("test.good", "correctness", "a reason", (Patch(_GREET, wrap=lambda inner, self, n: "fixed"),))
    gone = Fix("test.gone", "speed", "a reason", (Patch(f"{__name__}._Target.moved_away", wrap=lambda inner: 1),))
    registry = _registry(good, gone, version="9.9")
    with pytest.raises(FixError, match=r"test\.gone.*_Target\.moved_away.*missing in moto 9\.9"):
        registry.apply("9.9")
    assert _Target.greet is original and registry.applied == []
    with pytest.raises(FixError, match=r"test\.nomodule.*no_such_module"):
        _registry(Fix("test.nomodule", "speed", "r", (Patch("no_such_module.thing", value=1),))).apply("1.0")


def test_given_a_new_attribute_that_moto_now_has_then_the_fix_is_refused():
    from infra.runtime.moto_fixes import Fix, FixError, Patch

    registry = _registry(Fix("test.adds", "feature", "r", (Patch(_GREET, value=lambda self: "x", new=True),)))
    with pytest.raises(FixError, match="already exists"):
        registry.apply("1.0")


def test_given_another_moto_version_then_applying_refuses_it_unless_the_environment_allows_it(monkeypatch):
    from infra.runtime.moto_fixes import UNTESTED_ENV, Fix, FixError, Patch

    fix = Fix("test.greet", "correctness", "r", (Patch(_GREET, wrap=lambda inner, self, n: inner(self, n) + "!"),))
    registry = _registry(fix, version="5.2.5")
    monkeypatch.delenv(UNTESTED_ENV, raising=False)
    with pytest.raises(FixError, match=r"moto 5\.3\.0 is installed.*tested with moto 5\.2\.5.*TIMELINE_MOTO_UNTESTED"):
        registry.apply("5.3.0")
    assert registry.applied == [] and _Target().greet("a") == "hello a"
    monkeypatch.setenv(UNTESTED_ENV, "5.2.9")  # allows another version, not this one
    with pytest.raises(FixError):
        registry.apply("5.3.0")
    for allowed in ("1", "5.3.0"):
        monkeypatch.setenv(UNTESTED_ENV, allowed)
        with pytest.warns(RuntimeWarning, match=r"moto 5\.3\.0 is installed"):
            registry.apply("5.3.0")
        try:
            assert _Target().greet("a") == "hello a!" and registry.applied == [fix]
        finally:
            registry.undo()
    # and the real registry checks the moto installed against 5.2.5
    monkeypatch.delenv(UNTESTED_ENV)
    with pytest.raises(FixError, match=r"tested with moto 5\.2\.5"):
        moto_fixes.REGISTRY.check_version("6.0.0")


def test_given_layers_on_one_target_then_they_compose_in_the_stated_order_and_undo_restores_moto():
    from infra.runtime.moto_fixes import Fix, FixError, Patch

    original = _Target.greet
    outer = Fix("test.outer", "feature", "r", (Patch(_GREET, wrap=lambda inner, self, n: f"<{inner(self, n)}>"),))
    inner = Fix("test.inner", "speed", "r", (Patch(_GREET, wrap=lambda inner, self, n: inner(self, n.upper())),))
    with pytest.raises(FixError, match="its order must name every one"):
        _registry(outer, inner).apply("1.0")
    registry = _registry(inner, outer, order={_GREET: ["test.outer", "test.inner"]})
    registry.apply("1.0")
    try:
        assert _Target().greet("a") == "<hello A>"  # declared inner first, composed as the order says
        assert _Target.greet.__wrapped__ is original and _Target.greet.__moto_fixes__ == ("test.inner", "test.outer")
        assert [fix.name for fix in registry.applied] == ["test.inner", "test.outer"]
    finally:
        registry.undo()
    assert _Target.greet is original and registry.applied == []
    registry.apply("1.0", skip=["test.inner"])  # a speed fix can be left out, to measure it
    try:
        assert _Target().greet("a") == "<hello a>"
    finally:
        registry.undo()
    with pytest.raises(FixError, match="only speed fixes"):
        registry.apply("1.0", skip=["test.outer"])
    with pytest.raises(FixError, match="no fix is named"):
        registry.apply("1.0", skip=["test.typo"])


def test_given_the_fixes_undone_then_moto_is_its_own_and_applying_again_restores_them(aws):
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    moto_fixes.apply()
    moto_fixes.undo()
    try:
        assert not hasattr(Table.query, "__moto_fixes__") and Table.query is inspect.unwrap(Table.query)
        assert not hasattr(CognitoIdpResponse, "resend_confirmation_code")  # added by a fix, gone again
        assert "serialized" not in DynamoDBStreamsHandler.__dict__  # inherited again
        assert moto_fixes.applied() == []
    finally:
        moto_fixes.apply()
    assert "dynamodb.queries_read_one_partition" in Table.query.__moto_fixes__
