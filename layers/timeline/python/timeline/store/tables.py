"""pynamodb models for the four tables in template.yaml.

Table names are not known at import time (CloudFormation names them), so `bind()` points
the models at the tables named in Settings; every function calls it once at cold start.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from timeline.settings import Settings

ID_WIDTH = 20  # digits of the largest 64-bit id: zero-padding makes string order numeric order


def padded(value: int) -> str:
    return str(value).zfill(ID_WIDTH)


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in the order they were written."""
    return [r.code if r else None for r in (exc.cancellation_reasons or [])]


class _Base(Model):
    class Meta:
        table_name = "unbound"
        region: str | None = None


class UserModel(_Base):
    """A profile. pk = "USER#<id>"."""

    class Meta(_Base.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    user_id = NumberAttribute()
    handle = UnicodeAttribute()
    display_name = UnicodeAttribute()
    followers_count = NumberAttribute(default=0)
    following_count = NumberAttribute(default=0)
    created_at = NumberAttribute()  # epoch ms
    last_seen_at = NumberAttribute(null=True)  # epoch ms, touched by home timeline reads
    stamped_at = NumberAttribute(null=True)  # epoch ms, when the follower edges were last stamped
    rebuilding = NumberAttribute(null=True)  # epoch ms of the rebuild in progress, if any
    celebrity = BooleanAttribute(default=False)
    celebrity_epoch = NumberAttribute(default=0)
    celebrity_flipped_at = NumberAttribute(null=True)  # epoch ms of the latest promotion or demotion
    # A celebrity with at least CopyThreshold followers: its posts are also copied to shards
    # (store/celebrity_copies.py), and its followers' celebrity edges say so. Cleared by a demotion.
    copied = BooleanAttribute(null=True)
    # Per graph partition of the account (its own, its shards), the stream's sequence number of
    # the last follow or unfollow counted into followers_count by the stream (UserStore.tally:
    # the storm path of a celebrity's follows).
    tallied = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]  # pynamodb: untyped __init__
    # Epoch ms of the latest unfollow of this account by anyone, set by the unfollow's own
    # transaction (or, for an account unfollowed as a celebrity, by the stream's tally, within
    # a second or so); 0: none since the profile was made. Absent (no default, on purpose) on a
    # profile older than the attribute: unknown, so fan-out still reads the tombstones.
    unfollowed_at = NumberAttribute(null=True)
    # Epoch ms of the sign-up that claimed the handle, while the account has no login yet
    # (service.accounts.Accounts.sign_up); removed once the login is made. Absent: complete.
    pending = NumberAttribute(null=True)

    @staticmethod
    def key(user_id: int) -> str:
        return f"USER#{user_id}"


