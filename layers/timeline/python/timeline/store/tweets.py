"""Posts in TweetsTable; the ByAuthor index serves user timelines and the celebrity merge."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from timeline.records import Tweet
from timeline.store.tables import TweetModel, cancellation_codes
from timeline.store.timelines import entry


class IdTaken(Exception):
    """Another post already has this id (two generators collided): mint a new one."""


class NotAuthor(Exception):
    pass


def to_tweet(m: TweetModel) -> Tweet:
    return Tweet(
        tweet_id=int(m.tweet_id), author_id=int(m.author_id), text=m.text, created_at=int(m.created_at),
        reply_to_id=int(m.reply_to_id) if m.reply_to_id is not None else None,
        reply_to_author_id=int(m.reply_to_author_id) if m.reply_to_author_id is not None else None,
        media_keys=tuple(m.media_keys or ()), fanout=bool(m.fanout),
    )


def from_image(image: dict) -> Tweet:
    """A Tweet from a stream record's NewImage/OldImage (DynamoDB JSON), read by the model."""
    return to_tweet(TweetModel.from_raw_data(image))


class TweetStore:
    def __init__(self, connection: Connection):
        self._connection = connection

    def put_new(self, tweet: Tweet, *, entry_expires_at: int) -> None:
        """The post and its entry in its author's own home timeline, in one transaction: the
        author's next home read shows it without waiting for the fan-out (read-your-writes),
        and neither exists without the other."""
        model = TweetModel(
            tweet.tweet_id, author_id=tweet.author_id, text=tweet.text, created_at=tweet.created_at,
            reply_to_id=tweet.reply_to_id, reply_to_author_id=tweet.reply_to_author_id,
            media_keys=list(tweet.media_keys) or None, fanout=tweet.fanout,
        )
        own = entry(tweet.author_id, tweet.tweet_id, tweet.author_id, tweet.author_id, entry_expires_at)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(model, condition=TweetModel.tweet_id.does_not_exist())
                tx.save(own)
        except TransactWriteError as exc:
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
                raise IdTaken(tweet.tweet_id) from exc
            raise

    def get(self, tweet_id: int) -> Tweet | None:
        try:
            return to_tweet(TweetModel.get(tweet_id))
        except DoesNotExist:
            return None

    def get_many(self, tweet_ids: Iterable[int]) -> dict[int, Tweet]:
        ids = set(tweet_ids)
        if not ids:
            return {}
        return {int(m.tweet_id): to_tweet(m) for m in TweetModel.batch_get(ids)}

    def existing(self, tweet_ids: Iterable[int]) -> set[int]:
        """Which of these posts still exist, read consistently: a writer that raced a delete
        checks after its write and takes back what it wrote for a post that is gone."""
        ids = set(tweet_ids)
        if not ids:
            return set()
        return {int(m.tweet_id) for m in TweetModel.batch_get(ids, consistent_read=True,
                                                               attributes_to_get=["tweet_id"])}

    def delete(self, tweet_id: int, author_id: int) -> bool:
        """Delete if it exists and belongs to author_id; False if it was already gone."""
        try:
            TweetModel(tweet_id).delete(condition=TweetModel.author_id == author_id)
            return True
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                if self.get(tweet_id) is None:
                    return False
                raise NotAuthor(tweet_id) from exc
            raise

    def ids_by_author(self, author_id: int, *, before: int | None, limit: int) -> list[int]:
        """Newest first: the author's post ids strictly older than `before`."""
        condition = TweetModel.tweet_id < before if before is not None else None
        return [int(m.tweet_id) for m in TweetModel.by_author.query(
            author_id, condition, scan_index_forward=False, limit=limit, page_size=limit)]
