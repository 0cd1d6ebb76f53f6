"""The demo's background load shown as progress (infra.console.progress.DemoProgress), from the
banner to "demo fully readable" (issue 26, "the first hour"): plain lines when the output is not
a terminal, a rich progress line when it is."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from infra.console.progress import DemoProgress


class Steps:
    """A measure() that walks through the given samples, one per call, then repeats the last."""

    def __init__(self, *samples: tuple[str, int, int]):
        self.samples, self.calls = list(samples), 0
        self.done = threading.Event()

    def __call__(self) -> tuple[str, int, int]:
        sample = self.samples[min(self.calls, len(self.samples) - 1)]
        self.calls += 1
        if self.calls >= len(self.samples):
            self.done.set()
        return sample


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_given_no_terminal_then_a_line_at_each_new_step_and_while_it_moves_with_the_counts():
    """Given plain output, When the load goes from syncing to fanning out, Then a line says each
    step with its counts (thousands separated), and nothing repeats while nothing moves."""
    lines: list[str] = []
    measure = Steps(("the pipeline is syncing 1,420 follows", 0, 900), ("the pipeline is syncing 1,420 follows", 0, 900),
                    ("fanning out 1,620 posts", 1200, 3000), ("fanning out 1,620 posts", 1200, 3000))
    progress = DemoProgress(measure, lines.append, tty=False, every=0.0, poll=0.01).start()
    _until(measure.done.is_set)
    progress.close()
    assert lines == ["demo: the pipeline is syncing 1,420 follows: 0/900 records through the pipeline",
                     "demo: fanning out 1,620 posts: 1,200/3,000 records through the pipeline"]


def test_given_no_counts_then_the_line_says_the_step_alone_and_a_failing_measure_is_skipped():
    lines: list[str] = []
    calls = []

    def measure():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the emulator is busy")
        return "fanning out 80 posts", 0, 0

    progress = DemoProgress(measure, lines.append, tty=False, poll=0.01).start()
    _until(lambda: lines)
    progress.close()
    assert lines[0] == "demo: fanning out 80 posts"


def test_given_a_terminal_then_a_progress_bar_shows_the_step_and_the_counts_and_is_gone_when_closed():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    lines: list[str] = []
    measure = Steps(("fanning out 1,620 posts", 1200, 3000))
    progress = DemoProgress(measure, lines.append, tty=True, poll=0.01, console=console).start()
    _until(lambda: "1200/3000" in out.getvalue())
    progress.close()
    assert "demo: fanning out 1,620 posts" in out.getvalue()
    assert lines == []  # the bar, not lines
