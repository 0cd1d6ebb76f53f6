"""The local stack's live metrics line: EMF lines the function workers append to their log
files, aggregated over a sliding window, with the dead-letter queues' depth."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import boto3

from infra.console.live_metrics import (
    LiveMetrics,
    LogTail,
    dead_letter_queues,
    render,
    snapshot,
    stack_dead_letter_queues,
    window_start,
)

NOW = 1_800_000_000.0


def emf(at: float, **metrics: list[float]) -> str:
    """One EMF line as powertools Metrics prints it."""
    return json.dumps({"_aws": {"Timestamp": int(at * 1000), "CloudWatchMetrics": [{
        "Namespace": "Timeline", "Dimensions": [["service"]],
        "Metrics": [{"Name": name, "Unit": "Milliseconds" if name == "FanoutLag" else "Count"} for name in metrics]}]},
        "service": "timeline", **metrics}, separators=(",", ":"))


def write(path: Path, *lines: str, end: str = "\n") -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + end)


class NoQueues:
    """An SQS client for tests that must not reach one."""

    def get_queue_attributes(self, **_kwargs):
        raise AssertionError("no queue expected")


class Depths:
    def __init__(self, **depths: int):
        self.depths = depths

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depths[QueueUrl])}}


def test_given_emf_lines_logs_and_a_half_written_line_then_the_snapshot_counts_the_complete_window(tmp_path):
    # Given the api and the worker logged over the last ten seconds, among other output,
    # and the worker is halfway through writing one more line
    api, worker = tmp_path / "ApiFunction.log", tmp_path / "FanoutWorkerFunction.log"
    write(api,
          emf(NOW - 30, PostsCreated=[50.0]),  # before the window
          json.dumps({"level": "INFO", "message": "a log line", "service": "timeline"}),
          emf(NOW - 8, PostsCreated=[1.0], CelebrityMerges=[0.0], PartialReads=[0.0]),
          emf(NOW - 4, PostsCreated=[1.0, 1.0], CelebrityMerges=[2.0], PartialReads=[1.0]),
          "Traceback (most recent call last):", '  File "app.py", line 1, in <module>')
    write(worker, emf(NOW - 6, TimelineEntriesWritten=[400.0], FanoutLag=[100.0, 300.0]),
          emf(NOW - 2, TimelineEntriesWritten=[300.0], FanoutLag=[200.0]))
    write(worker, emf(NOW - 1, TimelineEntriesWritten=[9999.0])[:40], end="")
    # When the window is read
    snap = snapshot(tmp_path, {}, window_s=10, now=NOW, sqs=NoQueues())
    # Then only complete lines inside the window count
    assert (snap["posts"], snap["entries"]) == (3, 700)
    assert (snap["posts_per_s"], snap["entries_per_s"]) == (0.3, 70.0)
    assert snap["lag_ms"] == {"p50": 200.0, "p99": 300.0, "max": 300.0, "count": 3}
    assert (snap["reads"], snap["merges_per_read"], snap["partial_reads"]) == (2, 1.0, 1)
    assert render(snap) == "metrics 10s: posts 0.3/s · entries 70/s · lag p50 200 ms p99 300 ms · merges/read 1.0 · partial 1"


def test_render_is_one_compact_line():
    snap = {"window_s": 10.0, "posts_per_s": 3.14, "entries_per_s": 410.2,
            "lag_ms": {"p50": 180.0, "p99": 900.0, "max": 950.0, "count": 40}, "merges_per_read": 0.42,
            "partial_reads": 0, "internal_errors": 0, "dlq": {"fanout": 0, "media": 0}, "dlq_total": 0}
    assert render(snap) == ("metrics 10s: posts 3.1/s · entries 410/s · lag p50 180 ms p99 900 ms · "
                            "merges/read 0.4 · partial 0 · DLQ 0")
    idle = dict(snap, posts_per_s=0.0, entries_per_s=0.0, lag_ms={"p50": None, "p99": None, "max": None, "count": 0},
                merges_per_read=None, dlq={"fanout": 2, "media": 0, "dispatch": None}, dlq_total=2,
                internal_errors=1, window_s=300.0)
    assert render(idle) == ("metrics 5m: posts 0/s · entries 0/s · lag – · merges/read – · partial 0 · 5xx 1 · "
                            "DLQ 2 (fanout 2)")


def test_given_a_line_written_in_pieces_then_the_tail_reads_it_once_when_its_newline_arrives(tmp_path):
    log = tmp_path / "FanoutWorkerFunction.log"
    log.touch()
    tail = LogTail(tmp_path)
    line = emf(NOW, TimelineEntriesWritten=[5.0])
    write(log, line[:25], end="")
    assert tail.read() == []
    write(log, line[25:], end="")
    assert tail.read() == []  # complete JSON, but no newline yet: the writer may not be done
    write(log, "", end="\n")
    assert [(s.name, s.values) for s in tail.read()] == [("TimelineEntriesWritten", (5.0,))]
    assert tail.read() == []
    tail.close()


def test_given_a_truncated_or_rotated_file_then_the_tail_follows_it_from_its_start(tmp_path):
    log = tmp_path / "ApiFunction.log"
    write(log, emf(NOW, PostsCreated=[1.0]), emf(NOW, PostsCreated=[2.0]))
    tail = LogTail(tmp_path)
    assert [s.values for s in tail.read()] == [(1.0,), (2.0,)]
    # When the file is truncated and written again
    log.write_text(emf(NOW, PostsCreated=[3.0]) + "\n")
    assert [s.values for s in tail.read()] == [(3.0,)]
    # When it is rotated: the old file gets its last line, a new file takes its place
    write(log, emf(NOW, PostsCreated=[4.0]))
    os.replace(log, tmp_path / "ApiFunction.log.1")
    write(log, emf(NOW, PostsCreated=[5.0]))
    assert sorted(s.values for s in tail.read()) == [(4.0,), (5.0,)]
    # And a function whose log appears later is read from its start
    write(tmp_path / "FanoutDispatchFunction.log", emf(NOW, FanoutMessagesQueued=[6.0]))
    assert [s.values for s in tail.read()] == [(6.0,)]
    tail.close()


def test_given_a_long_log_then_only_the_window_is_read_and_counted(tmp_path):
    # Given an hour of history (about 2 MB) before the last ten seconds
    log = tmp_path / "ApiFunction.log"
    old = [emf(NOW - 3600 + i * 0.1, PostsCreated=[1.0]) for i in range(30_000)]
    write(log, *old, *(emf(NOW - 5 + i, PostsCreated=[1.0]) for i in range(5)))
    assert log.stat().st_size > 1_000_000
    # When the last ten seconds are asked for
    snap = snapshot(tmp_path, {}, window_s=10, now=NOW, sqs=NoQueues())
    # Then the five recent posts count, and reading starts near the end, not at the hour's start
    assert snap["posts"] == 5
    size = log.stat().st_size
    with open(log, "rb") as handle:
        start = window_start(handle, size, NOW - 10)
    assert size - 100_000 < start < size


def test_given_dead_letters_then_the_line_counts_them_from_the_stacks_queues(h, tmp_path):
    # The queues, from the Stack in hand or (a command run on its own) through CloudFormation
    queues = dead_letter_queues(h.stack.outputs, h.stack.physical_ids)
    assert set(queues) == {"fanout", "media", "dispatch"}
    assert stack_dead_letter_queues(boto3.Session(region_name="us-east-1"), h.stack.name) == queues
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["fanout"], MessageBody="{}")
    sqs.send_message(QueueUrl=queues["fanout"], MessageBody="{}")
    try:
        snap = snapshot(tmp_path, queues, window_s=10, sqs=sqs)
        assert snap["dlq"] == {"fanout": 2, "media": 0, "dispatch": 0} and snap["dlq_total"] == 2
        assert render(snap).endswith("· DLQ 2 (fanout 2)")
    finally:
        sqs.purge_queue(QueueUrl=queues["fanout"])


def test_live_metrics_prints_when_the_line_changes_and_once_a_minute_while_idle(tmp_path):
    now = [NOW]
    printed: list[str] = []
    live = LiveMetrics(tmp_path, {"fanout": "q"}, interval=5, out=printed.append, window_s=10,
                       sqs=Depths(q=0), clock=lambda: now[0])
    # An idle stack: the line once, then nothing until a minute has passed
    assert live.tick() is not None
    now[0] += 5
    assert live.tick() is None
    now[0] += 56
    assert live.tick() is not None
    # A post: the line changes at once
    write(tmp_path / "ApiFunction.log", emf(now[0] - 1, PostsCreated=[20.0]))
    now[0] += 5
    assert live.tick() == "metrics 10s: posts 2.0/s · entries 0/s · lag – · merges/read – · partial 0 · DLQ 0"
    # And when it leaves the window, the line changes back
    now[0] += 10
    assert live.tick() == printed[0]
    assert len(printed) == 4


def test_live_metrics_runs_on_a_daemon_thread_until_stopped(tmp_path):
    printed: list[str] = []
    write(tmp_path / "ApiFunction.log", emf(time.time(), PostsCreated=[1.0]))
    live = LiveMetrics(tmp_path, {}, interval=0.02, out=printed.append).start()
    deadline = time.monotonic() + 5
    while not printed and time.monotonic() < deadline:
        time.sleep(0.01)
    live.stop()
    assert printed and printed[0].startswith("metrics 10s: posts 0.1/s")
    assert live._thread is None


# ------------------------------------------------------------------ value by value (issue 26)

def emf_units(at: float, units: dict[str, str], **metrics: list[float]) -> str:
    return json.dumps({"_aws": {"Timestamp": int(at * 1000), "CloudWatchMetrics": [{
        "Namespace": "Timeline", "Dimensions": [["service"]],
        "Metrics": [{"Name": name, "Unit": units.get(name, "Count")} for name in metrics]}]},
        "service": "timeline", **metrics}, separators=(",", ":"))


def test_given_ten_lags_then_describe_gives_their_statistics_never_their_sum():
    from infra.console.live_metrics import describe
    lags = [100.0, 120.0, 150.0, 180.0, 200.0, 250.0, 300.0, 400.0, 900.0, 193_343.0]  # sum 195,943
    text = describe("FanoutLag", "Milliseconds", lags)
    assert text == "FanoutLag ms: n=10 mean=19,594 p50=200 p99=193,343 max=193,343"
    assert "195,943" not in text and "195943" not in text
    # Counts are a count and a sum; one value is the value, with its unit
    assert describe("PostsCreated", "Count", [1.0, 1.0, 1.0]) == "PostsCreated: n=3 sum=3"
    assert describe("PostsCreated", "Count", [1.0]) == "PostsCreated=1"
    assert describe("FanoutLag", "Milliseconds", [241.0]) == "FanoutLag=241 ms"
    assert describe("CelebrityMerges", "Count", [0.0, 1.0, 2.0, 0.5]) == "CelebrityMerges: n=4 sum=3.5"


def test_given_an_emf_line_of_ten_lags_when_timeline_logs_shows_it_then_it_is_statistics_not_a_sum():
    """`FanoutLag=195943 (10 values)` read like a 196-second lag (issue 26)."""
    from infra.console.logs import format_line
    line = emf_units(NOW, {"FanoutLag": "Milliseconds"}, TimelineEntriesWritten=[40.0],
                     FanoutLag=[100.0, 120.0, 150.0, 180.0, 200.0, 250.0, 300.0, 400.0, 900.0, 193_343.0])
    shown = format_line(line).plain
    assert "METRIC" in shown and "TimelineEntriesWritten=40 · FanoutLag ms: n=10 mean=19,594 p50=200" in shown
    assert "(10 values)" not in shown and "195943" not in shown


def test_given_every_kind_of_metric_when_snapshotted_then_each_has_its_statistics_and_dispatched_posts_count(tmp_path):
    # Given the api created 2 posts, while dispatch brought 12 (the demo's, written as rows)
    write(tmp_path / "ApiFunction.log", emf(NOW - 5, PostsCreated=[1.0, 1.0], CelebrityMerges=[0.0, 2.0]))
    write(tmp_path / "FanoutDispatchFunction.log", emf(NOW - 4, PostsDispatched=[10.0]),
          emf(NOW - 3, PostsDispatched=[2.0], FanoutMessagesQueued=[5.0]))
    write(tmp_path / "FanoutWorkerFunction.log",
          emf_units(NOW - 2, {"FanoutLag": "Milliseconds"}, FanoutLag=[100.0, 300.0, 200.0]))
    # When the window is read
    snap = snapshot(tmp_path, {}, window_s=10, now=NOW, sqs=NoQueues())
    # Then the demo's posts are counted apart from the API's, and every metric is summarized
    assert (snap["posts"], snap["posts_dispatched"], snap["posts_dispatched_per_s"]) == (2, 12, 1.2)
    assert snap["metrics"]["FanoutLag"] == {"unit": "Milliseconds", "n": 3, "mean": 200.0, "p50": 200.0,
                                            "p99": 300.0, "max": 300.0}
    assert snap["metrics"]["PostsDispatched"] == {"unit": "Count", "n": 2, "sum": 12.0}
    assert set(snap["metrics"]) == {"PostsCreated", "CelebrityMerges", "PostsDispatched", "FanoutMessagesQueued",
                                    "FanoutLag"}
    # And the compact line says both
    assert render(snap).startswith("metrics 10s: posts 0.2/s · dispatched 1.2/s · entries 0/s")


def test_given_logs_when_timeline_metrics_runs_then_it_prints_every_metric_value_by_value(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from infra.console import metrics as metrics_cmd
    from infra.console.app import app
    now = time.time()
    write(tmp_path / "FanoutWorkerFunction.log",
          emf_units(now - 5, {"FanoutLag": "Milliseconds"}, TimelineEntriesWritten=[40.0],
                    FanoutLag=[100.0, 120.0, 150.0, 180.0, 200.0, 250.0, 300.0, 400.0, 900.0, 193_343.0]))
    write(tmp_path / "FanoutDispatchFunction.log", emf(now - 5, PostsDispatched=[12.0]))
    monkeypatch.setattr(metrics_cmd, "find_queues", lambda *_: None)
    result = CliRunner().invoke(app, ["metrics", "--log-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "FanoutLag ms: n=10 mean=19,594 p50=200 p99=193,343 max=193,343" in lines
    assert "PostsDispatched: n=1 sum=12" in lines and "TimelineEntriesWritten: n=1 sum=40" in lines
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in lines if line.count("│") == 4}
    assert rows["posts created"].startswith("0 ") and rows["posts dispatched"].startswith("12 ")
