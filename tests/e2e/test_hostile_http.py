"""End-to-end: hostile requests over real HTTP through the local gateway.

What only the wire can show: bytes that are not UTF-8 under `application/json`, a charset
that is not UTF-8, sizes counted as bytes, raw header lines (folded, with a bare CR, with a
NUL), percent-encoded and dot-segment paths the client does not normalise, methods the API
has no route for, a huge request line, and framing the gateway must refuse (a negative or
doubled Content-Length, a broken chunk size).

Every request is written byte for byte on its own socket (`requests` and `http.client` refuse
or rewrite most of these), with `Connection: close`. For each case the promise is:

  * the answer is a 4xx (a 405, 404, 400, 413, 414, 415, 422 or 431 are all fine);
  * its body is JSON (the gateway's own {"message": ...} or the api's {"error": {...}});
  * nothing was created: the signed-in account still has no posts, and no account was made
    for the handle a sign-up case tried;
  * the stack keeps serving: GET /v1/health answers 200 {"status": "ok"} right after.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

_victims = itertools.count()
ZWJ = "\u200d"  # 3 bytes in UTF-8, and it joins onto the character before it
EURO = "\u20ac"  # 3 bytes in UTF-8


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __str__(self) -> str:
        return f"{self.status} {self.reason} {self.headers.get('content-type')!r} {self.body[:300]!r}"


def send_raw(url: str, data: bytes, timeout: float = 30.0) -> Answer:
    """Write `data` as is and read one response (the request says Connection: close)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # all sent: a server waiting for more body sees EOF
        except OSError:
            pass  # the server answered (and closed) before reading everything: read its answer
        received = b""
        while b"\r\n\r\n" not in received:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            raise AssertionError(f"no HTTP response: {received[:300]!r}")
        _, status, *reason = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        while length < 0 or len(body) < length:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            body += chunk
        return Answer(int(status), reason[0] if reason else "", headers, body[:length] if length >= 0 else body)


def http_request(url: str, method: str, target: str, *, header_lines: list[bytes] = (), body: bytes = b"",
                 content_length: bool = True) -> bytes:
    """The bytes of one HTTP/1.1 request; `header_lines` go out exactly as given."""
    host = urlsplit(url).netloc
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1"), f"Host: {host}".encode(), b"Connection: close",
             *header_lines]
    if content_length and (body or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def bearer(token: str) -> bytes:
    return f"Authorization: Bearer {token}".encode()


JSON = b"Content-Type: application/json"


@dataclass
class Ctx:
    url: str
    token: str
    handle: str
    victim: str  # a handle no account has: sign-up cases try it, and it must stay free


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Ctx], bytes]


def signup_body(ctx: Ctx, display_name: bytes) -> bytes:
    return (b'{"handle": "' + ctx.victim.encode() + b'", "password": "e2e-password-1", "display_name": "'
            + display_name + b'"}')


