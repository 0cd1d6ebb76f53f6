"""What the recorded invocations say: request and capacity counts, round trips on a request's
critical path, and the stage times of a post's way through the pipeline.

Counts come from the metered workers (infra.runtime.functions._Meter): every DynamoDB call's
ConsumedCapacity as the service reported it, every SQS send. Nothing here estimates.
"""

from __future__ import annotations

import json
import statistics

from bench.model import OpCounts
from infra.runtime import DYNAMODB_READS, DYNAMODB_WRITES, Invocation

SQS_SENDS = {"SendMessage", "SendMessageBatch"}


def mean(many: list[OpCounts]) -> OpCounts:
    total = sum(many, OpCounts())
    return total.scaled(1 / len(many)) if many else total


def count(invocations: list[Invocation]) -> OpCounts:
    """What a set of invocations cost, in the capacity model's own record (bench.model.OpCounts),
    so measured and predicted counts compare field by field."""
    c = OpCounts(invocations=float(len(invocations)))
    for inv in invocations:
        if any(r.get("eventSource") == "aws:sqs" for r in inv.event.get("Records", [])):
            # The event source mapping's own calls for this batch (the local pollers make them,
            # so the meter does not see them): one ReceiveMessage and one DeleteMessageBatch.
            c.sqs_requests += 2
        for call in inv.calls:
            if call["service"] == "dynamodb" and call["op"] in DYNAMODB_WRITES:
                c.write_requests += 1
                c.write_units += call["write_units"]
            elif call["service"] == "dynamodb" and call["op"] in DYNAMODB_READS:
                c.read_requests += 1
                c.read_units += call["read_units"]
            elif call["service"] == "sqs" and call["op"] in SQS_SENDS:
                c.sqs_requests += 1
                c.sqs_messages += call["messages"]
    return c


def sequential_round_trips(invocation: Invocation) -> int:
    """The longest chain of AWS calls in which each starts after the previous one ended: the
    round trips a request waits for one after another. Calls made in parallel overlap in time
    and count once (the largest set of pairwise non-overlapping intervals is that chain)."""
    chain, last_end = 0, float("-inf")
    for call in sorted(invocation.calls, key=lambda c: c["t1"]):
        if call["t0"] >= last_end:
            chain += 1
            last_end = call["t1"]
    return chain


def time_in_calls(invocation: Invocation) -> float:
    """Milliseconds during which at least one AWS call was in flight (the union of the calls'
    intervals): the rest of the handler's time is its own code."""
    total, end = 0.0, float("-inf")
    for call in sorted(invocation.calls, key=lambda c: c["t0"]):
        start = max(call["t0"], end)
        if call["t1"] > start:
            total += call["t1"] - start
        end = max(end, call["t1"])
    return total


def header(invocation: Invocation, name: str) -> str | None:
    return (invocation.event.get("headers") or {}).get(name)


def dispatched_tweets(invocation: Invocation) -> set[int]:
    """Tweet ids whose INSERT stream record this dispatch invocation handled."""
    found = set()
    for record in invocation.event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if record.get("eventName") == "INSERT" and "tweet_id" in image:
            found.add(int(image["tweet_id"]["N"]))
    return found


def fanout_messages(invocation: Invocation) -> list[dict]:
    """The fan-out queue messages a worker invocation handled."""
    out = []
    for record in invocation.event.get("Records", []):
        try:
            out.append(json.loads(record.get("body") or "{}"))
        except ValueError:
            continue
    return out


def messages_sent(invocation: Invocation) -> int:
    """SQS messages an invocation sent."""
    return sum(call["messages"] for call in invocation.calls
               if call["service"] == "sqs" and call["op"] in SQS_SENDS and not call.get("failed"))


def entries_added(invocation: Invocation, tweet_id: int) -> int:
    return sum(len(m.get("owners", [])) for m in fanout_messages(invocation)
               if m.get("op") == "add" and int(m.get("tweet_id", 0)) == tweet_id)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
