"""Hostile input on every route: each case is a 4xx JSON error, and nothing changes.

Given a small world (alice and carol follow bob, bob has two posts, alice has a pending
upload), each case sends one hostile request through the api handler (a real payload 2.0
event on moto) and checks the same promise:

  * the status is a 4xx: never a 5xx, never a 2xx;
  * the body is JSON {"error": {"code": str, "message": str, ...}} with a JSON content type;
  * nothing changed: every table of the stack (all items), every queue's visible messages,
    the media bucket's keys and the user pool's users are the same before and after.

Cases are rows of one table (`CASES`), grouped by kind of attack; `test_every_route_is_attacked`
keeps the table honest about covering every HttpApi route of template.yaml. Where the right
status is not a matter of taste (413 for a body over the api's 32 KiB limit counted in bytes, 415 for a body
that is not declared JSON) the row pins it; otherwise any 4xx will do.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from infra.runtime import template as tpl

pytestmark = pytest.mark.timeout(120)  # nothing may hang; no timing is asserted

PASSWORD = "correct-horse-battery-9"
KIB16 = 16 * 1024  # the body limit first asked for; the api now allows 32 KiB (see OVERSIZED)


def raw_json(obj: Any) -> str:
    """JSON text as a client would send it: UTF-8 characters as they are (not \\u escapes),
    so the body's size in bytes is larger than its length in characters."""
    return json.dumps(obj, ensure_ascii=False)


# ------------------------------------------------------------------ the world


@dataclass
class World:
    h: Any
    alice: int
    bob: int
    carol: int
    tweet: str  # bob's latest post
    media: str  # alice's pending upload

    def cursor(self, reader: int, path: str) -> str:
        """A real next_cursor: the first page (limit 1) of a list that has two entries."""
        reply = self.h.request("GET", path, as_user=reader, query={"limit": 1})
        assert reply.status == 200 and reply.body["next_cursor"], reply
        return reply.body["next_cursor"]


@pytest.fixture
def world(h) -> World:
    """Given alice and carol following bob, bob's two posts fanned out, and a pending upload of alice's."""
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    h.follow(alice, "bob")
    h.follow(carol, "bob")
    h.post(bob, "first")
    tweet = h.post(bob, "second")
    h.drain()
    media = h.start_upload(alice, "image/png", 1234)
    assert media.status == 201, media
    return World(h, alice, bob, carol, tweet, media.body["media_id"])


# ------------------------------------------------------------------ the state that must not change


def snapshot(h) -> dict[str, Any]:
    """Everything a request could change: every item of every table, every queue's visible
    message count, the media bucket's keys and the pool's users. The tables are tiny."""
    outputs = h.stack.outputs
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    state: dict[str, Any] = {}
    for name in sorted(k for k in outputs if k.endswith("TableName")):
        items = [item for page in ddb.get_paginator("scan").paginate(TableName=outputs[name])
                 for item in page["Items"]]
        state[name] = sorted(json.dumps(item, sort_keys=True) for item in items)
    for name in sorted(k for k in outputs if k.endswith("QueueUrl")):
        attrs = sqs.get_queue_attributes(QueueUrl=outputs[name],
                                         AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        state[name] = int(attrs["ApproximateNumberOfMessages"])
    state["bucket"] = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(
        Bucket=h.bucket).get("Contents", []))
    pool = boto3.client("cognito-idp").describe_user_pool(UserPoolId=h.stack.user_pool_id)["UserPool"]
    state["pool_users"] = pool["EstimatedNumberOfUsers"]  # the pool outlives Harness.reset: compare counts
    return state


def diff(before: dict, after: dict) -> dict:
    out = {}
    for key in before.keys() | after.keys():
        b, a = before.get(key), after.get(key)
        if b != a:
            if isinstance(b, list) and isinstance(a, list):
                out[key] = {"added": sorted(set(a) - set(b))[:5], "removed": sorted(set(b) - set(a))[:5]}
            else:
                out[key] = {"before": b, "after": a}
    return out


