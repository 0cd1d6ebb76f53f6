"""moto's IAM access control, made fit to hold the functions to their template policies."""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import urlparse

from infra.runtime.moto_fixes.registry import Fix, Patch

# The account root of the local stack: the platform (deployer, pollers, gateway, tests) signs
# with it and, as an account's root user, may do anything; so may any key the emulator did not
# issue (the developer's own, so `aws --endpoint-url ...` works with whatever is configured).
# Keys the emulator issued, a function's execution role assumed through STS by
# infra.runtime.functions or an IAM user's key, are held to their policies.
ROOT_ACCESS_KEY_ID = "testing"

# DynamoDB checks a transaction's items one by one, each under its own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
# SQS's batch operations are no IAM actions of their own: each is authorized as its single form.
_SQS_BATCH_ACTIONS = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
                      "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


def enforce_iam(enabled: bool = True) -> None:
    """Turn moto's IAM checks on (from the next request) or off for this process's moto."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def _authorized_as_aws_does(inner: Any, self: Any, iam_request_cls: Any, resource: str = "*") -> Any:
    """moto's IAM access control, made fit to hold functions to their template policies.

    moto checks one action against one resource, and only knows the resource for S3, SQS and
    IAM: anything else is checked against "*", which a policy naming a table denies. Here each
    request is checked as AWS checks it: DynamoDB against its table (or index) ARN, each table
    of a batch and each item of a transaction under the item's own action; SQS's batch
    operations under their single forms (SendMessageBatch is sqs:SendMessage); an S3 PutObject
    with tags under s3:PutObjectTagging too; Cognito against its user pool; Secrets Manager
    against the secret's ARN. Where the resource cannot be known (other services, a secret
    named rather than ARN'd) the action alone is checked against the policies' actions, never
    denied for want of a resource. Condition blocks are not evaluated
    (none of the template's function policies has one). Requests without an Authorization
    header (presigned URLs and POST policies, which carry their signature in the query or the
    form) pass unchecked: moto cannot verify those signatures.
    """
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        return inner(self, iam_request_cls, resource)
    authorization = self.headers.get("Authorization") or ""
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    credential = scope[0]
    if not credential or credential == ROOT_ACCESS_KEY_ID:
        return None
    if not _issued_here(self.current_account, scope[2] if len(scope) > 2 else "us-east-1", credential):
        return None  # your shell's keys, whatever they are: the account's root, as ROOT_ACCESS_KEY_ID
    if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return None
    query = urlparse(self.uri).query
    request = iam_request_cls(account_id=self.current_account, method=self.method,
                              path=self.raw_path + (f"?{query}" if query else ""),
                              data=self.data, body=self.raw_body, headers=self.headers,
                              action=self._get_action())
    request.check_signature()
    service = request._action.partition(":")[0]
    checks = _iam_checks(self, service, request._action, resource)
    documents = [_policy_document(IAMPolicy, policy) for policy in request._access_key.collect_policies()]
    for action, target in checks:
        if not _iam_allows(documents, action, target):
            if self.headers.get("X-Amz-Target"):  # a JSON-protocol service: AWS's JSON error
                from moto.core.exceptions import JsonRESTError

                raise JsonRESTError("AccessDeniedException", (
                    f"User: {request._access_key.arn} is not authorized to perform: {action} on resource: "
                    f"{target or '*'} because no identity-based policy allows the {action} action"))
            request._action = action
            request._raise_access_denied()
    return None


def _issued_here(account: str, region: str, access_key_id: str) -> bool:
    """Whether the emulator issued this key: an STS session (a function's role) or an IAM user's
    key. Only those are principals with policies; any other key is the developer's."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(region)
    if sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id) is not None:
        return True
    return access_key_id in iam_backends[account][partition].access_keys


def _policy_document(policy_cls: Any, policy: Any) -> dict:
    """An inline policy is kept as JSON text (IAM API) or a dict (CloudFormation); a managed
    one as moto's Policy object."""
    if isinstance(policy, str):
        return _parsed_policy(policy)
    if isinstance(policy, dict) and "Statement" in policy:
        return policy
    return policy_cls(policy)._policy_json


@functools.lru_cache(maxsize=512)
def _parsed_policy(text: str) -> dict:
    return json.loads(text)


def _iam_checks(response: Any, service: str, action: str, resource: str) -> list[tuple[str, str | None]]:
    """(action, resource ARN or None for "action only") pairs this request needs, all allowed."""
    region, account = response.region, response.current_account
    if service == "s3" and action == "s3:DeleteObject" and response.method == "POST":
        # DeleteObjects is no IAM action of its own: each key needs s3:DeleteObject (moto
        # checks the bucket once)
        return [(action, f"{resource}/{key}") for key in _deleted_keys(response.body)] or [(action, resource)]
    if service == "s3" and action == "s3:PutObject" and any(
            name.lower() == "x-amz-tagging" for name in response.headers.keys()):  # noqa: SIM118 (werkzeug Headers iterate as pairs)
        # an object written with tags needs the right to tag it too, as S3 checks
        return [(action, resource), ("s3:PutObjectTagging", resource)]
    if service == "sqs":
        return [(_SQS_BATCH_ACTIONS.get(action, action), resource)]
    if service == "s3":  # moto resolved these itself
        return [(action, resource)]
    body = response.body  # moto's DynamoDB has parsed it already; others keep the text
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body or "{}")
        except ValueError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    if service == "dynamodb":
        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

        op = action.partition(":")[2]
        if op in ("TransactWriteItems", "TransactGetItems"):
            checks = []
            for item in body.get("TransactItems") or []:
                for kind, spec in item.items():
                    checks.append((f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}", table(spec.get("TableName", ""))))
            return checks
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(action, table(name)) for name in body.get("RequestItems") or {}]
        if body.get("TableName"):
            arn = table(body["TableName"])
            return [(action, f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn)]
        return [(action, "*")]
    if service == "cognito-idp" and body.get("UserPoolId"):
        return [(action, f"arn:aws:cognito-idp:{region}:{account}:userpool/{body['UserPoolId']}")]
    if service == "secretsmanager" and str(body.get("SecretId", "")).startswith("arn:"):
        return [(action, body["SecretId"])]
    return [(action, None)]


