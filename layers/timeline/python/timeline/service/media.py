"""Images on posts: uploads straight to S3, checked before anyone sees them.

1. `MediaLibrary.start_upload` records a pending media item and signs a presigned POST for it
   (the type, a size range and the key fixed in its policy); the client uploads to S3. An
   account gets UploadFormsPerMinute forms a minute and has at most MaxPendingUploads uploads
   pending at once (issue 22, finding 6: each form takes MediaMaxBytes for ten minutes, and
   each upload wakes the 1 GB processor).
2. S3 notifies the media queue; `MediaProcessor.process` (media_processor) re-checks what
   the policy claimed, since a client may lie and an emulator may not enforce the policy,
   writes the original and a preview, and marks the item ready, or deletes the upload and
   marks it rejected with a reason. It is safe to run twice, even at once (S3 notifies at
   least once, SQS redelivers): a run first claims the pending item (pending -> processing,
   conditionally), and only the claimant writes objects and settles it; a run that finds it
   claimed, ready or rejected writes nothing. Without the claim, a slower duplicate could
   rewrite an original after a post attached it, resetting its tag to attached=false, and the
   lifecycle would delete a posted image. A claim older than CLAIM_SECONDS is taken over: its
   run was stopped by its timeout, and its message comes back after the queue's visibility
   timeout to find the claim takeable.
3. A post names up to four ready media of its author (`MediaLibrary.attachable`); the post's
   transaction claims them. Its stream record then queues `attach_media`, which retags the
   originals so the unattached-originals lifecycle rule leaves them; deleting the post
   queues `delete_media` (`MediaUpkeep`, fanout_worker).
4. Readers get each image as short-lived presigned GET URLs (`MediaLibrary.urls`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from timeline import clock, ids, images
from timeline.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)
from timeline.observability import correlate, correlation_id, logger
from timeline.records import PENDING, READY, REJECTED, Attachment, Media
from timeline.settings import Settings
from timeline.store import media as store
from timeline.store.media import MediaIdTaken, MediaStore, PendingChanged, PendingUploads
from timeline.store.rate_limits import Limited, Window
from timeline.store.transactions import Contended

MAX_MEDIA_PER_POST = 4
UNATTACHED_SECONDS = 86_400  # the lifecycle's "originals never attached: one day"
# An upload must be attached well before its unattached original can expire.
ATTACH_WINDOW_MS = (UNATTACHED_SECONDS - 3600) * 1000
VARIANT_DAYS = 20  # the lifecycle's variants rule; a post older than this shows its original
VARIANT_MARGIN_MS = 86_400_000  # lifecycle deletions run up to a day after eligibility: stop earlier
# template.yaml's MediaProcessorFunction Timeout (a test keeps them equal): no run lives longer.
PROCESSOR_TIMEOUT_SECONDS = 30
# A processing claim older than this is taken over: the run that took it has been stopped by
# its timeout (plus a margin for clocks of different hosts). It must stay within MediaQueue's
# VisibilityTimeout less the function timeout (150 s), so that the dead run's own message,
# redelivered, always finds the claim takeable: nothing the queue delivered is lost.
CLAIM_SECONDS = PROCESSOR_TIMEOUT_SECONDS + 30
# An upload whose check never comes stops counting as pending this long after its form lapses:
# an upload sent at the form's last second has by then been through S3's notification, the
# queue and a processor run (its timeout, plus the claim's margin for clocks).
PENDING_MARGIN_SECONDS = CLAIM_SECONDS
FORM_ATTEMPTS = 5  # reads of the pending uploads while other forms of the account change them


@dataclasses.dataclass(frozen=True)
class Upload:
    media: Media
    url: str
    fields: dict[str, str]
    expires_at: int  # epoch ms


@dataclasses.dataclass(frozen=True)
class Image:
    url: str
    content_type: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class Urls:
    media_id: int
    original: Image
    preview: Image | None  # None once the post is older than the variants live


class MediaLibrary:
    """The API side: uploads requested, their state read, media attached and shown."""

    def __init__(self, settings: Settings, media: MediaStore):
        self._settings, self._media = settings, media

    def start_upload(self, owner_id: int, content_type: str, content_length: int) -> Upload:
        content_type = content_type.strip().lower()
        if content_type not in images.ALLOWED_TYPES:
            raise UnsupportedMediaType(
                f"{content_type or 'an empty type'} is not accepted; upload one of "
                f"{', '.join(images.ALLOWED_TYPES)}", code="unsupported_media_type")
        if content_length < 1:
            raise Unprocessable("content_length must be at least 1 byte", code="invalid_content_length")
        limit = self._settings.media_max_bytes
        if content_length > limit:
            raise PayloadTooLarge(f"the file is {content_length:,} bytes; the limit is {limit:,}",
                                  code="media_too_large", details={"max_bytes": limit})
        item = self._record_pending(owner_id, content_type)
        seconds = self._settings.upload_form_seconds
        form = self._media.upload_form(store.upload_key(owner_id, item.media_id), content_type, limit, seconds)
        return Upload(media=item, url=form["url"], fields=form["fields"], expires_at=clock.now_ms() + seconds * 1000)

    def _record_pending(self, owner_id: int, content_type: str) -> Media:
        """The pending media item of a new form, within the account's limits (issue 22, finding 6).

        Forms per minute (UploadFormsPerMinute): counted in the transaction that records the
        item, so a refused form counts nothing; 429 rate_limited past it.

        Pending uploads (MaxPendingUploads): an upload is pending from its form until the
        processor checks it (ready or rejected), or else until its form has lapsed
        (upload_form_seconds) and an upload sent at its last second would have been checked
        (PENDING_MARGIN_SECONDS): a form never used, or whose processor never ran, frees its
        place by itself, and nothing has to settle it (a TTL deletes late and cannot count
        down). The account's item lists its uploads with when each stops counting; while fewer
        than the cap are within their time, the form is granted without asking their records;
        at the cap, the records say which are still pending (checked ones leave the list). The
        list is rewritten in the form's transaction only if unchanged since read, so forms asked
        for at once never exceed the cap. 429 too_many_pending_uploads past it, Retry-After
        when the oldest stops counting. Why a cap besides the rate: each pending upload is up to
        MediaMaxBytes in the bucket and a 1 GB processor run to come, and each form is reusable
        for its whole life; the cap bounds both at any moment. An upload whose check outlasts
        its time (a processor failing and retried) no longer counts: the cap is loose only while
        checks fail."""
        cap, now = self._settings.max_pending_uploads, clock.now_s()
        window = Window.now("upload", str(owner_id), self._settings.upload_forms_per_minute)
        for _ in range(FORM_ATTEMPTS):
            pending = self._media.pending_uploads(owner_id)
            keep = self._still_pending(pending, now, cap)
            media_id = ids.new_id()
            item = Media(media_id=media_id, owner_id=owner_id, content_type=content_type, status=PENDING,
                         created_at=ids.timestamp_ms(media_id), correlation_id=correlation_id())
            try:
                self._media.create_pending(item, expires_at=now + UNATTACHED_SECONDS, pending=pending, keep=keep,
                                           counts_until=now + self._settings.upload_form_seconds
                                           + PENDING_MARGIN_SECONDS, window=window)
                return item
            except (PendingChanged, MediaIdTaken):
                continue  # another form of the account's got in first: read the list again
            except Limited as exc:
                raise TooManyRequests(
                    f"you can request {self._settings.upload_forms_per_minute} upload forms a minute; "
                    f"try again in {exc.retry_after} s", code="rate_limited", retry_after=exc.retry_after) from None
        raise Contended("too many upload forms requested at once; try again")

    def _still_pending(self, pending: PendingUploads, now: int, cap: int) -> list[int]:
        """The listed uploads that still count, if there is room for one more; else 429."""
        counting = {media_id: until for media_id, until in pending.counted_until.items() if now < until}
        if len(counting) < cap:
            return list(counting)
        records = self._media.get_many(counting)  # at the cap: the checked ones no longer count
        counting = {media_id: until for media_id, until in counting.items()
                    if (record := records.get(media_id)) is not None and record.status == PENDING}
        if len(counting) < cap:
            return list(counting)
        retry_after = max(1, min(counting.values()) - now)
        minutes = self._settings.upload_form_seconds / 60
        raise TooManyRequests(
            f"{len(counting)} uploads are waiting to be sent or checked, the most one account may have at once; "
            f"send one of them with its form (it is checked within seconds), or try again in {retry_after} s, "
            f"when the oldest unused form (they last {minutes:g} minutes) no longer counts",
            code="too_many_pending_uploads", retry_after=retry_after)

    def status(self, caller_id: int, media_id: int) -> Media:
        item = self._media.get(media_id)
        if item is None:
            raise NotFound(f"no media {media_id}", code="media_not_found")
        if item.owner_id != caller_id:
            raise Forbidden(f"media {media_id} is not yours", code="media_not_yours")
        return item

    def attachable(self, owner_id: int, media_ids: Iterable[int]) -> tuple[Attachment, ...]:
        """The attachments of a new post, in the order given, or a 4xx naming the first media
        id that cannot be attached and why."""
        media_ids = list(media_ids)
        if len(media_ids) > MAX_MEDIA_PER_POST:
            raise Unprocessable(f"a post carries at most {MAX_MEDIA_PER_POST} media; got {len(media_ids)}",
                                code="too_many_media")
        seen: set[int] = set()
        for media_id in media_ids:
            if media_id in seen:
                raise Unprocessable(f"media {media_id} is listed twice", code="duplicate_media",
                                    details={"media_id": str(media_id)})
            seen.add(media_id)
        found = self._media.get_many(media_ids) if media_ids else {}
        now = clock.now_ms()
        for media_id in media_ids:
            self._check_attachable(found.get(media_id), media_id, owner_id, now)
        return tuple(found[media_id].attachment() for media_id in media_ids)

    @staticmethod
    def _check_attachable(item: Media | None, media_id: int, owner_id: int, now: int) -> None:
        details = {"media_id": str(media_id)}
        if item is None:
            raise Unprocessable(f"media {media_id} does not exist", code="media_not_found", details=details)
        if item.owner_id != owner_id:
            raise Forbidden(f"media {media_id} is not yours", code="media_not_yours", details=details)
        if item.status == PENDING:
            raise Conflict(f"media {media_id} is still being checked; attach it once its status is ready",
                           code="media_not_ready", details=details)
        if item.status == REJECTED:
            raise Unprocessable(f"media {media_id} was rejected: {item.message}", code="media_rejected",
                                details={**details, "reason": item.reason})
        if item.post_id is not None:
            raise Conflict(f"media {media_id} is already attached to post {item.post_id}", code="media_in_use",
                           details=details)
        if now - item.created_at > ATTACH_WINDOW_MS:
            raise Unprocessable(f"media {media_id} was uploaded too long ago to attach; upload it again",
                                code="media_expired", details=details)

    def urls(self, attachment: Attachment) -> Urls:
        """Short-lived GET URLs for an attached image; no preview once it may have expired."""
        seconds = self._settings.media_url_seconds
        original = Image(self._media.url(store.original_key(attachment.media_id), seconds),
                         attachment.content_type, attachment.width, attachment.height)
        preview = None
        if clock.now_ms() < attachment.ready_at + VARIANT_DAYS * 86_400_000 - VARIANT_MARGIN_MS:
            preview = Image(self._media.url(store.preview_key(attachment.media_id), seconds),
                            images.PREVIEW_TYPE, attachment.preview_width, attachment.preview_height)
        return Urls(attachment.media_id, original, preview)

    def item_urls(self, item: Media) -> Urls | None:
        """An owner's view of a ready upload, before any post shows it."""
        return self.urls(item.attachment()) if item.status == READY else None


