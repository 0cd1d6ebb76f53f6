"""Authorization matrix (issue 10), over HTTP on the local stack.

Every authorized route of template.yaml (read from the template, so a new route is covered
automatically) is called with six kinds of bad credentials, each of which must be refused by
API Gateway's JWT authorizer with 401 {"message": "Unauthorized"} before any handler runs, and
without any change of state. Each forged token claims to be the owner of the targets (the
"victim", whose post, media and edges the requests name), so a token that got through would
show up as a change in the victim's state.

Then: a valid token of another user never acts as someone else; the public routes answer
without a token; and passwords and tokens never appear in responses or logs.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import jwt
import pytest
from moto.utilities.utils import load_resource

from infra.runtime import template as tpl
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

ROUTES = tpl.routes(tpl.load_sam())
AUTHORIZED = [r for r in ROUTES if r.authorized]
PUBLIC = [r for r in ROUTES if not r.authorized]
KINDS = ["no-token", "expired", "other-pool", "altered-payload", "alg-none", "other-client"]
UNAUTHORIZED = {"message": "Unauthorized"}
REGION = "us-east-1"
STACK_CLIENT_RE = re.compile(r"Emulator\s+(http://\S+)")


# ------------------------------------------------------------------ helpers

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _moto_key():
    """moto signs the tokens of every user pool with this one key (kid "dummy")."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def _with_payload(token: str, claims: dict) -> str:
    """The token with its payload replaced and its header and signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"


def _unsigned(claims: dict, header: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _assert_unauthorized(resp, what: str) -> None:
    assert resp.status_code == 401, f"{what}: {resp.status_code} {resp.text}"
    assert resp.json() == UNAUTHORIZED, f"{what}: {resp.text}"


def _route_id(route: tpl.Route) -> str:
    return f"{route.method} {route.path}"


@dataclass
class User:
    handle: str
    id: str
    access: str
    id_token: str
    refresh: str
    password: str = Api.PASSWORD


def sign_up_and_in(api: Api, prefix: str, password: str = Api.PASSWORD) -> User:
    handle = f"{prefix[:8]}{next(Api._ids)}{int(time.time() * 1000) % 1000}"[:15]
    created = api.request("POST", "/v1/auth/signup",
                          json={"handle": handle, "password": password, "display_name": prefix})
    assert created.status_code == 201, created.text
    tokens = api.request("POST", "/v1/auth/token", json={"handle": handle, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return User(handle, created.json()["id"], body["access_token"], body["id_token"], body["refresh_token"], password)


def emulator_endpoint(local_stack) -> str:
    for line in local_stack.lines:
        m = STACK_CLIENT_RE.search(line)
        if m:
            return m.group(1)
    pytest.fail("the stack did not print its emulator URL:\n" + local_stack.log())


def cognito(local_stack):
    return boto3.client("cognito-idp", endpoint_url=emulator_endpoint(local_stack), region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def password_tokens(idp, client_id: str, username: str, password: str) -> dict:
    result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": password})
    return result["AuthenticationResult"]


# ------------------------------------------------------------------ the world the matrix acts on

@dataclass
class World:
    api: Api
    victim: User  # every forged token claims to be this account
    attacker: User  # the real token whose payload is altered
    target: User  # an account the victim neither follows, blocks nor mutes (posts c1, c2)
    followed: User  # the victim follows and mutes this account
    blocked: User  # the victim blocks this account
    victim_post: str
    c1: str  # target's post, not reposted by the victim
    c2: str  # target's post, reposted by the victim
    media_id: str  # the victim's upload
    tokens: dict[str, list[str | None]] = field(default_factory=dict)
    last_snapshot: dict | None = None

    def path_for(self, route: tpl.Route) -> str:
        """The route's path with real targets: each names something the victim could change."""
        overrides = {
            ("DELETE", "/v1/users/{handle}/follow"): {"handle": self.followed.handle},
            ("DELETE", "/v1/users/{handle}/mute"): {"handle": self.followed.handle},
            ("DELETE", "/v1/users/{handle}/block"): {"handle": self.blocked.handle},
            ("DELETE", "/v1/tweets/{tweet_id}"): {"tweet_id": self.victim_post},
            ("DELETE", "/v1/tweets/{tweet_id}/repost"): {"tweet_id": self.c2},
        }.get((route.method, route.path), {})
        defaults = {"handle": self.target.handle, "tweet_id": self.c1, "media_id": self.media_id}

        def fill(m: re.Match) -> str:
            name = m.group(1)
            if name in overrides:
                return overrides[name]
            if name not in defaults:
                pytest.fail(f"{_route_id(route)}: no real target for the path parameter {{{name}}}; "
                            "add one to World.path_for")
            return defaults[name]

        return re.sub(r"\{(\w+)\+?\}", fill, route.path)

    def body_for(self, route: tpl.Route) -> dict[str, Any]:
        """A body the route would accept from the victim, so a forged token that got through
        would really change something."""
        bodies = {
            ("POST", "/v1/tweets"): {"json": {"text": "posted with a forged token"}},
            ("POST", "/v1/media"): {"json": {"content_type": "image/png", "content_length": 1000}},
            ("POST", "/v1/users/{handle}/follow"): {"json": {"reposts": True}},
        }
        return bodies.get((route.method, route.path), {})

    def snapshot(self) -> dict:
        """What the victim can see of their own state, read with their valid token."""
        api, token = self.api, self.victim.access

        def get(path: str) -> dict:
            resp = api.request("GET", path, token)
            assert resp.status_code == 200, f"{path}: {resp.text}"
            return resp.json()

        def handles(path: str) -> list[str]:
            return sorted(u["handle"] for u in get(path)["items"])

        profile = get(f"/v1/users/{self.victim.handle}")
        media = get(f"/v1/media/{self.media_id}")
        refresh = api.request("POST", "/v1/auth/refresh", json={"refresh_token": self.victim.refresh})
        return {
            "following_count": profile["following_count"],
            "followers_count": profile["followers_count"],
            "target_followers": get(f"/v1/users/{self.target.handle}")["followers_count"],
            "own_items": [(i["id"], (i.get("repost") or {}).get("id"))
                          for i in get(f"/v1/users/{self.victim.handle}/tweets?limit=50")["items"]],
            "blocks": handles("/v1/me/blocks"),
            "mutes": handles("/v1/me/mutes"),
            "media": (media["status"], media["post_id"]),
            "refresh_token_valid": refresh.status_code == 200,  # a sign-out would revoke it
        }


