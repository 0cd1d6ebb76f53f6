"""The social graph in GraphTable: both directions of every edge, celebrity edges, and
unfollow tombstones."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from timeline.store.batching import BatchWriter
from timeline.store.tables import EdgeModel, UserModel, cancellation_codes, padded

FOLLOWING, FOLLOWER, CELEBRITY, UNFOLLOWED = "following#", "follower#", "celebrity#", "unfollowed#"

# A tombstone outlives every fan-out message that could have been planned before its unfollow
# (the queue keeps messages 4 days; the dead-letter queue 14). Older messages check edges.
TOMBSTONE_TTL_SECONDS = 15 * 86_400

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="graph")


class UnknownUser(Exception):
    pass


class FolloweeChanged(Exception):
    """The followee is gone, or its celebrity flag is not what the follow assumed."""


class GraphStore:
    def __init__(self, connection: Connection, batch_writer: BatchWriter):
        self._connection = connection
        self._batch = batch_writer

    def follow(self, follower_id: int, followee_id: int, *, celebrity: bool, now_ms: int) -> bool:
        """Both edges and both counters in one transaction. False if already following.

        The transaction holds only if the followee's celebrity flag is still `celebrity`, so
        the edge it writes (with or without a celebrity edge) matches the flag at commit: a
        promotion or demotion that flipped it since the caller read the profile raises
        FolloweeChanged, and the caller reads again. It also lifts any unfollow tombstone."""
        flag = (UserModel.celebrity == True) if celebrity else (  # noqa: E712
            UserModel.celebrity.does_not_exist() | (UserModel.celebrity == False))  # noqa: E712
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(EdgeModel(follower_id, FOLLOWING + padded(followee_id), other_id=followee_id,
                                  created_at=now_ms), condition=EdgeModel.edge.does_not_exist())
                tx.save(EdgeModel(followee_id, FOLLOWER + padded(follower_id), other_id=follower_id,
                                  created_at=now_ms, seen_at=now_ms), condition=EdgeModel.edge.does_not_exist())
                tx.update(UserModel(UserModel.key(follower_id)), actions=[UserModel.following_count.add(1)],
                          condition=UserModel.pk.exists())
                tx.update(UserModel(UserModel.key(followee_id)), actions=[UserModel.followers_count.add(1)],
                          condition=UserModel.pk.exists() & flag)
                tx.delete(EdgeModel(followee_id, UNFOLLOWED + padded(follower_id)))
                if celebrity:
                    tx.save(EdgeModel(follower_id, CELEBRITY + padded(followee_id), other_id=followee_id,
                                      created_at=now_ms))
        except TransactWriteError as exc:
            # pynamodb sends deletes, then puts, then updates: [tombstone, following edge,
            # follower edge, (celebrity edge), follower's counter, followee's counter].
            failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
            if any(failed[1:3]):
                return False
            if failed[-2:-1] == [True]:
                raise UnknownUser() from exc
            if failed[-1:] == [True]:
                raise FolloweeChanged() from exc
            raise
        return True

    def unfollow(self, follower_id: int, followee_id: int, *, now_ms: int) -> bool:
        """Remove both edges (and any celebrity edge) and both counters, and leave a tombstone
        in the followee's partition. False if not following."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(EdgeModel(follower_id, FOLLOWING + padded(followee_id)),
                          condition=EdgeModel.edge.exists())
                tx.delete(EdgeModel(followee_id, FOLLOWER + padded(follower_id)),
                          condition=EdgeModel.edge.exists())
                tx.update(UserModel(UserModel.key(follower_id)), actions=[UserModel.following_count.add(-1)],
                          condition=UserModel.pk.exists())
                tx.update(UserModel(UserModel.key(followee_id)), actions=[UserModel.followers_count.add(-1)],
                          condition=UserModel.pk.exists())
                tx.delete(EdgeModel(follower_id, CELEBRITY + padded(followee_id)))
                tx.save(EdgeModel(followee_id, UNFOLLOWED + padded(follower_id), other_id=follower_id,
                                  created_at=now_ms, expires_at=now_ms // 1000 + TOMBSTONE_TTL_SECONDS))
        except TransactWriteError as exc:
            reasons = cancellation_codes(exc)
            if "ConditionalCheckFailed" in reasons:
                return False
            raise
        return True

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

    def followers_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, FOLLOWER, limit, after)

    def following_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, FOLLOWING, limit, after)

    def followers_with_activity(self, user_id: int, limit: int,
                                after: str | None = None) -> tuple[list[tuple[int, int | None]], str | None]:
        """A page of (follower id, when they were last stamped active); fan-out reads this page
        anyway, so skipping inactive readers costs no read per follower."""
        edges, next_after = self._query_page(user_id, FOLLOWER, limit, after, ["seen_at"])
        return [(int(e.other_id), int(e.seen_at) if e.seen_at is not None else None) for e in edges], next_after

    def is_following(self, follower_id: int, followee_id: int) -> bool:
        try:
            EdgeModel.get(follower_id, FOLLOWING + padded(followee_id), consistent_read=True,
                          attributes_to_get=["edge"])
            return True
        except DoesNotExist:
            return False

    def _existing(self, owner_id: int, prefix: str, other_ids: Iterable[int]) -> set[int]:
        """Which of these edges of a kind exist now in the owner's partition (consistent reads)."""
        keys = [(owner_id, prefix + padded(other)) for other in dict.fromkeys(other_ids)]
        if not keys:
            return set()
        return {int(e.other_id) for e in EdgeModel.batch_get(keys, consistent_read=True,
                                                              attributes_to_get=["other_id"])}

    def followed_among(self, follower_id: int, followee_ids: Iterable[int]) -> set[int]:
        """Which of these accounts the follower follows now."""
        return self._existing(follower_id, FOLLOWING, followee_ids)

    def followers_among(self, followee_id: int, follower_ids: Iterable[int]) -> set[int]:
        """Which of these accounts follow the followee now."""
        return self._existing(followee_id, FOLLOWER, follower_ids)

    def unfollowed_by(self, followee_id: int) -> set[int]:
        """Who unfollowed this account recently and has not followed again (tombstones)."""
        return {int(e.other_id) for e in EdgeModel.query(
            followee_id, EdgeModel.edge.startswith(UNFOLLOWED), consistent_read=True,
            attributes_to_get=["other_id"])}

    def celebrity_followees(self, user_id: int) -> list[int]:
        """The celebrities a reader follows: merged into their home timeline at read time."""
        return [int(e.other_id) for e in EdgeModel.query(
            user_id, EdgeModel.edge.startswith(CELEBRITY), attributes_to_get=["other_id"])]

    def add_celebrity_edges(self, celebrity_id: int, follower_ids: list[int], now_ms: int) -> None:
        self._batch.put(EdgeModel, [
            EdgeModel(f, CELEBRITY + padded(celebrity_id), other_id=celebrity_id, created_at=now_ms)
            for f in dict.fromkeys(follower_ids)
        ])

    def remove_celebrity_edges(self, celebrity_id: int, follower_ids: list[int]) -> None:
        self._batch.delete(EdgeModel, [EdgeModel(f, CELEBRITY + padded(celebrity_id))
                                       for f in dict.fromkeys(follower_ids)])

    def restamp(self, follower_id: int, followee_ids: list[int], now_ms: int) -> list[int]:
        """Mark the follower active on each followee's follower edge, so fan-out writes to them
        again. Conditional on the edge existing (an unfollow is never undone); returns the
        followees still followed."""
        def stamp(followee_id: int) -> bool:
            try:
                EdgeModel(followee_id, FOLLOWER + padded(follower_id)).update(
                    actions=[EdgeModel.seen_at.set(now_ms)], condition=EdgeModel.edge.exists())
                return True
            except UpdateError as exc:
                if exc.cause_response_code == "ConditionalCheckFailedException":
                    return False
                raise
        followees = list(dict.fromkeys(followee_ids))
        return [f for f, kept in zip(followees, _pool.map(stamp, followees)) if kept]
