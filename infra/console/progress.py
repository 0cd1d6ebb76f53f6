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


class DemoProgress:
    """`timeline up`'s background demo, from the banner to "demo fully readable": what it is
    doing and how far the pipeline has got, as a rich progress line on a terminal, else as a
    line (through `out`) whenever the step changes and every `every` seconds while it moves:

        demo: fanning out 1,620 posts: 1,200/3,000 records through the pipeline

    `measure()` answers (step, done, total), total 0 when unknown; it is asked every `poll`
    seconds on a thread of its own until `close()`. A measurement that fails is skipped."""

    def __init__(self, measure: Callable[[], tuple[str, int, int]], out: Callable[[str], None], *,
                 tty: bool, every: float = 5.0, poll: float = 0.5, console: Console | None = None):
        import threading

        self.measure, self.out, self.tty, self.every, self.poll = measure, out, tty, every, poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-progress", daemon=True)
        self._console = console
        self._said: tuple[str, int, int] | None = None
        self._said_at = 0.0

    @staticmethod
    def line(step: str, done: int, total: int) -> str:
        return f"demo: {step}" + (f": {done:,}/{total:,} records through the pipeline" if total else "")

    def start(self) -> DemoProgress:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _sample(self) -> tuple[str, int, int] | None:
        try:
            return self.measure()
        except Exception:  # a progress line is never worth failing for
            return None

    def _run(self) -> None:
        if self.tty:
            self._run_bar()
            return
        while not self._stop.is_set():
            sample = self._sample()
            if sample is not None:
                now = time.monotonic()
                changed_step = self._said is None or sample[0] != self._said[0]
                moved = self._said is not None and sample != self._said and now - self._said_at >= self.every
                if changed_step or moved:
                    self.out(self.line(*sample))
                    self._said, self._said_at = sample, now
            self._stop.wait(self.poll)

    def _run_bar(self) -> None:
        progress = Progress(SpinnerColumn(), TextColumn("demo: {task.description}"), BarColumn(bar_width=20),
                            MofNCompleteColumn(), TextColumn("records"), TimeElapsedColumn(),
                            console=self._console or stderr_console(), transient=True)
        task = progress.add_task("starting", total=None)
        with progress:
            while not self._stop.is_set():
                sample = self._sample()
                if sample is not None:
                    step, done, total = sample
                    progress.update(task, description=step, completed=done, total=total or None)
                self._stop.wait(self.poll)