@pytest.fixture(scope="module")
def world(local_stack) -> World:
    api = Api(local_stack.url)
    victim = sign_up_and_in(api, "victim")
    attacker = sign_up_and_in(api, "attacker")
    target = sign_up_and_in(api, "target")
    followed = sign_up_and_in(api, "followed")
    blocked = sign_up_and_in(api, "blocked")

    victim_post = api.post(victim.access, "the victim's post")
    c1 = api.post(target.access, "target post one")
    c2 = api.post(target.access, "target post two")
    api.follow(victim.access, followed.handle)
    api.mute(victim.access, followed.handle)
    api.block(victim.access, blocked.handle)
    api.repost(victim.access, c2)
    upload = api.request("POST", "/v1/media", victim.access,
                         json={"content_type": "image/png", "content_length": 1000})
    assert upload.status_code == 201, upload.text

    w = World(api, victim, attacker, target, followed, blocked, victim_post, c1, c2, upload.json()["media_id"])
    w.tokens = forge_tokens(local_stack, w)
    w.last_snapshot = w.snapshot()
    # the premises of the state checks
    assert w.last_snapshot["following_count"] == 1 and w.last_snapshot["blocks"] == [blocked.handle]
    assert w.last_snapshot["mutes"] == [followed.handle] and w.last_snapshot["refresh_token_valid"]
    assert {victim_post, c2} <= {i for i, _ in w.last_snapshot["own_items"]}
    return w


