"""Posting, reading one post, and deleting. Fan-out happens downstream of the table's stream."""

from __future__ import annotations

import dataclasses

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from timeline import clock, ids
from timeline.errors import Conflict, Forbidden, NotFound, Unprocessable
from timeline.records import Tweet, User
from timeline.store.tweets import IdTaken, NotAuthor, TweetStore
from timeline.text import check_post_text

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


class Posting:
    def __init__(self, tweets: TweetStore, idempotency_store: BasePersistenceLayer, entry_ttl_seconds: int):
        self._tweets, self._entry_ttl_seconds = tweets, entry_ttl_seconds
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath="[author, key]",
            payload_validation_jmespath="body",
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        )
        self._create_once = idempotent_function(
            data_keyword_argument="request", persistence_store=idempotency_store,
            config=self.idempotency_config, key_prefix="post_tweet",
        )(self._create_from_request)

    def post(self, author: User, text: str, reply_to_id: int | None = None,
             idempotency_key: str | None = None) -> Tweet:
        """Create a post. With an idempotency key, a retried request (same author, same key,
        same body) returns the post it created the first time instead of a second one."""
        if idempotency_key is None:
            return self._create(author.user_id, author.celebrity, text, reply_to_id)
        request = {"author": str(author.user_id), "key": idempotency_key,
                   "body": {"text": text, "reply_to_id": reply_to_id},
                   "celebrity": author.celebrity}
        try:
            stored = self._create_once(request=request)
        except IdempotencyValidationError:
            raise Unprocessable("this Idempotency-Key was already used with a different request",
                                code="idempotency_key_reused") from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly",
                           code="idempotency_in_progress") from None
        return Tweet(**{**stored, "media_keys": tuple(stored.get("media_keys") or ())})

    def _create_from_request(self, request: dict) -> dict:
        body = request["body"]
        tweet = self._create(int(request["author"]), bool(request["celebrity"]), body["text"], body["reply_to_id"])
        return dataclasses.asdict(tweet)

    def _create(self, author_id: int, celebrity: bool, text: str, reply_to_id: int | None) -> Tweet:
        try:
            text = check_post_text(text)
        except ValueError as exc:
            raise Unprocessable(str(exc), code="invalid_text") from None
        reply_to_author_id = None
        if reply_to_id is not None:
            parent = self._tweets.get(reply_to_id)
            if parent is None:
                raise Unprocessable(f"reply_to_id {reply_to_id} does not exist", code="reply_target_missing")
            reply_to_author_id = parent.author_id
        for _ in range(3):  # a fresh id if two id generators collided
            tweet_id = ids.new_id()
            tweet = Tweet(tweet_id=tweet_id, author_id=author_id, text=text,
                          created_at=ids.timestamp_ms(tweet_id), reply_to_id=reply_to_id,
                          reply_to_author_id=reply_to_author_id,
                          fanout=not celebrity)  # celebrities are merged at read time
            try:
                self._tweets.put_new(tweet, entry_expires_at=clock.now_s() + self._entry_ttl_seconds)
                return tweet
            except IdTaken:
                continue
        raise RuntimeError("could not mint a unique post id")

    def get(self, tweet_id: int) -> Tweet:
        tweet = self._tweets.get(tweet_id)
        if tweet is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        return tweet

    def delete(self, caller_id: int, tweet_id: int) -> None:
        tweet = self.get(tweet_id)
        if tweet.author_id != caller_id:
            raise Forbidden("only the author can delete a post", code="not_author")
        try:
            if not self._tweets.delete(tweet_id, caller_id):
                raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        except NotAuthor:  # pragma: no cover - ids never change author
            raise Forbidden("only the author can delete a post", code="not_author") from None
