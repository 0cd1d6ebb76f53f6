"""Profiles, follow/unfollow, block and mute, follower lists, the caller's own lists, and
user timelines."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from schemas import (
    HANDLE_PATTERN,
    BlockView,
    Cursor,
    FollowRequest,
    Limit,
    MuteView,
    RelationshipView,
    TweetPage,
    UserPageView,
    UserView,
)
from views import item_view, profile_views, user_view
from wiring import caller, caller_id, services

from timeline.records import Relation

router = APIGatewayHttpRouter()

HandlePath = Annotated[str, Path(pattern=HANDLE_PATTERN, description="the account's handle")]


@router.get("/v1/users/<handle>", summary="A profile with counts", tags=["users"])
def get_user(handle: HandlePath) -> UserView:
    return profile_views(caller_id(router), [services().accounts.profile(handle)])[0]


@router.get("/v1/me", summary="Your own profile", tags=["users"])
def me() -> UserView:
    return user_view(caller(router), Relation())


@router.post("/v1/users/<handle>/follow", summary="Follow (idempotent); optionally without reposts", tags=["users"])
def follow(handle: HandlePath, body: Annotated[FollowRequest | None, Body()] = None) -> RelationshipView:
    reposts = body.reposts if body is not None else True
    rel = services().social.follow(caller_id(router), handle, reposts=reposts)
    return RelationshipView(following=rel.following, reposts=rel.reposts, user=user_view(rel.user))


@router.delete("/v1/users/<handle>/follow", summary="Unfollow (idempotent)", tags=["users"])
def unfollow(handle: HandlePath) -> RelationshipView:
    rel = services().social.unfollow(caller_id(router), handle)
    return RelationshipView(following=rel.following, reposts=None, user=user_view(rel.user))


@router.get("/v1/users/<handle>/followers", summary="Who follows this account", tags=["users"])
def followers(handle: HandlePath, limit: Limit = 20, cursor: Cursor = "") -> UserPageView:
    viewer = caller_id(router)
    page = services().social.followers(viewer, handle, limit, cursor or None)
    return UserPageView(items=profile_views(viewer, page.users), next_cursor=page.next_cursor)


@router.get("/v1/users/<handle>/following", summary="Whom this account follows", tags=["users"])
def following(handle: HandlePath, limit: Limit = 20, cursor: Cursor = "") -> UserPageView:
    viewer = caller_id(router)
    page = services().social.following(viewer, handle, limit, cursor or None)
    return UserPageView(items=profile_views(viewer, page.users), next_cursor=page.next_cursor)


@router.get("/v1/users/<handle>/tweets", summary="The account's posts, newest first", tags=["timelines"])
def user_timeline(handle: HandlePath, limit: Limit = 20, cursor: Cursor = "") -> TweetPage:
    page = services().reader.user_timeline(caller_id(router), handle, limit, cursor or None)
    return TweetPage(items=[item_view(i) for i in page.items], next_cursor=page.next_cursor)


@router.post("/v1/users/<handle>/block", summary="Block (idempotent): hidden, follows removed both ways",
             tags=["moderation"])
def block(handle: HandlePath) -> BlockView:
    r = services().social.block(caller_id(router), handle)
    return BlockView(blocking=r.active, user=user_view(r.user))


@router.delete("/v1/users/<handle>/block", summary="Unblock (idempotent)", tags=["moderation"])
def unblock(handle: HandlePath) -> BlockView:
    r = services().social.unblock(caller_id(router), handle)
    return BlockView(blocking=r.active, user=user_view(r.user))


@router.post("/v1/users/<handle>/mute", summary="Mute (idempotent): hidden from your home timeline",
             tags=["moderation"])
def mute(handle: HandlePath) -> MuteView:
    r = services().social.mute(caller_id(router), handle)
    return MuteView(muting=r.active, user=user_view(r.user))


@router.delete("/v1/users/<handle>/mute", summary="Unmute (idempotent)", tags=["moderation"])
def unmute(handle: HandlePath) -> MuteView:
    r = services().social.unmute(caller_id(router), handle)
    return MuteView(muting=r.active, user=user_view(r.user))


@router.get("/v1/me/blocks", summary="The accounts you block", tags=["moderation"])
def my_blocks(limit: Limit = 20, cursor: Cursor = "") -> UserPageView:
    page = services().social.blocks(caller_id(router), limit, cursor or None)
    return UserPageView(items=[user_view(u) for u in page.users], next_cursor=page.next_cursor)


@router.get("/v1/me/mutes", summary="The accounts you mute", tags=["moderation"])
def my_mutes(limit: Limit = 20, cursor: Cursor = "") -> UserPageView:
    page = services().social.mutes(caller_id(router), limit, cursor or None)
    return UserPageView(items=[user_view(u) for u in page.users], next_cursor=page.next_cursor)
