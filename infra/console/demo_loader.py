"""The demo data of `make run`, loaded in bulk through the product's own store layer.

Seeding the demo over the HTTP API (infra.console.seed.seed, still what `timeline seed` does) took
95-140 s on two cores: 3,500 requests, each a gateway hop, a function invocation and several
emulator calls, all served by the emulator's one process, while the pipeline fanned out
alongside. The demo is seed data, not traffic, so this module writes it the way a bulk import
would, and leaves to the product's own pipeline everything a reader could tell apart.

Written here, in bulk (BatchWriteItem, 25 items a request, four in flight), with the store
layer's own pynamodb models, serializers and BatchWriter (layers/timeline/python/timeline/
store, imported in this process as the unit-test harness does), bound to the stack's table
names (the API function's environment, read back from the deployed stack) and signed with the
platform's credentials (the local account's root), as a migration job would:

- profiles and handle claims (UsersTable) with the follower and following counts the plan's
  graph gives them; accounts in the identity provider through the product's own
  `IdentityProvider.register` (sign-up, then confirmation; eight at a time). The demo login's
  account is the very first write, so it can sign in while the rest loads;
- both directions of every follow (GraphTable), as `GraphStore.follow` writes them;
- posts, replies and reposts (TweetsTable), each with its author's own timeline entry (and a
  repost with its claim edge), as `TweetStore.put_new` writes them, ids minted by the
  product's id generator in posting order; each row's fan-out flag is its author's celebrity
  flag as the table holds it then, as the API reads it.

Left to the product's pipeline, exactly as for API traffic (nothing here writes a follower's
timeline entry, a celebrity flag or a celebrity edge):

- the users stream flips the flag of every account whose follower count reaches
  CelebrityThreshold (fanout_dispatch), and each flip's walk gives its followers their
  celebrity edges (fanout_worker);
- the graph stream queues a `sync_follow` per follow (fanout_dispatch -> FanoutQueue ->
  fanout_worker);
- the tweets stream fans every post and repost out to its author's active followers;
- pictures take the real media path through the HTTP API: upload form, presigned POST to
  S3, S3 notification -> MediaQueue -> media_processor, then the post that attaches them.

Order, and why. The accounts and follows go first (the demo login can sign in within a
second, every account by the time the banner prints). The posts wait until the pipeline has
synced the follows (`wait_idle`) and flagged the celebrities: a follow synced before its
account has posts costs the pipeline two reads, one synced after costs a backfill (a read of
the whole timeline and a write); with the default demo on two cores, writing the posts at
once made the whole demo readable about 20 s later, not sooner. Celebrities flagged first
also mean their posts are merged at read time and never fanned out (were a flag late, the
dispatch would fan the post out: more work, the same timelines). What a reader sees is what
the same plan gives through the API: tests/runtime/test_demo_loader.py loads one plan both ways
and compares every profile and every home timeline.

What bounds the time to "fully readable" is the pipeline itself on the emulator: the tweets
stream has one shard, its batches are dispatched one after another (as Lambda does per
shard), and each record costs two emulator round trips (the author's followers, the queue
send), served by the one process that also hosts moto, the pollers and the gateway; about
1,600 records take 35-45 s there, on top of the 15-20 s the follow syncs take.

Not written: rate-limit windows and idempotency records (a seed is neither traffic nor a
retried request). The demo therefore needs no raised PostRateLimitPerMinute.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.console import seed as demo

if TYPE_CHECKING:
    from infra.runtime.deployer import Stack

log = logging.getLogger("infra.demo")

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "timeline" / "python"
SEED_CORRELATION_ID = "demo-seed"  # in the rows' correlation_id: the fan-out's log lines say where a post came from
POST_CHUNK = 250  # posts written per step (the stream starts fanning out the first while the next is written)
PROMOTION_TIMEOUT = 20.0
PICTURE_THREADS = 4  # uploads in flight: each waits a moment for the media processor  # how long posts wait for the celebrity flags the plan expects


def import_layer() -> None:
    """Make the product's domain package (the Lambda layer) importable in this process, the
    way the unit-test harness does."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))