# ------------------------------------------------------------------ one hostile request


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # "{tweet}" and "{media}" stand for the world's post and upload
    user: str | None = "alice"  # who signs the request (None: no token, for the auth routes)
    body: Any = None  # sent as json.dumps(body): ASCII, non-ASCII as \\u escapes
    raw: str | None = None  # sent as is (a str: the body API Gateway decoded as UTF-8 text)
    raw_bytes: bytes | None = None  # sent base64-encoded with isBase64Encoded (bytes that are not UTF-8)
    query: dict | Callable[[World], dict] | None = None
    raw_query: str | None = None  # rawQueryString, with queryStringParameters as API Gateway derives it
    headers: dict = field(default_factory=dict)
    drop_headers: tuple[str, ...] = ()
    expect: int | None = None  # a pinned status; None: any 4xx

    def param(self):
        return pytest.param(self, id=self.id)


def C(*args, **kw) -> Any:
    return Case(*args, **kw).param()


def send(world: World, case: Case, monkeypatch):
    h = world.h
    path = case.path.replace("{tweet}", world.tweet).replace("{media}", world.media)
    query = case.query(world) if callable(case.query) else case.query
    user = {"alice": world.alice, "bob": world.bob, "carol": world.carol, None: None}[case.user]

    def tweak(event: dict) -> None:
        for name in case.drop_headers:
            event["headers"].pop(name, None)
        if case.raw_bytes is not None:
            event["body"] = base64.b64encode(case.raw_bytes).decode()
            event["isBase64Encoded"] = True
        if case.raw_query is not None:
            event["rawQueryString"] = case.raw_query
            params: dict[str, str] = {}
            for pair in case.raw_query.split("&"):
                name, _, value = pair.partition("=")
                params[name] = f"{params[name]},{value}" if name in params else value  # as API Gateway joins repeats
            event["queryStringParameters"] = params

    real = h.api.handler
    monkeypatch.setattr(h.api, "handler", lambda event, context: real(tweak(event) or event, context))
    if case.raw_bytes is not None:
        body = {"raw_body": ""}  # a body-carrying event; tweak() puts the bytes in
    elif case.raw is not None:
        body = {"raw_body": case.raw}
    elif case.body is not None:
        body = {"body": case.body}
    else:
        body = {}
    return h.request(case.method, path, as_user=user, query=query, headers=case.headers, **body)


# ------------------------------------------------------------------ the table

EURO = "\u20ac"  # 3 bytes in UTF-8
ZWJ = "\u200d"  # 3 bytes, and it joins the character before: "a" + ZWJ * n is ONE perceived character
SIGNUP = {"handle": "mallory", "password": PASSWORD, "display_name": "Mallory"}
BIG_ID = "18446744073709551616"  # 2**64: one past the largest 64-bit id
ID_25 = "1234567890123456789012345"


def signup_with(**fields) -> dict:
    return {**SIGNUP, **fields}


def signup_escaped(name: str, escaped: str) -> str:
    """A sign-up body whose field `name` is the JSON string literal `escaped` (\\u escapes kept)."""
    parts = {**{k: json.dumps(v) for k, v in SIGNUP.items()}, name: f'"{escaped}"'}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}"


def deep_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_objects(depth: int) -> str:
    return '{"":' * depth + "1" + "}" * depth


MULTIPART = ('--XyZ\r\nContent-Disposition: form-data; name="handle"\r\n\r\nmallory\r\n'
             '--XyZ\r\nContent-Disposition: form-data; name="password"\r\n\r\n' + PASSWORD + '\r\n'
             '--XyZ\r\nContent-Disposition: form-data; name="display_name"\r\n\r\nMallory\r\n--XyZ--\r\n')

