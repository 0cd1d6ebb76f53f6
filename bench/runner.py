"""Run one benchmark: every strategy's stack on one embedded emulator, the same graph and the
same operation log for each, and the measurements `bench.report` turns into results.

Per strategy (a stack deployed from template.yaml with its CelebrityThreshold):
  1. seed the graph through the store layer before the pipeline starts, then the history
     posts, which the real pipeline fans out (that fan-out is also the fan-out rate
     measurement);
  2. cost probes, one operation at a time with the pipeline otherwise idle, so every request
     a post or a read causes is attributed to it exactly: posts by authors drawn by posting
     rate (plus one per follower-count stratum, plus the biggest account: the tail), and home
     reads by readers drawn by read rate;
  3. the mixed workload (the op log at ~50 reads per post, follows, unfollows, deletes), with
     probe followers polling for every post: latencies and delivery lag;
  4. read latency for a reader following 0 and one following 5 celebrities.
Extra sweep thresholds get steps 1-2 only. The hybrid stack also measures the emulator's
ceiling and, last, read latency as filler rows grow its tables.
"""

from __future__ import annotations

import json
import math
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench import measure
from bench.client import Client
from bench.model import OpCounts
from bench.profiles import Profile
from bench.seed import PASSWORD, Seeded, seed_graph, seed_history, sign_in_all
from bench.workload import OpLog
from infra.runtime import LocalStack

if TYPE_CHECKING:
    from bench.graph import Graph
    from infra.runtime import Invocation

POLL_INTERVAL = 0.05  # probe followers poll this often; lag resolution
LAG_TIMEOUT = 20.0
CELEBRITY_SEEN_TIMEOUT = 10.0


