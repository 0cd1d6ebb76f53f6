"""Posts in TweetsTable; the ByAuthor index serves user timelines and the celebrity merge."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError

from timeline import clock
from timeline.records import READY, Attachment, Entry, Tweet, optional_int
from timeline.store.batching import BatchWriter
from timeline.store.engagement import REPLIED_BY, REPOSTED_BY, engagement_edge
from timeline.store.rate_limits import Limited, Window
from timeline.store.tables import (
    THREAD_SHARDS,
    AttachmentMap,
    EdgeModel,
    MediaModel,
    PostKeyModel,
    TweetModel,
    cancellation_codes,
    padded,
    thread_key,
    thread_of,
)
from timeline.store.timelines import entry
from timeline.store.transactions import Transaction

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="threads")

REPOST = "repost#"  # GraphTable edge in the reposter's partition: one repost per post and account


def engagement_of(tweet: Tweet) -> EdgeModel | None:
    """The engagement edge a repost or a reply counts by, in a partition of the post it shares
    or answers (store/engagement.py); None for a plain post."""
    if tweet.repost_of_id is not None:
        edge = engagement_edge(REPOSTED_BY, tweet.repost_of_id, tweet.author_id)
    elif tweet.reply_to_id is not None:
        edge = engagement_edge(REPLIED_BY, tweet.reply_to_id, tweet.tweet_id)
    else:
        return None
    edge.other_id, edge.created_at = tweet.tweet_id, tweet.created_at
    return edge


class IdTaken(Exception):
    """Another post already has this id (two generators collided): mint a new one."""


class NotAuthor(Exception):
    pass


def to_tweet(m: TweetModel) -> Tweet:
    return Tweet(
        tweet_id=int(m.tweet_id), author_id=int(m.author_id), text=m.text, created_at=int(m.created_at),
        reply_to_id=optional_int(m.reply_to_id), reply_to_author_id=optional_int(m.reply_to_author_id),
        media=tuple(Attachment.of(a.as_dict()) for a in (m.media or ())),  # type: ignore[no-untyped-call]  # pynamodb
        fanout=bool(m.fanout),
        repost_of_id=optional_int(m.repost_of_id), repost_of_author_id=optional_int(m.repost_of_author_id),
    )


def index_entry(m: TweetModel) -> Entry:
    """An entry from a ByAuthor index item (keys plus the projected entry attributes)."""
    return Entry.of_row(m.tweet_id, m.author_id, repost_of_id=m.repost_of_id,
                        repost_of_author_id=m.repost_of_author_id, reply_to_id=m.reply_to_id,
                        reply_to_author_id=m.reply_to_author_id)


def from_image(image: dict[str, Any]) -> Tweet:
    """A Tweet from a stream record's NewImage/OldImage (DynamoDB JSON), read by the model."""
    return to_tweet(TweetModel.from_raw_data(image))


def correlation_of(image: dict[str, Any]) -> str | None:
    """The correlation id of the request that wrote a stream record's image, if it kept one."""
    return (image.get("correlation_id") or {}).get("S")


class MediaUnavailable(Exception):
    """An attached media item stopped being the author's ready, unattached upload between the
    post's check and its write (another post took it)."""

    def __init__(self, media_id: int):
        super().__init__(media_id)
        self.media_id = media_id


class AlreadyReposted(Exception):
    def __init__(self, repost_id: int):
        super().__init__(repost_id)
        self.repost_id = repost_id


@dataclass(frozen=True)
class KeyClaim:
    """An Idempotency-Key to claim with a post: (author, key) -> the post, until `expires_at`."""
    author_id: int
    key: str
    request_hash: str
    expires_at: int  # epoch seconds


@dataclass(frozen=True)
class ClaimedKey:
    """An Idempotency-Key already held by a post."""
    post_id: int
    request_hash: str


