"""One typed settings object, read from the environment variables template.yaml sets."""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field("dev", alias="STAGE")
    users_table: str = Field(alias="USERS_TABLE")
    tweets_table: str = Field(alias="TWEETS_TABLE")
    graph_table: str = Field(alias="GRAPH_TABLE")
    timelines_table: str = Field(alias="TIMELINES_TABLE")
    celebrity_copies_table: str = Field("", alias="CELEBRITY_COPIES_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL")
    media_bucket: str = Field("", alias="MEDIA_BUCKET")
    media_table: str = Field("", alias="MEDIA_TABLE")
    media_max_bytes: int = Field(5 * 1024 * 1024, alias="MEDIA_MAX_BYTES", ge=1)
    rate_limits_table: str = Field("", alias="RATE_LIMITS_TABLE")
    post_rate_limit_per_minute: int = Field(30, alias="POST_RATE_LIMIT_PER_MINUTE", ge=1)
    sign_in_rate_limit_per_minute: int = Field(10, alias="SIGN_IN_RATE_LIMIT_PER_MINUTE", ge=1)
    sign_in_attempts_per_address_per_minute: int = Field(30, alias="SIGN_IN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", ge=1)
    sign_ups_per_address_per_hour: int = Field(20, alias="SIGN_UPS_PER_ADDRESS_PER_HOUR", ge=1)
    action_rate_limit_per_minute: int = Field(60, alias="ACTION_RATE_LIMIT_PER_MINUTE", ge=1)
    max_following: int = Field(5000, alias="MAX_FOLLOWING", ge=1)
    counts_cache_seconds: float = Field(2.0, alias="COUNTS_CACHE_SECONDS", ge=0)
    demotion_cooldown_minutes: int = Field(60, alias="DEMOTION_COOLDOWN_MINUTES", ge=0)
    upload_forms_per_minute: int = Field(10, alias="UPLOAD_FORMS_PER_MINUTE", ge=1)
    max_pending_uploads: int = Field(8, alias="MAX_PENDING_UPLOADS", ge=4)
    user_pool_id: str = Field("", alias="USER_POOL_ID")
    user_pool_client_id: str = Field("", alias="USER_POOL_CLIENT_ID")
    cursor_secret_arn: str = Field(alias="CURSOR_SECRET_ARN")
    celebrity_threshold: int = Field(10_000, alias="CELEBRITY_THRESHOLD", ge=1)
    timeline_max: int = Field(800, alias="TIMELINE_MAX", ge=10)
    inactive_days: int = Field(30, alias="INACTIVE_DAYS", ge=1)
    # Partitions each celebrity's posts are copied to: a reader merges one (store/celebrity_copies.py).
    # 0: no copies; readers merge celebrities from the ByAuthor index (the benchmark's baseline).
    celebrity_copy_shards: int = Field(128, alias="CELEBRITY_COPY_SHARDS", ge=0, le=1024)
    # Celebrities with at least this many followers are copied (the others are merged from the
    # index: their readers are too few to make a partition hot, and copies cost more to read).
    copy_threshold: int = Field(1_000_000, alias="COPY_THRESHOLD", ge=1)

    # Not template parameters: tuning knobs with sensible defaults.
    fanout_chunk_size: int = Field(200, alias="FANOUT_CHUNK_SIZE", ge=1, le=1000)
    # A decoded 24-megapixel RGBA image is ~100 MB: bounded memory for the processor, and
    # larger than any phone camera's photo.
    media_max_pixels: int = Field(24_000_000, alias="MEDIA_MAX_PIXELS", ge=1)
    media_url_seconds: int = Field(3600, alias="MEDIA_URL_SECONDS", ge=60, le=7 * 86400)
    upload_form_seconds: int = Field(600, alias="UPLOAD_FORM_SECONDS", ge=60, le=3600)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        return cls.model_validate(dict(os.environ if environ is None else environ))

    @property
    def demote_below(self) -> int:
        """A celebrity whose followers fall below 80% of the threshold (hysteresis, so an
        account near the line does not flap) is an ordinary account again."""
        return -(-4 * self.celebrity_threshold // 5)

    @property
    def backfill_posts(self) -> int:
        """How many of an account's newest posts a follow (or a demotion) writes into a timeline."""
        return max(1, self.timeline_max // 4)

    @property
    def inactive_ms(self) -> int:
        return self.inactive_days * 86_400_000

    @property
    def timeline_ttl_seconds(self) -> int:
        # A reader away longer than INACTIVE_DAYS gets a rebuilt timeline, so entries
        # older than twice that are never read again: let DynamoDB expire them.
        return 2 * self.inactive_days * 86_400


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once at cold start."""
    return Settings.from_env()
