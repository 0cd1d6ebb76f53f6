"""Posting, reposting, reading one post, and deleting. Fan-out happens downstream of the
table's stream: a repost is a row of its own, fanned out like a post.

A post with an Idempotency-Key claims the key in its own transaction ((author, key) -> the
post, for 24 hours, store/tweets.py:KeyClaim). powertools' idempotency utility was used here
before; it keeps its record apart from the work (an in-progress record, then the result), so
a function that died after the post committed but before the record was completed left a key
whose retry, once the in-progress record lapsed, posted again. Only a claim in the post's own
transaction makes "one post per key" hold whatever fails after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from timeline import clock, ids
from timeline.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests, Unprocessable
from timeline.observability import correlation_id, metrics
from timeline.records import Tweet, User
from timeline.service.media import MediaLibrary
from timeline.service.social import action_window, counted_action
from timeline.service.visibility import Visibility
from timeline.store.graph import GraphStore
from timeline.store.rate_limits import Limited, Window
from timeline.store.tweets import (
    AlreadyReposted,
    IdTaken,
    KeyClaim,
    KeyUsed,
    MediaUnavailable,
    NotAuthor,
    TweetStore,
)
from timeline.text import check_post_text

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


def request_hash(text: str, reply_to_id: int | None, media_ids: tuple[int, ...]) -> str:
    """The digest of a post request's body, as sent: the same key with another body is refused."""
    body = {"text": text, "reply_to_id": None if reply_to_id is None else str(reply_to_id),
            "media_ids": [str(m) for m in media_ids]}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Posting:
    def __init__(self, tweets: TweetStore, graph: GraphStore, media: MediaLibrary, entry_ttl_seconds: int,
                 posts_per_minute: int, actions_per_minute: int = 60):
        self._tweets, self._graph, self._media, self._entry_ttl_seconds = tweets, graph, media, entry_ttl_seconds
        self._posts_per_minute, self._actions_per_minute = posts_per_minute, actions_per_minute

    def post(self, author: User, text: str, reply_to_id: int | None = None,
             idempotency_key: str | None = None, media_ids: tuple[int, ...] = ()) -> Tweet:
        """Create a post. With an idempotency key, a retried request (same author, same key,
        same body, within 24 hours) returns the post it created the first time instead of a
        second one; the same key with another body is a 422. Whatever refuses a keyed
        request (its media attached by now, the rate window full) first asks whether the key
        already made the post: only then is a refusal the answer."""
        if idempotency_key is None:
            return self._create(author.user_id, author.celebrity, text, reply_to_id, media_ids)
        key = KeyClaim(author.user_id, idempotency_key, request_hash(text, reply_to_id, media_ids),
                       clock.now_s() + IDEMPOTENCY_WINDOW_SECONDS)
        try:
            return self._create(author.user_id, author.celebrity, text, reply_to_id, media_ids, key)
        except KeyUsed as used:
            return self._made_by(used.held.post_id, used.held.request_hash, key)
        except DomainError:
            held = self._tweets.key_holder(author.user_id, idempotency_key)
            if held is None:
                raise
            return self._made_by(held.post_id, held.request_hash, key)

    def _made_by(self, post_id: int, held_hash: str, key: KeyClaim) -> Tweet:
        """The answer to a request whose key a post already holds."""
        if held_hash != key.request_hash:
            raise Unprocessable("this Idempotency-Key was already used with a different request",
                                code="idempotency_key_reused")
        tweet = self._tweets.get(post_id, consistent=True)
        if tweet is None:
            raise Conflict(f"this Idempotency-Key made post {post_id}, which has since been deleted; "
                           "use a new key to post again", code="idempotency_key_used",
                           details={"id": str(post_id)})
        return tweet

    def _create(self, author_id: int, celebrity: bool, text: str, reply_to_id: int | None,
                media_ids: tuple[int, ...] = (), key: KeyClaim | None = None) -> Tweet:
        try:
            text = check_post_text(text, media=bool(media_ids))
        except ValueError as exc:
            raise Unprocessable(str(exc), code="invalid_text") from None
        media = self._media.attachable(author_id, media_ids)
        reply_to_author_id = None
        if reply_to_id is not None:
            parent = self._tweets.get(reply_to_id)
            if parent is None:
                raise Unprocessable(f"reply_to_id {reply_to_id} does not exist", code="reply_target_missing")
            parent = self._shown(parent)  # answering a repost answers the post it shows
            reply_to_id = parent.tweet_id
            self._not_blocked(author_id, parent.author_id)
            reply_to_author_id = parent.author_id
        tweet = self._mint(lambda tweet_id: Tweet(
            tweet_id=tweet_id, author_id=author_id, text=text, created_at=ids.timestamp_ms(tweet_id),
            reply_to_id=reply_to_id, reply_to_author_id=reply_to_author_id, media=media,
            fanout=not celebrity), key)  # celebrities are merged at read time
        # Counted where the row is written: a replayed Idempotency-Key never gets here.
        metrics.add_metric(name="PostsCreated", unit=MetricUnit.Count, value=1)
        return tweet

    def _mint(self, make: Callable[[int], Tweet], key: KeyClaim | None = None) -> Tweet:
        for _ in range(3):  # a fresh id if two id generators collided
            tweet = make(ids.new_id())
            window = Window.now("post", str(tweet.author_id), self._posts_per_minute)
            try:
                self._tweets.put_new(tweet, entry_expires_at=clock.now_s() + self._entry_ttl_seconds, window=window,
                                     correlation_id=correlation_id(), key=key)
                return tweet
            except IdTaken:
                continue
            except Limited as exc:
                raise TooManyRequests(f"you can post {self._posts_per_minute} times a minute; "
                                      f"try again in {exc.retry_after} s", code="rate_limited",
                                      retry_after=exc.retry_after) from None
            except MediaUnavailable as exc:  # taken by a post that raced this one
                raise Conflict(f"media {exc.media_id} is already attached to another post", code="media_in_use",
                               details={"media_id": str(exc.media_id)}) from None
        raise RuntimeError("could not mint a unique post id")

    def _not_blocked(self, caller_id: int, author_id: int) -> None:
        if author_id != caller_id and self._graph.blocked_by(caller_id, author_id):
            raise Forbidden("the author of this post blocks you", code="blocked")

    # ------------------------------------------------------------------ reposts
    def repost(self, reposter: User, tweet_id: int) -> tuple[Tweet, Tweet, bool]:
        """Repost (idempotent): (the repost, the post it shows, whether it is new). Reposting
        a repost reposts the post it shows. The repost is a row of its own, so it reaches the
        reposter's followers through the same fan-out as a post (or, from a celebrity, the
        same read-time merge)."""
        original = self._shown(self.get(tweet_id))
        self._not_blocked(reposter.user_id, original.author_id)
        try:
            repost = self._mint(lambda repost_id: Tweet(
                tweet_id=repost_id, author_id=reposter.user_id, text="", created_at=ids.timestamp_ms(repost_id),
                fanout=not reposter.celebrity, repost_of_id=original.tweet_id,
                repost_of_author_id=original.author_id))
            return repost, original, True
        except AlreadyReposted as exc:
            existing = self._tweets.get(exc.repost_id)
            if existing is None:  # pragma: no cover - undone between the claim and this read
                raise Conflict("this repost is being undone; try again", code="repost_changing") from None
            return existing, original, False

    def unrepost(self, reposter_id: int, tweet_id: int) -> bool:
        """Undo the caller's repost of a post (idempotent): True if there was one. An undo
        counts against the caller's action window (a repost counts as a post)."""
        original = self._tweets.get(tweet_id)
        if original is not None and original.repost_of_id is not None:  # a repost: undo the caller's of its post
            tweet_id = original.repost_of_id
        with counted_action(self._actions_per_minute):
            removed = self._tweets.delete_repost(
                reposter_id, tweet_id, window=action_window(reposter_id, self._actions_per_minute))
        if removed is None and original is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        return removed is not None

    def get(self, tweet_id: int) -> Tweet:
        tweet = self._tweets.get(tweet_id)
        if tweet is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        return tweet

    def _shown(self, tweet: Tweet) -> Tweet:
        """The post a row shows: itself, or for a repost the post it shares (404 if gone)."""
        return self.get(tweet.repost_of_id) if tweet.repost_of_id is not None else tweet

    def view(self, caller_id: int, tweet_id: int) -> tuple[Tweet, Tweet | None]:
        """A post as a reader sees it: (the post shown, the repost that shares it or None);
        403 when a block stands between the reader and its author or reposter (either way)."""
        row = self.get(tweet_id)
        tweet = self._shown(row)
        repost = row if row.is_repost else None
        Visibility.of_reader(self._graph, caller_id).require_post(tweet, repost)
        return tweet, repost

    def delete(self, caller_id: int, tweet_id: int) -> None:
        tweet = self.get(tweet_id)
        if tweet.author_id != caller_id:
            raise Forbidden("only the author can delete a post", code="not_author")
        if tweet.repost_of_id is not None:  # a repost
            self._tweets.delete_repost(caller_id, tweet.repost_of_id)
            return
        try:
            if not self._tweets.delete(tweet):
                raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        except NotAuthor:  # pragma: no cover - ids never change author
            raise Forbidden("only the author can delete a post", code="not_author") from None