@dataclass
class Progress:
    """One line per step on stderr, with elapsed time: the benchmark takes minutes."""

    started: float = field(default_factory=time.perf_counter)

    def say(self, message: str) -> None:
        print(f"[bench {time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def every(self, total: int, label: str) -> Callable[[int], None]:
        step = max(1, total // 5)

        def tick(done: int) -> None:
            if done % step == 0 or done == total:
                self.say(f"  {label}: {done}/{total} ({100 * done // max(1, total)}%)")
        return tick


@dataclass
class PostProbe:
    author: int
    followers: int
    celebrity: bool
    counts: OpCounts
    visible_s: float  # 201 -> the last follower's entry written (0: merged at read, visible at once)
    # A celebrity's post: seconds from the 201 to a follower's first home read that shows it
    # (its copies are written by the pipeline; None: no follower, or not within CELEBRITY_SEEN_TIMEOUT)
    seen_after_s: float | None
    apply_s: float  # first worker start -> last worker end: the fan-out's own time
    worker_ms: float  # the fan-out workers' handler time (Lambda Duration), summed
    sampled: bool  # drawn by posting rate (counts toward per-post means) or a stratum probe
    author_trimmed: bool = False  # dispatch also queued a trim of the author's own timeline (TrimPolicy.due)


@dataclass
class ReadProbe:
    reader: int
    celebrities: int
    counts: OpCounts
    round_trips: int
    hydration_batches: int
    duration_ms: float
    posts_hydrated: int  # keys of the posts BatchGetItem
    authors_hydrated: int  # keys of the authors BatchGetItem
    engagement_reads: int = 0  # the page's likes, reposts and counts reads (issue 26)


@dataclass
class StrategyRun:
    name: str
    threshold: int
    seeded_items: int = 0
    fanout_entries: int = 0
    fanout_s: float = 0.0
    post_probes: list[PostProbe] = field(default_factory=list)
    read_probes: list[ReadProbe] = field(default_factory=list)
    reads: list[dict] = field(default_factory=list)  # {"reader", "celebrities", "ms", "handler_ms"}
    posts: list[dict] = field(default_factory=list)  # {"author", "ms", "celebrity"}
    lags: list[dict] = field(default_factory=list)  # {"tweet", "celebrity", "lag_ms", "first_read", "stages"}
    latency_by_celebrities: dict[int, dict] = field(default_factory=dict)  # celebrities -> {"e2e": [...], "handler": [...]}
    mixed_ops: dict[str, int] = field(default_factory=dict)
    ceiling: dict | None = None
    item_sizes: dict[str, float] = field(default_factory=dict)  # bench.model.ItemSizes fields, measured
    timeline_entries_mean: float = 0.0  # entries per materialized timeline after the probes
    table_size: list[dict] = field(default_factory=list)
    seconds: float = 0.0


class Bench:
    def __init__(self, profile: Profile, graph: Graph, oplog: OpLog, endpoint: str, out_dir: Path,
                 progress: Progress):
        self.profile, self.graph, self.oplog = profile, graph, oplog
        self.endpoint, self.out_dir, self.progress = endpoint, out_dir, progress

    # ------------------------------------------------------------------ helpers
    def celebrities_followed(self, reader: int, threshold: int) -> int:
        """Sources a home read merges besides the reader's timeline: followed celebrities (a
        celebrity's own posts are in its own timeline)."""
        fc = self.graph.followers_count
        return sum(fc[v] >= threshold for v in self.graph.following[reader])

    def probe_authors(self) -> tuple[list[int], list[int]]:
        """(sampled by posting rate, one per follower-count stratum incl. the biggest account)."""
        rng = random.Random(self.profile.seed + 1)
        sampled = rng.choices(range(self.graph.n), weights=self.graph.post_weight, k=self.profile.probe_posts)
        by_followers = sorted(range(self.graph.n), key=lambda u: self.graph.followers_count[u])
        strata = {by_followers[min(len(by_followers) - 1, int(q * len(by_followers)))]
                  for q in (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)}
        strata |= set(by_followers[-3:])
        return sampled, sorted(strata - set(sampled), key=lambda u: self.graph.followers_count[u])

    def probe_readers(self) -> list[int]:
        rng = random.Random(self.profile.seed + 2)
        return rng.choices(range(self.graph.n), weights=self.graph.read_weight, k=self.profile.probe_reads)

    def latency_readers(self, threshold: int) -> dict[int, int]:
        """Readers merging 0, 1 and 5 sources at this threshold (those that exist), each with a
        timeline at least a page long: celebrities merged -> reader."""
        chosen: dict[int, int] = {}
        fc = self.graph.followers_count
        for u in range(self.graph.n):
            fed = sum(fc[v] < threshold for v in self.graph.following[u])  # fanned out to u
            c = self.celebrities_followed(u, threshold)
            if c in (0, 1) and c not in chosen and (fed >= 30 or c):
                chosen[c] = u
            if 4 <= c <= 8 and abs(c - 5) < abs(chosen.get(-1, (99, 0))[0] - 5):
                chosen[-1] = (c, u)  # the reader merging closest to five sources
        if -1 in chosen:
            c, u = chosen.pop(-1)
            chosen[c] = u
        return chosen

    def first_follower(self, author: int) -> int | None:
        followers = self.graph.followers(author)
        return min(followers) if followers else None

    @property
    def biggest(self) -> int:
        return max(range(self.graph.n), key=lambda u: self.graph.followers_count[u])

    # ------------------------------------------------------------------ one strategy
    def run_strategy(self, name: str, threshold: int, *, mixed: bool, ceiling: bool = False,
                     table_size: bool = False) -> StrategyRun:
        run = StrategyRun(name, threshold)
        started = time.perf_counter()
        say = self.progress.say
        # The benchmark posts and follows as fast as the stack takes it: no per-account limits.
        # Counts are read on every page (no per-container cache), as the model counts them: a
        # read's measured units are its worst case, comparable with bench.model's.
        with LocalStack(f"bench-{name}", {"CelebrityThreshold": str(threshold),
                                                            "PostRateLimitPerMinute": "1000000",
                                                            "ActionRateLimitPerMinute": "1000000",
                                                            "CountsCacheSeconds": "0"},
                           endpoint_url=self.endpoint, log_dir=self.out_dir / "logs" / name, meter=True,
                           seed=lambda stack: seed_graph(stack, self.graph, threshold)) as s:
            seeded: Seeded = s.seeded
            say(f"{name} (CelebrityThreshold={threshold}): stack deployed, seeded {self.graph.n} users and "
                f"{self.graph.edges} follows")
            mark = s.recorder.mark()
            seed_history(s, self.graph, seeded, history_per_user=self.profile.history_per_user, seed=self.profile.seed)
            run.seeded_items = seeded.items
            say(f"  seeded {seeded.items} rows in {seeded.seconds:.1f}s; {seeded.history_posts} history posts "
                f"fanning out through the pipeline")
            sampled, strata = self.probe_authors()
            readers = self.probe_readers()
            latency_readers = self.latency_readers(threshold)
            actors = set(sampled) | set(strata) | set(readers) | set(latency_readers.values())
            actors |= {f for a in set(sampled) | set(strata) if (f := self.first_follower(a)) is not None}
            if mixed:
                actors |= self.oplog.actors
            # Signing in and warming the workers overlap the history's fan-out; one wait covers both.
            phase = time.perf_counter()
            tokens = sign_in_all(s, seeded, actors)
            client = Client(s.api_url)
            self._warm(client, tokens, readers)
            s.wait_idle(300)
            self._fanout_rate(run, s.recorder.since(mark))
            say(f"  {len(tokens)} accounts signed in, workers warm, fan-out settled ({time.perf_counter() - phase:.1f}s): "
                f"{run.fanout_entries} timeline entries in {run.fanout_s:.1f}s")
            if ceiling:
                # The reader the home-read ratio is quoted for (following no celebrity), so the
                # raw Query reads the same partition the product's read does.
                owner = latency_readers.get(0, readers[0])
                run.ceiling = self._raw_calls(s, seeded, owner, writes=self.profile.ceiling_writes)
                say(f"  emulator ceiling: {json.dumps({k: round(v, 2) for k, v in run.ceiling.items()})}")

            self._cost_probes(run, s, client, tokens, seeded, sampled, strata, readers)
            run.item_sizes = self._item_sizes(s)
            run.timeline_entries_mean = self._timeline_entries_mean(s)
            if mixed:
                self._mixed(run, s, client, tokens, seeded)
            self._latency_by_celebrities(run, s, client, tokens, latency_readers)
            if not any(4 <= c <= 8 for c in run.latency_by_celebrities) and len(seeded.celebrities) >= 5:
                self._five_celebrity_reader(run, s, client, seeded)
            if table_size:
                self._table_size(run, s, client, tokens, seeded, latency_readers)
        run.seconds = time.perf_counter() - started
        say(f"{name}: done in {run.seconds:.1f}s")
        return run

    def _warm(self, client: Client, tokens: dict[int, str], readers: list[int]) -> None:
        """Cold starts are not what this measures: every api worker reads and posts once (the
        cursor key and the models load on first use); the caller waits
        for the pipeline to handle those posts before any measurement starts."""
        token = tokens[readers[0]]
        for k in range(4):
            client.home(token, op=f"warm:{k}")
            client.post(token, f"warm-up {k}", op=f"warm-post:{k}")

    def _fanout_rate(self, run: StrategyRun, invocations: list) -> None:
        workers = [i for i in invocations if i.function == "FanoutWorkerFunction"]
        entries = sum(c["items"] for i in workers for c in i.calls
                      if c["op"] == "BatchWriteItem" and "Timelines" in (c["table"] or ""))
        run.fanout_entries = entries
        run.fanout_s = (max(i.ended for i in workers) - min(i.started for i in workers)) if workers else 0.0

    def _raw_calls(self, s: LocalStack, seeded: Seeded, owner: int, writes: int = 0) -> dict:
        """bench.ceiling in its own process (as a function worker calls): raw Queries of this
        reader's timeline and of the biggest account's ByAuthor posts, and `writes` raw items."""
        env = s.api_env
        proc = subprocess.run(
            [sys.executable, "-m", "bench.ceiling", "--endpoint", self.endpoint,
             "--timelines", env["TIMELINES_TABLE"], "--owner", str(seeded.user_ids[owner]),
             "--tweets", env["TWEETS_TABLE"], "--author", str(seeded.user_ids[self.biggest]),
             "--writes", str(writes)],
            capture_output=True, text=True, check=True)
        return json.loads(proc.stdout)

    def _dynamodb(self, s: LocalStack):
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=s.region)

    def _timeline_entries_mean(self, s: LocalStack) -> float:
        """Entries per materialized timeline: what a trim's Query reads below the cap."""
        owners: dict[str, int] = {}
        for page in self._dynamodb(s).get_paginator("scan").paginate(TableName=s.api_env["TIMELINES_TABLE"],
                                                                    ProjectionExpression="owner_id"):
            for item in page["Items"]:
                owners[item["owner_id"]["N"]] = owners.get(item["owner_id"]["N"], 0) + 1
        return sum(owners.values()) / len(owners) if owners else 0.0

    def _item_sizes(self, s: LocalStack) -> dict[str, float]:
        """Mean stored size of each kind of item the capacity model prices, as DynamoDB counts
        bytes (a sample of each table)."""
        from infra.runtime import item_size

        ddb = self._dynamodb(s)
        env = s.api_env

        def mean(table: str, keep=lambda item: True, project=None) -> float:
            items = [i for i in ddb.scan(TableName=table, Limit=400)["Items"] if keep(i)]
            sizes = [item_size({k: v for k, v in i.items() if project is None or k in project}) for i in items]
            return sum(sizes) / len(sizes) if sizes else 0.0

        return {"timeline_entry": mean(env["TIMELINES_TABLE"]),
                "post": mean(env["TWEETS_TABLE"]),
                "by_author_entry": mean(env["TWEETS_TABLE"], project={"author_id", "tweet_id"}),
                "profile": mean(env["USERS_TABLE"], keep=lambda i: i["pk"]["S"].startswith("USER#")),
                "edge": mean(env["GRAPH_TABLE"], keep=lambda i: not i["edge"]["S"].startswith("follower#")),
                "follower_edge": mean(env["GRAPH_TABLE"], keep=lambda i: i["edge"]["S"].startswith("follower#")),
                "idempotency_record": mean(env["IDEMPOTENCY_TABLE"])}

    # ------------------------------------------------------------------ cost probes
    def _cost_probes(self, run: StrategyRun, s: LocalStack, client: Client, tokens: dict[int, str],
                     seeded: Seeded, sampled: list[int], strata: list[int], readers: list[int]) -> None:
        tick = self.progress.every(len(sampled) + len(strata) + len(readers), f"{run.name} cost probes")
        done = 0
        for is_sampled, authors in ((True, sampled), (False, strata)):
            for k, author in enumerate(authors):
                run.post_probes.append(self._probe_post(s, client, tokens, seeded, author, is_sampled, k))
                done += 1
                tick(done)
        for k, reader in enumerate(readers):
            op = f"probe-read:{k}"
            mark = s.recorder.mark()
            client.home(tokens[reader], op=op)
            inv = next(i for i in s.recorder.since(mark) if measure.header(i, "x-bench-op") == op)
            tweets_table, users_table = s.api_env["TWEETS_TABLE"], s.api_env["USERS_TABLE"]
            graph_table = s.api_env["GRAPH_TABLE"]
            gets = [c for c in inv.calls if c["op"] == "BatchGetItem" and c["table"] in (tweets_table, users_table)]
            # The page's engagement (the viewer's likes and reposts, the counts): every call on the
            # graph table but the reader's home edges Query.
            engagement = sum(1 for c in inv.calls if c["table"] == graph_table) - 1
            run.read_probes.append(ReadProbe(
                reader, self.celebrities_followed(reader, run.threshold), measure.count([inv]),
                measure.sequential_round_trips(inv), len(gets), inv.duration_ms or 0.0,
                sum(c["items"] for c in gets if c["table"] == tweets_table),
                sum(c["items"] for c in gets if c["table"] == users_table), max(0, engagement)))
            done += 1
            tick(done)

    def _probe_post(self, s: LocalStack, client: Client, tokens: dict[int, str], seeded: Seeded,
                    author: int, sampled: bool, k: int) -> PostProbe:
        followers = self.graph.followers_count[author]
        celebrity = author in seeded.celebrities
        # Every follower is active (seeded so); the author's own entry is written with the post.
        expected = 0 if celebrity else followers
        mark = s.recorder.mark()
        tweet_id, _, posted = client.post(tokens[author], f"probe {k} by {seeded.handles[author]}", op=f"probe-post:{k}")
        seen_after = None
        follower = self.first_follower(author)
        if follower is not None and celebrity:  # a follower polls until the merge shows it
            polls, until = 0, time.time() + CELEBRITY_SEEN_TIMEOUT
            while seen_after is None and time.time() < until:
                ids, _, ended = client.home(tokens[follower], op=f"probe-next-read:{k}:{polls}")
                seen_after = ended - posted if str(tweet_id) in ids else None
                polls += 1
                time.sleep(0 if seen_after is not None else POLL_INTERVAL)
            seen_after = math.inf if seen_after is None else seen_after
        deadline = time.monotonic() + 60
        while True:
            invocations = s.recorder.since(mark)
            dispatch = [i for i in invocations if i.function == "FanoutDispatchFunction"
                        and tweet_id in measure.dispatched_tweets(i)]
            handlers = [i for i in invocations if i.function == "FanoutWorkerFunction"]
            added = [(i, measure.entries_added(i, tweet_id)) for i in handlers]
            workers = [i for i, n in added if n]
            # Every message the dispatch queued handled too: besides the entries, a trim of the
            # author's own timeline now and then (service/fanout.py:FanoutPlanner.posted).
            queued = sum(measure.messages_sent(i) for i in dispatch)
            if (dispatch and sum(n for _, n in added) >= expected
                    and sum(len(measure.fanout_messages(i)) for i in handlers) >= queued):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"post {tweet_id} by {author} not fanned out within 60 s")
            time.sleep(0.005)
        visible = max((i.ended for i in workers), default=posted) - posted if expected else 0.0
        applied = (max(i.ended for i in workers) - min(i.started for i in workers)) if workers else 0.0
        invocations = [i for i in invocations if not (measure.header(i, "x-bench-op") or "").startswith("probe-next")]
        trimmed = any(m.get("op") == "trim" for i in handlers for m in measure.fanout_messages(i))
        return PostProbe(author, followers, celebrity, measure.count(invocations), max(0.0, visible),
                         seen_after, applied, sum(i.duration_ms or 0.0 for i in workers), sampled, trimmed)

    # ------------------------------------------------------------------ the mixed workload
    def _mixed(self, run: StrategyRun, s: LocalStack, client: Client, tokens: dict[int, str],
               seeded: Seeded) -> None:
        probes: queue.Queue = queue.Queue()
        lag_thread = threading.Thread(target=self._poll_lags, args=(run, client, tokens, probes), daemon=True)
        lag_thread.start()
        mark = s.recorder.mark()
        posted: dict[int, int] = {}  # op index -> tweet id
        tick = self.progress.every(len(self.oplog.ops), f"{run.name} mixed workload")
        handles = seeded.handles
        for k, op in enumerate(self.oplog.ops):
            token = tokens[op.actor]
            run.mixed_ops[op.kind] = run.mixed_ops.get(op.kind, 0) + 1
            if op.kind == "read":
                _, t0, t1 = client.home(token, op=f"read:{k}")
                run.reads.append({"reader": op.actor, "op": f"read:{k}", "ms": (t1 - t0) * 1000,
                                  "celebrities": self.celebrities_followed(op.actor, run.threshold)})
            elif op.kind == "post":
                tweet_id, t0, t1 = client.post(token, f"post {k} by {handles[op.actor]}", op=f"post:{k}")
                posted[k] = tweet_id
                celebrity = self.graph.followers_count[op.actor] >= run.threshold
                run.posts.append({"author": op.actor, "ms": (t1 - t0) * 1000, "celebrity": celebrity})
                probes.put((tweet_id, t1, [tokens[p] for p in op.probes], celebrity))
            elif op.kind == "follow":
                client.follow(token, handles[op.target], op=f"follow:{k}")
            elif op.kind == "unfollow":
                client.unfollow(token, handles[op.target], op=f"unfollow:{k}")
            elif op.kind == "delete" and op.target in posted:
                client.delete(token, posted[op.target], op=f"delete:{k}")
            tick(k + 1)
        probes.put(None)
        lag_thread.join()
        s.wait_idle(120)
        invocations = s.recorder.since(mark)
        handler_ms = {measure.header(i, "x-bench-op"): i.duration_ms for i in invocations
                      if i.function == "ApiFunction"}
        for read in run.reads:
            read["handler_ms"] = handler_ms.get(read["op"])
        self._stages(run, invocations)

    def _poll_lags(self, run: StrategyRun, client: Client, tokens: dict[int, str], probes: queue.Queue) -> None:
        """Probe followers poll their home timelines every POLL_INTERVAL until the post shows
        up; every pending (post, probe) pair is polled in each round, so a slow post does not
        hold up the probes of the next one."""
        pending: list[dict] = []
        n, more = 0, True
        while more or pending:
            try:
                while (job := probes.get(timeout=POLL_INTERVAL if not pending else 0.0)) is not None:
                    tweet_id, posted, probe_tokens, celebrity = job
                    pending += [{"tweet": tweet_id, "posted": posted, "token": t, "celebrity": celebrity, "polls": 0}
                                for t in probe_tokens]
                more = False
            except queue.Empty:
                pass
            round_started = time.time()
            for item in list(pending):
                n += 1
                item["polls"] += 1
                ids, t0, _ = client.home(item["token"], op=f"lag:{n}")
                seen = str(item["tweet"]) in ids
                if seen or t0 - item["posted"] > LAG_TIMEOUT:
                    pending.remove(item)
                    run.lags.append({"tweet": item["tweet"], "celebrity": item["celebrity"],
                                     "first_read": seen and item["polls"] == 1, "posted": item["posted"],
                                     "lag_ms": max(0.0, (t0 - item["posted"]) * 1000) if seen else None})
            if pending:
                time.sleep(max(0.0, POLL_INTERVAL - (time.time() - round_started)))

    def _stages(self, run: StrategyRun, invocations: list) -> None:
        """Where each probed post's delivery time went: 201 -> its stream record polled
        (dispatch starts) -> dispatch -> the queued message picked up (worker starts) -> the
        entries written -> seen by the probe's next poll."""
        dispatch = {t: i for i in invocations if i.function == "FanoutDispatchFunction"
                    for t in measure.dispatched_tweets(i)}
        first_worker: dict[int, Invocation] = {}  # tweet -> the earliest worker invocation adding it
        for i in invocations:
            if i.function == "FanoutWorkerFunction":
                for m in measure.fanout_messages(i):
                    if m.get("op") == "add" and m.get("owners"):
                        tweet = int(m["tweet_id"])
                        if tweet not in first_worker or i.started < first_worker[tweet].started:
                            first_worker[tweet] = i
        for lag in run.lags:
            d, first = dispatch.get(lag["tweet"]), first_worker.get(lag["tweet"])
            if lag["celebrity"] or lag["lag_ms"] is None or d is None or first is None:
                continue
            seen = lag["posted"] + lag["lag_ms"] / 1000
            lag["stages"] = {"stream": max(0.0, d.started - lag["posted"]) * 1000,
                             "dispatch": (d.ended - d.started) * 1000,
                             "queue": max(0.0, first.started - d.ended) * 1000,
                             "worker": (first.ended - first.started) * 1000,
                             "visible": max(0.0, seen - first.ended) * 1000}

    # ------------------------------------------------------------------ read latency by celebrities
    def _latency_by_celebrities(self, run: StrategyRun, s: LocalStack, client: Client,
                                tokens: dict[int, str], readers: dict[int, int]) -> None:
        for celebrities, reader in sorted(readers.items()):
            run.latency_by_celebrities[celebrities] = {
                "reader": reader, **self._timed_reads(s, client, tokens[reader], f"latency:{celebrities}")}

    def _timed_reads(self, s: LocalStack, client: Client, token: str, label: str) -> dict:
        """`latency_reads` home reads one after another: end-to-end and handler times, the
        handler's time inside AWS calls, and its sequential round trips."""
        e2e: list[float] = []
        mark = s.recorder.mark()
        for k in range(self.profile.latency_reads):
            _, t0, t1 = client.home(token, op=f"{label}:{k}")
            e2e.append((t1 - t0) * 1000)
        invocations = [i for i in s.recorder.since(mark) if i.function == "ApiFunction"]
        return {"e2e": e2e, "handler": [i.duration_ms for i in invocations],
                "in_calls": [measure.time_in_calls(i) for i in invocations],
                "round_trips": [measure.sequential_round_trips(i) for i in invocations]}

    def _five_celebrity_reader(self, run: StrategyRun, s: LocalStack, client: Client, seeded: Seeded) -> None:
        """No account of the graph merges about five sources here: sign a new one up through the
        API and have it follow the five biggest celebrities, then time its reads."""
        token = client.sign_up("fivecelebs", PASSWORD)
        biggest = sorted(seeded.celebrities, key=lambda u: -self.graph.followers_count[u])[:5]
        for k, celebrity in enumerate(biggest):
            client.follow(token, seeded.handles[celebrity], op=f"five-follow:{k}")
        s.wait_idle(60)  # the follows' syncs (through the graph table's stream) are not what is timed
        run.latency_by_celebrities[5] = {"reader": None, **self._timed_reads(s, client, token, "latency:5")}

    # ------------------------------------------------------------------ table size
    def _table_size(self, run: StrategyRun, s: LocalStack, client: Client, tokens: dict[int, str],
                    seeded: Seeded, readers: dict[int, int]) -> None:
        """Read latency as the tables grow: filler posts (by accounts nobody follows) and filler
        timeline entries (of readers nobody is) are added with the pipeline stopped, so only
        the tables' size changes, then the same reads are timed again."""
        from bench.seed import add_filler

        s.stop_pipeline()
        reader = readers.get(max(readers)) if readers else None
        if reader is None:
            return
        added = 0
        for size in (0, *self.profile.table_sizes):
            if size > added:
                add_filler(s, size - added)
                added = size
            mark = s.recorder.mark()
            for k in range(self.profile.latency_reads):
                client.home(tokens[reader], op=f"size:{size}:{k}")
            handler = [i.duration_ms for i in s.recorder.since(mark) if i.function == "ApiFunction"]
            raw = self._raw_calls(s, seeded, reader)
            run.table_size.append({"filler_rows": size, "entries": size * 2 + run.seeded_items,
                                   "read_p50_ms": measure.median(handler),
                                   "index_query_p50_ms": raw["raw_index_query_p50_ms"],
                                   "table_query_p50_ms": raw["raw_query_p50_ms"]})
            self.progress.say(f"  table size +{size} filler rows: read p50 {measure.median(handler):.1f} ms, "
                              f"index query p50 {raw['raw_index_query_p50_ms']:.2f} ms")
