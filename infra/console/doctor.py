"""`timeline doctor`: can `timeline up` run here, and if not, what to do about it."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.console.defaults import API_PORT, EMULATOR_PORT, ROOT, STACK_NAME

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 11)
DISK_FAIL_GB, DISK_WARN_GB = 0.5, 2.0


@dataclass
class Check:
    name: str
    verdict: str  # OK, WARN (works, but look) or FAIL (blocks `timeline up`)
    detail: str
    fix: str = ""


# ------------------------------------------------------------------------------ the checks

def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    shown = ".".join(map(str, version))
    if version[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {shown}")
    return Check("python", FAIL, f"Python {shown}; the project needs 3.11 or newer (the Lambda runtime is 3.11)",
                 "install python3.11, then `make clean && make`")


def check_venv(prefix: str = sys.prefix, base_prefix: str = sys.base_prefix, root: Path = ROOT) -> Check:
    expected = (root / ".venv").resolve()
    if Path(prefix).resolve() == expected:
        return Check("virtualenv", OK, f"{os.path.relpath(expected, Path.cwd())} is in use")
    if prefix != base_prefix:
        return Check("virtualenv", WARN, f"another virtualenv is in use ({prefix})",
                     f"run {expected}/bin/timeline, or `make` to create the project's")
    return Check("virtualenv", WARN, f"no virtualenv: {sys.executable}",
                 "run `make` (it creates .venv), then .venv/bin/timeline")


def pins(pyproject: Path = ROOT / "pyproject.toml", extras: tuple[str, ...] = ("dev",)) -> dict[str, str]:
    """name -> pinned version of every `name==version` in pyproject's dependencies and extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    found = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)", requirement)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _installed(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# What `timeline up` imports besides the runtime set (project.dependencies): the emulator, the
# template translator, the gateway's JWT checks, the demo's HTTP client, and this console.
NEEDED_BY_UP = frozenset({"moto", "aws-sam-translator", "pyjwt", "cryptography", "requests", "typer", "rich",
                          "watchfiles"})


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_packages(pinned: dict[str, str], installed: Callable[[str], str | None] = _installed,
                   needed: frozenset[str] | None = None) -> Check:
    """Every pin installed at its version. A missing package fails when `timeline up` needs it
    (`needed`; default: the runtime set and NEEDED_BY_UP), and only warns otherwise (test and
    benchmark tools)."""
    if needed is None:
        needed = NEEDED_BY_UP | {_canonical(name) for name in pins(extras=())}
    missing = sorted(name for name in pinned if installed(name) is None)
    wrong = sorted(f"{name} {installed(name)} (pinned {version})" for name, version in pinned.items()
                   if name not in missing and installed(name) != version)
    blocking = [name for name in missing if _canonical(name) in needed]
    problems = ([f"missing: {', '.join(missing)}"] if missing else []) + \
        ([f"different: {', '.join(wrong)}"] if wrong else [])
    fix = "run `make` (pip install -e '.[dev]' into .venv)"
    if blocking:
        return Check("packages", FAIL, "; ".join(problems) + f" (`timeline up` needs {', '.join(blocking)})", fix)
    if missing or wrong:
        return Check("packages", WARN, f"{len(pinned) - len(missing) - len(wrong)}/{len(pinned)} as pinned; "
                     + "; ".join(problems), fix)
    return Check("packages", OK, f"all {len(pinned)} pinned packages at their pinned versions")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    from infra.runtime.emulator import _port_free  # the check the emulator makes before it binds

    return _port_free(host, port)


