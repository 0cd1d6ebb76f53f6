"""Materialized home timelines in TimelinesTable: (owner, tweet id) -> author, and the
followed account the entry came through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from timeline.store.batching import BatchWriter
from timeline.store.tables import TimelineEntryModel


def entry(owner_id: int, tweet_id: int, author_id: int, via_id: int, expires_at: int) -> TimelineEntryModel:
    return TimelineEntryModel(owner_id, tweet_id, author_id=author_id, via_id=via_id, expires_at=expires_at)


class TimelineStore:
    def __init__(self, batch_writer: BatchWriter):
        self._batch = batch_writer

    def add(self, owners: Sequence[int], tweet_id: int, author_id: int, via_id: int, expires_at: int) -> None:
        """One post into many timelines. Idempotent puts: writing an entry twice leaves one."""
        self._batch.put(TimelineEntryModel, [
            entry(owner, tweet_id, author_id, via_id, expires_at) for owner in dict.fromkeys(owners)
        ])

    def add_posts(self, owner_id: int, posts: Iterable[tuple[int, int]], expires_at: int,
                  via_id: int | None = None) -> None:
        """Many posts, (tweet id, author id), into one timeline; each came through `via_id`, or
        through its own author when None."""
        self._batch.put(TimelineEntryModel, [
            entry(owner_id, tweet_id, author_id, author_id if via_id is None else via_id, expires_at)
            for tweet_id, author_id in dict(posts).items()
        ])

    def remove(self, owners: Sequence[int], tweet_id: int) -> None:
        self.remove_entries((owner, tweet_id) for owner in owners)

    def remove_entries(self, entries: Iterable[tuple[int, int]]) -> None:
        """Delete (owner id, tweet id) entries."""
        keys = [TimelineEntryModel(owner, tweet_id) for owner, tweet_id in dict.fromkeys(entries)]
        if keys:
            self._batch.delete(TimelineEntryModel, keys)

    def page(self, owner_id: int, *, before: int | None, limit: int) -> list[tuple[int, int]]:
        """Newest first: (tweet id, author id) older than `before`."""
        condition = TimelineEntryModel.tweet_id < before if before is not None else None
        return [(int(e.tweet_id), int(e.author_id)) for e in TimelineEntryModel.query(
            owner_id, condition, scan_index_forward=False, limit=limit, page_size=limit,
            attributes_to_get=["tweet_id", "author_id"])]

    def newest_ids(self, owner_id: int, limit: int) -> list[int]:
        """The newest `limit` entry ids, newest first, read consistently (a backfill decides
        what is missing and whether the timeline is full from them)."""
        return [int(e.tweet_id) for e in TimelineEntryModel.query(
            owner_id, scan_index_forward=False, limit=limit, page_size=min(limit, 1000),
            consistent_read=True, attributes_to_get=["tweet_id"])]

    def ids_via(self, owner_id: int, account_id: int) -> list[int]:
        """Every entry the account brought into this timeline (by it, or through it)."""
        condition = (TimelineEntryModel.via_id == account_id) | (
            TimelineEntryModel.via_id.does_not_exist() & (TimelineEntryModel.author_id == account_id))
        return [int(e.tweet_id) for e in TimelineEntryModel.query(
            owner_id, filter_condition=condition, consistent_read=True, attributes_to_get=["tweet_id"])]

    def trim(self, owner_id: int, keep: int) -> int:
        """Delete every entry beyond the newest `keep`; returns how many went."""
        surplus = []
        for i, item in enumerate(TimelineEntryModel.query(
                owner_id, scan_index_forward=False, attributes_to_get=["tweet_id"])):
            if i >= keep:
                surplus.append(TimelineEntryModel(owner_id, int(item.tweet_id)))
        if surplus:
            self._batch.delete(TimelineEntryModel, surplus)
        return len(surplus)
