"""Functions act with their execution role's policies, as deployed: each worker signs with
credentials the emulator's STS issued for the function's role, and the embedded moto holds
them to the template's policies (infra.runtime.moto_fixes.iam). A call the template does not allow fails
locally with AccessDenied, as it would on AWS, instead of passing because the emulator trusts
everyone.

Each role allows exactly the calls its function's code makes (tests/support/permissions.py,
held to template.yaml by tests/unit/test_least_privilege.py): every one of them passes here, and
every other DynamoDB action on every table and index, S3 action on each prefix of the media
bucket, send to the fan-out queue, read of the cursor secret and Cognito admin action is refused."""

from __future__ import annotations

import re

import pytest

from infra.runtime.deployer import deploy
from infra.runtime.functions import LocalFunctions
from tests.support.permissions import (
    BY_AUTHOR,
    BY_REPOST_OF,
    CALLS,
    COPIES,
    DYNAMODB_ACTIONS,
    GRAPH,
    IDEMPOTENCY,
    MEDIA,
    ORIGINALS,
    PUBLIC_COGNITO,
    RATE_LIMITS,
    TABLES,
    TIMELINES,
    TWEETS,
    UPLOADS,
    USERS,
    VARIANTS,
)
from tests.support.template_variants import variant

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server

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
    # Given the API's role (Timelines: read, and PutItem for a post's own entry; no queue: the
    # API sends nothing, fan-out starts from the tables' streams)
    with _as(deployed_stack, moto_endpoint, fixture_spec, "ApiFunction") as api:
        # When it makes calls its policies allow, and calls they do not
        allowed = [api.invoke("ApiFunction", call) for call in (RATE_WINDOW, put_entry)]
        refused, unsent = api.invoke("ApiFunction", delete_entry), api.invoke("ApiFunction", send)
    # Then the allowed ones pass and the others are AccessDenied, naming the action and the table
    assert [result["error"] for result in allowed] == [None, None]
    assert refused["error"] == "AccessDeniedException"
    assert "dynamodb:DeleteItem" in refused["message"] and "TimelinesTable" in refused["message"]
    assert "assumed-role/" in refused["message"] and "ApiFunctionRole" in refused["message"]
    assert (unsent["error"] or "").startswith("AccessDenied") and "sqs:SendMessage" in unsent["message"]


def test_given_one_permission_removed_from_the_template_then_the_call_it_allowed_fails_locally(
        moto_endpoint, fixture_spec, tmp_path):
    # Given the template without the API's right to count sign-ins in the RateLimits table (one
    # statement out, every other kept)
    def without_rate_limit_updates(resources):
        statements = [s for p in resources["ApiFunction"]["Properties"]["Policies"] for s in p["Statement"]]
        kept = [s for s in statements if "RateLimitsTable" not in str(s)]
        assert len(kept) == len(statements) - 1
        resources["ApiFunction"]["Properties"]["Policies"] = [{"Statement": kept}]
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


# ------------------------------------------------------------------ exactly the calls the code makes

KEYS = {USERS: {"pk": {"S": "probe#iam"}}, TWEETS: {"tweet_id": {"N": "1"}},
        GRAPH: {"user_id": {"N": "1"}, "edge": {"S": "probe#iam"}},
        TIMELINES: {"owner_id": {"N": "1"}, "tweet_id": {"N": "1"}}, IDEMPOTENCY: {"id": {"S": "probe#iam"}},
        RATE_LIMITS: {"pk": {"S": "probe#iam"}}, MEDIA: {"media_id": {"N": "1"}},
        COPIES: {"shard": {"S": "probe#iam"}, "tweet_id": {"N": "1"}}}
TABLE_ENV = {USERS: "$USERS_TABLE", TWEETS: "$TWEETS_TABLE", GRAPH: "$GRAPH_TABLE", TIMELINES: "$TIMELINES_TABLE",
             IDEMPOTENCY: "$IDEMPOTENCY_TABLE", RATE_LIMITS: "$RATE_LIMITS_TABLE", MEDIA: "$MEDIA_TABLE",
             COPIES: "$CELEBRITY_COPIES_TABLE"}
INDEX_HASH = {"ByAuthor": "author_id", "ByRepostOf": "repost_of_id", "ByThread": "thread"}
INDEX_HASH_VALUE = {"ByThread": {"S": "1#0"}}  # the others are numbers
S3_ACTIONS = ("GetObject", "PutObject", "DeleteObject", "PutObjectTagging")
COGNITO_ADMIN = ("AdminConfirmSignUp", "AdminGetUser", "AdminDeleteUser", "AdminUserGlobalSignOut",
                 "AdminCreateUser", "AdminSetUserPassword", "AdminInitiateAuth", "ListUsers")


