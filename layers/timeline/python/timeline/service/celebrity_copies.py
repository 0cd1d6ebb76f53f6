"""Keeping each celebrity's copies (store/celebrity_copies.py) in step with its posts; runs in
fanout_worker, from three messages, each safe to apply twice, late or out of order:

- `copy` (dispatch, a celebrity's new post): the post into every shard; then, as every
  fan-out write does, the post is checked again and its copies taken back if it was deleted
  meanwhile (the delete's `uncopy` may have run first).
- `uncopy` (dispatch, a deleted post that was or may have been copied): its copies removed.
- `celebrity_copies` (the copied mark set or cleared, one per group of shards): if the
  account is copied, the shards made equal to its newest COPY_KEEP entries of the index
  (with the floor marker if that is its whole history); if not, the shards emptied.

Only celebrities with at least CopyThreshold followers are copied: a copy Query reads bodies
(66 of them, 2.5 read units) where an index Query reads ids (0.5), so copying every celebrity
would cost a fifth more on the whole bill at Twitter's load for partitions that were never hot
(docs/hot-keys.md).

Why copies: at Twitter's load a fifth of all home reads merge the largest account; one
partition serves 3,000 read units a second, and those reads would all land on its index
partition, its newest posts and its profile. Spread over the shards, each partition gets
1/CelebrityCopyShards of them, and a merge reads nothing else (docs/hot-keys.md).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable

from timeline.records import Entry, Tweet
from timeline.store.celebrity_copies import Copy, CopyStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

# Entries a shard keeps: a home read's first round asks 66 of each source; three pages of
# scrolling stay on the shard, and deeper pages read the index (rare, so never hot).
COPY_KEEP = 200
# Shards are trimmed about one new post in this many (each trim Queries every shard's ids).
TRIM_INTERVAL = 8
# Shards built (or emptied) per `celebrity_copies` message: up to 16 x 200 copies written.
SHARDS_PER_MESSAGE = 16


def shard_groups(shards: int) -> list[tuple[int, int]]:
    """[first, last) shard ranges, one per `celebrity_copies` message."""
    return [(k, min(shards, k + SHARDS_PER_MESSAGE)) for k in range(0, shards, SHARDS_PER_MESSAGE)]


class CelebrityCopies:
    def __init__(self, users: UserStore, tweets: TweetStore, copies: CopyStore):
        self._users, self._tweets, self._copies = users, tweets, copies

    def _copies_of(self, rows: Iterable[Tweet]) -> dict[int, list[Copy]]:
        """The copies of these rows, by author: the post, a repost's original, their authors.
        A repost whose original is gone is left out (its own delete is on its way)."""
        rows = list(rows)
        originals = self._tweets.get_many({t.repost_of_id for t in rows if t.repost_of_id is not None})
        people = self._users.get_many({t.author_id for t in rows} | {o.author_id for o in originals.values()})
        out: dict[int, list[Copy]] = defaultdict(list)
        for t in rows:
            original = originals.get(t.repost_of_id) if t.repost_of_id is not None else None
            names = [t.author_id] + ([original.author_id] if original else [])
            if (t.is_repost and original is None) or any(n not in people for n in names):
                continue
            out[t.author_id].append(Copy(t, original, {n: people[n] for n in names}))
        return out

    def copy(self, tweet_ids: Iterable[int]) -> int:
        """Copy these posts into their authors' shards (authors not copied now are skipped:
        their shards were emptied, or are about to be). Returns how many posts were copied."""
        ids = set(tweet_ids)
        rows = self._tweets.get_many(ids, consistent=True)
        flags = self._users.copied_flags({t.author_id for t in rows.values()})
        by_author = self._copies_of(t for t in rows.values() if flags.get(t.author_id))
        for author_id, copies in by_author.items():
            self._copies.put(author_id, copies)
        written = {c.tweet.tweet_id: author for author, copies in by_author.items() for c in copies}
        gone = set(written) - self._tweets.existing(written)
        for author_id in {written[t] for t in gone}:
            self._copies.remove(author_id, [t for t in gone if written[t] == author_id])
        for author_id in {a for t, a in written.items() if t not in gone and self._trim_due(a, t)}:
            self.trim(author_id)
        return len(written) - len(gone)

    def uncopy(self, author_id: int, tweet_ids: Iterable[int]) -> None:
        self._copies.remove(author_id, tweet_ids)

    @staticmethod
    def _trim_due(author_id: int, tweet_id: int) -> bool:
        return zlib.crc32(f"{author_id}:{tweet_id}".encode()) % TRIM_INTERVAL == 0

    def trim(self, author_id: int, shards: Iterable[int] | None = None) -> int:
        """Every shard back to its newest COPY_KEEP copies. The floor marker goes first: a
        shard that lost its oldest copies no longer holds the whole history."""
        removed = 0
        for k in range(self._copies.shards) if shards is None else shards:
            surplus = self._copies.ids(author_id, k)[COPY_KEEP:]
            if surplus:
                self._copies.drop_floor(author_id, [k])
                self._copies.remove_from(author_id, k, surplus)
                removed += len(surplus)
        return removed

    def sync(self, account_id: int, first: int, last: int) -> None:
        """Shards [first, last) of an account made to match its copied mark as it stands:
        built if it is copied, emptied if not (a later change sends messages of its own)."""
        account = self._users.get_consistent(account_id)
        shards = range(first, min(last, self._copies.shards))
        if account is not None and account.copied:
            self._build(account_id, shards)
        else:
            for k in shards:
                self._copies.drop_floor(account_id, [k])
                self._copies.remove_from(account_id, k, self._copies.ids(account_id, k))

    def _build(self, account_id: int, shards: range) -> None:
        """Make each shard hold the account's newest COPY_KEEP entries: copies the index no
        longer lists are removed (unless newer than its newest: a post still on its way to the
        index, copied by its own `copy`), the rest written; then the written posts are checked
        again (a delete may have run meanwhile), then the floor marker, if the index holds no
        more than that."""
        entries: list[Entry] = self._tweets.entries_by_author(account_id, before=None, limit=COPY_KEEP)
        listed = {e.tweet_id for e in entries}
        newest = entries[0].tweet_id if entries else None
        rows = self._tweets.get_many(listed)
        copies = self._copies_of(rows[i] for i in sorted(rows, reverse=True)).get(account_id, [])
        for k in shards:
            stale = [i for i in self._copies.ids(account_id, k)
                     if i not in listed and (newest is None or i < newest)]
            self._copies.remove_from(account_id, k, stale)
        whole = len(entries) < COPY_KEEP
        if not whole:
            self._copies.drop_floor(account_id, shards)
        self._copies.put(account_id, copies, shards)
        self._copies.remove(account_id, listed - self._tweets.existing(listed), shards)
        if whole:
            self._copies.set_floor(account_id, shards)

