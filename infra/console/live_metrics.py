"""The local stack's metrics, live: what the dashboard in template.yaml shows, from the same
EMF lines, without CloudWatch.

Each function's workers append their output (powertools JSON logs and EMF metric lines) to
`<log_dir>/<LogicalId>.log` (infra.runtime.functions). This module tails those files, keeps the
metric samples of a sliding window, asks SQS how deep the dead-letter queues are, and renders
one line:

    metrics 10s: posts 3.1/s · entries 410/s · lag p50 180 ms p99 900 ms · merges/read 0.4 · partial 0 · DLQ 0

- `snapshot(log_dir, queue_urls, window_s)` and `render(snapshot)`: once, on demand
  (`timeline metrics`).
- `LiveMetrics(log_dir, queue_urls, interval=5.0, out=print)`: a daemon thread that prints
  the line when it changes, and at most once a minute while nothing does.

The metrics are the ones timeline/observability.py documents: PostsCreated (the API's posts),
PostsDispatched (every post and repost the tweets stream brought to fanout_dispatch: the
API's and the demo's, which the demo loader writes as rows), TimelineEntriesWritten, FanoutLag
(ms), CelebrityMerges (one sample per home read), PartialReads, InternalErrors. Every metric
seen in the window is also summarized value by value (`describe`): a list of ten lags is ten
samples, never their sum.
DLQ depth is SQS's ApproximateNumberOfMessages of each queue, as CloudWatch's
ApproximateNumberOfMessagesVisible is on AWS.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

log = logging.getLogger("infra.console.live_metrics")

# The stack's dead-letter queues, by a short label: outputs first, else the physical ids.
DEAD_LETTER_OUTPUTS = {"fanout": "FanoutDeadLetterQueueUrl", "media": "MediaDeadLetterQueueUrl"}
DEAD_LETTER_RESOURCES = {"fanout": "FanoutDeadLetterQueue", "media": "MediaDeadLetterQueue",
                         "dispatch": "DispatchFailureQueue"}

IDLE_REPEAT_S = 60.0  # an unchanged line is printed again at most this often
_READ_LIMIT = 16 * 1024 * 1024  # bytes read from one file per tick; the rest waits for the next
_PARTIAL_LIMIT = 1024 * 1024  # a "line" longer than this without a newline is not ours: dropped
_FIRST_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds (the EMF document's Timestamp)
    name: str
    values: tuple[float, ...]
    unit: str = "Count"  # the EMF directive's Unit


_UNIT = {"Milliseconds": "ms", "Seconds": "s", "Microseconds": "µs", "Bytes": "bytes", "Kilobytes": "KB",
         "Megabytes": "MB", "Percent": "%"}
_COUNTS = {"Count", "None", ""}


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:.3g}"


def statistics(unit: str, values: list[float]) -> dict[str, Any]:
    """The figures of one metric's values: n and sum for a count; n, mean, p50, p99 and max for
    any other unit (a duration's sum means nothing)."""
    if unit in _COUNTS:
        return {"unit": unit or "None", "n": len(values), "sum": sum(values)}
    return {"unit": unit, "n": len(values), "mean": sum(values) / len(values) if values else None,
            "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values, default=None)}


def describe(name: str, unit: str, values: list[float]) -> str:
    """One metric's values for people: `PostsCreated=1`, `PostsCreated: n=3 sum=3`,
    `FanoutLag=241 ms`, `FanoutLag ms: n=10 mean=… p50=… p99=… max=…`."""
    if len(values) == 1:
        return f"{name}={_number(values[0])}" + ("" if unit in _COUNTS else f" {_UNIT.get(unit, unit)}")
    return describe_statistics(name, statistics(unit, values))


def describe_statistics(name: str, stats: Mapping[str, Any]) -> str:
    """`statistics`' figures as `describe` shows several values."""
    unit = stats.get("unit", "None")
    if unit in _COUNTS:
        return f"{name}: n={stats['n']} sum={_number(stats['sum'])}"
    label = _UNIT.get(unit, unit)
    if not stats["n"]:
        return f"{name} {label}: n=0"
    return (f"{name} {label}: n={stats['n']} mean={_number(stats['mean'])} p50={_number(stats['p50'])} "
            f"p99={_number(stats['p99'])} max={_number(stats['max'])}")


def parse_emf(line: bytes | str) -> list[Sample]:
    """The metric samples of one EMF line; nothing for any other line (a log record, a
    traceback, half a line)."""
    if isinstance(line, bytes):
        if b'"_aws"' not in line:
            return []
        line = line.decode("utf-8", errors="replace")
    elif '"_aws"' not in line:
        return []
    try:
        doc = json.loads(line)
        meta = doc["_aws"]
        at = float(meta["Timestamp"]) / 1000
        directives = meta["CloudWatchMetrics"]
    except (ValueError, TypeError, KeyError):
        return []
    out = []
    for directive in directives if isinstance(directives, list) else ():
        for metric in directive.get("Metrics", ()) if isinstance(directive, dict) else ():
            name = metric.get("Name") if isinstance(metric, dict) else None
            value = doc.get(name) if name else None
            values = value if isinstance(value, list) else [value]
            numbers = tuple(float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
            if numbers:
                out.append(Sample(at, name, numbers, str(metric.get("Unit") or "None")))
    return out


# ------------------------------------------------------------------ reading the log folder

def _first_timestamp(chunk: bytes, skip_first_line: bool) -> tuple[int, float] | None:
    """(offset, time) of the first EMF line that starts within `chunk`."""
    offset = 0
    if skip_first_line:
        newline = chunk.find(b"\n")
        if newline < 0:
            return None
        offset = newline + 1
    while offset < len(chunk):
        end = chunk.find(b"\n", offset)
        if end < 0:
            return None  # the last line is still being written
        samples = parse_emf(chunk[offset:end])
        if samples:
            return offset, samples[0].at
        offset = end + 1
    return None


def window_start(handle: BinaryIO, size: int, since: float) -> int:
    """An offset at a line start from which every EMF line at or after `since` follows,
    found by reading backwards from the end in growing chunks (files only grow by
    appending, so their lines are in time order, give or take the workers' interleaving)."""
    chunk_size = _FIRST_CHUNK
    while True:
        start = max(0, size - chunk_size)
        handle.seek(start)
        chunk = handle.read(size - start)
        found = _first_timestamp(chunk, skip_first_line=start > 0)
        if start == 0:
            return 0
        if found is not None and found[1] < since:
            return start + found[0]
        chunk_size *= 4


@dataclass
class _Followed:
    handle: BinaryIO
    inode: int
    partial: bytes = b""


class LogTail:
    """Follows every `*.log` file of a folder like `tail -F`: each read returns the samples
    of the lines completed since the last one. A half-written last line waits for its
    newline; a truncated file is read again from its start; a file replaced (rotated) has
    the rest of the old one read first, then the new one from its start. With `since`
    (epoch s), files present at the first read start at that moment's lines instead of
    their beginning."""

    def __init__(self, folder: Path | str, since: float | None = None):
        self.folder = Path(folder)
        self._since = since
        self._first = True
        self._files: dict[Path, _Followed] = {}

    def read(self) -> list[Sample]:
        samples: list[Sample] = []
        paths = sorted(self.folder.glob("*.log")) if self.folder.is_dir() else []
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            followed = self._files.get(path)
            if followed is not None and followed.inode != stat.st_ino:  # rotated: finish the old file
                samples += self._drain(followed, final=True)
                followed.handle.close()
                followed = None
            if followed is None:
                followed = self._open(path, stat, skip_history=self._first)
                if followed is None:
                    continue
                self._files[path] = followed
            elif stat.st_size < followed.handle.tell():  # truncated: start again
                followed.handle.seek(0)
                followed.partial = b""
            samples += self._drain(followed)
        for path in set(self._files) - set(paths):  # deleted: what was written is still readable
            followed = self._files.pop(path)
            samples += self._drain(followed, final=True)
            followed.handle.close()
        self._first = False
        return samples

    def close(self) -> None:
        for followed in self._files.values():
            followed.handle.close()
        self._files.clear()

    def _open(self, path: Path, stat: os.stat_result, *, skip_history: bool) -> _Followed | None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - kept open while the file is followed
        except FileNotFoundError:
            return None
        if skip_history and self._since is not None and stat.st_size:
            handle.seek(window_start(handle, stat.st_size, self._since))
        return _Followed(handle, stat.st_ino)

    @staticmethod
    def _drain(followed: _Followed, final: bool = False) -> list[Sample]:
        data = followed.handle.read(_READ_LIMIT)
        if not data:
            return []
        lines = (followed.partial + data).split(b"\n")
        followed.partial = b"" if final else lines.pop()
        if len(followed.partial) > _PARTIAL_LIMIT:
            followed.partial = b""
        samples: list[Sample] = []
        for line in lines:
            samples += parse_emf(line)
        return samples


# ------------------------------------------------------------------ the window and its numbers

@dataclass
class Window:
    """The samples of the last `seconds`, by their own timestamps."""
    seconds: float
    samples: list[Sample] = field(default_factory=list)

    def add(self, samples: Iterable[Sample]) -> None:
        self.samples.extend(samples)

    def prune(self, now: float) -> None:
        cutoff = now - self.seconds
        self.samples = [s for s in self.samples if s.at >= cutoff]

    def values(self, name: str) -> list[float]:
        return [v for s in self.samples if s.name == name for v in s.values]

    def by_metric(self) -> dict[str, tuple[str, list[float]]]:
        """Every metric of the window: name -> (unit, values), by name."""
        found: dict[str, tuple[str, list[float]]] = {}
        for sample in self.samples:
            found.setdefault(sample.name, (sample.unit, []))[1].extend(sample.values)
        return dict(sorted(found.items()))


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (the value CloudWatch's pNN approximates)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(window: Window, now: float, dead_letters: Mapping[str, int | None]) -> dict[str, Any]:
    """The snapshot dict `render` shows (and `timeline metrics --json` could print)."""
    window.prune(now)
    seconds = window.seconds
    posts = sum(window.values("PostsCreated"))
    dispatched = sum(window.values("PostsDispatched"))
    entries = sum(window.values("TimelineEntriesWritten"))
    lag = window.values("FanoutLag")
    merges = window.values("CelebrityMerges")  # one sample per home read
    known = [d for d in dead_letters.values() if d is not None]
    return {
        "window_s": seconds,
        "at": now,
        "posts": int(posts),
        "posts_per_s": posts / seconds,
        "posts_dispatched": int(dispatched),  # the API's and any written as rows (the demo's)
        "posts_dispatched_per_s": dispatched / seconds,
        "entries": int(entries),
        "entries_per_s": entries / seconds,
        "lag_ms": {"p50": percentile(lag, 50), "p99": percentile(lag, 99), "max": max(lag, default=None),
                   "count": len(lag)},
        "reads": len(merges),
        "merges_per_read": sum(merges) / len(merges) if merges else None,
        "partial_reads": int(sum(window.values("PartialReads"))),
        "internal_errors": int(sum(window.values("InternalErrors"))),
        "dlq": dict(dead_letters),  # label -> visible messages (None: could not ask)
        "dlq_total": sum(known) if known else None,
        "metrics": {name: statistics(unit, values) for name, (unit, values) in window.by_metric().items()},
    }


# ------------------------------------------------------------------ dead-letter queues

def dead_letter_queues(outputs: Mapping[str, str], physical_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stack's dead-letter queue URLs by label (fanout, media, dispatch), from its
    outputs and, for the dispatch failure queue (no output), its physical id."""
    found = {label: outputs[name] for label, name in DEAD_LETTER_OUTPUTS.items() if outputs.get(name)}
    for label, logical_id in DEAD_LETTER_RESOURCES.items():
        url = (physical_ids or {}).get(logical_id)
        if label not in found and url and url.startswith(("http://", "https://")):
            found[label] = url
    return found


def stack_dead_letter_queues(session, stack_name: str, endpoint_url: str | None = None) -> dict[str, str]:
    """`dead_letter_queues` of a deployed stack, read through CloudFormation (for a command
    run apart from `make run`, which has the Stack in hand)."""
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    physical = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        physical.update({r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in page["StackResourceSummaries"]})
    return dead_letter_queues(outputs, physical)


def _labelled(queue_urls: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    if isinstance(queue_urls, Mapping):
        return dict(queue_urls)
    return {url.rstrip("/").rsplit("/", 1)[-1]: url for url in queue_urls}


def _sqs_client(queue_urls: Mapping[str, str]):
    """An SQS client for the queues' own endpoint (the emulator's, or AWS's)."""
    import boto3

    first = next(iter(queue_urls.values()))
    parts = urlsplit(first)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("sqs", endpoint_url=f"{parts.scheme}://{parts.netloc}", region_name=region)


def queue_depths(sqs, queue_urls: Mapping[str, str]) -> dict[str, int | None]:
    """Visible messages per queue; None for a queue that could not be asked."""
    depths: dict[str, int | None] = {}
    for label, url in queue_urls.items():
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            depths[label] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        except Exception:
            depths[label] = None
    return depths


# ------------------------------------------------------------------ once, and live

def snapshot(log_dir: Path | str, queue_urls: Mapping[str, str] | Iterable[str], window_s: float = 60.0,
             *, sqs=None, now: float | None = None) -> dict[str, Any]:
    """The metrics of the last `window_s` seconds from the log folder, and the DLQ depths."""
    now = time.time() if now is None else now
    tail = LogTail(log_dir, since=now - window_s)
    try:
        window = Window(window_s)
        window.add(tail.read())
    finally:
        tail.close()
    queues = _labelled(queue_urls)
    depths = queue_depths(sqs or _sqs_client(queues), queues) if queues else {}
    return summarize(window, now, depths)


def _rate(per_s: float) -> str:
    if per_s == 0:
        return "0"
    return f"{per_s:.1f}" if per_s < 10 else f"{per_s:.0f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def _span(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g}m"


def render(snap: Mapping[str, Any]) -> str:
    """One compact line: rates per second over the window, lag percentiles, read shape, DLQs."""
    lag = snap["lag_ms"]
    lag_text = f"lag p50 {_ms(lag['p50'])} p99 {_ms(lag['p99'])}" if lag["count"] else "lag –"
    merges = snap["merges_per_read"]
    parts = [f"posts {_rate(snap['posts_per_s'])}/s"]
    if snap.get("posts_dispatched"):  # the demo's posts, and reposts, are dispatched but not "created"
        parts.append(f"dispatched {_rate(snap['posts_dispatched_per_s'])}/s")
    parts += [
        f"entries {_rate(snap['entries_per_s'])}/s",
        lag_text,
        f"merges/read {merges:.1f}" if merges is not None else "merges/read –",
        f"partial {snap['partial_reads']}",
    ]
    if snap.get("internal_errors"):
        parts.append(f"5xx {snap['internal_errors']}")
    total, depths = snap["dlq_total"], snap["dlq"]
    if not depths:
        pass  # no queues to ask (a log folder read on its own)
    elif total is None:
        parts.append("DLQ ?")
    elif total:
        parts.append(f"DLQ {total} (" + ", ".join(f"{k} {v}" for k, v in depths.items() if v) + ")")
    else:
        parts.append("DLQ 0")
    return f"metrics {_span(snap['window_s'])}: " + " · ".join(parts)


class LiveMetrics:
    """Every `interval` seconds: read what the functions logged since the last look, count
    the dead letters, and `out` the line if it changed (or, unchanged, once a minute)."""

    def __init__(self, log_dir: Path | str, queue_urls: Mapping[str, str] | Iterable[str], interval: float = 5.0,
                 out: Callable[[str], Any] = print, *, window_s: float | None = None, sqs=None,
                 idle_repeat_s: float = IDLE_REPEAT_S, clock: Callable[[], float] = time.time):
        self.interval = interval
        self.window = Window(window_s if window_s is not None else max(10.0, 2 * interval))
        self._out, self._clock, self._idle_repeat = out, clock, idle_repeat_s
        self._queues = _labelled(queue_urls)
        self._sqs = sqs
        self._tail = LogTail(log_dir, since=clock() - self.window.seconds)
        self._last_line: str | None = None
        self._last_out = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False

    def tick(self) -> str | None:
        """One look; returns the line if it was printed."""
        now = self._clock()
        self.window.add(self._tail.read())
        depths = {}
        if self._queues:
            self._sqs = self._sqs or _sqs_client(self._queues)
            depths = queue_depths(self._sqs, self._queues)
        line = render(summarize(self.window, now, depths))
        if line == self._last_line and now - self._last_out < self._idle_repeat:
            return None
        self._last_line, self._last_out = line, now
        self._out(line)
        return line

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
                self._failed = False
            except Exception:
                if not self._failed:
                    log.warning("live metrics: could not read the logs or queues", exc_info=True)
                self._failed = True

    def start(self) -> LiveMetrics:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-metrics", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None
        self._tail.close()

    def __enter__(self) -> LiveMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
