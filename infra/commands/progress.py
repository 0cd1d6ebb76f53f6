"""Rich progress bars for the long jobs: seeding the demo (infra.seed) and the benchmark (bench).

Both jobs report progress through a small object of their own (`infra.seed.Progress.update`,
`bench.runner.Progress.say/every`); these classes speak the same protocol and draw bars on
stderr instead, so the jobs themselves do not know about rich.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


class SeedProgressBar:
    """One bar per seeding phase (sign-up, sign-in, follow, post, ...), with the request rate.

        with SeedProgressBar() as progress:
            seed.seed(api_url, plan, progress=progress, wait_idle=progress.waiting(wait_idle))
    """

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("seeding [bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console or stderr_console(),
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> SeedProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, phase: str, done: int, total: int, started: float, *, force: bool = False) -> None:
        """infra.seed.Progress's protocol: `done` of `total` requests of `phase`, begun at `started`
        (time.monotonic)."""
        if phase not in self._tasks:
            self._tasks[phase] = self.progress.add_task(phase, total=total, rate="")
        rate = done / max(time.monotonic() - started, 1e-6)
        self.progress.update(self._tasks[phase], completed=done, total=total, rate=f"{rate:5.0f} req/s")

    def waiting(self, wait_idle: Callable[[float], bool] | None) -> Callable[[float], bool] | None:
        """`wait_idle` with a spinner while it waits (the fan-out settling after the requests)."""
        if wait_idle is None:
            return None

        def wait(timeout: float) -> bool:
            task = self.progress.add_task("fan-out", total=None, rate="settling")
            try:
                return wait_idle(timeout)
            finally:
                self.progress.update(task, total=1, completed=1)
        return wait


@contextmanager
def bench_progress(console: Console | None = None) -> Iterator[Progress]:
    """While inside, the benchmark (bench.cli.run_benchmark) reports through rich: its step
    lines are printed above the bars, and each counted phase (cost probes, mixed workload) gets
    a bar. bench.runner.Progress is swapped for the duration, since run_benchmark builds its
    own; everything else about the benchmark is unchanged."""
    from bench import runner

    live = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console or stderr_console())
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
