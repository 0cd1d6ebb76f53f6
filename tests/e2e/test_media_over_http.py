"""Images on posts (issue 9), over HTTP on the local stack.

A client asks the API for an upload form (POST /v1/media), uploads the file straight to S3 (the
stack's emulator) with it, and waits for the media processor's verdict (GET /v1/media/{id}).
Ready media go on posts; readers get each image as presigned GET URLs. The images here are real
ones, made with Pillow in memory; the hostile ones are made by hand.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import struct
import zlib

import boto3
import pytest
import requests
from PIL import Image

from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e

MAX_BYTES = 5_242_880
PREVIEW_EDGE = 680


# ---------------------------------------------------------------- images
def picture(width: int, height: int) -> Image.Image:
    """An RGB picture with something in it: two gradients and a Mandelbrot set."""
    red = Image.linear_gradient("L").rotate(90).resize((width, height))
    green = Image.linear_gradient("L").resize((width, height))
    blue = Image.effect_mandelbrot((width, height), (-2.0, -1.5, 1.0, 1.5), 64)
    return Image.merge("RGB", (red, green, blue))


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    return encoded(picture(width, height), "PNG")


def jpeg(width: int, height: int) -> bytes:
    data = encoded(picture(width, height), "JPEG", quality=90)
    with Image.open(io.BytesIO(data)) as img:  # the premise: no EXIF, so the original is kept as is
        assert not img.getexif() and "exif" not in img.info
    return data


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", binascii.crc32(kind + payload))


def decompression_bomb() -> bytes:
    """A well-formed PNG of a few hundred bytes whose header claims 100000x100000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = b"\x00" + b"\x00" * (100_000 // 8)  # filter byte + one row of zeros
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows * 4, 9))
            + _chunk(b"IEND", b""))


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# ---------------------------------------------------------------- the client's side
def error_of(resp: requests.Response) -> dict:
    return resp.json()["error"]


def request_upload(api, token: str, content_type: str, content_length: int) -> dict:
    resp = api.request("POST", "/v1/media", token,
                       json={"content_type": content_type, "content_length": content_length})
    assert resp.status_code == 201, resp.text
    return resp.json()


def send(form: dict, data: bytes, content_type: str, filename: str = "upload.bin") -> None:
    """The file, straight to S3 with the presigned POST."""
    upload = form["upload"]
    resp = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)},
                         timeout=60)
    assert resp.status_code == 204, resp.text


def upload(api, token: str, data: bytes, content_type: str, declared_length: int | None = None) -> str:
    """Request a form, send `data` with it; the media id (its check is still to come)."""
    form = request_upload(api, token, content_type, len(data) if declared_length is None else declared_length)
    send(form, data, content_type)
    return form["media_id"]


def media(api, token: str, media_id: str) -> dict:
    resp = api.request("GET", f"/v1/media/{media_id}", token)
    assert resp.status_code == 200, resp.text
    return resp.json()


def settled(api, token: str, media_id: str) -> dict:
    """The media once the processor has had its say."""
    return eventually(lambda: (m := media(api, token, media_id))["status"] != "pending" and m)


def ready(api, token: str, media_id: str) -> dict:
    item = settled(api, token, media_id)
    assert item["status"] == "ready", item
    return item


def post_with(api, token: str, media_ids: list[str], text: str = "") -> requests.Response:
    return api.request("POST", "/v1/tweets", token, json={"text": text, "media_ids": media_ids})


def fetch(url: str) -> requests.Response:
    return requests.get(url, timeout=30)


# ---------------------------------------------------------------- the bucket, as the emulator holds it
@pytest.fixture(scope="module")
def bucket(local_stack):
    """(S3 client, media bucket name) on the stack's emulator."""
    endpoint = next(m.group(1) for line in local_stack.lines
                    if (m := re.search(r"^\s*Emulator\s+(http://\S+)", line)))
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"] if "mediabucket" in b["Name"].lower()]
    assert len(names) == 1, names
    return s3, names[0]


def keys_about(bucket, media_id: str) -> list[str]:
    s3, name = bucket
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name)
            for o in page.get("Contents", [])]
    return [k for k in keys if media_id in k]


