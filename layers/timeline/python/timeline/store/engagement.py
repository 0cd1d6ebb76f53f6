"""Likes, and every post's counts of replies, reposts and likes (GraphTable).

A like is an edge in the liker's own partition, `like#<post>` (as a repost's claim is,
`repost#<post>`): the viewer's likes and reposts of a page's posts are a range of their own
partition, two small Queries, not a key per post.

A viral post is liked by 50,000 accounts a second at its peak: no one item can take that
(1,000 write units a second per partition), so nothing touches a key of the post alone. Each
engagement is also an edge in one of ENGAGEMENT_SHARDS partitions of the post, picked by the
actor's hash (as a celebrity's follows are, store/graph.py storm_partition):

    liked_by#<liker>       put (or deleted) by fanout_dispatch from the like edge's stream
                           record: the like is one write, and the stream retries the rest
    reposted_by#<reposter> written in the repost's transaction (store/tweets.py put_new)
    replied_by#<reply id>  written in the reply's transaction

The graph stream counts them (fanout_dispatch): one UpdateItem per batch per post into the
post's counts item, which keeps, per engagement partition, the sequence number of the last
change it counted. Each partition's records arrive in order from one shard lineage, so a
batch delivered again, whole or in part, counts nothing twice (UserStore.tally's rule).
Counts lag the actions by the graph stream's batching window and a batch's work: about
1-2 s; readers cache them for CountsCacheSeconds more (service/engagement.py).

Every reader of a viral post wants its counts. Once a post has HOT_ENGAGEMENTS, each count
also publishes them to COUNTS_REPLICAS small replica items (absolute values, the newest
version wins), and the counts item says so (`replicas`): a container that has seen that
reads its own replica from then on, so the reads of one post spread over the replicas. A
count whose replicas were not all written (a crash after the count) is published again when
the stream retries the batch, which counts nothing twice but publishes again.

A partition key is a negative number no account or follower shard takes:
-(post * SHARD_STRIDE + slot): slots 512-639 the engagement shards, 1008-1015 the replicas,
1023 the counts item.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from timeline import ids
from timeline.records import Counts
from timeline.store.graph import SHARD_STRIDE
from timeline.store.tables import EdgeModel, padded

LIKE = "like#"  # the liker's edge, in its own partition: like#<post>
LIKED_BY, REPOSTED_BY, REPLIED_BY = "liked_by#", "reposted_by#", "replied_by#"
# A page's posts are looked up in the viewer's partition by id range, one range per run of posts
# no more than this far apart in time (a repost can show a post from long ago): a heavy liker's
# likes between two distant posts are not read.
RANGE_GAP_MS = 6 * 3600 * 1000
MAX_RANGES = 4  # per kind; posts past them are looked up by key
REPOST = "repost#"  # the reposter's claim of its one repost of a post (store/tweets.py)
KINDS = {LIKED_BY: "likes", REPOSTED_BY: "reposts", REPLIED_BY: "replies"}
# 50,000 likes/s over 128 partitions is 390 write units/s on each: under half a partition's
# 1,000 (docs/hot-keys.md). Changing it strands the edges already written (their actor's
# hash would pick another partition): move them first.
ENGAGEMENT_SHARDS = 128
FIRST_SLOT = 512  # store/graph.py's follower shards take slots 0-63
COUNTS_SLOT = SHARD_STRIDE - 1
REPLICA_SLOT = 1008
COUNTS_REPLICAS = 8
HOT_ENGAGEMENTS = 1_000  # a post with this many replies, reposts and likes in all has replicas
COUNTS = "counts"
COUNT_ATTEMPTS = 5
BATCH_GET_KEYS = 100  # BatchGetItem's limit

_queries = ThreadPoolExecutor(max_workers=16, thread_name_prefix="engagement")


def engagement_partition(post_id: int, actor_id: int) -> int:
    """The partition of the post an actor's engagement edge lives in."""
    return -(post_id * SHARD_STRIDE + FIRST_SLOT + zlib.crc32(str(actor_id).encode()) % ENGAGEMENT_SHARDS)


def counts_partition(post_id: int) -> int:
    return -(post_id * SHARD_STRIDE + COUNTS_SLOT)


def replica_partition(post_id: int, replica: int) -> int:
    return -(post_id * SHARD_STRIDE + REPLICA_SLOT + replica)


def engagement_edge(prefix: str, post_id: int, actor_id: int) -> EdgeModel:
    """The key of an engagement edge (an unsaved model: save it, or delete it)."""
    return EdgeModel(engagement_partition(post_id, actor_id), prefix + padded(actor_id))