class MediaProcessor:
    """The media_processor side: one upload checked."""

    def __init__(self, settings: Settings, media: MediaStore):
        self._settings, self._media = settings, media

    def process(self, key: str) -> str:
        """Check the upload at `key`; returns what happened (for logs and metrics): "ready",
        "rejected", or "ignored" (not an upload, already settled, being checked by another
        run, or gone)."""
        parsed = store.parse_upload_key(key)
        if parsed is None:
            logger.warning("ignoring an object outside the upload layout", extra={"key": key})
            return "ignored"
        owner_id, media_id = parsed
        item = self._media.get(media_id)
        if item is not None:
            correlate(item.correlation_id)  # the upload request's: its log lines from here on
        if item is None or item.owner_id != owner_id or item.status != PENDING:
            # Unknown, expired, or settled already (a redelivery, or the form used twice):
            # nothing will ever read these bytes.
            self._media.delete_upload(key)
            return "ignored"
        now = clock.now_ms()
        claim = self._media.claim(media_id, now=now, stale_before=now - CLAIM_SECONDS * 1000)
        if claim is None:
            # Another run is checking it (a duplicate notification), or settled it since the
            # read above: that run writes the objects and deletes the upload, not this one.
            logger.info("upload claimed by another run", extra={"media_id": str(media_id)})
            return "ignored"
        try:
            return self._check(key, item, claim)
        except Exception:
            # Give the claim back so the redelivery checks it at once (else it waits out the claim).
            try:
                self._media.release(media_id, claim)
            except Exception:
                logger.exception("could not release the claim", extra={"media_id": str(media_id)})
            raise

    def _check(self, key: str, item: Media, claim: str) -> str:
        """The claimant's work: read, check, write the objects, settle, delete the upload."""
        media_id, limit = item.media_id, self._settings.media_max_bytes
        data = self._media.read_upload(key, limit)
        if data is None:  # gone (the lifecycle's one-day expiry): nothing to check
            self._media.release(media_id, claim)
            return "ignored"
        try:
            checked = images.check(data, item.content_type, max_bytes=limit,
                                   max_pixels=self._settings.media_max_pixels)
        except images.Rejected as rejected:
            # Record first: if the delete fails, the retry finds it settled and deletes.
            if not self._media.mark_rejected(media_id, reason=rejected.reason, message=rejected.message,
                                             claim=claim):
                return self._lost(media_id)
            self._media.delete_upload(key)
            logger.info("media rejected", extra={"media_id": str(media_id), "reason": rejected.reason,
                                                 "detail": str(rejected.__cause__ or rejected.message)})
            return "rejected"
        self._media.put_checked(media_id, checked.original, checked.preview)
        if not self._media.mark_ready(media_id, width=checked.original.width, height=checked.original.height,
                                      preview_width=checked.preview.width, preview_height=checked.preview.height,
                                      ready_at=clock.now_ms(), claim=claim):
            return self._lost(media_id)
        self._media.delete_upload(key)
        return "ready"

    @staticmethod
    def _lost(media_id: int) -> str:
        # Only if this run outlived CLAIM_SECONDS (which its timeout forbids) and another took over.
        logger.warning("claim taken over before the check settled", extra={"media_id": str(media_id)})
        return "ignored"


class MediaUpkeep:
    """The fanout_worker side: a post's media kept when it is posted, deleted with it."""

    def __init__(self, media: MediaStore):
        self._media = media

    def attach(self, media_ids: list[int]) -> None:
        for media_id in media_ids:
            self._media.keep(media_id)

    def delete(self, media_ids: list[int]) -> None:
        self._media.delete_objects(media_ids)
        self._media.forget(media_ids)
