"""`make run`'s stack, used the way a client uses the deployed API: over HTTP only.

The stack runs with CelebrityThreshold=3, so three follows make an account a celebrity whose
posts are merged at read time instead of fanned out.
"""

from __future__ import annotations

import json
import re
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from tests.e2e.conftest import LocalStack, eventually

pytestmark = pytest.mark.e2e


def test_health_is_public(api):
    resp = api.request("GET", "/v1/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_unknown_routes_are_api_gateways_404(api):
    resp = api.request("GET", "/v1/nowhere")
    assert resp.status_code == 404 and resp.json() == {"message": "Not Found"}


# ------------------------------------------------------------------ the JWT authorizer

def _claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _assert_unauthorized(resp) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.json() == {"message": "Unauthorized"}


def test_guarded_routes_need_a_token(api):
    _assert_unauthorized(api.request("GET", "/v1/timeline"))
    _assert_unauthorized(api.request("POST", "/v1/tweets", json={"text": "no token"}))


def test_a_token_signed_by_another_key_is_rejected(api):
    # Given the claims of a real token, re-signed by a key the user pool never had, under
    # the kid moto's pool uses
    _, token = api.new_user("forger")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims_of(token), other_key, algorithm="RS256", headers={"kid": "dummy"})
    # When it is used, Then API Gateway's authorizer refuses it before the handler runs
    _assert_unauthorized(api.request("GET", "/v1/timeline", forged))
    # And the genuine token still works
    assert api.request("GET", "/v1/timeline", token).status_code == 200