OVERSIZED = [
    # Over the api's body limit (32 KiB, counted in bytes: Lambda counts its payload in bytes)
    # though far under it in characters: 12,000 characters of 3 bytes are 36 KB on the wire.
    C("oversized-signup-display-name-12000-euro-signs-36kb", "POST", "/v1/auth/signup", None,
      raw=raw_json(signup_with(display_name=EURO * 12_000)), expect=413),
    C("oversized-post-one-perceived-character-of-36kb", "POST", "/v1/tweets",
      raw=raw_json({"text": "a" + ZWJ * 12_000}), expect=413),
    C("oversized-post-text-as-8500-4-byte-emoji-34kb", "POST", "/v1/tweets",
      raw=raw_json({"text": "\U0001F600" * 8500}), expect=413),
    C("oversized-token-password-40000-ascii", "POST", "/v1/auth/token", None,
      body={"handle": "alice", "password": "x" * 40_000}, expect=413),
    C("oversized-refresh-token-40000-ascii", "POST", "/v1/auth/refresh", None,
      body={"refresh_token": "x" * 40_000}, expect=413),
    C("oversized-follow-padding-12000-euro-signs", "POST", "/v1/users/bob/follow",
      raw=raw_json({"reposts": True, "pad": EURO * 12_000}), expect=413),
    C("oversized-media-padding-12000-euro-signs", "POST", "/v1/media",
      raw=raw_json({"content_type": "image/png", "content_length": 10, "pad": EURO * 12_000}), expect=413),
    C("oversized-body-on-delete-tweet", "DELETE", "/v1/tweets/{tweet}",
      raw=raw_json({"pad": EURO * 12_000}), expect=413),
    C("oversized-body-on-get-profile", "GET", "/v1/users/bob", raw=" " * (2 * KIB16 + 1), expect=413),
    C("oversized-body-on-signout", "POST", "/v1/auth/signout", raw=raw_json({"pad": EURO * 12_000}), expect=413),
    # Over 16 KiB in bytes, under 16,384 characters: refused one way or another (a 4xx)
    C("over-16kib-post-one-perceived-character-of-18kb", "POST", "/v1/tweets",
      raw=raw_json({"text": "a" + ZWJ * 6000})),
    C("over-16kib-signup-display-name-6000-euro-signs-18kb", "POST", "/v1/auth/signup", None,
      raw=raw_json(signup_with(display_name=EURO * 6000))),
    C("over-16kib-confirm-code-6000-euro-signs-18kb", "POST", "/v1/auth/confirm", None,
      raw=raw_json({"handle": "alice", "code": EURO * 6000})),
]

DEEPLY_NESTED = [
    C("nested-post-body-arrays-5000-deep", "POST", "/v1/tweets", raw=deep_arrays(5000)),
    C("nested-post-text-arrays-5000-deep", "POST", "/v1/tweets", raw='{"text": ' + deep_arrays(5000) + "}"),
    C("nested-signup-handle-objects-3000-deep", "POST", "/v1/auth/signup", None,
      raw='{"handle": ' + deep_objects(3000) + "}"),
    C("nested-follow-body-arrays-5000-deep", "POST", "/v1/users/bob/follow", raw=deep_arrays(5000)),
    C("nested-token-password-arrays-5000-deep", "POST", "/v1/auth/token", None,
      raw='{"handle": "alice", "password": ' + deep_arrays(5000) + "}"),
    C("nested-media-objects-5000-deep", "POST", "/v1/media", raw=deep_objects(5000)),
    C("nested-post-media-ids-arrays-4000-deep", "POST", "/v1/tweets",
      raw='{"text": "hi", "media_ids": ' + deep_arrays(4000) + "}"),
]

INVALID_UTF8 = [
    C("utf8-post-text-ff-fe", "POST", "/v1/tweets", raw_bytes=b'{"text": "hi \xff\xfe"}'),
    C("utf8-post-text-overlong-slash", "POST", "/v1/tweets", raw_bytes=b'{"text": "a\xc0\xafb"}'),
    C("utf8-signup-display-name-cesu-surrogate", "POST", "/v1/auth/signup", None,
      raw_bytes=json.dumps(SIGNUP).encode().replace(b'"Mallory"', b'"M\xed\xa0\x80"')),
    C("utf8-signup-handle-truncated-sequence", "POST", "/v1/auth/signup", None,
      raw_bytes=json.dumps(SIGNUP).encode().replace(b'"mallory"', b'"mal\xe2\x82"')),
    C("utf8-token-password-stray-continuation-byte", "POST", "/v1/auth/token", None,
      raw_bytes=b'{"handle": "alice", "password": "correct-horse\x80battery-9"}'),
    C("utf8-follow-body-in-utf16", "POST", "/v1/users/bob/follow",
      raw_bytes='{"reposts": false}'.encode("utf-16")),
    C("utf8-media-content-type-latin1", "POST", "/v1/media",
      raw_bytes=b'{"content_type": "image/png\xe9", "content_length": 10}'),
]

