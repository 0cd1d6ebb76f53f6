"""The benchmark keeps working: `python -m bench run --profile tiny` end to end on the real
local stack, checked for the shape of its results and for the counts it measured (never a
time: performance is the benchmark's business, not the tests')."""

from __future__ import annotations

import json
import math

import pytest

from bench.cli import run_benchmark
from bench.runner import StrategyRun

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server

STRATEGY_FIELDS = {"home_read_p50_ms", "home_read_p99_ms", "post_p50_ms", "delivery_p50_ms", "delivery_p99_ms",
                   "write_units_per_post", "write_requests_per_post", "read_units_per_home_read",
                   "read_requests_per_home_read", "sequential_round_trips_per_home_read", "sqs_messages_per_post",
                   "invocations_per_post", "cost_per_million_ops_usd"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Given the tiny profile run once, end to end (three strategies plus two sweep points)."""
    out = tmp_path_factory.mktemp("bench")
    runs: dict[str, StrategyRun] = {}
    results = run_benchmark("tiny", out, plots=True, keep_runs=runs)
    return results, runs, out


def test_when_the_bench_runs_then_it_writes_results_in_the_documented_shape(tiny):
    _results, _, out = tiny
    on_disk = json.loads((out / "latest.json").read_text())
    assert on_disk["profile"] == "tiny" and set(on_disk) >= {"profile", "machine", "graph", "ceiling", "strategies",
                                                             "sweep", "targets"}
    assert set(on_disk["ceiling"]) >= {"raw_query_p50_ms", "raw_batch_write_items_per_s"}
    assert set(on_disk["strategies"]) == {"push", "pull", "hybrid"}
    for strategy in on_disk["strategies"].values():
        assert set(strategy) >= STRATEGY_FIELDS
    assert len([p for p in on_disk["sweep"] if p["measured"]]) >= 5
    for point in on_disk["sweep"]:
        assert {"threshold", "write_units_per_post", "read_units_per_home_read", "cost_per_million_ops_usd"} <= set(point)
    for target in on_disk["targets"].values():
        assert set(target) == {"value", "goal", "met"}
    assert {p.name for p in out.glob("*.png")} >= {"read_latency_vs_celebrities.png", "write_units_vs_followers.png",
                                                   "delivery_lag_cdf.png", "threshold_sweep.png"}


def test_then_the_hot_celebrity_runs_report_throttles_units_and_no_500(tiny):
    """Issue 23: the hot-celebrity scenario's three runs (the design before, the copies, and
    the copies above their limit) in the documented shape; with copies no request is
    throttled, the model's units for the run agree with the emulator's meter, and the run above
    the limit answers no 500 (its throttled reads are retried, or the page is marked partial)."""
    results, _, out = tiny
    hot = results["hot_celebrity"]
    fields = {"readers", "reads", "throttled", "read_p50_ms", "read_p99_ms", "staleness_p99_ms",
              "partition_limit_scale", "errors_500", "partial_pages", "hot_keys", "model_units"}
    for run in (hot, hot["before"], hot["over_limit"]):
        assert fields <= set(run) and run["reads"] > 0
    assert hot["before"]["celebrity_copy_shards"] == 0 and hot["celebrity_copy_shards"] > 0
    assert hot["throttled"] == 0
    for run in (hot, hot["before"]):
        assert abs(run["model_units"]["ratio"] - 1) <= 0.1, run["model_units"]
    assert hot["over_limit"]["errors_500"] == 0 and hot["before"]["errors_500"] == 0
    assert {r["key"] for r in results["hot_keys"]["after"]} >= {r["key"] for r in results["hot_keys"]["before"]}
    assert set(results["hot_keys"]["after"][0]) >= {"key", "table", "peak_rcu_per_s", "peak_wcu_per_s",
                                                   "limit_rcu_per_s", "limit_wcu_per_s", "share_of_limit"}
    assert (out / "hot_keys.png").exists()


def test_then_the_follow_storm_is_throttled_on_the_ordinary_path_and_not_on_the_storm_path(tiny):
    """Issue 23's follow storm on the local stack: the same storm of follows, at partition
    limits scaled down, against an ordinary account (each follow's transaction counts on its
    profile and writes its own graph partition) and against a celebrity (the storm path: none of
    its items in the transaction, edges over its shards, the count from the stream)."""
    results, _, _ = tiny
    storm = results["follow_storm"]
    fields = {"followers", "followed", "statuses", "throttled", "follow_p50_ms", "follow_p99_ms",
              "followers_count", "count_exact", "partition_limit_scale", "hot_keys", "errors_500"}
    for run in (storm, storm["ordinary"]):
        assert fields <= set(run) and run["errors_500"] == 0
        assert run["count_exact"], run  # every acknowledged follow counted once, on either path
    assert storm["ordinary"]["throttled"] > 0
    assert storm["throttled"] == 0 and storm["followed"] == storm["followers"]
    assert max(c["share_of_limit"] for c in storm["hot_keys"]) <= 0.5, storm["hot_keys"]
    for target in ("follow_storm_throttled", "follow_storm_count_exact", "follow_storm_500s"):
        assert results["targets"][target]["met"], results["targets"][target]


def test_then_a_post_costs_its_own_writes_plus_one_batch_write_per_25_timeline_entries(tiny):
    """One transaction for the post, its author's own entry and its Idempotency-Key's claim:
    1 write. A post below the threshold adds BatchWriteItems of 25 for its followers,
    one message per 200 of them; a celebrity's none, and queues none. Either may queue a trim
    of the author's own timeline (one post in TimelineMax // 8), which deletes nothing here."""
    _, runs, _ = tiny
    probes = [p for run in runs.values() for p in run.post_probes]
    assert any(p.celebrity for p in probes) and any(not p.celebrity for p in probes)
    for p in probes:
        if p.celebrity:
            assert (p.counts.write_requests, p.counts.sqs_messages) == (1, p.author_trimmed), p
        else:
            assert p.counts.write_requests == 1 + math.ceil(p.followers / 25), p
            assert p.counts.sqs_messages == math.ceil(p.followers / 200) + p.author_trimmed, p
        assert p.counts.write_units >= p.counts.write_requests