def test_an_expired_token_is_rejected(api):
    # Given a token with the pool's own signing key and valid claims, except that it expired
    _, token = api.new_user("late")
    pool_key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    claims = _claims_of(token)
    still_valid = jwt.encode(claims, pool_key, algorithm="RS256", headers={"kid": "dummy"})
    expired = jwt.encode({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
                         pool_key, algorithm="RS256", headers={"kid": "dummy"})
    # Then only the expiry makes the difference
    assert api.request("GET", "/v1/timeline", still_valid).status_code == 200
    resp = api.request("GET", "/v1/timeline", expired)
    _assert_unauthorized(resp)
    assert "expired" in resp.headers.get("www-authenticate", "")


# ------------------------------------------------------------------ timelines

def test_a_post_reaches_a_followers_home_timeline(api):
    # Given bob follows alice
    alice, alice_token = api.new_user("alice")
    _, bob_token = api.new_user("bob")
    api.follow(bob_token, alice)
    # When alice posts
    post_id = api.post(alice_token, "hello, followers")
    # Then it shows up in bob's home timeline (fan-out: stream -> dispatch -> SQS -> worker)
    eventually(lambda: post_id in api.timeline_ids(bob_token))
    item = next(i for i in api.request("GET", "/v1/timeline", bob_token).json()["items"] if i["id"] == post_id)
    assert item["text"] == "hello, followers" and item["author"]["handle"] == alice


def test_celebrity_posts_are_merged_into_timelines_in_order(api):
    # Given a celebrity (3 followers >= CelebrityThreshold=3) and an ordinary author, both
    # followed by the reader
    celeb, celeb_token = api.new_user("celeb")
    plain, plain_token = api.new_user("plain")
    _, reader_token = api.new_user("reader")
    for token in [reader_token] + [api.new_user("fan")[1] for _ in range(2)]:
        api.follow(token, celeb)
    api.follow(reader_token, plain)
    eventually(lambda: api.request("GET", f"/v1/users/{celeb}", reader_token).json().get("celebrity"))

    # When both post, interleaved
    first = api.post(celeb_token, "celebrity post one")
    middle = api.post(plain_token, "ordinary post")
    last = api.post(celeb_token, "celebrity post two")

    # Then the reader sees all three, newest first: the celebrity's merged at read time
    def newest_three():
        ids = api.timeline_ids(reader_token)
        return ids[:3] if set(ids) >= {first, middle, last} else None

    assert eventually(newest_three) == [last, middle, first]


def test_a_deleted_post_leaves_every_timeline(api):
    # Given a post that reached a follower's timeline
    author, author_token = api.new_user("author")
    _, follower_token = api.new_user("follower")
    api.follow(follower_token, author)
    post_id = api.post(author_token, "soon gone")
    eventually(lambda: post_id in api.timeline_ids(follower_token))
    # When its author deletes it
    assert api.request("DELETE", f"/v1/tweets/{post_id}", author_token).status_code == 204
    # Then it is gone for the follower and for direct reads
    eventually(lambda: post_id not in api.timeline_ids(follower_token))
    assert api.request("GET", f"/v1/tweets/{post_id}", follower_token).status_code == 404


def test_cors_preflight_is_answered_by_the_gateway(api):
    resp = api.request("OPTIONS", "/v1/tweets", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "POST" in resp.headers["access-control-allow-methods"]


def test_a_web_client_on_another_origin_caches_preflights_and_reads_retry_after(api):
    preflight = api.request("OPTIONS", "/v1/tweets", headers={
        "Origin": "https://web.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-max-age"] == "600"
    resp = api.request("GET", "/v1/health", headers={"Origin": "https://web.example"})
    assert resp.headers["access-control-expose-headers"] == "Retry-After"


def test_the_stack_logs_to_its_own_folder_and_prints_live_metrics_from_it(local_stack, api):
    # Given the session's stack, started with a log folder of its own (tests/e2e/conftest.py)
    log_dir = local_stack.log_dir
    assert log_dir.parent == LocalStack.log_root and ".local" not in log_dir.parts
    # When a post goes through the API
    _, token = api.new_user("metrics")
    api.post(token, "counted")
    # Then the functions' output is in that folder, PostsCreated included
    eventually(lambda: "PostsCreated" in (log_dir / "ApiFunction.log").read_text(errors="replace"))
    # And the stack said where, and prints the live metrics line from it
    assert any(f"function logs: {log_dir}/<Function>.log" in line for line in local_stack.lines)
    assert any("live metrics: a line every 5s" in line for line in local_stack.lines)
    # (the dead-letter queues found and asked: "DLQ n", not "DLQ ?")
    eventually(lambda: [line for line in local_stack.lines
                        if " metrics 10s: posts " in line and "DLQ " in line and "DLQ ?" not in line])


def test_the_stacks_terminal_shows_its_own_lines_only_no_docker_and_no_traceback(local_stack, api):
    """Given the session's stack (deployed, serving), Then what it printed has no Docker errors
    (the emulator never looks for Docker), no library chatter and no traceback (issue 26)."""
    assert api.request("GET", "/v1/health").status_code == 200
    printed = "\n".join(local_stack.lines)
    for unwanted in ("docker", "Docker", "pynamodb", "Traceback", "JSONDecodeError"):
        assert unwanted not in printed, f"{unwanted!r} in:\n{printed}"


# ------------------------------------------------------------------ make run with demo data

def _line(stack: LocalStack, pattern: str, timeout: float = 0.0) -> re.Match:
    """The first log line matching `pattern`, waiting up to `timeout` seconds for it."""
    def find():
        return next((m for m in map(re.compile(pattern).search, list(stack.lines)) if m), None)
    found = eventually(find, timeout=timeout) if timeout else find()
    assert found, f"no line matching {pattern!r} in:\n{stack.log()}"
    return found


def test_make_run_loads_a_demo_with_celebrities_serves_while_it_loads_and_prints_a_working_login():
    # Given `make run` with a small demo (same code path as the default, fewer accounts)
    stack = LocalStack("--demo-users", "30", "--demo-posts", "80", "--param", "CelebrityThreshold=5")
    try:
        stack.wait_ready()
        log = stack.log()
        # Then the threshold in force and the curl commands are printed, and the demo login
        # was proven to work (a sign-in through the API) before the banner
        assert "CelebrityThreshold=5 (from --param)" in log
        assert f"{stack.url}/v1/docs" in log and "curl -s" in log
        login_ready = float(_line(stack, r"API and demo login ready at ([0-9.]+)s").group(1))
        accounts = _line(stack, r"demo accounts written at ([0-9.]+)s: 30 accounts")
        assert login_ready <= float(accounts.group(1))
        login = next(line for line in stack.lines if line.strip().startswith("Login"))
        handle, password = login.split("'")[1], login.split("'")[3]

        # When the printed login is used at once, while the demo still loads in the background
        from tests.e2e.conftest import Api
        api = Api(stack.url)
        token = api.sign_in(handle, password)
        # Then its account and its follows are there already
        me = api.profile(token, handle)
        assert me["following_count"] >= 3, me

        # And the log says when the whole demo is readable: after the login, pipeline settled
        readable = _line(stack, r"demo fully readable at ([0-9.]+)s: 30 accounts, (\d+) follows, 80 posts, "
                                r"(\d+) replies, (\d+) reposts, (\d+) pictures; the fan-out has settled", timeout=240)
        assert float(readable.group(1)) > login_ready
        celebrities = _line(stack, r"celebrities \(followers >= 5, flagged by the pipeline: ([^)]*)\): (.*)$")
        flagged = celebrities.group(1).split(", ")
        assert len(flagged) >= 2 and all(f"{h} (" in celebrities.group(2) for h in flagged), celebrities.group(0)
        print(f"\ndemo milestones: login ready at {login_ready}s, fully readable at {readable.group(1)}s")

        # And the printed login reads a home timeline with posts by several authors
        items = api.request("GET", "/v1/timeline?limit=50", token).json()["items"]
        assert len({i["author"]["handle"] for i in items}) >= 2, json.dumps(items)[:500]
        # And the demo's replies and reposts show there too
        assert any(i["repost"] for i in items) and any(i["reply_to_id"] for i in items), json.dumps(items)[:500]
        # And pictures, uploaded through the media pipeline, whose URLs work from this machine
        pictured = [i for i in items if i["media"]]
        assert pictured, json.dumps(items)[:500]
        preview = requests.get(pictured[0]["media"][0]["preview"]["url"], timeout=10)
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/webp"
        # And a celebrity the login follows is merged at read time: flagged, and its newest
        # post (never fanned out to anyone) is in the login's home timeline
        followed = {u["handle"] for page in api.user_pages(token, f"/v1/users/{handle}/following", 100) for u in page}
        celebrity = next(h for h in flagged if h in followed)
        assert api.profile(token, celebrity)["celebrity"] is True
        newest = api.user_tweets(token, celebrity, limit=1)[0]
        assert newest["id"] in api.timeline_all(token)
    finally:
        code = stack.stop()
    assert code == 0, stack.log()
