"""The HTTP contract of v1: request and response bodies, validated by powertools (pydantic)
and published in the OpenAPI document. Ids travel as decimal strings."""

from __future__ import annotations

from typing import Annotated

import text_patterns
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from timeline.cursors import MAX_CURSOR_LENGTH
from timeline.images import ALLOWED_TYPES
from timeline.text import MAX_DISPLAY_NAME_CODE_POINTS, MAX_POST_CODE_POINTS, check_display_name, check_post_text

HANDLE_PATTERN = r"^[A-Za-z0-9_]{1,15}$"
# Ids as the api writes them: decimal, without a sign or a leading zero, so one id has one
# spelling (two media ids that differ as strings are two uploads).
ID_PATTERN = r"^(0|[1-9][0-9]{0,19})$"
# timeline.cursors: base64url(JSON) "." base64url(18-byte tag). The document says the form;
# the codec checks it (400 invalid_cursor, as for a forged one). Empty: the first page.
CURSOR_PATTERN = r"^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{24})?$"
# The user pool's password policy (template.yaml, UserPool.Policies.PasswordPolicy): the api
# checks it before Cognito does (422 weak_password), and the document says it.
# tests/functional/test_template_and_docs.py holds the two together.
PASSWORD_POLICY_PATTERN = r"[a-z][\s\S]*[0-9]|[0-9][\s\S]*[a-z]"
MEDIA_TYPES = tuple(ALLOWED_TYPES)

