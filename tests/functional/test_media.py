"""Images on posts, on moto: upload forms, the media processor, attaching, showing, deleting.

Uploads go through the presigned POST the API signs (form fields and policy as returned) to
moto's S3, whose notification lands on the media queue; the harness hands it to the
media_processor handler as the local runtime's poller would.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import time
import zlib
from datetime import datetime

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from PIL import Image

MB5 = 5 * 1024 * 1024


def png(width: int = 64, height: int = 48, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 1600, height: int = 1200) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def png_bomb(side: int = 100_000) -> bytes:
    """A few hundred bytes claiming side x side pixels: rejected from the header alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", binascii.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def post_form(form: dict, data: bytes, content_type: str) -> requests.Response:
    """The browser's side of the presigned POST: every field, then the file."""
    return requests.post(form["url"], data=form["fields"], files={"file": ("upload", data, content_type)})


def upload(h, user: int, data: bytes, declared: str) -> str:
    reply = h.start_upload(user, declared, len(data))
    assert reply.status == 201, reply
    assert post_form(reply.body["upload"], data, declared).status_code in (200, 201, 204)
    h.process_media()
    return reply.body["media_id"]


def keys_of(h, media_id: str) -> list[str]:
    return [k for k in h.objects() if media_id in k]


def tags(h, key: str) -> dict[str, str]:
    tag_set = boto3.client("s3").get_object_tagging(Bucket=h.bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def media_rows(h) -> list[dict]:
    """Every media record (not the accounts' pending-upload lists: negative keys, expiring)."""
    rows = boto3.client("dynamodb").scan(TableName=h.settings.media_table)["Items"]
    return [r for r in rows if int(r["media_id"]["N"]) > 0]



@pytest.fixture
def alice(h):
    return h.sign_up("alice")


# ------------------------------------------------------------------ upload forms

def test_given_a_png_when_an_upload_is_requested_then_the_form_fixes_type_size_key_and_expiry(h, alice):
    reply = h.start_upload(alice, "image/png", 1234)
    assert reply.status == 201, reply
    body = reply.body
    assert body["status"] == "pending" and body["max_bytes"] == MB5
    fields = body["upload"]["fields"]
    assert fields["key"] == f"uploads/{alice}/{body['media_id']}"
    assert fields["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, MB5] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert {"key": fields["key"]} in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")).timestamp()
    assert 0 < expires - time.time() <= 601  # a short-lived form: ten minutes


@pytest.mark.parametrize("content_type, length, status, code", [
    ("image/svg+xml", 100, 415, "unsupported_media_type"),
    ("text/plain", 100, 415, "unsupported_media_type"),
    ("image/jpg", 100, 415, "unsupported_media_type"),
    ("image/png", MB5 + 1, 413, "media_too_large"),
    ("image/png", 0, 422, "invalid_body"),
    ("image/png", -5, 422, "invalid_body"),
])
def test_given_a_bad_upload_request_when_sent_then_4xx_and_nothing_recorded(h, alice, content_type, length, status,
                                                                          code):
    reply = h.start_upload(alice, content_type, length)
    assert (reply.status, reply.error_code) == (status, code), reply
    assert media_rows(h) == []


def test_given_a_length_that_is_not_an_integer_when_sent_then_422(h, alice):
    reply = h.request("POST", "/v1/media", as_user=alice, body={"content_type": "image/png", "content_length": "12"})
    assert (reply.status, reply.error_code) == (422, "invalid_body")


def test_given_no_token_when_an_upload_is_requested_then_401(h):
    reply = h.request("POST", "/v1/media", body={"content_type": "image/png", "content_length": 10})
    assert reply.status == 401