LONE_SURROGATES = [
    C("surrogate-post-text-high", "POST", "/v1/tweets", raw='{"text": "hi \\ud800"}'),
    C("surrogate-post-text-low", "POST", "/v1/tweets", raw='{"text": "\\udfff there"}'),
    C("surrogate-post-text-half-an-emoji", "POST", "/v1/tweets", raw='{"text": "smile \\ud83d"}'),
    C("surrogate-signup-handle", "POST", "/v1/auth/signup", None, raw=signup_escaped("handle", "mal\\ud800")),
    C("surrogate-signup-display-name", "POST", "/v1/auth/signup", None,
      raw=signup_escaped("display_name", "Eve \\ud83d")),
    C("surrogate-signup-password", "POST", "/v1/auth/signup", None,
      raw=signup_escaped("password", "password-9\\udc00")),
    C("surrogate-token-handle", "POST", "/v1/auth/token", None,
      raw='{"handle": "\\ud800", "password": "' + PASSWORD + '"}'),
    C("surrogate-token-password", "POST", "/v1/auth/token", None,
      raw='{"handle": "alice", "password": "correct-horse-\\ud800"}'),
    C("surrogate-media-content-type", "POST", "/v1/media",
      raw='{"content_type": "image/png\\ud800", "content_length": 10}'),
]

DISPLAY_NAME_CONTROLS = [
    C("display-name-bell", "POST", "/v1/auth/signup", None, body=signup_with(display_name="Eve\x07")),
    C("display-name-ansi-escape", "POST", "/v1/auth/signup", None, body=signup_with(display_name="Eve\x1b[31mred")),
    C("display-name-nul", "POST", "/v1/auth/signup", None, body=signup_with(display_name="a\x00b")),
    C("display-name-newline", "POST", "/v1/auth/signup", None, body=signup_with(display_name="alice\nadmin")),
    C("display-name-rlo-u202e", "POST", "/v1/auth/signup", None, body=signup_with(display_name="\u202eecila")),
    C("display-name-lri-u2066-pdi", "POST", "/v1/auth/signup", None,
      body=signup_with(display_name="\u2066alice\u2069")),
    C("display-name-only-zero-width-space", "POST", "/v1/auth/signup", None,
      body=signup_with(display_name="\u200b\u200b")),
    C("display-name-noncharacter-uffff", "POST", "/v1/auth/signup", None,
      body=signup_with(display_name="Eve\uffff")),
]

INVISIBLE_POSTS = [
    C("post-only-zero-width-and-bom", "POST", "/v1/tweets", body={"text": "\u200b\u200d\u2060\ufeff"}),
    C("post-only-bidi-controls", "POST", "/v1/tweets", body={"text": "\u202e\u2066\u2069\u202c"}),
    C("post-zero-width-spaces-and-blanks", "POST", "/v1/tweets", body={"text": "\u200b " * 10}),
    C("post-only-format-characters", "POST", "/v1/tweets", body={"text": "\u00ad\u180e\u061c\u2060"}),
]

NONCHARACTERS = [
    C("post-noncharacter-ufffe", "POST", "/v1/tweets", body={"text": "hi \ufffe"}),
    C("post-noncharacter-ufdd0", "POST", "/v1/tweets", body={"text": "hi \ufdd0"}),
    C("post-noncharacter-plane16-u10ffff", "POST", "/v1/tweets", body={"text": "hi \U0010ffff"}),
]

CONTENT_TYPES = [
    C("ctype-post-text-plain", "POST", "/v1/tweets", raw='{"text": "hi"}',
      headers={"Content-Type": "text/plain"}, expect=415),
    C("ctype-post-form-urlencoded", "POST", "/v1/tweets", raw="text=hi",
      headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=415),
    C("ctype-signup-multipart", "POST", "/v1/auth/signup", None, raw=MULTIPART,
      headers={"Content-Type": "multipart/form-data; boundary=XyZ"}, expect=415),
    C("ctype-token-missing", "POST", "/v1/auth/token", None,
      body={"handle": "alice", "password": PASSWORD}, drop_headers=("content-type",), expect=415),
    C("ctype-media-text-plain", "POST", "/v1/media", body={"content_type": "image/png", "content_length": 10},
      headers={"Content-Type": "text/plain"}, expect=415),
    C("ctype-follow-form-urlencoded", "POST", "/v1/users/bob/follow", raw="reposts=false",
      headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=415),
    C("ctype-post-missing", "POST", "/v1/tweets", body={"text": "hi"}, drop_headers=("content-type",), expect=415),
    C("ctype-post-xml", "POST", "/v1/tweets", raw="<text>hi</text>",
      headers={"Content-Type": "application/xml"}, expect=415),
]