def _dynamodb(action: str, resource: str) -> dict:
    """A call that needs `action` on `resource` and changes nothing: writes are conditional on
    an item that does not exist (a ConditionalCheckFailed answer means IAM let it through)."""
    table, _, index = resource.partition("/index/")
    key = KEYS[table]
    hash_key = next(iter(key))
    base = {"TableName": TABLE_ENV[table]}
    absent = {"ConditionExpression": "attribute_exists(#h)", "ExpressionAttributeNames": {"#h": hash_key}}
    params = {
        "GetItem": lambda: ("get_item", {**base, "Key": key}),
        "BatchGetItem": lambda: ("batch_get_item", {"RequestItems": {TABLE_ENV[table]: {"Keys": [key]}}}),
        "Query": lambda: ("query", {**base, **({"IndexName": index} if index else {}),
                                    "KeyConditionExpression": "#h = :h",
                                    "ExpressionAttributeNames": {"#h": INDEX_HASH[index] if index else hash_key},
                                    "ExpressionAttributeValues": {":h": INDEX_HASH_VALUE.get(index, {"N": "1"})
                                                                  if index else key[hash_key]}}),
        "Scan": lambda: ("scan", {**base, "Limit": 1}),
        "PutItem": lambda: ("put_item", {**base, "Item": key, **absent}),
        "UpdateItem": lambda: ("update_item", {**base, "Key": key, "UpdateExpression": "SET probe = :p",
                                               "ExpressionAttributeValues": {":p": {"S": "x"}}, **absent}),
        "DeleteItem": lambda: ("delete_item", {**base, "Key": key, **absent}),
        "BatchWriteItem": lambda: ("batch_write_item", {"RequestItems": {TABLE_ENV[table]: [
            {"DeleteRequest": {"Key": key}}]}}),
        "ConditionCheckItem": lambda: ("transact_write_items", {"TransactItems": [
            {"ConditionCheck": {**base, "Key": key, **absent}}]}),
        "DescribeTable": lambda: ("describe_table", base),
    }[action]()
    return {"service": "dynamodb", "operation": params[0], "params": params[1]}


def _probe(action: str, resource: str) -> dict:
    service, _, name = action.partition(":")
    if service == "dynamodb":
        return _dynamodb(name, resource)
    if service == "s3":
        where = {"Bucket": "$MEDIA_BUCKET", "Key": resource.split("/", 1)[1].replace("*", "iam-probe")}
        operation, extra = {"GetObject": ("get_object", {}), "PutObject": ("put_object", {"Body": "probe"}),
                            "DeleteObject": ("delete_object", {}),
                            "PutObjectTagging": ("put_object_tagging", {"Tagging": {"TagSet": [
                                {"Key": "attached", "Value": "true"}]}})}[name]
        return {"service": "s3", "operation": operation, "params": {**where, **extra}}
    if (service, name, resource) == ("sqs", "SendMessage", "FanoutQueue"):
        return {"service": "sqs", "operation": "send_message_batch", "params": {
            "QueueUrl": "$FANOUT_QUEUE_URL", "Entries": [{"Id": "probe", "MessageBody": "{}"}]}}
    if (service, name) == ("secretsmanager", "GetSecretValue"):
        return {"service": "secretsmanager", "operation": "get_secret_value", "params": {"SecretId": "$CURSOR_SECRET_ARN"}}
    if service == "cognito-idp":
        pool = {"UserPoolId": "$USER_POOL_ID"}
        client = {"ClientId": "$USER_POOL_CLIENT_ID", "Username": "iam-probe"}
        operation, params = {
            "AdminCreateUser": ("admin_create_user", {**pool, "Username": "iam-probe", "MessageAction": "SUPPRESS"}),
            "AdminSetUserPassword": ("admin_set_user_password", {**pool, "Username": "iam-probe",
                                                                 "Password": "x", "Permanent": True}),
            "ListUsers": ("list_users", {**pool, "Limit": 1}),
            "AdminInitiateAuth": ("admin_initiate_auth", {**pool, "ClientId": "$USER_POOL_CLIENT_ID",
                                                          "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                                                          "AuthParameters": {"USERNAME": "iam-probe",
                                                                             "PASSWORD": "x"}}),
            "SignUp": ("sign_up", {**client, "Password": "x"}),  # too weak: refused after IAM, nothing made
            "ConfirmSignUp": ("confirm_sign_up", {**client, "ConfirmationCode": "000000"}),
            "ResendConfirmationCode": ("resend_confirmation_code", client),
            "InitiateAuth": ("initiate_auth", {"ClientId": "$USER_POOL_CLIENT_ID", "AuthFlow": "USER_PASSWORD_AUTH",
                                               "AuthParameters": {"USERNAME": "iam-probe", "PASSWORD": "x"}}),
        }.get(name) or ("_".join(part.lower() for part in _words(name)), {**pool, "Username": "iam-probe"})
        return {"service": "cognito-idp", "operation": operation, "params": params}
    raise AssertionError(f"no probe for {action} on {resource}")