@pytest.mark.stack(MediaMaxBytes="2048")
def test_given_a_smaller_MediaMaxBytes_when_an_upload_is_requested_then_the_template_parameter_is_the_limit(h, alice):
    assert h.start_upload(alice, "image/png", 2049).status == 413
    policy = json.loads(base64.b64decode(h.start_upload(alice, "image/png", 2048).body["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 2048] in policy["conditions"]


# ------------------------------------------------------------------ the processor

def test_given_a_real_png_when_uploaded_then_ready_with_its_size_an_identical_original_and_a_preview(h, alice):
    data = png(640, 480)
    media_id = upload(h, alice, data, "image/png")
    status = h.media_status(alice, media_id)
    assert status.status == 200
    assert (status.body["status"], status.body["width"], status.body["height"]) == ("ready", 640, 480)
    objects = h.objects()
    assert objects[f"originals/{media_id}"] == data
    preview = Image.open(io.BytesIO(objects[f"variants/{media_id}/preview.webp"]))
    assert preview.format == "WEBP" and preview.size == (640, 480)  # small enough: not scaled
    assert f"uploads/{alice}/{media_id}" not in objects  # the upload is gone once checked
    assert tags(h, f"originals/{media_id}") == {"attached": "false"}
    assert requests.get(status.body["original"]["url"]).content == data


def test_given_a_large_jpeg_when_uploaded_then_the_preview_fits_680_and_keeps_the_aspect_ratio(h, alice):
    media_id = upload(h, alice, jpeg(1600, 1200), "image/jpeg")
    body = h.media_status(alice, media_id).body
    assert (body["width"], body["height"]) == (1600, 1200)
    assert (body["preview"]["width"], body["preview"]["height"]) == (680, 510)
    assert Image.open(io.BytesIO(requests.get(body["preview"]["url"]).content)).size == (680, 510)


@pytest.mark.parametrize("data, declared, reason", [
    (png(), "image/jpeg", "type_mismatch"),
    (b"hello, I am a text file\n" * 10, "image/png", "not_an_image"),
    (png_bomb(), "image/png", "too_many_pixels"),
    (png(640, 480)[:300], "image/png", "corrupt"),
])
def test_given_bad_bytes_when_uploaded_then_rejected_with_a_reason_and_nothing_left(h, alice, data, declared, reason):
    media_id = upload(h, alice, data, declared)
    body = h.media_status(alice, media_id).body
    assert (body["status"], body["reason"]) == ("rejected", reason), body
    assert body["message"]
    assert keys_of(h, media_id) == []


@pytest.mark.stack(MediaMaxBytes="2048")
def test_given_an_upload_over_the_limit_that_S3_accepted_when_checked_then_rejected_too_large(h, alice):
    # moto does not enforce the form's content-length-range; the processor is the check.
    big = png(640, 480) + b"\0" * 4096
    reply = h.start_upload(alice, "image/png", 100)
    assert post_form(reply.body["upload"], big, "image/png").status_code in (200, 201, 204)
    h.process_media()
    body = h.media_status(alice, reply.body["media_id"]).body
    assert (body["status"], body["reason"]) == ("rejected", "too_large")
    assert keys_of(h, reply.body["media_id"]) == []


def test_given_a_notification_delivered_twice_when_processed_then_the_second_changes_nothing(h, alice):
    reply = h.start_upload(alice, "image/png", 100)
    post_form(reply.body["upload"], png(), "image/png")
    records = h.media_records()
    assert not h.run_media_processor(records).get("batchItemFailures")
    before = h.objects()
    assert not h.run_media_processor(records).get("batchItemFailures")
    assert h.objects() == before
    assert h.media_status(alice, reply.body["media_id"]).body["status"] == "ready"


def test_given_a_ready_upload_when_the_form_is_used_again_then_the_new_bytes_are_deleted_unread(h, alice):
    reply = h.start_upload(alice, "image/png", 100)
    form = reply.body["upload"]
    post_form(form, png(), "image/png")
    h.process_media()
    post_form(form, b"not an image", "image/png")
    h.process_media()
    media_id = reply.body["media_id"]
    assert sorted(keys_of(h, media_id)) == [f"originals/{media_id}", f"variants/{media_id}/preview.webp"]
    assert h.media_status(alice, media_id).body["status"] == "ready"


def test_given_S3s_test_event_when_delivered_then_it_is_acknowledged(h):
    record = {"messageId": "1", "receiptHandle": "r", "attributes": {}, "messageAttributes": {},
              "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": h.media_queue_arn, "awsRegion": "us-east-1",
              "body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": h.bucket})}
    assert h.run_media_processor([record]) == {"batchItemFailures": []}


def test_given_S3_failing_when_an_upload_is_checked_then_the_record_is_retried_and_nothing_settles(h, alice,
                                                                                                  monkeypatch):
    unlucky, lucky = (h.start_upload(alice, "image/png", 100).body for _ in range(2))
    for form in (unlucky, lucky):
        post_form(form["upload"], png(), "image/png")
    records = h.media_records()
    s3 = h.media_processor.services.media_processor._media._s3
    get_object = s3.get_object

    def slow_down(**kwargs):  # S3 throttles one of the two reads
        if kwargs["Key"] == unlucky["upload"]["fields"]["key"]:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "GetObject")
        return get_object(**kwargs)
    monkeypatch.setattr(s3, "get_object", slow_down)
    result = h.run_media_processor(records)
    failed = [r for r in records if unlucky["media_id"] in r["body"]]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [failed[0]["messageId"]]
    assert h.media_status(alice, unlucky["media_id"]).body["status"] == "pending"
    assert h.media_status(alice, lucky["media_id"]).body["status"] == "ready"
    monkeypatch.undo()
    assert not h.run_media_processor(failed).get("batchItemFailures")  # the redelivery
    assert h.media_status(alice, unlucky["media_id"]).body["status"] == "ready"