@dataclass(frozen=True, order=True)
class Counted:
    """One engagement edge created (+1) or removed (-1), as the graph stream delivered it."""
    seq: int  # the stream record's sequence number (ordered within the partition)
    delta: int
    kind: str  # "likes", "reposts" or "replies"
    partition: str  # the name of its mark: the engagement shard's number
    celebrity_post: bool = False  # the like of a celebrity's post: its counts get replicas at once


def like_of(keys: dict[str, Any], event_name: str,
            new_image: dict[str, Any] | None = None) -> tuple[int, int, bool, bool] | None:
    """(liker, post, made, a celebrity's post) for a graph-stream record of a like edge made
    (INSERT) or taken back (REMOVE), else None. DynamoDB JSON in."""
    partition, edge = int(keys["user_id"]["N"]), keys["edge"]["S"]
    if partition < 0 or not edge.startswith(LIKE) or event_name not in ("INSERT", "REMOVE"):
        return None
    celebrity = bool((new_image or {}).get("celebrity_post", {}).get("BOOL", False))
    return partition, int(edge[len(LIKE):]), event_name == "INSERT", celebrity


def id_ranges(post_ids: Sequence[int], gap_ms: int = RANGE_GAP_MS,
              most: int = MAX_RANGES) -> tuple[list[tuple[int, int]], list[int]]:
    """The posts as (lowest, highest) id ranges, a new range wherever two neighbours are more
    than `gap_ms` apart in time, at most `most` of them (the largest), and the ids left over."""
    ordered = sorted(set(post_ids))
    runs: list[list[int]] = []
    for p in ordered:
        if runs and ids.timestamp_ms(p) - ids.timestamp_ms(runs[-1][-1]) <= gap_ms:
            runs[-1].append(p)
        else:
            runs.append([p])
    runs.sort(key=len, reverse=True)
    kept, rest = runs[:most], runs[most:]
    return [(r[0], r[-1]) for r in kept], sorted(p for r in rest for p in r)


def celebrity_post_of(new_image: dict[str, Any] | None) -> bool:
    """Whether an engagement edge's new image says its post is a celebrity's."""
    return bool((new_image or {}).get("celebrity_post", {}).get("BOOL", False))


def counted_of(keys: dict[str, Any], event_name: str) -> tuple[int, str, str, int] | None:
    """(post, kind, partition name, +1 or -1) for a graph-stream record of an engagement edge
    created or removed, else None (a MODIFY changes no count). DynamoDB JSON keys in."""
    partition = int(keys["user_id"]["N"])
    if partition >= 0 or event_name not in ("INSERT", "REMOVE"):
        return None
    slot = -partition % SHARD_STRIDE
    if not FIRST_SLOT <= slot < FIRST_SLOT + ENGAGEMENT_SHARDS:
        return None
    edge = keys["edge"]["S"]
    kind = next((k for prefix, k in KINDS.items() if edge.startswith(prefix)), None)
    if kind is None:
        return None
    return -partition // SHARD_STRIDE, kind, str(slot - FIRST_SLOT), 1 if event_name == "INSERT" else -1


@dataclass(frozen=True)
class PageState:
    """What a page's engagement reads found (start_page_state: two range Queries of the viewer's
    partition, and a BatchGetItem of counts): counts of the posts asked for (those asked from a
    replica that has none yet are missing), which of the page's posts the viewer likes and has
    reposted, and how many replicas each hot post's counts item named."""
    counts: dict[int, Counts]
    liked: frozenset[int]
    reposted: frozenset[int]
    replicas: dict[int, int]


def _counts(e: EdgeModel) -> Counts:
    return Counts(replies=max(0, int(e.replies or 0)), reposts=max(0, int(e.reposts or 0)),
                  likes=max(0, int(e.likes or 0)))


