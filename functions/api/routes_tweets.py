"""Posting, reading one post, deleting, and the home timeline."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from schemas import ID_PATTERN, Cursor, ErrorResponse, HomeTimelinePage, Limit, PostRequest, TweetPage, TweetView
from views import item_view, tweet_view
from wiring import caller, caller_id, services

from timeline.errors import NotFound
from timeline.observability import metrics
from timeline.records import Tweet, User

router = APIGatewayHttpRouter()


def _answered(tweet: Tweet) -> User | None:
    """The author of the post a reply answers (None for a post, or an account gone)."""
    if tweet.reply_to_author_id is None:
        return None
    try:
        return services().accounts.user(tweet.reply_to_author_id)
    except NotFound:
        return None


def _shown(viewer_id: int, tweet: Tweet, author: User, repost: Tweet | None = None,
           reposter: User | None = None) -> TweetView:
    """One post with its counts and the viewer's state (one BatchGetItem)."""
    shown = services().reader.engagement(viewer_id, [tweet.tweet_id])[tweet.tweet_id]
    return tweet_view(tweet, author, repost, reposter, counts=shown.counts, viewer=shown.viewer,
                      reply_to_author=_answered(tweet))

TweetIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the post's id")]
IdempotencyKey = Annotated[str, Header(
    alias="idempotency-key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
    description="Retrying with the same key and body returns the first result instead of posting twice")]


@router.post("/v1/tweets", summary="Post", tags=["tweets"],
             responses={201: {"description": "created", "content": {"application/json": {"model": TweetView}}},
                        403: {"description": "a media id is not yours, or the post you answer blocks you",
                              "content": {"application/json": {"model": ErrorResponse}}},
                        409: {"description": "a media id is still being checked or already on a post",
                              "content": {"application/json": {"model": ErrorResponse}}},
                        422: {"description": "invalid post, or a media id unknown, rejected or expired",
                              "content": {"application/json": {"model": ErrorResponse}}}})
def post_tweet(body: PostRequest, idempotency_key: IdempotencyKey = None) -> Response[TweetView]:
    author = caller(router)
    reply_to = int(body.reply_to_id) if body.reply_to_id is not None else None
    tweet = services().posting.post(author, body.text, reply_to, idempotency_key,
                                    tuple(int(m) for m in body.media_ids))
    # A new post has no likes, reposts or replies yet: nothing to read for them.
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body=tweet_view(tweet, author, reply_to_author=_answered(tweet)))


@router.get("/v1/tweets/<tweet_id>", summary="One post", tags=["tweets"])
def get_tweet(tweet_id: TweetIdPath) -> TweetView:
    viewer = caller_id(router)
    tweet, repost = services().posting.view(viewer, int(tweet_id))
    author = services().accounts.user(tweet.author_id)
    reposter = services().accounts.user(repost.author_id) if repost is not None else None
    return _shown(viewer, tweet, author, repost, reposter)


@router.post("/v1/tweets/<tweet_id>/repost", summary="Repost (idempotent)", tags=["tweets"],
             responses={201: {"description": "reposted", "content": {"application/json": {"model": TweetView}}},
                        200: {"description": "already reposted: the same repost",
                              "content": {"application/json": {"model": TweetView}}},
                        404: {"description": "no such post", "content": {"application/json": {"model": ErrorResponse}}}})
def repost(tweet_id: TweetIdPath) -> Response[TweetView]:
    reposter = caller(router)
    row, original, created = services().posting.repost(reposter, int(tweet_id))
    author = reposter if original.author_id == reposter.user_id else services().accounts.user(original.author_id)
    return Response(status_code=201 if created else 200, content_type=content_types.APPLICATION_JSON,
                    body=_shown(reposter.user_id, original, author, row, reposter))


@router.delete("/v1/tweets/<tweet_id>/repost", summary="Undo your repost (idempotent)", tags=["tweets"],
               responses={204: {"description": "not reposted (any more)"}})
def undo_repost(tweet_id: TweetIdPath):
    services().posting.unrepost(caller_id(router), int(tweet_id))
    return Response(status_code=204)


@router.post("/v1/tweets/<tweet_id>/like", summary="Like (idempotent)", tags=["tweets"],
             responses={201: {"description": "liked", "content": {"application/json": {"model": TweetView}}},
                        200: {"description": "already liked", "content": {"application/json": {"model": TweetView}}},
                        403: {"description": "a block stands between you and the post's author",
                              "content": {"application/json": {"model": ErrorResponse}}},
                        404: {"description": "no such post", "content": {"application/json": {"model": ErrorResponse}}},
                        429: {"description": "too many changes this minute",
                              "content": {"application/json": {"model": ErrorResponse}}}})
def like(tweet_id: TweetIdPath) -> Response[TweetView]:
    liker = caller(router)
    post, created = services().engagement.like(liker, int(tweet_id))
    author = liker if post.author_id == liker.user_id else services().accounts.user(post.author_id)
    return Response(status_code=201 if created else 200, content_type=content_types.APPLICATION_JSON,
                    body=_shown(liker.user_id, post, author))


@router.delete("/v1/tweets/<tweet_id>/like", summary="Take your like back (idempotent)", tags=["tweets"],
               responses={204: {"description": "not liked (any more)"},
                          404: {"description": "no such post", "content": {"application/json": {"model": ErrorResponse}}},
                          429: {"description": "too many changes this minute",
                                "content": {"application/json": {"model": ErrorResponse}}}})
def unlike(tweet_id: TweetIdPath):
    services().engagement.unlike(caller_id(router), int(tweet_id))
    return Response(status_code=204)


@router.get("/v1/tweets/<tweet_id>/replies", summary="A post's direct replies, oldest first", tags=["tweets"],
            responses={200: {"description": "a page of replies", "content": {"application/json": {"model": TweetPage}}},
                       404: {"description": "no such post", "content": {"application/json": {"model": ErrorResponse}}},
                       403: {"description": "a block stands between you and the post's author",
                             "content": {"application/json": {"model": ErrorResponse}}}})
def replies(tweet_id: TweetIdPath, limit: Limit = 20, cursor: Cursor = "") -> TweetPage:
    page = services().reader.replies(caller_id(router), int(tweet_id), limit, cursor or None)
    return TweetPage(items=[item_view(i) for i in page.items], next_cursor=page.next_cursor)


@router.delete("/v1/tweets/<tweet_id>", summary="Delete your post", tags=["tweets"],
               responses={204: {"description": "deleted"},
                          403: {"description": "not yours", "content": {"application/json": {"model": ErrorResponse}}}})
def delete_tweet(tweet_id: TweetIdPath):
    services().posting.delete(caller_id(router), int(tweet_id))
    return Response(status_code=204)


@router.get("/v1/timeline", summary="Your home timeline, newest first", tags=["timelines"])
def home_timeline(limit: Limit = 20, cursor: Cursor = "") -> HomeTimelinePage:
    page = services().reader.home_timeline(caller_id(router), limit, cursor or None)
    # One sample each per home read: CelebrityMerges' average is merges per read (its sample
    # count the reads), PartialReads' sum the reads that answered partial.
    metrics.add_metric(name="CelebrityMerges", unit=MetricUnit.Count, value=page.celebrities_merged)
    metrics.add_metric(name="PartialReads", unit=MetricUnit.Count, value=int(page.partial))
    return HomeTimelinePage(items=[item_view(i) for i in page.items],
                            next_cursor=page.next_cursor, partial=page.partial)
