"""The social graph in GraphTable: both directions of every edge, celebrity edges, and
unfollow tombstones."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from timeline import clock
from timeline.records import Relation
from timeline.store.batching import BatchWriter
from timeline.store.rate_limits import Limited, Window
from timeline.store.tables import EdgeModel, UserModel, cancellation_codes, padded
from timeline.store.transactions import Transaction

FOLLOWING, FOLLOWER, UNFOLLOWED = "following#", "follower#", "unfollowed#"
# Everything a home read needs from the graph sorts under one prefix: one Query lists it. The
# mirror of a block hides the blocker from the blocked account's home timeline too.
HOME = "home#"
CELEBRITY, BLOCK, MUTE, BLOCKED_BY = HOME + "celebrity#", HOME + "block#", HOME + "mute#", HOME + "blocked_by#"
_BLOCKS_BOTH_WAYS = HOME + "block"  # the common prefix of BLOCK and BLOCKED_BY

# A tombstone outlives every fan-out message that could have been planned before its unfollow
# (the queue keeps messages 4 days; the dead-letter queue 14). Older messages check edges.
TOMBSTONE_TTL_SECONDS = 15 * 86_400

FOLLOW_ATTEMPTS = 3  # a follow or reposts change raced by an unfollow or a flip tries again

# A follow of an account read as a celebrity (the storm path: 5,000 a second when a celebrity
# joins) puts its follower edge and tombstone in one of FOLLOWER_SHARDS partitions of the
# followee, picked by the follower's hash, instead of the followee's own: 4 WCU per follow on
# one partition key would be 20x its limit; over 64 it is 0.31 (docs/hot-keys.md). A shard
# partition's key is a negative number no user id takes: -(followee * SHARD_STRIDE + shard).
# Changing FOLLOWER_SHARDS would strand the edges already in shards (their follower's hash
# would pick another): move them first.
FOLLOWER_SHARDS = 64
SHARD_STRIDE = 1024

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="graph")


class UnknownUser(Exception):
    pass


class FollowingLimit(Exception):
    """The follower already follows as many accounts as one may."""


class FolloweeChanged(Exception):
    """The followee is gone, or its celebrity flag is not what the follow assumed."""


class Blocked(Exception):
    """A block stands between the two accounts; `by_caller` says who blocked whom."""

    def __init__(self, by_caller: bool):
        super().__init__(by_caller)
        self.by_caller = by_caller


class Follower(NamedTuple):
    user_id: int
    seen_at: int | None  # when they were last stamped active
    reposts: bool  # whether they see this account's reposts
    partition: int | None = None  # the shard partition holding the edge; None: the followee's own


def storm_partition(followee_id: int, follower_id: int) -> int:
    """The shard partition a storm-path follow puts its follower edge and tombstone in."""
    return -(followee_id * SHARD_STRIDE + zlib.crc32(str(follower_id).encode()) % FOLLOWER_SHARDS)


def account_of(partition: int) -> int:
    """The account a graph partition key belongs to (its own, or one of its shards)."""
    return partition if partition >= 0 else -partition // SHARD_STRIDE


def follower_partitions(followee_id: int, *, sharded: bool) -> list[int]:
    """Where an account's follower edges can be: its own partition, and, once it has been a
    celebrity (`sharded`: its celebrity_epoch > 0), its shards."""
    shards = [-(followee_id * SHARD_STRIDE + k) for k in range(FOLLOWER_SHARDS)] if sharded else []
    return [followee_id, *shards]


@dataclass(frozen=True)
class Restrictions:
    """The blocks and mutes around one account, from its own partition (the mirror of a block
    lives in the blocked account's partition, so both directions are one Query)."""
    blocking: frozenset[int] = frozenset()  # accounts it blocks
    blocked_by: frozenset[int] = frozenset()  # accounts that block it
    muted: frozenset[int] = frozenset()  # accounts it mutes


@dataclass(frozen=True)
class HomeEdges:
    """What a home read needs from the reader's graph partition."""
    celebrities: dict[int, bool]  # followed celebrity -> whether its reposts show
    restrictions: Restrictions
    copied: frozenset[int] = frozenset()  # the celebrities among them whose posts are copied


def _restrictions(edges: Iterable[EdgeModel]) -> Restrictions:
    """The blocks, block mirrors and mutes among an account's `home#` edges."""
    kinds: dict[str, set[int]] = {BLOCK: set(), BLOCKED_BY: set(), MUTE: set()}
    for e in edges:
        kinds.setdefault(e.edge.rsplit("#", 1)[0] + "#", set()).add(int(e.other_id))
    return Restrictions(frozenset(kinds[BLOCK]), frozenset(kinds[BLOCKED_BY]), frozenset(kinds[MUTE]))


def _window_full(window: Window | None, failed: list[bool]) -> TypeGuard[Window]:
    """Whether a transaction's rate-limit window (its last item, an update) was full."""
    return window is not None and failed[-1:] == [True]


def tally_of(keys: dict[str, Any], new_image: dict[str, Any] | None, *, created: bool) -> tuple[int, str, int] | None:
    """(followee, the name of the partition the record is from, +1 or -1) for the graph-stream
    record of a follower edge or tombstone created without the followee's profile (its
    `tally`), else None: a later change of the same edge (a restamp, a reposts choice) counts
    nothing. The name is short, as the profile keeps a mark per partition: "o" for the
    account's own, "s<k>" for its shard k. DynamoDB JSON in, as delivered."""
    tally = (new_image or {}).get("tally", {}).get("N") if created else None
    if tally is None:
        return None
    partition = int(keys["user_id"]["N"])
    name = "o" if partition >= 0 else f"s{-partition % SHARD_STRIDE}"
    return account_of(partition), name, int(tally)


def _follower(e: EdgeModel) -> Follower:
    partition = int(e.user_id) if e.user_id is not None and int(e.user_id) < 0 else None
    return Follower(int(e.other_id), int(e.seen_at) if e.seen_at is not None else None, not e.no_reposts, partition)


def other_of(edge: str) -> int:
    """The account an edge key names (its last segment)."""
    return int(edge.rsplit("#", 1)[1])


class GraphStore:
    def __init__(self, connection: Connection, batch_writer: BatchWriter):
        self._connection = connection
        self._batch = batch_writer

    def follow(self, follower_id: int, followee_id: int, *, celebrity: bool, now_ms: int,
               reposts: bool = True, window: Window | None = None, max_following: int | None = None,
               copied: bool = False) -> bool:
        """Both edges and both counters in one transaction. False if already following (then
        the edges are brought to `reposts` in a transaction of their own, set_reposts, whose
        stream record turns into a sync).

        A follow of an account read as a celebrity touches none of the followee's items but
        its follower edge and tombstone (its storm path, docs/hot-keys.md): no counter (the
        follower edge carries `tally`, and the graph stream counts it, `UserStore.tally`) and
        no check of the flag, which 5,000 follows a second could not share; and the edge and
        tombstone go to the follower's shard of the followee (storm_partition). The flag it went
        by can be stale only after a demotion, whose walk runs again once every follow that
        read the flag before it has committed (timeline.service.graph_changes).

        The transaction holds only if the followee's celebrity flag is still `celebrity`, so
        the edge it writes (with or without a celebrity edge) matches the flag at commit: a
        promotion or demotion that flipped it since the caller read the profile raises
        FolloweeChanged, and the caller reads again. It holds only if neither account blocks
        the other (Blocked), and the follower follows fewer than `max_following` accounts
        (FollowingLimit). It also lifts any unfollow tombstone. A change counts against the
        rate-limit `window` in the same transaction (Limited if full); a repeat changes nothing
        and counts nothing."""
        for _ in range(FOLLOW_ATTEMPTS):
            if self._follow_once(follower_id, followee_id, celebrity=celebrity, now_ms=now_ms, reposts=reposts,
                                 window=window, max_following=max_following, copied=copied):
                return True
            if self.set_reposts(follower_id, followee_id, reposts, celebrity=celebrity, window=window) is not None:
                return False
            # Unfollowed between the two transactions: follow afresh.
        return False

    def _follow_once(self, follower_id: int, followee_id: int, *, celebrity: bool, now_ms: int,
                     reposts: bool, window: Window | None, max_following: int | None, copied: bool = False) -> bool:
        """The follow's transaction; False if the edges exist already."""
        flag = (UserModel.celebrity == True) if celebrity else (
            UserModel.celebrity.does_not_exist() | (UserModel.celebrity == False))
        no_reposts = None if reposts else True
        tally = 1 if celebrity else None
        partition = storm_partition(followee_id, follower_id) if celebrity else followee_id
        room = UserModel.pk.exists()
        if max_following is not None:
            room = room & (UserModel.following_count.does_not_exist() | (UserModel.following_count < max_following))
        try:
            with Transaction(connection=self._connection) as tx:
                tx.condition_check(EdgeModel, follower_id, BLOCK + padded(followee_id),
                                   condition=EdgeModel.edge.does_not_exist())
                tx.condition_check(EdgeModel, follower_id, BLOCKED_BY + padded(followee_id),
                                   condition=EdgeModel.edge.does_not_exist())
                tx.save(EdgeModel(follower_id, FOLLOWING + padded(followee_id), other_id=followee_id,
                                  created_at=now_ms, no_reposts=no_reposts),
                        condition=EdgeModel.edge.does_not_exist())
                tx.save(EdgeModel(partition, FOLLOWER + padded(follower_id), other_id=follower_id,
                                  created_at=now_ms, seen_at=now_ms, no_reposts=no_reposts, tally=tally),
                        condition=EdgeModel.edge.does_not_exist())
                tx.update(UserModel(UserModel.key(follower_id)), actions=[UserModel.following_count.add(1)],
                          condition=room)
                if not celebrity:
                    tx.update(UserModel(UserModel.key(followee_id)), actions=[UserModel.followers_count.add(1)],
                              condition=UserModel.pk.exists() & flag)
                if window is not None:
                    window.hit_within(tx)
                tx.delete(EdgeModel(partition, UNFOLLOWED + padded(follower_id)))
                if celebrity:
                    tx.save(EdgeModel(follower_id, CELEBRITY + padded(followee_id), other_id=followee_id,
                                      created_at=now_ms, no_reposts=no_reposts, copied=True if copied else None))
        except TransactWriteError as exc:
            # pynamodb sends condition checks, deletes, puts, then updates: [block, blocked_by,
            # tombstone, following edge, follower edge, (celebrity edge), follower's counter,
            # (followee's counter), (window)].
            failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
            counters = len(failed) - (1 if celebrity else 2) - (window is not None)
            if any(failed[:2]):
                raise Blocked(by_caller=failed[0]) from exc
            if any(failed[3:5]):
                return False
            if failed[counters:counters + 1] == [True]:
                raise (FollowingLimit() if self._profile_exists(follower_id) else UnknownUser()) from exc
            if not celebrity and failed[counters + 1:counters + 2] == [True]:
                raise FolloweeChanged() from exc
            if _window_full(window, failed):
                raise Limited(window.retry_after) from exc
            raise
        return True

    def _profile_exists(self, user_id: int) -> bool:
        try:
            UserModel.get(UserModel.key(user_id), attributes_to_get=["pk"])
            return True
        except DoesNotExist:
            return False

    def set_reposts(self, follower_id: int, followee_id: int, reposts: bool, *,
                    celebrity: bool = False, window: Window | None = None) -> bool | None:
        """Whether the follower sees the followee's reposts, on every edge that says it: the
        following and follower edges and the celebrity edge, if there is one, in one
        transaction, conditional on the following edge saying otherwise. Two changes racing
        are serialized whole, so the edges never disagree (fan-out reads the follower edge, a
        home read the celebrity edge, a sync the following edge); the following edge's MODIFY
        record syncs the timeline with the new choice.

        `celebrity`: whether to expect a celebrity edge (the followee's flag as the caller read
        it); the transaction checks that guess, and the other one is tried if it was wrong (a
        promotion or demotion page on its way). True if changed, False if already so, None
        if not following. A promotion page writing a celebrity edge after this commits reads
        the follower edge again and corrects it (TimelineSync)."""
        action = EdgeModel.no_reposts.remove() if reposts else EdgeModel.no_reposts.set(True)
        differs = EdgeModel.no_reposts.exists() if reposts else EdgeModel.no_reposts.does_not_exist()
        following = EdgeModel(follower_id, FOLLOWING + padded(followee_id))
        celebrity_edge = EdgeModel(follower_id, CELEBRITY + padded(followee_id))
        expect_celebrity_edge = celebrity
        # The follower edge is where a follow as things are read now would have put it; if not
        # there, in the other place (followed before a promotion, or storm-followed before a
        # demotion's walk moved it).
        places = [storm_partition(followee_id, follower_id), followee_id]
        if not celebrity:
            places.reverse()
        for _ in range(FOLLOW_ATTEMPTS + 1):
            follower = EdgeModel(places[0], FOLLOWER + padded(follower_id))
            try:
                with Transaction(connection=self._connection) as tx:
                    if not expect_celebrity_edge:
                        tx.condition_check(EdgeModel, follower_id, celebrity_edge.edge,
                                           condition=EdgeModel.edge.does_not_exist())
                    tx.update(following, actions=[action], condition=EdgeModel.edge.exists() & differs)
                    tx.update(follower, actions=[action], condition=EdgeModel.edge.exists())
                    if expect_celebrity_edge:
                        tx.update(celebrity_edge, actions=[action], condition=EdgeModel.edge.exists())
                    if window is not None:
                        window.hit_within(tx)
                return True
            except TransactWriteError as exc:
                # [(no celebrity edge), following edge, follower edge, (celebrity edge)]
                failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
                if expect_celebrity_edge:
                    edges, celebrity_failed = failed[0:2], failed[2:3] == [True]
                else:
                    edges, celebrity_failed = failed[1:3], failed[0:1] == [True]
                if edges[0:1] == [True]:  # the following edge: missing, or already so
                    return None if self.follow_state(follower_id, followee_id) is None else False
                if edges[1:2] == [True]:  # no follower edge here: in the other place, or not following
                    places.reverse()
                    continue
                if not celebrity_failed:
                    if _window_full(window, failed):
                        raise Limited(window.retry_after) from exc
                    raise
                expect_celebrity_edge = not expect_celebrity_edge
        return False  # pragma: no cover - promoted and demoted on every attempt

    def unfollow(self, follower_id: int, followee_id: int, *, now_ms: int, window: Window | None = None,
                 celebrity: bool = False) -> bool:
        """Remove both edges (and any celebrity edge) and both counters, and leave a tombstone
        beside the follower edge, stamping the followee's profile with when (so fan-out reads
        the tombstones only of accounts unfollowed lately). False if not following.

        For an account read as a celebrity (`celebrity`), the followee's profile is left out,
        as a follow leaves it out: the tombstone carries `tally` = -1, and the graph stream
        counts it and stamps the profile (UserStore.tally). The follower edge is looked for
        where a follow as things are read now would put it, then in the other place."""
        places = [storm_partition(followee_id, follower_id), followee_id]
        if not celebrity:
            places.reverse()
        for partition in places:
            try:
                with Transaction(connection=self._connection) as tx:
                    tx.delete(EdgeModel(follower_id, FOLLOWING + padded(followee_id)),
                              condition=EdgeModel.edge.exists())
                    tx.delete(EdgeModel(partition, FOLLOWER + padded(follower_id)),
                              condition=EdgeModel.edge.exists())
                    tx.update(UserModel(UserModel.key(follower_id)), actions=[UserModel.following_count.add(-1)],
                              condition=UserModel.pk.exists())
                    if not celebrity:
                        tx.update(UserModel(UserModel.key(followee_id)), actions=[
                            UserModel.followers_count.add(-1), UserModel.unfollowed_at.set(now_ms)],
                                  condition=UserModel.pk.exists())
                    tx.delete(EdgeModel(follower_id, CELEBRITY + padded(followee_id)))
                    tx.save(EdgeModel(partition, UNFOLLOWED + padded(follower_id), other_id=follower_id,
                                      created_at=now_ms, expires_at=now_ms // 1000 + TOMBSTONE_TTL_SECONDS,
                                      tally=-1 if celebrity else None))
                    if window is not None:
                        window.hit_within(tx)
                return True
            except TransactWriteError as exc:
                # [following edge, follower edge, celebrity edge, tombstone, counters..., (window)]
                failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
                if failed[0:1] == [True]:
                    return False  # not following: nothing changed, nothing counted
                if failed[1:2] == [True]:
                    continue  # the follower edge is in the other place
                if any(failed[:-1] if window is not None else failed):
                    return False
                if _window_full(window, failed):
                    raise Limited(window.retry_after) from exc
                raise
        return False

    def _query_page(self, user_id: int, prefix: str, limit: int, after: str | None,
                    attributes: list[str]) -> tuple[list[EdgeModel], str | None]:
        """One page of edges of a kind; `after` is the last edge of the previous page."""
        last_key = {"user_id": {"N": str(user_id)}, "edge": {"S": after}} if after else None
        result = EdgeModel.query(user_id, EdgeModel.edge.startswith(prefix), limit=limit,
                                 last_evaluated_key=last_key, page_size=limit,
                                 attributes_to_get=["other_id", "edge", *attributes])
        edges = list(result)
        more = result.last_evaluated_key
        return edges, (more["edge"]["S"] if more else None)

    def _page(self, user_id: int, prefix: str, limit: int, after: str | None) -> tuple[list[int], str | None]:
        edges, next_after = self._query_page(user_id, prefix, limit, after, [])
        return [int(e.other_id) for e in edges], next_after

    def _follower_page(self, followee_id: int, limit: int, after: str | None, attributes: list[str], *,
                       sharded: bool) -> tuple[list[EdgeModel], str | None]:
        """A page of follower edges: of the account's own partition, then, if `sharded`, of its
        shards in turn. A position across partitions reads "<partition index>@<last edge>" (a
        plain edge: the own partition's, as before the account was first promoted)."""
        if not sharded:
            return self._query_page(followee_id, FOLLOWER, limit, after, attributes)
        partitions = follower_partitions(followee_id, sharded=True)
        index, edge_after = 0, after
        if after and "@" in after:
            position, edge_after = after.split("@", 1)
            index = int(position)
        edges: list[EdgeModel] = []
        while index < len(partitions) and len(edges) < limit:
            page, more = self._query_page(partitions[index], FOLLOWER, limit - len(edges), edge_after or None,
                                          attributes)
            edges += page
            if more:
                return edges, f"{index}@{more}"
            index, edge_after = index + 1, None
        return edges, (f"{index}@" if index < len(partitions) else None)

    def followers_page(self, user_id: int, limit: int, after: str | None = None, *,
                       sharded: bool = False) -> tuple[list[int], str | None]:
        """A page of the account's followers; `sharded`: it has been a celebrity (its
        celebrity_epoch > 0), so some may be in its shards."""
        edges, next_after = self._follower_page(user_id, limit, after, [], sharded=sharded)
        return [int(e.other_id) for e in edges], next_after

    def following_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, FOLLOWING, limit, after)

    def followers_with_activity(self, user_id: int, limit: int, after: str | None = None, *,
                                sharded: bool = False) -> tuple[list[Follower], str | None]:
        """A page of followers with when they were last stamped active and whether they take
        reposts; fan-out reads this page anyway, so skipping inactive readers (or, for a
        repost, readers who opted out) costs no read per follower. `sharded`: read the
        account's shards too (a celebrity's walks; fan-out of a non-celebrity reads its own
        partition, where a demotion's walks move every edge)."""
        edges, next_after = self._follower_page(user_id, limit, after, ["user_id", "seen_at", "no_reposts"],
                                                sharded=sharded)
        return [_follower(e) for e in edges], next_after

    def following_with_reposts(self, user_id: int, limit: int,
                               after: str | None = None) -> tuple[list[tuple[int, bool]], str | None]:
        """A page of (followee, whether their reposts show)."""
        edges, next_after = self._query_page(user_id, FOLLOWING, limit, after, ["no_reposts"])
        return [(int(e.other_id), not e.no_reposts) for e in edges], next_after

    def follow_state(self, follower_id: int, followee_id: int) -> bool | None:
        """None if not following; else whether the followee's reposts show (read consistently)."""
        try:
            edge = EdgeModel.get(follower_id, FOLLOWING + padded(followee_id), consistent_read=True,
                                 attributes_to_get=["edge", "no_reposts"])
            return not edge.no_reposts
        except DoesNotExist:
            return None

    def follow_states(self, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bool | None]:
        """follow_state of many (follower, followee) pairs, read consistently in one
        BatchGetItem per hundred: one round trip for a batch's follow syncs, not one each."""
        states: dict[tuple[int, int], bool | None] = dict.fromkeys(pairs)
        keys = [(follower, FOLLOWING + padded(followee)) for follower, followee in states]
        if not keys:
            return {}
        for e in EdgeModel.batch_get(keys, consistent_read=True,
                                     attributes_to_get=["user_id", "other_id", "no_reposts"]):
            states[(int(e.user_id), int(e.other_id))] = not e.no_reposts
        return states

    def relations(self, viewer_id: int, user_ids: Iterable[int]) -> dict[int, Relation]:
        """How the viewer stands with each account, from the viewer's own partitions only (a
        celebrity's partition is never read for its profile's viewers): whether the viewer
        follows, blocks or mutes it, and whether it follows the viewer (its follower edge in
        the viewer's partition, or the storm shard its hash picks). Read consistently, in one
        BatchGetItem per hundred keys, run in parallel."""
        users = list(dict.fromkeys(user_ids))
        others = [u for u in users if u != viewer_id]
        keys: list[tuple[int, str]] = []
        for u in others:
            keys += [(viewer_id, FOLLOWING + padded(u)), (viewer_id, FOLLOWER + padded(u)),
                     (storm_partition(viewer_id, u), FOLLOWER + padded(u)), (viewer_id, BLOCK + padded(u)),
                     (viewer_id, MUTE + padded(u))]
        chunks = [keys[i:i + 100] for i in range(0, len(keys), 100)]

        def read(chunk: list[tuple[int, str]]) -> list[EdgeModel]:
            return list(EdgeModel.batch_get(chunk, consistent_read=True, attributes_to_get=["edge"]))
        found = {e.edge for got in _pool.map(read, chunks) for e in got}
        out = {u: Relation(following=FOLLOWING + padded(u) in found, followed_by=FOLLOWER + padded(u) in found,
                           blocking=BLOCK + padded(u) in found, muting=MUTE + padded(u) in found) for u in others}
        if viewer_id in users:
            out[viewer_id] = Relation()  # yourself
        return out

    def is_following(self, follower_id: int, followee_id: int) -> bool:
        return self.follow_state(follower_id, followee_id) is not None

    def _has(self, owner_id: int, edge: str) -> bool:
        try:
            EdgeModel.get(owner_id, edge, consistent_read=True, attributes_to_get=["edge"])
            return True
        except DoesNotExist:
            return False

    def _toggle(self, write: Callable[[Transaction], object], window: Window | None) -> bool:
        """One edge written (or deleted) under its own condition, counted against `window` in the
        same transaction: False if the condition did not hold (nothing changed, nothing
        counted), Limited if the window was full."""
        try:
            with Transaction(connection=self._connection) as tx:
                write(tx)
                if window is not None:
                    window.hit_within(tx)
            return True
        except TransactWriteError as exc:
            failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
            if failed[:1] == [True]:
                return False
            if _window_full(window, failed):
                raise Limited(window.retry_after) from exc
            raise

    # ------------------------------------------------------------------ blocks and mutes
    def block(self, blocker_id: int, blocked_id: int, *, now_ms: int, window: Window | None = None) -> bool:
        """The block and its mirror in the blocked account's partition, together. False if it
        already stood. The caller removes the follows both ways (and the block's stream record
        does it again, should the caller fail)."""
        def write(tx: Transaction) -> None:
            tx.save(EdgeModel(blocker_id, BLOCK + padded(blocked_id), other_id=blocked_id, created_at=now_ms),
                    condition=EdgeModel.edge.does_not_exist())
            tx.save(EdgeModel(blocked_id, BLOCKED_BY + padded(blocker_id), other_id=blocker_id, created_at=now_ms))
        return self._toggle(write, window)

    def sever(self, a: int, b: int, *, now_ms: int) -> None:
        """No follow either way between two accounts (a block's consequence; idempotent)."""
        self.unfollow(a, b, now_ms=now_ms)
        self.unfollow(b, a, now_ms=now_ms)

    def unblock(self, blocker_id: int, blocked_id: int, window: Window | None = None) -> bool:
        def write(tx: Transaction) -> None:
            tx.delete(EdgeModel(blocker_id, BLOCK + padded(blocked_id)), condition=EdgeModel.edge.exists())
            tx.delete(EdgeModel(blocked_id, BLOCKED_BY + padded(blocker_id)))
        return self._toggle(write, window)

    def blocks(self, blocker_id: int, blocked_id: int) -> bool:
        return self._has(blocker_id, BLOCK + padded(blocked_id))

    def blocked_by(self, user_id: int, blocker_id: int) -> bool:
        """Whether `blocker_id` blocks `user_id` (read in the blocked account's own partition)."""
        return self._has(user_id, BLOCKED_BY + padded(blocker_id))

    def mute(self, muter_id: int, muted_id: int, *, now_ms: int, window: Window | None = None) -> bool:
        return self._toggle(lambda tx: tx.save(
            EdgeModel(muter_id, MUTE + padded(muted_id), other_id=muted_id, created_at=now_ms),
            condition=EdgeModel.edge.does_not_exist()), window)

    def unmute(self, muter_id: int, muted_id: int, window: Window | None = None) -> bool:
        return self._toggle(lambda tx: tx.delete(EdgeModel(muter_id, MUTE + padded(muted_id)),
                                                 condition=EdgeModel.edge.exists()), window)

    def blocks_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, BLOCK, limit, after)

    def mutes_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, MUTE, limit, after)

    def home_edges(self, user_id: int) -> HomeEdges:
        """The celebrities a reader follows (merged into their home timeline at read time) and
        the accounts they block, mute or are blocked by, in one Query, read consistently: a
        block or mute holds from the moment its call answered."""
        celebrities: dict[int, bool] = {}
        copied = set()
        others = []
        for e in EdgeModel.query(user_id, EdgeModel.edge.startswith(HOME), consistent_read=True,
                                 attributes_to_get=["edge", "other_id", "no_reposts", "copied"]):
            if e.edge.startswith(CELEBRITY):
                celebrities[int(e.other_id)] = not e.no_reposts
                if e.copied:
                    copied.add(int(e.other_id))
            else:
                others.append(e)
        return HomeEdges(celebrities, _restrictions(others), frozenset(copied))

    def blocks_around(self, user_id: int) -> Restrictions:
        """The accounts this one blocks and those that block it (no mutes), in one consistent
        Query of its partition: `home#block#` and `home#blocked_by#` share the prefix."""
        return _restrictions(EdgeModel.query(user_id, EdgeModel.edge.startswith(_BLOCKS_BOTH_WAYS),
                                             consistent_read=True, attributes_to_get=["edge", "other_id"]))

    def _existing(self, owner_id: int, prefix: str, other_ids: Iterable[int], *, reposts: bool = False) -> set[int]:
        """Which of these edges of a kind exist now in the owner's partition (consistent reads);
        with `reposts`, only those whose follower takes the account's reposts."""
        keys = [(owner_id, prefix + padded(other)) for other in dict.fromkeys(other_ids)]
        if not keys:
            return set()
        return {int(e.other_id) for e in EdgeModel.batch_get(keys, consistent_read=True,
                                                              attributes_to_get=["other_id", "no_reposts"])
                if not (reposts and e.no_reposts)}

    def followers_among(self, followee_id: int, follower_ids: Iterable[int], *, reposts: bool = False) -> set[int]:
        """Which of these accounts follow the followee now (with `reposts`: and take its reposts)."""
        return self._existing(followee_id, FOLLOWER, follower_ids, reposts=reposts)

    def followed_since(self, follower_id: int, followee_ids: Iterable[int]) -> dict[int, int]:
        """Which of these accounts the follower follows, and since when (epoch ms); an
        eventually consistent read: the home read's reply rules, not a writer's check."""
        keys = [(follower_id, FOLLOWING + padded(other)) for other in dict.fromkeys(followee_ids)]
        if not keys:
            return {}
        return {int(e.other_id): int(e.created_at)
                for e in EdgeModel.batch_get(keys, attributes_to_get=["other_id", "created_at"])}

    def unfollowed_by(self, followee_id: int) -> set[int]:
        """Who unfollowed this account recently and has not followed again (tombstones)."""
        return {int(e.other_id) for e in EdgeModel.query(
            followee_id, EdgeModel.edge.startswith(UNFOLLOWED), consistent_read=True,
            attributes_to_get=["other_id"])}

    def follower_edges(self, followee_id: int, follower_ids: Iterable[int], *,
                       sharded: bool = False) -> dict[int, Follower]:
        """Which of these accounts follow the followee now, each with its activity stamp and
        reposts choice, read consistently: a walk's page checks again after it wrote.
        `sharded`: look in each one's shard too."""
        keys = []
        for other in dict.fromkeys(follower_ids):
            keys.append((followee_id, FOLLOWER + padded(other)))
            if sharded:
                keys.append((storm_partition(followee_id, other), FOLLOWER + padded(other)))
        if not keys:
            return {}
        found: dict[int, Follower] = {}
        for e in EdgeModel.batch_get(keys, consistent_read=True,
                                     attributes_to_get=["user_id", "other_id", "seen_at", "no_reposts"]):
            follower = _follower(e)
            if follower.user_id not in found or follower.partition is None:
                found[follower.user_id] = follower
        return found

    def move_home(self, followee_id: int, followers: list[Follower]) -> list[Follower]:
        """Move these follower edges from the account's shards to its own partition (a
        demotion's walk: fan-out reads only the own partition), each in a transaction that
        holds only while the follow stands and the shard edge is there, taking any tombstone
        an earlier unfollow left in the own partition with it. Returns the followers as they
        now are (those moved, and those already home); an unfollow that won the race is left
        out."""
        def move(f: Follower) -> Follower | None:
            if f.partition is None:
                return f
            edge = FOLLOWER + padded(f.user_id)
            try:
                with Transaction(connection=self._connection) as tx:
                    tx.condition_check(EdgeModel, f.user_id, FOLLOWING + padded(followee_id),
                                       condition=EdgeModel.edge.exists())
                    tx.delete(EdgeModel(f.partition, edge), condition=EdgeModel.edge.exists())
                    tx.delete(EdgeModel(followee_id, UNFOLLOWED + padded(f.user_id)))
                    tx.save(EdgeModel(followee_id, edge, other_id=f.user_id, created_at=clock.now_ms(),
                                      seen_at=f.seen_at, no_reposts=None if f.reposts else True))
                return f._replace(partition=None)
            except TransactWriteError as exc:
                if "ConditionalCheckFailed" in cancellation_codes(exc):
                    return None  # unfollowed, or moved by the other walk
                raise
        moved = list(_pool.map(move, followers))
        return [f for f in moved if f is not None]

    def add_celebrity_edges(self, celebrity_id: int, followers: list[Follower], now_ms: int, *,
                            copied: bool = False) -> None:
        self._batch.put(EdgeModel, [
            EdgeModel(f.user_id, CELEBRITY + padded(celebrity_id), other_id=celebrity_id, created_at=now_ms,
                      no_reposts=None if f.reposts else True, copied=True if copied else None)
            for f in {f.user_id: f for f in followers}.values()
        ])

    def remove_celebrity_edges(self, celebrity_id: int, follower_ids: list[int]) -> None:
        self._batch.delete(EdgeModel, [EdgeModel(f, CELEBRITY + padded(celebrity_id))
                                       for f in dict.fromkeys(follower_ids)])

    def restamp(self, follower_id: int, followee_ids: list[int], now_ms: int) -> list[int]:
        """Mark the follower active on each followee's follower edge, so fan-out writes to them
        again. Conditional on the edge existing (an unfollow is never undone); returns the
        followees still followed."""
        def stamp_at(partition: int) -> bool:
            try:
                EdgeModel(partition, FOLLOWER + padded(follower_id)).update(
                    actions=[EdgeModel.seen_at.set(now_ms)], condition=EdgeModel.edge.exists())
                return True
            except UpdateError as exc:
                if exc.cause_response_code == "ConditionalCheckFailedException":
                    return False
                raise

        def stamp(followee_id: int) -> bool:
            # In the followee's own partition, or (a celebrity's storm-path follow) in its shard.
            return stamp_at(followee_id) or stamp_at(storm_partition(followee_id, follower_id))
        followees = list(dict.fromkeys(followee_ids))
        return [f for f, kept in zip(followees, _pool.map(stamp, followees), strict=True) if kept]