class EngagementStore:
    def __init__(self, connection: Connection):
        self._connection = connection

    # ------------------------------------------------------------------ likes
    def like(self, liker_id: int, post_id: int, now_ms: int, *, celebrity_post: bool = False) -> bool:
        """The liker's like of a post: False if it already stood (nothing written). A like of
        a celebrity's post says so: its counts are read by many, so they get replicas at once."""
        try:
            EdgeModel(liker_id, LIKE + padded(post_id), other_id=post_id, created_at=now_ms,
                      celebrity_post=celebrity_post or None).save(condition=EdgeModel.edge.does_not_exist())
            return True
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def unlike(self, liker_id: int, post_id: int) -> bool:
        """Take the like back: False if there was none."""
        try:
            EdgeModel(liker_id, LIKE + padded(post_id)).delete(condition=EdgeModel.edge.exists())
            return True
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def mirror_like(self, liker_id: int, post_id: int, made: bool, celebrity_post: bool, now_ms: int) -> None:
        """The like's engagement edge, in a partition of the post, as the like edge's stream
        record says (idempotent: the stream may deliver it again)."""
        edge = engagement_edge(LIKED_BY, post_id, liker_id)
        if made:
            edge.other_id, edge.created_at, edge.celebrity_post = post_id, now_ms, celebrity_post or None
            edge.save()
        else:
            edge.delete()

    # ------------------------------------------------------------------ what a page shows
    def start_page_state(self, viewer_id: int, post_ids: Iterable[int], *, counts_of: Iterable[int],
                         replica_of: Mapping[int, int] | None = None) -> Callable[[], PageState]:
        """Send every read of a page's state now, in parallel, and return what waits for them:
        the viewer's likes and reposts of the posts, read consistently (their own action shows
        at once) from their own partition, per kind one Query per run of posts close in time
        (id_ranges), posts past MAX_RANGES runs by key; and the counts of `counts_of` (from
        the replica `replica_of` names, for a post known hot), one eventually consistent
        BatchGetItem per hundred (counts lag anyway). Started beside a page's hydration, they
        add no round trip. A post with no counts item has none yet; one asked from a replica
        not written yet is left out of the counts."""
        posts = list(dict.fromkeys(post_ids))
        counted = list(dict.fromkeys(counts_of))
        replica_of = replica_of or {}
        ranges, rest = id_ranges(posts) if posts else ([], [])

        def query(prefix: str, lo: int, hi: int) -> list[EdgeModel]:
            return list(EdgeModel.query(viewer_id, EdgeModel.edge.between(prefix + padded(lo), prefix + padded(hi)),
                                        consistent_read=True, attributes_to_get=["edge"]))

        def keyed(keys: list[tuple[int, str]]) -> list[EdgeModel]:
            return list(EdgeModel.batch_get(keys, consistent_read=True, attributes_to_get=["edge"]))

        def counts(keys: list[tuple[int, str]]) -> list[EdgeModel]:
            return list(EdgeModel.batch_get(keys, attributes_to_get=[
                "other_id", "replies", "reposts", "likes", "replicas"]))

        futures: list[Future[list[EdgeModel]]] = [
            _queries.submit(query, prefix, lo, hi) for prefix in (LIKE, REPOST) for lo, hi in ranges]
        by_key = [(viewer_id, prefix + padded(p)) for prefix in (LIKE, REPOST) for p in rest]
        futures += [_queries.submit(keyed, by_key[i:i + BATCH_GET_KEYS]) for i in range(0, len(by_key), BATCH_GET_KEYS)]
        count_keys = [(replica_partition(p, replica_of[p]) if p in replica_of else counts_partition(p), COUNTS)
                      for p in counted]
        counting = [_queries.submit(counts, count_keys[i:i + BATCH_GET_KEYS])
                    for i in range(0, len(count_keys), BATCH_GET_KEYS)]

        def finish() -> PageState:
            wanted = set(posts)
            liked: set[int] = set()
            reposted: set[int] = set()
            for f in futures:
                for e in f.result():
                    for prefix, into in ((LIKE, liked), (REPOST, reposted)):
                        if e.edge.startswith(prefix):
                            into.add(int(e.edge[len(prefix):]))
            found: dict[int, Counts] = {}
            replicas: dict[int, int] = {}
            for f in counting:
                for e in f.result():
                    found[int(e.other_id)] = _counts(e)
                    if e.replicas:
                        replicas[int(e.other_id)] = int(e.replicas)
            known = {p: found.get(p, Counts()) for p in counted if p in found or p not in replica_of}
            return PageState(known, frozenset(liked & wanted), frozenset(reposted & wanted), replicas)
        return finish

    def page_state(self, viewer_id: int, post_ids: Iterable[int], *, counts_of: Iterable[int],
                   replica_of: Mapping[int, int] | None = None) -> PageState:
        return self.start_page_state(viewer_id, post_ids, counts_of=counts_of, replica_of=replica_of)()

    # ------------------------------------------------------------------ counting
    def count(self, post_id: int, changes: Sequence[Counted]) -> int:
        """Count engagement changes into the post's counts item, each exactly once however
        often the stream delivers it: per partition, only changes after the last one counted
        (its mark), conditional on the marks read. One UpdateItem per batch of changes (a
        conditional put makes the item on the post's first). A hot post's counts are then
        published to its replicas, also when nothing was left to count (a retried batch whose
        count took but whose publishing may not have). Returns how many were counted."""
        by_partition: dict[str, list[Counted]] = {}
        for c in sorted(changes):
            by_partition.setdefault(c.partition, []).append(c)
        marks: dict[str, int] | None = None  # as read; None: not read, guess each is before its changes
        item: EdgeModel | None = None  # the counts item, once read or written
        for _ in range(COUNT_ATTEMPTS):
            todo = {p: [c for c in cs if marks is None or c.seq > marks.get(p, 0)] for p, cs in by_partition.items()}
            todo = {p: cs for p, cs in todo.items() if cs}
            if not todo:
                if item is not None:
                    self._publish(item)
                return 0
            counted = [c for cs in todo.values() for c in cs]
            deltas = {kind: sum(c.delta for c in counted if c.kind == kind) for kind in KINDS.values()}
            celebrity = any(c.celebrity_post for c in counted)
            written = (self._add(post_id, deltas, todo, marks, celebrity) if marks is None or item is not None
                       else self._create(post_id, deltas, {p: cs[-1].seq for p, cs in todo.items()}, celebrity))
            if written is not None:
                self._publish(written)
                return len(counted)
            try:
                item = EdgeModel.get(counts_partition(post_id), COUNTS, consistent_read=True)
                marks = {k: int(v) for k, v in (item.marks.as_dict() if item.marks is not None  # type: ignore[no-untyped-call]
                                                 else {}).items()}
            except DoesNotExist:
                item, marks = None, {}
        raise RuntimeError(f"the counts of post {post_id} changed under them {COUNT_ATTEMPTS} times")

    def _add(self, post_id: int, deltas: dict[str, int], todo: dict[str, list[Counted]],
             marks: dict[str, int] | None, celebrity: bool = False) -> EdgeModel | None:
        """The counts item after the update (DynamoDB's ALL_NEW), or None if its marks moved."""
        actions: list[Action] = [getattr(EdgeModel, kind).add(d) for kind, d in deltas.items() if d]
        actions.append(EdgeModel.version.add(1))
        if celebrity:
            actions.append(EdgeModel.replicas.set(COUNTS_REPLICAS))
        condition: Condition = EdgeModel.marks.exists()
        for partition, cs in todo.items():
            mark = EdgeModel.marks[partition]
            actions.append(mark.set(cs[-1].seq))
            if marks is None:
                condition = condition & (mark.does_not_exist() | (mark < cs[0].seq))
            elif partition in marks:
                condition = condition & (mark == marks[partition])
            else:
                condition = condition & mark.does_not_exist()
        item = EdgeModel(counts_partition(post_id), COUNTS)
        try:
            item.update(actions=actions, condition=condition)
            return item
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise

    def _create(self, post_id: int, deltas: dict[str, int], marks: dict[str, int],
                celebrity: bool = False) -> EdgeModel | None:
        item = EdgeModel(counts_partition(post_id), COUNTS, other_id=post_id, created_at=0, marks=marks,
                         replies=max(0, deltas["replies"]), reposts=max(0, deltas["reposts"]),
                         likes=max(0, deltas["likes"]), version=1,
                         replicas=COUNTS_REPLICAS if celebrity else None)
        try:
            item.save(condition=EdgeModel.edge.does_not_exist())
            return item
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise

    def _publish(self, item: EdgeModel) -> None:
        """A hot post's counts to each replica (the newest version wins), then, the first time,
        the mark on its counts item that sends readers to them (only once they all exist)."""
        counts = _counts(item)
        if counts.replies + counts.reposts + counts.likes < HOT_ENGAGEMENTS and not item.replicas:
            return
        post_id, version = int(item.other_id), int(item.version or 0)

        def write(replica: int) -> None:
            copy = EdgeModel(replica_partition(post_id, replica), COUNTS)
            try:
                copy.update(actions=[EdgeModel.other_id.set(post_id), EdgeModel.created_at.set(0),
                                     EdgeModel.replies.set(counts.replies), EdgeModel.reposts.set(counts.reposts),
                                     EdgeModel.likes.set(counts.likes), EdgeModel.version.set(version)],
                            condition=EdgeModel.version.does_not_exist() | (EdgeModel.version < version))
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise  # (a newer version is there already: nothing to do)
        list(_queries.map(write, range(COUNTS_REPLICAS)))
        if not item.replicas:
            EdgeModel(counts_partition(post_id), COUNTS).update(
                actions=[EdgeModel.replicas.set(COUNTS_REPLICAS)], condition=EdgeModel.edge.exists())