Handle = Annotated[StrictStr, Field(pattern=HANDLE_PATTERN, description="1-15 letters, digits or _",
                                    examples=["alice"])]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Cursor = Annotated[str, Query(max_length=MAX_CURSOR_LENGTH, json_schema_extra={"pattern": CURSOR_PATTERN},
                              description="next_cursor of the previous page; absent or empty: the first page")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _pattern(make):
    """A pattern for the document only, computed when the document is: the field's validator
    applies the rule itself."""
    def extra(schema: dict) -> None:
        schema["pattern"] = make()
    return extra


class SignUpRequest(Request):
    handle: Handle
    password: Annotated[StrictStr, Field(min_length=8, max_length=256, description=(
        "8-256 characters with a lowercase letter (a-z) and a digit (0-9)"),
        json_schema_extra={"pattern": PASSWORD_POLICY_PATTERN})]
    display_name: Annotated[StrictStr, Field(min_length=1, max_length=MAX_DISPLAY_NAME_CODE_POINTS, description=(
        "1-50 characters (and at most 200 code points); something visible, no control characters, "
        "line breaks or direction controls"), json_schema_extra=_pattern(text_patterns.display_name)),
        AfterValidator(check_display_name)]


class TokenRequest(Request):
    handle: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


MediaId = Annotated[StrictStr, Field(pattern=ID_PATTERN, description="a media_id from POST /v1/media")]


def _text_or_media(schema: dict) -> None:
    # Something visible in the text, or media (then the text may be blank).
    schema["anyOf"] = [{"required": ["media_ids"], "properties": {"media_ids": {"minItems": 1}}},
                       {"required": ["text"], "properties": {"text": {"pattern": text_patterns.visible()}}}]


class PostRequest(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_text_or_media)

    # Before text: whether the text may be empty depends on it.
    media_ids: Annotated[list[MediaId], Field(max_length=4, json_schema_extra={"uniqueItems": True}, description=(
        "up to 4 of your uploads whose status is ready, each once; each can be on one post"))] = []
    text: Annotated[StrictStr, Field(max_length=MAX_POST_CODE_POINTS, description=(
        "up to 280 characters, counted as a reader sees them (and at most 2,240 code points); "
        "something visible, no control characters but tabs and line breaks; may be blank when "
        "the post has media"), examples=["hello"], validate_default=True,
        json_schema_extra=_pattern(text_patterns.post_text))] = ""
    reply_to_id: Annotated[StrictStr | None, Field(pattern=ID_PATTERN)] = None

    @field_validator("text")
    @classmethod
    def _text(cls, text: str, info: ValidationInfo) -> str:
        return check_post_text(text, media=bool(info.data.get("media_ids")))


def _integral(value: object) -> object:
    """A number with a zero fraction (300.0) as the int it is: JSON Schema's `integer` takes it
    (JSON has one number type), so the api does too. Strings and booleans stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class MediaUploadRequest(Request):
    # The document says the enum; the model takes any string, so that another type is the
    # route's 415 (routes_media.start_upload), not a 422.
    content_type: Annotated[StrictStr, Field(max_length=100, examples=["image/jpeg"], description=(
        "image/jpeg, image/png, image/gif or image/webp"), json_schema_extra={"enum": list(MEDIA_TYPES)})]
    content_length: Annotated[StrictInt, Field(ge=1, examples=[123456], description=(
        "the file's size in bytes (at most MediaMaxBytes, 5 MB by default)")), BeforeValidator(_integral)]


class FollowRequest(Request):
    reposts: Annotated[bool, Field(strict=True, description=(
        "false: follow without seeing this account's reposts; following again with true "
        "brings them back"))] = True


class RefreshRequest(Request):
    # A JWE (Cognito) or a UUID (the local emulator): base64url segments and dots. ASCII, so the
    # longest fits the body limit whatever the client escapes.
    refresh_token: Annotated[StrictStr, Field(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_.-]+$")]


class ConfirmRequest(Request):
    handle: Handle
    code: Annotated[StrictStr, Field(pattern=r"^[0-9A-Za-z]{1,16}$", description="the code sent to you")]


class ResendRequest(Request):
    handle: Handle


class TokenResponse(BaseModel):
    id_token: str
    access_token: str
    refresh_token: str = Field(description="send it to /v1/auth/refresh for fresh tokens (valid 30 days, "
                                           "until a sign-out revokes it)")
    expires_in: int
    token_type: str = "Bearer"


class ResendView(BaseModel):
    sent: bool = Field(description="always true: whether the account exists is not disclosed")
    destination: str | None = Field(None, description="where the code went, masked (e.g. a***@e***)")


class RelationView(BaseModel):
    following: bool = Field(description="you follow this account")
    followed_by: bool = Field(description="this account follows you")
    blocking: bool = Field(description="you block this account")
    muting: bool = Field(description="you mute this account")


class UserView(BaseModel):
    id: str
    handle: str
    display_name: str
    followers_count: int
    following_count: int
    created_at: str
    celebrity: bool
    viewer: RelationView | None = Field(None, description=(
        "how you stand with this account: set by the profile routes (a profile, /v1/me, the followers and "
        "following lists); all false for yourself"))


class AuthorView(BaseModel):
    id: str
    handle: str
    display_name: str


class RepostView(BaseModel):
    id: str = Field(description="the repost's own id (its place in timelines)")
    created_at: str
    by: AuthorView = Field(description="who reposted it")


class ImageView(BaseModel):
    url: str = Field(description="a presigned GET URL, valid for at least 45 minutes")
    content_type: str
    width: int
    height: int


class AttachmentView(BaseModel):
    media_id: str
    original: ImageView
    preview: ImageView | None = Field(None, description=(
        "at most 680x680, WebP; absent once the post is older than the variants live (20 days)"))


class UploadForm(BaseModel):
    url: str = Field(description="POST the file here as multipart/form-data")
    fields: dict[str, str] = Field(description="send every one of these as form fields, then the file as `file`")
    expires_at: str


class MediaView(BaseModel):
    media_id: str
    status: str = Field(description="pending (being checked), ready (attach it to a post) or rejected")
    content_type: str
    created_at: str
    reason: str | None = Field(None, description="rejected: a stable code, e.g. type_mismatch, too_many_pixels")
    message: str | None = Field(None, description="rejected: what was wrong, in words")
    width: int | None = None
    height: int | None = None
    post_id: str | None = Field(None, description="the post it is attached to")
    original: ImageView | None = None
    preview: ImageView | None = None


class UploadView(MediaView):
    upload: UploadForm
    max_bytes: int


class CountsView(BaseModel):
    replies: int = Field(0, description="direct replies")
    reposts: int = 0
    likes: int = 0


class PostViewerView(BaseModel):
    reposted: bool = Field(False, description="you reposted it")
    liked: bool = Field(False, description="you like it")


class ReplyToView(BaseModel):
    id: str = Field(description="the post this one answers")
    author: AuthorView | None = Field(None, description="its author (null if the account is gone)")


class TweetView(BaseModel):
    id: str
    text: str
    created_at: str
    author: AuthorView
    reply_to_id: str | None = None
    reply_to: ReplyToView | None = Field(None, description="the post this one answers, and whom")
    counts: CountsView = Field(default_factory=CountsView, description=(
        "counted from the graph stream: they lag likes, reposts and replies by a few seconds (at most about "
        "5 s), but never show fewer than your own like or repost"))
    viewer: PostViewerView = Field(default_factory=PostViewerView, description="what you have done to this post")
    media: list[AttachmentView] = Field(default_factory=list)
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