def forge_tokens(local_stack, w: World) -> dict[str, list[str | None]]:
    """Per kind, the tokens to send; each claims to be the victim where it can."""
    victim_claims = _claims(w.victim.access)
    now = int(time.time())
    key = _moto_key()

    expired = jwt.encode({**victim_claims, "iat": now - 7200, "auth_time": now - 7200, "exp": now - 3600},
                         key, algorithm="RS256", headers={"kid": "dummy"})

    idp = cognito(local_stack)
    pool_id = victim_claims["iss"].rsplit("/", 1)[1]
    stack_client = victim_claims["client_id"]

    # Another user pool on the same emulator, with a user whose username is the victim's id.
    other_pool = idp.create_user_pool(PoolName=f"elsewhere-{now}", Policies={"PasswordPolicy": {
        "MinimumLength": 8, "RequireUppercase": False, "RequireLowercase": True, "RequireNumbers": True,
        "RequireSymbols": False}})["UserPool"]["Id"]
    other_pool_client = idp.create_user_pool_client(
        UserPoolId=other_pool, ClientName="elsewhere",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=other_pool, Username=w.victim.id, TemporaryPassword="Temp-pass-123",
                          MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=other_pool, Username=w.victim.id, Password=w.victim.password,
                                Permanent=True)
    elsewhere = password_tokens(idp, other_pool_client, w.victim.id, w.victim.password)

    # The attacker's real token, its payload saying it is the victim's.
    altered = _with_payload(w.attacker.access, {**_claims(w.attacker.access), "username": w.victim.id,
                                                "sub": victim_claims["sub"]})
    altered_id = _with_payload(w.attacker.id_token, {**_claims(w.attacker.id_token),
                                                     "cognito:username": w.victim.id,
                                                     "sub": victim_claims["sub"]})

    fresh = {**victim_claims, "iat": now, "auth_time": now, "exp": now + 3600}
    unsigned = [_unsigned(fresh, {"alg": "none"}), _unsigned(fresh, {"alg": "none", "typ": "JWT", "kid": "dummy"})]

    # Another app client of the stack's own pool: the victim signs in there for real.
    other_client = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName=f"other-app-{now}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    assert other_client != stack_client
    other_app = password_tokens(idp, other_client, w.victim.id, w.victim.password)

    return {
        "no-token": [None],
        "expired": [expired],
        "other-pool": [elsewhere["AccessToken"], elsewhere["IdToken"]],
        "altered-payload": [altered, altered_id],
        "alg-none": unsigned,
        "other-client": [other_app["AccessToken"], other_app["IdToken"]],
    }


# ------------------------------------------------------------------ the forged tokens are what they claim

def test_given_the_forged_tokens_then_each_differs_from_an_accepted_one_only_in_its_flaw(world, local_stack):
    """Controls: without its flaw each kind of token would be accepted, so the 401s of the
    matrix are the authorizer's checks at work, not a broken forgery."""
    api, victim_claims = world.api, _claims(world.victim.access)
    key, now = _moto_key(), int(time.time())
    # expired: the same claims and key with a fresh exp pass
    fresh = jwt.encode({**victim_claims, "iat": now, "exp": now + 600}, key, algorithm="RS256",
                       headers={"kid": "dummy"})
    assert api.request("GET", "/v1/timeline", fresh).status_code == 200
    assert _claims(world.tokens["expired"][0])["exp"] < now
    # other pool: a genuine signature by moto's key, the victim's id as username; only iss differs
    for token in world.tokens["other-pool"]:
        claims = jwt.decode(token, _moto_key().public_key(), algorithms=["RS256"],
                            options={"verify_aud": False})
        assert claims["iss"] != victim_claims["iss"]
        assert claims.get("username", claims.get("cognito:username")) == world.victim.id
    # altered payload: the attacker's own, unaltered tokens pass
    assert api.request("GET", "/v1/timeline", world.attacker.access).status_code == 200
    assert api.request("GET", "/v1/timeline", world.attacker.id_token).status_code == 200
    assert _claims(world.tokens["altered-payload"][0])["username"] == world.victim.id
    # alg none: the claims are the victim's, unexpired
    assert _claims(world.tokens["alg-none"][0])["exp"] > now
    # other client: genuine tokens of the stack's pool for the victim, another audience
    for token in world.tokens["other-client"]:
        claims = jwt.decode(token, _moto_key().public_key(), algorithms=["RS256"],
                            options={"verify_aud": False})
        assert claims["iss"] == victim_claims["iss"]
        assert claims.get("aud", claims.get("client_id")) != victim_claims["client_id"]


