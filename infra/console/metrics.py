"""`timeline metrics`: the local stack's metrics, as the CloudWatch dashboard would show them.

Read from the EMF lines the functions write to their log files (`timeline up`, without
--verbose, in .local/logs/ or its --log-dir) over a sliding window, and the depth of the
stack's dead-letter queues, asked of its emulator (infra.console.live_metrics does the counting;
`timeline up` prints the same figures as one line while they change).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.console.common import endpoint, region
from infra.console.defaults import LOG_DIR, STACK_NAME

# ------------------------------------------------------------------------------ the boundary

def find_queues(endpoint_url: str, stack_name: str) -> dict[str, str] | None:
    """The stack's dead-letter queue URLs by label (fanout, media, dispatch), read from its
    emulator with the local stack's fake credentials; None when there is no such stack there."""
    import boto3
    from botocore.config import Config

    from infra.console.live_metrics import stack_dead_letter_queues
    from infra.runtime.emulator import use_fake_credentials

    use_fake_credentials(region())
    config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1})

    class Quick:  # a session whose clients give up quickly: nothing there is an answer too
        def client(self, name: str, **kwargs: Any) -> Any:
            return boto3.Session(region_name=region()).client(name, config=config, **kwargs)

    try:
        return stack_dead_letter_queues(Quick(), stack_name, endpoint_url)
    except Exception:
        return None


def sqs_client(endpoint_url: str) -> Any:
    """An SQS client on the stack's emulator (infra.console.live_metrics.queue_depths asks it)."""
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", endpoint_url=endpoint_url, region_name=region(),
                        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}))


# ------------------------------------------------------------------------------ the table

def _rate(count: int, per_s: float) -> str:
    return f"{count:,}  ({per_s:.1f}/s)" if per_s < 10 else f"{count:,}  ({per_s:,.0f}/s)"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def _span(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g} min"


