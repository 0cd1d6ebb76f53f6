"""What several `timeline` commands share: where the local stack is, and which function is meant."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import typer
from typer._click.exceptions import ClickException, UsageError
from typer._click.globals import get_current_context

from infra.console.defaults import LOCAL_EMULATOR


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def endpoint(option: str | None) -> str:
    """--endpoint-url, else AWS_ENDPOINT_URL, else the local stack's embedded emulator."""
    return (option or os.environ.get("AWS_ENDPOINT_URL") or LOCAL_EMULATOR).rstrip("/")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_function(name: str, known: Iterable[str], code_dirs: dict[str, str] | None = None) -> str:
    """The logical id `name` means: the id itself (any case), the id without its "Function"
    suffix, or its code folder's name, with or without dashes and underscores (ApiFunction,
    api; FanoutWorkerFunction, FanoutWorker, fanout-worker, fanout_worker), else a part of one
    of those that only one function has (dispatch). Raises typer.BadParameter naming the
    functions there are."""
    known = sorted(known)
    if name in known:
        return name
    wanted = _key(name)

    def short(lid: str) -> str:
        folder = (code_dirs or {}).get(lid)
        return Path(folder).name if folder else lid.removesuffix("Function").lower()

    aliases = {lid: {_key(lid), _key(lid.removesuffix("Function")), _key(short(lid))} for lid in known}
    matches = {lid for lid, keys in aliases.items() if wanted in keys}
    if not matches and wanted:  # a unique part of a name: "dispatch", "media"
        matches = {lid for lid, keys in aliases.items() if any(wanted in key for key in keys)}
    if len(matches) == 1:
        return matches.pop()
    if matches:
        raise typer.BadParameter(f"{name!r} could be {', '.join(sorted(matches))}", param_hint="FUNCTION")
    listed = ", ".join(f"{lid} ({short(lid)})" for lid in known)
    raise typer.BadParameter(f"no function {name!r}; there are {listed or 'none'}", param_hint="FUNCTION")


def template_functions() -> dict[str, str]:
    """Logical id -> code folder (relative to the project) of template.yaml's functions."""
    from infra.runtime import template as tpl

    return {lid: os.path.relpath(spec.code_dir, tpl.ROOT) for lid, spec in tpl.functions(tpl.load_sam()).items()}


def parse_assignment(text: str, option: str | None = None) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise typer.BadParameter(f"expected Name=Value, got {text!r}", param_hint=option)
    return name.strip(), value.strip()


class CommandLineError(ClickException):
    """Something the command line asked for that cannot be done (a busy port, a missing event
    file, an unknown parameter): `timeline` prints it as one line and exits 2, before anything
    starts. (infra.console.app's group prints every click error that way.)"""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ctx = get_current_context(silent=True)  # the command it was raised in, for its name


def one_line(text: str) -> str:
    """`text` on one line: its lines joined, runs of blanks made one."""
    return " ".join(text.split())


def error_line(exc: ClickException) -> str:
    """The one line `timeline` prints for a click error: "timeline invoke: <message>", and for a
    usage error (a bad option or argument), where to read more."""
    ctx = getattr(exc, "ctx", None) or get_current_context(silent=True)
    where = ctx.command_path if ctx is not None else "timeline"
    line = f"{where}: {one_line(exc.format_message())}"
    if isinstance(exc, UsageError) and not isinstance(exc, CommandLineError):
        line += f" (`{where} --help` tells more)"
    return line