@dataclass
class LoadReport:
    users: int = 0
    follows: int = 0
    posts: int = 0
    replies: int = 0
    reposts: int = 0
    pictures: int = 0
    login_seconds: float = 0.0  # from the load's start: the demo login can sign in
    written_seconds: float = 0.0  # from the load's start: every account and follow written
    posts_seconds: float = 0.0  # writing the posts, replies and reposts (after the follows synced)
    celebrities: list[tuple[str, int]] = field(default_factory=list)  # the plan's, by follower count
    promoted: list[str] = field(default_factory=list)  # flagged by the pipeline before the posts

    @property
    def seconds(self) -> float:
        """What the banner reports as "demo data": the time the accounts and follows took."""
        return self.written_seconds


class _Stores:
    """The store layer's objects, bound to one stack on one endpoint (not to this process's
    environment: the runtime process hosts the emulator and must not point everything else at it)."""

    def __init__(self, stack: Stack, endpoint_url: str, region: str, concurrency: int):
        import_layer()
        import boto3
        from botocore.config import Config

        from timeline.settings import Settings
        from timeline.store import tables
        from timeline.store.batching import BatchWriter
        from timeline.store.identity import IdentityProvider

        self.settings = Settings.from_env(stack.function_env["ApiFunction"])
        tables.bind(self.settings, region)
        for model in (tables.UserModel, tables.HandleClaimModel, tables.TweetModel, tables.EdgeModel,
                      tables.TimelineEntryModel, tables.MediaModel, tables.RateLimitModel):
            model.Meta.host = endpoint_url
            model._connection = None  # pynamodb caches it per model: rebuilt for this endpoint
        config = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=32)
        session = boto3.Session(region_name=region)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=config)
        self.batch = BatchWriter(self.dynamodb, concurrency=concurrency)
        self.identity = IdentityProvider(session.client("cognito-idp", endpoint_url=endpoint_url, config=config),
                                         self.settings.user_pool_id, self.settings.user_pool_client_id)
        self.tables = tables
        self.sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)

    def fanout_backlog(self) -> int | None:
        """Messages on the fan-out queue, waiting or in flight (None if the queue cannot be asked)."""
        try:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.settings.fanout_queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        except Exception:  # a progress line is never worth failing for
            return None
        return sum(int(v) for v in attributes["Attributes"].values())


class Cancelled(Exception):
    """The stack is stopping: the load gives up between two steps."""


