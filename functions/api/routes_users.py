"""Profiles, follow/unfollow, follower lists and user timelines."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from schemas import HANDLE_PATTERN, Cursor, Limit, RelationshipView, TweetPage, UserPageView, UserView
from views import tweet_view, user_view
from wiring import caller_id, services

router = APIGatewayHttpRouter()

HandlePath = Annotated[str, Path(pattern=HANDLE_PATTERN, description="the account's handle")]


@router.get("/v1/users/<handle>", summary="A profile with counts", tags=["users"])
def get_user(handle: HandlePath) -> UserView:
    caller_id(router)
    return user_view(services().accounts.profile(handle))


@router.post("/v1/users/<handle>/follow", summary="Follow (idempotent)", tags=["users"])
def follow(handle: HandlePath) -> RelationshipView:
    rel = services().social.follow(caller_id(router), handle)
    return RelationshipView(following=rel.following, user=user_view(rel.user))


@router.delete("/v1/users/<handle>/follow", summary="Unfollow (idempotent)", tags=["users"])
def unfollow(handle: HandlePath) -> RelationshipView:
    rel = services().social.unfollow(caller_id(router), handle)
    return RelationshipView(following=rel.following, user=user_view(rel.user))


@router.get("/v1/users/<handle>/followers", summary="Who follows this account", tags=["users"])
def followers(handle: HandlePath, limit: Limit = 20, cursor: Cursor = None) -> UserPageView:
    page = services().social.followers(caller_id(router), handle, limit, cursor)
    return UserPageView(items=[user_view(u) for u in page.users], next_cursor=page.next_cursor)


@router.get("/v1/users/<handle>/following", summary="Whom this account follows", tags=["users"])
def following(handle: HandlePath, limit: Limit = 20, cursor: Cursor = None) -> UserPageView:
    page = services().social.following(caller_id(router), handle, limit, cursor)
    return UserPageView(items=[user_view(u) for u in page.users], next_cursor=page.next_cursor)


@router.get("/v1/users/<handle>/tweets", summary="The account's posts, newest first", tags=["timelines"])
def user_timeline(handle: HandlePath, limit: Limit = 20, cursor: Cursor = None) -> TweetPage:
    page = services().reader.user_timeline(caller_id(router), handle, limit, cursor)
    return TweetPage(items=[tweet_view(i.tweet, i.author) for i in page.items], next_cursor=page.next_cursor)