DUPLICATE_KEYS = [
    C("dupkey-post-text", "POST", "/v1/tweets", raw='{"text": "a", "text": "b"}'),
    C("dupkey-signup-handle", "POST", "/v1/auth/signup", None,
      raw='{"handle": "alice", "handle": "mallory", "password": "' + PASSWORD + '", "display_name": "M"}'),
    C("dupkey-follow-reposts", "POST", "/v1/users/bob/follow", raw='{"reposts": true, "reposts": false}'),
    C("dupkey-media-content-type", "POST", "/v1/media",
      raw='{"content_type": "image/svg+xml", "content_type": "image/png", "content_length": 10}'),
    C("dupkey-token-password", "POST", "/v1/auth/token", None,
      raw='{"handle": "alice", "password": "wrong", "password": "' + PASSWORD + '"}'),
]

LIMITS = [
    C("limit-huge-on-home", "GET", "/v1/timeline", query={"limit": "9" * 30}),
    C("limit-negative-on-followers", "GET", "/v1/users/bob/followers", query={"limit": -1}),
    C("limit-zero-on-following", "GET", "/v1/users/alice/following", query={"limit": 0}),
    C("limit-fraction-on-user-tweets", "GET", "/v1/users/bob/tweets", query={"limit": "2.5"}),
    C("limit-word-on-my-blocks", "GET", "/v1/me/blocks", query={"limit": "ten"}),
    C("limit-exponent-on-my-mutes", "GET", "/v1/me/mutes", query={"limit": "1e2"}),
    C("limit-empty-on-home", "GET", "/v1/timeline", query={"limit": ""}),
    C("limit-nan-on-home", "GET", "/v1/timeline", query={"limit": "NaN"}),
    C("limit-hex-on-user-tweets", "GET", "/v1/users/bob/tweets", query={"limit": "0x10"}),
    C("limit-repeated-on-home", "GET", "/v1/timeline", raw_query="limit=5&limit=500"),
]

CURSORS = [
    C("cursor-home-truncated", "GET", "/v1/timeline",
      query=lambda w: {"cursor": w.cursor(w.alice, "/v1/timeline")[:-7]}),
    C("cursor-home-edited-payload-with-plausible-tag", "GET", "/v1/timeline",
      query=lambda w: {"cursor": base64.urlsafe_b64encode(json.dumps(
          {"r": str(w.alice), "s": "home", "p": ["1", 0]}, separators=(",", ":")).encode()).rstrip(b"=").decode()
          + "." + w.cursor(w.alice, "/v1/timeline").split(".")[1][::-1]}),
    C("cursor-home-of-another-reader", "GET", "/v1/timeline",
      query=lambda w: {"cursor": w.cursor(w.bob, "/v1/timeline")}),
    C("cursor-followers-of-another-reader", "GET", "/v1/users/bob/followers", "carol",
      query=lambda w: {"cursor": w.cursor(w.alice, "/v1/users/bob/followers")}),
    C("cursor-followers-used-on-following", "GET", "/v1/users/bob/following",
      query=lambda w: {"cursor": w.cursor(w.alice, "/v1/users/bob/followers")}),
    C("cursor-user-tweets-used-on-home", "GET", "/v1/timeline",
      query=lambda w: {"cursor": w.cursor(w.alice, "/v1/users/bob/tweets")}),
    C("cursor-user-tweets-garbage", "GET", "/v1/users/bob/tweets", query={"cursor": "AAAA.BBBB"}),
    C("cursor-my-blocks-non-ascii-tag", "GET", "/v1/me/blocks", query={"cursor": "eyJyIjoiMSJ9.\u00e9\u00e9\u00e9"}),
    C("cursor-my-mutes-two-dots", "GET", "/v1/me/mutes", query={"cursor": "a.b.c"}),
    C("cursor-home-nul-byte", "GET", "/v1/timeline", query={"cursor": "eyJ9\x00.AAAA"}),
    C("cursor-user-tweets-513-chars", "GET", "/v1/users/bob/tweets", query={"cursor": "A" * 500 + ".AAAAAAAAAAAA"}),
    C("cursor-home-not-base64", "GET", "/v1/timeline", query={"cursor": "!!!!.????"}),
]

