"""Results: the JSON every later change quotes, the targets, and the table printed at the end."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench import measure, model
from bench.measure import median, percentile
from bench.prices import ON_DEMAND_US_EAST_1 as PRICES

if TYPE_CHECKING:
    from bench.graph import Graph
    from bench.profiles import Profile
    from bench.runner import StrategyRun

MAIN = ("push", "pull", "hybrid")


def extra_thresholds(thresholds: dict[str, int], count: int) -> list[int]:
    """Measured sweep points besides push, pull and hybrid: evenly spaced in log(threshold)
    between pull and push, skipping the three already measured."""
    low, high = thresholds["pull"], thresholds["push"]
    taken = set(thresholds.values())
    points: list[int] = []
    for slots in range(count + 1, count + 12):
        candidates = [round(math.exp(math.log(low) + k / slots * (math.log(high) - math.log(low))))
                      for k in range(1, slots)]
        points = sorted({c for c in candidates if c not in taken})
        if len(points) >= count:
            return sorted(points[i * len(points) // count] for i in range(count))
    return points


def _per_op(run: StrategyRun) -> tuple[model.OpCounts, model.OpCounts, float]:
    """(mean counts per post drawn by posting rate, mean per home read, mean round trips)."""
    posts = [p.counts for p in run.post_probes if p.sampled]
    reads = [r.counts for r in run.read_probes]
    trips = sum(r.round_trips for r in run.read_probes) / max(1, len(run.read_probes))
    return measure.mean(posts), measure.mean(reads), trips


def _cost(per_op: tuple[model.OpCounts, model.OpCounts, float], reads_per_post: float) -> float:
    post, read, trips = per_op
    read = replace(read, sequential_round_trips=trips)
    return model.cost_per_million_ops({"post": post, "home_read": read}, PRICES, reads_per_post)


def _tail(run: StrategyRun, graph: Graph) -> dict:
    biggest = max(range(graph.n), key=lambda u: graph.followers_count[u])
    probe = next(p for p in run.post_probes if p.author == biggest)
    return {"followers": probe.followers, "write_requests": probe.counts.write_requests,
            "visible_s": probe.visible_s, "apply_s": probe.apply_s, "celebrity": probe.celebrity,
            "worker_ms": probe.worker_ms,
            # timeline entries the fan-out worker applies per second of its own (handler) time
            "entries_per_s": probe.followers / (probe.worker_ms / 1000) if probe.worker_ms else None}


def _strategy(run: StrategyRun, graph: Graph, profile: Profile) -> dict:
    per_op = _per_op(run)
    post, read, trips = per_op
    e2e = [r["ms"] for r in run.reads]
    handler = [r["handler_ms"] for r in run.reads if r.get("handler_ms") is not None]
    lags = [lag["lag_ms"] for lag in run.lags if not lag["celebrity"] and lag["lag_ms"] is not None]
    celebrity_lags = [lag["lag_ms"] for lag in run.lags if lag["celebrity"] and lag["lag_ms"] is not None]
    lost = sum(lag["lag_ms"] is None for lag in run.lags)
    by_celebrities: dict[int, dict] = {}
    for r in run.reads:
        slot = by_celebrities.setdefault(r["celebrities"], {"e2e": [], "handler": []})
        slot["e2e"].append(r["ms"])
        if r.get("handler_ms") is not None:
            slot["handler"].append(r["handler_ms"])
    for c, probe in run.latency_by_celebrities.items():
        slot = by_celebrities.setdefault(c, {"e2e": [], "handler": []})
        slot["e2e"] += probe["e2e"]
        slot["handler"] += probe["handler"]
    stages = [lag["stages"] for lag in run.lags if lag.get("stages")]
    return {
        "threshold": run.threshold,
        "celebrities": sum(f >= run.threshold for f in graph.followers_count),
        "home_read_p50_ms": median(e2e), "home_read_p99_ms": percentile(e2e, 99),
        "home_read_handler_p50_ms": median(handler), "home_read_handler_p99_ms": percentile(handler, 99),
        "post_p50_ms": median([p["ms"] for p in run.posts]),
        "delivery_p50_ms": median(lags), "delivery_p99_ms": percentile(lags, 99),
        "delivery_celebrity_p50_ms": median(celebrity_lags), "delivery_celebrity_p99_ms": percentile(celebrity_lags, 99),
        "celebrity_posts_on_first_read": (sum(lag["first_read"] for lag in run.lags if lag["celebrity"])
                                          / max(1, sum(lag["celebrity"] for lag in run.lags))),
        "delivery_never_seen": lost,
        "write_units_per_post": post.write_units, "write_requests_per_post": post.write_requests,
        "read_units_per_home_read": read.read_units, "read_requests_per_home_read": read.read_requests,
        "read_units_per_post": post.read_units, "read_requests_per_post": post.read_requests,
        "sequential_round_trips_per_home_read": trips,
        "max_sequential_round_trips_per_home_read": max((r.round_trips for r in run.read_probes), default=0),
        "sqs_messages_per_post": post.sqs_messages, "invocations_per_post": post.invocations,
        "cost_per_million_ops_usd": _cost(per_op, profile.reads_per_post),
        "read_latency_by_celebrities": [
            {"celebrities": c, "p50_ms": median(v["e2e"]), "p99_ms": percentile(v["e2e"], 99),
             "handler_p50_ms": median(v["handler"]), "n": len(v["e2e"])}
            for c, v in sorted(by_celebrities.items())],
        "delivery_lag_ms": sorted(lags), "delivery_lag_celebrity_ms": sorted(celebrity_lags),
        "delivery_samples": [{k: lag.get(k) for k in ("tweet", "celebrity", "lag_ms", "first_read", "stages")}
                             for lag in run.lags],
        "lag_by_stage_p50_ms": {k: median([s[k] for s in stages]) for k in ("stream", "dispatch", "queue",
                                                                             "worker", "visible")} if stages else {},
        "mixed_ops": run.mixed_ops,
        "fanout_history": {"entries": run.fanout_entries, "seconds": run.fanout_s},
        "tail": _tail(run, graph),
        "seconds": run.seconds,
    }


def _model_agreement(runs: dict[str, StrategyRun], rules: model.ProductRules, sizes: model.ItemSizes) -> dict:
    """The model's per-operation counts for exactly the probes that were measured, summed, against
    the measured sums: the capacity projection stands on these formulas."""
    measured_post, predicted_post = model.OpCounts(), model.OpCounts()
    measured_read, predicted_read = model.OpCounts(), model.OpCounts()
    for run in runs.values():
        rules = replace(rules, fresh_timeline_entries=run.timeline_entries_mean)
        for p in run.post_probes:
            measured_post += p.counts
            predicted_post = predicted_post + model.post_counts(p.followers, p.celebrity, rules, sizes,
                                                                author_trimmed=p.author_trimmed)
        for r in run.read_probes:
            measured_read += r.counts
            predicted_read = predicted_read + model.home_read_counts(
                r.celebrities, rules, sizes, distinct_authors=r.authors_hydrated, hydrated_posts=r.posts_hydrated)
    out = {}
    for kind, measured, predicted in (("post", measured_post, predicted_post), ("home_read", measured_read, predicted_read)):
        for field in ("write_requests", "write_units", "read_requests", "read_units", "sqs_messages", "invocations"):
            m, p = getattr(measured, field), getattr(predicted, field)
            if m or p:
                out[f"{kind}.{field}"] = {"measured": m, "model": p,
                                          "error": abs(p - m) / m if m else (0.0 if not p else 1.0)}
    return out


def _target(value, goal: str) -> dict:
    op, bound = goal.split(" ")
    met = value is not None and (value <= float(bound) if op == "<=" else value >= float(bound))
    return {"value": value, "goal": goal, "met": bool(met)}


def _targets(results: dict, runs: dict[str, StrategyRun], rules: model.ProductRules) -> dict:
    hybrid, ceiling = results["strategies"]["hybrid"], results["ceiling"]
    run = runs["hybrid"]
    raw_query = ceiling["raw_query_p50_ms"]
    # Quoted on the isolated latency probes (nothing else running) and the handler's own time
    # (Lambda's Duration): the gateway and the worker pipe are the local runtime's, not the read's.
    # A reader following 5 celebrities exists only where there are 5: the first strategy that has one.
    isolated = run.latency_by_celebrities
    zero = median(isolated[0]["handler"]) if 0 in isolated else None
    five = next((median(r.latency_by_celebrities[c]["handler"])
                 for r in sorted(runs.values(), key=lambda r: (r.name != "hybrid", -r.threshold))
                 for c in sorted(r.latency_by_celebrities, key=lambda c: abs(c - 5)) if 4 <= c <= 8), None)
    below = [p for p in run.post_probes if not p.celebrity]
    celebrity_posts = [p for r in runs.values() for p in r.post_probes if p.celebrity]
    excess_reads = [r.counts.read_requests - r.celebrities - r.hydration_batches - r.engagement_reads
                    for r in run.read_probes]
    # Per reader, the median chain over its reads: a chain is an upper bound on the code's
    # rounds (on an emulator that serves one request at a time, a call started late by the
    # scheduler can look sequential), so one read's worst case overstates the critical path.
    per_reader: dict[tuple, list[int]] = {}
    for r in run.read_probes:
        per_reader.setdefault((r.reader, r.celebrities), []).append(r.round_trips)
    for other in runs.values():
        for c, v in other.latency_by_celebrities.items():
            per_reader[(other.name, c)] = v["round_trips"]
    trips = [(key[1], median(v)) for key, v in per_reader.items() if v]
    trips_plain = [t for c, t in trips if c == 0]
    trips_celeb = [t for c, t in trips if 0 < c <= rules.read_pool_workers]
    cheapest = min(p["cost_per_million_ops_usd"] for p in results["sweep"])
    agreement = results["model_agreement"]
    return {
        "fanout_rate_vs_raw_batch_write": _target(results["fanout_rate"]["vs_raw_batch_write"], ">= 0.8"),
        "home_read_p50_vs_raw_query_no_celebrity": _target(zero / raw_query if zero else None, "<= 2"),
        "home_read_p50_vs_raw_query_5_celebrities": _target(five / raw_query if five else None, "<= 3"),
        "round_trips_home_read_no_celebrity": _target(max(trips_plain, default=None), "<= 2"),
        "round_trips_home_read_with_celebrities": _target(max(trips_celeb, default=None), "<= 3"),
        "write_requests_per_post_minus_ceil_F_over_25": _target(
            max((p.counts.write_requests - math.ceil(p.followers / rules.batch_write_max) for p in below),
                default=None), "<= 1"),
        "write_requests_per_celebrity_post": _target(
            max((p.counts.write_requests for p in celebrity_posts), default=None), "<= 1"),
        "read_requests_per_home_read_minus_celebrities_and_hydration": _target(max(excess_reads, default=None), "<= 2"),
        # the viewer's likes and reposts (two range Queries) and the counts (one BatchGetItem)
        "engagement_reads_per_home_read": _target(max((r.engagement_reads for r in run.read_probes), default=None),
                                                  "<= 3"),
        "delivery_p99_ms_non_celebrity": _target(hybrid["delivery_p99_ms"], "<= 1000"),
        # Merged from copies the pipeline writes (issue 23): within 2 s, no longer on the next read.
        "celebrity_posts_visible_within_2s": _target(
            max((p.seen_after_s for p in run.post_probes if p.celebrity and p.seen_after_s is not None),
                default=None), "<= 2"),
        "hybrid_cost_vs_cheapest_sweep_point": _target(hybrid["cost_per_million_ops_usd"] / cheapest, "<= 1.1"),
        "hybrid_tail_write_requests": _target(hybrid["tail"]["write_requests"], "<= 1"),
        "hybrid_tail_merged_at_read": _target(float(hybrid["tail"]["celebrity"]), ">= 1"),
        "model_vs_measured_max_error": _target(max((v["error"] for v in agreement.values()), default=None), "<= 0.1"),
    }


def hot_key_targets(results: dict) -> dict:
    """Issue 23's: the model keeps every key at or below half its partition's limit at
    twitter-2013; on the local stack, the hot-celebrity run is not throttled where the design
    before was, its model units agree with the emulator's meter, its posts show within 2 s, and
    the run above its limit answers no 500; the follow storm on a celebrity is not throttled
    where the same storm on an ordinary account (the path every follow took before) is, and
    counts every follow exactly."""
    hot, storm = results["hot_celebrity"], results["follow_storm"]
    ratio = hot["model_units"]["ratio"]
    return {
        "hot_keys_max_share_of_limit_twitter_2013": _target(
            max(r["share_of_limit"] for r in results["hot_keys"]["after"]), "<= 0.5"),
        "hot_celebrity_throttled_before": _target(hot["before"]["throttled"], ">= 1"),
        "hot_celebrity_throttled": _target(hot["throttled"], "<= 0"),
        "hot_celebrity_model_units_error": _target(abs(ratio - 1) if ratio is not None else None, "<= 0.1"),
        "hot_celebrity_staleness_p99_ms": _target(hot["staleness_p99_ms"], "<= 2000"),
        "hot_celebrity_over_limit_500s": _target(hot["over_limit"]["errors_500"], "<= 0"),
        "follow_storm_throttled_ordinary_path": _target(storm["ordinary"]["throttled"], ">= 1"),
        "follow_storm_throttled": _target(storm["throttled"], "<= 0"),
        "follow_storm_count_exact": _target(float(storm["count_exact"] and storm["ordinary"]["count_exact"]), ">= 1"),
        "follow_storm_500s": _target(storm["errors_500"] + storm["ordinary"]["errors_500"], "<= 0"),
    }


def build(profile: Profile, graph: Graph, thresholds: dict[str, int], runs: dict[str, StrategyRun],
          rules: model.ProductRules, started: float) -> dict:
    from bench import graph as graphs

    measured_sizes = runs["hybrid"].item_sizes
    sizes, _ = model.measured_sizes(measured_sizes)
    strategies = {name: _strategy(runs[name], graph, profile) for name in MAIN}
    measured_sweep = []
    for run in sorted(runs.values(), key=lambda r: r.threshold):
        per_op = _per_op(run)
        post, read, _ = per_op
        tail = _tail(run, graph)
        measured_sweep.append({"threshold": run.threshold, "measured": True, "strategy": run.name,
                               "write_units_per_post": post.write_units, "read_units_per_home_read": read.read_units,
                               "cost_per_million_ops_usd": _cost(per_op, profile.reads_per_post),
                               "tail_write_requests": tail["write_requests"], "tail_visible_s": tail["visible_s"]})
    measured_at = {p["threshold"] for p in measured_sweep}
    grid = sorted({max(1, round(math.exp(k / 12 * math.log(thresholds["push"])))) for k in range(13)} - measured_at)
    modelled = [{**p, "measured": False} for p in model.sweep(graph, grid, rules, sizes, PRICES, profile.reads_per_post)]
    ceiling = runs["hybrid"].ceiling or {}
    results = {
        "profile": profile.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "emulator": "moto " + _version("moto")},
        "graph": {"preset": profile.preset, "users": graph.n, "follows": graph.edges, "fitted": graphs.fit(graph),
                  "targets": graphs.TARGETS.get(profile.preset, {})},
        "ceiling": ceiling,
        "strategies": strategies,
        "hybrid_threshold": thresholds["hybrid"],
        "threshold_rule": (model.threshold_rule.__doc__ or "").strip().split("\n\n")[0],
        "posts_by_followers": [{"strategy": run.name, "followers": p.followers, "write_units": p.counts.write_units,
                                "write_requests": p.counts.write_requests, "celebrity": p.celebrity}
                               for run in runs.values() if run.name in MAIN for p in run.post_probes],
        "table_size": runs["hybrid"].table_size,
        "sweep": sorted(measured_sweep + modelled, key=lambda p: p["threshold"]),
        "item_sizes": measured_sizes,
        "model_agreement": _model_agreement(runs, rules, sizes),
        "duration_s": time.perf_counter() - started,
    }
    results["read_reference"] = _read_reference(runs, ceiling)
    results["fanout_rate"] = _fanout_rate(runs["push"], ceiling)
    results["targets"] = _targets(results, runs, rules)
    return results


def _fanout_rate(push: StrategyRun, ceiling: dict) -> dict:
    """Timeline entries the fan-out worker applies per second of its own time, over the push
    stack's probe posts with at least 100 followers (four or more BatchWriteItems, so the
    invocation's fixed cost does not dominate). Trims run in that time too: they are part of
    applying entries."""
    big = [p for p in push.post_probes if not p.celebrity and p.followers >= 100 and p.worker_ms]
    entries, ms = sum(p.followers for p in big), sum(p.worker_ms for p in big)
    rate = entries / (ms / 1000) if ms else None
    raw = ceiling.get("raw_batch_write_items_per_s")
    return {"posts": len(big), "entries": entries, "worker_ms": ms, "entries_per_s": rate,
            "vs_raw_batch_write": rate / raw if rate and raw else None}


def _read_reference(runs: dict[str, StrategyRun], ceiling: dict) -> list[dict]:
    """The isolated home reads the latency targets quote, with where their time went: inside
    AWS calls (the emulator) or in the handler's own code."""
    rows = []
    for run in runs.values():
        for celebrities, probe in sorted(run.latency_by_celebrities.items()):
            handler, in_calls = median(probe["handler"]), median(probe["in_calls"])
            rows.append({"strategy": run.name, "celebrities": celebrities, "reads": len(probe["handler"]),
                         "handler_p50_ms": handler, "in_aws_calls_p50_ms": in_calls,
                         "own_code_p50_ms": handler - in_calls if handler is not None and in_calls is not None
                         else None,
                         "round_trips": max(probe["round_trips"], default=None),
                         "vs_raw_query": handler / ceiling["raw_query_p50_ms"] if handler and ceiling else None})
    return rows


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def write(results: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["created_at"].replace(":", "").replace("-", "")
    paths = [out_dir / "latest.json", out_dir / f"{stamp}-{results['profile']}.json"]
    for path in paths:
        path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    return paths


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(results: dict) -> str:
    rows = [("", *MAIN),
            ("CelebrityThreshold", *(_fmt(results["strategies"][s]["threshold"]) for s in MAIN)),
            ("home read p50 / p99 ms", *(f"{_fmt(results['strategies'][s]['home_read_p50_ms'])} / "
                                          f"{_fmt(results['strategies'][s]['home_read_p99_ms'])}" for s in MAIN)),
            ("  handler p50 ms", *(_fmt(results["strategies"][s]["home_read_handler_p50_ms"]) for s in MAIN)),
            ("post p50 ms", *(_fmt(results["strategies"][s]["post_p50_ms"]) for s in MAIN)),
            ("delivery p50 / p99 ms", *(f"{_fmt(results['strategies'][s]['delivery_p50_ms'], 0)} / "
                                         f"{_fmt(results['strategies'][s]['delivery_p99_ms'], 0)}" for s in MAIN))]
    for field, label in (("write_requests_per_post", "write requests / post"), ("write_units_per_post", "WCU / post"),
                         ("read_requests_per_home_read", "read requests / home read"),
                         ("read_units_per_home_read", "RCU / home read"),
                         ("sequential_round_trips_per_home_read", "round trips / home read"),
                         ("sqs_messages_per_post", "SQS messages / post"), ("invocations_per_post", "invocations / post"),
                         ("cost_per_million_ops_usd", "USD / million ops")):
        rows.append((label, *(_fmt(results["strategies"][s][field], 2) for s in MAIN)))
    rows.append(("tail: biggest post requests / s", *(
        f"{_fmt(results['strategies'][s]['tail']['write_requests'], 0)} / "
        f"{_fmt(results['strategies'][s]['tail']['visible_s'], 2)}" for s in MAIN)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += ["", "targets:"]
    for name, t in results["targets"].items():
        lines.append(f"  {'met   ' if t['met'] else 'MISSED'} {name}: {_fmt(t['value'], 2)} (goal {t['goal']})")
    c = results["ceiling"]
    lines.append(f"emulator ceiling: raw Query p50 {_fmt(c.get('raw_query_p50_ms'), 2)} ms, "
                 f"raw BatchWriteItem {_fmt(c.get('raw_batch_write_items_per_s'), 0)} items/s")
    return "\n".join(lines)

