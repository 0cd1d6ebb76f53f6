"""`LocalStack`: template.yaml running on this machine, as one object.

    with LocalStack("bench-push", {"CelebrityThreshold": "999"}, endpoint_url=emulator.endpoint_url,
                    log_dir=Path("logs")) as stack:
        stack.api_url            # the HTTP API (API Gateway's stand-in), on a free port
        stack.endpoint           # the AWS emulator the stack is deployed to
        stack.invoke("ApiFunction", event)   # one function, directly
        stack.wait_idle()        # every event source drained

The parts, in the order they start (and stop in reverse): the template deployed to the
emulator (deployer.py), a worker pool per function (functions.py), code reload if asked
(reloader.py), the event-source pollers (pollers.py) and the HTTP gateway (gateway.py).
`timeline up` (infra/console/up.py) runs this class with the emulator, demo data, live metrics
and persistence around it; the benchmark and the soak (bench/) and the end-to-end tests (through
`timeline up`) use it too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from infra.runtime import template as tpl
from infra.runtime.deployer import Stack, deploy
from infra.runtime.functions import Invocation, LocalFunctions
from infra.runtime.gateway import Gateway
from infra.runtime.pollers import DeliveryFaults, Pollers

T = TypeVar("T")


def _just_run(title: str, start: Callable[[], T]) -> T:
    return start()


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


class LocalStack:
    """One deployed stack and its running parts on an emulator at `endpoint_url`.

    - `seed(stack)`, if given, runs once the stack is deployed and its functions are up, before
      the event-source pollers start; its result is `stack.seeded`. The table streams are then
      read from after the seed (LATEST): the seed is the state the pipeline starts from, not
      traffic for it.
    - `meter=True` records every invocation (`stack.recorder`) with its request and capacity counts.
    - `specs` replaces some functions' code (by logical id); `delivery` injects event-source
      delivery faults (pollers.DeliveryFaults).
    - `quiet` keeps the runtime's per-request and per-batch lines out of the log.
    - `deployed`: a stack already deployed (or restored from a snapshot): not deployed again.
    - `reload`: a change under a function's code folders restarts its workers.
    - `step(title, start)` runs each part's start (the console times them and says so)."""

    def __init__(self, name: str, params: Mapping[str, str], *, endpoint_url: str, log_dir: Path | None,
                 region: str = "us-east-1", seed: Callable[[LocalStack], Any] | None = None,
                 concurrency: int | dict[str, int] = 2, meter: bool = False,
                 specs: Mapping[str, Any] | None = None, delivery: DeliveryFaults | None = None,
                 port: int = 0, quiet: bool = True, deployed: Stack | None = None, reload: bool = False,
                 step: Callable[[str, Callable[[], Any]], Any] = _just_run):
        self.name, self.params, self.region = name, dict(params), region
        self.endpoint_url, self.log_dir, self.port = endpoint_url, log_dir, port
        self.concurrency, self.meter, self.specs, self.delivery = concurrency, meter, specs, delivery
        self.recorder = Recorder()
        self._seed, self._quiet, self._deployed, self.reload, self._step = seed, quiet, deployed, reload, step
        self.seeded: Any = None
        self._running = ExitStack()

    def __enter__(self) -> LocalStack:
        if self._quiet:  # one line per request and batch would bury the caller's progress
            quiet_runtime_logs()
        step = self._step
        try:
            self.stack: Stack = self._deployed or step(
                f"deploying template.yaml as stack {self.name!r}",
                lambda: deploy(self.name, self.params, endpoint_url=self.endpoint_url, region=self.region))
            self.prepare()
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
            sam = tpl.load_sam()
            specs = {**tpl.functions(sam), **self.specs} if self.specs else None
            self.functions = step("function workers", lambda: LocalFunctions.start(
                self.stack, endpoint_url=self.endpoint_url, log_dir=self.log_dir, meter=self.meter,
                concurrency=self.concurrency, specs=specs))
            self._running.callback(self.functions.close)
            if self.meter:
                self.functions.add_observer(self.recorder)
            if self.reload:
                from infra.runtime.reloader import Reloader

                self.reloader = Reloader.for_template(sam, self.functions).start()
                self._running.callback(self.reloader.stop)
            sources = self.stack
            if self._seed is not None:
                self.seeded = self._seed(self)
                sources = replace(sources, event_sources=[
                    replace(e, starting_position="LATEST") if e.source_arn.split(":")[2] == "dynamodb" else e
                    for e in sources.event_sources])
            step(f"pollers for {len(sources.event_sources)} event source mapping(s)",
                 lambda: self._start_pollers(sources))
            self._running.callback(lambda: self.pollers.close())  # the current pollers, after restarts
            self.gateway = step("HTTP gateway", lambda: Gateway.for_stack(
                sam, self.stack, self.functions, endpoint_url=self.endpoint_url).serve(self.port))
            self._running.callback(self.gateway.close)
        except BaseException:
            self._running.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.close()

    def prepare(self) -> None:
        """Runs once the template is deployed, before any function starts (subclasses adjust
        the deployed resources here)."""

    def _start_pollers(self, stack: Stack) -> None:
        self.pollers = Pollers.start(stack, self.functions, endpoint_url=self.endpoint_url, faults=self.delivery)

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def endpoint(self) -> str:
        return self.endpoint_url

    @property
    def api_env(self) -> dict[str, str]:
        return self.stack.function_env["ApiFunction"]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """One invocation of a function, as `sam local invoke` (or Lambda's Invoke) would."""
        return self.functions.invoke(logical_id, event)

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """True once every event source is drained and no batch is in flight."""
        return self.pollers.wait_idle(timeout)

    def stop_pipeline(self) -> None:
        """Stop the pollers (for measurements that write seed rows the pipeline must not see)."""
        self.pollers.close()

    def restart_pollers(self) -> None:
        """Every poller stopped (in-flight batches finish) and started again."""
        self.pollers.close()
        self._start_pollers(self.stack)


def quiet_runtime_logs() -> None:
    """The runtime's loggers at WARNING or above: never louder than the caller already set them
    (the benchmark and the soak keep `infra` at ERROR)."""
    runtime = logging.getLogger("infra.runtime")
    if runtime.getEffectiveLevel() < logging.WARNING:
        runtime.setLevel(logging.WARNING)


def write_ready_file(path: Path, **facts: Any) -> None:
    """`facts` (the API URL, the emulator's endpoint...) as JSON at `path`, atomically: a reader
    that sees the file sees all of it. Tests and scripts wait for it instead of reading logs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({**facts, "pid": os.getpid()}, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
