"""Media: records in MediaTable, objects in the media bucket, and the URLs that reach them.

Keys, all under one private bucket:

    uploads/<owner id>/<media id>        the client's presigned POST; deleted once checked
    originals/<media id>                 the checked original, tagged attached=false until a
                                         post attaches it (the lifecycle expires it otherwise)
    variants/<media id>/preview.webp     the preview (the lifecycle expires variants)

Only the uploads/ prefix notifies the media queue, so what the processor writes never comes
back to it.

A record's stored status is pending, processing (a media_processor run has claimed the upload
and is checking it: `claim`), ready or rejected. Only the claimant writes the upload's objects
and settles it; everyone else sees a claimed upload as pending (records.Media knows no
"processing": to its owner and to posts it is still being checked).

MediaTable also holds, for each account that asks for upload forms, the list of its uploads
that count as pending (`pending_uploads`, `create_pending`): one item under media_id = -account
id, a key no media takes (media ids are positive snowflakes, and `get` answers None below 1).
It maps each media id to the second until which it counts, and carries a version that every
change of the list raises, so a form is only recorded against the list as it was read.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from timeline.records import PENDING, READY, REJECTED, Media, optional_int
from timeline.store.rate_limits import Limited, Window
from timeline.store.tables import MediaModel, cancellation_codes
from timeline.store.transactions import Transaction

if TYPE_CHECKING:  # the stubs are a dev dependency, not deployed
    from mypy_boto3_s3 import S3Client

    from timeline.images import Rendition  # only its type: the image code (Pillow) stays out of the API

PROCESSING = "processing"  # stored only: records.Media shows it as PENDING
UPLOADS = "uploads/"
ATTACHED_TAG = "attached"
_UPLOAD_KEY = re.compile(r"^uploads/([0-9]{1,20})/([0-9]{1,20})$")
# A signed GET URL is reused for a quarter of its life: signing costs ~0.5 ms (800 URLs on a
# page of 100 posts with 4 images each), and a URL that stays the same for a while lets
# browsers and caches keep the image.
URL_CACHE_SIZE = 4096
# The attributes of an account's pending-uploads item (MediaModel declares only a media's).
_COUNTED, _VERSION = Path("counted_until"), Path("version")


def upload_key(owner_id: int, media_id: int) -> str:
    return f"{UPLOADS}{owner_id}/{media_id}"


def parse_upload_key(key: str) -> tuple[int, int] | None:
    """(owner id, media id) of an upload key, or None for anything else."""
    match = _UPLOAD_KEY.match(key)
    return (int(match.group(1)), int(match.group(2))) if match else None


def pending_key(owner_id: int) -> int:
    """The MediaTable key of an account's pending-uploads item."""
    return -owner_id


@dataclasses.dataclass(frozen=True)
class PendingUploads:
    """An account's pending-uploads item as read: media id -> the epoch second until which it
    counts as pending, and the item's version (0: there is no item)."""
    counted_until: dict[int, int]
    version: int = 0


class PendingChanged(Exception):
    """The account's pending uploads changed since they were read (another form at once)."""


class MediaIdTaken(Exception):
    """Two id generators minted the same media id: mint another."""


def original_key(media_id: int) -> str:
    return f"originals/{media_id}"


def preview_key(media_id: int) -> str:
    return f"variants/{media_id}/preview.webp"


def to_media(m: MediaModel) -> Media:
    return Media(
        media_id=int(m.media_id), owner_id=int(m.owner_id), content_type=m.content_type,
        status=PENDING if m.status == PROCESSING else m.status,
        created_at=int(m.created_at), reason=m.reason, message=m.message, width=optional_int(m.width),
        height=optional_int(m.height), preview_width=optional_int(m.preview_width),
        preview_height=optional_int(m.preview_height), ready_at=optional_int(m.ready_at),
        post_id=optional_int(m.post_id), correlation_id=m.correlation_id,
    )