# ------------------------------------------------------------------ the matrix

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("route", AUTHORIZED, ids=_route_id)
def test_given_a_bad_token_when_calling_an_authorized_route_then_401_and_nothing_changes(world, route, kind):
    """Given a token of `kind` that claims to be the victim, When it calls the route with real
    targets, Then API Gateway answers 401 {"message": "Unauthorized"} And the victim's state
    (read back with their valid token) is unchanged."""
    path = world.path_for(route)
    for token in world.tokens[kind]:
        resp = world.api.request(route.method, path, token, **world.body_for(route))
        _assert_unauthorized(resp, f"{route.method} {path} with {kind} token")
    if route.method != "GET":
        before, after = world.last_snapshot, world.snapshot()
        world.last_snapshot = after  # a failure here should not cascade into the next test
        assert after == before, f"{route.method} {path} with a {kind} token changed the victim's state"


def test_the_matrix_covers_every_authorized_route_of_the_template():
    # Given the template's routes, Then the guarded ones are far more than a handful, And each
    # has a real target (checked in the matrix by path_for)
    assert len(AUTHORIZED) >= 20
    assert {("POST", "/v1/tweets"), ("DELETE", "/v1/tweets/{tweet_id}"), ("GET", "/v1/media/{media_id}")} <= {
        (r.method, r.path) for r in AUTHORIZED}


# ------------------------------------------------------------------ a valid token of another user

@pytest.fixture()
def pair(api) -> tuple[User, User]:
    """(A, B): two fresh accounts."""
    return sign_up_and_in(api, "alice"), sign_up_and_in(api, "bob")


def _error_code(resp) -> str:
    return resp.json()["error"]["code"]


def test_given_bs_token_when_deleting_as_post_then_403_and_the_post_stays(api, pair):
    a, b = pair
    post = api.post(a.access, "mine, not bob's")
    resp = api.request("DELETE", f"/v1/tweets/{post}", b.access)
    assert resp.status_code == 403 and _error_code(resp) == "not_author", resp.text
    assert api.request("GET", f"/v1/tweets/{post}", a.access).status_code == 200
    assert post in [i["id"] for i in api.user_tweets(a.access, a.handle)]


def test_given_bs_token_when_reading_or_attaching_as_media_then_403_and_the_media_is_untouched(api, pair):
    a, b = pair
    upload = api.request("POST", "/v1/media", a.access, json={"content_type": "image/png", "content_length": 500})
    assert upload.status_code == 201, upload.text
    media_id = upload.json()["media_id"]
    # reading its status
    resp = api.request("GET", f"/v1/media/{media_id}", b.access)
    assert resp.status_code == 403 and _error_code(resp) == "media_not_yours", resp.text
    # attaching it to B's own post
    resp = api.request("POST", "/v1/tweets", b.access, json={"text": "with alice's picture", "media_ids": [media_id]})
    assert resp.status_code == 403 and _error_code(resp) == "media_not_yours", resp.text
    assert api.user_tweets(b.access, b.handle) == []
    mine = api.request("GET", f"/v1/media/{media_id}", a.access).json()
    assert mine["post_id"] is None and mine["status"] in ("pending", "rejected")  # nothing uploaded to S3


