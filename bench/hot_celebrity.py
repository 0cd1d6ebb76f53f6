"""The hot-celebrity scenario (issue 23): many readers who all follow one celebrity read their
home timelines at once, on the local stack with DynamoDB's per-partition limits scaled down
(infra.runtime.moto_fixes.partitions: a token bucket per partition-key value, 3,000 read and 1,000 write units
a second times `partition_limit_scale`), with the api running several workers.

Run for two designs on the same emulator, one stack each:
  before  CelebrityCopyShards=0: every merge Queries the celebrity's ByAuthor partition and
          hydrates its posts and profile (the design before issue 23);
  after   CelebrityCopyShards=K: every merge Queries the reader's shard of the copies.
then once more for `after` with the partition limits `over_factor` times tighter, above what K
shards absorb at the same read rate, to show how it degrades (throttled calls retried by the
SDK, then a source left out of a page marked partial; never a 500). Tighter limits rather than
more reads: the local runtime's four api workers would saturate before DynamoDB did.

Reported per run: reads, throttled requests (the emulator's count of refused calls), status
codes, partial pages, read p50/p99, staleness (from the celebrity's post to its first
appearance on any reader's page, p50/p99), the hottest keys' units per second and share of
the scaled limit, and the units the model predicts for the run's merges next to the measured
ones (bench.hot_keys's formula: a shard Query reads ask+1 copies, rounded up to 4 KB once and
halved for an eventually consistent read).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests

from bench import measure
from bench.layer import import_layer
from bench.seed import sign_in, writer_for
from infra.runtime import LocalStack

PARTITION_READ_LIMIT, PARTITION_WRITE_LIMIT = 3000.0, 1000.0
FIRST_ROUND_ASK = 20 + 5 + 40  # limit + OVERFETCH + DEDUPE_WINDOW (service/reading.py)


@dataclass(frozen=True)
class HotCelebrity:
    readers: int = 100
    history_posts: int = 80  # the celebrity's posts before the load: every shard Query reads a full ask
    # home reads per second, all readers together: below the emulator's ceiling (it serves one
    # request at a time), so the pipeline that writes the copies is not queued behind the reads
    read_rate: float = 30.0
    duration_s: float = 20.0
    post_every_s: float = 2.0  # the celebrity posts during the load (staleness)
    # 30 reads/s over 32 shards at 1/500 of the limits is what each of the 128 shards of the 31M
    # account serves at twitter-2013 (62,000 merges/s / 128 = 484/s against 30 / 32 x 500 = 469/s)
    partition_limit_scale: float = 1 / 500
    shards: int = 32
    api_workers: int = 4
    over_factor: float = 3.0  # the over-limit run's partition limits, divided by this


PROFILES = {
    "tiny": HotCelebrity(readers=20, history_posts=70, read_rate=12.0, duration_s=5.0, post_every_s=1.5,
                         partition_limit_scale=1 / 600, shards=16, api_workers=4, over_factor=3.0),
    "quick": HotCelebrity(),
    "full": HotCelebrity(readers=200, duration_s=60.0),
}


@dataclass
class _Load:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    partial: int = 0
    first_seen: dict[str, float] = field(default_factory=dict)
    posted: dict[str, float] = field(default_factory=dict)
    post_statuses: dict[int, int] = field(default_factory=dict)  # each post's last answer
    lock: threading.Lock = field(default_factory=threading.Lock)
    first: float = float("inf")
    last: float = 0.0

    @property
    def seconds(self) -> float:
        """From the first read's start to the last one's end: the load's real length (reads
        the stack serves late stretch it past the planned duration, and lower its rate)."""
        return max(1e-3, self.last - self.first)

    def read(self, status: int, started: float, ended: float, body: dict | None) -> None:
        with self.lock:
            self.first, self.last = min(self.first, started), max(self.last, ended)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies_ms.append((ended - started) * 1000)
                self.partial += bool(body.get("partial"))
                for item in body.get("items", ()):
                    self.first_seen.setdefault(item["id"], ended)


def _seed(stack: LocalStack, readers: int, history: int) -> dict:
    """The celebrity and its readers, through the store layer before the pipeline starts:
    profiles, handle claims, follows with celebrity edges (as a promotion leaves them), the
    celebrity's `history` posts, and (with copies) their copies in every shard with the floor
    marker, as the build that copied the account leaves them."""
    import_layer()
    from timeline import ids
    from timeline.records import Tweet, User
    from timeline.settings import Settings
    from timeline.store.celebrity_copies import FLOOR, Copy, CopyStore
    from timeline.store.graph import CELEBRITY, FOLLOWER, FOLLOWING
    from timeline.store.tables import (
        CelebrityCopyModel,
        EdgeModel,
        HandleClaimModel,
        TweetModel,
        UserModel,
        padded,
    )

    settings = Settings.from_env(stack.api_env)
    writer = writer_for(stack)
    now = int(time.time() * 1000)
    copied = settings.celebrity_copy_shards > 0
    star, fans = ids.new_id(), [ids.new_id() for _ in range(readers)]
    handles = {star: "star", **{f: f"fan{n}" for n, f in enumerate(fans)}}
    writer.put(UserModel, [UserModel(UserModel.key(u), user_id=u, handle=h, display_name=h.title(), created_at=now,
                                     followers_count=readers if u == star else 0,
                                     following_count=0 if u == star else 1, celebrity=u == star,
                                     copied=True if u == star and copied else None,
                                     last_seen_at=now, stamped_at=now, unfollowed_at=0)
                           for u, h in handles.items()])
    writer.put(HandleClaimModel, [HandleClaimModel(HandleClaimModel.key(h), user_id=u) for u, h in handles.items()])
    edges = []
    for f in fans:
        edges += [EdgeModel(f, FOLLOWING + padded(star), other_id=star, created_at=now),
                  EdgeModel(star, FOLLOWER + padded(f), other_id=f, created_at=now, seen_at=now),
                  EdgeModel(f, CELEBRITY + padded(star), other_id=star, created_at=now,
                            copied=True if copied else None)]
    writer.put(EdgeModel, edges)
    posts = [Tweet(ids.new_id(), star, f"history {k}", now, fanout=False) for k in range(history)]
    writer.put(TweetModel, [TweetModel(t.tweet_id, author_id=star, text=t.text, created_at=now, fanout=False)
                            for t in posts])
    if copied:
        author = User(star, handles[star], handles[star].title(), now)
        CopyStore(writer, settings.celebrity_copy_shards).put(star, [Copy(t, None, {star: author}) for t in posts])
        writer.put(CelebrityCopyModel, [CelebrityCopyModel(f"{star}#{k}", FLOOR)
                                        for k in range(settings.celebrity_copy_shards)])
    return {"star": star, "fans": fans, "handles": handles}


POST_TRIES = 5


def _post(session: requests.Session, url: str, token: str, text: str) -> tuple[str | None, float, int]:
    """Post as a well-behaved client does: a 503 or 409 ("busy", "try again") is sent again
    with the same Idempotency-Key after its Retry-After (or a second). Returns the post's id
    (None if it never took), when it was acknowledged, and the last status."""
    key, status = uuid.uuid4().hex, 0
    for _ in range(POST_TRIES):
        resp = session.post(url + "/v1/tweets", json={"text": text}, timeout=30,
                            headers={"authorization": f"Bearer {token}", "idempotency-key": key})
        status = resp.status_code
        if status in (200, 201):
            return resp.json()["id"], time.time(), status
        if status not in (409, 429, 503):
            resp.raise_for_status()
        time.sleep(float(resp.headers.get("Retry-After", "1")))
    return None, time.time(), status


def _load(url: str, star_token: str, tokens: list[str], rate: float, duration: float, post_every: float,
          tick: Callable[[float], None]) -> _Load:
    """Readers paced to `rate` reads per second in all (each its share, on its own thread), and
    the celebrity posting every `post_every` seconds, for `duration` seconds."""
    load = _Load()
    start = time.time() + 0.2
    stop = start + duration
    per_reader = len(tokens) / rate  # seconds between one reader's reads

    def reader(n: int, token: str) -> None:
        session = requests.Session()
        next_at = start + (n / len(tokens)) * per_reader
        while next_at < stop:
            time.sleep(max(0.0, next_at - time.time()))
            began = time.time()
            try:
                resp = session.get(url + "/v1/timeline?limit=20", headers={"authorization": f"Bearer {token}"},
                                   timeout=60)
                load.read(resp.status_code, began, time.time(), resp.json() if resp.status_code == 200 else None)
            except requests.RequestException:
                load.read(0, began, time.time(), None)
            next_at += per_reader

    def poster() -> None:
        session, k = requests.Session(), 0
        while True:
            at = start + k * post_every
            if at >= stop - 1.0:
                return
            time.sleep(max(0.0, at - time.time()))
            tweet_id, acked, status = _post(session, url, star_token, f"breaking news {k}")
            with load.lock:
                load.post_statuses[status] = load.post_statuses.get(status, 0) + 1
                if tweet_id is not None:
                    load.posted[tweet_id] = acked
            k += 1

    threads = [threading.Thread(target=reader, args=(n, t), daemon=True) for n, t in enumerate(tokens)]
    threads.append(threading.Thread(target=poster, daemon=True))
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        tick(min(1.0, (time.time() - start) / duration))
    return load


def _copy_size(stack: LocalStack, star: int) -> float:
    from infra.runtime import item_size

    table = stack.stack.function_env["ApiFunction"]["CELEBRITY_COPIES_TABLE"]
    items = [i for i in boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
             .scan(TableName=table)["Items"] if i["shard"]["S"].startswith(f"{star}#") and int(i["tweet_id"]["N"])]
    return sum(item_size(i) for i in items) / len(items) if items else 0.0


def _key_class(row: dict, star: int, env: dict) -> str | None:
    table, index, key = row["table"], row["index"], row["key"]
    if table == env["TWEETS_TABLE"] and index == "ByAuthor" and key == str(star):
        return "celebrity ByAuthor partition"
    if table == env["TWEETS_TABLE"] and index is None:
        return "celebrity post item"
    if table == env["USERS_TABLE"] and key == f"USER#{star}":
        return "celebrity profile item"
    if table == env["CELEBRITY_COPIES_TABLE"] and key.startswith(f"{star}#"):
        return "celebrity copy shard"
    return None


def hot_keys(usage: list[dict], key_class: Callable[[dict], str | None], seconds: float,
             scale: float) -> list[dict]:
    """Per key class (`key_class` names a partition_usage() row's, or None to leave it out), the
    hottest key's units per second and share of the scaled limit, hottest class first."""
    classes: dict[str, dict] = {}
    for row in usage:
        name = key_class(row)
        if name is None:
            continue
        rcu, wcu = row["read_units"] / seconds, row["write_units"] / seconds
        share = max(rcu / (PARTITION_READ_LIMIT * scale), wcu / (PARTITION_WRITE_LIMIT * scale))
        c = classes.setdefault(name, {"key": name, "keys": 0, "read_units": 0.0, "throttled": 0, "share_of_limit": 0.0,
                                      "peak_rcu_per_s": 0.0, "peak_wcu_per_s": 0.0})
        c["keys"] += 1
        c["read_units"] += row["read_units"]
        c["throttled"] += row["throttled_reads"] + row["throttled_writes"]
        if share >= c["share_of_limit"]:
            c.update(share_of_limit=round(share, 3), peak_rcu_per_s=round(rcu, 2), peak_wcu_per_s=round(wcu, 2))
    return sorted(classes.values(), key=lambda c: -c["share_of_limit"])


def _predicted_units(design: str, reads: int, copy_size: float, by_author_entry: float, history: int) -> float:
    """What the model says the run's merges read from the celebrity's hot keys, in read units."""
    if design == "before":  # one ByAuthor Query of `ask` index entries per merge
        return reads * math.ceil(FIRST_ROUND_ASK * by_author_entry / 4096) * 0.5
    items = min(FIRST_ROUND_ASK + 1, history + 1)  # ask + 1: the floor marker's chance
    return reads * math.ceil(items * copy_size / 4096) * 0.5


def run_design(endpoint: str, out_dir: Path, cfg: HotCelebrity, design: str, *, rate: float, scale: float,
               say: Callable[[str], None]) -> dict:
    from infra import runtime

    shards = cfg.shards if design != "before" else 0
    params = {"CelebrityCopyShards": str(shards), "CelebrityThreshold": str(max(2, cfg.readers // 2)),
              "CopyThreshold": str(max(2, cfg.readers // 2)),
              "PostRateLimitPerMinute": "1000000", "ActionRateLimitPerMinute": "1000000"}
    label = design.replace("_", "-")
    with LocalStack(f"hot-{label}", params, endpoint_url=endpoint, meter=True, log_dir=out_dir / "logs" / f"hot-{label}",
                       seed=lambda stack: _seed(stack, cfg.readers, cfg.history_posts),
                       concurrency={"ApiFunction": cfg.api_workers}) as s:
        seeded = s.seeded
        star, fans = seeded["star"], seeded["fans"]
        tokens = sign_in(s, [star, *fans])
        session = requests.Session()
        for f in fans[:cfg.api_workers * 2]:  # warm every api worker (cold starts are not measured)
            session.get(s.api_url + "/v1/timeline?limit=20", headers={"authorization": f"Bearer {tokens[f]}"}, timeout=60)
        s.wait_idle(300)
        env = s.api_env
        say(f"  {design}: {cfg.readers} readers of one celebrity ({cfg.history_posts} posts, "
            f"CelebrityCopyShards={shards}); {rate:g} reads/s for {cfg.duration_s:g}s at partition limits x{scale:g} "
            f"({PARTITION_READ_LIMIT * scale:g} RCU/s, {PARTITION_WRITE_LIMIT * scale:g} WCU/s per key)")
        runtime.reset_partition_usage()
        mark = s.recorder.mark()
        runtime.set_partition_limits(PARTITION_READ_LIMIT * scale, PARTITION_WRITE_LIMIT * scale)
        try:
            load = _load(s.api_url, tokens[star], [tokens[f] for f in fans], rate, cfg.duration_s, cfg.post_every_s,
                         lambda done: None)
            s.wait_idle(120)  # the last posts' copies
        finally:
            runtime.set_partition_limits(None, None)
        usage = runtime.partition_usage()
        runtime.reset_partition_usage()
        copy_size = _copy_size(s, star)
        # The pipeline's own reads of the copies (the worker's trims): not the merges the model predicts.
        pipeline_copy_reads = sum(c["read_units"] for i in s.recorder.since(mark) if i.function != "ApiFunction"
                                  for c in i.calls if c.get("table") == env["CELEBRITY_COPIES_TABLE"])
    reads = sum(load.statuses.values())
    ok = load.statuses.get(200, 0)
    staleness = [(load.first_seen[t] - acked) * 1000 for t, acked in load.posted.items() if t in load.first_seen]
    hot = hot_keys(usage, lambda row: _key_class(row, star, env), load.seconds, scale)
    throttled = sum(r["throttled_reads"] + r["throttled_writes"] for r in usage)
    measured = sum(c["read_units"] for c in hot if c["key"] == ("celebrity ByAuthor partition" if design == "before"
                                                                   else "celebrity copy shard"))
    measured -= pipeline_copy_reads if design != "before" else 0.0
    predicted = _predicted_units("before" if design == "before" else "after", ok, copy_size, 39.0,
                                 cfg.history_posts)
    result = {
        "design": design, "celebrity_copy_shards": shards, "readers": cfg.readers, "api_workers": cfg.api_workers,
        "reads": reads, "reads_per_s": round(reads / load.seconds, 1), "target_reads_per_s": rate,
        "seconds": round(load.seconds, 1),
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "post_statuses": {str(k): v for k, v in sorted(load.post_statuses.items())},
        "errors_500": sum(v for d in (load.statuses, load.post_statuses) for k, v in d.items() if k in (0, 500)),
        "partial_pages": load.partial, "throttled": throttled,
        "read_p50_ms": _round(measure.percentile(load.latencies_ms, 50)),
        "read_p99_ms": _round(measure.percentile(load.latencies_ms, 99)),
        "posts_during": len(load.posted), "posts_seen": len(staleness),
        "staleness_p50_ms": _round(measure.percentile(staleness, 50)),
        "staleness_p99_ms": _round(measure.percentile(staleness, 99)),
        "partition_limit_scale": scale, "copy_item_bytes": round(copy_size, 1),
        "hot_keys": hot,
        "model_units": {"measured": round(measured, 1), "predicted": round(predicted, 1),
                        "ratio": round(measured / predicted, 3) if predicted else None},
    }
    say(f"  {design}: {reads} reads ({result['reads_per_s']}/s), throttled {throttled}, statuses {result['statuses']}, "
        f"posts {result['post_statuses']}, "
        f"partial {load.partial}, p50/p99 {result['read_p50_ms']}/{result['read_p99_ms']} ms, staleness p99 "
        f"{result['staleness_p99_ms']} ms; hottest: "
        + ", ".join(f"{c['key']} {c['share_of_limit']:.2f}" for c in hot[:3])
        + f"; model/measured units {result['model_units']['ratio']}")
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(endpoint: str, out_dir: Path, cfg: HotCelebrity, say: Callable[[str], None]) -> dict:
    """before, after, and after above its limit: the `hot_celebrity` section of the results."""
    say(f"hot celebrity: {cfg.readers} concurrent readers, api x{cfg.api_workers} workers, partition limits "
        f"x{cfg.partition_limit_scale:g}")
    scale = cfg.partition_limit_scale
    before = run_design(endpoint, out_dir, cfg, "before", rate=cfg.read_rate, scale=scale, say=say)
    after = run_design(endpoint, out_dir, cfg, "after", rate=cfg.read_rate, scale=scale, say=say)
    over = run_design(endpoint, out_dir, cfg, "after_over_limit", rate=cfg.read_rate,
                      scale=scale / cfg.over_factor, say=say)
    # The fields at the top (the design as built), the baseline and the overload beside.
    return {**after, "before": before, "over_limit": over, "config": dict(cfg.__dict__)}


def run_alone(argv: list[str] | None, prog: str, label: str, profiles: dict, run: Callable) -> int:
    """A partition-limit scenario alone (`run(endpoint, out_dir, profile, say)`), on an
    emulator of its own, with --profile and --out; prints its results as JSON."""
    import argparse
    import json
    import logging
    import os
    import sys

    from infra.runtime import Emulator, use_fake_credentials

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--profile", default="quick", choices=sorted(profiles))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, force=True)
    for noisy in ("werkzeug", "moto", "botocore", "infra"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    use_fake_credentials(os.environ.get("AWS_REGION") or "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{label} {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    emulator = Emulator.start(0)
    try:
        result = run(emulator.endpoint_url, args.out, profiles[args.profile], say)
    finally:
        emulator.stop()
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.hot_celebrity [--profile tiny|quick|full] [--out DIR]`: this scenario
    alone (make bench runs it after the strategies); prints the three runs as JSON."""
    return run_alone(argv, "python -m bench.hot_celebrity", "hot", PROFILES, run)


if __name__ == "__main__":
    raise SystemExit(main())
