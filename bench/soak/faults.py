"""The soak's faults, on a seeded schedule, each with a rate and a minimum count per run.

- `kill_<function>`: a worker process of the function SIGKILLed mid-invocation, at random
  moments (exponential gaps at `kills_per_min`); the killer waits for one of its workers to be
  busy (LocalFunctions.kill_busy). An api kill loses the answer of a request that may have
  committed; a dispatch or worker kill fails its batch, which its event source retries.
- `throttled`, `conflicts`: DynamoDB calls throttled and write transactions cancelled for a
  conflict, a share of them everywhere (infra.runtime.dynamodb_faults).
- `duplicate_stream_batches`, `redelivered_messages`: the pollers deliver a share of stream
  batches twice and leave a share of handled queue messages undeleted, so they come back when
  their visibility ends (infra.runtime.pollers.DeliveryFaults).
- `poller_restarts`: every poller stopped and started again (streams read from their trim
  horizon again: every record dispatched a second time).
- `half_applied_batches`: a fan-out worker batch applied for its first half, then failed
  (LocalFunctions.fail_half_batch).
- `answers_dropped`: the client drops the answer of a share of acknowledged writes and sends
  them again (client.py).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

KILLED = ("ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction", "MediaProcessorFunction")


@dataclass(frozen=True)
class FaultPlan:
    kills_per_min: float = 3.0  # per function
    half_batches_per_min: float = 2.0
    poller_restarts: int = 1  # spread evenly over the run
    throttle: float = 0.02
    conflict: float = 0.02
    duplicate_stream_batches: float = 0.2
    redeliver_messages: float = 0.05
    answers_dropped: float = 0.05
    minimums: dict[str, int] = field(default_factory=dict)

    def rates(self) -> dict[str, str]:
        """Each fault kind's rate, as the report states it."""
        return {**{f"kill_{f}": f"{self.kills_per_min}/min" for f in KILLED},
                "throttled": f"{self.throttle:.0%} of DynamoDB calls",
                "conflicts": f"{self.conflict:.0%} of write transactions",
                "duplicate_stream_batches": f"{self.duplicate_stream_batches:.0%} of stream batches",
                "redelivered_messages": f"{self.redeliver_messages:.0%} of queue messages",
                "poller_restarts": f"{self.poller_restarts} per run",
                "half_applied_batches": f"{self.half_batches_per_min}/min (fan-out worker)",
                "answers_dropped": f"{self.answers_dropped:.0%} of acknowledged writes"}


class Chaos:
    """Runs the plan's scheduled faults on threads until stopped: kills, half-applied batches
    and poller restarts (the shares are set on the emulator, the pollers and the client)."""

    def __init__(self, plan: FaultPlan, functions, restart_pollers: Callable[[], None], *, duration_s: float,
                 seed: int):
        self.plan, self.functions, self.restart_pollers = plan, functions, restart_pollers
        self.duration_s, self.seed = duration_s, seed
        self.kills: dict[str, int] = dict.fromkeys(KILLED, 0)
        self.restarts = 0
        self.events: list[tuple[float, str]] = []  # (monotonic time, what): kills and restarts
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._killer, args=(f, random.Random(f"{seed}-{f}")), daemon=True,
                                          name=f"soak-kill-{f}") for f in KILLED]
        self._threads.append(threading.Thread(target=self._half_batches, args=(random.Random(f"{seed}-half"),),
                                              daemon=True, name="soak-half-batches"))
        self._threads.append(threading.Thread(target=self._restarts, daemon=True, name="soak-restarts"))

    def start(self) -> Chaos:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def _killer(self, function: str, rng: random.Random) -> None:
        """The first kill as soon as a worker is busy (so a short run kills a rarely busy
        function too), then one after each exponential gap."""
        rate = self.plan.kills_per_min / 60
        gap = 0.0
        while rate and not self._stop.wait(gap):
            gap = rng.expovariate(rate)
            while not self._stop.is_set():  # a rarely busy function (media) waits for its next upload
                if self.functions.kill_busy(function):
                    self.kills[function] += 1
                    self.events.append((time.monotonic(), f"kill_{function}"))
                    break
                time.sleep(0.003)

    def _half_batches(self, rng: random.Random) -> None:
        rate = self.plan.half_batches_per_min / 60
        while rate and not self._stop.wait(rng.expovariate(rate)):
            self.functions.fail_half_batch("FanoutWorkerFunction")

    def _restarts(self) -> None:
        """At evenly spaced moments of the run (1/3 and 2/3 of it for two restarts)."""
        started = time.monotonic()
        for n in range(self.plan.poller_restarts):
            at = started + self.duration_s * (n + 1) / (self.plan.poller_restarts + 1)
            if self._stop.wait(max(0.0, at - time.monotonic())):
                return
            self.restart_pollers()
            self.restarts += 1
            self.events.append((time.monotonic(), "poller_restart"))