def _deleted_keys(body: Any) -> list[str]:
    """The keys of an S3 DeleteObjects request body (<Delete><Object><Key>...)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(body if isinstance(body, (str, bytes)) else b"")
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rpartition("}")[2] == "Key"]


def _iam_allows(documents: list[dict], action: str, resource: str | None) -> bool:
    """IAM's rule over identity policies: an explicit Deny wins, else some Allow is needed."""
    allowed = False
    for document in documents:
        statements = document.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _iam_matches(statement, "Action", "NotAction", action, ignore_case=True):
                continue
            if resource is not None and not _iam_matches(statement, "Resource", "NotResource", resource):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed


def _iam_matches(statement: dict, key: str, not_key: str, value: str, ignore_case: bool = False) -> bool:
    if key in statement:
        patterns, negate = statement[key], False
    elif not_key in statement:
        patterns, negate = statement[not_key], True
    else:
        return False
    patterns = patterns if isinstance(patterns, list) else [patterns]
    hit = any(_iam_pattern(pattern, ignore_case).fullmatch(value) for pattern in patterns if isinstance(pattern, str))
    return hit != negate


@functools.lru_cache(maxsize=1024)
def _iam_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters, ? any one; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


FIXES = [
    Fix("iam.enforced_for_execution_roles", "correctness",
        "moto checks every action but S3's, SQS's and IAM's against resource \"*\", which a policy naming a table "
        "denies; here each request is checked against the resources AWS checks it against",
        patches=(Patch("moto.core.authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action",
                       wrap=_authorized_as_aws_does),),
        issue="getmoto/moto#9581"),
]
