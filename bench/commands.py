"""`timeline bench`, `timeline soak` and `timeline capacity`: the benchmark, the soak and the
capacity model as commands of the `timeline` console.

The console (infra/console/app.py) finds them through `register(app)`, imported by name at
run time: infra never imports bench (import-linter's contracts, pyproject.toml), and bench
owns its own commands, their progress bars included. Heavy imports stay inside the commands,
so `timeline --help` stays instant."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

from bench.cli import RESULTS

PANEL = "Benchmark and model"


def _profile(name: str) -> str:
    from bench.profiles import PROFILES

    if name not in PROFILES:
        raise typer.BadParameter(f"unknown profile {name!r}; have {', '.join(PROFILES)}")
    return name


def bench(
    ctx: typer.Context,
    profile: Annotated[str, typer.Option("--profile", "-p", callback=_profile,
                                         help="tiny (seconds), quick (make bench, ~3 min) or full (~15 min).")]
    = "quick",
    out: Annotated[Path, typer.Option(help="Results folder.")] = RESULTS,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG plots.")] = True,
) -> None:
    """Push, pull and hybrid fan-out side by side on the local stack: **what `make bench` does**.

    Deploys one stack per strategy on an embedded emulator of its own (it does not touch a
    running `timeline up`), replays the same graph and operation log on each, and writes
    bench/results/latest.json, PNG plots and capacity-twitter-2013.txt; the summary table
    goes to stdout, progress bars to stderr. Options it does not know are passed on to
    `python -m bench run`.

    **Examples**

        timeline bench
        timeline bench --profile full --out /tmp/bench --no-plots
    """
    from bench.cli import main

    argv = ["run", "--profile", profile, "--out", str(out), *([] if plots else ["--no-plots"]), *ctx.args]
    with bench_progress():
        code = main(argv)
    raise typer.Exit(code or 0)


def soak(
    profile: Annotated[str, typer.Option("--profile", "-p", help="long (make soak, 10 min) or short (~40 s).")]
    = "long",
    seed: Annotated[int, typer.Option(help="Replays a run's choices and fault schedule.")] = 24,
    duration: Annotated[float | None, typer.Option(help="Seconds of load (default: the profile's).")] = None,
    out: Annotated[Path, typer.Option(help="Results folder (soak.json).")] = RESULTS,
) -> None:
    """The chaos soak: **what `make soak` does**.

    The whole local stack (its own embedded emulator; a running `timeline up` is not touched)
    under a Twitter-shaped load while function workers are killed, DynamoDB throttles and
    conflicts, batches come twice and pollers restart; then every home timeline, post and
    counter is checked against what was acknowledged. Writes bench/results/soak.json; exits
    non-zero on any loss, duplicate, mismatch, or a fault kind under its minimum.

    **Examples**

        timeline soak
        timeline soak --profile short --seed 7
    """
    from bench.soak.run import main

    argv = ["--profile", profile, "--seed", str(seed), "--out", str(out),
            *(["--duration", str(duration)] if duration else [])]
    raise typer.Exit(main(argv))


# ------------------------------------------------------------------------------ capacity

def _fmt(value: float) -> str:  # as bench.model.capacity_report writes numbers
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def capacity_tables(preset: Any, scale: dict, sizes_source: str, *, overridden: bool = False) -> list[Any]:
    """bench.model.projection's result as rich renderables: the same figures as
    bench.model.capacity_report, one table per strategy comparison and one of the savings."""
    from rich.table import Table
    from rich.text import Text

    from bench.model import cost_per_million_ops
    from bench.prices import AS_OF, ON_DEMAND_US_EAST_1

    strategies, per_op, projected = scale["thresholds"], scale["_per_op"], scale["projected"]
    names = list(strategies)
    heading = Text.from_markup(
        f"[bold]{preset.name}[/bold]{' with your figures' if overridden else ''}: {preset.users:,} users, "
        f"{preset.posts_per_s:,.0f} posts/s, {preset.home_reads_per_s:,.0f} home reads/s"
        + (f" [dim]({preset.source})[/dim]" if preset.source and not overridden else "")
        + f"\nprices: AWS on-demand us-east-1 as of {AS_OF}; item sizes: {sizes_source}"
        + f"\nhybrid threshold (threshold_rule): [bold]{strategies['hybrid']:,}[/bold] followers")

    table = Table(title="push, pull and hybrid fan-out at this scale", title_justify="left")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right", style="bold" if name == "hybrid" else None)

    def row(label: str, value) -> None:
        table.add_row(label, *(value(n) for n in names))

    row("CelebrityThreshold", lambda n: f"{strategies[n]:,}")
    row("write units / post", lambda n: _fmt(per_op[n]["post"].write_units))
    row("read units / home read", lambda n: _fmt(per_op[n]["home_read"].read_units))
    row("cost per million ops (USD)", lambda n: _fmt(cost_per_million_ops(per_op[n], ON_DEMAND_US_EAST_1)))
    table.add_section()
    for key in projected[names[0]]["rates"]:
        row(key.replace("_", " "), lambda n, k=key: _fmt(projected[n]["rates"][k]))
    table.add_section()
    row("storage GB", lambda n: _fmt(projected[n]["storage_gb"]["total"]))
    table.add_section()
    for key in projected[names[0]]["monthly_usd"]:
        row(f"USD/month {key.replace('_', ' ')}", lambda n, k=key: _fmt(projected[n]["monthly_usd"][k]))
    row("USD/month total, provisioned", lambda n: _fmt(projected[n]["monthly_usd_provisioned"]["total"]))

    savings = Table(title="cutting the hybrid's bill (USD/month)", title_justify="left")
    for column, justify in (("option", "left"), ("before", "right"), ("after", "right"), ("saving", "right"),
                            ("assumption", "left")):
        savings.add_column(column, justify=justify)  # type: ignore[arg-type]
    for option in scale["cut_the_bill"]:
        savings.add_row(option["option"], _fmt(option["monthly_usd_before"]), _fmt(option["monthly_usd_after"]),
                        f"{option['saving_pct']:.1f}%", option["assumption"])
    return [heading, table, savings]


def capacity(
    preset: Annotated[str, typer.Option(help="Scale preset (bench.model.SCALE_PRESETS).")] = "twitter-2013",
    users: Annotated[int | None, typer.Option(help="Active users (default: the preset's).")] = None,
    posts_per_s: Annotated[float | None, typer.Option(help="Posts per second (default: the preset's).")] = None,
    reads_per_s: Annotated[float | None, typer.Option(
        help="Home-timeline reads per second (default: the preset's).")] = None,
    results: Annotated[Path | None, typer.Option(
        help="A benchmark results JSON (bench/results/latest.json) whose measured item sizes replace the "
             "model's defaults.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Plain text, exactly as `python -m bench capacity` prints it.")]
    = False,
) -> None:
    """The capacity and cost model: push, pull and hybrid fan-out projected to a target scale.

    Per-operation DynamoDB, SQS, Lambda and API Gateway counts from the model (bench/model.py)
    on the preset's follower distribution, times the posting and reading rates: units and
    requests per second, storage, the monthly bill on demand and provisioned, and what would
    cut it. Prices are bench/prices.py's. Takes a second; nothing runs.

    **Examples**

        timeline capacity                                  # Twitter 2013: 150M users, 6K posts/s, 300K reads/s
        timeline capacity --users 2000000 --posts-per-s 50 --reads-per-s 2500
        timeline capacity --results bench/results/latest.json
    """
    from dataclasses import replace

    from bench import model

    if preset not in model.SCALE_PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; have {', '.join(sorted(model.SCALE_PRESETS))}",
                                 param_hint="--preset")
    if plain:
        argv = ["--preset", preset]
        for flag, value in (("--users", users), ("--posts-per-s", posts_per_s), ("--reads-per-s", reads_per_s),
                            ("--results", results)):
            if value is not None:
                argv += [flag, str(value)]
        raise typer.Exit(model.capacity_main(argv) or 0)

    from rich.console import Console

    scale_preset = model.SCALE_PRESETS[preset]
    scale_preset = replace(scale_preset, users=users or scale_preset.users,
                           posts_per_s=posts_per_s or scale_preset.posts_per_s,
                           home_reads_per_s=reads_per_s or scale_preset.home_reads_per_s)
    sizes, measured = model.measured_sizes({})
    source = "model defaults"
    if results is not None:
        sizes, measured = model._sizes_from_results(results)
        if measured:
            source = f"measured ({', '.join(measured)}) from {results}"
    console = Console(highlight=False)
    with Console(stderr=True).status("projecting ..."):
        scale = model.projection(scale_preset, sizes)
    overridden = any(v is not None for v in (users, posts_per_s, reads_per_s))
    for part in capacity_tables(scale_preset, scale, source, overridden=overridden):
        console.print(part)
        console.print()


# ------------------------------------------------------------------------------ progress

@contextmanager
def bench_progress(console: Console | None = None) -> Iterator[Progress]:
    """While inside, the benchmark (bench.cli.run_benchmark) reports through rich: its step
    lines are printed above the bars, and each counted phase (cost probes, mixed workload) gets
    a bar. bench.runner.Progress is swapped for the duration, since run_benchmark builds its
    own; everything else about the benchmark is unchanged."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bench import runner

    live = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console or Console(stderr=True, highlight=False))
    original = runner.Progress

    class RichBenchProgress(original):  # type: ignore[misc,valid-type]
        def say(self, message: str) -> None:
            live.console.print(f"[dim]bench {time.perf_counter() - self.started:6.1f}s[/] {escape(message)}",
                               soft_wrap=True)

        def every(self, total: int, label: str) -> Callable[[int], None]:
            task = live.add_task(label, total=total)

            def tick(done: int) -> None:
                live.update(task, completed=done)
                if done >= total:
                    live.update(task, visible=False)
                    self.say(f"  {label}: {done}/{total} done")
            return tick

    runner.Progress = RichBenchProgress
    try:
        with live:
            yield live
    finally:
        runner.Progress = original


def register(app: typer.Typer) -> None:
    """Add the commands to the `timeline` console."""
    app.command("bench", rich_help_panel=PANEL,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench)
    app.command("soak", rich_help_panel=PANEL)(soak)
    app.command("capacity", rich_help_panel=PANEL)(capacity)
