"""Materialized home timelines in TimelinesTable: (owner, entry id) -> the post it shows, who
wrote it, the followed account it came through, and whom it answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from timeline.records import Entry
from timeline.store.batching import BatchWriter
from timeline.store.tables import TimelineEntryModel

_ENTRY_FIELDS = ["tweet_id", "author_id", "via_id", "original_id", "reply_to_id", "reply_to_author_id"]


def entry(owner_id: int, e: Entry, expires_at: int) -> TimelineEntryModel:
    return TimelineEntryModel(owner_id, e.tweet_id, author_id=e.author_id, via_id=e.via_id,
                              original_id=e.original_id if e.is_repost else None,
                              reply_to_id=e.reply_to_id, reply_to_author_id=e.reply_to_author_id,
                              expires_at=expires_at)


def to_entry(m: TimelineEntryModel) -> Entry:
    return Entry.stored(m.tweet_id, m.author_id, m.via_id, m.original_id, m.reply_to_id, m.reply_to_author_id)


class TimelineStore:
    def __init__(self, batch_writer: BatchWriter):
        self._batch = batch_writer

    def add_entries(self, pairs: Iterable[tuple[int, Entry]], expires_at: int) -> None:
        """(owner, entry) pairs, any number of timelines and posts, written together (25 a
        request). Idempotent puts: a pair given twice, or written twice, leaves one entry."""
        unique = {(owner, e.tweet_id): (owner, e) for owner, e in pairs}
        if unique:
            self._batch.put(TimelineEntryModel, [entry(owner, e, expires_at) for owner, e in unique.values()])

    def add_posts(self, owner_id: int, entries: Iterable[Entry], expires_at: int) -> None:
        """Many entries into one timeline, oldest first (so a post a reply answers is written no
        later than the reply)."""
        unique = {e.tweet_id: e for e in entries}
        self._batch.put(TimelineEntryModel, [entry(owner_id, e, expires_at)
                                             for _, e in sorted(unique.items())])

    def remove(self, owners: Sequence[int], tweet_id: int) -> None:
        self.remove_entries((owner, tweet_id) for owner in owners)

    def remove_entries(self, entries: Iterable[tuple[int, int]]) -> None:
        """Delete (owner id, tweet id) entries."""
        keys = [TimelineEntryModel(owner, tweet_id) for owner, tweet_id in dict.fromkeys(entries)]
        if keys:
            self._batch.delete(TimelineEntryModel, keys)

    def page(self, owner_id: int, *, before: int | None, limit: int) -> list[Entry]:
        """Newest first: entries older than `before`."""
        condition = TimelineEntryModel.tweet_id < before if before is not None else None
        return [to_entry(e) for e in TimelineEntryModel.query(
            owner_id, condition, scan_index_forward=False, limit=limit, page_size=limit,
            attributes_to_get=_ENTRY_FIELDS)]

    def newest_ids(self, owner_id: int, limit: int) -> list[int]:
        """The newest `limit` entry ids, newest first, read consistently (a backfill decides
        what is missing and whether the timeline is full from them)."""
        return [int(e.tweet_id) for e in TimelineEntryModel.query(
            owner_id, scan_index_forward=False, limit=limit, page_size=min(limit, 1000),
            consistent_read=True, attributes_to_get=["tweet_id"])]

    def ids_via(self, owner_id: int, account_id: int, *, reposts_only: bool = False) -> list[int]:
        """Every entry the account brought into this timeline (by it, or through it); with
        `reposts_only`, just its reposts."""
        condition = (TimelineEntryModel.via_id == account_id) | (
            TimelineEntryModel.via_id.does_not_exist() & (TimelineEntryModel.author_id == account_id))
        if reposts_only:
            condition = (TimelineEntryModel.via_id == account_id) & TimelineEntryModel.original_id.exists()
        return [int(e.tweet_id) for e in TimelineEntryModel.query(
            owner_id, filter_condition=condition, consistent_read=True, attributes_to_get=["tweet_id"])]

    def present(self, keys: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of these (owner id, tweet id) entries exist."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        return {(int(m.owner_id), int(m.tweet_id)) for m in TimelineEntryModel.batch_get(
            wanted, attributes_to_get=["owner_id", "tweet_id"])}

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