def _get(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """(status, body) of a GET, or None when nothing answers HTTP there."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def listener(port: int) -> str | None:
    """"pid N (command line)" of the process listening on the TCP port, where /proc tells."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"pid {proc.name} ({_command(proc)})"
        except OSError:
            continue
    return None


def _command(proc: Path, limit: int = 60) -> str:
    """The process's command line, the interpreter left out and the script by its name:
    "timeline up --port 3100" rather than "/work/main/.venv/bin/python3.11 .venv/bin/timeline up ..."."""
    args = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
    if len(args) > 1 and Path(args[0]).name.startswith("python"):
        args = args[1:]
    if args:
        args[0] = Path(args[0]).name
    command = " ".join(args)
    return command if len(command) <= limit else command[:limit - 1] + "…"


def check_api_port(port: int) -> Check:
    name = f"port {port} (HTTP API)"
    if port_free(port):
        return Check(name, OK, "free")
    answer = _get(f"http://127.0.0.1:{port}/v1/health")
    who = listener(port)
    if answer and answer[0] == 200 and _json(answer[1]) == {"status": "ok"}:
        return Check(name, WARN, "held by a running local stack (its API answers /v1/health)"
                     + (f": {who}" if who else ""),
                     "use that stack, or stop it (Ctrl-C where it runs) before `timeline up`; "
                     f"or `timeline up --port {port + 1}`")
    return Check(name, FAIL, "in use by another program" + (f": {who}" if who else ""),
                 f"stop it, or start on another port: `timeline up --port {port + 1}`")


def check_emulator_port(port: int, endpoint_url: str | None, stack_name: str) -> list[Check]:
    """The emulator's port and, when something serves there (or AWS_ENDPOINT_URL names an
    emulator), whether it answers like one and holds the stack."""
    name = f"port {port} (AWS emulator)"
    if endpoint_url:
        checks = [Check(name, OK, f"not needed: AWS_ENDPOINT_URL={endpoint_url} (timeline up embeds no moto)")]
        return [*checks, check_emulator(endpoint_url, stack_name, required=True)]
    if port_free(port):
        return [Check(name, OK, "free"), Check("emulator", OK, "not running; `timeline up` starts one")]
    url = f"http://127.0.0.1:{port}"
    who = listener(port)
    moto = _get(url + "/moto-api/")
    if moto and moto[0] == 200:
        emulator, has_stack = _check_emulator(url, stack_name, required=False)
        held = f"held by a running local stack's emulator (moto, stack {stack_name!r})" if has_stack \
            else "held by a moto server"
        return [Check(name, WARN, held + (f": {who}" if who else ""),
                      "use that stack, or stop it before `timeline up`; "
                      f"or `timeline up --emulator-port {port + 1}`"), emulator]
    localstack = _get(url + "/_localstack/health")
    if localstack and localstack[0] == 200:
        return [Check(name, FAIL, "held by LocalStack" + (f": {who}" if who else ""),
                      f"use it: `AWS_ENDPOINT_URL={url} timeline up`; or `timeline up --emulator-port {port + 1}`"),
                check_emulator(url, stack_name, required=False)]
    return [Check(name, FAIL, "in use by another program" + (f": {who}" if who else ""),
                  f"stop it, or `timeline up --emulator-port {port + 1}`")]


def check_emulator(url: str, stack_name: str, *, required: bool) -> Check:
    """Does `url` answer like an AWS emulator, and does it hold `stack_name`?"""
    return _check_emulator(url, stack_name, required=required)[0]


def _check_emulator(url: str, stack_name: str, *, required: bool) -> tuple[Check, bool]:
    answer = _get(url.rstrip("/") + "/moto-api/") or _get(url.rstrip("/") + "/_localstack/health")
    if answer is None:
        return Check("emulator", FAIL if required else WARN, f"nothing answers HTTP at {url}",
                     "start the emulator (LocalStack), or unset AWS_ENDPOINT_URL so `timeline up` embeds moto"), False
    try:
        import boto3
        from botocore.config import Config

        from infra.console.common import region
        cfn = boto3.client("cloudformation", endpoint_url=url, region_name=region(), aws_access_key_id="testing",
                           aws_secret_access_key="testing", aws_session_token="testing",
                           config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))
        stacks = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks().get("Stacks", [])}
    except Exception as exc:
        return Check("emulator", WARN, f"{url} answers HTTP, but not CloudFormation: {type(exc).__name__}: {exc}",
                     "is it an AWS emulator?"), False
    if stack_name in stacks:
        return Check("emulator", OK, f"{url} answers; stack {stack_name!r} is {stacks[stack_name]}"), True
    return Check("emulator", OK, f"{url} answers; no stack {stack_name!r}"
                 + (f" (there: {', '.join(sorted(stacks))})" if stacks else "")), False


def check_disk(path: Path = ROOT, usage: Callable[[Path], Any] = shutil.disk_usage) -> Check:
    free_gb = usage(path).free / 1e9
    detail = f"{free_gb:.1f} GB free on {path}'s disk"
    if free_gb < DISK_FAIL_GB:
        return Check("disk space", FAIL, detail, "free some space: the stack and its workers need ~0.5 GB")
    if free_gb < DISK_WARN_GB:
        return Check("disk space", WARN, detail, "the benchmark's results and `make` want a few GB")
    return Check("disk space", OK, detail)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def run_checks(port: int, emulator_port: int, stack_name: str, endpoint_url: str | None) -> list[Check]:
    return [check_python(), check_venv(), check_packages(pins()), check_api_port(port),
            *check_emulator_port(emulator_port, endpoint_url, stack_name), check_disk()]


# ------------------------------------------------------------------------------ the command

_MARK = {OK: "[green]✔ ok[/green]", WARN: "[yellow]! warn[/yellow]", FAIL: "[red]✘ fail[/red]"}


def doctor(
    port: Annotated[int, typer.Option(help="The HTTP API port `timeline up` will use.")] = API_PORT,
    emulator_port: Annotated[int, typer.Option(help="The emulator port `timeline up` will use.")] = EMULATOR_PORT,
    stack_name: Annotated[str, typer.Option(help="The local stack's name.")] = STACK_NAME,
    endpoint_url: Annotated[str | None, typer.Option(
        envvar="AWS_ENDPOINT_URL", help="An external emulator `timeline up` would use (AWS_ENDPOINT_URL).")]
    = None,
) -> None:
    """Check that this machine can run the local stack, and say what to do if not.

    Python 3.11+, the project's virtualenv, every pinned package at its pinned version, the
    API and emulator ports (free, or held by a local stack that is already running), the
    emulator answering, and disk space. Exits 1 when something blocks `timeline up`.

    **Example**

        timeline doctor
    """
    from rich.console import Console
    from rich.table import Table

    checks = run_checks(port, emulator_port, stack_name, endpoint_url)
    table = Table(show_header=True, header_style="bold")
    for column in ("check", "verdict", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.name, _MARK[check.verdict], check.detail, check.fix)
    console = Console(highlight=False)
    console.print(table)
    failed = [c.name for c in checks if c.verdict == FAIL]
    if failed:
        console.print(f"[red]✘ `timeline up` is blocked by: {', '.join(failed)}[/red]")
        raise typer.Exit(1)
    warned = [c.name for c in checks if c.verdict == WARN]
    console.print("[green]✔ ready for `timeline up`[/green]" + (f" [yellow](see: {', '.join(warned)})[/yellow]"
                                                                 if warned else ""))