def test_given_someone_elses_upload_when_its_status_is_read_then_403_and_unknown_404(h, alice):
    bob = h.sign_up("bob")
    media_id = upload(h, alice, png(), "image/png")
    assert (h.media_status(bob, media_id).status, h.media_status(bob, media_id).error_code) == (403, "media_not_yours")
    assert h.media_status(alice, "12345").error_code == "media_not_found"


# ------------------------------------------------------------------ posts with media

def test_given_ready_media_when_posted_then_followers_see_both_images_with_working_urls(h, alice):
    bob = h.sign_up("bob")
    h.follow(bob, "alice")
    first, second = png(640, 480), jpeg(1600, 1200)
    ids = [upload(h, alice, first, "image/png"), upload(h, alice, second, "image/jpeg")]
    post_id = h.post(alice, "two pictures", media_ids=ids)
    h.drain()
    item = h.home(bob).body["items"][0]
    assert item["id"] == post_id
    assert [m["media_id"] for m in item["media"]] == ids
    png_view, jpeg_view = item["media"]
    assert (png_view["original"]["width"], png_view["original"]["height"]) == (640, 480)
    assert png_view["original"]["content_type"] == "image/png"
    assert requests.get(png_view["original"]["url"]).content == first
    assert requests.get(jpeg_view["original"]["url"]).content == second
    assert jpeg_view["preview"]["content_type"] == "image/webp"
    preview = Image.open(io.BytesIO(requests.get(jpeg_view["preview"]["url"]).content))
    assert preview.size == (jpeg_view["preview"]["width"], jpeg_view["preview"]["height"]) == (680, 510)
    # the same post, read alone and on the author's page
    assert h.request("GET", f"/v1/tweets/{post_id}", as_user=bob).body["media"][0]["media_id"] == ids[0]
    page = h.request("GET", "/v1/users/alice/tweets", as_user=bob).body["items"]
    assert [m["media_id"] for m in page[0]["media"]] == ids


def test_given_a_posted_image_when_the_post_is_fanned_out_then_its_original_is_kept_past_the_unattached_rule(h, alice):
    media_id = upload(h, alice, png(), "image/png")
    post_id = h.post(alice, "keep me", media_ids=[media_id])
    assert h.media_status(alice, media_id).body["post_id"] == post_id
    h.drain()
    assert tags(h, f"originals/{media_id}") == {"attached": "true"}
    row = next(r for r in media_rows(h) if r["media_id"]["N"] == media_id)
    assert "expires_at" not in row  # the record's TTL is gone with the attachment