def metrics_table(snap: Mapping[str, Any], log_dir: Path, stack: str | None) -> Any:
    """A snapshot (infra.console.live_metrics.snapshot) as a rich table: one row per figure. `stack`
    names the stack whose queues were counted; None: it was not found."""
    from rich.markup import escape
    from rich.table import Table

    lag = snap["lag_ms"]
    merges = snap["merges_per_read"]
    table = Table(title=escape(f"metrics over the last {_span(snap['window_s'])}"
                               + (f" · stack {stack}" if stack else "") + f" · {log_dir}"),
                  title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("from", style="dim")
    table.add_row("posts created", _rate(snap["posts"], snap["posts_per_s"]), "PostsCreated (the API's posts)")
    # The demo writes its posts as rows, not through the API: the stream still brings each one
    # to dispatch, so they are counted here, apart from the API's (reposts too).
    table.add_row("posts dispatched", _rate(snap.get("posts_dispatched", 0), snap.get("posts_dispatched_per_s", 0.0)),
                  "PostsDispatched (the demo's too)")
    table.add_row("timeline entries written", _rate(snap["entries"], snap["entries_per_s"]),
                  "TimelineEntriesWritten")
    table.add_row("fan-out lag p50", _ms(lag["p50"]), "FanoutLag")
    table.add_row("fan-out lag p99", _ms(lag["p99"]), "FanoutLag")
    table.add_row("fan-out lag max", _ms(lag["max"]), f"FanoutLag ({lag['count']:,} samples)")
    table.add_row("home reads", f"{snap['reads']:,}", "CelebrityMerges samples")
    table.add_row("celebrity merges per read", "–" if merges is None else f"{merges:.2f}", "CelebrityMerges")
    table.add_row("partial reads", f"{snap['partial_reads']:,}", "PartialReads")
    errors = snap.get("internal_errors") or 0
    table.add_row("internal errors (5xx)", f"[red]{errors:,}[/red]" if errors else "0", "InternalErrors")
    table.add_section()
    if not snap["dlq"]:
        table.add_row("dead-letter queues", "?" if stack is None else "–",
                      "stack not found: logs only" if stack is None else "the stack has none")
    for label, depth in snap["dlq"].items():
        value = "?" if depth is None else f"[red]{depth:,}[/red]" if depth else "0"
        table.add_row(f"DLQ {label}", value, "ApproximateNumberOfMessages")
    return table


def statistics_lines(snap: Mapping[str, Any]) -> list[str]:
    """Every metric of the window value by value (infra.console.live_metrics.describe's form,
    from the snapshot's statistics): `FanoutLag ms: n=10 mean=… p50=… p99=… max=…`."""
    from infra.console.live_metrics import describe_statistics

    return [describe_statistics(name, stats) for name, stats in (snap.get("metrics") or {}).items()]


# ------------------------------------------------------------------------------ the command

def metrics(
    window: Annotated[float, typer.Option(min=1, help="Seconds of log to count (the sliding window).")] = 60.0,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh every --interval seconds until Ctrl-C.")]
    = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes with --watch.")] = 5.0,
    log_dir: Annotated[Path, typer.Option(help="Where `timeline up` writes the function logs.")] = LOG_DIR,
    endpoint_url: Annotated[str | None, typer.Option(
        help="The stack's emulator, for its dead-letter queues (default: AWS_ENDPOINT_URL, else "
             "http://127.0.0.1:4566).")] = None,
    stack_name: Annotated[str, typer.Option(help="The stack whose dead-letter queues are counted.")] = STACK_NAME,
    as_json: Annotated[bool, typer.Option("--json", help="The snapshot as JSON, for scripts.")] = False,
) -> None:
    """The local stack's metrics from its logs and queues: posts/s, fan-out lag, DLQs.

    Posts and timeline entries per second, fan-out lag percentiles, celebrity merges per home
    read, partial reads and 5xx, counted from the EMF lines in the function logs over the last
    --window seconds (what the CloudWatch dashboard of template.yaml shows on AWS), and the
    DLQ depths from the stack's emulator. `timeline up` prints the same figures as one line
    while they change.

    **Examples**

        timeline metrics
        timeline metrics --window 300 --watch
        timeline metrics --log-dir /tmp/stack-b/logs --endpoint-url http://127.0.0.1:4567 --json
    """
    from rich.console import Console, Group
    from rich.text import Text

    from infra.console.live_metrics import render, snapshot

    console, err = Console(highlight=False), Console(stderr=True, highlight=False)
    emulator = endpoint(endpoint_url)
    queues = find_queues(emulator, stack_name)
    if queues is None:
        err.print(f"[yellow]no stack {stack_name!r} at {emulator}[/yellow]: dead-letter queues not counted.")
        if not log_dir.is_dir() and not watch:
            err.print(f"[red]no function logs in {log_dir} either[/red]: start the stack with "
                      "[bold]timeline up[/bold] (without --verbose), or pass --log-dir.")
            raise typer.Exit(1)
    sqs = sqs_client(emulator) if queues else None

    def take() -> dict[str, Any]:
        return snapshot(log_dir, queues or {}, window, sqs=sqs)

    def table(snap: dict[str, Any]) -> Any:
        return metrics_table(snap, log_dir, stack_name if queues is not None else None)

    def stats(snap: dict[str, Any]) -> Text:
        lines = statistics_lines(snap)
        return Text("\n".join(["every metric, value by value:", *(f"  {line}" for line in lines)])
                    if lines else "no metric in the window", style="dim")

    def view(snap: dict[str, Any]) -> Any:
        return Group(table(snap), stats(snap), Text(render(snap), style="dim"))

    if as_json:  # one document; with --watch, one line per refresh
        try:
            while True:
                snap = take()
                console.out(json.dumps(snap, sort_keys=True, indent=None if watch else 2), highlight=False)
                if not watch:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            return
    if not watch:
        snap = take()
        console.print(table(snap))
        console.print(stats(snap), soft_wrap=True)
        console.print(Text(render(snap), style="dim"), soft_wrap=True)  # whole, for grep
        return

    from rich.live import Live

    try:
        with Live(view(take()), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(view(take()), refresh=True)
    except KeyboardInterrupt:
        pass