class HandleClaimModel(_Base):
    """Makes handles unique, case-insensitively. pk = "HANDLE#<lower-case handle>"."""

    class Meta(_Base.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    user_id = NumberAttribute()

    @staticmethod
    def key(handle: str) -> str:
        return f"HANDLE#{handle.casefold()}"


# What a home timeline entry needs beyond the keys (records.Tweet.as_entry): the celebrity
# merge and follow backfills build entries from the index alone, never reading the posts.
ENTRY_ATTRIBUTES = ["repost_of_id", "repost_of_author_id", "reply_to_id", "reply_to_author_id"]


# pynamodb leaves Index.__init_subclass__ untyped.
class ByAuthorIndex(GlobalSecondaryIndex["TweetModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "ByAuthor"
        projection = IncludeProjection(ENTRY_ATTRIBUTES)

    author_id = NumberAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)


class ByRepostOfIndex(GlobalSecondaryIndex["TweetModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only reposts have repost_of_id. Deleting a post finds its reposts here."""

    class Meta:
        index_name = "ByRepostOf"
        projection = KeysOnlyProjection()

    repost_of_id = NumberAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)


# A post's direct replies are spread over THREAD_SHARDS partitions of the ByThread index, by
# the reply's id: replies to a viral post arrive faster than one partition takes writes
# (docs/hot-keys.md); a page of replies reads every shard in parallel and merges them.
THREAD_SHARDS = 8


def thread_key(reply_to_id: int, shard: int) -> str:
    return f"{reply_to_id}#{shard}"


def thread_of(reply_to_id: int, reply_id: int) -> str:
    """The ByThread partition a reply lives in."""
    return thread_key(reply_to_id, reply_id % THREAD_SHARDS)


class ByThreadIndex(GlobalSecondaryIndex["TweetModel"]):  # type: ignore[no-untyped-call]
    """Sparse (replies only): a post's direct replies, oldest first, over THREAD_SHARDS
    partitions. It carries what visibility needs before a reply is read."""

    class Meta:
        index_name = "ByThread"
        projection = IncludeProjection(["author_id", "reply_to_id", "reply_to_author_id"])

    thread = UnicodeAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)


class AttachmentMap(MapAttribute[str, Any]):
    """records.Attachment, as a post stores it."""

    media_id = NumberAttribute()
    content_type = UnicodeAttribute()
    width = NumberAttribute()
    height = NumberAttribute()
    preview_width = NumberAttribute()
    preview_height = NumberAttribute()
    ready_at = NumberAttribute()


class TweetModel(_Base):
    class Meta(_Base.Meta):
        pass

    tweet_id = NumberAttribute(hash_key=True)
    author_id = NumberAttribute()
    text = UnicodeAttribute()
    created_at = NumberAttribute()  # epoch ms
    reply_to_id = NumberAttribute(null=True)
    reply_to_author_id = NumberAttribute(null=True)
    media = ListAttribute(of=AttachmentMap, null=True)
    # Decided at post time: False when the author was a celebrity (merged at read instead).
    fanout = BooleanAttribute(default=True)
    repost_of_id = NumberAttribute(null=True)
    repost_of_author_id = NumberAttribute(null=True)
    # The request that made the row (API Gateway's request id): the stream carries it to the
    # fan-out's log lines. Never projected into an index, never in a response.
    correlation_id = UnicodeAttribute(null=True)
    thread = UnicodeAttribute(null=True)  # replies: their ByThread partition (thread_of)
    by_author = ByAuthorIndex()
    by_repost_of = ByRepostOfIndex()
    by_thread = ByThreadIndex()


class EdgeModel(_Base):
    """One direction of a relationship, in the owner's partition.

    edge = "following#<id>" | "follower#<id>" | "home#celebrity#<id>" | "home#block#<id>" |
    "home#mute#<id>" | "home#blocked_by#<id>" | "unfollowed#<id>" | "repost#<post id>" (ids
    zero-padded). The "home#" edges are everything a home timeline read needs from the graph,
    in one Query: the celebrities it must merge (repeating the following edges of celebrity
    accounts, so the read never walks the whole following list) and the accounts it hides.
    A "blocked_by" edge mirrors a block in the blocked account's partition, so a follow or a
    user-timeline read checks it in the caller's own partition, and the blocked account's
    home read hides the blocker. A "repost" edge claims the
    owner's one repost of a post (other_id is the repost's id). A post's partitions hold its
    engagement edges ("liked_by#<id>", "reposted_by#<id>", "replied_by#<reply id>", other_id the
    post or the reply/repost), its "counts" item and, once hot, its counts replicas
    (store/engagement.py). A follower edge carries when its follower was last stamped active (`seen_at`), so
    fan-out skips inactive readers from the page it reads anyway. An unfollowed edge is a
    tombstone in the followee's partition (expiring): a fan-out message planned before the
    unfollow drops that reader after its write.
    """

    class Meta(_Base.Meta):
        pass

    user_id = NumberAttribute(hash_key=True)
    edge = UnicodeAttribute(range_key=True)
    other_id = NumberAttribute()
    created_at = NumberAttribute()
    seen_at = NumberAttribute(null=True)  # follower edges: epoch ms the follower was stamped active
    # following, follower and celebrity edges: the follower chose not to see this account's reposts
    no_reposts = BooleanAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # tombstones: epoch seconds, the table's TTL attribute
    # follower edges (+1) and tombstones (-1) written without touching the followee's profile
    # (a celebrity's follows): the graph stream counts them into followers_count (UserStore.tally)
    tally = NumberAttribute(null=True)
    # celebrity edges: the celebrity is copied, so its posts are merged from the reader's shard
    # of its copies (store/celebrity_copies.py) rather than from the author index
    copied = BooleanAttribute(null=True)
    # A post's counts item (store/engagement.py): what the graph stream counted of its
    # engagement edges, and per engagement partition the sequence number of the last change
    # counted (each counted exactly once, however often the stream delivers it).
    replies = NumberAttribute(null=True)
    reposts = NumberAttribute(null=True)
    likes = NumberAttribute(null=True)
    marks = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]  # pynamodb: untyped __init__
    version = NumberAttribute(null=True)  # counts items: bumped by every count; replicas keep the newest
    replicas = NumberAttribute(null=True)  # a hot post's counts item: its counts are also in this many replicas
    # A like's edges: the post is a celebrity's (merged at read, read by many): its counts have
    # replicas from the first count.
    celebrity_post = BooleanAttribute(null=True)


class TimelineEntryModel(_Base):
    class Meta(_Base.Meta):
        pass

    owner_id = NumberAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)
    author_id = NumberAttribute()
    # The followed account the entry arrived through (the author, or later a reposter):
    # unfollowing it removes exactly the entries it brought.
    via_id = NumberAttribute(null=True)
    original_id = NumberAttribute(null=True)  # a repost's entry: the post it shows (else the entry's own)
    reply_to_id = NumberAttribute(null=True)
    reply_to_author_id = NumberAttribute(null=True)
    expires_at = NumberAttribute()  # epoch seconds, the table's TTL attribute