def _words(camel: str) -> list[str]:
    return re.findall(r"[A-Z][a-z]*", camel)


def _not_granted(function: str) -> list[tuple[str, str]]:
    """Calls a function could be given and is not: every DynamoDB action on every table and
    index, the media bucket's object actions on each prefix, the fan-out queue, the cursor
    secret and Cognito's admin actions."""
    granted = set(CALLS[function])
    candidates = [(f"dynamodb:{a}", t) for t in TABLES for a in DYNAMODB_ACTIONS]
    candidates += [("dynamodb:Query", index) for index in (BY_AUTHOR, BY_REPOST_OF)]
    candidates += [(f"s3:{a}", prefix) for prefix in (UPLOADS, ORIGINALS, VARIANTS) for a in S3_ACTIONS]
    candidates += [("sqs:SendMessage", "FanoutQueue"), ("secretsmanager:GetSecretValue", "CursorSecret")]
    candidates += [(f"cognito-idp:{a}", "UserPool") for a in COGNITO_ADMIN]
    return [c for c in candidates if c not in granted]


@pytest.fixture(scope="module")
def iam_stack(moto_endpoint):
    """A stack of its own: the probes write a few harmless objects and messages."""
    return deploy("itest-iam", endpoint_url=moto_endpoint)


def _run_probes(stack, endpoint, fixture_spec, function: str, calls: list[tuple[str, str]]) -> list[tuple]:
    with LocalFunctions.start(stack, endpoint_url=endpoint, concurrency=1,
                              specs={function: fixture_spec("aws_calls", function, timeout=60)}) as fn:
        results = fn.invoke(function, {"calls": [_probe(action, resource) for action, resource in calls]})
    return [(action, resource, r["error"], r["message"]) for (action, resource), r in zip(calls, results, strict=True)]


def _denied(error: str | None) -> bool:
    return bool(error) and error.startswith("AccessDenied")


def test_given_the_api_role_when_it_scans_any_table_then_it_is_access_denied(iam_stack, moto_endpoint, fixture_spec):
    # Given the api's role; When it scans each table (nothing in its code scans)
    results = _run_probes(iam_stack, moto_endpoint, fixture_spec, "ApiFunction",
                          [("dynamodb:Scan", table) for table in TABLES])
    # Then every Scan is refused
    allowed = [f"{resource}: {error or 'allowed'}" for _, resource, error, _ in results if not _denied(error)]
    assert not allowed, "the api may scan:\n  " + "\n  ".join(allowed)
    assert all("dynamodb:Scan" in message for *_, message in results)


@pytest.mark.parametrize("function", sorted(CALLS))
def test_given_a_functions_role_then_every_call_its_code_makes_passes_and_every_other_is_refused(
        iam_stack, moto_endpoint, fixture_spec, function):
    # Given the calls the function's code makes, and the calls it could be given and is not
    allowed, others = sorted(CALLS[function]), _not_granted(function)
    public = [(f"cognito-idp:{name}", "UserPool") for name in PUBLIC_COGNITO]
    # When its role makes each of them
    results = _run_probes(iam_stack, moto_endpoint, fixture_spec, function, allowed + public + others)
    passed, refused = results[:len(allowed) + len(public)], results[len(allowed) + len(public):]
    # Then the code's calls, and Cognito's public operations (no IAM policy applies to them),
    # pass IAM (their answers are the ones an absent item gives), and every other is AccessDenied
    denied = [f"{a} on {r}: {m}" for a, r, e, m in passed if _denied(e)]
    assert not denied, f"{function}'s code makes calls its role may not:\n  " + "\n  ".join(denied)
    let_through = [f"{a} on {r} ({e or 'succeeded'})" for a, r, e, _ in refused if not _denied(e)]
    assert not let_through, f"{function} may make calls its code never does:\n  " + "\n  ".join(let_through)


def test_given_a_role_that_may_write_but_not_tag_when_it_writes_a_tagged_object_then_it_is_refused(
        iam_stack, moto_endpoint, fixture_spec):
    # Given the api, which may put uploads but not tag them; When it puts one with tags, and without
    put = {"service": "s3", "operation": "put_object",
           "params": {"Bucket": "$MEDIA_BUCKET", "Key": "uploads/1/2", "Body": "probe"}}
    tagged = {**put, "params": {**put["params"], "Tagging": "attached=false"}}
    with LocalFunctions.start(iam_stack, endpoint_url=moto_endpoint, concurrency=1,
                              specs={"ApiFunction": fixture_spec("aws_calls", "ApiFunction")}) as fn:
        plain, with_tags = fn.invoke("ApiFunction", {"calls": [put, tagged]})
    # Then only the plain one is written: tags need s3:PutObjectTagging, as on S3
    assert plain["error"] is None
    assert with_tags["error"] == "AccessDenied"
