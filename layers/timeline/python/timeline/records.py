"""Plain records the services work with; the store converts to and from its models."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    expires_in: int
    refresh_token: str | None = None
