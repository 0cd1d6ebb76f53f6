"""Domain records -> response models."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import (
    AttachmentView,
    AuthorView,
    CountsView,
    ImageView,
    MediaView,
    PostViewerView,
    RelationView,
    ReplyToView,
    RepostView,
    TweetView,
    UploadForm,
    UploadView,
    UserView,
)
from wiring import services

from timeline.records import Counts, Media, Relation, Tweet, User, ViewerState
from timeline.service.media import Image, Upload, Urls


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def user_view(user: User, viewer: Relation | None = None) -> UserView:
    """A profile; the profile routes say how the caller stands with it (`viewer`)."""
    return UserView(id=str(user.user_id), handle=user.handle, display_name=user.display_name,
                    followers_count=user.followers_count, following_count=user.following_count,
                    created_at=iso(user.created_at), celebrity=user.celebrity,
                    viewer=RelationView(following=viewer.following, followed_by=viewer.followed_by,
                                        blocking=viewer.blocking, muting=viewer.muting) if viewer is not None else None)


def profile_views(caller_id: int, users: list[User]) -> list[UserView]:
    """Profiles with the caller's relation to each (one read round trip for the whole list)."""
    relations = services().social.relations(caller_id, [u.user_id for u in users])
    return [user_view(u, relations.get(u.user_id, Relation())) for u in users]


def author_view(user: User) -> AuthorView:
    return AuthorView(id=str(user.user_id), handle=user.handle, display_name=user.display_name)


def tweet_view(tweet: Tweet, author: User, repost: Tweet | None = None, reposter: User | None = None, *,
               counts: Counts | None = None, viewer: ViewerState | None = None,
               reply_to_author: User | None = None) -> TweetView:
    """A post as readers see it; brought by a repost, it says who reposted it."""
    counts, viewer = counts or Counts(), viewer or ViewerState()
    return TweetView(
        id=str(tweet.tweet_id), text=tweet.text, created_at=iso(tweet.created_at), author=author_view(author),
        reply_to_id=str(tweet.reply_to_id) if tweet.reply_to_id is not None else None,
        reply_to=ReplyToView(id=str(tweet.reply_to_id),
                             author=author_view(reply_to_author) if reply_to_author is not None else None)
        if tweet.reply_to_id is not None else None,
        media=[attachment_view(services().media.urls(a)) for a in tweet.media],
        repost=RepostView(id=str(repost.tweet_id), created_at=iso(repost.created_at), by=author_view(reposter))
        if repost is not None and reposter is not None else None,
        counts=CountsView(replies=counts.replies, reposts=counts.reposts, likes=counts.likes),
        viewer=PostViewerView(reposted=viewer.reposted, liked=viewer.liked),
    )


def item_view(item) -> TweetView:
    """A timeline item (timeline.service.reading.Item)."""
    return tweet_view(item.tweet, item.author, item.repost, item.reposter, counts=item.counts, viewer=item.viewer,
                      reply_to_author=item.reply_to_author)


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
