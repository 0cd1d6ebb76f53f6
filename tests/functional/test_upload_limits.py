"""Upload forms cost the caller what they cost the service (issue 22, finding 6).

Each form (POST /v1/media) is a presigned POST for up to MediaMaxBytes, usable for ten minutes,
and each upload wakes the 1 GB media_processor. So an account gets at most UploadFormsPerMinute
forms a minute (counted in the transaction that records the pending upload: a refused form
counts nothing), and has at most MaxPendingUploads uploads pending at once: a form's upload is
pending until it is checked (ready or rejected), or, if it never comes (the form unused, the
processor never run), until its form has lapsed and a last-second upload would have been
checked, so the cap frees itself. Past either, 429 with Retry-After and nothing recorded.
"""

from __future__ import annotations

import io

import boto3
import pytest
from PIL import Image

from tests.support.harness import to_next_window

PNG_SIZE = 100


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()



@pytest.fixture
def alice(h):
    return h.sign_up("alice")



def form(h, user: int):
    return h.start_upload(user, "image/png", PNG_SIZE)


def granted(h, user: int) -> dict:
    reply = form(h, user)
    assert reply.status == 201, reply
    return reply.body


def send(h, body: dict, data: bytes) -> None:
    """The client's upload with the form (as the presigned POST would put it), then the check."""
    boto3.client("s3").put_object(Bucket=h.bucket, Key=body["upload"]["fields"]["key"], Body=data,
                                  ContentType="image/png")
    h.process_media()


def media_ids(h) -> set[str]:
    """The media records (an account's list of pending uploads, under a negative key, is none)."""
    rows = boto3.client("dynamodb").scan(TableName=h.settings.media_table)["Items"]
    return {r["media_id"]["N"] for r in rows if int(r["media_id"]["N"]) > 0}


def test_given_the_template_then_the_upload_limits_are_parameters_with_the_documented_defaults(h):
    from infra.runtime import template as tpl
    params = tpl.load_sam()["Parameters"]
    assert params["UploadFormsPerMinute"]["Default"] == 10
    assert params["MaxPendingUploads"]["Default"] == 8
    assert params["MaxPendingUploads"]["MinValue"] == 4  # always room for a full post's four images
    assert (h.settings.upload_forms_per_minute, h.settings.max_pending_uploads) == (10, 8)


def test_given_ten_forms_this_minute_when_another_is_requested_then_429_rate_limited_and_nothing_recorded(h, alice,
                                                                                                       clock):
    """Given ten uploads this minute, each sent and checked (none pending), when an eleventh
    form is asked for, then 429 rate_limited with Retry-After within the minute, no media is
    recorded and no form signed; another account has its own minute, and the next minute
    the account gets forms again."""
    to_next_window()
    for _ in range(10):
        send(h, granted(h, alice), png())
    before = media_ids(h)
    # When
    reply = form(h, alice)
    # Then
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert "10 upload forms a minute" in reply.body["error"]["message"]
    assert "upload" not in reply.body
    assert media_ids(h) == before
    assert form(h, h.sign_up("bob")).status == 201
    to_next_window()
    assert form(h, alice).status == 201


def test_given_eight_uploads_pending_when_another_form_is_requested_then_429_until_one_is_checked(h, alice, clock):
    """Given eight forms whose uploads are not checked yet (the default MaxPendingUploads),
    when a ninth is asked for, then 429 too_many_pending_uploads, with a Retry-After no later
    than the oldest form's lapse plus a check, and a message saying what to do; once one of the
    eight is checked (ready or rejected) its place is free."""
    to_next_window()
    pending = [granted(h, alice) for _ in range(8)]
    # When
    reply = form(h, alice)
    # Then
    assert (reply.status, reply.error_code) == (429, "too_many_pending_uploads"), reply
    assert 600 <= int(reply.headers["Retry-After"]) <= 660, reply.headers
    message = reply.body["error"]["message"]
    assert "8 uploads" in message and "send" in message and "10 minutes" in message, message
    assert len(media_ids(h)) == 8
    # A checked upload (ready) frees its place
    send(h, pending[0], png())
    assert h.media_status(alice, pending[0]["media_id"]).body["status"] == "ready"
    pending.append(granted(h, alice))
    assert form(h, alice).error_code == "too_many_pending_uploads"
    # So does a rejected one
    to_next_window()  # (eleven forms asked for: a new minute)
    send(h, pending[1], b"not an image")
    assert h.media_status(alice, pending[1]["media_id"]).body["status"] == "rejected"
    assert form(h, alice).status == 201
    assert form(h, alice).error_code == "too_many_pending_uploads"
    # Another account has its own
    assert form(h, h.sign_up("bob")).status == 201


def test_given_forms_never_used_when_they_have_lapsed_then_the_cap_frees_itself(h, alice, clock):
    """Given eight forms never used (no upload, so the processor never runs for them), when
    Retry-After seconds have passed (the forms lapsed, and an upload at their last second would
    have been checked), then forms are granted again: nothing has to settle them."""
    to_next_window()
    for _ in range(8):
        granted(h, alice)
    refused = form(h, alice)
    assert refused.error_code == "too_many_pending_uploads"
    retry_after = int(refused.headers["Retry-After"])
    # Not before
    clock.advance(ms=(retry_after - 5) * 1000)
    assert form(h, alice).error_code == "too_many_pending_uploads"
    # When the time is up
    clock.advance(ms=5000)
    # Then
    assert form(h, alice).status == 201
    # And the account's list (one item, under -account id) expires (TTL) with its newest upload's count
    (listed,) = [r for r in boto3.client("dynamodb").scan(TableName=h.settings.media_table)["Items"]
                 if r["media_id"]["N"] == str(-alice)]
    counted = {int(until["N"]) for until in listed["counted_until"]["M"].values()}
    assert len(counted) >= 1 and int(listed["expires_at"]["N"]) == max(counted) > clock.now_s()


def test_given_seven_pending_when_two_forms_are_requested_at_once_then_one_is_granted_and_never_nine(h, alice,
                                                                                                monkeypatch):
    """Given seven pending uploads, when two forms are asked for at once (the second lands
    between the first's look at the account's pending uploads and its write), then one is
    granted and the other refused: the cap holds under races (the write is conditional)."""
    from timeline import ids
    for _ in range(7):
        granted(h, alice)
    real_new_id, raced = ids.new_id, []

    def racing_new_id():
        if not raced:
            raced.append("under way")
            raced.append(h.services.media.start_upload(alice, "image/png", PNG_SIZE))
        return real_new_id()
    monkeypatch.setattr(ids, "new_id", racing_new_id)
    # When
    reply = form(h, alice)
    # Then
    assert len(raced) == 2  # the other request got its form
    assert (reply.status, reply.error_code) == (429, "too_many_pending_uploads"), reply
    assert len(media_ids(h)) == 8


@pytest.mark.stack(UploadFormsPerMinute="3", MaxPendingUploads="4")
def test_given_refused_forms_then_they_used_up_neither_the_minute_nor_a_pending_place(h, alice, clock):
    """Given the parameters lowered, a form refused for the minute takes no pending place, and
    forms refused for the pending cap do not count against the minute."""
    to_next_window()
    first = [granted(h, alice) for _ in range(3)]
    assert form(h, alice).error_code == "rate_limited"  # the minute (3) is full
    to_next_window()
    granted(h, alice)  # the fourth pending: the refused form took no place
    for _ in range(3):  # three refusals for the cap: had they counted, the minute would be full
        assert form(h, alice).error_code == "too_many_pending_uploads"
    send(h, first[0], png())
    assert form(h, alice).status == 201
