"""Functions act with their execution role's policies, as deployed: each worker signs with
credentials the emulator's STS issued for the function's role, and the embedded moto holds
them to the template's policies (infra.moto_patches). A call the template does not allow fails
locally with AccessDenied, as it would on AWS, instead of passing because the emulator trusts
everyone."""

from __future__ import annotations

import pytest

from infra.deployer import deploy
from infra.functions import LocalFunctions
from tests.support.template_variants import variant

RATE_WINDOW = {"service": "dynamodb", "operation": "update_item", "params": {
    "TableName": "$RATE_LIMITS_TABLE", "Key": {"pk": {"S": "signin#probe#1"}},
    "UpdateExpression": "ADD actions :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}


def _as(stack, endpoint, fixture_spec, logical_id):
    return LocalFunctions.start(stack, endpoint_url=endpoint, concurrency=1,
                                specs={logical_id: fixture_spec("aws_call", logical_id)})


def test_given_the_templates_policies_then_each_function_may_do_what_they_allow_and_nothing_else(
        deployed_stack, moto_endpoint, fixture_spec):
    put_entry = {"service": "dynamodb", "operation": "put_item", "params": {
        "TableName": "$TIMELINES_TABLE", "Item": {"owner_id": {"N": "1"}, "tweet_id": {"N": "1"}}}}
    delete_entry = {"service": "dynamodb", "operation": "delete_item", "params": {
        "TableName": "$TIMELINES_TABLE", "Key": {"owner_id": {"N": "1"}, "tweet_id": {"N": "1"}}}}
    send = {"service": "sqs", "operation": "send_message",
            "params": {"QueueUrl": "$FANOUT_QUEUE_URL", "MessageBody": "{}"}}
    # Given the API's role (Timelines: read, and PutItem for a post's own entry) and the
    # dispatcher's
    with _as(deployed_stack, moto_endpoint, fixture_spec, "ApiFunction") as api:
        # When each makes calls its policies allow, and one they do not
        allowed = [api.invoke("ApiFunction", call) for call in (RATE_WINDOW, put_entry, send)]
        refused = api.invoke("ApiFunction", delete_entry)
    # Then the allowed ones pass and the other is AccessDenied, naming the action and the table
    assert [result["error"] for result in allowed] == [None, None, None]
    assert refused["error"] == "AccessDeniedException"
    assert "dynamodb:DeleteItem" in refused["message"] and "TimelinesTable" in refused["message"]
    assert "assumed-role/" in refused["message"] and "ApiFunctionRole" in refused["message"]


def test_given_one_permission_removed_from_the_template_then_the_call_it_allowed_fails_locally(
        moto_endpoint, fixture_spec, tmp_path):
    # Given the template without the API's right to count sign-ins in the RateLimits table
    def without_rate_limit_updates(resources):
        policies = resources["ApiFunction"]["Properties"]["Policies"]
        kept = [p for p in policies if "RateLimitsTable" not in str(p)]
        assert len(kept) == len(policies) - 1
        resources["ApiFunction"]["Properties"]["Policies"] = kept
    stack = deploy("itest-less-iam", endpoint_url=moto_endpoint,
                   template_path=variant(tmp_path, without_rate_limit_updates))

    # When the API updates a rate window, as every sign-in does
    with _as(stack, moto_endpoint, fixture_spec, "ApiFunction") as api:
        result = api.invoke("ApiFunction", RATE_WINDOW)

    # Then it is refused as AWS would refuse it
    assert result["error"] == "AccessDeniedException"
    assert "dynamodb:UpdateItem" in result["message"] and "RateLimitsTable" in result["message"]


@pytest.mark.parametrize("logical_id", ["ApiFunction", "FanoutWorkerFunction"])
def test_given_a_function_then_its_credentials_are_its_roles_and_not_the_platforms(
        deployed_stack, moto_endpoint, fixture_spec, logical_id):
    # When a function reports its credentials
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1,
                              specs={logical_id: fixture_spec("echo", logical_id)}) as fn:
        env = fn.invoke(logical_id, {"env": ["AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"]})["env"]
    # Then it holds session credentials of its own role, never the local root's
    assert env["AWS_ACCESS_KEY_ID"] not in (None, "testing") and env["AWS_SESSION_TOKEN"] not in (None, "testing")
    assert deployed_stack.roles[logical_id].split("/")[-1].startswith(f"itest-{logical_id}Role")


def test_given_keys_the_emulator_never_issued_then_they_act_as_the_accounts_root(deployed_stack, moto_endpoint):
    # Given the developer's own credentials, whatever their shell has configured
    import boto3

    session = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE", region_name=deployed_stack.region,
                            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    # When they use the emulator, as `aws --endpoint-url ...` does
    tables = session.client("dynamodb", endpoint_url=moto_endpoint).list_tables()["TableNames"]
    # Then it answers: only keys it issued (the functions' roles) are held to policies
    assert any("TimelinesTable" in name for name in tables)
