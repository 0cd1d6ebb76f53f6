"""The social graph in GraphTable: both directions of every edge, plus celebrity edges."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from timeline.store.batching import BatchWriter
from timeline.store.tables import EdgeModel, UserModel, cancellation_codes, padded

FOLLOWING, FOLLOWER, CELEBRITY = "following#", "follower#", "celebrity#"


class UnknownUser(Exception):
    pass


class GraphStore:
    def __init__(self, connection: Connection, batch_writer: BatchWriter):
        self._connection = connection
        self._batch = batch_writer

    def follow(self, follower_id: int, followee_id: int, *, celebrity: bool, now_ms: int) -> bool:
        """Both edges and both counters in one transaction. False if already following."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(EdgeModel(follower_id, FOLLOWING + padded(followee_id), other_id=followee_id,
                                  created_at=now_ms), condition=EdgeModel.edge.does_not_exist())
                tx.save(EdgeModel(followee_id, FOLLOWER + padded(follower_id), other_id=follower_id,
                                  created_at=now_ms), condition=EdgeModel.edge.does_not_exist())
                tx.update(UserModel(UserModel.key(follower_id)), actions=[UserModel.following_count.add(1)],
                          condition=UserModel.pk.exists())
                tx.update(UserModel(UserModel.key(followee_id)), actions=[UserModel.followers_count.add(1)],
                          condition=UserModel.pk.exists())
                if celebrity:
                    tx.save(EdgeModel(follower_id, CELEBRITY + padded(followee_id), other_id=followee_id,
                                      created_at=now_ms))
        except TransactWriteError as exc:
            reasons = cancellation_codes(exc)
            if reasons[:2] and "ConditionalCheckFailed" in reasons[:2]:
                return False
            if "ConditionalCheckFailed" in reasons[2:4]:
                raise UnknownUser() from exc
            raise
        return True

    def unfollow(self, follower_id: int, followee_id: int) -> bool:
        """Remove both edges (and any celebrity edge) and both counters. False if not following."""
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
        except TransactWriteError as exc:
            reasons = cancellation_codes(exc)
            if "ConditionalCheckFailed" in reasons:
                return False
            raise
        return True

    def _page(self, user_id: int, prefix: str, limit: int, after: str | None) -> tuple[list[int], str | None]:
        """One page of edges of a kind; `after` is the last edge of the previous page."""
        condition = EdgeModel.edge.startswith(prefix)
        last_key = {"user_id": {"N": str(user_id)}, "edge": {"S": after}} if after else None
        result = EdgeModel.query(user_id, condition, limit=limit, last_evaluated_key=last_key,
                                 attributes_to_get=["other_id", "edge"], page_size=limit)
        ids = [int(edge.other_id) for edge in result]
        more = result.last_evaluated_key
        return ids, (more["edge"]["S"] if more else None)

    def followers_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, FOLLOWER, limit, after)

    def following_page(self, user_id: int, limit: int, after: str | None = None) -> tuple[list[int], str | None]:
        return self._page(user_id, FOLLOWING, limit, after)

    def celebrity_followees(self, user_id: int) -> list[int]:
        """The celebrities a reader follows: merged into their home timeline at read time."""
        return [int(e.other_id) for e in EdgeModel.query(
            user_id, EdgeModel.edge.startswith(CELEBRITY), attributes_to_get=["other_id"])]

    def add_celebrity_edges(self, celebrity_id: int, follower_ids: list[int], now_ms: int) -> None:
        self._batch.put(EdgeModel, [
            EdgeModel(f, CELEBRITY + padded(celebrity_id), other_id=celebrity_id, created_at=now_ms)
            for f in follower_ids
        ])