CASES = [
    # --- bytes that are not UTF-8 (or not UTF-8 as declared)
    Case("invalid-utf8-post-under-application-json", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON], body=b'{"text": "hi \xff\xfe there"}')),
    Case("invalid-utf8-signup-display-name-cesu-surrogate", lambda c: http_request(
        c.url, "POST", "/v1/auth/signup", header_lines=[JSON], body=signup_body(c, b"M\xed\xa0\x80"))),
    Case("latin1-charset-post-with-latin1-bytes", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), b"Content-Type: application/json; charset=latin-1"],
        body='{"text": "caf\u00e9 cr\u00e8me"}'.encode("latin-1"))),
    # --- sizes, counted in bytes
    Case("body-40kb-ascii", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON],
        body=json.dumps({"text": "x" * 40_000}).encode())),
    Case("body-36kb-of-12000-three-byte-characters", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON],
        body=json.dumps({"text": "a" + ZWJ * 12_000}, ensure_ascii=False).encode())),
    Case("body-18kb-one-perceived-character", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON],
        body=json.dumps({"text": "a" + ZWJ * 6000}, ensure_ascii=False).encode())),
    # --- header lines: folded, a bare CR, a NUL (CR/LF cannot be smuggled any other way on the wire)
    Case("header-obs-fold-in-idempotency-key", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Idempotency-Key: abc",
                                                    b" X-Injected: 1"], body=b'{"text": "folded"}')),
    Case("header-bare-cr-in-idempotency-key", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Idempotency-Key: abc\rX-Injected: 1"],
        body=b'{"text": "bare cr"}')),
    Case("header-nul-in-idempotency-key", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Idempotency-Key: abc\x00def"],
        body=b'{"text": "nul"}')),
    # --- paths the client does not normalise
    Case("path-percent-encoded-traversal", lambda c: http_request(
        c.url, "POST", "/v1/users/..%2F..%2Fv1%2Ftimeline/follow", header_lines=[bearer(c.token)])),
    Case("path-percent-encoded-dot-dot", lambda c: http_request(
        c.url, "GET", "/v1/users/%2e%2e/followers", header_lines=[bearer(c.token)])),
    Case("path-raw-dot-segments", lambda c: http_request(
        c.url, "GET", f"/v1/users/{c.handle}/../../timeline", header_lines=[bearer(c.token)])),
    Case("path-nul-in-handle", lambda c: http_request(
        c.url, "GET", f"/v1/users/{c.handle}%00", header_lines=[bearer(c.token)])),
    Case("path-nul-in-handle-follow", lambda c: http_request(
        c.url, "POST", f"/v1/users/{c.handle}%00admin/follow", header_lines=[bearer(c.token)])),
    # --- methods without a route
    Case("method-trace", lambda c: http_request(c.url, "TRACE", "/v1/health", header_lines=[bearer(c.token)])),
    Case("method-unknown", lambda c: http_request(c.url, "BREW", "/v1/timeline", header_lines=[bearer(c.token)])),
    # --- a huge request line (API Gateway's HTTP API quota: 10 KB of request line and headers)
    Case("query-string-20kb", lambda c: http_request(
        c.url, "GET", "/v1/timeline?limit=5&pad=" + "A" * 20_000, header_lines=[bearer(c.token)])),
    Case("query-string-100kb", lambda c: http_request(
        c.url, "GET", "/v1/timeline?limit=5&pad=" + "A" * 100_000, header_lines=[bearer(c.token)])),
    # --- framing
    Case("content-length-negative", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Content-Length: -1"],
        body=b'{"text": "negative"}', content_length=False)),
    Case("content-length-twice-and-different", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Content-Length: 19",
                                                    b"Content-Length: 2"],
        body=b'{"text": "doubled"}', content_length=False)),
    Case("chunk-size-not-hex", lambda c: http_request(
        c.url, "POST", "/v1/tweets", header_lines=[bearer(c.token), JSON, b"Transfer-Encoding: chunked"],
        body=b"zz\r\n" + b'{"text": "chunked"}' + b"\r\n0\r\n\r\n", content_length=False)),
]


@pytest.fixture()
def ctx(local_stack, api) -> Ctx:
    handle, token = api.new_user("hostile")
    victim = f"hv{os.getpid() % 10000}{next(_victims)}"[:15]
    return Ctx(local_stack.url, token, handle, victim)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_given_the_local_stack_when_a_hostile_request_arrives_over_http_then_4xx_json_and_it_keeps_serving(
        ctx, api, case):
    """Given a signed-in account on the running stack, when one hostile request is written to
    the gateway byte for byte, then the answer is a 4xx with a JSON body, nothing was created,
    and the stack still answers its health check."""
    answer = send_raw(ctx.url, case.build(ctx))

    health = api.request("GET", "/v1/health")  # first: even a wrong answer must leave the stack serving
    assert health.status_code == 200 and health.json() == {"status": "ok"}, f"{case.id}: {health.text} after {answer}"

    assert 400 <= answer.status < 500, f"{case.id}: expected a 4xx, got {answer}"
    assert answer.headers.get("content-type", "").startswith("application/json"), f"{case.id}: {answer}"
    try:
        body = answer.json()
    except ValueError:
        pytest.fail(f"{case.id}: the body is not JSON: {answer}")
    assert isinstance(body, dict) and (isinstance(body.get("error"), dict) or "message" in body), body

    mine = api.request("GET", f"/v1/users/{ctx.handle}/tweets", ctx.token)
    assert mine.status_code == 200 and mine.json()["items"] == [], f"{case.id}: something was posted: {mine.text}"
    victim = api.request("GET", f"/v1/users/{ctx.victim}", ctx.token)
    assert victim.status_code == 404, f"{case.id}: an account was made: {victim.text}"
