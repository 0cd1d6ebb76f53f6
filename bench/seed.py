"""Seed one strategy's stack with the synthetic graph: seed data, not traffic.

Profiles (seen and stamped active now, as store/users.py:UserStore.create writes them), handle
claims, both directions of every follow with the counters they produce (the follower edge
stamped active, as store/graph.py:GraphStore.follow writes it), the celebrity flags and
celebrity edges the threshold implies (none from a celebrity to itself: its own posts are in
its own timeline), all in bulk through the product's own store layer (its pynamodb models and
BatchWriter), so every item is byte for byte what the product writes.

The graph is written before the pipeline starts (bench.localstack.LocalStack's `seed`), and
the pipeline reads the table streams from after it: a follow through the API would queue a
`sync_follow` (a backfill of the followee's recent posts), but with no post yet each would
write nothing, so the seed is the state those syncs would have left.

History posts (seed_history) go into TweetsTable the same way, each with its author's own
timeline entry (store/tweets.py:TweetStore.put_new writes the two in one transaction; here in
bulk), and then the product's real pipeline (stream -> fanout_dispatch -> SQS ->
fanout_worker) fans them out to the followers. Logins exist only for the accounts the
workload acts as (a Cognito sign-up each).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

from bench.layer import import_layer
from infra.runtime import LocalStack

if TYPE_CHECKING:
    from bench.graph import Graph

PASSWORD = "bench-password-1"


@dataclass
class Seeded:
    user_ids: list[int]  # graph index -> user id
    handles: list[str]
    celebrities: set[int]  # graph indexes
    history_posts: int
    items: int  # rows written
    seconds: float


def writer_for(stack: LocalStack):
    """A BatchWriter on the stack's tables, the product's models bound to them."""
    import_layer()
    from timeline.settings import Settings
    from timeline.store import tables
    from timeline.store.batching import BatchWriter

    tables.bind(Settings.from_env(stack.api_env), stack.region)
    return BatchWriter(boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region))


def seed_graph(stack: LocalStack, graph: Graph, threshold: int) -> Seeded:
    """Users, handle claims and follows, before the pipeline starts (see the module's doc)."""
    writer = writer_for(stack)
    from timeline import ids
    from timeline.settings import Settings
    from timeline.store.celebrity_copies import FLOOR
    from timeline.store.graph import CELEBRITY, FOLLOWER, FOLLOWING
    from timeline.store.tables import CelebrityCopyModel, EdgeModel, HandleClaimModel, UserModel, padded

    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    user_ids = [ids.new_id() for _ in range(graph.n)]
    handles = [f"u{i}" for i in range(graph.n)]
    celebrities = {u for u in range(graph.n) if graph.followers_count[u] >= threshold}
    settings = Settings.from_env(stack.api_env)
    shards = settings.celebrity_copy_shards
    copied = {u for u in celebrities if shards and graph.followers_count[u] >= settings.copy_threshold}

    writer.put(UserModel, [
        UserModel(UserModel.key(user_ids[u]), user_id=user_ids[u], handle=handles[u], display_name=f"User {u}",
                  followers_count=graph.followers_count[u], following_count=len(graph.following[u]),
                  created_at=now_ms, celebrity=u in celebrities, last_seen_at=now_ms, stamped_at=now_ms,
                  unfollowed_at=0, copied=True if u in copied else None)
        for u in range(graph.n)])
    writer.put(HandleClaimModel, [HandleClaimModel(HandleClaimModel.key(handles[u]), user_id=user_ids[u])
                                  for u in range(graph.n)])
    edges = []
    for u, followees in enumerate(graph.following):
        for v in followees:
            edges.append(EdgeModel(user_ids[u], FOLLOWING + padded(user_ids[v]), other_id=user_ids[v], created_at=now_ms))
            edges.append(EdgeModel(user_ids[v], FOLLOWER + padded(user_ids[u]), other_id=user_ids[u], created_at=now_ms,
                                   seen_at=now_ms))
            if v in celebrities:
                edges.append(EdgeModel(user_ids[u], CELEBRITY + padded(user_ids[v]), other_id=user_ids[v],
                                       created_at=now_ms, copied=True if v in copied else None))
    writer.put(EdgeModel, edges)
    # Seeded celebrities past CopyThreshold are copied before they posted: their shards hold their
    # whole (empty) history, as the build would leave them; their posts are copied as they come.
    markers = [CelebrityCopyModel(f"{user_ids[u]}#{k}", FLOOR) for u in sorted(copied) for k in range(shards)]
    writer.put(CelebrityCopyModel, markers)
    return Seeded(user_ids, handles, celebrities, 0, 2 * graph.n + len(edges) + len(markers),
                  time.perf_counter() - started)


def seed_history(stack: LocalStack, graph: Graph, seeded: Seeded, *, history_per_user: float, seed: int) -> int:
    """History: each user posts in proportion to their posting rate, each post with its
    author's own entry; the stream fans them out. Returns how many posts."""
    writer = writer_for(stack)
    from timeline import ids
    from timeline.records import Entry
    from timeline.settings import Settings
    from timeline.store.tables import TimelineEntryModel, TweetModel
    from timeline.store.timelines import entry

    started = time.perf_counter()
    rng = random.Random(seed)
    total = round(history_per_user * graph.n)
    authors = rng.choices(range(graph.n), weights=graph.post_weight, k=total)
    expires_at = int(time.time()) + Settings.from_env(stack.api_env).timeline_ttl_seconds
    posts, own = [], []
    for k, author in enumerate(authors):
        tweet_id, author_id = ids.new_id(), seeded.user_ids[author]
        posts.append(TweetModel(tweet_id, author_id=author_id, text=f"history post {k} by {seeded.handles[author]}",
                                created_at=int(time.time() * 1000), fanout=author not in seeded.celebrities))
        own.append(entry(author_id, Entry(tweet_id, author_id, author_id, tweet_id), expires_at))
    writer.put(TimelineEntryModel, own)
    writer.put(TweetModel, posts)
    seeded.history_posts = len(posts)
    seeded.items += 2 * len(posts)
    seeded.seconds += time.perf_counter() - started
    return len(posts)


def sign_in(stack: LocalStack, user_ids: list[int]) -> dict[int, str]:
    """Cognito logins for these accounts (seeded through the store, so without one yet):
    user id -> access token."""
    import_layer()
    from timeline.store.identity import IdentityProvider

    client = boto3.client("cognito-idp", endpoint_url=stack.endpoint_url, region_name=stack.region)
    idp = IdentityProvider(client, stack.stack.user_pool_id, stack.stack.user_pool_client_id)
    tokens = {}
    for user_id in user_ids:
        idp.register(str(user_id), PASSWORD)
        tokens[user_id] = idp.authenticate(str(user_id), PASSWORD).access_token
    return tokens


def sign_in_all(stack: LocalStack, seeded: Seeded, users: set[int]) -> dict[int, str]:
    """Cognito logins for the accounts the workload acts as: graph index -> access token."""
    ordered = sorted(users)
    tokens = sign_in(stack, [seeded.user_ids[u] for u in ordered])
    return {u: tokens[seeded.user_ids[u]] for u in ordered}


def add_filler(stack: LocalStack, rows: int) -> None:
    """`rows` posts by accounts nobody follows and `rows` timeline entries of readers that
    never read: rows no benchmark read touches, so only the tables' size changes."""
    import_layer()
    from timeline import ids
    from timeline.records import Entry
    from timeline.store.batching import BatchWriter
    from timeline.store.tables import TimelineEntryModel, TweetModel
    from timeline.store.timelines import entry

    writer = BatchWriter(boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region))
    authors = [ids.new_id() for _ in range(max(1, rows // 50))]
    now_ms = int(time.time() * 1000)
    expires = int(time.time()) + 86_400
    for start in range(0, rows, 5_000):
        batch = range(start, min(rows, start + 5_000))
        writer.put(TweetModel, [TweetModel(ids.new_id(), author_id=authors[k % len(authors)], text=f"filler {k}",
                                           created_at=now_ms, fanout=False) for k in batch])
        writer.put(TimelineEntryModel, [entry(authors[k % len(authors)], Entry(i, authors[0], authors[0], i), expires)
                                        for k, i in ((k, ids.new_id()) for k in batch)])
