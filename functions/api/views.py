"""Domain records -> response models."""

from __future__ import annotations

from datetime import datetime, timezone

from schemas import AuthorView, TweetView, UserView
from timeline.records import Tweet, User


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def user_view(user: User) -> UserView:
    return UserView(id=str(user.user_id), handle=user.handle, display_name=user.display_name,
                    followers_count=user.followers_count, following_count=user.following_count,
                    created_at=iso(user.created_at), celebrity=user.celebrity)


def tweet_view(tweet: Tweet, author: User) -> TweetView:
    return TweetView(
        id=str(tweet.tweet_id), text=tweet.text, created_at=iso(tweet.created_at),
        author=AuthorView(id=str(author.user_id), handle=author.handle, display_name=author.display_name),
        reply_to_id=str(tweet.reply_to_id) if tweet.reply_to_id is not None else None,
    )
