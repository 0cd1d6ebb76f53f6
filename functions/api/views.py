"""Domain records -> response models."""

from __future__ import annotations

from datetime import datetime, timezone

from schemas import AuthorView, RepostView, TweetView, UserView
from timeline.records import Tweet, User


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def user_view(user: User) -> UserView:
    return UserView(id=str(user.user_id), handle=user.handle, display_name=user.display_name,
                    followers_count=user.followers_count, following_count=user.following_count,
                    created_at=iso(user.created_at), celebrity=user.celebrity)


def author_view(user: User) -> AuthorView:
    return AuthorView(id=str(user.user_id), handle=user.handle, display_name=user.display_name)


def tweet_view(tweet: Tweet, author: User, repost: Tweet | None = None, reposter: User | None = None) -> TweetView:
    """A post as readers see it; brought by a repost, it says who reposted it."""
    return TweetView(
        id=str(tweet.tweet_id), text=tweet.text, created_at=iso(tweet.created_at), author=author_view(author),
        reply_to_id=str(tweet.reply_to_id) if tweet.reply_to_id is not None else None,
        repost=RepostView(id=str(repost.tweet_id), created_at=iso(repost.created_at), by=author_view(reposter))
        if repost is not None and reposter is not None else None,
    )


def item_view(item) -> TweetView:
    """A timeline item (timeline.service.reading.Item)."""
    return tweet_view(item.tweet, item.author, item.repost, item.reposter)
