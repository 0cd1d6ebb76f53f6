"""Rich progress bars for seeding the demo (infra.console.seed): the job reports through a small
object of its own (`infra.console.seed.Progress.update`); SeedProgressBar speaks the same protocol
and draws bars on stderr instead, so the job itself does not know about rich. (The benchmark's
bars are bench/commands.py's.)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


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
        """infra.console.seed.Progress's protocol: `done` of `total` requests of `phase`, begun at `started`
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
