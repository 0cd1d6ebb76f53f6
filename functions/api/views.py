"""Domain records -> response models."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import (
    AttachmentView,
    AuthorView,
    ImageView,
    MediaView,
    RepostView,
    TweetView,
    UploadForm,
    UploadView,
    UserView,
)
from wiring import services

from timeline.records import Media, Tweet, User
from timeline.service.media import Image, Upload, Urls


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
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
        media=[attachment_view(services().media.urls(a)) for a in tweet.media],
        repost=RepostView(id=str(repost.tweet_id), created_at=iso(repost.created_at), by=author_view(reposter))
        if repost is not None and reposter is not None else None,
    )


def item_view(item) -> TweetView:
    """A timeline item (timeline.service.reading.Item)."""
    return tweet_view(item.tweet, item.author, item.repost, item.reposter)


def image_view(image: Image | None) -> ImageView | None:
    return ImageView(url=image.url, content_type=image.content_type, width=image.width,
                     height=image.height) if image is not None else None


def attachment_view(urls: Urls) -> AttachmentView:
    return AttachmentView(media_id=str(urls.media_id), original=image_view(urls.original),
                          preview=image_view(urls.preview))


def media_view(item: Media, urls: Urls | None = None) -> MediaView:
    return MediaView(**_media_fields(item, urls))


def _media_fields(item: Media, urls: Urls | None) -> dict:
    return dict(media_id=str(item.media_id), status=item.status, content_type=item.content_type,
                created_at=iso(item.created_at), reason=item.reason, message=item.message, width=item.width,
                height=item.height, post_id=str(item.post_id) if item.post_id is not None else None,
                original=image_view(urls.original) if urls else None,
                preview=image_view(urls.preview) if urls else None)


def upload_view(upload: Upload, max_bytes: int) -> UploadView:
    return UploadView(**_media_fields(upload.media, None), max_bytes=max_bytes,
                      upload=UploadForm(url=upload.url, fields=upload.fields, expires_at=iso(upload.expires_at)))