def test_given_bs_token_when_following_blocking_muting_then_only_bs_edges_change(api, pair):
    a, b = pair
    c, d, e = (sign_up_and_in(api, p) for p in ("carol", "dave", "erin"))
    api.block(a.access, e.handle)  # A's own list, which B must not see
    a_before = api.profile(a.access, a.handle)
    # When B follows C, mutes C and blocks D
    assert api.request("POST", f"/v1/users/{c.handle}/follow", b.access).status_code == 200
    api.mute(b.access, c.handle)
    api.block(b.access, d.handle)
    # Then B's edges changed
    assert api.profile(b.access, b.handle)["following_count"] == 1
    assert api.profile(b.access, c.handle)["followers_count"] == 1
    followers = api.request("GET", f"/v1/users/{c.handle}/followers", b.access).json()["items"]
    assert [u["handle"] for u in followers] == [b.handle]
    assert [u["handle"] for u in api.user_pages(b.access, "/v1/me/blocks", 20)[0]] == [d.handle]
    assert [u["handle"] for u in api.user_pages(b.access, "/v1/me/mutes", 20)[0]] == [c.handle]
    # And A's did not
    a_after = api.profile(a.access, a.handle)
    assert (a_after["following_count"], a_after["followers_count"]) == (
        a_before["following_count"], a_before["followers_count"]) == (0, 0)
    assert [u["handle"] for u in api.user_pages(a.access, "/v1/me/blocks", 20)[0]] == [e.handle]
    assert api.user_pages(a.access, "/v1/me/mutes", 20)[0] == []


def test_given_bs_token_when_reposting_as_post_then_the_repost_is_bs(api, pair):
    a, b = pair
    post = api.post(a.access, "worth sharing")
    shared = api.repost(b.access, post)
    assert shared["id"] == post and shared["author"]["handle"] == a.handle
    assert shared["repost"]["by"]["handle"] == b.handle
    b_items = api.user_tweets(b.access, b.handle)
    assert [(i["id"], i["repost"]["by"]["handle"]) for i in b_items] == [(post, b.handle)]
    a_items = api.user_tweets(a.access, a.handle)
    assert [(i["id"], i["repost"]) for i in a_items] == [(post, None)]


def test_given_an_actor_named_in_body_or_query_then_refused_or_ignored_never_acting_as_a(api, pair):
    """There is no way to name the actor: a user id in the body or query is refused (400/422)
    or ignored, and never makes B act as A."""
    a, b = pair
    c = sign_up_and_in(api, "carol")
    api.follow(a.access, c.handle)
    # Unfollow on A's behalf, with A's id in the body and in the query
    for kw in ({"json": {"author_id": a.id}}, {"json": {"user_id": a.id}}, {"params": {"user_id": a.id}},
               {"params": {"author_id": a.id, "follower_id": a.id}}):
        resp = api.request("DELETE", f"/v1/users/{c.handle}/follow", b.access, **kw)
        assert resp.status_code in (200, 400, 422), f"{kw}: {resp.status_code} {resp.text}"
        if resp.status_code == 200:
            assert resp.json()["following"] is False  # B's (non-)relationship, a no-op
    assert api.profile(a.access, a.handle)["following_count"] == 1
    followers = api.request("GET", f"/v1/users/{c.handle}/followers", a.access).json()["items"]
    assert [u["handle"] for u in followers] == [a.handle]
    # Post as A
    for kw in ({"json": {"text": "as alice?", "author_id": a.id}}, {"json": {"text": "as alice?"},
                                                                   "params": {"user_id": a.id}}):
        resp = api.request("POST", "/v1/tweets", b.access, **kw)
        assert resp.status_code in (201, 400, 422), f"{kw}: {resp.status_code} {resp.text}"
        if resp.status_code == 201:
            assert resp.json()["author"]["handle"] == b.handle
    assert api.user_tweets(a.access, a.handle) == []
    # Follow, block and mute as A
    for what in ("follow", "block", "mute"):
        for kw in ({"json": {"user_id": a.id}}, {"params": {"user_id": a.id}}):
            resp = api.request("POST", f"/v1/users/{c.handle}/{what}", b.access, **kw)
            assert resp.status_code in (200, 400, 422), f"{what} {kw}: {resp.status_code} {resp.text}"
    assert api.profile(a.access, a.handle)["following_count"] == 1
    assert api.user_pages(a.access, "/v1/me/blocks", 20)[0] == []
    assert api.user_pages(a.access, "/v1/me/mutes", 20)[0] == []
    # Listing A's blocks by naming A
    resp = api.request("GET", "/v1/me/blocks", b.access, params={"user_id": a.id})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        assert a.handle not in [u["handle"] for u in resp.json()["items"]]