def test_given_a_post_with_media_when_deleted_then_its_objects_and_records_go_too(h, alice):
    media_id = upload(h, alice, png(), "image/png")
    post_id = h.post(alice, "short-lived", media_ids=[media_id])
    h.drain()
    h.delete(alice, post_id)
    h.drain()
    assert keys_of(h, media_id) == []
    assert media_rows(h) == []


def test_given_media_only_when_posted_without_text_then_accepted_but_empty_text_alone_is_not(h, alice):
    media_id = upload(h, alice, png(), "image/png")
    reply = h.request("POST", "/v1/tweets", as_user=alice, body={"media_ids": [media_id]})
    assert reply.status == 201 and reply.body["text"] == ""
    reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "  "})
    assert (reply.status, reply.error_code) == (422, "invalid_body")


def test_given_an_idempotency_key_when_a_post_with_media_is_retried_then_one_post_with_its_media(h, alice):
    media_id = upload(h, alice, png(), "image/png")
    body = {"text": "once", "media_ids": [media_id]}
    first = h.request("POST", "/v1/tweets", as_user=alice, body=body, headers={"Idempotency-Key": "k1"})
    again = h.request("POST", "/v1/tweets", as_user=alice, body=body, headers={"Idempotency-Key": "k1"})
    assert first.status == again.status == 201
    assert again.body["id"] == first.body["id"]
    assert again.body["media"][0]["media_id"] == media_id


def _post_error(h, user, media_ids) -> tuple[int, str | None, dict]:
    reply = h.request("POST", "/v1/tweets", as_user=user, body={"text": "with media", "media_ids": media_ids})
    return reply.status, reply.error_code, reply.body["error"]


def test_given_media_that_cannot_be_attached_when_posted_then_a_4xx_names_it_and_nothing_is_posted(h, alice):
    bob = h.sign_up("bob")
    ready = upload(h, alice, png(), "image/png")
    bobs = upload(h, bob, png(), "image/png")
    rejected = upload(h, alice, b"not an image at all", "image/png")
    pending = h.start_upload(alice, "image/png", 100).body["media_id"]
    for media_ids, status, code, named in [
        ([ready, bobs], 403, "media_not_yours", bobs),
        ([ready, "999"], 422, "media_not_found", "999"),
        ([pending], 409, "media_not_ready", pending),
        ([rejected], 422, "media_rejected", rejected),
        ([ready, ready], 422, "duplicate_media", ready),
    ]:
        got_status, got_code, error = _post_error(h, alice, media_ids)
        assert (got_status, got_code) == (status, code), error
        assert named in error["message"] and error["details"]["media_id"] == named
    status, code, _ = _post_error(h, alice, [ready] * 5)
    assert (status, code) == (422, "invalid_body")
    assert h.request("GET", "/v1/users/alice/tweets", as_user=alice).body["items"] == []
    assert h.media_status(alice, ready).body.get("post_id") is None


def test_given_media_on_a_post_when_attached_to_another_then_409_media_in_use(h, alice):
    media_id = upload(h, alice, png(), "image/png")
    first = h.post(alice, "first", media_ids=[media_id])
    status, code, error = _post_error(h, alice, [media_id])
    assert (status, code) == (409, "media_in_use") and first in error["message"]


def test_given_two_posts_racing_for_one_image_when_the_second_write_lands_then_it_is_refused(h, alice, clock):
    # Both passed the check; the transaction's condition on the media record decides.
    from timeline.records import Tweet
    from timeline.store.tweets import MediaUnavailable
    media_id = upload(h, alice, png(), "image/png")
    attachment = h.services.media.attachable(alice, [int(media_id)])
    h.post(alice, "winner", media_ids=[media_id])
    loser = Tweet(tweet_id=1, author_id=alice, text="loser", created_at=clock.now_ms(), media=attachment)
    with pytest.raises(MediaUnavailable):
        h.services.posting._tweets.put_new(loser, entry_expires_at=clock.now_s() + 60)
    assert h.request("GET", "/v1/tweets/1", as_user=alice).status == 404


