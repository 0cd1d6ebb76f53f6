"""Celebrity copies in CelebrityCopiesTable: each of a celebrity's posts (and reposts) as a
page shows it, written to each of the account's `shards` partitions, so its readers are
spread over them instead of all reading the same index partition, post items and profile.

A shard holds the account's newest entries with no gaps: copies are added at the top (new
posts), removed anywhere (deletes) and trimmed at the bottom. Its floor marker (tweet_id 0)
says it holds the whole history; without one, entries below its oldest copy are read from
the ByAuthor index. A shard never built (a promotion's copies still on their way) is empty
and has no marker: its readers read the index, as before copies existed.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from timeline.records import Attachment, Entry, Tweet, User
from timeline.store.batching import BatchWriter
from timeline.store.tables import CelebrityCopyModel

FLOOR = 0  # the marker's sort key: below every post id


@dataclass(frozen=True)
class Copy:
    """A post (or a repost, with the post it shares) and the authors a page names."""
    tweet: Tweet
    original: Tweet | None = None  # a repost's original
    authors: dict[int, User] = field(default_factory=dict)


@dataclass(frozen=True)
class CopyPage:
    entries: list[Entry]  # newest first
    tweets: dict[int, Tweet]  # every post the entries show (and the reposts themselves)
    users: dict[int, User]  # their authors (display fields only)
    whole_history: bool  # the floor marker was reached: nothing older exists


def shard_of(reader_id: int, shards: int) -> int:
    """The shard a reader merges: the same one on every read (stable across containers)."""
    return zlib.crc32(str(reader_id).encode()) % shards


def _key(author_id: int, shard: int) -> str:
    return f"{author_id}#{shard}"


# Compact JSON: a shard Query reads ~66 copies per home read, so bytes are read units.
def _tweet_json(t: Tweet) -> dict[str, Any]:
    out: dict[str, Any] = {"i": t.tweet_id, "a": t.author_id, "c": t.created_at}
    if t.text:
        out["t"] = t.text
    if t.reply_to_id is not None:
        out["r"], out["ra"] = t.reply_to_id, t.reply_to_author_id
    if t.repost_of_id is not None:
        out["o"], out["oa"] = t.repost_of_id, t.repost_of_author_id
    if t.media:
        out["m"] = [[a.media_id, a.content_type, a.width, a.height, a.preview_width, a.preview_height, a.ready_at]
                    for a in t.media]
    return out


def _tweet_of(d: dict[str, Any]) -> Tweet:
    return Tweet(tweet_id=int(d["i"]), author_id=int(d["a"]), text=d.get("t", ""), created_at=int(d["c"]),
                 reply_to_id=d.get("r"), reply_to_author_id=d.get("ra"),
                 media=tuple(Attachment(*m) for m in d.get("m", ())), fanout=False,
                 repost_of_id=d.get("o"), repost_of_author_id=d.get("oa"))


def encode(c: Copy) -> str:
    body = {"p": _tweet_json(c.tweet),
            "u": [[u.user_id, u.handle, u.display_name, u.created_at] for u in c.authors.values()]}
    if c.original is not None:
        body["q"] = _tweet_json(c.original)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def decode(body: str) -> Copy:
    d = json.loads(body)
    authors = {int(u[0]): User(user_id=int(u[0]), handle=u[1], display_name=u[2], created_at=int(u[3]))
               for u in d.get("u", ())}
    return Copy(_tweet_of(d["p"]), _tweet_of(d["q"]) if "q" in d else None, authors)


class CopyStore:
    def __init__(self, batch_writer: BatchWriter, shards: int):
        self._batch = batch_writer
        self.shards = shards

    def put(self, author_id: int, copies: Sequence[Copy], shards: Iterable[int] | None = None) -> None:
        """Each copy into every shard of the account, or into `shards` (idempotent puts)."""
        bodies = [(c.tweet.tweet_id, encode(c)) for c in copies]
        items = [CelebrityCopyModel(_key(author_id, k), tweet_id, body=body)
                 for tweet_id, body in bodies for k in (range(self.shards) if shards is None else shards)]
        if items:
            self._batch.put(CelebrityCopyModel, items)

    def remove(self, author_id: int, tweet_ids: Iterable[int], shards: Iterable[int] | None = None) -> None:
        """These posts' copies from every shard of the account, or from `shards`."""
        keys = [CelebrityCopyModel(_key(author_id, k), t) for t in dict.fromkeys(tweet_ids)
                for k in (range(self.shards) if shards is None else shards)]
        if keys:
            self._batch.delete(CelebrityCopyModel, keys)

    def page(self, author_id: int, shard: int, *, before: int | None, limit: int) -> CopyPage:
        """Newest first, older than `before`: up to `limit` entries, with their posts and
        authors; one item more is asked for, so a shard that holds fewer than `limit` below
        `before` shows its floor marker if it has one."""
        condition = CelebrityCopyModel.tweet_id < before if before is not None else None
        entries: list[Entry] = []
        tweets: dict[int, Tweet] = {}
        users: dict[int, User] = {}
        floor = False
        for m in CelebrityCopyModel.query(_key(author_id, shard), condition, scan_index_forward=False,
                                          limit=limit + 1, page_size=limit + 1):
            if int(m.tweet_id) == FLOOR:
                floor = True
                break
            if len(entries) == limit:
                break
            c = decode(m.body)
            entries.append(c.tweet.as_entry())
            tweets[c.tweet.tweet_id] = c.tweet
            if c.original is not None:
                tweets[c.original.tweet_id] = c.original
            users.update(c.authors)
        return CopyPage(entries, tweets, users, floor)

    def ids(self, author_id: int, shard: int) -> list[int]:
        """Every copy id in one shard, newest first (the floor marker left out)."""
        return [int(m.tweet_id) for m in CelebrityCopyModel.query(
            _key(author_id, shard), CelebrityCopyModel.tweet_id > FLOOR, scan_index_forward=False,
            attributes_to_get=["tweet_id"])]

    def set_floor(self, author_id: int, shards: Iterable[int]) -> None:
        self._batch.put(CelebrityCopyModel, [CelebrityCopyModel(_key(author_id, k), FLOOR) for k in shards])

    def drop_floor(self, author_id: int, shards: Iterable[int]) -> None:
        self._batch.delete(CelebrityCopyModel, [CelebrityCopyModel(_key(author_id, k), FLOOR) for k in shards])

    def remove_from(self, author_id: int, shard: int, tweet_ids: Iterable[int]) -> None:
        keys = [CelebrityCopyModel(_key(author_id, shard), t) for t in dict.fromkeys(tweet_ids)]
        if keys:
            self._batch.delete(CelebrityCopyModel, keys)
