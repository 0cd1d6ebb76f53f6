"""Deploy template.yaml to an AWS-compatible endpoint (moto, LocalStack) through CloudFormation.

The SAM template is translated offline (infra.runtime.template), the function and layer folders are
zipped into an artifact bucket, and the stack is created with the emulator's CloudFormation.
Resources the emulator cannot host are handled in one place, `UnhostedResources`, and nowhere
else. What comes back is a `Stack`: physical names, outputs, each function's resolved
environment and every event source mapping, all read back from the emulator's own APIs.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from infra.runtime import template as tpl
from infra.runtime.template import UnsupportedSetting

try:  # the embedded emulator lives in this process when moto is installed
    from infra.runtime import moto_fixes
    moto_fixes.apply()
except ImportError:  # pragma: no cover - deploying to LocalStack without moto installed
    pass

log = logging.getLogger("infra.runtime.deployer")

API_GATEWAY_PREFIX = "AWS::ApiGatewayV2::"
LOCAL_API_ID = "local"  # the API is not a resource on the emulator: the local gateway's id


@dataclass
class EventSource:
    uuid: str
    function: str  # logical id
    source_arn: str
    batch_size: int
    batching_window: int
    starting_position: str | None
    report_failures: bool
    bisect_on_error: bool
    maximum_retry_attempts: int | None
    on_failure_arn: str | None
    enabled: bool = True  # the template's Enabled: a disabled mapping is not polled
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency (SQS)


@dataclass
class Stack:
    name: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id
    function_env: dict[str, dict[str, str]]  # logical id -> resolved environment
    event_sources: list[EventSource]
    roles: dict[str, str] = field(default_factory=dict)  # function logical id -> execution role ARN
    alarms: list[str] = field(default_factory=list)
    unhosted: list[str] = field(default_factory=list)  # "LogicalId (Type): how it was handled"

    @property
    def user_pool_id(self) -> str:
        return self.outputs["UserPoolId"]

    @property
    def user_pool_client_id(self) -> str:
        return self.outputs["UserPoolClientId"]


def _refs(node: Any) -> set[str]:
    """Every logical id a fragment refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            for part in text.split("${")[1:]:
                found.add(part.split("}")[0].split(".")[0])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _substitute(node: Any, refs: dict[str, str], attrs: dict[tuple[str, str], str]) -> Any:
    """Replace Ref/GetAtt (and ${X} in Sub) of removed resources with their real values."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in refs:
            return refs[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            key = tuple(target) if isinstance(target, list) else tuple(target.split(".", 1))
            if key in attrs:
                return attrs[key]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for name, value in refs.items():
                text = text.replace("${" + name + "}", value)
            for (name, attr), value in attrs.items():
                text = text.replace("${" + f"{name}.{attr}" + "}", value)
            return {"Fn::Sub": text} if "${" in text else text
        return {k: _substitute(v, refs, attrs) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, refs, attrs) for v in node]
    return node


class UnhostedResources:
    """The one adapter for resources moto's CloudFormation cannot create.

    - API Gateway v2 (api, stage, and the Lambda permissions naming it): the local gateway
      serves the routes instead, reading them from template.yaml.
    - Cognito user pool and client, and the Secrets Manager secret: created through their
      service APIs before the stack, and their Refs/GetAtts replaced by the real values.
    - S3 bucket policies: dropped. The template's only one denies plain-HTTP access, which
      means nothing on an emulator served over http://127.0.0.1.
    - S3 bucket settings moto's CloudFormation ignores (it applies only encryption and tags):
      notifications, lifecycle rules, CORS, public access block and ownership controls are
      applied with the S3 API once the stack exists. SQS queue policies likewise, with
      SetQueueAttributes. Their Refs and GetAtts travel through stack outputs.
    - CloudWatch alarms: their dimension values become stack outputs so CloudFormation
      resolves them; the alarms are then created with PutMetricAlarm.

    Against an emulator that hosts everything (LocalStack Pro), pass `hosted_types` to skip.
    """

    HANDLED = ("AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
               "AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy",
               "AWS::SQS::QueuePolicy")
    # Bucket properties applied after the stack, through the S3 API (see _BucketSettings).
    BUCKET_SETTINGS = ("NotificationConfiguration", "LifecycleConfiguration", "CorsConfiguration",
                       "PublicAccessBlockConfiguration", "OwnershipControls")

    def __init__(self, session: boto3.Session, endpoint_url: str | None, stack_name: str,
                 params: dict[str, str], region: str):
        self.session, self.endpoint_url = session, endpoint_url
        self.stack_name, self.params, self.region = stack_name, params, region
        self.refs: dict[str, str] = {}
        self.attrs: dict[tuple[str, str], str] = {}
        self.alarms: dict[str, dict[str, Any]] = {}
        self.report: list[str] = []
        self.deferred: list[tuple[str, str, Any]] = []  # (logical id, what, settings with placeholders)

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def prepare(self, cfn: dict[str, Any]) -> dict[str, Any]:
        resources = cfn["Resources"]
        api_types = {lid: r["Type"] for lid, r in resources.items() if r["Type"].startswith(API_GATEWAY_PREFIX)}
        api_ids = set(api_types)
        for lid in list(resources):
            res = resources[lid]
            if lid in api_ids or (res["Type"] == "AWS::Lambda::Permission" and _refs(res) & api_ids):
                del resources[lid]
                if lid in api_ids:
                    self.report.append(f"{lid} ({res['Type']}): served by the local HTTP gateway")
        # What still names the API (an alarm's or a dashboard's ApiId) names the local gateway's.
        self.refs.update({lid: LOCAL_API_ID for lid, kind in api_types.items() if kind == API_GATEWAY_PREFIX + "Api"})
        for name in [o for o, v in cfn.get("Outputs", {}).items() if _refs(v) & api_ids]:
            del cfn["Outputs"][name]

        for lid, res in resources.items():
            if res["Type"] == "AWS::S3::Bucket":
                props = res.get("Properties", {})
                for name in self.BUCKET_SETTINGS:
                    if name in props:
                        self._defer(lid, name, props.pop(name), cfn)

        # Order matters: the client needs the pool id.
        for kind in self.HANDLED:
            for lid in [lid for lid, r in resources.items() if r["Type"] == kind]:
                res = resources.pop(lid)
                props = res.get("Properties", {})
                if kind not in ("AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
                    props = self._resolve(props)  # the others point into the stack
                getattr(self, "_create_" + kind.split("::")[1].lower())(lid, props, cfn)
                for other in resources.values():  # nothing may wait for a resource that is gone
                    depends = other.get("DependsOn")
                    if isinstance(depends, str):
                        depends = [depends]
                    if depends and lid in depends:
                        other["DependsOn"] = [d for d in depends if d != lid]
        cfn = _substitute(cfn, self.refs, self.attrs)
        return cfn

    def _defer(self, lid: str, what: str, settings: Any, cfn: dict[str, Any]) -> None:
        """Keep `settings` for after the stack exists; every intrinsic in it becomes a stack
        output (CloudFormation resolves it) and a placeholder until then."""
        outputs = cfn.setdefault("Outputs", {})

        def hoist(node: Any) -> Any:
            if isinstance(node, dict):
                if len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join"):
                    name = f"LocalDeferred{len(outputs)}"
                    outputs[name] = {"Value": node}
                    return {_PLACEHOLDER: name}
                return {k: hoist(v) for k, v in node.items()}
            if isinstance(node, list):
                return [hoist(v) for v in node]
            return node

        self.deferred.append((lid, what, hoist(settings)))

    def _create_sqs(self, lid: str, props: dict[str, Any], cfn: dict[str, Any]) -> None:
        self._defer(lid, "QueuePolicy", props, cfn)

    def apply_deferred(self, outputs: dict[str, str], physical: dict[str, str]) -> None:
        """Apply what moto's CloudFormation would have ignored, with the stack's real values."""
        def fill(node: Any) -> Any:
            if isinstance(node, dict):
                if set(node) == {_PLACEHOLDER}:
                    return outputs.pop(node[_PLACEHOLDER])
                return {k: fill(v) for k, v in node.items()}
            if isinstance(node, list):
                return [fill(v) for v in node]
            return node

        s3, sqs = self.client("s3"), self.client("sqs")
        for lid, what, settings in self.deferred:
            settings = fill(settings)
            if what == "QueuePolicy":
                for url in settings["Queues"]:
                    sqs.set_queue_attributes(QueueUrl=url, Attributes={
                        "Policy": json.dumps(settings["PolicyDocument"])})
                self.report.append(f"{lid} (AWS::SQS::QueuePolicy): set via SetQueueAttributes")
                continue
            _BucketSettings(s3, physical[lid]).apply(what, settings)
            self.report.append(f"{lid} (AWS::S3::Bucket): {what} put via the S3 API")

    def _resolve(self, props: dict[str, Any]) -> dict[str, Any]:
        pseudo = {"AWS::Region": self.region, "AWS::StackName": self.stack_name,
                  "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com",
                  "AWS::Partition": "aws"}
        resolved = _substitute(props, {**self.params, **pseudo, **self.refs}, self.attrs)
        leftover = _refs(resolved)
        if leftover - set(self.refs):
            raise ValueError(f"cannot resolve {sorted(leftover)} outside CloudFormation")
        return resolved

    def _create_cognito(self, lid: str, props: dict[str, Any], cfn: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        if "UserPoolId" in props:  # the app client
            client = idp.create_user_pool_client(**props)["UserPoolClient"]
            self.refs[lid] = client["ClientId"]
            self.report.append(f"{lid} (AWS::Cognito::UserPoolClient): created via cognito-idp")
            return
        props = dict(props)  # CloudFormation's property names, minus the one the API renames
        props["PoolName"] = f"{self.stack_name}-{props.pop('UserPoolName', lid)}"
        pool = idp.create_user_pool(**props)["UserPool"]
        self.refs[lid] = pool["Id"]
        self.attrs[(lid, "Arn")] = pool["Arn"]
        self.attrs[(lid, "ProviderURL")] = f"cognito-idp.{self.region}.amazonaws.com/{pool['Id']}"
        self.report.append(f"{lid} (AWS::Cognito::UserPool): created via cognito-idp")

    def _create_secretsmanager(self, lid: str, props: dict[str, Any], cfn: dict[str, Any]) -> None:
        length = int(props.get("GenerateSecretString", {}).get("PasswordLength", 32))
        arn = self.client("secretsmanager").create_secret(
            Name=f"{self.stack_name}-{lid}-{secrets.token_hex(4)}",
            Description=props.get("Description", lid),
            SecretString=secrets.token_urlsafe(length),
        )["ARN"]
        self.refs[lid] = arn
        self.report.append(f"{lid} (AWS::SecretsManager::Secret): created via secretsmanager")

    def _create_s3(self, lid: str, props: dict[str, Any], cfn: dict[str, Any]) -> None:
        self.report.append(f"{lid} (AWS::S3::BucketPolicy): skipped, TLS-only rule is moot on local HTTP")

    def _create_cloudwatch(self, lid: str, props: dict[str, Any], cfn: dict[str, Any]) -> None:
        # Dimension values usually point into the stack: let CloudFormation resolve them.
        outputs = cfn.setdefault("Outputs", {})
        for i, dim in enumerate(props.get("Dimensions", [])):
            if isinstance(dim["Value"], dict):
                outputs[f"LocalAlarm{lid}Dim{i}"] = {"Value": dim["Value"]}
        self.alarms[lid] = props

    def create_alarms(self, outputs: dict[str, str]) -> list[str]:
        cloudwatch = self.client("cloudwatch")
        names = []
        for lid, props in self.alarms.items():
            props = dict(props)
            props["Dimensions"] = [
                {"Name": d["Name"], "Value": outputs.pop(f"LocalAlarm{lid}Dim{i}", d["Value"])}
                for i, d in enumerate(props.get("Dimensions", []))
            ]
            props["AlarmName"] = props.get("AlarmName", f"{self.stack_name}-{lid}")
            cloudwatch.put_metric_alarm(**props)
            names.append(props["AlarmName"])
            self.report.append(f"{lid} (AWS::CloudWatch::Alarm): created via PutMetricAlarm")
        return names


_PLACEHOLDER = "LocalDeferredOutput"


class _BucketSettings:
    """CloudFormation's AWS::S3::Bucket properties in the S3 API's shapes."""

    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def apply(self, what: str, props: dict[str, Any]) -> None:
        getattr(self, "_" + what)(props)

    def _NotificationConfiguration(self, props: dict[str, Any]) -> None:
        unsupported = sorted(set(props) - {"QueueConfigurations"})
        if unsupported:
            raise ValueError(f"bucket {self.bucket}: {', '.join(unsupported)} are not supported locally "
                             "(only S3 -> SQS notifications)")
        queues = []
        for conf in props.get("QueueConfigurations", []):
            entry = {"QueueArn": conf["Queue"], "Events": [conf["Event"]]}
            rules = conf.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
            queues.append(entry)
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": queues})

    def _LifecycleConfiguration(self, props: dict[str, Any]) -> None:
        rules = []
        for rule in props["Rules"]:
            tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters", [])]
            prefix = rule.get("Prefix", "")
            if tags and (prefix or len(tags) > 1):
                selector = {"And": {"Prefix": prefix, "Tags": tags}}
            elif tags:
                selector = {"Tag": tags[0]}
            else:
                selector = {"Prefix": prefix}
            out: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule["Status"], "Filter": selector}
            if "ExpirationInDays" in rule:
                out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
            if "AbortIncompleteMultipartUpload" in rule:
                days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
                out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
            rules.append(out)
        self.s3.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})

    def _CorsConfiguration(self, props: dict[str, Any]) -> None:
        rules = []
        for rule in props["CorsRules"]:
            out = {k: rule[k] for k in ("AllowedMethods", "AllowedOrigins", "AllowedHeaders", "ExposedHeaders")
                   if k in rule}
            if "ExposedHeaders" in out:
                out["ExposeHeaders"] = out.pop("ExposedHeaders")
            if "MaxAge" in rule:
                out["MaxAgeSeconds"] = int(rule["MaxAge"])
            rules.append(out)
        self.s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": rules})

    def _PublicAccessBlockConfiguration(self, props: dict[str, Any]) -> None:
        self.s3.put_public_access_block(Bucket=self.bucket, PublicAccessBlockConfiguration={
            k: bool(v) if not isinstance(v, str) else v == "true" for k, v in props.items()})

    def _OwnershipControls(self, props: dict[str, Any]) -> None:
        self.s3.put_bucket_ownership_controls(Bucket=self.bucket, OwnershipControls={"Rules": props["Rules"]})


# Mapping settings the pollers (infra/runtime/pollers.py) implement; any other one that is set is refused.
_HONOURED = {"UUID", "BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn", "LastModified",
             "LastProcessingResult", "State", "StateTransitionReason", "StartingPosition",
             "BisectBatchOnFunctionError", "DestinationConfig", "FunctionResponseTypes",
             "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "ScalingConfig", "ResponseMetadata"}
_UNSET = (None, "", [], {}, -1, 0)


def _mapping_problems(function: str, mapping: dict[str, Any], function_timeout: int, sqs: Any) -> list[str]:
    where = f"{function} <- {mapping['EventSourceArn'].split(':')[-1]}"
    problems = []
    for name, value in mapping.items():
        if name in _HONOURED or value in _UNSET:
            continue
        if name == "ParallelizationFactor" and value == 1:
            continue
        problems.append(f"{where}: {name}={value!r} is not supported by the local pollers "
                        f"(remove it, or implement it in infra/runtime/pollers.py)")
    if mapping["EventSourceArn"].split(":")[2] == "sqs":
        account, name = mapping["EventSourceArn"].split(":")[4:6]
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        visibility = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"]["VisibilityTimeout"])
        if visibility < function_timeout:
            problems.append(f"{where}: the queue's visibility timeout ({visibility} s) is less than the "
                            f"function's timeout ({function_timeout} s); AWS refuses this mapping")
    return problems


def _zip_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(folder))
    return buf.getvalue()


def upload_artifacts(s3, sam: dict[str, Any]) -> None:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=tpl.ARTIFACT_BUCKET)
    for local_dir in sorted(set(tpl.code_locations(sam).values())):
        s3.put_object(Bucket=tpl.ARTIFACT_BUCKET, Key=tpl.artifact_key(local_dir),
                      Body=_zip_dir(tpl.ROOT / local_dir))


def deploy(stack_name: str = "timeline-local", params: dict[str, str] | None = None, *,
           endpoint_url: str | None = None, region: str = "us-east-1",
           session: boto3.Session | None = None, template_path: Path = tpl.TEMPLATE_PATH) -> Stack:
    """Create the stack on the endpoint (None: whatever boto3 is configured for, e.g. moto's
    in-process mock) and read back everything the local runtime and tests need. Event source
    settings the local pollers cannot honour, and mappings AWS would refuse, raise
    UnsupportedSetting naming each."""
    session = session or boto3.Session(region_name=region)
    sam = tpl.load_sam(template_path)
    params = {**tpl.parameter_defaults(sam), **(params or {})}
    client = lambda name: session.client(name, endpoint_url=endpoint_url, region_name=region)

    upload_artifacts(client("s3"), sam)
    adapter = UnhostedResources(session, endpoint_url, stack_name, params, region)
    cfn = adapter.prepare(tpl.translate(params, region, path=template_path))
    declared = set(sam.get("Parameters", {}))
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items() if k in declared],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    alarms = adapter.create_alarms(outputs)

    physical = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for res in page["StackResourceSummaries"]:
            physical[res["LogicalResourceId"]] = res["PhysicalResourceId"]
    physical.update(adapter.refs)
    adapter.apply_deferred(outputs, physical)

    lam = client("lambda")
    function_ids = [lid for lid, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    by_name = {}
    function_env = {}
    timeouts = {}
    roles = {}
    for lid in function_ids:
        conf = lam.get_function_configuration(FunctionName=physical[lid])
        by_name[conf["FunctionArn"]] = lid
        by_name[conf["FunctionName"]] = lid
        timeouts[lid] = int(conf.get("Timeout", 3))
        roles[lid] = conf["Role"]
        function_env[lid] = {k: str(v) for k, v in conf.get("Environment", {}).get("Variables", {}).items()}

    event_sources = []
    problems: list[str] = []
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        fn = by_name.get(mapping["FunctionArn"]) or by_name.get(mapping["FunctionArn"].split(":")[-1])
        if fn is None:
            continue
        problems += _mapping_problems(fn, mapping, timeouts[fn], client("sqs"))
        # The local runtime's pollers are the only consumers: the emulator's own mapping is
        # switched off. That stops LocalStack's pollers and moto's SQS push (which receives each
        # new message once, so ApproximateReceiveCount runs one ahead and the redrive fires a
        # delivery early); moto's stream push ignores the flag, which infra.runtime.moto_fixes fixes.
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        event_sources.append(EventSource(
            uuid=mapping["UUID"],
            function=fn,
            source_arn=mapping["EventSourceArn"],
            batch_size=int(mapping.get("BatchSize", 10)),
            batching_window=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=mapping.get("StartingPosition"),
            report_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
            bisect_on_error=bool(mapping.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=mapping.get("MaximumRetryAttempts"),
            on_failure_arn=mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
            enabled=mapping.get("State", "Enabled") == "Enabled",
            max_concurrency=(mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        ))
    if problems:
        raise UnsupportedSetting("template.yaml asks for event source settings the local runtime cannot "
                                 "honour, or that AWS would refuse:\n  " + "\n  ".join(problems))
    for line in adapter.report:
        log.info("not in the emulator's CloudFormation: %s", line)
    return Stack(name=stack_name, region=region, endpoint_url=endpoint_url, outputs=outputs,
                 physical_ids=physical, function_env=function_env, event_sources=event_sources,
                 roles=roles, alarms=alarms, unhosted=adapter.report)