IDS = [
    C("id-tweet-2-to-the-64-get", "GET", f"/v1/tweets/{BIG_ID}"),
    C("id-tweet-25-digits-delete", "DELETE", f"/v1/tweets/{ID_25}"),
    C("id-tweet-negative-repost", "POST", "/v1/tweets/-1/repost"),
    C("id-tweet-leading-plus-unrepost", "DELETE", "/v1/tweets/+{tweet}/repost"),
    C("id-tweet-2-to-the-64-repost", "POST", f"/v1/tweets/{BIG_ID}/repost"),
    C("id-tweet-2-to-the-64-unrepost", "DELETE", f"/v1/tweets/{BIG_ID}/repost"),
    C("id-tweet-negative-like", "POST", "/v1/tweets/-1/like"),
    C("id-tweet-2-to-the-64-like", "POST", f"/v1/tweets/{BIG_ID}/like"),
    C("id-tweet-leading-plus-unlike", "DELETE", "/v1/tweets/+{tweet}/like"),
    C("id-tweet-25-digits-unlike", "DELETE", f"/v1/tweets/{ID_25}/like"),
    C("id-tweet-2-to-the-64-replies", "GET", f"/v1/tweets/{BIG_ID}/replies"),
    C("limit-zero-on-replies", "GET", "/v1/tweets/{tweet}/replies", query={"limit": "0"}),
    C("cursor-home-used-on-replies", "GET", "/v1/tweets/{tweet}/replies",
      query=lambda w: {"cursor": w.cursor(w.alice, "/v1/timeline")}),
    C("me-without-a-token", "GET", "/v1/me", user=None, expect=401),
    C("me-without-a-token-but-a-forged-header", "GET", "/v1/me", user=None,
      headers={"authorization": "Bearer not-a-token"}, expect=401),
    C("id-tweet-fullwidth-digits-get", "GET", "/v1/tweets/\uff11\uff12\uff13"),
    C("id-tweet-decimal-point-get", "GET", "/v1/tweets/{tweet}.0"),
    C("id-media-2-to-the-64", "GET", f"/v1/media/{BIG_ID}"),
    C("id-media-negative", "GET", "/v1/media/-{media}"),
    C("id-media-leading-plus", "GET", "/v1/media/+{media}"),
    C("id-post-reply-to-2-to-the-64", "POST", "/v1/tweets", body={"text": "hi", "reply_to_id": BIG_ID}),
    C("id-post-reply-to-as-json-number", "POST", "/v1/tweets",
      raw='{"text": "hi", "reply_to_id": 18446744073709551616}'),
    C("id-post-media-ids-25-digits", "POST", "/v1/tweets", body={"text": "hi", "media_ids": [ID_25]}),
    C("id-post-reply-to-leading-plus", "POST", "/v1/tweets", body={"text": "hi", "reply_to_id": "+1"}),
]

PATHS = [
    C("path-traversal-encoded-slashes-follow", "POST", "/v1/users/..%2F..%2Fv1%2Ftimeline/follow"),
    C("path-nul-in-handle-get", "GET", "/v1/users/bob%00"),
    C("path-dot-dot-encoded-block", "POST", "/v1/users/%2e%2e/block"),
    C("path-dot-dot-encoded-unblock", "DELETE", "/v1/users/%2e%2e%2falice/block"),
    C("path-cyrillic-lookalike-mute", "POST", "/v1/users/b\u043eb/mute"),
    C("path-cyrillic-lookalike-encoded-unmute", "DELETE", "/v1/users/b%D0%BEb/mute"),
    C("path-fullwidth-handle-get", "GET", "/v1/users/\uff42\uff4f\uff42"),
    C("path-16-char-handle-followers", "GET", "/v1/users/" + "b" * 16 + "/followers"),
    C("path-5000-char-handle-tweets", "GET", "/v1/users/" + "b" * 5000 + "/tweets"),
    C("path-crlf-in-handle-unfollow", "DELETE", "/v1/users/bob%0d%0aSet-Cookie:x/follow"),
    C("path-semicolon-dot-dot-following", "GET", "/v1/users/..;/following"),
    C("path-encoded-slash-into-other-user-mute", "DELETE", "/v1/users/bob%2F..%2Fcarol/mute"),
    C("path-nul-in-handle-unfollow", "DELETE", "/v1/users/bob%00admin/follow"),
    C("path-encoded-dot-dot-slash-unblock", "DELETE", "/v1/users/..%2Fbob/block"),
    C("path-over-long-handle-mute", "POST", "/v1/users/" + "b" * 300 + "/mute"),
]