# ---------------------------------------------------------------- the tests
def test_given_a_png_and_a_jpeg_uploaded_when_posted_together_then_followers_see_both_in_order(api):
    author, author_token = api.new_user("painter")
    _, reader_token = api.new_user("viewer")
    api.follow(reader_token, author)
    png_data, jpeg_data = png(640, 480), jpeg(1600, 1200)

    # Given two uploads, both sent before either is checked
    png_form = request_upload(api, author_token, "image/png", len(png_data))
    jpeg_form = request_upload(api, author_token, "image/jpeg", len(jpeg_data))
    for form, content_type in ((png_form, "image/png"), (jpeg_form, "image/jpeg")):
        assert form["status"] == "pending" and form["content_type"] == content_type
        assert form["media_id"].isdigit() and form["max_bytes"] == MAX_BYTES
        assert form["created_at"] and form["upload"]["expires_at"]
    assert png_form["media_id"] != jpeg_form["media_id"]
    send(png_form, png_data, "image/png", "gradient.png")
    send(jpeg_form, jpeg_data, "image/jpeg", "photo.jpg")
    png_id, jpeg_id = png_form["media_id"], jpeg_form["media_id"]

    # Then both are found to be images, of the size they are
    png_media, jpeg_media = ready(api, author_token, png_id), ready(api, author_token, jpeg_id)
    assert (png_media["width"], png_media["height"], png_media["content_type"]) == (640, 480, "image/png")
    assert (jpeg_media["width"], jpeg_media["height"], jpeg_media["content_type"]) == (1600, 1200, "image/jpeg")
    assert png_media.get("post_id") is None and png_media.get("reason") is None

    # When they go on one post (with no text: the images say it all)
    resp = post_with(api, author_token, [png_id, jpeg_id])
    assert resp.status_code == 201, resp.text
    created = resp.json()
    post_id = created["id"]
    assert created["text"] == ""
    assert [m["media_id"] for m in created["media"]] == [png_id, jpeg_id]

    # Then a follower's home timeline shows the post with both images, in the order given
    def shown() -> dict | None:
        return next((item for item in api.timeline(reader_token) if item["id"] == post_id), None)

    item = eventually(shown)
    attached = item["media"]
    assert [m["media_id"] for m in attached] == [png_id, jpeg_id]
    expected = [(png_data, "image/png", (640, 480), (640, 480)),  # small enough: never upscaled
                (jpeg_data, "image/jpeg", (1600, 1200), (680, 510))]  # fitted into 680x680
    for m, (data, content_type, size, preview_size) in zip(attached, expected, strict=True):
        original, preview = m["original"], m["preview"]
        assert (original["content_type"], original["width"], original["height"]) == (content_type, *size)
        assert (preview["content_type"], preview["width"], preview["height"]) == ("image/webp", *preview_size)
        # The original is the upload, byte for byte (it carries no metadata to strip)
        got = fetch(original["url"])
        assert got.status_code == 200, got.text[:300]
        assert got.content == data
        assert got.headers.get("Content-Type") == content_type
        # The preview is a WebP of the advertised size, within the box
        got = fetch(preview["url"])
        assert got.status_code == 200, got.text[:300]
        img = decoded(got.content)
        assert img.format == "WEBP"
        assert img.size == preview_size
        assert img.width <= PREVIEW_EDGE and img.height <= PREVIEW_EDGE

    # And the author's own view of each upload now names the post
    for media_id in (png_id, jpeg_id):
        assert media(api, author_token, media_id)["post_id"] == post_id
    # The author's page carries the same images
    mine = eventually(lambda: next((t for t in api.user_tweets(author_token, author) if t["id"] == post_id), None))
    assert [m["media_id"] for m in mine["media"]] == [png_id, jpeg_id]


@pytest.mark.parametrize("case", ["type_mismatch", "not_an_image", "too_large", "too_many_pixels"])
def test_given_a_bad_upload_when_checked_then_it_is_rejected_with_a_reason_and_nothing_is_left(api, bucket, case):
    _, token = api.new_user("badup")
    if case == "type_mismatch":  # PNG bytes declared as JPEG
        media_id = upload(api, token, png(), "image/jpeg")
    elif case == "not_an_image":
        media_id = upload(api, token, b"just some words, not a picture\n" * 20, "image/png")
    elif case == "too_large":
        # A small size declared, a large file sent: the emulator takes it, the processor must not
        data = png()
        data += os.urandom(MAX_BYTES + 1000 - len(data))
        media_id = upload(api, token, data, "image/png", declared_length=len(png()))
    else:  # a decompression bomb: a few hundred bytes claiming 10^10 pixels
        data = decompression_bomb()
        assert len(data) < 2000
        media_id = upload(api, token, data, "image/png")

    item = settled(api, token, media_id)
    assert item["status"] == "rejected", item
    assert item["reason"] == case, item
    assert isinstance(item.get("message"), str) and item["message"], item
    assert item.get("original") is None and item.get("preview") is None, item
    # Nothing of it is left in the bucket: not the upload, not an original, not a preview
    eventually(lambda: keys_about(bucket, media_id) == [])


