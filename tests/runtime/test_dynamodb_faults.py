"""infra.runtime.dynamodb_faults: a seeded share of the emulator's DynamoDB calls answered as DynamoDB
answers a throttled partition or a conflicting transaction (issue 24's chaos soak), on moto's
in-process mock through boto3. Clients that must see a fault make one attempt only."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from infra.runtime import dynamodb_faults, moto_fixes
from tests.support.scratch_tables import scratch_tables

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def ddb(aws):
    moto_fixes.apply()
    client = boto3.client("dynamodb", region_name="us-east-1", config=ONE_ATTEMPT)
    with scratch_tables(client) as make:
        client.create = make
        yield client
    dynamodb_faults.set_dynamodb_faults()


def put(client, table: str, pk: str) -> dict:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}}}}


def test_given_faults_off_then_every_call_is_answered_and_nothing_is_counted(ddb):
    table = ddb.create("faults")
    for n in range(50):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}})
        ddb.transact_write_items(TransactItems=[put(ddb, table, f"t{n}")])
    assert dynamodb_faults.dynamodb_faults() == {"throttled": 0, "conflicts": 0}


def test_given_every_call_throttled_then_each_kind_of_call_is_refused_as_dynamodb_refuses_it_and_changes_nothing(ddb):
    table = ddb.create("faults")
    dynamodb_faults.set_dynamodb_faults(throttle=1.0, seed=1)
    # Then a single-item call, a batch and a query are refused with the throttling exception
    for call in (lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "a"}}),
                 lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}),
                 lambda: ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                                   ExpressionAttributeValues={":p": {"S": "a"}}),
                 lambda: ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})):
        with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
            call()
    # and a transaction is cancelled with ThrottlingError on its first item, None on the others
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(TransactItems=[put(ddb, table, "c"), put(ddb, table, "d")])
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["ThrottlingError", "None"]
    assert dynamodb_faults.dynamodb_faults() == {"throttled": 5, "conflicts": 0}
    # and nothing was written
    dynamodb_faults.set_dynamodb_faults()
    assert ddb.scan(TableName=table)["Items"] == []


def test_given_every_transaction_conflicting_then_it_is_cancelled_for_a_conflict_and_other_calls_pass(ddb):
    table = ddb.create("faults")
    dynamodb_faults.set_dynamodb_faults(conflict=1.0, seed=1)
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(TransactItems=[put(ddb, table, "a"), put(ddb, table, "b")])
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["TransactionConflict", "None"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}})  # not a transaction: no conflict to have
    assert dynamodb_faults.dynamodb_faults() == {"throttled": 0, "conflicts": 1}
    assert [i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]] == ["c"]


def test_given_a_rate_and_a_seed_then_about_that_share_is_refused_and_the_same_seed_refuses_the_same_calls(ddb):
    table = ddb.create("faults")

    def run(seed: int) -> list[bool]:
        dynamodb_faults.set_dynamodb_faults(throttle=0.05, conflict=0.05, seed=seed)
        refused = []
        for n in range(400):
            try:
                ddb.transact_write_items(TransactItems=[put(ddb, table, f"k{n % 20}")])
                refused.append(False)
            except ddb.exceptions.TransactionCanceledException:
                refused.append(True)
        return refused

    first = run(7)
    counts = dynamodb_faults.dynamodb_faults()
    # Then about 5% of the transactions were throttled and 5% conflicted (binomial, n=400)
    assert 5 <= counts["throttled"] <= 40 and 5 <= counts["conflicts"] <= 40, counts
    assert sum(first) == counts["throttled"] + counts["conflicts"]
    # and the same seed refuses the same calls again; another seed others
    assert run(7) == first
    assert run(8) != first


def test_given_a_rate_outside_zero_to_one_then_it_is_refused(ddb):
    with pytest.raises(ValueError):
        dynamodb_faults.set_dynamodb_faults(throttle=1.5)
    with pytest.raises(ValueError):
        dynamodb_faults.set_dynamodb_faults(conflict=-0.1)
