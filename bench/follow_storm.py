"""The follow-storm scenario (issue 23): many accounts follow one account at once, on the local
stack with DynamoDB's per-partition limits scaled down (infra.runtime.moto_fixes.partitions), as when a
celebrity joins (10 follows/s at 1/100 of the limits: 1,000/s at DynamoDB's; the model takes it
to twitter-2013's 5,000/s).

Run for the two paths a follow takes, one stack each:
  ordinary   the target is an ordinary account: each follow's transaction ADDs to its
             profile's counter under a condition on its celebrity flag, and writes the follower
             edge and tombstone delete in its own graph partition (the path every follow took
             before the storm path existed);
  celebrity  the target is a celebrity (the storm path, store/graph.py GraphStore.follow): the
             transaction holds none of its items; the edges spread over its 64 shard
             partitions, and the graph stream counts the follows.

Reported per run: follows acknowledged, statuses, throttled requests (the emulator's count of
refused calls), follow p50/p99, whether the target's follower count equals the follows once the
pipeline is idle, and per key class (the target's profile item, its own graph partition, its
hottest shard partition) the hottest key's units per second and share of the scaled limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import measure
from bench.hot_celebrity import PARTITION_READ_LIMIT, PARTITION_WRITE_LIMIT, hot_keys, run_alone
from bench.layer import import_layer
from bench.seed import sign_in, writer_for
from infra.runtime import LocalStack


@dataclass(frozen=True)
class FollowStorm:
    followers: int = 200
    # follows per second, all followers together, within what the emulator serves (a follow is
    # five or six calls, one at a time): at 1/100 of the limits, a storm of 1,000 follows/s
    rate: float = 10.0
    # Not 1/500 as in the hot-celebrity scenario: one follow's transaction writes ~8 units in
    # the follower's own partition (edges and checks), more than 1/500 of a partition's limit
    # holds at once; at 1/100 the follower's partition takes its follow as DynamoDB's would.
    partition_limit_scale: float = 1 / 100
    api_workers: int = 4
    seeded_followers: int = 10  # the target's count before the storm (a celebrity stays one)


PROFILES = {
    "tiny": FollowStorm(followers=30, rate=10.0),
    "quick": FollowStorm(),
    "full": FollowStorm(followers=600),
}


@dataclass
class _Storm:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first: float = float("inf")
    last: float = 0.0

    def done(self, status: int, started: float, ended: float) -> None:
        with self.lock:
            self.first, self.last = min(self.first, started), max(self.last, ended)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies_ms.append((ended - started) * 1000)

    @property
    def seconds(self) -> float:
        return max(1e-3, self.last - self.first)


def _seed(stack: LocalStack, followers: int, celebrity: bool, counted: int) -> dict:
    """The target and its followers-to-be (profiles and handle claims, no edges yet); the
    target a celebrity, as a promotion leaves it, or an ordinary account, with `counted`
    followers already (a count above the threshold's demotion line, so a celebrity stays one)."""
    import_layer()
    from timeline import ids
    from timeline.store.tables import HandleClaimModel, UserModel

    writer = writer_for(stack)
    now = int(time.time() * 1000)
    target, fans = ids.new_id(), [ids.new_id() for _ in range(followers)]
    handles = {target: "joiner", **{f: f"fan{n}" for n, f in enumerate(fans)}}
    writer.put(UserModel, [UserModel(UserModel.key(u), user_id=u, handle=h, display_name=h.title(), created_at=now,
                                     followers_count=counted if u == target else 0, following_count=0,
                                     celebrity=celebrity and u == target,
                                     celebrity_epoch=1 if celebrity and u == target else 0, tallied={},
                                     last_seen_at=now, stamped_at=now, unfollowed_at=0)
                           for u, h in handles.items()])
    writer.put(HandleClaimModel, [HandleClaimModel(HandleClaimModel.key(h), user_id=u) for u, h in handles.items()])
    return {"target": target, "fans": fans}


def _storm(url: str, tokens: list[str], rate: float) -> _Storm:
    """Each follower follows the target once, paced to `rate` follows per second in all, each
    on its own thread (a follow answered late does not hold the next one back)."""
    storm, start = _Storm(), time.time() + 0.2

    def follow(n: int, token: str) -> None:
        time.sleep(max(0.0, start + n / rate - time.time()))
        began = time.time()
        try:
            resp = requests.post(url + "/v1/users/joiner/follow", headers={"authorization": f"Bearer {token}"},
                                 timeout=60)
            storm.done(resp.status_code, began, time.time())
        except requests.RequestException:
            storm.done(0, began, time.time())

    threads = [threading.Thread(target=follow, args=(n, t), daemon=True) for n, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return storm


def _key_class(row: dict, target: int, env: dict) -> str | None:
    from timeline.store.graph import account_of

    if row["table"] == env["USERS_TABLE"] and row["key"] == f"USER#{target}":
        return "target profile item"
    if row["table"] == env["GRAPH_TABLE"] and row["index"] is None:
        partition = int(row["key"])
        if partition == target:
            return "target graph partition (own)"
        if partition < 0 and account_of(partition) == target:
            return "target graph partition (one shard)"
    return None


def run_path(endpoint: str, out_dir: Path, cfg: FollowStorm, path: str, say: Callable[[str], None]) -> dict:
    from infra import runtime

    celebrity = path == "celebrity"
    params = {"CelebrityThreshold": "2" if celebrity else "1000000000", "ActionRateLimitPerMinute": "1000000"}
    with LocalStack(f"storm-{path}", params, endpoint_url=endpoint, meter=True, log_dir=out_dir / "logs" / f"storm-{path}",
                       seed=lambda stack: _seed(stack, cfg.followers, celebrity, cfg.seeded_followers),
                       concurrency={"ApiFunction": cfg.api_workers}) as s:
        target, fans = s.seeded["target"], s.seeded["fans"]
        tokens = sign_in(s, fans)
        session = requests.Session()
        for f in fans[:cfg.api_workers * 2]:  # warm every api worker (cold starts are not measured)
            session.get(s.api_url + "/v1/users/joiner", headers={"authorization": f"Bearer {tokens[f]}"}, timeout=60)
        s.wait_idle(300)
        env, scale = s.api_env, cfg.partition_limit_scale
        say(f"  {path}: {cfg.followers} accounts follow one {'celebrity' if celebrity else 'ordinary account'} at "
            f"{cfg.rate:g}/s, partition limits x{scale:g} ({PARTITION_WRITE_LIMIT * scale:g} WCU/s per key)")
        runtime.reset_partition_usage()
        runtime.set_partition_limits(PARTITION_READ_LIMIT * scale, PARTITION_WRITE_LIMIT * scale)
        try:
            storm = _storm(s.api_url, [tokens[f] for f in fans], cfg.rate)
            s.wait_idle(120)  # the stream's count, the syncs
        finally:
            runtime.set_partition_limits(None, None)
        usage = runtime.partition_usage()
        runtime.reset_partition_usage()
        profile = session.get(s.api_url + "/v1/users/joiner",
                              headers={"authorization": f"Bearer {tokens[fans[0]]}"}, timeout=60).json()
    followed = storm.statuses.get(200, 0)
    hot = hot_keys(usage, lambda row: _key_class(row, target, env), storm.seconds, scale)
    result = {
        "path": path, "followers": cfg.followers, "target_rate": cfg.rate,
        "follows_per_s": round(sum(storm.statuses.values()) / storm.seconds, 1), "followed": followed,
        "statuses": {str(k): v for k, v in sorted(storm.statuses.items())},
        "errors_500": sum(v for k, v in storm.statuses.items() if k in (0, 500)),
        "throttled": sum(r["throttled_reads"] + r["throttled_writes"] for r in usage),
        "follow_p50_ms": _round(measure.percentile(storm.latencies_ms, 50)),
        "follow_p99_ms": _round(measure.percentile(storm.latencies_ms, 99)),
        "followers_count": profile.get("followers_count"),
        "count_exact": profile.get("followers_count") == cfg.seeded_followers + followed,
        "partition_limit_scale": scale, "hot_keys": hot,
    }
    say(f"  {path}: {followed} follows ({result['follows_per_s']}/s), statuses {result['statuses']}, throttled "
        f"{result['throttled']}, p50/p99 {result['follow_p50_ms']}/{result['follow_p99_ms']} ms, count "
        f"{result['followers_count']}; hottest: " + ", ".join(f"{c['key']} {c['share_of_limit']:.2f}" for c in hot))
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(endpoint: str, out_dir: Path, cfg: FollowStorm, say: Callable[[str], None]) -> dict:
    """The ordinary path and the storm path: the `follow_storm` section of the results."""
    say(f"follow storm: {cfg.followers} follows of one account at {cfg.rate:g}/s, partition limits "
        f"x{cfg.partition_limit_scale:g}")
    ordinary = run_path(endpoint, out_dir, cfg, "ordinary", say)
    celebrity = run_path(endpoint, out_dir, cfg, "celebrity", say)
    return {**celebrity, "ordinary": ordinary, "config": dict(cfg.__dict__)}


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.follow_storm [--profile tiny|quick|full]`: this scenario alone."""
    return run_alone(argv, "python -m bench.follow_storm", "storm", PROFILES, run)


if __name__ == "__main__":
    raise SystemExit(main())