HEADERS = [
    C("header-idempotency-key-crlf", "POST", "/v1/tweets", body={"text": "hi"},
      headers={"Idempotency-Key": "abc\r\nX-Injected: 1"}),
    C("header-idempotency-key-trailing-lf", "POST", "/v1/tweets", body={"text": "hi"},
      headers={"Idempotency-Key": "abc\n"}),
    C("header-idempotency-key-129-chars", "POST", "/v1/tweets", body={"text": "hi"},
      headers={"Idempotency-Key": "k" * 129}),
    C("header-idempotency-key-100k-chars", "POST", "/v1/tweets", body={"text": "hi"},
      headers={"Idempotency-Key": "k" * 100_000}),
    C("header-idempotency-key-non-ascii", "POST", "/v1/tweets", body={"text": "hi"},
      headers={"Idempotency-Key": "cl\u00e9-\u00fcnic\u00f8de"}),
]

INJECTION = [
    C("nosql-token-handle-and-password-gt", "POST", "/v1/auth/token", None,
      body={"handle": {"$gt": ""}, "password": {"$gt": ""}}),
    C("nosql-token-password-ne", "POST", "/v1/auth/token", None, body={"handle": "alice", "password": {"$ne": ""}}),
    C("nosql-post-text-object", "POST", "/v1/tweets", body={"text": {"$gt": ""}}),
    C("nosql-post-reply-to-ne", "POST", "/v1/tweets", body={"text": "hi", "reply_to_id": {"$ne": None}}),
    C("nosql-media-content-type-regex", "POST", "/v1/media",
      body={"content_type": {"$regex": "image/.*"}, "content_length": 1}),
    C("nosql-handle-in-path-follow", "POST", "/v1/users/%7B%22%24gt%22%3A%22%22%7D/follow"),
    C("sql-signup-handle", "POST", "/v1/auth/signup", None, body=signup_with(handle="' OR 1=1 --")),
    C("sql-handle-in-path-get", "GET", "/v1/users/%27%20OR%201%3D1%20--"),
    C("sql-handle-in-path-block", "POST", "/v1/users/bob'--/block"),
]

AUTH_TOKENS = [
    C("refresh-token-nosql-object", "POST", "/v1/auth/refresh", None, body={"refresh_token": {"$ne": ""}}),
    C("refresh-token-lone-surrogate", "POST", "/v1/auth/refresh", None, raw='{"refresh_token": "eyJ\\ud800"}'),
    C("refresh-token-invalid-utf8", "POST", "/v1/auth/refresh", None, raw_bytes=b'{"refresh_token": "eyJ\xff"}'),
    C("refresh-token-forged-jwt-looking", "POST", "/v1/auth/refresh", None,
      body={"refresh_token": "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ.e30.AA.BB.CC"}),
    C("refresh-form-urlencoded", "POST", "/v1/auth/refresh", None, raw="refresh_token=x",
      headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=415),
    C("confirm-code-trailing-newline", "POST", "/v1/auth/confirm", None, body={"handle": "alice", "code": "123456\n"}),
    C("confirm-code-nosql-object", "POST", "/v1/auth/confirm", None, body={"handle": "alice", "code": {"$gt": ""}}),
    C("confirm-handle-sql", "POST", "/v1/auth/confirm", None, body={"handle": "' OR 1=1 --", "code": "123456"}),
    C("confirm-duplicate-handle", "POST", "/v1/auth/confirm", None,
      raw='{"handle": "alice", "handle": "bob", "code": "123456"}'),
    C("resend-handle-lone-surrogate", "POST", "/v1/auth/confirm/resend", None, raw='{"handle": "\\ud800"}'),
    C("resend-handle-nosql-object", "POST", "/v1/auth/confirm/resend", None, body={"handle": {"$ne": None}}),
    C("resend-text-plain", "POST", "/v1/auth/confirm/resend", None, raw='{"handle": "alice"}',
      headers={"Content-Type": "text/plain"}, expect=415),
    C("signout-text-plain-body", "POST", "/v1/auth/signout", raw="bye", headers={"Content-Type": "text/plain"},
      expect=415),
    C("signout-deeply-nested-body", "POST", "/v1/auth/signout", raw=deep_arrays(5000)),
]

