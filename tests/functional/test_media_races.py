"""Two runs of media_processor on one upload, on moto: S3 delivers notifications at least once,
and SQS redelivers a message whose run died, so two runs can check the same upload at once.

Each test has a "slow" run, in an execution environment of its own (a second copy of the
media_processor handler, as Lambda would run a second concurrent invocation), paused at one
step of its work while a "fast" run (the harness's copy, same record) checks the upload, the
owner posts it and the fan-out retags its original as attached. Whatever the interleaving,
a posted image must survive: its original keeps the attached=true tag (the bucket's
lifecycle rule deletes originals tagged attached=false a day after they were written).
"""

from __future__ import annotations

import io

import boto3
import pytest
from PIL import Image

from infra.runtime import template as tpl
from tests.support.harness import LambdaContext, _load


def png(width: int = 64, height: int = 48, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def tags(h, key: str) -> dict[str, str]:
    tag_set = boto3.client("s3").get_object_tagging(Bucket=h.bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def media_row(h, media_id: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName=h.settings.media_table,
                                             Key={"media_id": {"N": media_id}}, ConsistentRead=True)["Item"]


class Environment:
    """Another execution environment of media_processor: its own module, services and clients."""

    def __init__(self, h, name: str):
        self.module = _load(tpl.functions(tpl.load_sam())["MediaProcessorFunction"].code_dir, name)
        self.store = self.module.services.media_processor._media

    def run(self, records: list[dict]) -> dict:
        return self.module.handler({"Records": records}, LambdaContext("media_processor", 1024, 30))


@pytest.fixture
def slow(h, request):
    return Environment(h, f"media_app_slow_{request.node.name}")


@pytest.fixture
def alice(h):
    return h.sign_up("alice")



def pause(monkeypatch, store, step: str, when: str, meanwhile) -> list[str]:
    """Make `store.<step>` call `meanwhile()` once, before or after doing its work."""
    real, seen = getattr(store, step), []

    def paused(*args, **kwargs):
        if seen:
            return real(*args, **kwargs)
        seen.append(step)
        if when == "before":
            meanwhile()
            return real(*args, **kwargs)
        result = real(*args, **kwargs)
        meanwhile()
        return result
    monkeypatch.setattr(store, step, paused)
    return seen


# Every point of the slow run's work at which the fast run can overtake it: after it read the
# record (pending), after it read the bytes, before it writes the objects, before it settles.
STEPS = [("get", "after"), ("read_upload", "after"), ("put_checked", "before"), ("mark_ready", "before")]


@pytest.mark.parametrize("step, when", STEPS)
def test_given_two_runs_on_one_upload_when_one_is_overtaken_then_the_posted_image_keeps_its_attached_tag(
        h, alice, slow, monkeypatch, step, when):
    """Given a notification delivered twice, when the slower run is overtaken at `step` by the
    faster one, the owner's post and its fan-out, then the posted original is still tagged
    attached=true and holds the uploaded bytes once both runs are done."""
    data = png(320, 240)
    media_id = h.upload(alice, data, "image/png", process=False)
    records = h.media_records()
    posted: list[str] = []

    def fast_run_then_post():
        assert not h.run_media_processor(records).get("batchItemFailures")
        reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "mine", "media_ids": [media_id]})
        if reply.status == 201:  # the fast run settled it; else the slow run holds it (409 not ready)
            posted.append(reply.body["id"])
            h.drain()
            assert tags(h, f"originals/{media_id}") == {"attached": "true"}
        else:
            assert (reply.status, reply.error_code) == (409, "media_not_ready"), reply

    paused = pause(monkeypatch, slow.store, step, when, fast_run_then_post)
    assert not slow.run(records).get("batchItemFailures")
    if not paused:  # the slow run stopped before this step (the fast run settled it first)
        fast_run_then_post()
    if not posted:
        posted.append(h.post(alice, "mine", media_ids=[media_id]))
        h.drain()

    assert tags(h, f"originals/{media_id}") == {"attached": "true"}
    assert h.objects()[f"originals/{media_id}"] == data
    assert h.media_status(alice, media_id).body["status"] == "ready"
    assert h.request("GET", f"/v1/tweets/{posted[0]}", as_user=alice).body["media"][0]["media_id"] == media_id
    assert f"uploads/{alice}/{media_id}" not in h.objects()