def test_given_media_that_cannot_be_attached_when_posted_then_each_is_refused_by_id_and_nothing_is_posted(api):
    author, token = api.new_user("attacher")
    _, other_token = api.new_user("neighbour")
    own = [upload(api, token, png(32 + i, 24), "image/png") for i in range(5)]
    theirs = upload(api, other_token, png(20, 20), "image/png")
    rejected = upload(api, token, b"not an image at all", "image/png")
    pending = request_upload(api, token, "image/png", 1234)["media_id"]  # a form never used
    unknown = "123456789012345"
    for media_id in own:
        ready(api, token, media_id)
    ready(api, other_token, theirs)
    assert settled(api, token, rejected)["status"] == "rejected"

    def refused(media_ids: list[str], status: int, code: str, culprit: str | None) -> None:
        resp = post_with(api, token, media_ids, "should not be posted")
        assert resp.status_code == status, resp.text
        error = error_of(resp)
        assert error["code"] == code, resp.text
        if culprit is not None:
            assert culprit in error["message"], resp.text
            assert error["details"]["media_id"] == culprit, resp.text

    # Someone else's media, even after one of mine that is fine
    refused([own[0], theirs], 403, "media_not_yours", theirs)
    # Five media: one too many
    refused(own, 422, "invalid_body", None)
    refused([unknown], 422, "media_not_found", unknown)
    refused([own[1], pending], 409, "media_not_ready", pending)
    refused([rejected], 422, "media_rejected", rejected)

    # None of those claimed anything: the media named alongside the culprits still go on a post
    resp = post_with(api, token, [own[0], own[1]], "the one that works")
    assert resp.status_code == 201, resp.text
    posted = resp.json()["id"]
    # ... and once on it, on no other
    refused([own[2], own[1]], 409, "media_in_use", own[1])
    assert media(api, token, own[2]).get("post_id") is None
    assert media(api, token, own[1])["post_id"] == posted

    # The author's page holds the one post, nothing from the refused requests
    eventually(lambda: [t["id"] for t in api.user_tweets(token, author)] == [posted])
    (shown,) = api.user_tweets(token, author)
    assert [m["media_id"] for m in shown["media"]] == [own[0], own[1]]


def test_given_an_upload_request_then_the_form_fixes_type_key_and_size_and_bad_requests_are_refused(api):
    _, token = api.new_user("former")

    too_big = api.request("POST", "/v1/media", token,
                          json={"content_type": "image/png", "content_length": MAX_BYTES + 1})
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "media_too_large", too_big.text
    svg = api.request("POST", "/v1/media", token, json={"content_type": "image/svg+xml", "content_length": 100})
    assert svg.status_code == 415 and error_of(svg)["code"] == "unsupported_media_type", svg.text
    empty = api.request("POST", "/v1/media", token, json={"content_type": "image/png", "content_length": 0})
    assert empty.status_code == 422, empty.text
    negative = api.request("POST", "/v1/media", token, json={"content_type": "image/png", "content_length": -5})
    assert negative.status_code == 422, negative.text
    anonymous = api.request("POST", "/v1/media", json={"content_type": "image/png", "content_length": 100})
    assert anonymous.status_code == 401, anonymous.text

    # The largest allowed file gets a form, and the form pins what S3 will take
    form = request_upload(api, token, "image/webp", MAX_BYTES)
    fields = form["upload"]["fields"]
    assert fields["key"].startswith("uploads/"), fields
    assert form["media_id"] in fields["key"], fields
    assert fields["Content-Type"] == "image/webp", fields
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, MAX_BYTES] in policy["conditions"], policy
    assert {"Content-Type": "image/webp"} in policy["conditions"], policy
    assert policy["expiration"], policy
    # The owner sees it pending; nobody else sees it at all
    assert media(api, token, form["media_id"])["status"] == "pending"
    _, other_token = api.new_user("snooper")
    theirs = api.request("GET", f"/v1/media/{form['media_id']}", other_token)
    assert theirs.status_code == 403 and error_of(theirs)["code"] == "media_not_yours", theirs.text
    nothing = api.request("GET", "/v1/media/123456789012345", token)
    assert nothing.status_code == 404 and error_of(nothing)["code"] == "media_not_found", nothing.text


def test_given_a_post_with_an_image_when_the_post_is_deleted_then_the_image_goes_too(api, bucket):
    _, token = api.new_user("deleter")
    media_id = upload(api, token, png(120, 90), "image/png")
    ready(api, token, media_id)
    resp = post_with(api, token, [media_id], "here today")
    assert resp.status_code == 201, resp.text
    post = resp.json()
    (attached,) = post["media"]
    original_url, preview_url = attached["original"]["url"], attached["preview"]["url"]
    assert fetch(original_url).status_code == 200
    assert fetch(preview_url).status_code == 200
    assert sorted(keys_about(bucket, media_id)) == [f"originals/{media_id}", f"variants/{media_id}/preview.webp"]

    api.delete_tweet(token, post["id"])
    # The URLs handed out before no longer reach anything, and the upload's record is gone
    eventually(lambda: fetch(original_url).status_code in (403, 404))
    eventually(lambda: fetch(preview_url).status_code in (403, 404))
    eventually(lambda: api.request("GET", f"/v1/media/{media_id}", token).status_code == 404)
    gone = api.request("GET", f"/v1/media/{media_id}", token)
    assert error_of(gone)["code"] == "media_not_found", gone.text
    assert keys_about(bucket, media_id) == []
