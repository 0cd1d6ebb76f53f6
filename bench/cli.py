"""`make bench`: push, pull and hybrid fan-out side by side on the real local stack.

    python -m bench run [--profile quick|full|tiny] [--out bench/results]
    python -m bench capacity --preset twitter-2013 [--users N --posts-per-s X --reads-per-s Y]

`run` writes bench/results/latest.json (and a timestamped copy), PNG plots next to it, and
ends with a table on stdout; progress goes to stderr. `capacity` projects per-operation
counts to a target scale (see bench.model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmark")
    run.add_argument("--profile", default="quick", help="tiny, quick (default) or full")
    run.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    run.add_argument("--no-plots", dest="plots", action="store_false")
    sub.add_parser("capacity", help="project per-operation counts to a target scale", add_help=False)
    return parser.parse_known_args(argv)[0]


def run_benchmark(profile_name: str, out_dir: Path, *, plots: bool = True, keep_runs: dict | None = None) -> dict:
    from bench import follow_storm, hot_celebrity, hot_keys, model, report, workload
    from bench import graph as graphs
    from bench.prices import ON_DEMAND_US_EAST_1 as PRICES
    from bench.profiles import PROFILES
    from bench.runner import Bench, Progress
    from infra.runtime import Emulator, use_fake_credentials

    if profile_name not in PROFILES:
        raise SystemExit(f"unknown profile {profile_name!r}; have {', '.join(PROFILES)}")
    profile = PROFILES[profile_name]
    progress = Progress()
    logging.basicConfig(level=logging.WARNING, force=True)
    for noisy in ("werkzeug", "moto", "botocore", "infra"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    use_fake_credentials(os.environ.get("AWS_REGION") or "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # the benchmark always embeds its own emulator

    progress.say(f"profile {profile.name}: generating the {profile.preset} graph of {profile.users} users "
                 f"(seed {profile.seed})")
    graph = graphs.generate(graphs.GraphSpec(profile.preset, profile.users, profile.seed))
    for statistic, fitted, target in graphs.describe(graph):
        progress.say(f"  {statistic:<28} {fitted:>12}   target {target}")
    rules, sizes = model.ProductRules(), model.ItemSizes()
    thresholds = {"hybrid": model.threshold_rule(graph, rules, sizes, PRICES, profile.reads_per_post),
                  "push": max(graph.followers_count) + 1, "pull": 1}
    oplog = workload.build(graph, reads=profile.reads, reads_per_post=profile.reads_per_post,
                           follows=profile.follows, unfollows=profile.unfollows, deletes=profile.deletes,
                           probes_per_post=profile.probes_per_post, seed=profile.seed)
    progress.say(f"thresholds: {thresholds}; op log: {len(oplog.ops)} operations "
                 f"({oplog.count('read')} reads, {oplog.count('post')} posts)")

    emulator = Emulator.start(0)
    bench = Bench(profile, graph, oplog, emulator.endpoint_url, out_dir, progress)
    runs = {}
    try:
        runs["hybrid"] = bench.run_strategy("hybrid", thresholds["hybrid"], mixed=True, ceiling=True,
                                            table_size=bool(profile.table_sizes))
        runs["push"] = bench.run_strategy("push", thresholds["push"], mixed=True)
        runs["pull"] = bench.run_strategy("pull", thresholds["pull"], mixed=True)
        for threshold in report.extra_thresholds(thresholds, profile.extra_thresholds):
            runs[f"t{threshold}"] = bench.run_strategy(f"t{threshold}", threshold, mixed=False)
        hot = hot_celebrity.run(emulator.endpoint_url, out_dir, hot_celebrity.PROFILES[profile.name], progress.say)
        storm = follow_storm.run(emulator.endpoint_url, out_dir, follow_storm.PROFILES[profile.name], progress.say)
    finally:
        emulator.stop()
    if keep_runs is not None:
        keep_runs.update(runs)  # the raw measurements, for tests
    results = report.build(profile, graph, thresholds, runs, rules, progress.started)
    results["hot_celebrity"] = hot
    results["follow_storm"] = storm
    results.update(hot_keys.report_section(model.SCALE_PRESETS["twitter-2013"], model.measured_sizes(
        results["item_sizes"])[0]))
    results["targets"].update(report.hot_key_targets(results))
    progress.say("projecting to Twitter's scale (bench.model, twitter-2013) with the measured item sizes")
    preset = model.SCALE_PRESETS["twitter-2013"]
    sizes, measured = model.measured_sizes(results["item_sizes"])
    scale = model.projection(preset, sizes)
    results["capacity"] = {k: v for k, v in scale.items() if not k.startswith("_")}
    results["rate_aware"] = _jsonable(model.rate_aware_analysis(graph, rules, model.ItemSizes(), PRICES,
                                                                profile.reads_per_post))
    written = report.write(results, out_dir)
    capacity = model.capacity_report(
        preset, scale, f"measured ({', '.join(measured)}) from {os.path.relpath(out_dir / 'latest.json')}")
    copies = hot_keys.copies_cost(preset, sizes, PRICES, hot_keys.after_design(preset, sizes))
    results["capacity"]["celebrity_copies"] = _jsonable(copies)
    capacity += (f"\n\nCelebrity copies (bench.hot_keys, docs/hot-keys.md): {copies['copied_celebrities']:,.0f} accounts "
                 f"with at least {copies['copies_min_followers']:,.0f} followers copied to "
                 f"{copies['celebrity_copy_shards']} shards add ${copies['monthly_usd']['total']:,.0f}/month "
                 f"(read units per home read {copies['read_units_per_home_read_before']:.2f} -> "
                 f"{copies['read_units_per_home_read_after']:.2f}); the hybrid with them, its hot keys within "
                 f"their partitions: ${copies['hybrid_monthly_usd'] + copies['monthly_usd']['total']:,.0f}/month")
    (out_dir / "capacity-twitter-2013.txt").write_text(capacity + "\n")
    written.append(out_dir / "capacity-twitter-2013.txt")
    if plots:
        from bench.plots import plot_all
        written += plot_all(results, out_dir)
    print(report.table(results))
    print("\n" + capacity)
    progress.say("wrote " + ", ".join(str(p.relative_to(out_dir.parent)) if p.is_relative_to(out_dir.parent)
                                      else str(p) for p in written))
    return results


def _jsonable(value):
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.command == "capacity":
        from bench.model import capacity_main
        return capacity_main(argv[argv.index("capacity") + 1:]) or 0
    started = time.perf_counter()
    results = run_benchmark(args.profile, args.out, plots=args.plots)
    missed = [name for name, t in results["targets"].items() if not t["met"]]
    print(f"\n{len(results['targets']) - len(missed)}/{len(results['targets'])} targets met"
          + (f"; missed: {', '.join(missed)}" if missed else "") + f" ({time.perf_counter() - started:.0f}s)")
    json.dumps(results)  # fail loudly here rather than in a later reader
    return 0
