"""`timeline invoke`: `sam local invoke` against the running local stack, without Docker.

The function runs in a worker of its own (infra.runtime.functions.LocalFunctions, one worker), with the
environment the deployed stack gives it (read back from the emulator's Lambda API, as the
deployer does), pointed at the stack's emulator: it reads and writes the stack's real tables
and queues.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.console.common import (
    CommandLineError,
    endpoint,
    parse_assignment,
    region,
    resolve_function,
    template_functions,
)
from infra.console.defaults import STACK_NAME

if TYPE_CHECKING:
    from infra.runtime.deployer import Stack

class StackNotFound(RuntimeError):
    pass


def read_stack(stack_name: str, endpoint_url: str, region_name: str) -> Stack:
    """The deployed stack as infra.runtime.deployer.deploy describes it (outputs, physical ids, each
    function's resolved environment and execution role), read back from the emulator without
    deploying anything. Event source mappings are left out: an invoke needs none."""
    import boto3
    from botocore.config import Config

    from infra.runtime.deployer import Stack

    config = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2})
    session = boto3.Session(region_name=region_name)
    cfn = session.client("cloudformation", endpoint_url=endpoint_url, config=config)
    try:
        described = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except cfn.exceptions.ClientError as exc:
        names = [s["StackName"] for s in cfn.describe_stacks().get("Stacks", [])]
        raise StackNotFound(f"no stack {stack_name!r} at {endpoint_url} (there: {', '.join(names) or 'none'})") \
            from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    physical: dict[str, str] = {}
    types: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for res in page["StackResourceSummaries"]:
            physical[res["LogicalResourceId"]] = res["PhysicalResourceId"]
            types[res["LogicalResourceId"]] = res["ResourceType"]
    lam = session.client("lambda", endpoint_url=endpoint_url, config=config)
    function_env, roles = {}, {}
    for lid, kind in types.items():
        if kind == "AWS::Lambda::Function":
            conf = lam.get_function_configuration(FunctionName=physical[lid])
            function_env[lid] = {k: str(v) for k, v in conf.get("Environment", {}).get("Variables", {}).items()}
            if conf.get("Role"):
                roles[lid] = conf["Role"]
    described_as = {"name": stack_name, "region": region_name, "endpoint_url": endpoint_url, "outputs": outputs,
                    "physical_ids": physical, "function_env": function_env, "event_sources": [], "roles": roles}
    known = {f.name for f in dataclasses.fields(Stack)}  # what this version of the deployer describes
    return Stack(**{k: v for k, v in described_as.items() if k in known})


def read_event(source: str | None) -> dict:
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise typer.BadParameter(f"no event file {source} (samples: events/)", param_hint="--event") from None
    except IsADirectoryError:
        raise typer.BadParameter(f"{source} is a folder, not an event file (samples: events/)",
                                 param_hint="--event") from None
    except PermissionError:
        raise typer.BadParameter(f"{source} cannot be read (permission denied)", param_hint="--event") from None
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(f"{source} is not UTF-8 text: {exc.reason} at byte {exc.start}",
                                 param_hint="--event") from None
    except OSError as exc:
        raise typer.BadParameter(f"{source} cannot be read: {exc.strerror or exc}", param_hint="--event") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{source} is not JSON: {exc}", param_hint="--event") from None
    if not isinstance(event, dict):
        raise typer.BadParameter(f"{source}: an event is a JSON object", param_hint="--event")
    return event


def invoke(
    function: Annotated[str, typer.Argument(
        help="Logical id (ApiFunction) or short name (api, fanout-worker, fanout_dispatch, media-processor).")],
    event: Annotated[str | None, typer.Option(
        "--event", "-e", help="Event JSON file, '-' for stdin (default: {}). Samples: events/.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        help="The stack's emulator (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566).")] = None,
    stack_name: Annotated[str, typer.Option(help="The stack's name on the emulator.")] = STACK_NAME,
    env: Annotated[list[str] | None, typer.Option(
        "--env", metavar="Name=Value", help="Override a variable of the function's environment, repeatable.")]
    = None,
    logs: Annotated[bool, typer.Option("--logs/--no-logs", help="Print the function's output (stderr).")] = True,
) -> None:
    """Invoke one function once, like **sam local invoke**, against the running local stack.

    The handler runs in a fresh worker with the environment template.yaml gives it in the
    deployed stack (tables, queues, parameters), talking to the stack's emulator. The result
    is printed as JSON on stdout, the function's log lines and a REPORT line on stderr. A
    handler error prints Lambda's error payload (errorType, errorMessage, stackTrace) and
    exits 1.

    **Examples**

        timeline invoke api -e events/api_health.json
        timeline invoke FanoutDispatchFunction -e events/fanout_dispatch_insert.json
        timeline invoke fanout-worker -e events/fanout_worker.json --no-logs | jq .
    """
    from infra.console.logs import format_line
    from infra.console.progress import stderr_console
    from infra.runtime import template as tpl
    from infra.runtime.emulator import use_fake_credentials
    from infra.runtime.functions import FunctionError, Invocation, LocalFunctions

    err = stderr_console()
    code_dirs = template_functions()
    logical_id = resolve_function(function, code_dirs, code_dirs)
    payload = read_event(event)
    extra_env = dict(parse_assignment(e, "--env") for e in env or [])
    emulator, region_name = endpoint(endpoint_url), region()
    use_fake_credentials(region_name)
    try:
        stack = read_stack(stack_name, emulator, region_name)
    except StackNotFound as exc:
        raise CommandLineError(f"{exc}: start the stack with `timeline up`, or pass --stack-name") from None
    except Exception as exc:  # connection refused, timeouts: no emulator there
        raise CommandLineError(f"no AWS emulator answering at {emulator} ({type(exc).__name__}: {exc}): start the "
                               "stack with `timeline up`, or pass --endpoint-url") from None

    spec = tpl.functions(tpl.load_sam())[logical_id]
    seen: list[Invocation] = []
    error: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="timeline-invoke-") as log_dir:
        with LocalFunctions.start(stack, endpoint_url=emulator, concurrency=1, specs={logical_id: spec},
                                  extra_env=extra_env, log_dir=Path(log_dir)) as functions:
            functions.add_observer(seen.append)
            try:
                result = functions.invoke(logical_id, payload)
            except FunctionError as exc:
                error = {"errorType": exc.error_type, "errorMessage": exc.error_message, "stackTrace": exc.stack}
        log_file = Path(log_dir) / f"{logical_id}.log"
        output = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    if logs:
        for line in output.splitlines():
            err.print(format_line(line), soft_wrap=True)
        duration = seen[-1].duration_ms if seen and seen[-1].duration_ms is not None else None
        err.print(f"[dim]REPORT {logical_id} ({stack.physical_ids.get(logical_id, '?')})"
                  + (f" Duration: {duration:.2f} ms" if duration is not None else "")
                  + f" Memory Size: {spec.memory} MB[/dim]", soft_wrap=True)
    if error is not None:
        typer.echo(json.dumps(error, indent=2))
        raise typer.Exit(1)
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