class CelebrityCopyModel(_Base):
    """A celebrity's post as a page shows it, written to each of the account's shard
    partitions (CelebrityCopiesTable): shard = "<author id>#<k>". A reader merges the shard its
    id picks, so every reader of a celebrity is spread over CelebrityCopyShards partitions and
    none reads the post, the post it reposts or their authors' profiles (the copy carries them;
    handles and display names never change). tweet_id 0 is the shard's floor marker: present
    while the shard holds the account's whole history (store/celebrity_copies.py)."""

    class Meta(_Base.Meta):
        pass

    shard = UnicodeAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)
    body = UnicodeAttribute(null=True)  # compact JSON: the post, its original, their authors


class MediaModel(_Base):
    """records.Media: an upload's owner, state and, once checked, its dimensions."""

    class Meta(_Base.Meta):
        pass

    media_id = NumberAttribute(hash_key=True)
    owner_id = NumberAttribute()
    content_type = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    reason = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    preview_width = NumberAttribute(null=True)
    preview_height = NumberAttribute(null=True)
    ready_at = NumberAttribute(null=True)
    post_id = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # epoch seconds, the table's TTL; removed once attached
    correlation_id = UnicodeAttribute(null=True)  # the upload request's: the processor logs with it
    # While a media_processor run checks the upload (status "processing"): when it claimed it
    # (epoch ms) and its claim token. Removed when the run settles or gives the claim back.
    claimed_at = NumberAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True)


class RateLimitModel(_Base):
    """Hits in one fixed window: pk = "<what>#<who>#<window number>"."""

    class Meta(_Base.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute()
    expires_at = NumberAttribute()  # epoch seconds, the table's TTL


class PostKeyModel(_Base):
    """An Idempotency-Key claimed by the post it made, written in the post's own transaction
    (IdempotencyTable): id = "post#<author id>#<key>"."""

    class Meta(_Base.Meta):
        pass

    id = UnicodeAttribute(hash_key=True)
    post_id = NumberAttribute()
    request_hash = UnicodeAttribute()  # the request body's digest: the same key with another body is refused
    expiration = NumberAttribute()  # epoch seconds, the table's TTL; past it the key is free again

    @staticmethod
    def key(author_id: int, key: str) -> str:
        return f"post#{author_id}#{key}"


def bind(settings: Settings, region: str, session: botocore.session.Session | None = None) -> None:
    """Point the models at their tables, and make their clients now, on this thread, from
    one botocore session (share_client_session): `session`, or a new one."""
    session = session or botocore.session.get_session()
    for model, table in (
        (UserModel, settings.users_table),
        (HandleClaimModel, settings.users_table),
        (TweetModel, settings.tweets_table),
        (EdgeModel, settings.graph_table),
        (TimelineEntryModel, settings.timelines_table),
        (CelebrityCopyModel, settings.celebrity_copies_table),
        (MediaModel, settings.media_table),
        (RateLimitModel, settings.rate_limits_table),
        (PostKeyModel, settings.idempotency_table),
    ):
        model.Meta.table_name = table
        model.Meta.region = region
        share_client_session(model._get_connection().connection, session)


def share_client_session(connection: Connection, session: botocore.session.Session) -> None:
    """Make a pynamodb connection's botocore client now, from `session`.

    pynamodb makes a connection's client on its first call, from a new botocore session of
    the calling thread's own: about 10 MB of loaded service data and 50 ms each, per model.
    A batch's records run on many threads (timeline.record_batches), and every thread that
    raced to a first call built one: the fan-out workers tripled in size (130 -> 340 MB of
    their 512). Made here, on the cold start's thread, from one shared session, every
    connection's client costs about 4 ms and little memory, and every thread uses it
    (botocore clients are thread-safe; only their making is not, which is why pynamodb keeps
    sessions per thread). pynamodb has no public way to pass a session: its thread-local
    one is set for this thread, which is the one making the client."""
    connection._local.session = session
    connection.client  # noqa: B018 - the property makes and keeps the client