class DemoLoader:
    """Loads one SeedPlan into one deployed stack (see the module docstring): `write_accounts`
    (the demo login first: `login_ready` is set as soon as it can sign in), `write_posts` once
    the follows have synced, then `post_pictures` through the API."""

    def __init__(self, stack: Stack, endpoint_url: str, *, region: str | None = None, threads: int = 8):
        self.stores = _Stores(stack, endpoint_url, region or stack.region, concurrency=4)
        self.threads = threads
        self.user_ids: list[int] = []
        self.report = LoadReport()
        self.login_ready = threading.Event()
        self.cancelled = threading.Event()

    def _phase(self, name: str) -> None:
        """Between two steps: give up if the stack is stopping."""
        if self.cancelled.is_set():
            raise Cancelled(name)

    # ------------------------------------------------------------------ the load
    def write_accounts(self, plan: demo.SeedPlan) -> LoadReport:
        """Every account (profile, handle, login) and every follow of the plan; the demo
        login's account first (`login_ready`). The graph stream then syncs each follow."""
        from timeline import ids

        started = time.monotonic()
        report = LoadReport(users=len(plan.users), follows=len(plan.follows), celebrities=plan.celebrities())
        self.user_ids = [ids.new_id() for _ in plan.users]
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="demo")
        try:
            self._write_users(plan, self.user_ids, int(time.time() * 1000))
            report.login_seconds = time.monotonic() - started
            self.login_ready.set()
            accounts = pool.submit(self._register, self.user_ids, pool)
            self._write_follows(plan, self.user_ids, int(time.time() * 1000))
            accounts.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        report.written_seconds = time.monotonic() - started
        self.report = report
        return report

    def write_posts(self, plan: demo.SeedPlan) -> LoadReport:
        """Every post, reply and repost of the plan (after write_accounts), once the pipeline
        has flagged the plan's celebrities."""
        started = time.monotonic()
        report = self.report
        report.promoted = self._await_promotions(plan, self.user_ids)
        posted = self._write_posts(plan, self.user_ids)
        report.posts = len(posted)
        report.replies, report.reposts = self._write_reactions(plan, self.user_ids, posted)
        report.posts_seconds = time.monotonic() - started
        return report

    # ------------------------------------------------------------------ accounts
    def _write_users(self, plan: demo.SeedPlan, user_ids: list[int], now: int) -> None:
        """Profiles with the counts the follow graph gives them (the flag is the pipeline's
        to flip), and handle claims; the demo login's first, with its identity, so it can
        sign in while the rest loads."""
        t = self.stores.tables
        followers = Counter(b for _, b in plan.follows)
        following = Counter(a for a, _ in plan.follows)
        profiles, claims = [], []
        for i, (user, user_id) in enumerate(zip(plan.users, user_ids, strict=True)):
            profiles.append(t.UserModel(
                t.UserModel.key(user_id), user_id=user_id, handle=user.handle, display_name=user.display_name,
                created_at=now, followers_count=followers[i], following_count=following[i], celebrity=False,
                last_seen_at=now, stamped_at=now, unfollowed_at=0))
            claims.append(t.HandleClaimModel(t.HandleClaimModel.key(user.handle), user_id=user_id))
        batch = self.stores.batch
        batch.put(t.UserModel, profiles[:1])
        batch.put(t.HandleClaimModel, claims[:1])
        self.stores.identity.register(str(user_ids[0]), demo.DEMO_PASSWORD)
        batch.put(t.UserModel, profiles[1:])
        batch.put(t.HandleClaimModel, claims[1:])
        self._phase("users")

    def _register(self, user_ids: list[int], pool: ThreadPoolExecutor) -> None:
        """Every other demo account in the identity provider (the demo login's was first)."""
        register = self.stores.identity.register
        todo = [str(user_id) for user_id in user_ids[1:]]
        for _ in pool.map(lambda name: register(name, demo.DEMO_PASSWORD), todo):
            self._phase("sign-ups")

    # ------------------------------------------------------------------ the graph
    def _write_follows(self, plan: demo.SeedPlan, user_ids: list[int], now: int) -> None:
        """Both edges of every follow, as GraphStore.follow writes them (the follower edge
        stamped active). The graph stream queues each follow's sync, as for a follow over the API."""
        t = self.stores.tables
        from timeline.store.graph import FOLLOWER, FOLLOWING

        edges = []
        for a, b in plan.follows:
            follower, followee = user_ids[a], user_ids[b]
            edges.append(t.EdgeModel(follower, FOLLOWING + t.padded(followee), other_id=followee, created_at=now))
            edges.append(t.EdgeModel(followee, FOLLOWER + t.padded(follower), other_id=follower, created_at=now,
                                     seen_at=now))
        self.stores.batch.put(t.EdgeModel, edges)
        self._phase("follows")

    def _await_promotions(self, plan: demo.SeedPlan, user_ids: list[int]) -> list[str]:
        """Wait (bounded) until the pipeline has flagged every account the plan makes a
        celebrity, so their posts are written as the API would write them then (merged at
        read time, not fanned out). A late flag costs only work, never correctness: the
        dispatch fans out a post whose author is not (yet) flagged."""
        expected = {user_ids[i] for i, n in plan.follower_counts().items() if n >= self.stores.settings.celebrity_threshold}
        if not expected:
            return []
        deadline = time.monotonic() + PROMOTION_TIMEOUT
        t = self.stores.tables
        while True:
            flagged = {int(m.user_id) for m in t.UserModel.batch_get(
                [t.UserModel.key(u) for u in expected], consistent_read=True, attributes_to_get=["user_id", "celebrity"])
                if m.celebrity}
            if flagged >= expected or time.monotonic() > deadline:
                break
            if self.cancelled.wait(0.1):
                raise Cancelled("promotions")
        if flagged < expected:
            log.warning("%d of %d celebrities not flagged by the pipeline within %.0fs: their first posts are "
                        "fanned out instead of merged", len(expected - flagged), len(expected), PROMOTION_TIMEOUT)
        handles = {user_ids[i]: plan.users[i].handle for i in range(len(plan.users))}
        return sorted(handles[u] for u in flagged)

    # ------------------------------------------------------------------ posts
    def _celebrities(self, user_ids: list[int]) -> set[int]:
        """Which of these accounts are flagged now (read consistently, as the API reads its caller)."""
        if not user_ids:
            return set()
        t = self.stores.tables
        keys = [t.UserModel.key(u) for u in user_ids]
        return {int(m.user_id) for m in t.UserModel.batch_get(keys, consistent_read=True,
                                                              attributes_to_get=["user_id", "celebrity"])
                if m.celebrity}

    def _write_rows(self, tweets: list[Any], claims: list[Any] = ()) -> None:
        """Posts (and reposts' claims) with their authors' own timeline entries, as
        TweetStore.put_new writes them, in bulk."""
        from timeline import clock
        from timeline.store.timelines import entry
        from timeline.store.tweets import TweetStore, engagement_of

        t = self.stores.tables
        expires_at = clock.now_s() + self.stores.settings.timeline_ttl_seconds
        batch = self.stores.batch
        # Repost claims, and the engagement edges the graph stream counts replies and reposts by
        # (put_new writes them in the post's transaction).
        claims = [*claims, *(e for e in map(engagement_of, tweets) if e is not None)]
        if claims:
            batch.put(t.EdgeModel, claims)
        batch.put(t.TimelineEntryModel, [entry(tw.author_id, tw.as_entry(), expires_at) for tw in tweets])
        # The rows last: their stream records start the fan-out, which finds the rest in place.
        # TweetStore._model is put_new's own row builder: the rows are the API's, attribute for attribute.
        batch.put(t.TweetModel, [TweetStore._model(tw, SEED_CORRELATION_ID) for tw in tweets])

    def _write_posts(self, plan: demo.SeedPlan, user_ids: list[int]) -> list[Any]:
        from timeline import ids
        from timeline.records import Tweet

        celebrities = self._celebrities(sorted({user_ids[a] for a, _ in plan.posts}))
        posted = []
        for start in range(0, len(plan.posts), POST_CHUNK):
            chunk = []
            for author, text in plan.posts[start:start + POST_CHUNK]:
                tweet_id = ids.new_id()
                chunk.append(Tweet(tweet_id=tweet_id, author_id=user_ids[author], text=text,
                                   created_at=ids.timestamp_ms(tweet_id),
                                   fanout=user_ids[author] not in celebrities))
            self._write_rows(chunk)
            posted += chunk
            self._phase("posts")
        return posted

    def _write_reactions(self, plan: demo.SeedPlan, user_ids: list[int], posted: list[Any]) -> tuple[int, int]:
        """Replies (to the post, naming its author) and reposts (a row of their own, with the
        reposter's claim on the pair: one repost per account and post, as the API keeps it)."""
        from timeline import ids
        from timeline.records import Tweet
        from timeline.store.tweets import REPOST

        t = self.stores.tables
        celebrities = self._celebrities(sorted({user_ids[a] for a, _, _ in plan.reactions}))
        rows, claims, seen = [], [], set()
        replies = reposts = 0
        for actor, target, text in plan.reactions:
            author_id, original = user_ids[actor], posted[target]
            tweet_id = ids.new_id()
            common = dict(tweet_id=tweet_id, author_id=author_id, created_at=ids.timestamp_ms(tweet_id),
                          fanout=author_id not in celebrities)
            if text is not None:
                rows.append(Tweet(text=text, reply_to_id=original.tweet_id, reply_to_author_id=original.author_id,
                                  **common))
                replies += 1
            elif (author_id, original.tweet_id) not in seen:  # reposting twice is the same repost
                seen.add((author_id, original.tweet_id))
                rows.append(Tweet(text="", repost_of_id=original.tweet_id, repost_of_author_id=original.author_id,
                                  **common))
                claims.append(t.EdgeModel(author_id, REPOST + t.padded(original.tweet_id), other_id=tweet_id,
                                          created_at=common["created_at"]))
                reposts += 1
        self._write_rows(rows, claims)
        self._write_likes(plan, user_ids, posted)
        self._phase("reactions")
        return replies, reposts

    def _write_likes(self, plan: demo.SeedPlan, user_ids: list[int], posted: list[Any]) -> None:
        """The plan's likes, as EngagementStore.like writes them (the graph stream counts them)."""
        from timeline.store.engagement import LIKED_BY, engagement_edge

        edges = []
        for liker, target in plan.likes:
            edge = engagement_edge(LIKED_BY, posted[target].tweet_id, user_ids[liker])
            edge.other_id, edge.created_at = posted[target].tweet_id, posted[target].created_at
            edges.append(edge)
        if edges:
            self.stores.batch.put(self.stores.tables.EdgeModel, edges)

    # ------------------------------------------------------------------ pictures
    def post_pictures(self, plan: demo.SeedPlan, api_url: str) -> int:
        """The real media path, as a client drives it (infra.console.seed.ApiClient.post_picture), a
        few at a time (each waits for the media processor's verdict)."""
        client = demo.ApiClient(api_url)
        tokens: dict[int, str] = {}
        lock = threading.Lock()

        def token(who: int) -> str:
            with lock:
                if who not in tokens:
                    tokens[who] = client.sign_in(plan.users[who].handle, demo.DEMO_PASSWORD)["access_token"]
                return tokens[who]

        def post(picture: tuple[int, str, int]) -> None:
            self._phase("pictures")
            who, caption, seed = picture
            client.post_picture(token(who), caption, demo.picture(seed))

        with ThreadPoolExecutor(PICTURE_THREADS, thread_name_prefix="demo-pictures") as pictures:
            done = len(list(pictures.map(post, plan.pictures)))
        return done


