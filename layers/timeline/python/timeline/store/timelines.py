"""Materialized home timelines in TimelinesTable: (owner, tweet id) -> author."""

from __future__ import annotations

from collections.abc import Sequence

from timeline.store.batching import BatchWriter
from timeline.store.tables import TimelineEntryModel


class TimelineStore:
    def __init__(self, batch_writer: BatchWriter):
        self._batch = batch_writer

    def add(self, owners: Sequence[int], tweet_id: int, author_id: int, expires_at: int) -> None:
        """Idempotent puts: writing the same entry twice leaves one entry."""
        self._batch.put(TimelineEntryModel, [
            TimelineEntryModel(owner, tweet_id, author_id=author_id, expires_at=expires_at)
            for owner in dict.fromkeys(owners)
        ])

    def remove(self, owners: Sequence[int], tweet_id: int) -> None:
        self._batch.delete(TimelineEntryModel, [TimelineEntryModel(o, tweet_id) for o in dict.fromkeys(owners)])

    def page(self, owner_id: int, *, before: int | None, limit: int) -> list[tuple[int, int]]:
        """Newest first: (tweet id, author id) older than `before`."""
        condition = TimelineEntryModel.tweet_id < before if before is not None else None
        return [(int(e.tweet_id), int(e.author_id)) for e in TimelineEntryModel.query(
            owner_id, condition, scan_index_forward=False, limit=limit, page_size=limit,
            attributes_to_get=["tweet_id", "author_id"])]

    def trim(self, owner_id: int, keep: int) -> int:
        """Delete every entry beyond the newest `keep`; returns how many went."""
        surplus = []
        for i, entry in enumerate(TimelineEntryModel.query(
                owner_id, scan_index_forward=False, attributes_to_get=["tweet_id"])):
            if i >= keep:
                surplus.append(TimelineEntryModel(owner_id, int(entry.tweet_id)))
        if surplus:
            self._batch.delete(TimelineEntryModel, surplus)
        return len(surplus)