def test_given_an_upload_older_than_the_attach_window_when_posted_then_422_media_expired(h, alice, clock):
    media_id = upload(h, alice, png(), "image/png")
    clock.advance(ms=(23 * 3600 + 1) * 1000)
    assert _post_error(h, alice, [media_id])[:2] == (422, "media_expired")


def test_given_a_post_older_than_the_variants_live_when_read_then_it_shows_the_original_only(h, alice, clock):
    media_id = upload(h, alice, png(), "image/png")
    h.post(alice, "old news", media_ids=[media_id])
    assert h.home(alice).body["items"][0]["media"][0]["preview"] is not None
    clock.advance(ms=(19 * 86_400 + 1) * 1000)
    media = h.home(alice).body["items"][0]["media"][0]
    assert media["preview"] is None and media["original"]["url"]


# ------------------------------------------------------------------ the bucket, as deployed

def test_given_the_deployed_bucket_then_private_encrypted_notifying_and_expiring_as_the_template_says(h):
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=h.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=h.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [queue] = s3.get_bucket_notification_configuration(Bucket=h.bucket)["QueueConfigurations"]
    assert queue["QueueArn"] == h.media_queue_arn and queue["Events"] == ["s3:ObjectCreated:*"]
    assert queue["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=h.bucket)["Rules"]}
    assert rules["Variants"]["Expiration"] == {"Days": 20}
    assert rules["Variants"]["Filter"] == {"Prefix": "variants/"}
    assert rules["UnattachedOriginals"]["Expiration"] == {"Days": 1}
    assert rules["UnattachedOriginals"]["Filter"] == {
        "And": {"Prefix": "originals/", "Tags": [{"Key": "attached", "Value": "false"}]}}
    assert rules["Uploads"]["Expiration"] == {"Days": 1}


def test_given_a_page_read_again_when_its_images_were_signed_lately_then_the_urls_are_reused(h, alice, monkeypatch):
    media_id = upload(h, alice, png(), "image/png")
    store = h.services.media._media
    signed = []
    sign = store._s3.generate_presigned_url
    monkeypatch.setattr(store._s3, "generate_presigned_url", lambda *a, **kw: signed.append(a) or sign(*a, **kw))
    posted = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "cacheable", "media_ids": [media_id]})
    assert len(signed) == 2  # the original and the preview
    # When read within a quarter of the URLs' hour, Then no signing and the same URLs
    assert h.home(alice).body["items"][0]["media"] == posted.body["media"] and len(signed) == 2
    # When a quarter of their life has passed, Then fresh URLs are signed
    from timeline.store import media as media_store
    later = media_store.time.monotonic() + 901
    monkeypatch.setattr(media_store.time, "monotonic", lambda: later)
    h.home(alice)
    assert len(signed) == 4


def test_given_the_sample_event_when_its_upload_is_unknown_then_the_processor_deletes_it_and_acknowledges(h):
    """events/media_processor_upload.json (for `sam local invoke`) is the shape S3 -> SQS delivers."""
    from tests.support.harness import sample_event
    event = sample_event("media_processor_upload.json")
    key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    boto3.client("s3").put_object(Bucket=h.bucket, Key=key, Body=b"left over")
    h.media_records()  # the notification of that put, not needed: the sample stands in for it
    assert h.run_media_processor(event["Records"]) == {"batchItemFailures": []}
    assert h.objects() == {}


def test_given_the_deployed_media_queue_then_only_this_accounts_s3_may_send_to_it_and_it_has_a_dlq(h):
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=h.media_queue_url, AttributeNames=["Policy", "RedrivePolicy"])
    [statement] = json.loads(attrs["Attributes"]["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=h.stack.outputs["MediaDeadLetterQueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn and int(redrive["maxReceiveCount"]) == 5