@dataclass
class Finished:
    follows_synced_seconds: float  # from the finisher's start: the graph stream's work drained
    posts_seconds: float  # from the finisher's start: every post, reply and repost written
    pictures: int
    pictures_seconds: float  # from the finisher's start
    settled: bool
    settle_seconds: float  # from the finisher's start


class Finisher(threading.Thread):
    """The rest of the demo, after the banner, each step after the previous one settled:
    the follows synced by the pipeline (`wait_idle`), the posts written, the pictures through
    the API, the posts fanned out (`wait_idle` again), with a progress line every `every`
    seconds meanwhile. `on_posts` is called once the posts are written and `on_pictures` once
    the pictures are posted (nothing of the demo is left to write then); `on_done` gets a
    Finished (none of them is called when cancelled)."""

    def __init__(self, loader: DemoLoader, plan: demo.SeedPlan, api_url: str, *,
                 wait_idle: Callable[[float], bool] | None, on_posts: Callable[[LoadReport], None],
                 on_pictures: Callable[[int], None], on_done: Callable[[Finished], None],
                 backlog: Callable[[], str] | None = None, every: float = 10.0, settle_timeout: float = 300.0):
        super().__init__(name="demo-finisher", daemon=True)
        self.loader, self.plan, self.api_url, self.wait_idle = loader, plan, api_url, wait_idle
        self.on_posts, self.on_pictures, self.on_done = on_posts, on_pictures, on_done
        self.every, self.settle_timeout = every, settle_timeout
        self.backlog = backlog or self._queue_backlog

    def _queue_backlog(self) -> str:
        waiting = self.loader.stores.fanout_backlog()
        return "" if waiting is None else f"{waiting} messages on the fan-out queue"

    def _settle(self, started: float, doing: str) -> bool:
        """Wait for the pipeline to drain, saying what it is doing every `every` seconds."""
        if self.wait_idle is None:
            return True
        while not self.loader.cancelled.is_set():
            if self.wait_idle(self.every):
                return True
            if time.monotonic() - started > self.settle_timeout:
                return False
            backlog = self.backlog()
            log.info("demo data loading in the background: %s%s", doing, f" ({backlog})" if backlog else "")
        raise Cancelled("settle")

    def run(self) -> None:
        started = time.monotonic()
        try:
            self._settle(started, f"the pipeline is syncing {len(self.plan.follows)} follows; "
                                  f"0/{len(self.plan.posts)} posts written")
            synced = time.monotonic() - started
            report = self.loader.write_posts(self.plan)
            written = time.monotonic() - started
            self.on_posts(report)
            pictures = self.loader.post_pictures(self.plan, self.api_url) if self.plan.pictures else 0
            pictures_seconds = time.monotonic() - started
            self.on_pictures(pictures)
            settled = self._settle(started, f"{report.posts}/{len(self.plan.posts)} posts, {report.replies} "
                                            f"replies, {report.reposts} reposts and {pictures} pictures written; "
                                            "the pipeline is fanning them out")
            self.on_done(Finished(synced, written, pictures, pictures_seconds, settled,
                                  time.monotonic() - started))
        except Exception as exc:
            if self.loader.cancelled.is_set():
                return  # the stack is stopping under it
            log.exception("demo data: %s", exc)

    def stop(self, timeout: float = 10.0) -> None:
        self.loader.cancelled.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout)