# ------------------------------------------------------------------ public routes

def _public_requests(api: Api) -> dict[tuple[str, str], Callable[[], tuple[Any, set[int]]]]:
    """Per public route: a call without a token, and the statuses the handler may answer."""
    user = sign_up_and_in(api, "public")
    fresh = f"pub{next(Api._ids)}{int(time.time()) % 100000}"[:15]
    return {
        ("POST", "/v1/auth/signup"): lambda: (api.request("POST", "/v1/auth/signup", json={
            "handle": fresh, "password": Api.PASSWORD, "display_name": "Public"}), {201}),
        ("POST", "/v1/auth/token"): lambda: (api.request("POST", "/v1/auth/token", json={
            "handle": user.handle, "password": user.password}), {200}),
        ("POST", "/v1/auth/refresh"): lambda: (api.request("POST", "/v1/auth/refresh", json={
            "refresh_token": user.refresh}), {200}),
        # stage dev confirms at sign-up: confirming again is idempotent (prod: a wrong code is 400)
        ("POST", "/v1/auth/confirm"): lambda: (api.request("POST", "/v1/auth/confirm", json={
            "handle": user.handle, "code": "000000"}), {200, 400}),
        ("POST", "/v1/auth/confirm/resend"): lambda: (api.request("POST", "/v1/auth/confirm/resend", json={
            "handle": user.handle}), {202}),
        ("GET", "/v1/health"): lambda: (api.request("GET", "/v1/health"), {200}),
        ("GET", "/v1/openapi.json"): lambda: (api.request("GET", "/v1/openapi.json"), {200}),
        ("GET", "/v1/docs"): lambda: (api.request("GET", "/v1/docs"), {200}),
    }


def test_given_no_token_when_calling_the_public_routes_then_they_answer(api):
    calls = _public_requests(api)
    # Every public route of the template is exercised (a new one must be added here)
    assert set(calls) == {(r.method, r.path) for r in PUBLIC}
    for (method, path), call in calls.items():
        resp, expected = call()
        assert resp.status_code in expected, f"{method} {path}: {resp.status_code} {resp.text}"
        assert "authorization" not in {k.lower() for k in resp.request.headers}
    assert api.request("GET", "/v1/openapi.json").json()["openapi"].startswith("3.")
    assert "text/html" in api.request("GET", "/v1/docs").headers["content-type"]


# ------------------------------------------------------------------ secrets stay out of responses and logs

CANARY = "Sekrit-Canary-4412"


