"""Every page of every route stays under Lambda's 6 MB response limit, by construction.

The largest item a page can hold is bounded by the text rules (timeline.text: 2,240 code
points a post, 200 a display name), four images with two presigned URLs each, and a repost
byline. The largest page is 100 items (the `limit` maximum). This test builds that page for
real, every field at its maximum and every character the costliest to serialize (astral
code points, which JSON escapes as 12 bytes), signs the URLs with a session token as long as
Lambda's, and measures what Lambda would count: the handler's whole result, serialized.
"""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
# One user-perceived character of 8 astral code points (a letter and 7 combining marks):
# 280 of them are a valid post of 2,240 code points, 26,880 bytes once JSON-escaped.
COSTLIEST_CHARACTER = "\U0001D400" + "\U0001D167" * 7
LONGEST_POST = COSTLIEST_CHARACTER * 280
LONGEST_NAME = ("\U0001D400" + "\U0001D167" * 3) * 50  # 50 characters, 200 code points
LAMBDA_SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + "x" * 2031  # STS tokens run to about 1,100 characters


def test_given_the_largest_possible_home_page_when_read_then_the_lambda_response_is_under_6_mb(h, monkeypatch):
    from timeline.records import READY, Media
    from timeline.store.media import MediaStore

    author = h.sign_up("author", display_name=LONGEST_NAME)
    reposter = h.sign_up("reposter", display_name=LONGEST_NAME)
    reader = h.sign_up("reader")
    h.follow(reader, "reposter")
    store: MediaStore = h.services.media._media
    media_ids = iter(range(10**15, 10**15 + 400))

    def four_ready_images() -> list[str]:
        ids = []
        for _ in range(4):
            media_id = next(media_ids)
            store.create(Media(media_id, author, "image/jpeg", "pending", created_at=h.user(author).created_at),
                         expires_at=2**31)
            store.mark_ready(media_id, width=65535, height=65535, preview_width=680, preview_height=680,
                             ready_at=h.user(author).created_at)
            ids.append(str(media_id))
        return ids

    for _ in range(100):
        post = h.request("POST", "/v1/tweets", as_user=author,
                         body={"text": LONGEST_POST, "media_ids": four_ready_images()})
        assert post.status == 201, post
        h.repost(reposter, post.body["id"])
    h.drain()
    assert store.get(10**15).status == READY

    # URLs signed as in Lambda, where the credentials carry a session token
    signer = boto3.client("s3", region_name="us-east-1", aws_access_key_id="ASIAEXAMPLEEXAMPLE12",
                          aws_secret_access_key="x" * 40, aws_session_token=LAMBDA_SESSION_TOKEN,
                          config=Config(signature_version="s3v4"))
    monkeypatch.setattr(store, "_s3", signer)
    store._urls.clear()

    page = h.home(reader, limit=100)
    assert page.status == 200 and len(page.body["items"]) == 100
    item = page.body["items"][0]
    assert item["repost"]["by"]["display_name"] == LONGEST_NAME and len(item["media"]) == 4
    assert LAMBDA_SESSION_TOKEN[:20] in item["media"][0]["original"]["url"]

    event_result = h.api.handler(_home_event(h, reader), _context())
    payload = len(json.dumps(event_result).encode())  # what Lambda counts: the result, serialized
    print(f"\nlargest home page: {payload:,} bytes as the Lambda result "
          f"({payload / LAMBDA_RESPONSE_LIMIT:.0%} of the 6 MB limit), {payload // 100:,} bytes an item")
    assert payload < LAMBDA_RESPONSE_LIMIT


def _home_event(h, reader: int) -> dict:
    import copy
    import uuid

    from tests.support.harness import sample_event
    event = copy.deepcopy(sample_event("api_home_timeline.json"))
    event["rawQueryString"] = "limit=100"
    event["queryStringParameters"] = {"limit": "100"}
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"username": str(reader), "token_use": "access"},
                                                     "scopes": None}}
    return event


def _context():
    from tests.support.harness import LambdaContext
    return LambdaContext("api")