def test_then_a_home_read_costs_two_lookups_one_query_per_celebrity_and_the_hydration(tiny):
    """The celebrity edges and the timeline page; the reader's profile rides along with the
    authors' BatchGetItem; beside the hydration, the page's engagement: the reader's likes and
    reposts (two range Queries) and the posts' counts (one BatchGetItem), none when the page is
    empty. No write (the profile records a visit at most once a day, and the run's users were
    seeded as seen now)."""
    _, runs, _ = tiny
    for run in runs.values():
        for r in run.read_probes:
            assert r.counts.write_requests == 0
            assert r.counts.read_requests == 2 + r.celebrities + r.hydration_batches + r.engagement_reads, (run.name, r)
            # per hydration round: the two Queries (the page's posts within hours of each other: one
            # range) and the counts' BatchGetItem (the bench reads counts uncached)
            assert (r.engagement_reads == 0 if not r.hydration_batches
                    else 3 <= r.engagement_reads <= 3 * r.hydration_batches), (run.name, r)
            assert r.posts_hydrated <= 25  # a page of 20 and its overfetch, however many sources


def test_then_pull_merges_every_followee_and_push_none(tiny):
    results, runs, _ = tiny
    assert results["strategies"]["push"]["celebrities"] == 0
    assert all(r.celebrities == 0 for r in runs["push"].read_probes)
    graph_followers = results["graph"]["follows"]
    assert graph_followers > 0
    assert all(p.celebrity for p in runs["pull"].post_probes if p.followers >= 1)


def test_then_the_capacity_model_agrees_with_the_measured_counts_within_ten_percent(tiny):
    results, _, _ = tiny
    agreement = results["model_agreement"]
    assert agreement, "the model was compared with nothing"
    off = {name: v for name, v in agreement.items() if v["error"] > 0.10}
    assert not off, off


def test_then_every_probed_post_was_seen_by_its_probe_followers(tiny):
    results, _, _ = tiny
    for strategy in results["strategies"].values():
        assert strategy["delivery_never_seen"] == 0