# Bodies that are JSON but not the object the document asks for (found by schemathesis's
# negative data, issue 21: an array to follow's optional body followed carol). Carol is one
# alice does not follow yet, so an accepted follow would show in the tables too.
NOT_AN_OBJECT = [
    C("follow-body-array-of-nulls", "POST", "/v1/users/carol/follow", raw="[null, null]"),
    C("follow-body-empty-array", "POST", "/v1/users/carol/follow", raw="[]"),
    C("follow-body-array-of-objects", "POST", "/v1/users/carol/follow", raw='[{"reposts": false}]'),
    C("follow-body-string", "POST", "/v1/users/carol/follow", raw='"reposts"'),
    C("follow-body-number", "POST", "/v1/users/carol/follow", raw="1"),
    C("follow-body-true", "POST", "/v1/users/carol/follow", raw="true"),
    C("post-body-array", "POST", "/v1/tweets", raw='[{"text": "hi"}]'),
    C("token-body-array", "POST", "/v1/auth/token", None, raw='[{"handle": "alice", "password": "x"}]'),
]

CASES = (OVERSIZED + DEEPLY_NESTED + INVALID_UTF8 + LONE_SURROGATES + DISPLAY_NAME_CONTROLS + INVISIBLE_POSTS
         + NONCHARACTERS + CONTENT_TYPES + DUPLICATE_KEYS + LIMITS + CURSORS + IDS + PATHS + HEADERS + INJECTION
         + AUTH_TOKENS + NOT_AN_OBJECT)


# ------------------------------------------------------------------ the tests


def assert_json_error(reply, case: Case) -> None:
    assert 400 <= reply.status < 500, f"{case.id}: expected a 4xx, got {reply.status}: {str(reply.body)[:300]}"
    if case.expect is not None:
        assert reply.status == case.expect, f"{case.id}: expected {case.expect}, got {reply.status}: {reply.body}"
    assert isinstance(reply.body, dict), f"{case.id}: the body is not JSON: {str(reply.body)[:300]!r}"
    error = reply.body.get("error")
    assert isinstance(error, dict), reply.body
    assert isinstance(error.get("code"), str) and error["code"], reply.body
    assert isinstance(error.get("message"), str) and error["message"], reply.body
    content_type = {k.lower(): v for k, v in reply.headers.items()}.get("content-type", "")
    assert content_type.startswith("application/json"), reply.headers


@pytest.mark.parametrize("case", CASES)
def test_given_a_small_world_when_a_hostile_request_arrives_then_4xx_json_and_nothing_changes(
        world, case, monkeypatch):
    """Given the world, when one hostile request arrives, then it is refused with a 4xx JSON
    error and no table item, queued message, stored object or pool user changed."""
    query = case.query(world) if callable(case.query) else case.query  # real cursors: made before the snapshot
    case = Case(**{**case.__dict__, "query": query})
    before = snapshot(world.h)
    reply = send(world, case, monkeypatch)
    after = snapshot(world.h)
    assert_json_error(reply, case)
    assert after == before, f"{case.id}: state changed: {diff(before, after)}"


def _route_regex(route_path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[A-Za-z0-9_]+\\\}", "[^/]+", re.escape(route_path)) + "$")


def test_every_route_is_attacked():
    """Given the routes of template.yaml, when the table is read, then every route of the
    api function is the target of at least two hostile cases."""
    routes = [r for r in tpl.routes(tpl.load_sam()) if r.function == "ApiFunction"
              and r.path not in ("/v1/health", "/v1/openapi.json", "/v1/docs")]
    assert routes, "no routes read from template.yaml"
    cases = [p.values[0] for p in CASES]
    counts = {}
    for route in routes:
        regex = _route_regex(route.path)
        counts[f"{route.method} {route.path}"] = sum(
            1 for c in cases if c.method == route.method
            and regex.match(c.path.replace("{tweet}", "1").replace("{media}", "1")))
    thin = {route: n for route, n in counts.items() if n < 2}
    assert not thin, f"routes with fewer than two hostile cases: {thin}"
    assert len(cases) >= 60 and len({c.id for c in cases}) == len(cases)