class MediaStore:
    def __init__(self, s3: S3Client, bucket: str, connection: Connection | None = None):
        self._s3, self._bucket, self._connection = s3, bucket, connection
        self._urls: OrderedDict[tuple[str, int], tuple[float, str]] = OrderedDict()
        self._urls_lock = threading.Lock()

    # ------------------------------------------------------------------ records
    @staticmethod
    def _record(media: Media, expires_at: int) -> MediaModel:
        return MediaModel(media.media_id, owner_id=media.owner_id, content_type=media.content_type,
                          status=media.status, created_at=media.created_at, expires_at=expires_at,
                          correlation_id=media.correlation_id)

    def create(self, media: Media, *, expires_at: int) -> None:
        """A media record, limited by nothing (tests and tools; uploads use `create_pending`)."""
        self._record(media, expires_at).save(condition=MediaModel.media_id.does_not_exist())

    def pending_uploads(self, owner_id: int) -> PendingUploads:
        """The account's pending-uploads item, read consistently (MediaModel cannot read its
        attributes: the raw item)."""
        item = MediaModel._get_connection().get_item(str(pending_key(owner_id)), consistent_read=True).get("Item")
        if not item:
            return PendingUploads({})
        counted = item.get("counted_until", {}).get("M", {})
        return PendingUploads({int(media_id): int(until["N"]) for media_id, until in counted.items()},
                              int(item["version"]["N"]))

    def create_pending(self, media: Media, *, expires_at: int, pending: PendingUploads, keep: Iterable[int],
                       counts_until: int, window: Window) -> None:
        """Record a pending upload in one transaction with what limits it: the account's pending
        uploads become those of `pending` named in `keep` and this one (counted until
        `counts_until`, epoch seconds), provided the list is still the one `pending` read (else
        PendingChanged: read it again); and the form counts against the rate-limit `window`
        (Limited if it is full). A media id already taken raises MediaIdTaken. The item
        expires (TTL) with its newest upload's count: nothing in it counts after that."""
        counted = {str(media_id): {"N": str(pending.counted_until[media_id])} for media_id in keep}
        counted[str(media.media_id)] = {"N": str(counts_until)}
        unchanged = _VERSION.does_not_exist() if pending.version == 0 else _VERSION == pending.version  # noqa: SIM300 (a pynamodb condition: the attribute comes first)
        try:
            with Transaction(connection=MediaModel._get_connection().connection) as tx:
                tx.save(self._record(media, expires_at), condition=MediaModel.media_id.does_not_exist())
                tx.update(MediaModel(pending_key(media.owner_id)),
                          actions=[_COUNTED.set({"M": counted}), _VERSION.set(pending.version + 1),
                                   MediaModel.expires_at.set(max([counts_until, *pending.counted_until.values()]))],
                          condition=unchanged)
                window.hit_within(tx)
        except TransactWriteError as exc:
            # pynamodb sends puts, then updates: [the record, the list, the window].
            failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
            if failed[2:3] == [True]:
                raise Limited(window.retry_after) from exc
            if failed[1:2] == [True]:
                raise PendingChanged() from exc
            if failed[:1] == [True]:
                raise MediaIdTaken() from exc
            raise

    def get(self, media_id: int) -> Media | None:
        if media_id < 1:  # no media id is (a negative key is an account's pending uploads)
            return None
        try:
            return to_media(MediaModel.get(media_id, consistent_read=True))
        except MediaModel.DoesNotExist:
            return None

    def get_many(self, media_ids: Iterable[int]) -> dict[int, Media]:
        """Consistent reads: a post must see the processor's latest word on each upload."""
        wanted = [media_id for media_id in dict.fromkeys(media_ids) if media_id >= 1]
        if not wanted:
            return {}
        return {int(m.media_id): to_media(m) for m in MediaModel.batch_get(wanted, consistent_read=True)}

    def claim(self, media_id: int, *, now: int, stale_before: int) -> str | None:
        """Take the upload for one media_processor run: pending -> processing, or a processing
        claim taken before `stale_before` (epoch ms; its run must have stopped) taken over.
        Returns the claim's token, for `mark_ready`, `mark_rejected` and `release`; None if
        the upload is not pending (another run holds it, it is settled, or it is gone)."""
        token = uuid.uuid4().hex
        claimable = (MediaModel.status == PENDING) | (
            (MediaModel.status == PROCESSING) & (MediaModel.claimed_at < stale_before))
        ok = self._update(media_id, [MediaModel.status.set(PROCESSING), MediaModel.claimed_at.set(now),
                                     MediaModel.claimed_by.set(token)], claimable)
        return token if ok else None

    def release(self, media_id: int, claim: str) -> bool:
        """Give a claim back (processing -> pending), so the next delivery can check the upload
        at once; False if this claim no longer holds it."""
        return self._update(media_id, [MediaModel.status.set(PENDING), *self._unclaimed()], self._held(claim))

    def mark_ready(self, media_id: int, *, width: int, height: int, preview_width: int, preview_height: int,
                   ready_at: int, claim: str | None = None) -> bool:
        """Claimed (by `claim`) -> ready; False if this claim no longer holds it. Without a
        claim, pending -> ready (media made without the processor, as tests and tools do)."""
        return self._settle(media_id, claim, [
            MediaModel.status.set(READY), MediaModel.width.set(width), MediaModel.height.set(height),
            MediaModel.preview_width.set(preview_width), MediaModel.preview_height.set(preview_height),
            MediaModel.ready_at.set(ready_at)])

    def mark_rejected(self, media_id: int, *, reason: str, message: str, claim: str | None = None) -> bool:
        """Claimed (by `claim`) -> rejected, with why; False if this claim no longer holds it.
        Without a claim, pending -> rejected."""
        return self._settle(media_id, claim, [MediaModel.status.set(REJECTED), MediaModel.reason.set(reason),
                                              MediaModel.message.set(message)])

    @staticmethod
    def _held(claim: str) -> Condition:
        held: Condition = (MediaModel.status == PROCESSING) & (MediaModel.claimed_by == claim)
        return held

    @staticmethod
    def _unclaimed() -> list[Action]:
        return [MediaModel.claimed_at.remove(), MediaModel.claimed_by.remove()]

    def _settle(self, media_id: int, claim: str | None, actions: list[Action]) -> bool:
        if claim is None:
            return self._update(media_id, actions, MediaModel.status == PENDING)
        return self._update(media_id, [*actions, *self._unclaimed()], self._held(claim))

    @staticmethod
    def _update(media_id: int, actions: list[Action], condition: Condition) -> bool:
        try:
            MediaModel(media_id).update(actions=actions, condition=condition)
            return True
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def forget(self, media_ids: Iterable[int]) -> None:
        """Delete the records (the post they belonged to is gone)."""
        with MediaModel.batch_write() as batch:
            for media_id in dict.fromkeys(media_ids):
                batch.delete(MediaModel(media_id))

    # ------------------------------------------------------------------ objects
    def upload_form(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A presigned POST that can only put `content_type` bytes, 1..max_bytes long, at `key`."""
        return self._s3.generate_presigned_post(
            Bucket=self._bucket, Key=key, Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in)

    def url(self, key: str, expires_in: int) -> str:
        """A presigned GET URL valid for at least 3/4 of `expires_in` seconds from now."""
        now = time.monotonic()
        with self._urls_lock:
            cached = self._urls.get((key, expires_in))
            if cached is not None and now - cached[0] < expires_in / 4:
                self._urls.move_to_end((key, expires_in))
                return cached[1]
        url = self._s3.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": key},
                                              ExpiresIn=expires_in)
        with self._urls_lock:
            self._urls[(key, expires_in)] = (now, url)
            if len(self._urls) > URL_CACHE_SIZE:
                self._urls.popitem(last=False)
        return url

    def read_upload(self, key: str, max_bytes: int) -> bytes | None:
        """The upload's bytes, at most max_bytes + 1 of them (enough to tell it is too large
        without reading a huge object), or None if there is no such object."""
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            if exc.response["Error"]["Code"] == "InvalidRange":  # an empty object
                return b""
            raise
        return response["Body"].read(max_bytes + 1)

    def delete_upload(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def put_checked(self, media_id: int, original: Rendition, preview: Rendition) -> None:
        """The checked original (unattached until a post retags it) and its preview."""
        self._s3.put_object(Bucket=self._bucket, Key=original_key(media_id), Body=original.body,
                            ContentType=original.content_type, Tagging=f"{ATTACHED_TAG}=false")
        self._s3.put_object(Bucket=self._bucket, Key=preview_key(media_id), Body=preview.body,
                            ContentType=preview.content_type)

    def keep(self, media_id: int) -> bool:
        """Retag an attached original so the unattached-originals rule leaves it; False if it
        is gone (its post was deleted first)."""
        try:
            self._s3.put_object_tagging(Bucket=self._bucket, Key=original_key(media_id),
                                        Tagging={"TagSet": [{"Key": ATTACHED_TAG, "Value": "true"}]})
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return False
            raise

    def delete_objects(self, media_ids: Iterable[int]) -> None:
        keys = [k for media_id in dict.fromkeys(media_ids) for k in (original_key(media_id), preview_key(media_id))]
        for start in range(0, len(keys), 1000):
            response = self._s3.delete_objects(Bucket=self._bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
            if response.get("Errors"):
                raise RuntimeError(f"could not delete media objects: {response['Errors'][:3]}")
