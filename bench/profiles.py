"""Benchmark profiles: how big a graph and how much traffic per strategy.

`quick` is what `make bench` runs (under 3 minutes on 2 cores); `full` is `make bench
PROFILE=full` (under 15 minutes); `tiny` keeps the benchmark working in `make test`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    users: int  # accounts in the synthetic graph
    history_per_user: float  # posts written before the run, fanned out by the real pipeline
    reads: int  # home reads in the mixed workload (posts = reads / reads_per_post)
    follows: int
    unfollows: int
    deletes: int
    probe_posts: int  # isolated posts per strategy, authors drawn by posting rate (cost per post)
    probe_reads: int  # isolated home reads per strategy, readers drawn by read rate (cost per read)
    latency_reads: int  # reads by a reader following 0 and one following 5 celebrities
    extra_thresholds: int  # measured sweep points besides push, pull and hybrid
    table_sizes: tuple[int, ...]  # filler rows added for the read-latency-vs-table-size check
    ceiling_writes: int  # items in the raw BatchWriteItem measurement
    reads_per_post: float = 50.0  # Twitter: 300K home reads/s against 6K posts/s
    probes_per_post: int = 2  # followers polling for each post (delivery lag)
    preset: str = "kwak-2010"
    seed: int = 7


PROFILES = {
    "tiny": Profile("tiny", users=60, history_per_user=0.5, reads=30, follows=1, unfollows=1, deletes=1,
                    probe_posts=2, probe_reads=3, latency_reads=2, extra_thresholds=2, table_sizes=(),
                    ceiling_writes=250, reads_per_post=15.0),
    "quick": Profile("quick", users=200, history_per_user=0.6, reads=250, follows=3, unfollows=2, deletes=1,
                     probe_posts=8, probe_reads=20, latency_reads=12, extra_thresholds=2,
                     table_sizes=(2_000, 8_000), ceiling_writes=2_000),
    "full": Profile("full", users=1_000, history_per_user=1.0, reads=1_500, follows=10, unfollows=6, deletes=4,
                    probe_posts=30, probe_reads=40, latency_reads=40, extra_thresholds=3,
                    table_sizes=(10_000, 40_000), ceiling_writes=5_000),
}
