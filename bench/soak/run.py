"""`make soak`: the whole local stack under a steady mixed load while faults strike, then the
verdict: nothing acknowledged lost, nothing twice, every timeline and counter exact.

    python -m bench.soak [--profile long|short] [--seed N] [--duration S] [--out bench/results]

`long` (make soak) runs 10 minutes; `short` (under a minute of load) runs in `make test`
(tests/bench/test_soak.py). The run is seeded: the same seed makes the same choices
(which change, which fault, when); the timing of a live stack still differs between runs.
The report is printed and saved as <out>/soak.json; the exit status is 0 only for a clean
verdict with every fault kind at or above its minimum.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.soak.check import check
from bench.soak.client import Latencies, SoakClient, Unresolved
from bench.soak.faults import KILLED, Chaos, FaultPlan
from bench.soak.load import POSTING, WEIGHTS, Load, Readers, paces
from bench.soak.plot import over_time, plot
from infra.runtime import (
    REDRIVE_QUEUES,
    DeliveryFaults,
    Emulator,
    LocalStack,
    injected_dynamodb_faults,
    redrive_dead_letters,
    set_dynamodb_faults,
    use_fake_credentials,
)

RESULTS = Path(__file__).resolve().parents[1] / "results"
QUEUE_VISIBILITY_S = 10  # the template's 180 s would make each killed batch wait three minutes


@dataclass(frozen=True)
class SoakProfile:
    name: str
    duration_s: float
    users: int
    follows_each: int
    celebrity_threshold: int  # low enough that the most followed accounts cross it both ways
    plan: FaultPlan
    load_share: float = 0.4  # of the measured home-read ceiling
    reads_per_post: float = 50.0
    reader_threads: int = 2
    timeline_max: int = 2000  # the model's budget (load.py): far above what a run posts
    weights: dict[str, float] = field(default_factory=dict)  # changes' weights other than load.WEIGHTS


PROFILES = {
    # Forty seconds make few changes: higher shares than the long run's, so that every kind
    # strikes its minimum in every run, and more uploads (the media processor must be caught busy).
    "short": SoakProfile("short", duration_s=40, users=12, follows_each=4, celebrity_threshold=6, plan=FaultPlan(
        kills_per_min=6, half_batches_per_min=6, poller_restarts=1, conflict=0.4, duplicate_stream_batches=0.3,
        redeliver_messages=0.1, answers_dropped=0.2,
        minimums={**{f"kill_{f}": 1 for f in KILLED}, "throttled": 5, "conflicts": 1,
                  "duplicate_stream_batches": 2, "redelivered_messages": 2, "poller_restarts": 1,
                  "half_applied_batches": 1, "answers_dropped": 1}),
        weights={"upload": 10, "image_post": 10}),
    # Ten minutes make some 330 changes: conflicts strike write transactions only and dropped
    # answers acknowledged writes only, so their shares are higher than the 2% of all calls
    # throttled, to strike well above their minimums in every run.
    "long": SoakProfile("long", duration_s=600, users=30, follows_each=6, celebrity_threshold=9, plan=FaultPlan(
        kills_per_min=2, half_batches_per_min=2, poller_restarts=2, conflict=0.1, answers_dropped=0.1,
        minimums={**{f"kill_{f}": 5 for f in KILLED}, "throttled": 100, "conflicts": 5,
                  "duplicate_stream_batches": 20, "redelivered_messages": 20, "poller_restarts": 2,
                  "half_applied_batches": 5, "answers_dropped": 10})),
}


class SoakStack(LocalStack):
    """The local stack of `make run` (without demo data): the template deployed, its functions,
    the event-source pollers (with the delivery faults) and the HTTP gateway, with queue
    visibility short enough that a killed worker's messages come back within the run.
    `specs` replaces some functions' code (the defect test's)."""

    def __init__(self, endpoint_url: str, params: Mapping[str, str], *, log_dir: Path,
                 specs: Mapping[str, Any] | None = None):
        super().__init__(f"soak-{uuid.uuid4().hex[:6]}", params, endpoint_url=endpoint_url, log_dir=log_dir,
                         specs=specs, delivery=DeliveryFaults())  # the faults' shares are set when they start

    def prepare(self) -> None:
        import boto3

        self.sqs = boto3.client("sqs", endpoint_url=self.endpoint_url, region_name=self.stack.region)
        for queue in ("FanoutQueueUrl", "MediaQueueUrl"):
            self.sqs.set_queue_attributes(QueueUrl=self.stack.outputs[queue],
                                          Attributes={"VisibilityTimeout": str(QUEUE_VISIBILITY_S)})

    def dead_letters(self) -> dict[str, int]:
        """Messages in each dead-letter queue (the dispatch failure queue holds pointers to
        stream records that dispatch gave up on: never redriven, always a failure)."""
        queues = {"FanoutDeadLetterQueue": self.stack.outputs["FanoutDeadLetterQueueUrl"],
                  "MediaDeadLetterQueue": self.stack.outputs["MediaDeadLetterQueueUrl"],
                  "DispatchFailureQueue": self.stack.physical_ids["DispatchFailureQueue"]}
        out = {}
        for name, url in queues.items():
            if not url.startswith("http"):
                url = self.sqs.get_queue_url(QueueName=url)["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[name] = sum(int(v) for v in attrs.values())
        return out

    def redrive(self) -> int:
        moved = 0
        for dlq, queue in REDRIVE_QUEUES.values():
            moved += redrive_dead_letters(self.sqs, self.stack.outputs[dlq], self.stack.outputs[queue])[0]
        return moved


def _ceiling(client: SoakClient, tokens: dict[int, str], seconds: float) -> float:
    """Home reads per second one client gets back to back: what the emulator serves."""
    users, done = sorted(tokens), 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        client.read("ceiling", "GET", "/v1/timeline?limit=20", tokens[users[done % len(users)]])
        done += 1
    return done / (time.monotonic() - started)


def run_soak(profile: SoakProfile, seed: int, *, endpoint_url: str | None = None, out: Path | None = RESULTS,
             specs: Mapping[str, Any] | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """One soak; returns the report (and writes it to <out>/soak.json unless out is None)."""

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("werkzeug", "moto", "botocore", "infra"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("infra.runtime.gateway").setLevel(logging.CRITICAL)  # a killed api's failures: counted faults
    with ExitStack() as running:
        if endpoint_url is None:
            use_fake_credentials(os.environ.get("AWS_REGION") or "us-east-1")
            os.environ.pop("AWS_ENDPOINT_URL", None)
            endpoint_url = running.enter_context(Emulator.start(0)).endpoint_url
        log_dir = Path(tempfile.mkdtemp(prefix="soak-logs-"))
        params = {"CelebrityThreshold": str(profile.celebrity_threshold), "DemotionCooldownMinutes": "0",
                  "TimelineMax": str(profile.timeline_max), "PostRateLimitPerMinute": "100000",
                  "ActionRateLimitPerMinute": "100000", "SignInAttemptsPerAddressPerMinute": "100000",
                  "SignUpsPerAddressPerHour": "100000", "UploadFormsPerMinute": "100000"}
        say(f"soak {profile.name}: seed {seed}, {profile.duration_s:.0f} s of load; deploying (function logs in {log_dir})")
        stack = running.enter_context(SoakStack(endpoint_url, params, log_dir=log_dir, specs=specs))
        client = SoakClient(stack.gateway.url, seed=seed)
        load = Load(client, random.Random(seed), profile.timeline_max, weights={**WEIGHTS, **profile.weights})
        load.sign_up(profile.users, f"s{seed % 1000}u")
        load.befriend(profile.follows_each)
        stack.pollers.wait_idle(120)
        ceiling = _ceiling(client, load.tokens, 3.0)
        reads_per_s, writes_per_s = paces(ceiling, load.weights, load_share=profile.load_share,
                                          reads_per_post=profile.reads_per_post)
        say(f"{profile.users} accounts, {len(load.model.follows)} follows; home-read ceiling {ceiling:.1f}/s: "
            f"load {reads_per_s:.1f} reads/s and {writes_per_s:.2f} changes/s with faults on")

        plan = profile.plan
        set_dynamodb_faults(throttle=plan.throttle, conflict=plan.conflict, seed=seed)
        stack.delivery.duplicate_stream_batches = plan.duplicate_stream_batches
        stack.delivery.redeliver_messages = plan.redeliver_messages
        client.lost_answers = plan.answers_dropped
        chaos = Chaos(plan, stack.functions, stack.restart_pollers, duration_s=profile.duration_s, seed=seed).start()
        readers = Readers(client, load.tokens, reads_per_s, threads=profile.reader_threads, seed=seed).start()
        client.latencies = Latencies()  # times under faults only
        load.start_counting()
        started = load.started
        load.upload()  # a picture first: the media processor is busy (and killed) in every run
        unresolved = None
        next_report, steps = started + 10, 0
        try:
            while (now := time.monotonic()) < started + profile.duration_s:
                # Paced, and never ahead of the reads: a post waits for its reads_per_post home
                # reads, whatever pace the emulator lets the readers keep under faults.
                time.sleep(max(0.0, started + steps / writes_per_s - now))
                posted = sum(load.acknowledged[k] for k in POSTING)
                while readers.reads < profile.reads_per_post * posted and time.monotonic() < started + profile.duration_s:
                    time.sleep(0.05)
                load.step()
                steps += 1
                if time.monotonic() >= next_report:
                    next_report += 10
                    counts = _fault_counts(chaos, stack, client, injected_dynamodb_faults())
                    say(f"  t+{time.monotonic() - started:4.0f}s  {steps} changes, {readers.reads} reads; faults: "
                        + ", ".join(f"{SHORT_NAMES.get(k, k)} {n}" for k, n in counts.items()))
        except Unresolved as exc:
            unresolved = str(exc)
        finally:
            readers.stop()
            chaos.stop()
            injected = injected_dynamodb_faults()
            set_dynamodb_faults()
            stack.delivery.duplicate_stream_batches = stack.delivery.redeliver_messages = 0.0
            client.lost_answers = 0.0
            stack.functions.clear_faults()
        load_s = time.monotonic() - started
        timeline = over_time(client.latencies.series, chaos.events, started, load_s)
        latencies = client.latencies.summary()
        statuses = {k: dict(v) for k, v in client.latencies.statuses.items() if k != "ceiling"}
        resends, server_errors = client.resends, client.server_errors
        faults = _fault_counts(chaos, stack, client, injected)

        say(f"load stopped after {load_s:.0f} s; draining the pipeline")
        drain_started = time.monotonic()
        drained = stack.pollers.wait_idle(600)
        dead = stack.dead_letters()
        redriven = stack.redrive() if any(dead.values()) else 0
        if redriven:
            say(f"redriving {redriven} dead-lettered message(s): {dead}")
            drained = stack.pollers.wait_idle(600) and drained
        dead_after = stack.dead_letters()
        drain_s = time.monotonic() - drain_started
        say(f"drained in {drain_s:.0f} s; checking every timeline, post and counter")
        verdict = check(load, client)

    report = _report(profile, seed, load, verdict, faults, latencies, ceiling=ceiling, paces=(reads_per_s, writes_per_s),
                     load_s=load_s, drain_s=drain_s, drained=drained, dead=dead, redriven=redriven,
                     dead_after=dead_after, unresolved=unresolved, statuses=statuses, resends=resends,
                     server_errors=server_errors)
    report["over_time"] = timeline
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
        if plot(report, out / "soak.png"):
            say(f"report: {out / 'soak.json'}, plot: {out / 'soak.png'}")
    for line in summary(report):
        say(line)
    return report


SHORT_NAMES = {"kill_ApiFunction": "kill api", "kill_FanoutDispatchFunction": "kill dispatch",
               "kill_FanoutWorkerFunction": "kill worker", "kill_MediaProcessorFunction": "kill media",
               "duplicate_stream_batches": "batches twice", "redelivered_messages": "redelivered",
               "half_applied_batches": "half-applied", "answers_dropped": "answers dropped"}


def _fault_counts(chaos: Chaos, stack: SoakStack, client: SoakClient, dynamodb: dict[str, int]) -> dict[str, int]:
    return {**{f"kill_{f}": n for f, n in chaos.kills.items()}, **dynamodb, **stack.delivery.injected,
            "poller_restarts": chaos.restarts,
            "half_applied_batches": stack.functions.half_applied.get("FanoutWorkerFunction", 0),
            "answers_dropped": client.answers_dropped}


def _report(profile: SoakProfile, seed: int, load: Load, verdict, faults: dict[str, int], latencies: dict, *,
            ceiling: float, paces: tuple[float, float], load_s: float, drain_s: float, drained: bool,
            dead: dict[str, int], redriven: int, dead_after: dict[str, int], unresolved: str | None,
            statuses: dict[str, dict[str, int]], resends: int, server_errors: int) -> dict:
    plan, rates = profile.plan, profile.plan.rates()
    fault_table = {kind: {"count": n, "minimum": plan.minimums.get(kind, 0), "rate": rates.get(kind, "")}
                   for kind, n in faults.items()}
    failures = [f"{kind}: {v['count']} injected, minimum {v['minimum']}" for kind, v in fault_table.items()
                if v["count"] < v["minimum"]]
    failures += [f"{name}: {value}" for name, value in verdict.counts().items() if value]
    failures += [f"unexpected answer to {a.kind}: {a.detail}" for a in load.anomalies]
    failures += [f"{name} still holds {n} message(s)" for name, n in dead_after.items() if n]
    failures += [f"unresolved: {unresolved}"] if unresolved else []
    failures += [] if drained else ["the pipeline did not drain within 10 minutes"]
    # A killed api worker answers its request with a 500, as Lambda's crash does behind API
    # Gateway; throttling past the retries answers 503. Any other 5xx is the service's fault.
    unexplained = server_errors - faults.get("kill_ApiFunction", 0)
    failures += [f"{unexplained} 5xx answer(s) (not 503) beyond the api workers killed"] if unexplained > 0 else []
    return {
        "profile": profile.name, "seed": seed, "duration_s": round(load_s, 1), "drain_s": round(drain_s, 1),
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{os.cpu_count()} cores",
        "ok": not failures, "failures": failures,
        "accounts": profile.users, "home_read_ceiling_per_s": round(ceiling, 1),
        "pace": {"reads_per_s": round(paces[0], 2), "changes_per_s": round(paces[1], 3)},
        "acknowledged": dict(sorted(load.acknowledged.items())), "refused": dict(sorted(load.refused.items())),
        "home_reads": latencies.get("home", {}).get("count", 0),
        "reads_per_post": round(latencies.get("home", {}).get("count", 0)
                                / max(1, sum(load.acknowledged[k] for k in ("post", "reply", "image_post"))), 1),
        "over_budget_choices": load.over_budget,
        "faults": fault_table,
        "lost": verdict.lost, "duplicated": verdict.duplicated, "mismatched_timelines": verdict.mismatched_timelines,
        "counters_off": verdict.counters_off, "deleted_but_shown": verdict.deleted_but_shown,
        "dead_letters": {"before_redrive": dead, "redriven": redriven, "after": dead_after},
        "latency_under_faults_ms": {k: v for k, v in latencies.items() if k not in ("ceiling", "check")},
        "statuses_under_faults": statuses, "resends": resends, "server_errors": server_errors,
        "diffs": verdict.diffs[:10],
    }


def summary(report: dict) -> list[str]:
    lines = [f"soak {report['profile']} (seed {report['seed']}): {report['duration_s']:.0f} s of load, "
             f"{sum(report['acknowledged'].values())} changes acknowledged, {report['home_reads']} home reads "
             f"({report['reads_per_post']} per post), drained in {report['drain_s']:.0f} s"]
    lines.append("  faults: " + ", ".join(f"{k} {v['count']}/{v['minimum']}" for k, v in report["faults"].items()))
    lines.append(f"  lost {report['lost']}, duplicated {report['duplicated']}, mismatched timelines "
                 f"{report['mismatched_timelines']}, counters off {report['counters_off']}")
    for kind in ("home", "post", "follow", "repost"):
        if kind in report["latency_under_faults_ms"]:
            v = report["latency_under_faults_ms"][kind]
            lines.append(f"  {kind:<7} p50 {v['p50_ms']:.0f} ms, p99 {v['p99_ms']:.0f} ms ({v['count']})")
    for diff in report["diffs"]:
        lines.append(f"  diff: {json.dumps(diff)[:2000]}")
    lines.append("PASS" if report["ok"] else "FAIL:\n  " + "\n  ".join(report["failures"]))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="long", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--duration", type=float, help="seconds of load (default: the profile's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.duration:
        profile = replace(profile, duration_s=args.duration)
    report = run_soak(profile, args.seed, out=args.out, say=lambda line: print(line, file=sys.stderr, flush=True))
    return 0 if report["ok"] else 1
