"""Plain records the services work with; the store converts to and from its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, SupportsInt

IdLike = str | SupportsInt  # an id as a model attribute, a stored number or a decimal string holds it


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
    copied: bool = False  # its posts are also copied to shards (a celebrity past CopyThreshold)
    last_seen_at: int | None = None  # epoch ms, written by home reads at most once a day
    # When the reader's follower edges were last stamped active (fan-out skips stale edges).
    stamped_at: int | None = None
    rebuilding: int | None = None  # set while the timeline of a returning reader is rebuilt

    @property
    def activity_stamp(self) -> int:
        return self.stamped_at if self.stamped_at is not None else self.created_at


@dataclass(frozen=True)
class Attachment:
    """An image as a post carries it: enough to sign its URLs and lay it out, no read of
    the media record."""
    media_id: int
    content_type: str  # the original's
    width: int
    height: int
    preview_width: int
    preview_height: int
    ready_at: int  # epoch ms the preview was written (it expires with the variants)

    @classmethod
    def of(cls, value: Attachment | dict[str, Any]) -> Attachment:
        """From itself or from its dict form (an idempotency record stores the post as a dict)."""
        if isinstance(value, Attachment):
            return value
        fields: dict[str, Any] = {k: (v if k == "content_type" else int(v)) for k, v in value.items()}
        return cls(**fields)


PENDING, READY, REJECTED = "pending", "ready", "rejected"


@dataclass(frozen=True)
class Media:
    """An upload and what became of it (MediaTable)."""
    media_id: int
    owner_id: int
    content_type: str  # as declared when the upload was requested
    status: str  # PENDING, READY or REJECTED
    created_at: int  # epoch ms
    reason: str | None = None  # rejected: a stable code (images.Rejected.reason)
    message: str | None = None  # rejected: what was wrong, for the owner to read
    width: int | None = None
    height: int | None = None
    preview_width: int | None = None
    preview_height: int | None = None
    ready_at: int | None = None
    post_id: int | None = None  # the post it is attached to
    # The upload request's correlation id: the processor's log lines carry it. Not part of
    # what the media is, so not compared.
    correlation_id: str | None = field(default=None, compare=False, repr=False)

    def attachment(self) -> Attachment:
        """As a post carries it: only a READY media has one (its sizes and ready_at are set)."""
        if (self.width is None or self.height is None or self.preview_width is None or self.preview_height is None
                or self.ready_at is None):
            raise ValueError(f"media {self.media_id} is {self.status}: it has no attachment")
        return Attachment(self.media_id, self.content_type, self.width, self.height, self.preview_width,
                          self.preview_height, self.ready_at)


@dataclass(frozen=True)
class Tweet:
    tweet_id: int
    author_id: int
    text: str
    created_at: int  # epoch ms
    reply_to_id: int | None = None
    reply_to_author_id: int | None = None
    media: tuple[Attachment, ...] = field(default_factory=tuple)
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
        return Entry.of_row(self.tweet_id, self.author_id, repost_of_id=self.repost_of_id,
                            repost_of_author_id=self.repost_of_author_id, reply_to_id=self.reply_to_id,
                            reply_to_author_id=self.reply_to_author_id)


@dataclass(frozen=True)
class Counts:
    """How many replies, reposts and likes a post has: counted from the graph stream, so they
    lag the actions by a few seconds (store/engagement.py)."""
    replies: int = 0
    reposts: int = 0
    likes: int = 0


@dataclass(frozen=True)
class ViewerState:
    """What the reader has done to a post: read with the page, consistently, so the reader's
    own action shows at once."""
    reposted: bool = False
    liked: bool = False


@dataclass(frozen=True)
class Relation:
    """How the reader stands with an account (a profile's `viewer`)."""
    following: bool = False
    followed_by: bool = False
    blocking: bool = False
    muting: bool = False


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

    @classmethod
    def of_row(cls, tweet_id: IdLike, author_id: IdLike, *, repost_of_id: IdLike | None = None,
               repost_of_author_id: IdLike | None = None, reply_to_id: IdLike | None = None,
               reply_to_author_id: IdLike | None = None) -> Entry:
        """The entry a TweetsTable row makes (a post by its author, or a repost by the
        reposter), from the row or from its ByAuthor index item."""
        tweet_id, author_id = int(tweet_id), int(author_id)
        if repost_of_id is not None:
            if repost_of_author_id is None:
                raise TypeError("a repost's row names the author of the post it shows")
            return cls(tweet_id, int(repost_of_author_id), author_id, int(repost_of_id))
        return cls(tweet_id, author_id, author_id, tweet_id, optional_int(reply_to_id),
                   optional_int(reply_to_author_id))

    @classmethod
    def stored(cls, tweet_id: IdLike, author_id: IdLike, via_id: IdLike | None = None,
               original_id: IdLike | None = None, reply_to_id: IdLike | None = None,
               reply_to_author_id: IdLike | None = None) -> Entry:
        """An entry as a timeline item or a queue message holds it (numbers or decimal strings);
        one written before reposts has no via or original: its author, and itself."""
        tweet_id, author_id = int(tweet_id), int(author_id)
        return cls(tweet_id, author_id, optional_int(via_id) or author_id, optional_int(original_id) or tweet_id,
                   optional_int(reply_to_id), optional_int(reply_to_author_id))


def optional_int(value: IdLike | None) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    expires_in: int
    refresh_token: str | None = None
