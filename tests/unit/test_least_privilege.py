"""Each function's role grants exactly what its code calls (security review, issue 22, finding 11).

The template's policies are read as deployed (SAM's translation, so a policy template such as
DynamoDBCrudPolicy shows the actions it really grants) and compared with the list of calls the
code makes, per function (tests/support/permissions.py). Where the code can be read for its
calls cheaply (the boto3 clients of the store: Cognito, S3, SQS), it is read here too; the
DynamoDB calls, made through pynamodb models, are in the list with the code that makes each.
tests/runtime/test_function_permissions.py checks the same list against the emulator,
which holds each function to its role.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from infra.runtime import template as tpl
from tests.support.permissions import CALLS, PUBLIC_COGNITO

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "layers/timeline/python/timeline/store"
CODE = [*sorted((ROOT / "functions").rglob("*.py")), *sorted((ROOT / "layers/timeline/python").rglob("*.py"))]

_ARN_PREFIX = re.compile(r"^arn:\$\{AWS::Partition\}:[a-z0-9-]+:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(table/)?")


def _resource(node) -> str:
    """A policy's Resource as a logical id with its suffix: "TweetsTable/index/ByAuthor",
    "MediaBucket/uploads/*", "CursorSecret"; SAM's policy templates resolved the same way."""
    if isinstance(node, str):
        return node
    if "Ref" in node:
        return node["Ref"]
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        name, attr = target if isinstance(target, list) else target.split(".", 1)
        assert attr in ("Arn", "QueueName", "StreamArn"), node
        return name
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub
        for name, value in variables.items():
            text = text.replace("${" + name + "}", _resource(value))
        text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
        return _ARN_PREFIX.sub("", text)
    raise AssertionError(f"a Resource this test cannot read: {node}")


def granted(function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's own Policies grant (not SAM's event source
    policies, which let the Lambda service poll and deliver failures)."""
    role = tpl.translate()["Resources"][f"{function}Role"]["Properties"]
    pairs = set()
    for policy in role.get("Policies", []):
        if not re.fullmatch(rf"{function}RolePolicy\d+", policy["PolicyName"]):
            continue
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            pairs |= {(action, _resource(r)) for action in actions for r in resources}
    return pairs


def test_given_the_template_then_each_function_is_granted_exactly_the_calls_its_code_makes():
    functions = set(tpl.functions(tpl.load_sam()))
    assert functions == set(CALLS), "a function without a list of calls (tests/support/permissions.py)"
    differences = {}
    for function in sorted(functions):
        grants, calls = granted(function), set(CALLS[function])
        if grants != calls:
            differences[function] = {"granted, never called": sorted(grants - calls),
                                     "called, not granted": sorted(calls - grants)}
    assert differences == {}


def test_given_the_template_then_no_policy_grants_a_wildcard_action_or_resource():
    for function in CALLS:
        for action, resource in granted(function):
            assert "*" not in action, (function, action)
            assert resource != "*" and not resource.endswith("/index/*"), (function, action, resource)


# ------------------------------------------------------------------ what the code calls, read from it

def _calls_on(path: Path, receiver: str) -> dict[str, set[str]]:
    """method of the module's classes -> the methods it calls on `self.<receiver>`."""
    found: dict[str, set[str]] = {}
    for cls in [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]:
        for method in [n for n in cls.body if isinstance(n, ast.FunctionDef)]:
            for node in ast.walk(method):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == receiver
                        and isinstance(node.func.value.value, ast.Name) and node.func.value.value.id == "self"):
                    found.setdefault(method.name, set()).add(node.func.attr)
    return found


def _called_on(receiver: str, name: str, skip: Path) -> bool:
    """Whether any module of the functions' code (but `skip`) calls `<...>.<receiver>.<name>(`
    or `<receiver>.<name>(`: `self._identity.remove(...)` for ("_identity", "remove")."""
    for path in CODE:
        if path == skip:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name):
                continue
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == receiver) or (
                    isinstance(owner, ast.Name) and owner.id == receiver):
                return True
    return False


def _camel(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


def _granted_anywhere(service: str) -> set[str]:
    return {action.partition(":")[2] for function in CALLS for action, _ in granted(function)
            if action.startswith(service + ":")}


def test_given_the_identity_store_then_the_cognito_actions_granted_are_those_its_used_methods_call():
    # Given the Cognito calls of each IdentityProvider method, and which methods the service calls
    # on the provider it holds (Accounts._identity)
    path = STORE / "identity.py"
    used = {method: calls for method, calls in _calls_on(path, "_idp").items()
            if _called_on("_identity", method, path)}
    called = {_camel(call) for calls in used.values() for call in calls}
    # Then the api may make every one Cognito authorizes with IAM, and none it does not evaluate
    assert "remove" in used, "IdentityProvider.remove (AdminDeleteUser) is no longer called: drop its grant"
    assert _granted_anywhere("cognito-idp") == called - set(PUBLIC_COGNITO)
    assert set(PUBLIC_COGNITO) <= called


def test_given_the_media_store_and_the_queue_then_the_s3_and_sqs_actions_granted_are_those_the_code_calls():
    s3_actions = {"generate_presigned_post": {"PutObject"}, "generate_presigned_url": {"GetObject"},
                  "get_object": {"GetObject"}, "delete_object": {"DeleteObject"},
                  "delete_objects": {"DeleteObject"}, "put_object": {"PutObject"},
                  "put_object_tagging": {"PutObjectTagging"}}
    source = (STORE / "media.py").read_text()
    calls = {call for calls in _calls_on(STORE / "media.py", "_s3").values() for call in calls}
    assert calls <= set(s3_actions), f"an S3 call this test does not map: {calls - set(s3_actions)}"
    expected = set().union(*(s3_actions[c] for c in calls))
    if re.search(r"put_object\([^)]*Tagging=", source, re.DOTALL):
        expected.add("PutObjectTagging")  # PutObject with tags needs s3:PutObjectTagging too
    assert _granted_anywhere("s3") == expected

    sends = {call for calls in _calls_on(STORE / "fanout_queue.py", "_client").values() for call in calls}
    assert sends == {"send_message_batch"}
    assert _granted_anywhere("sqs") == {"SendMessage"}  # SendMessageBatch is authorized as SendMessage


def test_given_the_functions_code_then_nothing_scans_a_table_or_reads_its_description():
    # A Scan reads a whole table; pynamodb 6 needs no DescribeTable. Neither is granted to anyone.
    offenders = []
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "scan", "parallel_scan", "rate_limited_scan", "describe_table", "describe_table_raw"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}")
    assert offenders == []


def test_given_the_dispatchers_failure_destination_then_sams_own_policy_lets_lambda_deliver_to_it():
    # The stream event sources' OnFailure destination is written by the Lambda service with the
    # function's role; SAM grants that itself, so the function's Policies need not (its code never sends there).
    role = tpl.translate()["Resources"]["FanoutDispatchFunctionRole"]["Properties"]
    statements = [s for p in role["Policies"] if not re.fullmatch(r"FanoutDispatchFunctionRolePolicy\d+", p["PolicyName"])
                  for s in p["PolicyDocument"]["Statement"]]
    assert any(s["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"]) and _resource(s["Resource"]) == "DispatchFailureQueue"
               for s in statements), statements