class KeyUsed(Exception):
    """The post's Idempotency-Key is held by a post (its own request's, or another body's)."""

    def __init__(self, held: ClaimedKey):
        super().__init__(held.post_id)
        self.held = held


class TweetStore:
    def __init__(self, connection: Connection, batch_writer: BatchWriter | None = None):
        self._connection = connection
        self._batch = batch_writer

    @staticmethod
    def _model(tweet: Tweet, correlation_id: str | None = None) -> TweetModel:
        return TweetModel(
            tweet.tweet_id, author_id=tweet.author_id, text=tweet.text, created_at=tweet.created_at,
            reply_to_id=tweet.reply_to_id, reply_to_author_id=tweet.reply_to_author_id,
            media=[AttachmentMap(**dataclasses.asdict(a))  # type: ignore[no-untyped-call]  # pynamodb: untyped
                   for a in tweet.media] or None,
            fanout=tweet.fanout,
            repost_of_id=tweet.repost_of_id, repost_of_author_id=tweet.repost_of_author_id,
            correlation_id=correlation_id,
            thread=thread_of(tweet.reply_to_id, tweet.tweet_id) if tweet.reply_to_id is not None else None,
        )

    def put_new(self, tweet: Tweet, *, entry_expires_at: int, window: Window | None = None,
                correlation_id: str | None = None, key: KeyClaim | None = None) -> None:
        """The post and its entry in its author's own home timeline, in one transaction: the
        author's next home read shows it without waiting for the fan-out (read-your-writes),
        and neither exists without the other. A repost also claims its (reposter, post) pair:
        AlreadyReposted names the repost that holds it. A post with media claims each one (the
        author's, ready, on no other post): MediaUnavailable names one that is not. With a rate
        limit `window`, the post counts against it in the same transaction (Limited if full).
        With an Idempotency-Key, the post claims it in the same transaction (KeyUsed names the
        post that holds it), so a retry finds the post whatever happened after the commit.
        The row keeps `correlation_id` for the stream (see timeline.observability).

        A transaction whose commit went through but whose answer was lost, sent again where
        nothing honours its ClientRequestToken (a crash and a replay, an emulator), fails its
        own "does not exist" conditions: finding its own row, it is a success.

        A repost or a reply also writes its engagement edge (engagement_of), from which the
        graph stream counts the post's reposts or replies."""
        try:
            with Transaction(connection=self._connection) as tx:
                tx.save(self._model(tweet, correlation_id), condition=TweetModel.tweet_id.does_not_exist())
                tx.save(entry(tweet.author_id, tweet.as_entry(), entry_expires_at))
                if tweet.repost_of_id is not None:  # a repost
                    tx.save(EdgeModel(tweet.author_id, REPOST + padded(tweet.repost_of_id),
                                      other_id=tweet.tweet_id, created_at=tweet.created_at),
                            condition=EdgeModel.edge.does_not_exist())
                if (engaged := engagement_of(tweet)) is not None:
                    tx.save(engaged)
                if key is not None:
                    tx.save(PostKeyModel(PostKeyModel.key(key.author_id, key.key), post_id=tweet.tweet_id,
                                         request_hash=key.request_hash, expiration=key.expires_at),
                            condition=PostKeyModel.id.does_not_exist()
                            | (PostKeyModel.expiration < clock.now_s()))
                for attachment in tweet.media:
                    tx.update(MediaModel(attachment.media_id),
                              actions=[MediaModel.post_id.set(tweet.tweet_id), MediaModel.expires_at.remove()],
                              condition=(MediaModel.owner_id == tweet.author_id) & (MediaModel.status == READY)
                              & MediaModel.post_id.does_not_exist())
                if window is not None:
                    window.hit_within(tx)
        except TransactWriteError as exc:
            self._refused(tweet, window, key, exc)

    def _refused(self, tweet: Tweet, window: Window | None, key: KeyClaim | None, exc: TransactWriteError) -> None:
        """Why put_new's transaction was cancelled, as the exception its caller acts on (or
        nothing: it was this very post, committed before). pynamodb sends puts, then updates:
        post, entry, (repost claim), (key claim), media..., (window). What holds a claim is
        read, not inferred from which codes DynamoDB chose to report. (The engagement edge of
        a repost or a reply follows the repost claim, and has no condition.)"""
        failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
        if not any(failed):
            raise exc
        if failed[0]:
            if self.get(tweet.tweet_id, consistent=True) == tweet:
                return  # our own commit, whose answer was lost
            raise IdTaken(tweet.tweet_id) from exc
        if key is not None and (held := self.key_holder(key.author_id, key.key)) is not None:
            raise KeyUsed(held) from exc
        holder = self.repost_by(tweet.author_id, tweet.repost_of_id) if tweet.repost_of_id is not None else None
        if holder is not None:
            raise AlreadyReposted(holder) from exc
        position = 2 + tweet.is_repost + (engagement_of(tweet) is not None) + (key is not None)
        # strict=False: the cancellation reasons may stop short of the media (none of those failed then)
        for attachment, media_failed in zip(tweet.media, failed[position:position + len(tweet.media)], strict=False):
            if media_failed:
                raise MediaUnavailable(attachment.media_id) from exc
        if window is not None and failed[-1]:
            raise Limited(window.retry_after) from exc
        raise exc

    def key_holder(self, author_id: int, key: str) -> ClaimedKey | None:
        """The post holding the author's Idempotency-Key, if the claim has not expired (read
        consistently; DynamoDB's TTL deletes expired items late, so expiry is checked here)."""
        try:
            claim = PostKeyModel.get(PostKeyModel.key(author_id, key), consistent_read=True)
        except DoesNotExist:
            return None
        if claim.expiration < clock.now_s():
            return None
        return ClaimedKey(int(claim.post_id), claim.request_hash)

    def repost_by(self, reposter_id: int, original_id: int) -> int | None:
        """The id of the account's repost of a post, if it has one (read consistently)."""
        try:
            return int(EdgeModel.get(reposter_id, REPOST + padded(original_id), consistent_read=True,
                                     attributes_to_get=["other_id"]).other_id)
        except DoesNotExist:
            return None

    def delete_repost(self, reposter_id: int, original_id: int, window: Window | None = None) -> int | None:
        """Undo the account's repost of a post: the row and its claim together, counted
        against the rate-limit `window` in the same transaction (Limited if full). Returns the
        repost's id, or None if there was none. The row's REMOVE record takes its entries back."""
        for _ in range(3):
            repost_id = self.repost_by(reposter_id, original_id)
            if repost_id is None:
                return None
            try:
                with Transaction(connection=self._connection) as tx:
                    tx.delete(EdgeModel(reposter_id, REPOST + padded(original_id)),
                              condition=EdgeModel.other_id == repost_id)
                    tx.delete(TweetModel(repost_id))
                    tx.delete(engagement_edge(REPOSTED_BY, original_id, reposter_id))
                    if window is not None:
                        window.hit_within(tx)
                return repost_id
            except TransactWriteError as exc:
                codes = cancellation_codes(exc)
                if codes[:1] != ["ConditionalCheckFailed"]:
                    if window is not None and codes[-1:] == ["ConditionalCheckFailed"]:
                        raise Limited(window.retry_after) from exc
                    raise
        return None  # pragma: no cover - undone and redone three times while we looked

    def reposts_of(self, original_id: int, limit: int, after: int | None) -> tuple[list[Tweet], int | None]:
        """A page of the post's reposts (ByRepostOf), read whole for their reposters."""
        last_key = ({"tweet_id": {"N": str(after)}, "repost_of_id": {"N": str(original_id)}}
                    if after is not None else None)
        result = TweetModel.by_repost_of.query(original_id, limit=limit, page_size=limit,
                                               last_evaluated_key=last_key)
        ids = [int(m.tweet_id) for m in result]
        more = result.last_evaluated_key
        rows = self.get_many(ids)
        return [rows[i] for i in ids if i in rows], (int(more["tweet_id"]["N"]) if more else None)

    def remove_reposts(self, reposts: list[Tweet]) -> None:
        """Delete reposts (of a deleted post) and their claims; each row's REMOVE record takes
        its entries back."""
        assert self._batch is not None
        self._batch.delete(EdgeModel, [EdgeModel(r.author_id, REPOST + padded(r.repost_of_id)) for r in reposts
                                       if r.repost_of_id is not None])  # every one is a repost
        self._batch.delete(TweetModel, [TweetModel(r.tweet_id) for r in reposts])
        self._batch.delete(EdgeModel, [e for e in map(engagement_of, reposts) if e is not None])

    def get(self, tweet_id: int, *, consistent: bool = False) -> Tweet | None:
        try:
            return to_tweet(TweetModel.get(tweet_id, consistent_read=consistent))
        except DoesNotExist:
            return None

    def get_many(self, tweet_ids: Iterable[int], *, consistent: bool = False) -> dict[int, Tweet]:
        ids = set(tweet_ids)
        if not ids:
            return {}
        return {int(m.tweet_id): to_tweet(m) for m in TweetModel.batch_get(ids, consistent_read=consistent)}

    def existing(self, tweet_ids: Iterable[int]) -> set[int]:
        """Which of these posts still exist, read consistently: a writer that raced a delete
        checks after its write and takes back what it wrote for a post that is gone."""
        ids = set(tweet_ids)
        if not ids:
            return set()
        return {int(m.tweet_id) for m in TweetModel.batch_get(ids, consistent_read=True,
                                                               attributes_to_get=["tweet_id"])}

    def delete(self, tweet: Tweet) -> bool:
        """Delete a post if it exists and still belongs to its author, with a reply's
        engagement edge (its parent counts one reply fewer); False if it was already gone."""
        engaged = engagement_of(tweet)
        if engaged is None:
            try:
                TweetModel(tweet.tweet_id).delete(condition=TweetModel.author_id == tweet.author_id)
                return True
            except DeleteError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
        else:
            try:
                with Transaction(connection=self._connection) as tx:
                    tx.delete(TweetModel(tweet.tweet_id), condition=TweetModel.author_id == tweet.author_id)
                    tx.delete(engaged)
                return True
            except TransactWriteError as exc:
                if cancellation_codes(exc)[:1] != ["ConditionalCheckFailed"]:
                    raise
        if self.get(tweet.tweet_id) is None:
            return False
        raise NotAuthor(tweet.tweet_id)

    def entries_by_author(self, author_id: int, *, before: int | None, limit: int) -> list[Entry]:
        """Newest first: the account's posts and reposts strictly older than `before`, as
        timeline entries (from the index alone)."""
        condition = TweetModel.tweet_id < before if before is not None else None
        return [index_entry(m) for m in TweetModel.by_author.query(
            author_id, condition, scan_index_forward=False, limit=limit, page_size=limit)]

    def replies_after(self, post_id: int, *, after: int | None, limit: int) -> list[Entry]:
        """Oldest first: up to `limit` of the post's direct replies newer than `after`, as
        entries (from the ByThread index alone), from each of its THREAD_SHARDS partitions in
        parallel, merged. Fewer than `limit` means there are no more."""
        def shard(k: int) -> list[Entry]:
            condition = TweetModel.tweet_id > after if after is not None else None
            return [Entry.of_row(m.tweet_id, m.author_id, reply_to_id=m.reply_to_id,
                                 reply_to_author_id=m.reply_to_author_id)
                    for m in TweetModel.by_thread.query(thread_key(post_id, k), condition, limit=limit,
                                                         page_size=limit)]
        merged = heapq.merge(*_pool.map(shard, range(THREAD_SHARDS)), key=lambda e: e.tweet_id)
        return list(itertools.islice(merged, limit))