def test_given_a_distinctive_password_when_signing_up_in_and_refreshing_then_no_secret_is_in_responses_or_logs(
        api, local_stack):
    bodies: list[str] = []

    def call(method: str, path: str, token: str | None = None, **kw):
        resp = api.request(method, path, token, **kw)
        bodies.append(resp.text)
        return resp

    # Given an account with a distinctive password
    handle = f"canary{next(Api._ids)}{int(time.time()) % 1000}"[:15]
    created = call("POST", "/v1/auth/signup", json={"handle": handle, "password": CANARY, "display_name": "Canary"})
    assert created.status_code == 201, created.text
    # and some failed attempts that carry it (wrong handle, wrong password, a duplicate
    # sign-up, a too weak and a too long password)
    assert call("POST", "/v1/auth/token", json={"handle": handle, "password": CANARY + "!"}).status_code == 401
    unknown = {"handle": "nobody" + handle[-6:], "password": CANARY}
    assert call("POST", "/v1/auth/token", json=unknown).status_code == 401
    assert call("POST", "/v1/auth/signup", json={"handle": handle, "password": CANARY,
                                                 "display_name": "Again"}).status_code == 409
    weak = call("POST", "/v1/auth/signup", json={"handle": handle[:-1] + "w", "password": CANARY.upper(),
                                                 "display_name": "Weak"})
    assert weak.status_code in (400, 422), weak.text
    long_ = call("POST", "/v1/auth/signup", json={"handle": handle[:-1] + "l", "password": CANARY * 20,
                                                  "display_name": "Long"})
    assert long_.status_code == 422, long_.text
    # When it signs in, uses its tokens, refreshes them and signs out
    signed_in = call("POST", "/v1/auth/token", json={"handle": handle, "password": CANARY})
    assert signed_in.status_code == 200, signed_in.text
    first = signed_in.json()
    tokens = [first["id_token"], first["access_token"], first["refresh_token"]]
    assert call("GET", "/v1/timeline", first["access_token"]).status_code == 200
    assert call("GET", "/v1/timeline", first["id_token"]).status_code == 200
    assert call("POST", "/v1/tweets", first["access_token"], json={"text": "canary speaks"}).status_code == 201
    refreshed = call("POST", "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    tokens += [second["id_token"], second["access_token"]]
    if second["refresh_token"]:
        tokens.append(second["refresh_token"])
    assert call("GET", f"/v1/users/{handle}", second["access_token"]).status_code == 200
    assert call("POST", "/v1/auth/signout", second["access_token"]).status_code == 204
    revoked = call("POST", "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert revoked.status_code == 401, revoked.text
    # and an expired copy of its token is refused
    expired = jwt.encode({**_claims(first["access_token"]), "exp": int(time.time()) - 60}, _moto_key(),
                         algorithm="RS256", headers={"kid": "dummy"})
    assert call("GET", "/v1/timeline", expired).status_code == 401
    tokens.append(expired)

    # Then no response carries the password, and only the sign-in and refresh answers carry tokens
    assert not [b for b in bodies if CANARY.lower() in b.lower()], "a response body contains the password"
    token_bearers = {signed_in.text, refreshed.text}
    for body in bodies:
        if body not in token_bearers:
            assert not [t for t in tokens if t in body], f"a response leaks a token: {body[:300]}"

    # And neither the password nor any token (nor a token's payload or signature) is in a log
    time.sleep(0.5)  # function workers write their logs asynchronously to the gateway's answer
    logs = {"stack output": "\n".join(local_stack.lines), **function_logs(local_stack)}
    assert "ApiFunction.log" in logs, f"no function logs found: {sorted(logs)}"
    needles = {"the password": CANARY.lower()}
    for n, token in enumerate(tokens):
        needles[f"token {n}"] = token
        # strict=False: a refresh token is opaque (no dots), only the JWTs have parts
        for part, segment in zip(("payload", "signature"), token.split(".")[1:], strict=False):
            needles[f"token {n}'s {part}"] = segment
    leaks = [(name, what) for name, text in logs.items() for what, needle in needles.items()
             if needle in (text.lower() if what == "the password" else text)]
    assert not leaks, f"secrets in logs: {leaks}"


def function_logs(local_stack) -> dict[str, str]:
    """The stack's function logs: <Function>.log in the log folder of its own that
    tests/e2e/conftest.py gives each stack, so no other stack (the demo stack of
    test_local_stack, a parallel run, a developer's `make run`) wipes or writes them."""
    return {path.name: path.read_text(errors="replace") for path in sorted(local_stack.log_dir.glob("*.log"))}
