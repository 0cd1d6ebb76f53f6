"""`timeline`: one command for working on the service locally (installed by `make` into .venv/bin).

    timeline up                                    make run: the local stack, demo data, code reload
    timeline seed                                  demo data into a running stack
    timeline invoke api -e events/api_health.json  sam local invoke, against the running stack
    timeline logs api -f                           a function's log, followed
    timeline metrics --watch                       posts/s, fan-out lag, DLQs, from the logs
    timeline redrive --local                       dead-lettered messages back to their queue
    timeline bench                                 make bench: push, pull and hybrid side by side
    timeline soak                                  make soak: 10 minutes of load under faults, checked
    timeline capacity                              the capacity and cost model at Twitter's scale
    timeline doctor                                can this machine run the stack?

Each command's module keeps its heavy imports inside the command, so `--help` is instant.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.exceptions import ClickException  # typer's own click (typer >= 0.24 vendors it)
from typer.core import TyperGroup
from typer.exceptions import Abort

from infra.console import doctor, invoke, logs, metrics, stack
from infra.console.common import error_line


class _OneLineErrors(TyperGroup):
    """Every error a user can cause from the command line (a bad option, a missing file, a busy
    port: click's errors, infra.console.common.CommandLineError among them) is one line on stderr,
    "timeline invoke: ...", and its exit code (2: the command line), never a box or a traceback."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as exc:
            if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                typer.echo(error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="timeline",
    cls=_OneLineErrors,
    help="Work on the serverless home-timeline service locally: run the stack (no Docker), load demo "
         "data, invoke a function, read its logs, benchmark, model the bill, check the machine.\n\n"
         "Start with **timeline up** (what `make run` does); **timeline COMMAND --help** "
         "tells more.",
    epilog="Examples: timeline up --no-demo · timeline invoke api -e events/api_health.json · "
           "timeline logs api -f · timeline doctor",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_LOCAL = "Local stack"
app.command("up", rich_help_panel=_LOCAL)(stack.up)
app.command("seed", rich_help_panel=_LOCAL)(stack.seed)
app.command("invoke", rich_help_panel=_LOCAL)(invoke.invoke)
app.command("logs", rich_help_panel=_LOCAL)(logs.logs)
app.command("metrics", rich_help_panel=_LOCAL)(metrics.metrics)
app.command("redrive", rich_help_panel=_LOCAL)(stack.redrive)
app.command("doctor", rich_help_panel=_LOCAL)(doctor.doctor)

# The benchmark's commands (bench, soak, capacity) are bench's own: found by name, so that infra
# never imports bench (import-linter's contracts in pyproject.toml). A checkout without bench/
# still has the local stack's commands.
TOOLS = ("bench.commands",)
for _tool in TOOLS:
    try:
        _module = importlib.import_module(_tool)
    except ModuleNotFoundError as _missing:
        if _missing.name != _tool.partition(".")[0]:
            raise
    else:
        _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
