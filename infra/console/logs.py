"""`timeline logs`: a function's output on the local stack, like `sam logs` reads CloudWatch.

`timeline up` (without --verbose) sends each function's worker stderr to
.local/logs/<LogicalId>.log (infra.console.up.LOG_DIR, one file per run). Lines written by powertools'
Logger are JSON; they are shown compactly (time, level, message, correlation id, extra keys),
EMF metric lines as the metrics they carry, anything else (warnings, tracebacks) as is.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from infra.console.defaults import LOG_DIR

# powertools' standard keys: shown in their own places or not at all.
_STANDARD = {"level", "location", "message", "timestamp", "service", "cold_start", "function_name",
             "function_memory_size", "function_arn", "function_request_id", "correlation_id", "xray_trace_id",
             "sampling_rate", "exception", "exception_name", "stack_trace"}
_LEVEL_STYLE = {"DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}
_TIME = re.compile(r"(\d{2}:\d{2}:\d{2})(?:[,.](\d{1,6}))?")


def _clock(timestamp: object) -> str:
    """HH:MM:SS.mmm of powertools' "2026-11-27 05:46:01,123+0000" or of epoch milliseconds."""
    if isinstance(timestamp, (int, float)):
        moment = datetime.fromtimestamp(timestamp / 1000, tz=UTC)
        return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    match = _TIME.search(str(timestamp or ""))
    if not match:
        return " " * 12
    return f"{match.group(1)}.{(match.group(2) or '0')[:3].ljust(3, '0')}"


def _compact(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _metric(name: str, unit: str, value: object) -> str:
    """An EMF value: a number, or a list of them (one per data point), value by value: a count's
    n and sum, any other unit's n, mean, p50, p99 and max (infra.console.live_metrics.describe)."""
    from infra.console.live_metrics import describe

    values = value if isinstance(value, list) else [value]
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return describe(name, unit, [float(v) for v in values])
    return f"{name}={_compact(value)}"


def format_line(line: str) -> Text:
    """One log line for the terminal: a powertools JSON record compactly, an EMF metrics record
    as its metrics, anything else unchanged (dimmed)."""
    line = line.rstrip("\n")
    record = None
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
    if not isinstance(record, dict):
        return Text(line, style="dim")
    if "_aws" in record and "message" not in record:  # an Embedded Metric Format record
        metrics = [(m["Name"], m.get("Unit") or "None") for d in record["_aws"].get("CloudWatchMetrics", [])
                   for m in d.get("Metrics", [])]
        values = " · ".join(_metric(name, unit, record.get(name)) for name, unit in metrics)
        return Text.assemble((_clock(record["_aws"].get("Timestamp")), "dim"), " ", ("METRIC  ", "cyan"),
                             (values or "(no metrics)", "cyan"))
    level = str(record.get("level", "")).upper()
    text = Text.assemble((_clock(record.get("timestamp")), "dim"), " ",
                         (f"{level or '-':<7} ", _LEVEL_STYLE.get(level, "")),
                         _compact(record.get("message", ""), limit=2000))
    if record.get("correlation_id"):
        text.append(f"  correlation_id={record['correlation_id']}", style="magenta")
    extras = {k: v for k, v in record.items() if k not in _STANDARD}
    if extras:
        text.append("  " + " ".join(f"{k}={_compact(v)}" for k, v in extras.items()), style="dim")
    if record.get("exception"):
        text.append("\n" + str(record["exception"]), style="red")
    return text


def resolve_log(function: str, log_dir: Path) -> tuple[str, Path]:
    """(logical id, log file) for `function`: the template's functions, and whatever log files
    the folder holds (fixture functions, renamed ones)."""
    from infra.console.common import resolve_function, template_functions

    code_dirs = template_functions()
    present = [p.stem for p in log_dir.glob("*.log")] if log_dir.is_dir() else []
    logical_id = resolve_function(function, {*code_dirs, *present}, code_dirs)
    return logical_id, log_dir / f"{logical_id}.log"


def tail(path: Path, lines: int | None) -> list[str]:
    if not path.exists():
        return []
    content = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return content if lines is None else content[-lines:] if lines > 0 else []


def follow(path: Path, *, start_at_end: bool = True, poll: float = 0.2,
           stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """New lines of `path` as they are written, like `tail -F`: waits for the file to exist,
    and starts over when it is replaced or truncated (a new `timeline up` run)."""
    handle = None
    inode = None
    buffer = ""
    try:
        while not stop():
            if handle is None:
                if not path.exists():
                    time.sleep(poll)
                    continue
                handle = path.open("r", encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                if start_at_end:
                    handle.seek(0, os.SEEK_END)
                start_at_end = False  # a replacement file is read from its start
            chunk = handle.read()
            if chunk:
                buffer += chunk
                *complete, buffer = buffer.split("\n")
                yield from complete
                continue
            try:
                current = path.stat()
            except FileNotFoundError:
                current = None
            if current is None or current.st_ino != inode or current.st_size < handle.tell():
                handle.close()
                handle, buffer = None, ""
                yield "--- log restarted ---"
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def logs(
    function: Annotated[str, typer.Argument(
        help="Logical id (ApiFunction) or short name (api, fanout-worker, fanout_dispatch, media-processor).")],
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines, like tail -f.")] = False,
    lines: Annotated[int | None, typer.Option("--lines", "-n", help="Only the last N lines (default: all).")]
    = None,
    raw: Annotated[bool, typer.Option("--raw", help="The lines as written, JSON and all.")] = False,
    log_dir: Annotated[Path, typer.Option(help="Where `timeline up` writes the logs (its --log-dir).")] = LOG_DIR,
) -> None:
    """Print a function's log from the running (or last) local stack; -f follows it.

    Powertools JSON lines are shown as *time* LEVEL message, then correlation_id and
    any extra keys; metric lines as their values; other output (warnings, tracebacks) as is.
    --raw prints the file unchanged. Each `timeline up` starts the logs afresh; with
    `timeline up --verbose` they go to that terminal instead.

    **Examples**

        timeline logs api -f
        timeline logs FanoutWorkerFunction -n 50 --raw | grep ERROR
    """
    from rich.console import Console

    logical_id, path = resolve_log(function, log_dir)
    console = Console(highlight=False, soft_wrap=True)
    show = (lambda line: console.out(line, highlight=False)) if raw else (lambda line: console.print(format_line(line)))
    if not path.exists() and not follow_:
        Console(stderr=True).print(f"[yellow]no log for {logical_id} yet[/yellow] ({path}): the stack writes it "
                                   "once the function's workers start (`timeline up`, without --verbose).")
        raise typer.Exit(1)
    for line in tail(path, lines):
        show(line)
    if follow_:
        try:
            for line in follow(path, start_at_end=path.exists()):
                show(line)
        except KeyboardInterrupt:
            pass
