"""The HTTP contract of v1: request and response bodies, validated by powertools (pydantic)
and published in the OpenAPI document. Ids travel as decimal strings."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from timeline.text import check_post_text

HANDLE_PATTERN = r"^[A-Za-z0-9_]{1,15}$"
ID_PATTERN = r"^[0-9]{1,20}$"

Handle = Annotated[StrictStr, Field(pattern=HANDLE_PATTERN, description="1-15 letters, digits or _",
                                    examples=["alice"])]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]
PostText = Annotated[StrictStr, AfterValidator(check_post_text),
                     Field(description="1-280 characters, counted as a reader sees them", examples=["hello"])]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUpRequest(Request):
    handle: Handle
    password: Annotated[StrictStr, Field(min_length=8, max_length=256)]
    display_name: Annotated[StrictStr, Field(min_length=1, max_length=50)]


class TokenRequest(Request):
    handle: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class PostRequest(Request):
    text: PostText
    reply_to_id: Annotated[StrictStr | None, Field(pattern=ID_PATTERN)] = None


class FollowRequest(Request):
    reposts: Annotated[bool, Field(strict=True, description=(
        "false: follow without seeing this account's reposts; following again with true "
        "brings them back"))] = True


class TokenResponse(BaseModel):
    id_token: str
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


class UserView(BaseModel):
    id: str
    handle: str
    display_name: str
    followers_count: int
    following_count: int
    created_at: str
    celebrity: bool


class AuthorView(BaseModel):
    id: str
    handle: str
    display_name: str


class RepostView(BaseModel):
    id: str = Field(description="the repost's own id (its place in timelines)")
    created_at: str
    by: AuthorView = Field(description="who reposted it")


class TweetView(BaseModel):
    id: str
    text: str
    created_at: str
    author: AuthorView
    reply_to_id: str | None = None
    repost: RepostView | None = Field(None, description=(
        "set when a followee's repost brought this post: who reposted it, and when"))


class TweetPage(BaseModel):
    items: list[TweetView]
    next_cursor: str | None


class HomeTimelinePage(TweetPage):
    partial: bool = Field(False, description=(
        "true when this page is not the whole story yet: your timeline is being rebuilt after a "
        "long absence (read again shortly), or the read stopped early on hidden posts (follow "
        "next_cursor). A page is full, the last one (no next_cursor), or partial."))


class UserPageView(BaseModel):
    items: list[UserView]
    next_cursor: str | None


class RelationshipView(BaseModel):
    following: bool
    reposts: bool | None = Field(None, description="when following: whether this account's reposts show in your timeline")
    user: UserView


class BlockView(BaseModel):
    blocking: bool
    user: UserView


class MuteView(BaseModel):
    muting: bool
    user: UserView


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