def test_given_a_run_checking_an_upload_when_a_duplicate_arrives_then_it_writes_nothing_and_acknowledges(
        h, alice, slow, monkeypatch):
    """Given a run that has claimed an upload and is still checking it, when the duplicate
    notification is handled, then the duplicate writes no object, leaves the upload for the
    claimant to read, and is acknowledged; the owner still sees "pending" until the claimant
    is done."""
    media_id = h.upload(alice, png(), "image/png", process=False)
    records = h.media_records()
    seen: dict = {}

    def duplicate():
        before = h.objects()
        seen["result"] = h.run_media_processor(records)
        seen["written"] = sorted(set(h.objects()) - set(before))
        seen["upload_left"] = f"uploads/{alice}/{media_id}" in h.objects()
        seen["status"] = h.media_status(alice, media_id).body["status"]

    pause(monkeypatch, slow.store, "read_upload", "before", duplicate)
    assert not slow.run(records).get("batchItemFailures")
    assert seen == {"result": {"batchItemFailures": []}, "written": [], "upload_left": True, "status": "pending"}
    assert h.media_status(alice, media_id).body["status"] == "ready"


class Killed(BaseException):
    """The Lambda runtime stopping an invocation at its timeout: no except clause runs."""


def test_given_a_run_killed_mid_check_when_redelivered_then_it_waits_out_the_timeout_and_then_settles_it(
        h, alice, slow, monkeypatch, clock):
    """Given a run killed by its timeout after writing the original but before settling,
    when its message comes back (SQS redelivers after the visibility timeout) then a redelivery
    within the function's timeout leaves the claim alone, and one after it takes the claim
    over and makes the upload ready: nothing the queue has delivered is lost."""
    from timeline.service import media as media_service

    data = png(200, 100)
    media_id = h.upload(alice, data, "image/png", process=False)
    records = h.media_records()
    real_put = slow.store.put_checked

    def put_then_die(*args, **kwargs):
        real_put(*args, **kwargs)
        raise Killed()
    monkeypatch.setattr(slow.store, "put_checked", put_then_die)
    with pytest.raises(Killed):
        slow.run(records)
    assert h.media_status(alice, media_id).body["status"] == "pending"

    # A duplicate within the claim's life: nothing happens, and it is acknowledged.
    clock.advance(ms=media_service.CLAIM_SECONDS * 1000 - 2000)
    assert not h.run_media_processor(records).get("batchItemFailures")
    assert h.media_status(alice, media_id).body["status"] == "pending"

    # The killed run's own message, redelivered after the visibility timeout.
    clock.advance(ms=3000)
    assert not h.run_media_processor(records).get("batchItemFailures")
    assert h.media_status(alice, media_id).body["status"] == "ready"
    assert h.objects()[f"originals/{media_id}"] == data
    assert set(media_row(h, media_id)) >= {"ready_at", "width"}
    assert not {"claimed_at", "claimed_by"} & set(media_row(h, media_id))
    post_id = h.post(alice, "after all", media_ids=[media_id])
    h.drain()
    assert tags(h, f"originals/{media_id}") == {"attached": "true"}
    assert h.request("GET", f"/v1/tweets/{post_id}", as_user=alice).status == 200


def test_the_claim_outlives_the_processors_timeout_and_expires_before_the_queue_redelivers(h):
    """Given the template, then a claim is takeable only once the run that took it must have
    stopped (MediaProcessorFunction's Timeout), and before its message comes back (MediaQueue's
    VisibilityTimeout, counted from the receive, which is up to a timeout before the claim):
    a killed run's redelivery always finds the claim takeable."""
    from timeline.service import media as media_service

    sam = tpl.load_sam()
    timeout = tpl.functions(sam)["MediaProcessorFunction"].timeout
    visibility = int(sam["Resources"]["MediaQueue"]["Properties"]["VisibilityTimeout"])
    assert timeout == media_service.PROCESSOR_TIMEOUT_SECONDS
    assert timeout < media_service.CLAIM_SECONDS <= visibility - timeout
