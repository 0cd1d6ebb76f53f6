"""template.yaml, read once: the SAM source, its CloudFormation translation, and what
the local runtime needs to know about functions, routes and event sources.

Nothing here talks to AWS. The translation is done offline by aws-sam-translator,
exactly as `sam deploy` would, so the local stack is built from the same
CloudFormation the cloud gets.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

# Local code locations are swapped for this bucket before translating (SAM needs S3 URIs);
# the deployer uploads the zipped folders there.
ARTIFACT_BUCKET = "timeline-local-artifacts"


class UnsupportedSetting(ValueError):
    """The template asks for something the local runtime would otherwise silently ignore, or
    that AWS itself would refuse at deploy time."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /v1/users/{handle}
    function: str  # logical id of the function serving it
    authorized: bool
    event_name: str
    scopes: tuple[str, ...] = ()  # Auth.AuthorizationScopes: the token must carry one of them


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.function, relative to code_dir
    timeout: int
    memory: int
    environment: dict[str, Any] = field(default_factory=dict)  # unresolved intrinsics


def load_sam(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml_parse(path.read_text())


def code_locations(sam: dict[str, Any]) -> dict[str, str]:
    """Logical id -> local folder for every function and layer with local code."""
    found = {}
    for logical_id, res in sam.get("Resources", {}).items():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            uri = props.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                found[logical_id] = uri
    return found


def artifact_key(local_dir: str) -> str:
    return local_dir.strip("/").replace("/", "-") + ".zip"


@functools.lru_cache(maxsize=8)
def _translate_cached(path: str, params: tuple[tuple[str, str], ...], region: str) -> dict[str, Any]:
    sam = load_sam(Path(path))
    for logical_id, local_dir in code_locations(sam).items():
        props = sam["Resources"][logical_id]["Properties"]
        key = "CodeUri" if "CodeUri" in props else "ContentUri"
        props[key] = f"s3://{ARTIFACT_BUCKET}/{artifact_key(local_dir)}"
    # A session with only a region: SAM needs the region for ARNs, never credentials.
    # Managed policies are named by ARN in the template, so the policy map stays empty.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    try:
        return translator.translate(sam, parameter_values=dict(params),
                                    get_managed_policy_map=lambda: {})
    except InvalidDocumentException as exc:  # pragma: no cover - the linter catches these first
        messages = "; ".join(str(cause) for cause in exc.causes)
        raise ValueError(f"template.yaml does not translate: {messages}") from exc


def translate(params: dict[str, str] | None = None, region: str = "us-east-1",
              path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The CloudFormation the SAM transform produces (a fresh copy each call)."""
    key = tuple(sorted((params or {}).items()))
    return copy.deepcopy(_translate_cached(str(path), key, region))


def parameter_defaults(sam: dict[str, Any]) -> dict[str, str]:
    return {name: str(p["Default"]) for name, p in sam.get("Parameters", {}).items() if "Default" in p}


def functions(sam: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function with Globals applied (environment left unresolved)."""
    glob = sam.get("Globals", {}).get("Function", {})
    out = {}
    for logical_id, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        env = dict(glob.get("Environment", {}).get("Variables", {}))
        env.update(props.get("Environment", {}).get("Variables", {}))
        out[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / props.get("CodeUri", glob.get("CodeUri", "")),
            handler=props.get("Handler", glob.get("Handler")),
            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
            memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            environment=env,
        )
    return out


def routes(sam: dict[str, Any]) -> list[Route]:
    """Every HttpApi event in the template, with whether the JWT authorizer guards it."""
    found = []
    for logical_id, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in res["Properties"].get("Events", {}).items():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = props.get("Auth", {}).get("Authorizer")
            found.append(Route(
                method=props["Method"].upper(),
                path=props["Path"],
                function=logical_id,
                authorized=authorizer != "NONE",
                event_name=event_name,
                scopes=tuple(props.get("Auth", {}).get("AuthorizationScopes") or ()),
            ))
    return found
