"""One strategy's stack on the shared emulator: template.yaml deployed with that strategy's
parameters, the real function handlers in their worker processes (metered), the event-source
pollers and the HTTP gateway. The same parts `make run` starts, minus the demo data.

Every invocation is recorded (infra.functions.Invocation): the benchmark reads request and
capacity counts, handler durations and pipeline stage times from them.
"""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from infra import template as tpl
from infra.deployer import Stack, deploy
from infra.functions import Invocation, LocalFunctions
from infra.gateway import Gateway
from infra.pollers import Pollers

LAYER = tpl.ROOT / "layers" / "timeline" / "python"


@dataclass
class Recorder:
    """Every invocation of the stack's functions, in completion order."""

    invocations: list[Invocation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)

    def mark(self) -> int:
        with self._lock:
            return len(self.invocations)

    def since(self, mark: int) -> list[Invocation]:
        with self._lock:
            return self.invocations[mark:]


class StrategyStack:
    """`with StrategyStack(endpoint, "bench-push", {"CelebrityThreshold": "999"}) as s:`

    `seed(stack)`, if given, runs once the stack is deployed and its functions are up, before
    the event-source pollers start; its result is `stack.seeded`. The table streams are then
    read from after the seed (LATEST): the seed is the state the pipeline starts from, not
    traffic for it (a seeded follow is not synced again, as one made before any post existed
    would have synced to nothing)."""

    def __init__(self, endpoint_url: str, name: str, params: dict[str, str], *, log_dir: Path,
                 region: str = "us-east-1", seed: Callable[[StrategyStack], Any] | None = None,
                 concurrency: int | dict[str, int] = 2):
        self.endpoint_url, self.name, self.params, self.region = endpoint_url, name, params, region
        self.concurrency = concurrency
        self.log_dir = log_dir
        self.recorder = Recorder()
        self._seed = seed
        self.seeded: Any = None
        self._running = ExitStack()

    def __enter__(self) -> StrategyStack:
        quiet = logging.getLogger("infra")
        quiet.setLevel(logging.WARNING)  # one line per request and batch would bury the progress
        try:
            self.stack: Stack = deploy(self.name, self.params, endpoint_url=self.endpoint_url, region=self.region)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.functions = LocalFunctions.start(self.stack, endpoint_url=self.endpoint_url,
                                                  log_dir=self.log_dir, meter=True, concurrency=self.concurrency)
            self._running.callback(self.functions.close)
            self.functions.add_observer(self.recorder)
            stack = self.stack
            if self._seed is not None:
                self.seeded = self._seed(self)
                stack = replace(stack, event_sources=[
                    replace(e, starting_position="LATEST") if e.source_arn.split(":")[2] == "dynamodb" else e
                    for e in stack.event_sources])
            self.pollers = Pollers.start(stack, self.functions, endpoint_url=self.endpoint_url)
            self._running.callback(self.pollers.close)
            self.gateway = Gateway.for_stack(tpl.load_sam(), self.stack, self.functions,
                                             endpoint_url=self.endpoint_url).serve(0)
            self._running.callback(self.gateway.close)
        except BaseException:
            self._running.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.close()

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def api_env(self) -> dict[str, str]:
        return self.stack.function_env["ApiFunction"]

    def wait_idle(self, timeout: float = 120.0) -> bool:
        return self.pollers.wait_idle(timeout)

    def stop_pipeline(self) -> None:
        """Stop the pollers (for measurements that write seed rows the pipeline must not see)."""
        self.pollers.close()


def import_layer() -> None:
    """Make the product's domain package importable here (its store layer seeds the tables)."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
