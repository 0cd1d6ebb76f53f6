"""Hot keys: where the capacity model's units land, one key at a time (issue 23).

bench.model counts the units a post and a home read cost and multiplies them by a preset's
rates; DynamoDB also caps what ONE partition serves: 3,000 read units and 1,000 write units
a second, for tables and global secondary indexes alike
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
Adaptive capacity isolates a hot item on a partition of its own, and split-for-heat divides
an item collection by sort-key range, but neither ever splits one item, and neither helps
reads that all want the same newest range of one partition key. This module puts the
model's units on the keys that concentrate them, for a design: `before` (the code as it is)
and `after` (celebrity copies and follower-count shards, being built now), so one function
computes both and the table says which key is over its partition's limit and by how much.

Units follow bench.model: eventually consistent reads are 0.5 unit per 4 KB, strongly
consistent 1; a Query rounds the sum of its items up once; a BatchGetItem rounds each item;
a write is 1 unit per KB, at least 1; TransactWriteItems costs each item's units twice. A
Query with a projection is billed for the whole items it reads, not what it returns.

    python -m bench.hot_keys --preset twitter-2013 [--plot PATH] [--markdown]

prints the per-key table before and after, the account quotas to raise before launch, and
what the copies cost. `report_section` gives the same for a benchmark's results JSON.

Adding rows (search, trends): write `def my_rows(ctx: Context) -> list[dict]` that returns
`row(...)` dicts (or [] when the design has no such key) and append it to ROW_FUNCTIONS; a
row's `key` names the class the same way in every design, so before and after pair up.

Every figure here is model output at a preset's rates, not a measurement.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from bench import graph as graphs
from bench import model
from bench.model import (
    CALL_LATENCY_S,
    DYNAMODB_ITEM_OVERHEAD,
    HANDLER_OVERHEAD_S,
    SCALE_PRESETS,
    SECONDS_PER_MONTH,
    TRANSACTION_FACTOR,
    ItemSizes,
    ProductRules,
    ScalePreset,
)
from bench.prices import ON_DEMAND_US_EAST_1, Prices

AS_OF = "2026-12-08"

# DynamoDB's per-partition throughput (tables and GSIs alike): "Burst and adaptive capacity" /
# "Best practices for designing and using partition keys effectively" in the developer guide.
PARTITION_RCU_PER_S = 3000.0
PARTITION_WCU_PER_S = 1000.0
TARGET_SHARE = 0.5  # headroom the design keeps on any one key: half its partition's limit

# The after-design's celebrity copies (CelebrityCopiesTable, written by fanout_dispatch).
COPY_EXTRA_BYTES = 110  # shard key, via/original ids, the authors' handle, display_name, created_at
COPY_KEEP = 200  # copies a shard keeps, newest first
COPY_TRIM_INTERVAL = 8  # about one post in 8 trims a shard: a keys-only Query, then ~8 deletes
DEEP_READ_SHARE = 0.01  # merges that page below a shard's oldest copy and fall back to ByAuthor
# A per-partition tally mark on a celebrity's profile (store/users.py UserStore.tally): "s63" and
# a stream sequence number of ~22 digits.
TALLY_MARK_BYTES = 16
LAMBDA_STREAM_POLLS_PER_S = 4.0  # Lambda polls each DynamoDB stream shard 4 times a second
# Sign-in as service/accounts.py does it: the address's and the handle's window (UpdateItem each),
# the back-off's consistent GetItem, the handle claim, Cognito's AdminInitiateAuth, the profile.
SIGN_IN_CALLS = 6


@dataclass(frozen=True)
class Design:
    """What the service does about hot keys. `celebrity_copy_shards` K = 0: no copies (a merge
    Queries the celebrity's ByAuthor partition and hydrates what it shows, as today); K > 0:
    every celebrity post is copied to K shards of CelebrityCopiesTable, each keeping the newest
    `copy_keep`, and a merge reads one shard (crc32(reader) % K), except `deep_read_share` of
    merges, which page below the shard's oldest copy and read ByAuthor as today.
    `follower_shards` F: 0, a follow's follower edge and tombstone land in the followee's own
    GraphTable partition; F > 0, a celebrity's land in one of F shards of it.
    `stream_tally_batch` N: 0, every follow's transaction ADDs to the followee's profile under a
    condition on its celebrity flag (today); N > 0, a celebrity's follows leave its profile out
    of the transaction and the graph stream counts them, one UpdateItem per batch of up to N
    records of its partition (store/users.py UserStore.tally).
    `copies_min_followers`: only celebrities with at least this many followers get copies (0:
    every celebrity, the design as specified; copies_min_followers_needed gives the variant that
    copies only the accounts whose ByAuthor partition would otherwise be too hot)."""

    celebrity_copy_shards: int = 0
    copy_keep: int = 0
    deep_read_share: float = 1.0
    stream_tally_batch: int = 0
    # A celebrity's storm-path follows put their follower edge and tombstone in one of this many
    # shard partitions, by the follower's hash (store/graph.py FOLLOWER_SHARDS); 0: its own.
    follower_shards: int = 0
    stream_window_s: float = 0.0  # the graph stream's MaximumBatchingWindowInSeconds (the tally's batches)
    copies_min_followers: float = 0.0
    # A container that found a rate-limit window full refuses the rest of that window without a
    # request (store/rate_limits.py): a flood costs the window item one write per container.
    remember_full_windows: bool = False
    # A container reuses a celebrity's profile as a follow target for this many seconds
    # (service/social.py CELEBRITY_TARGET_TTL_S); 0: read on every follow.
    celebrity_target_ttl_s: float = 0.0
    # A post's likes, reposts and replies (issue 26): 0, each ADDs to one counter on the post (the
    # naive design); E > 0, each is an edge in one of E partitions of the post, counted into its
    # counts item by the graph stream, one UpdateItem per batch (store/engagement.py).
    engagement_shards: int = 0
    engagement_batch: int = 0  # the graph stream's BatchSize: a batch's records count with one update
    counts_cache_s: float = 0.0  # template CountsCacheSeconds: a container reuses a post's counts this long
    counts_replicas: int = 0  # a hot post's counts are also in this many replicas, each container reading one
    thread_shards: int = 1  # a post's replies over this many ByThread partitions (store/tables.py)

    def copied(self, followers) -> np.ndarray:
        """Which of these celebrities (by follower count) get copies."""
        return (np.asarray(followers, dtype=float) >= self.copies_min_followers) & (self.celebrity_copy_shards > 0)

    def by_author_share(self, followers: float) -> float:
        """Share of the merges of a celebrity with `followers` that Query its ByAuthor partition
        (and hydrate from TweetsTable): all of them without copies, the deep reads with."""
        return self.deep_read_share if bool(self.copied(followers)) else 1.0


BEFORE = Design(celebrity_copy_shards=0, copy_keep=0, deep_read_share=1.0, stream_tally_batch=0)


@dataclass(frozen=True)
class Scenario:
    """The situations the rows describe (assumptions, not the design); each is a parameter."""

    follow_storm_per_s: float = 5_000.0  # follows/s of one account in a storm
    heavy_following: int = 5_000  # the heavy follower's followees: template MaxFollowing, the cap
    prolific_share: float = 0.01  # ... drawn from this most prolific share of posters
    heavy_reads_per_s: float = 1.0  # the heavy follower's own home reads
    nat_users: int = 10_000  # users behind one carrier-grade NAT address
    sign_in_every_days: float = 30.0  # one sign-in per active user per this many days (RefreshTokenValidity)
    refreshes_per_user_per_day: float = 1.0  # token refreshes (AccessTokenValidity is 60 minutes)
    profile_views_per_s: float = 0.0  # views of the largest account's profile page
    posts_per_minute: int = 30  # one account's peak posting rate: template PostRateLimitPerMinute
    route_throttle_per_s: float = 1_000.0  # template HttpApi DefaultRouteSettings ThrottlingRateLimit
    key_retries_per_s: float = 1.0  # a client retrying one Idempotency-Key
    other_requests_per_s: float = 0.0  # API calls besides home reads, posts, sign-ins and refreshes
    viral_likes_per_s: float = 50_000.0  # likes/s of one viral post at its peak (issue 26)
    viral_reposts_per_s: float = 2_500.0  # ... its reposts (assumed 1 for every 20 likes)
    viral_replies_per_s: float = 2_500.0  # ... its replies (assumed 1 for every 20 likes)
    spike_factor: float = 2.0  # a breaking-news spike multiplies every rate by this ...
    spike_ramp_s: float = 10.0  # ... within this many seconds


SCENARIO = Scenario()


# ------------------------------------------------------------------------------ the context
@lru_cache(maxsize=8)
def _population(graph_preset: str, users: int) -> model.Population:
    return model.degree_model(graph_preset, users)


@lru_cache(maxsize=16)
def _expected_counts(graph_preset: str, users: int, threshold: int, rules: ProductRules,
                     sizes: ItemSizes) -> dict[str, model.OpCounts]:
    return model.expected_counts(_population(graph_preset, users), threshold, rules, sizes)


@lru_cache(maxsize=16)
def _reader_state(graph_preset: str, users: int, threshold: int, rules: ProductRules):
    pop = _population(graph_preset, users)
    return model._reader_state(pop, pop.followers >= threshold, rules)


@lru_cache(maxsize=32)
def default_largest_followers(graph_preset: str, users: int) -> float:
    """The preset's most-followed account: bench.graph.follower_profile's top rank, which
    degree_model uses too (31M at twitter-2013: Lady Gaga's followers over 150M users)."""
    p = graphs.PRESETS[graph_preset]
    head, _ = graphs.follower_profile(users, p["mean_following"], p["follower_exponent"],
                                      p["top_account_share"], p["reference_users"])
    return float(head[0]) if len(head) else min(graphs.TOP_SHARE_CAP, p["top_account_share"]) * users


def copy_bytes(sizes: ItemSizes) -> int:
    """A celebrity copy: ItemSizes.celebrity_copy if measured, else the post plus COPY_EXTRA_BYTES."""
    return int(getattr(sizes, "celebrity_copy", 0) or sizes.post + COPY_EXTRA_BYTES)


def _ru(nbytes: float) -> float:
    return float(model._read_units(nbytes))


def _cru(nbytes: float) -> float:
    return float(model._consistent_read_units(nbytes))


def _wu(nbytes: float) -> float:
    return float(model._write_units(nbytes))


@dataclass(frozen=True)
class Context:
    """Everything a row function may use. `rules` has timelines at the cap (steady state), as
    at every scale this module is for."""

    preset: ScalePreset
    sizes: ItemSizes
    rules: ProductRules
    design: Design
    largest_followers: float
    scenario: Scenario = SCENARIO
    prices: Prices = ON_DEMAND_US_EAST_1

    @property
    def merges_per_s(self) -> float:
        """Home reads that merge the largest account: its share of users reads (readers' read
        rates are independent of whom they follow, bench.graph's assumption)."""
        return self.preset.home_reads_per_s * self.largest_followers / self.preset.users

    @cached_property
    def population(self) -> model.Population:
        return _population(self.preset.graph_preset, self.preset.users)

    @cached_property
    def threshold(self) -> int:
        return model.threshold_rule(self.population, self.rules, self.sizes, self.prices)

    @property
    def copied(self) -> bool:
        """Whether the largest account's posts are copied."""
        return bool(self.design.copied(self.largest_followers))

    @property
    def by_author_share(self) -> float:
        """Share of the largest account's merges that still Query ByAuthor and hydrate."""
        return self.design.by_author_share(self.largest_followers)

    @property
    def peak_posts_per_s(self) -> float:
        """One account's peak posting rate: its rate limit."""
        return self.scenario.posts_per_minute / 60.0


def context(preset: ScalePreset, sizes: ItemSizes | None = None, rules: ProductRules | None = None,
            design: Design = BEFORE, *, largest_followers: float | None = None,
            scenario: Scenario = SCENARIO) -> Context:
    sizes = sizes or ItemSizes()
    rules = replace(rules or ProductRules(), steady_state=True)
    largest = largest_followers or default_largest_followers(preset.graph_preset, preset.users)
    return Context(preset, sizes, rules, design, float(largest), scenario)


def row(key: str, table: str, rcu: float, wcu: float, note: str) -> dict:
    """One key class: its peak units per second against one partition's limit."""
    return {"key": key, "table": table, "peak_rcu_per_s": float(rcu), "peak_wcu_per_s": float(wcu),
            "limit_rcu_per_s": PARTITION_RCU_PER_S, "limit_wcu_per_s": PARTITION_WCU_PER_S,
            "share_of_limit": max(rcu / PARTITION_RCU_PER_S, wcu / PARTITION_WCU_PER_S), "note": note}


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


# ------------------------------------------------------------------ the largest celebrity
KEY_BY_AUTHOR = "largest celebrity: ByAuthor partition"
KEY_NEWEST_POST = "largest celebrity: newest post item"
KEY_PROFILE = "largest celebrity: profile item"
KEY_COPY_SHARD = "largest celebrity: one copy shard"
KEY_COUNTER = "follow storm: follower counter item"
KEY_LOOKUP = "follow storm: followee profile lookup"
KEY_GRAPH = "follow storm: followee GraphTable partition"
KEY_HEAVY = "heavy follower: timeline partition"
KEY_IDEMPOTENCY = "Idempotency-Key item"
KEY_POST_WINDOW = "post window item (one author)"
KEY_SIGN_IN_NAT = "sign-in window item (one NAT address)"
KEY_SIGN_IN_FLOOD = "sign-in window item (one address, flood)"
# The key classes a home read touches: the design keeps each at or below TARGET_SHARE.
READ_PATH_KEYS = frozenset({KEY_BY_AUTHOR, KEY_NEWEST_POST, KEY_PROFILE, KEY_COPY_SHARD, KEY_HEAVY})


def _who(ctx: Context) -> str:
    return (f"{_n(ctx.largest_followers)} followers = {ctx.largest_followers / ctx.preset.users:.1%} of users, "
            f"so {_n(ctx.merges_per_s)} of {_n(ctx.preset.home_reads_per_s)} home reads/s merge it")


def by_author_rows(ctx: Context) -> list[dict]:
    d, r, s = ctx.design, ctx.rules, ctx.sizes
    queries = ctx.merges_per_s * ctx.by_author_share
    units = _ru(r.queried * s.by_author_entry)
    writes = ctx.peak_posts_per_s * TRANSACTION_FACTOR * _wu(s.by_author_entry)
    who = ("every merge Queries it" if not ctx.copied
           else f"only deep reads ({d.deep_read_share:.0%} of merges, below the copies) Query it")
    return [row(KEY_BY_AUTHOR, "TweetsTable/ByAuthor", queries * units, writes,
                f"{_who(ctx)}; {who}: {r.queried} entries x {s.by_author_entry} B = {units:g} RCU (GSI reads are "
                "eventually consistent). All these Queries want the same newest sort-key range, so split-for-heat "
                f"cannot spread them. Writes: its posts at the rate limit ({ctx.scenario.posts_per_minute}/min), "
                "index entry in the post's transaction")]


def newest_post_rows(ctx: Context) -> list[dict]:
    d, s = ctx.design, ctx.sizes
    reads = ctx.merges_per_s * ctx.by_author_share * _ru(s.post)
    why = ("peak: just after it posts, the post is the newest of its source on every merging reader's first "
           "page, so every merge hydrates it (BatchGetItem, 0.5 RCU)" if not ctx.copied else
           f"copies carry the post: only deep reads ({d.deep_read_share:.0%} of merges) hydrate, counted as if "
           "they all hydrated this post (an upper bound: deep reads page older posts)")
    return [row(KEY_NEWEST_POST, "TweetsTable", reads, ctx.peak_posts_per_s * TRANSACTION_FACTOR * _wu(s.post),
                f"{why}. Not counted: readers reaching it through fanned-out reposts (each hydrates the original)")]


def profile_rows(ctx: Context) -> list[dict]:
    d, s, sc = ctx.design, ctx.sizes, ctx.scenario
    reads = (ctx.merges_per_s * ctx.by_author_share + sc.profile_views_per_s) * _ru(s.profile)
    why = ("every merge that shows its post hydrates its profile (BatchGetItem, 0.5 RCU)"
           if not ctx.copied else
           f"copies carry the display fields: only deep reads ({d.deep_read_share:.0%} of merges) hydrate it")
    return [row(KEY_PROFILE, "UsersTable", reads, 0.0,
                f"{why}; profile-page views: {_n(sc.profile_views_per_s)}/s. Its writes: see the follow-storm rows")]


def copy_shard_units(ctx: Context, shards: int) -> tuple[float, float]:
    """(RCU/s, WCU/s) on one copy shard of the largest account with `shards` shards."""
    s, r = ctx.sizes, ctx.rules
    copy = copy_bytes(s)
    keep = ctx.design.copy_keep or COPY_KEEP
    # every merge's first page reads its shard (a deep read pages on below it afterwards)
    read_units = ctx.merges_per_s / shards * _ru((r.queried + 1) * copy)
    posts = ctx.peak_posts_per_s
    trim_units = posts / COPY_TRIM_INTERVAL * _ru((keep + COPY_TRIM_INTERVAL) * copy)
    # every post writes a copy here; at steady state each copy written is later deleted by a trim
    return read_units + trim_units, posts * 2.0 * _wu(copy)


def copy_shard_rows(ctx: Context) -> list[dict]:
    d, r = ctx.design, ctx.rules
    if not ctx.copied:
        return []
    k, copy = d.celebrity_copy_shards, copy_bytes(ctx.sizes)
    rcu, wcu = copy_shard_units(ctx, k)
    per_query = _ru((r.queried + 1) * copy)
    return [row(KEY_COPY_SHARD, "CelebrityCopiesTable", rcu, wcu,
                f"K = {k} shards, the reader's is crc32(reader id) % K: {_n(ctx.merges_per_s)} merges/s / K, each "
                f"an eventually consistent Query of {r.queried + 1} copies x {copy} B = {per_query:g} RCU (a repost's "
                f"copy is ~2x); writes: each post copied to every shard, each shard keeps {d.copy_keep} (a trim every "
                f"{COPY_TRIM_INTERVAL}th post: keys-only Query, billed for whole items, and ~{COPY_TRIM_INTERVAL} "
                f"deletes), at the rate limit ({ctx.scenario.posts_per_minute}/min)")]


def copy_shards_needed(ctx: Context, *, target: float = TARGET_SHARE, limit: int = 1 << 20) -> int:
    """The smallest power of two K that keeps one copy shard at or below `target` of its limit."""
    k = 1
    while True:
        rcu, wcu = copy_shard_units(ctx, k)
        if max(rcu / PARTITION_RCU_PER_S, wcu / PARTITION_WCU_PER_S) <= target:
            return k
        if k >= limit:
            raise ValueError(f"no K up to {limit} keeps a copy shard within {target:.0%} of its limit")
        k *= 2


def shards_needed(preset: ScalePreset, sizes: ItemSizes | None = None, rules: ProductRules | None = None, *,
                  target: float = TARGET_SHARE, largest_followers: float | None = None,
                  scenario: Scenario = SCENARIO, deep_read_share: float = DEEP_READ_SHARE) -> int:
    """K: the smallest power of two that keeps a copy shard of the preset's most-followed account
    (or one with `largest_followers`) at or below `target` of a partition's limit."""
    ctx = context(preset, sizes, rules, Design(1, COPY_KEEP, deep_read_share, 1),
                  largest_followers=largest_followers, scenario=scenario)
    return copy_shards_needed(ctx, target=target)


# ----------------------------------------------------------------------------- follow storm
def follow_storm_rows(ctx: Context) -> list[dict]:
    s, sc, batch = ctx.sizes, ctx.scenario, ctx.design.stream_tally_batch
    storm = sc.follow_storm_per_s
    if batch <= 0:
        counter_wcu = storm * TRANSACTION_FACTOR * _wu(s.profile)
        counter = (f"each follow's transaction ADDs 1 to the followee's profile item (conditional on its "
                   f"celebrity flag): {TRANSACTION_FACTOR:g} x {_wu(s.profile):g} WCU, all on one item, and every "
                   "follow's transaction holds that item (concurrent transactions on it conflict)")
    else:
        partitions = ctx.design.follower_shards + 1  # its shards and its own partition
        polls = 1.0 / ctx.design.stream_window_s if ctx.design.stream_window_s > 0 else LAMBDA_STREAM_POLLS_PER_S
        updates = min(storm, partitions * polls)  # a batch (of up to `batch` records) per poll per shard
        size = s.profile + partitions * TALLY_MARK_BYTES
        counter_wcu = updates * _wu(size)
        counter = (f"a follow of an account read as a celebrity leaves its profile out of the transaction (no "
                   f"counter, no flag check); the graph stream counts the follows, one UpdateItem per batch per "
                   f"graph partition of the followee ({partitions}: each is a stream shard of its own, batched over "
                   f"{ctx.design.stream_window_s:g} s, the template's GraphStream window): at most "
                   f"{_n(updates)} updates/s, {_wu(size):g} WCU each (the profile with a mark per partition, "
                   f"~{size:.0f} B)")
    lookup = _ru(s.profile)
    edge_units = TRANSACTION_FACTOR * (_wu(s.follower_edge) + 1.0)  # the follower edge put, the tombstone delete
    shards = ctx.design.follower_shards
    if shards <= 0:
        graph_wcu = storm * edge_units
        graph = (f"per follow, in the followee's partition and the follow's transaction: the follower edge put and "
                 f"the unfollow-tombstone delete ({edge_units:g} WCU), all under one partition key. It is an item "
                 "collection (sort key follower#<id>), which split-for-heat may divide by sort-key range in "
                 "minutes, but a storm peaks in its first seconds, and ids are time-ordered, so a storm of freshly "
                 "made accounts lands on the newest end, which splitting does not spread")
    else:
        graph_wcu = storm / shards * edge_units
        graph = (f"a follow of an account read as a celebrity puts its follower edge and tombstone in one of "
                 f"F = {shards} shard partitions of the followee, by the follower's hash (store/graph.py "
                 f"storm_partition): {_n(storm)}/F follows/s, {edge_units:g} WCU each (edge put, tombstone delete, "
                 "transactional). Walks, the followers list and point lookups read the shards too; a demotion's "
                 "walk moves them home, as fan-out reads only the own partition")
    return [
        row(KEY_COUNTER, "UsersTable", 0.0, counter_wcu, f"a storm of {_n(storm)} follows/s to one account; {counter}"),
        _lookup_row(ctx, storm, lookup),
        row(KEY_GRAPH, "GraphTable", 0.0, graph_wcu, f"a storm of {_n(storm)} follows/s to one account; {graph}"),
    ]


FOLLOW_CALLS = 4  # a follow's AWS calls: handle claim, profile, the transaction, (a retry's read)


def _lookup_row(ctx: Context, storm: float, lookup: float) -> dict:
    ttl = ctx.design.celebrity_target_ttl_s
    if ttl <= 0:
        return row(KEY_LOOKUP, "UsersTable", storm * lookup, 0.0,
                   f"the follow route resolves @handle first (store/users.py:get_by_handle): a GetItem of the handle "
                   f"claim and one of the profile, {lookup:g} RCU each, per follow")
    containers = storm * (FOLLOW_CALLS * model.CALL_LATENCY_S + model.HANDLER_OVERHEAD_S)
    return row(KEY_LOOKUP, "UsersTable", min(storm, containers / ttl) * lookup, 0.0,
               f"a container reuses a celebrity's profile as a follow target for {ttl:g} s (a follow of a celebrity "
               f"demoted meanwhile is put right by the demotion's second walk): the ~{containers:.0f} containers serving the storm read the handle claim and the "
               f"profile once each per {ttl:g} s, {lookup:g} RCU each")


# --------------------------------------------------------------------------- heavy follower
def heavy_follower_entries_per_s(ctx: Context) -> float:
    """Entries/s fanned out into one reader's timeline who follows `heavy_following` accounts
    drawn from the most prolific `prolific_share` of posters (celebrities' posts are merged at
    read, not written)."""
    pop, sc = ctx.population, ctx.scenario
    order = np.argsort(-pop.post_rate, kind="stable")
    cumulative = np.cumsum(pop.account_weight[order])
    top = order[: int(np.searchsorted(cumulative, sc.prolific_share * pop.users)) + 1]
    rate = ctx.preset.posts_per_s * pop.post_rate / float((pop.account_weight * pop.post_rate).sum())
    pushed = pop.followers[top] < ctx.threshold
    weight = pop.account_weight[top]
    mean_rate = float((weight * rate[top] * pushed).sum() / weight.sum())
    return sc.heavy_following * mean_rate


def heavy_follower_rows(ctx: Context) -> list[dict]:
    r, s, sc = ctx.rules, ctx.sizes, ctx.scenario
    entries = heavy_follower_entries_per_s(ctx)
    entry = s.timeline_entry + (s.post if r.entries_carry_post else 0)
    _, trim_units, _, trim_delete_units = model._trim(r, s, entry)
    interval = r.trim_interval
    wcu = entries * (_wu(entry) + trim_delete_units / interval)
    rcu = entries / interval * trim_units + sc.heavy_reads_per_s * _ru(r.queried * entry)
    return [row(KEY_HEAVY, "TimelinesTable", rcu, wcu,
                f"a reader following {sc.heavy_following:,} accounts from the most prolific {sc.prolific_share:.0%} "
                f"of posters: {entries:,.1f} entries/s (mean rate; celebrities excluded), {_wu(entry):g} WCU each, "
                f"and at the cap every entry is later deleted by a trim (one write in {interval} trims, reading "
                f"{trim_units:g} RCU); {sc.heavy_reads_per_s:g} home read/s of its own")]


# ---------------------------------------------------------------------- idempotency and limits
def limit_rows(ctx: Context) -> list[dict]:
    s, sc = ctx.sizes, ctx.scenario
    claim = TRANSACTION_FACTOR * _wu(s.idempotency_record)
    sign_ins_per_s = sc.nat_users / (sc.sign_in_every_days * 86_400)
    return [
        row(KEY_IDEMPOTENCY, "IdempotencyTable", sc.key_retries_per_s * _cru(s.idempotency_record),
            claim * (1.0 + sc.key_retries_per_s),
            f"one item per (author, key): the claim in the post's transaction ({claim:g} WCU), then a client's "
            f"retries ({sc.key_retries_per_s:g}/s assumed), each counted as a failed claim and a consistent read "
            "of the holder (an upper bound)"),
        row(KEY_POST_WINDOW, "RateLimitsTable", 0.0, ctx.peak_posts_per_s * TRANSACTION_FACTOR * 1.0,
            f'"post#<user>#<minute>", hit in each post\'s transaction, at most {sc.posts_per_minute}/min; a refused '
            "post is a cancelled transaction on it, bounded by the route throttle"),
        row(KEY_SIGN_IN_NAT, "RateLimitsTable", 0.0, sign_ins_per_s * 1.0,
            f'"signin-from#<address>#<minute>": {sc.nat_users:,} users behind one carrier-grade NAT address, each '
            f"signing in once per {sc.sign_in_every_days:g} days ({sign_ins_per_s * 60:.2f}/min against the window's "
            "30/min); 1 WCU per attempt. Sign-ups (\"signup-from#<address>#<hour>\") are rarer still"),
        _flood_row(ctx),
    ]


SIGN_IN_CALLS = 6  # a sign-in's AWS calls (windows, back-off, Cognito), at CALL_LATENCY_S each


def _flood_row(ctx: Context) -> dict:
    sc = ctx.scenario
    if not ctx.design.remember_full_windows:
        return row(KEY_SIGN_IN_FLOOD, "RateLimitsTable", 0.0, sc.route_throttle_per_s * 1.0,
                   f"one address flooding POST /v1/auth/token: every attempt hits its window (a refused conditional "
                   f"update still costs 1 WCU), bounded only by the route throttle ({_n(sc.route_throttle_per_s)}/s); "
                   "it grows when the throttle is raised")
    containers = sc.route_throttle_per_s * (SIGN_IN_CALLS * model.CALL_LATENCY_S + model.HANDLER_OVERHEAD_S)
    writes = (30 + containers) / 60.0
    return row(KEY_SIGN_IN_FLOOD, "RateLimitsTable", 0.0, writes,
               f"one address flooding POST /v1/auth/token at the route throttle ({_n(sc.route_throttle_per_s)}/s): "
               f"the window takes its 30 hits a minute, then each of the ~{containers:.0f} containers serving the "
               "flood writes once to find it full and refuses the rest of the window without a request")


# Row functions, in print order. Search and trends add theirs here (see the module docstring).
KEY_UNCOPIED = "largest uncopied celebrity: ByAuthor, newest post, profile"


def uncopied_rows(ctx: Context) -> list[dict]:
    """The most-followed celebrity that is not copied (just below CopyThreshold): merged from the
    index, its ByAuthor partition, newest post and profile each take one 0.5-unit read per merge."""
    d, r, s = ctx.design, ctx.rules, ctx.sizes
    if not d.celebrity_copy_shards or d.copies_min_followers <= 0:
        return []
    followers = d.copies_min_followers - 1
    merges = followers / ctx.preset.users * ctx.preset.home_reads_per_s
    rcu = merges * max(_ru(r.queried * s.by_author_entry), _ru(s.post), _ru(s.profile))
    return [row(KEY_UNCOPIED, "TweetsTable/ByAuthor, TweetsTable, UsersTable", rcu, 0.0,
                f"an account with {_n(followers)} followers (one short of CopyThreshold) is merged from the index: "
                f"{_n(merges)} merges/s each Query its ByAuthor partition and hydrate its newest post and its profile "
                f"(0.5 RCU each, three keys, the hottest shown)")]


# ------------------------------------------------------------------ a viral post (issue 26)
KEY_ENGAGEMENT = "viral post: one engagement partition"
KEY_COUNTS = "viral post: counts item"
KEY_THREAD = "viral post: one ByThread partition"
KEY_REPLICA = "viral post: one counts replica"
REPLICA_BYTES = 110  # a replica: keys, three counters, version, other_id, created_at
CONTAINER_LIFETIME_S = 600.0  # an api container learns a post is hot once (its first read) per lifetime
COUNTS_BASE_BYTES = 120  # the counts item's keys, three counters, other_id, created_at
ENGAGEMENT_EDGE_BYTES = 80  # an engagement edge: partition key, "liked_by#<20 digits>", other_id, created_at
COUNT_MARK_BYTES = 17  # a mark: "127" and a stream sequence number of ~22 digits
THREAD_ENTRY_BYTES = 60  # a ByThread index entry: thread, tweet_id, author_id, reply_to_id/author_id


def _hot_engagements() -> int:
    from bench.layer import import_layer

    import_layer()
    from timeline.store.engagement import HOT_ENGAGEMENTS

    return HOT_ENGAGEMENTS


def viral_post_rows(ctx: Context) -> list[dict]:
    """A celebrity's post liked by 50,000 accounts a second (its reposts and replies beside)."""
    sc, d = ctx.scenario, ctx.design
    likes, reposts, replies = sc.viral_likes_per_s, sc.viral_reposts_per_s, sc.viral_replies_per_s
    total = likes + reposts + replies
    edge_wu = _wu(ENGAGEMENT_EDGE_BYTES)
    head = f"{_n(likes)} likes/s, {_n(reposts)} reposts/s and {_n(replies)} replies/s of one post"
    if d.engagement_shards <= 0:
        return [row(KEY_COUNTS, "TweetsTable", 0.0, likes * _wu(ctx.sizes.post) + (reposts + replies)
                    * TRANSACTION_FACTOR * _wu(ctx.sizes.post),
                    f"{head}; each ADDs 1 to a counter on the post's item (a repost or reply in its own "
                    "transaction), all on one item"),
                row(KEY_THREAD, "TweetsTable/ByThread", 0.0, replies * _wu(THREAD_ENTRY_BYTES),
                    f"{head}; every reply's index entry under the post's one partition key")]
    shards = d.engagement_shards
    # A like's edge is put by fanout_dispatch from the like's stream record (one unit); a
    # repost's or a reply's rides in its transaction (twice the units).
    engagement_wcu = (likes * edge_wu + (reposts + replies) * TRANSACTION_FACTOR * edge_wu) / shards
    window = d.stream_window_s
    per_shard = total / shards  # records/s of the post in each engagement partition's stream shard
    polls = max(1.0 / window if window > 0 else LAMBDA_STREAM_POLLS_PER_S,
                per_shard / d.engagement_batch if d.engagement_batch else LAMBDA_STREAM_POLLS_PER_S)
    updates = min(total, shards * polls)
    size = COUNTS_BASE_BYTES + shards * COUNT_MARK_BYTES
    counts_wcu = updates * _wu(size)
    containers = lambda_fleet(ctx)["api"]
    reads = min(ctx.merges_per_s, containers / d.counts_cache_s) if d.counts_cache_s > 0 else ctx.merges_per_s
    replicas = d.counts_replicas
    # read eventually consistently: 0.5 unit per 4 KB
    counts_rcu = (containers / CONTAINER_LIFETIME_S if replicas else reads) * _ru(size)
    readers = (f"each of the ~{containers:.0f} api containers reads it once in its life (~{CONTAINER_LIFETIME_S:g} s), "
               f"to learn the post is hot; then one of the R = {replicas} replicas" if replicas else
               f"read by the ~{containers:.0f} api containers once per {d.counts_cache_s:g} s (CountsCacheSeconds)")
    replica_rows = [row(KEY_REPLICA, "GraphTable", reads / replicas * _ru(REPLICA_BYTES),
                        updates * _wu(REPLICA_BYTES),
                        f"every count of a celebrity's post (from its first like) or of any post past "
                        f"{_hot_engagements():,} engagements is published to its R = "
                        f"{replicas} replicas ({_n(updates)} writes/s each, the newest version wins); each api "
                        f"container reads its own pick once per {d.counts_cache_s:g} s: {_n(reads)} reads/s over "
                        f"R, eventually consistent")] if replicas else []
    return [
        row(KEY_ENGAGEMENT, "GraphTable", 0.0, engagement_wcu,
            f"{head}; each an edge in one of E = {shards} partitions of the post by the actor's hash "
            f"(store/engagement.py): {_n(total / shards)}/s each, {edge_wu:g} WCU a like (put by the stream's "
            "consumer; the like itself is an edge in the liker's own partition), "
            f"{TRANSACTION_FACTOR * edge_wu:g} a repost's or reply's edge (in its transaction)"),
        row(KEY_COUNTS, "GraphTable", counts_rcu, counts_wcu,
            f"the graph stream counts them: one UpdateItem per batch per post, each engagement partition's "
            f"~{per_shard:.0f} records/s a batch every {1 / polls:.2g} s (BatchSize {d.engagement_batch}, "
            f"window {window:g} s): at most {_n(updates)} updates/s of ~{size:.0f} B ({_wu(size):g} WCU, a mark "
            f"per partition); {readers} ({_ru(size):g} RCU, eventually consistent), not each of the "
            f"{_n(ctx.merges_per_s)} home reads/s that show the post"),
        *replica_rows,
        row(KEY_THREAD, "TweetsTable/ByThread", 0.0, replies / d.thread_shards * _wu(THREAD_ENTRY_BYTES),
            f"{_n(replies)} replies/s over the post's {d.thread_shards} ByThread partitions (by the reply's id)"),
    ]


ROW_FUNCTIONS: list[Callable[[Context], list[dict]]] = [
    by_author_rows, newest_post_rows, profile_rows, copy_shard_rows, uncopied_rows,
    follow_storm_rows, heavy_follower_rows, limit_rows, viral_post_rows,
]


def hot_key_table(preset: ScalePreset, sizes: ItemSizes | None, rules: ProductRules | None, design: Design, *,
                  largest_followers: float | None = None, scenario: Scenario = SCENARIO,
                  rows: Sequence[Callable[[Context], list[dict]]] | None = None) -> list[dict]:
    """Peak RCU/s and WCU/s on each key class that concentrates load, against one partition's
    limit, for `design` at the preset's rates. The largest account has `largest_followers`
    (default: the preset's, 31M at twitter-2013); `rows` defaults to ROW_FUNCTIONS."""
    ctx = context(preset, sizes, rules, design, largest_followers=largest_followers, scenario=scenario)
    return [r for make in (ROW_FUNCTIONS if rows is None else rows) for r in make(ctx)]


def after_design(preset: ScalePreset, sizes: ItemSizes | None = None, rules: ProductRules | None = None, *,
                 largest_followers: float | None = None, scenario: Scenario = SCENARIO,
                 target: float = TARGET_SHARE) -> Design:
    """The design as built: template.yaml's CelebrityCopyShards and CopyThreshold (the template is
    the truth; shards_needed says whether its K suffices for the preset), a celebrity's follows
    counted from the graph stream in batches of its GraphStream BatchSize, and their edges spread
    over store/graph.py's FOLLOWER_SHARDS partitions."""
    batch, window = template_graph_stream_batching()
    engagement_shards, thread_shards, replicas = layer_engagement_shards()
    return Design(template_copy_shards(), COPY_KEEP, DEEP_READ_SHARE, batch, stream_window_s=window,
                  follower_shards=graph_follower_shards(), copies_min_followers=template_copy_threshold(),
                  remember_full_windows=True, celebrity_target_ttl_s=social_target_ttl(),
                  engagement_shards=engagement_shards, engagement_batch=batch,
                  counts_cache_s=_template_default("CountsCacheSeconds"), thread_shards=thread_shards,
                  counts_replicas=replicas)


def _template_default(name: str) -> float:
    from infra.runtime import template_defaults

    return float(template_defaults()[name])


def social_target_ttl() -> float:
    """service/social.py's CELEBRITY_TARGET_TTL_S (the design as built)."""
    from bench.layer import import_layer

    import_layer()
    from timeline.service.social import CELEBRITY_TARGET_TTL_S

    return CELEBRITY_TARGET_TTL_S


def graph_follower_shards() -> int:
    """store/graph.py's FOLLOWER_SHARDS (the design as built)."""
    from bench.layer import import_layer

    import_layer()
    from timeline.store.graph import FOLLOWER_SHARDS

    return FOLLOWER_SHARDS


def layer_engagement_shards() -> tuple[int, int, int]:
    """store/engagement.py's ENGAGEMENT_SHARDS and COUNTS_REPLICAS, and store/tables.py's
    THREAD_SHARDS (as built)."""
    from bench.layer import import_layer

    import_layer()
    from timeline.store.engagement import COUNTS_REPLICAS, ENGAGEMENT_SHARDS
    from timeline.store.tables import THREAD_SHARDS

    return ENGAGEMENT_SHARDS, THREAD_SHARDS, COUNTS_REPLICAS


def template_copy_shards() -> int:
    return int(_template_default("CelebrityCopyShards"))


def template_copy_threshold() -> float:
    return _template_default("CopyThreshold")


def template_graph_stream_batching() -> tuple[int, float]:
    """The BatchSize and MaximumBatchingWindowInSeconds fanout_dispatch reads the graph stream
    with (the tally's batches)."""
    from infra.runtime import load_template

    props = load_template()["Resources"]["FanoutDispatchFunction"]["Properties"]["Events"]["GraphStream"]["Properties"]
    return int(props["BatchSize"]), float(props.get("MaximumBatchingWindowInSeconds", 0))


# ------------------------------------------------------------------------ per-table rates
def _expect(values, weights: np.ndarray) -> float:
    return float(np.sum(np.broadcast_to(np.asarray(values, dtype=float), weights.shape) * weights))


def post_parts(ctx: Context) -> dict[str, float]:
    """Expected per post (authors drawn by posting rate, celebrities at threshold_rule): units by
    table (r_<table>, w_<table>) and the AWS calls and invocations of fanout_dispatch and
    fanout_worker, from bench.model's rules (model._post), split by where they land."""
    pop, r, s, d = ctx.population, ctx.rules, ctx.sizes, ctx.design
    f = pop.followers
    celeb = f >= ctx.threshold
    push = ~celeb
    w = pop.account_weight * pop.post_rate
    w = w / w.sum()
    entry = s.timeline_entry + (s.post if r.entries_carry_post else 0)
    full, rest = np.divmod(f, r.fanout_chunk)
    last = (rest > 0) | (full == 0) | r.limit_page_marker
    pages = full + last
    page_units = (full * model._read_units(r.fanout_chunk * s.follower_edge)
                  + np.where(last, model._read_units(rest * s.follower_edge), 0.0))
    adds = np.where(push, np.ceil(f / r.fanout_chunk), 0.0)
    pushed = np.where(push, f, 0.0)
    p = 1.0 / r.trim_interval
    (s0, _, w0), (s1, _, w1) = (model._queue(adds, pushed, t, r, s) for t in (0, 1))
    sends, workers = (1 - p) * s0 + p * s1, (1 - p) * w0 + p * w1
    writes = np.where(push, model._batch_writes(f, r), 0.0)
    trims = pushed * p + p
    trim_reads, trim_units, trim_deletes, trim_delete_units = model._trim(r, s, entry)
    idem = 1.0 if r.idempotent_posts else 0.0
    copied = celeb & d.copied(f)
    k, copy = d.celebrity_copy_shards, copy_bytes(s)
    keep = d.copy_keep or COPY_KEEP
    # fanout_dispatch, per celebrity post: the K copies 25 a BatchWriteItem, and K / 8 trims (a Query, a delete batch)
    copy_calls = (math.ceil(k / r.batch_write_max) + k / COPY_TRIM_INTERVAL * 2.0) if k else 0.0
    return {
        "w_TimelinesTable": _expect(TRANSACTION_FACTOR * _wu(entry) + pushed * _wu(entry)
                                    + trims * trim_delete_units, w),
        "r_TimelinesTable": _expect(trims * trim_units, w),
        "w_TweetsTable": TRANSACTION_FACTOR * _wu(s.post),
        "w_TweetsTable/ByAuthor": TRANSACTION_FACTOR * _wu(s.by_author_entry),
        "r_TweetsTable": _expect(adds * _cru(s.post), w),
        "r_UsersTable": _expect(_ru(s.profile) + celeb * _cru(s.profile) + adds * _cru(s.profile), w),
        "r_GraphTable": _expect(push * page_units, w),
        "w_IdempotencyTable": idem * TRANSACTION_FACTOR * _wu(s.idempotency_record),
        "w_RateLimitsTable": TRANSACTION_FACTOR * 1.0,  # the post window (not in bench.model's count)
        "w_CelebrityCopiesTable": _expect(copied * k * 2.0 * _wu(copy), w),  # each copy, and its later delete
        "r_CelebrityCopiesTable": _expect(copied * k / COPY_TRIM_INTERVAL
                                          * _ru((keep + COPY_TRIM_INTERVAL) * copy), w),
        "dispatch_calls": _expect(celeb + push * pages + sends + copied * copy_calls, w),
        "worker_calls": _expect(writes + adds + trims * (trim_reads + trim_deletes), w),
        "worker_invocations": _expect(workers, w),
        "sqs_messages": _expect(adds + p, w),
        "celebrity_post_share": _expect(celeb, w),
        "copied_post_share": _expect(copied, w),
    }


def read_parts(ctx: Context, design: Design | None = None) -> dict[str, float]:
    """Expected per home read (readers drawn by read rate): units by table, for `design`
    (default the context's). A merge today: a ByAuthor Query of `queried` entries and the
    hydration of the merged posts and their authors; with copies: one shard Query of
    queried + 1 copies, and ByAuthor with hydration only for deep reads."""
    pop, r, s = ctx.population, ctx.rules, ctx.sizes
    d = ctx.design if design is None else design
    celeb = pop.followers >= ctx.threshold
    state = _reader_state(ctx.preset.graph_preset, ctx.preset.users, ctx.threshold, r)
    readers = len(pop.reader_self)
    rate = pop.post_rate[pop.edge_account]
    safe_total = np.where(state.total_rate > 0, state.total_rate, 1.0)
    seen = 1.0 - np.exp(-r.want * rate / safe_total[pop.edge_reader])
    on_edge = celeb[pop.edge_account]
    celeb_authors = np.bincount(pop.edge_reader, seen * on_edge, readers)
    # the merged celebrities that have copies: how many, their share of the round's posts, their authors
    copied = on_edge & d.copied(pop.followers[pop.edge_account])
    c_copied = np.bincount(pop.edge_reader, copied, readers).astype(float)
    merged_copied = r.want * np.bincount(pop.edge_reader, rate * copied, readers) / safe_total * (state.total_rate > 0)
    authors_copied = np.bincount(pop.edge_reader, seen * copied, readers)
    entry = s.timeline_entry + (s.post if r.entries_carry_post else 0)
    fetched = state.merged if r.entries_carry_post else state.hydrated
    c = state.celebrities
    saved = 1.0 - d.deep_read_share  # of a copied celebrity's merges: no ByAuthor Query, no hydration
    weights = model._read_weights(pop)
    weights = weights / weights.sum()
    return {
        # the reader's home edges; its likes and reposts of the page (two Queries) and the counts
        # item of each post shown, copied or not (store/engagement.py page_state)
        "r_GraphTable": _expect(model._consistent_read_units(c * s.edge) + model.VIEWER_QUERIES
                                + model.COUNTS_READ_UNITS * state.hydrated, weights),
        "r_TimelinesTable": _ru(r.queried * entry),
        "r_TweetsTable/ByAuthor": _expect((c - saved * c_copied) * _ru(r.queried * s.by_author_entry), weights),
        "r_TweetsTable": _expect((fetched - saved * merged_copied) * _ru(s.post), weights),
        "r_UsersTable": _expect((state.authors + 1.0 - saved * authors_copied) * _ru(s.profile), weights),
        "r_CelebrityCopiesTable": _expect(c_copied * _ru((r.queried + 1) * copy_bytes(s)), weights),
        "celebrities_per_read": _expect(c, weights),
        "copied_celebrities_per_read": _expect(c_copied, weights),
        "hydrations_saved_per_read": _expect(saved * (merged_copied + authors_copied), weights),
        "posts_saved_per_read": _expect(saved * merged_copied, weights),
        "profiles_saved_per_read": _expect(saved * authors_copied, weights),
        "merged_posts_per_read": _expect(state.merged, weights),
        "celebrity_authors_per_read": _expect(celeb_authors, weights),
    }


def table_rates(ctx: Context) -> dict[str, dict[str, float]]:
    """{table: {"rcu": units/s, "wcu": units/s}} at the preset's rates: posts, home reads and
    sign-ins (window hits, the back-off read, the handle claim and profile reads). Before the
    copies, TimelinesTable, TweetsTable (with ByAuthor), UsersTable, GraphTable and
    IdempotencyTable add up to bench.model.project's totals (RateLimitsTable is not in them)."""
    post, read = post_parts(ctx), read_parts(ctx)
    posts, reads = ctx.preset.posts_per_s, ctx.preset.home_reads_per_s
    sign_ins = sign_ins_per_s(ctx)
    out: dict[str, dict[str, float]] = {}
    for parts, rate in ((post, posts), (read, reads)):
        for key, value in parts.items():
            if key[:2] in ("r_", "w_"):
                entry = out.setdefault(key[2:], {"rcu": 0.0, "wcu": 0.0})
                entry["rcu" if key[0] == "r" else "wcu"] += value * rate
    out["RateLimitsTable"]["wcu"] += sign_ins * 2.0
    out["RateLimitsTable"]["rcu"] += sign_ins * _cru(60)
    out["UsersTable"]["rcu"] += sign_ins * (_ru(42) + _ru(ctx.sizes.profile))
    return {t: v for t, v in out.items() if v["rcu"] or v["wcu"]}


def sign_ins_per_s(ctx: Context) -> float:
    return ctx.preset.users / (ctx.scenario.sign_in_every_days * 86_400)


def refreshes_per_s(ctx: Context) -> float:
    return ctx.preset.users * ctx.scenario.refreshes_per_user_per_day / 86_400


# ------------------------------------------------------------------------------ the fleet
def lambda_fleet(ctx: Context) -> dict[str, float]:
    """Concurrent executions each function needs (rate x duration, the model's latencies:
    CALL_LATENCY_S per AWS call waited on, HANDLER_OVERHEAD_S per invocation), and the rates."""
    per_op = _expected_counts(ctx.preset.graph_preset, ctx.preset.users, ctx.threshold, ctx.rules, ctx.sizes)
    post = post_parts(ctx)
    sc, preset = ctx.scenario, ctx.preset
    read_s = per_op["home_read"].lambda_busy_calls * CALL_LATENCY_S + HANDLER_OVERHEAD_S
    post_s = 2 * CALL_LATENCY_S + HANDLER_OVERHEAD_S  # the caller's profile, the post's transaction
    sign_in_s = SIGN_IN_CALLS * CALL_LATENCY_S + HANDLER_OVERHEAD_S
    refresh_s = CALL_LATENCY_S + HANDLER_OVERHEAD_S
    other_s = 2 * CALL_LATENCY_S + HANDLER_OVERHEAD_S
    sign_ins, refreshes = sign_ins_per_s(ctx), refreshes_per_s(ctx)
    api = (preset.home_reads_per_s * read_s + preset.posts_per_s * post_s + sign_ins * sign_in_s
           + refreshes * refresh_s + sc.other_requests_per_s * other_s)
    dispatch = preset.posts_per_s * (post["dispatch_calls"] * CALL_LATENCY_S + HANDLER_OVERHEAD_S)
    worker_invocations = preset.posts_per_s * post["worker_invocations"]
    worker = preset.posts_per_s * post["worker_calls"] * CALL_LATENCY_S + worker_invocations * HANDLER_OVERHEAD_S
    api_rps = preset.home_reads_per_s + preset.posts_per_s + sign_ins + refreshes + sc.other_requests_per_s
    return {"api": api, "fanout_dispatch": dispatch, "fanout_worker": worker, "total": api + dispatch + worker,
            "api_requests_per_s": api_rps, "home_read_s": read_s, "sign_ins_per_s": sign_ins,
            "refreshes_per_s": refreshes, "worker_invocations_per_s": worker_invocations,
            "worker_invocation_s": worker / worker_invocations if worker_invocations else 0.0,
            "sqs_messages_per_s": preset.posts_per_s * post["sqs_messages"]}


def per_container_cache(ctx: Context, ttls_s: Sequence[float] = (1.0, 5.0, 30.0)) -> list[dict]:
    """Reads/s of the largest account's ByAuthor partition if each api container cached its
    entries for a TTL instead: every busy container re-reads every TTL, so containers / TTL."""
    containers = lambda_fleet(ctx)["api"]
    units = _ru(ctx.rules.queried * ctx.sizes.by_author_entry)
    return [{"ttl_s": t, "containers": containers, "queries_per_s": containers / t,
             "rcu_per_s": containers / t * units, "share_of_limit": containers / t * units / PARTITION_RCU_PER_S}
            for t in ttls_s]


# ----------------------------------------------------------------------------- quotas
def _quota(name: str, default: float, needed: float, adjustable: bool | None, note: str) -> dict:
    return {"name": name, "default": float(default), "needed": float(needed),
            "ratio": float(needed) / float(default) if default else math.inf, "adjustable": adjustable,
            "note": note}


TABLE_MAX_UNITS = 40_000.0  # on-demand, per table and per GSI
ACCOUNT_PROVISIONED_UNITS = 80_000.0  # provisioned mode only


def account_quotas(preset: ScalePreset, sizes: ItemSizes | None = None, rules: ProductRules | None = None,
                   design: Design | None = None, *, largest_followers: float | None = None,
                   scenario: Scenario = SCENARIO) -> list[dict]:
    """What to ask AWS for before launch: each default quota (and template setting) the
    preset's load meets, with the need at the preset's rates for `design` (default:
    after_design). `ratio` > 1: raise it (if `adjustable`) or design around it.
    Defaults as AWS documents them (the page is named in each note)."""
    if design is None:
        design = after_design(preset, sizes, rules, largest_followers=largest_followers, scenario=scenario)
    ctx = context(preset, sizes, rules, design, largest_followers=largest_followers, scenario=scenario)
    fleet = lambda_fleet(ctx)
    sc = ctx.scenario
    api_n, total = fleet["api"], fleet["total"]
    rps = fleet["api_requests_per_s"]
    # Cold to the api's concurrency: 1,000 environments and 10,000 requests/s more every 10 s.
    cold_s = 10.0 * math.ceil(max(api_n / 1000.0, rps / 10_000.0))
    spike_envs = (sc.spike_factor - 1.0) * api_n
    spike_rps = (sc.spike_factor - 1.0) * rps
    per_10s = max(spike_envs, spike_rps / 10.0) / sc.spike_ramp_s * 10.0
    # what on-demand scaling adds within the ramp, in environments: 1,000, or 10,000 requests/s' worth
    gained = min(1000.0, 10_000.0 * api_n / rps) * sc.spike_ramp_s / 10.0
    shortfall = max(0.0, spike_envs - gained)
    rows = [
        _quota("Lambda concurrent executions (account, Region)", 1000, total, True,
               f"rate x duration: api {_n(api_n)} (home reads {_n(preset.home_reads_per_s)}/s x "
               f"{fleet['home_read_s'] * 1000:.0f} ms, posts, sign-ins, refreshes), fanout_dispatch "
               f"{_n(fleet['fanout_dispatch'])}, fanout_worker {_n(fleet['fanout_worker'])}. Lambda quotas page: "
               "concurrent executions 1,000"),
        _quota(f"Lambda concurrent executions, {sc.spike_factor:g}x spike", 1000, sc.spike_factor * total, True,
               "a breaking-news spike multiplies every rate: ask for the spike, not the average"),
        _quota("Lambda scaling rate, api function (environments added per 10 s)", 1000,
               spike_envs / sc.spike_ramp_s * 10.0, False,
               f"Lambda scaling behavior page: each function gains at most 1,000 environments, and 10,000 "
               f"requests/s, every 10 s (not adjustable). Cold to {_n(api_n)} environments and {_n(rps)} requests/s "
               f"takes {cold_s:.0f} s; a {sc.spike_factor:g}x spike within {sc.spike_ramp_s:g} s needs {_n(spike_envs)} "
               f"environments more at once, of which scaling brings ~{_n(gained)}: provisioned concurrency of "
               f"~{_n(shortfall)} on the api function covers the rest"),
        _quota("Lambda scaling rate, api function (requests/s added per 10 s)", 10_000, per_10s * 10.0, False,
               "the same page's second bound, which binds first for short invocations (a home read is "
               f"{fleet['home_read_s'] * 1000:.0f} ms: one environment serves ~{1 / fleet['home_read_s']:.0f} "
               "requests/s)"),
        _quota("API Gateway throttle (account, Region, requests/s)", 10_000, rps, True,
               f"home reads, posts, sign-ins ({sign_ins_per_s(ctx):,.0f}/s), refreshes ({refreshes_per_s(ctx):,.0f}/s) "
               f"and {_n(sc.other_requests_per_s)}/s other calls (a floor: follows, profiles, likes not counted). "
               "Amazon API Gateway quotas page: 10,000 requests/s, burst 5,000, per account and Region"),
        _quota("HTTP API route throttle (template DefaultRouteSettings, requests/s)", sc.route_throttle_per_s,
               preset.home_reads_per_s, True,
               "template setting, not an AWS quota: 1,000 requests/s, burst 500, per route; GET /v1/timeline alone "
               "carries the home reads"),
    ]
    rates = table_rates(ctx)
    table_note = ("Quotas in Amazon DynamoDB: 40,000 read and 40,000 write request units per table (and per GSI) "
                  "on demand; a new on-demand table serves 12,000 reads and 4,000 writes/s at once and doubles its "
                  "previous peak (on-demand capacity mode page): pre-warm (warm throughput) to launch-day peak")
    for table, units in sorted(rates.items()):
        for kind, name in (("rcu", "read"), ("wcu", "write")):
            if units[kind] >= 1.0:
                rows.append(_quota(f"DynamoDB {table} {name} request units/s (on-demand table max)",
                                   TABLE_MAX_UNITS, units[kind], True, table_note))
                table_note = "as above"
    rows += [
        _quota("DynamoDB account read capacity units (provisioned mode only)", ACCOUNT_PROVISIONED_UNITS,
               sum(v["rcu"] for v in rates.values()), True,
               "Quotas in Amazon DynamoDB: 80,000 RCU and 80,000 WCU per account and Region, only for tables "
               "in provisioned mode (cut_the_bill's 'provisioned capacity' option)"),
        _quota("DynamoDB account write capacity units (provisioned mode only)", ACCOUNT_PROVISIONED_UNITS,
               sum(v["wcu"] for v in rates.values()), True, "as above"),
        _quota("DynamoDB Streams readers per shard", 2, 1, False,
               "Quotas in Amazon DynamoDB (DynamoDB Streams): no more than 2 processes reading one shard at once; "
               "fanout_dispatch is the one reader of TweetsTable's, UsersTable's and GraphTable's streams. A "
               "search or trends consumer of TweetsTable's stream would make 2, the limit; a third needs Kinesis "
               "Data Streams for DynamoDB"),
        _quota("SQS in-flight messages (FanoutQueue)", 120_000,
               fleet["sqs_messages_per_s"] * fleet["worker_invocation_s"], True,
               f"Amazon SQS standard queue quotas: ~120,000 in flight per queue (throughput is unlimited); "
               f"{_n(fleet['sqs_messages_per_s'])} messages/s, each held while its worker invocation runs "
               f"({fleet['worker_invocation_s'] * 1000:.0f} ms)"),
        _quota("FanoutWorker SQS event source MaximumConcurrency (template)", 100, fleet["fanout_worker"], True,
               "template setting: 100. Lambda's SQS scaling page: the setting takes 2 to 1,000, an event source "
               "processes at most 1,000 batches at once and adds up to 300 a minute; past 1,000, split the queue"),
        _quota("Cognito UserAuthentication (AdminInitiateAuth) requests/s", 120,
               sign_ins_per_s(ctx) + refreshes_per_s(ctx), True,
               f"Quotas in Amazon Cognito: 120 requests/s for the category, sign-ins and REFRESH_TOKEN_AUTH alike; "
               f"{preset.users:,} users signing in once per {sc.sign_in_every_days:g} days and refreshing "
               f"{sc.refreshes_per_user_per_day:g} time(s) a day (assumptions); increases are purchased"),
        _quota("Secrets Manager GetSecretValue requests/s (cursor key)", 10_000, 100.0 + total / 3600.0, None,
               "AWS Secrets Manager quotas: GetSecretValue 10,000/s. Read at cold start and hourly per container "
               "(store/secrets.py, max_age 3600): at most 100 cold starts/s per function (the scaling rate) plus "
               "containers / 3,600"),
    ]
    return rows


# --------------------------------------------------------------------------- the copies' bill
def copies_cost(preset: ScalePreset, sizes: ItemSizes | None, prices: Prices, design: Design, *,
                rules: ProductRules | None = None) -> dict:
    """What the copies add to the monthly bill: the copied celebrities' posts/s (threshold_rule
    on the preset's degree_model; all celebrities unless design.copies_min_followers) times K
    copies, each later deleted by a trim, the trims' Queries, the storage (copied celebrities x
    K x copy_keep copies), and the read units a home read saves or adds: today a merge Queries
    ByAuthor for `queried` entries and hydrates the merged posts it shows and their authors;
    with copies it Queries queried + 1 copies and hydrates neither (except deep reads).
    `hybrid_monthly_usd` is bench.model's bill for the same preset, for scale."""
    ctx = context(preset, sizes, rules, design)
    pop, s = ctx.population, ctx.sizes
    copied = (pop.followers >= ctx.threshold) & design.copied(pop.followers)
    post = post_parts(ctx)
    k, copy, keep = design.celebrity_copy_shards, copy_bytes(s), design.copy_keep
    wcu = preset.posts_per_s * post["w_CelebrityCopiesTable"]
    trim_rcu = preset.posts_per_s * post["r_CelebrityCopiesTable"]
    copied_accounts = float(pop.account_weight[copied].sum())
    storage_gb = copied_accounts * k * keep * (copy + DYNAMODB_ITEM_OVERHEAD) * 1e-9
    before, after = read_parts(ctx, BEFORE), read_parts(ctx, design)
    units = [key for key in before if key.startswith("r_")]
    per_read_before = sum(before[key] for key in units)
    per_read_after = sum(after[key] for key in units)
    delta = per_read_after - per_read_before
    month = SECONDS_PER_MONTH
    usd = {
        "writes": wcu * month * prices.dynamodb_write_request_unit,
        "trim_reads": trim_rcu * month * prices.dynamodb_read_request_unit,
        "storage": storage_gb * prices.dynamodb_storage_gb_month,
        "home_reads_delta": delta * preset.home_reads_per_s * month * prices.dynamodb_read_request_unit,
    }
    usd["total"] = sum(usd.values())
    hybrid = model.project(_expected_counts(preset.graph_preset, preset.users, ctx.threshold, ctx.rules, s),
                           preset, prices, s, ctx.rules)
    return {
        "celebrity_copy_shards": k, "copy_bytes": copy, "copy_keep": keep,
        "copies_min_followers": max(float(ctx.threshold), design.copies_min_followers),
        "celebrities": float(pop.account_weight[pop.followers >= ctx.threshold].sum()),
        "copied_celebrities": copied_accounts, "threshold": ctx.threshold,
        "celebrity_posts_per_s": preset.posts_per_s * post["celebrity_post_share"],
        "copied_posts_per_s": preset.posts_per_s * post["copied_post_share"],
        "extra_wcu_per_s": wcu, "extra_trim_rcu_per_s": trim_rcu, "storage_gb": storage_gb,
        "celebrities_per_home_read": before["celebrities_per_read"],
        "copied_celebrities_per_home_read": after["copied_celebrities_per_read"],
        "read_units_per_home_read_before": per_read_before, "read_units_per_home_read_after": per_read_after,
        "read_units_per_home_read_delta": delta,
        "posts_hydrated_saved_per_home_read": after["posts_saved_per_read"],
        "profiles_hydrated_saved_per_home_read": after["profiles_saved_per_read"],
        "monthly_usd": usd, "hybrid_monthly_usd": hybrid["monthly_usd"]["total"],
    }


def copies_min_followers_needed(preset: ScalePreset, sizes: ItemSizes | None = None,
                                rules: ProductRules | None = None, *, target: float = TARGET_SHARE) -> float:
    """The follower count above which an account's ByAuthor partition (and, alike, its newest
    post and its profile: 0.5 RCU a merge each) passes `target` of its limit without copies:
    merges/s = home reads/s x followers / users, so followers = target x 3,000 x users /
    (home reads/s x the Query's units). Copying only those accounts' posts keeps every key
    within the target and leaves the smaller celebrities' merges as cheap as today."""
    ctx = context(preset, sizes, rules)
    units = max(_ru(ctx.rules.queried * ctx.sizes.by_author_entry), _ru(ctx.sizes.post), _ru(ctx.sizes.profile))
    return target * PARTITION_RCU_PER_S * preset.users / (preset.home_reads_per_s * units)


# ------------------------------------------------------------------------------- results
def report_section(preset: ScalePreset, sizes: ItemSizes | None = None) -> dict:
    """For a benchmark's results JSON: the per-key table before and after, the account quotas
    (for the after design) and K."""
    rules = ProductRules(steady_state=True)
    after = after_design(preset, sizes, rules)
    return {"hot_keys": {"before": hot_key_table(preset, sizes, rules, BEFORE),
                         "after": hot_key_table(preset, sizes, rules, after)},
            "account_quotas": account_quotas(preset, sizes, rules, after),
            "celebrity_copy_shards": after.celebrity_copy_shards}


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def _share(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool, text_columns: int = 1) -> str:
    if not markdown:
        return model._table(header, rows, text_columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def hot_key_report(before: list[dict], after: list[dict], *, markdown: bool = False) -> str:
    """Before and after side by side, one line per key class, then each class's assumptions."""
    by_key = {r["key"]: r for r in after}
    keys = list(dict.fromkeys([r["key"] for r in after] + [r["key"] for r in before]))
    old = {r["key"]: r for r in before}
    lines = []
    for key in keys:
        b, a = old.get(key), by_key.get(key)
        lines.append((key, (a or b)["table"],
                      *(("-", "-", "-") if b is None else (_fmt(b["peak_rcu_per_s"]), _fmt(b["peak_wcu_per_s"]),
                                                           _share(b["share_of_limit"]))),
                      *(("-", "-", "-") if a is None else (_fmt(a["peak_rcu_per_s"]), _fmt(a["peak_wcu_per_s"]),
                                                           _share(a["share_of_limit"])))))
    header = ["key class", "table", "before RCU/s", "before WCU/s", "before share", "after RCU/s", "after WCU/s",
              "after share"]
    out = [_text_table(header, lines, markdown) if markdown else _table_with_table_column(header, lines)]
    out.append("")
    for key in keys:
        b, a = old.get(key), by_key.get(key)
        if b is not None and (a is None or a["note"] == b["note"]):
            out.append(f"{'- ' if markdown else ''}{key}: {b['note']}.")
        else:
            if b is not None:
                out.append(f"{'- ' if markdown else ''}{key}, before: {b['note']}.")
            out.append(f"{'- ' if markdown else ''}{key}, after: {a['note']}.")
    return "\n".join(out)


def _table_with_table_column(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """model._table, with the second column (the table name) left-aligned too."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             .rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def quota_report(quotas: list[dict], *, markdown: bool = False) -> str:
    rows = [(q["name"], _fmt(q["default"]), _fmt(q["needed"]), f"{q['ratio']:.3g}",
             {True: "yes", False: "no", None: "-"}[q["adjustable"]]) for q in quotas]
    out = [_text_table(["quota", "default", "needed", "ratio", "adjustable"], rows, markdown), ""]
    out += [f"{'- ' if markdown else ''}{q['name']}: {q['note']}." for q in quotas]
    return "\n".join(out)


def copies_report(cost: dict) -> str:
    usd = cost["monthly_usd"]
    who = ("every celebrity" if cost["copied_celebrities"] == cost["celebrities"]
           else f"{cost['copied_celebrities']:,.0f} accounts with at least {cost['copies_min_followers']:,.0f} followers")
    return (f"copies of {who} ({cost['celebrities']:,.0f} celebrities at threshold {cost['threshold']:,}): "
            f"{cost['copied_posts_per_s']:.2f} posts/s x K = {cost['celebrity_copy_shards']} copies of "
            f"{cost['copy_bytes']} B, each later deleted by a trim: {cost['extra_wcu_per_s']:,.0f} WCU/s "
            f"(${usd['writes']:,.0f}/month), trim Queries {cost['extra_trim_rcu_per_s']:,.0f} RCU/s "
            f"(${usd['trim_reads']:,.0f}/month), storage {cost['storage_gb']:,.1f} GB (${usd['storage']:,.0f}/month). "
            f"A home read merges {cost['celebrities_per_home_read']:.2f} celebrities, "
            f"{cost['copied_celebrities_per_home_read']:.2f} of them from copies: "
            f"{cost['read_units_per_home_read_before']:.2f} -> {cost['read_units_per_home_read_after']:.2f} read "
            f"units ({cost['read_units_per_home_read_delta']:+.2f}; {cost['posts_hydrated_saved_per_home_read']:.2f} "
            f"posts and {cost['profiles_hydrated_saved_per_home_read']:.2f} profiles no longer hydrated): "
            f"${usd['home_reads_delta']:+,.0f}/month. In all ${usd['total']:+,.0f}/month "
            f"({usd['total'] / cost['hybrid_monthly_usd']:+.1%} of the hybrid's ${cost['hybrid_monthly_usd']:,.0f}).")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.hot_keys --preset twitter-2013 [--plot PATH] [--markdown]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.hot_keys",
                                     description="per-key load before and after, and the quotas to raise")
    parser.add_argument("--preset", default="twitter-2013", choices=sorted(SCALE_PRESETS))
    parser.add_argument("--largest-followers", type=float, help="the most-followed account (default: the preset's)")
    parser.add_argument("--follow-storm", type=float, default=SCENARIO.follow_storm_per_s, help="follows/s")
    parser.add_argument("--plot", type=Path, help="write the before/after bar chart here (PNG)")
    parser.add_argument("--markdown", action="store_true", help="tables in Markdown (for docs/hot-keys.md)")
    opts = parser.parse_args(list(argv or []))
    preset = SCALE_PRESETS[opts.preset]
    sizes, rules = ItemSizes(), ProductRules(steady_state=True)
    scenario = replace(SCENARIO, follow_storm_per_s=opts.follow_storm)
    largest = opts.largest_followers or default_largest_followers(preset.graph_preset, preset.users)
    after = after_design(preset, sizes, rules, largest_followers=largest, scenario=scenario)
    before_rows = hot_key_table(preset, sizes, rules, BEFORE, largest_followers=largest, scenario=scenario)
    after_rows = hot_key_table(preset, sizes, rules, after, largest_followers=largest, scenario=scenario)
    ctx = context(preset, sizes, rules, after, largest_followers=largest, scenario=scenario)
    caches = per_container_cache(ctx)
    print(f"{preset.name}: {preset.users:,} users, {preset.posts_per_s:,.0f} posts/s, "
          f"{preset.home_reads_per_s:,.0f} home reads/s; largest account {largest:,.0f} followers; "
          f"model output (bench.hot_keys, {AS_OF}), not a measurement")
    print(f"after: K = {after.celebrity_copy_shards} copy shards (smallest power of two keeping a shard at or below "
          f"{TARGET_SHARE:.0%} of its limit), copy_keep {after.copy_keep}, deep reads {after.deep_read_share:.0%}, "
          f"a celebrity's follows counted from the graph stream in batches of {after.stream_tally_batch}, their "
          f"edges over F = {after.follower_shards} shard partitions ({_n(scenario.follow_storm_per_s)} follows/s)\n")
    print(hot_key_report(before_rows, after_rows, markdown=opts.markdown))
    print("\nA per-container cache instead (the largest account's ByAuthor reads = api containers / TTL):")
    print(_text_table(["TTL s", "containers", "queries/s", "RCU/s", "share"],
                      [(f"{c['ttl_s']:g}", _fmt(c["containers"]), _fmt(c["queries_per_s"]), _fmt(c["rcu_per_s"]),
                        _share(c["share_of_limit"])) for c in caches], opts.markdown))
    print("\nAccount quotas at this load (after design):")
    print(quota_report(account_quotas(preset, sizes, rules, after, largest_followers=largest, scenario=scenario),
                       markdown=opts.markdown))
    print("\nWhat the copies cost (on-demand, us-east-1), as specified and copying only the hot accounts:")
    lean = replace(after, copies_min_followers=copies_min_followers_needed(preset, sizes, rules))
    for design in (after, lean):
        print(("- " if opts.markdown else "") + copies_report(copies_cost(preset, sizes, ON_DEMAND_US_EAST_1, design,
                                                                          rules=rules)))
    if opts.plot:
        from bench.plots import plot_hot_keys

        print(f"\nplot: {plot_hot_keys(before_rows, after_rows, opts.plot)}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
