"""Plain records the services work with; the store converts to and from its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class User:
    user_id: int
    handle: str
    display_name: str
    created_at: int  # epoch ms
    followers_count: int = 0
    following_count: int = 0
    celebrity: bool = False
    # Bumped by every celebrity flip: a page of an older transition's walk knows it is stale.
    celebrity_epoch: int = 0
    last_seen_at: int | None = None  # epoch ms, written by home reads at most once a day
    # When the reader's follower edges were last stamped active (fan-out skips stale edges).
    stamped_at: int | None = None
    rebuilding: int | None = None  # set while the timeline of a returning reader is rebuilt

    @property
    def activity_stamp(self) -> int:
        return self.stamped_at if self.stamped_at is not None else self.created_at


@dataclass(frozen=True)
class Tweet:
    tweet_id: int
    author_id: int
    text: str
    created_at: int  # epoch ms
    reply_to_id: int | None = None
    reply_to_author_id: int | None = None
    media_keys: tuple[str, ...] = field(default_factory=tuple)
    fanout: bool = True
    # A repost is a row of its own (its id orders it, its author is the reposter) naming the
    # post it shares; it has no text of its own.
    repost_of_id: int | None = None
    repost_of_author_id: int | None = None

    @property
    def is_repost(self) -> bool:
        return self.repost_of_id is not None

    def as_entry(self) -> Entry:
        """What a home timeline holds for this row: enough to merge, dedupe and filter a page
        without reading the post."""
        if self.repost_of_id is not None:
            return Entry(self.tweet_id, self.repost_of_author_id, self.author_id, self.repost_of_id)
        return Entry(self.tweet_id, self.author_id, self.author_id, self.tweet_id,
                     self.reply_to_id, self.reply_to_author_id)


class Entry(NamedTuple):
    """One home-timeline entry, as stored (TimelinesTable) or merged (a celebrity's posts).

    `tweet_id` orders it (a repost's own id: it shows when it was reposted); `author_id` wrote
    the post shown; `via_id` brought it (the author, or the reposter); `original_id` is the post
    shown (the tweet itself, or the one reposted). Replies carry whom they answer."""
    tweet_id: int
    author_id: int
    via_id: int
    original_id: int
    reply_to_id: int | None = None
    reply_to_author_id: int | None = None

    @property
    def is_repost(self) -> bool:
        return self.original_id != self.tweet_id


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    expires_in: int
    refresh_token: str | None = None
