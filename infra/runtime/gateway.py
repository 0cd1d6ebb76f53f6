"""The HTTP API, served locally the way API Gateway (HTTP API, payload format 2.0) serves it.

Moto cannot host AWS::ApiGatewayV2 resources, so this module stands in for them. Everything it
knows about the API comes from template.yaml (routes, the JWT authorizer, CORS) resolved
against the deployed stack; nothing about this project is hard-coded here.

Per request, in API Gateway's order:
  1. body over the payload limit -> 413
  2. CORS preflight (OPTIONS with Origin + Access-Control-Request-Method) -> 204, no auth
  3. route match on method + path -> 404 {"message":"Not Found"} (GET/HEAD outside /v1 first try
     the web client's files: infra/runtime/static_site.py)
  4. the stage's route throttling (DefaultRouteSettings: a token bucket per route, rate and
     burst) -> 429 {"message":"Too Many Requests"}
  5. JWT authorizer on guarded routes -> 401 {"message":"Unauthorized"} before any handler;
     a route's AuthorizationScopes must meet the token's `scope` claim -> 403 {"message":"Forbidden"}
  6. a v2.0 event to the route's function (an event Lambda refuses as over its 6 MB payload
     quota -> 413); its response translated back (crash, or a result over 6 MB -> 500; no
     answer within the 30 s integration timeout -> 503 {"message":"Service Unavailable"})
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.server
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from infra.runtime.deployer import LOCAL_API_ID, _substitute  # the deployer's Ref/GetAtt/Sub resolver, reused
from infra.runtime.functions import RequestTooLarge
from infra.runtime.static_site import SITE as WEB_CLIENT
from infra.runtime.static_site import StaticSite
from infra.runtime.template import Route, routes

log = logging.getLogger("infra.runtime.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's request payload quota
MAX_REQUEST_LINE_AND_HEADERS = 10 * 1024  # HTTP API's quota: request line and headers together
INTEGRATION_TIMEOUT = 30.0  # HTTP API's maximum integration timeout: then 503, the function runs on
ACCOUNT_ID = "123456789012"  # moto's default account
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")  # "Currently, only RSA-based algorithms are supported"
# Content types an HTTP API (payload 2.0) hands to Lambda as text. Everything else arrives
# base64-encoded: a missing Content-Type, form posts and structured-syntax types (+json, +xml)
# included. AWS documents the mechanism but not the list; this is the split observed on AWS
# (ministackorg/ministack#766, checked against a deployed HTTP API).
TEXT_TYPES = re.compile(r"^(text/.*|application/(json|xml|javascript))$")


# Invocations run here so a request can stop waiting at the integration timeout while the
# function goes on, as it does behind API Gateway.
_integrations = concurrent.futures.ThreadPoolExecutor(64, thread_name_prefix="integration")


class Invoker(Protocol):
    """What the gateway needs from infra.runtime.functions.LocalFunctions."""

    def invoke(self, logical_id: str, event: dict) -> Any: ...


# ------------------------------------------------------------------ configuration from the template

@dataclass(frozen=True)
class JwtConfig:
    issuer: str
    audience: tuple[str, ...]
    identity_header: str  # lower-cased header name, from $request.header.X


@dataclass(frozen=True)
class CorsConfig:
    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def allow_origin_value(self, origin: str) -> str:
        return "*" if "*" in self.allow_origins and not self.allow_credentials else origin


@dataclass(frozen=True)
class ThrottleConfig:
    rate: float  # requests per second, refilled continuously
    burst: int  # the bucket's size


class TokenBucket:
    """API Gateway's throttling algorithm: `burst` tokens, refilled at `rate` a second; a
    request takes one or is refused."""

    def __init__(self, config: ThrottleConfig, clock=time.monotonic):
        self.config, self._clock = config, clock
        self._tokens, self._at = float(config.burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.config.burst, self._tokens + (now - self._at) * self.config.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass(frozen=True)
class ApiConfig:
    routes: tuple[Route, ...]
    jwt: JwtConfig | None
    cors: CorsConfig | None
    region: str = "us-east-1"
    throttle: ThrottleConfig | None = None  # per route, from DefaultRouteSettings

    @classmethod
    def from_template(cls, sam: dict[str, Any], stack: Any) -> ApiConfig:
        """Read the HttpApi's authorizer and CORS settings from the SAM template and resolve
        their intrinsics (e.g. the issuer's ${UserPool}) against the deployed stack."""
        apis = [r for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
        if len(apis) > 1:
            raise ValueError("the local gateway serves one AWS::Serverless::HttpApi per template")
        props = apis[0].get("Properties", {}) if apis else {}
        refs = {**stack.physical_ids, "AWS::Region": stack.region, "AWS::AccountId": ACCOUNT_ID,
                "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws",
                "AWS::StackName": stack.name}
        resolved = _substitute(props, refs, {})
        return cls(routes=tuple(routes(sam)), jwt=_jwt_config(resolved.get("Auth", {})),
                   cors=_cors_config(resolved.get("CorsConfiguration")), region=stack.region,
                   throttle=_throttle_config(resolved.get("DefaultRouteSettings") or {}))


def _throttle_config(settings: dict[str, Any]) -> ThrottleConfig | None:
    if "ThrottlingRateLimit" not in settings and "ThrottlingBurstLimit" not in settings:
        return None
    return ThrottleConfig(rate=float(settings.get("ThrottlingRateLimit", 10_000)),
                          burst=int(settings.get("ThrottlingBurstLimit", 5_000)))


def _jwt_config(auth: dict[str, Any]) -> JwtConfig | None:
    name = auth.get("DefaultAuthorizer")
    if not name or name == "NONE":
        return None
    spec = auth["Authorizers"][name]
    conf = spec.get("JwtConfiguration")
    if conf is None:
        raise ValueError(f"authorizer {name}: only JWT authorizers are emulated locally")
    for value in (conf["issuer"], *conf.get("audience", [])):
        if not isinstance(value, str):
            raise ValueError(f"authorizer {name}: cannot resolve {value!r} locally")
    source = spec.get("IdentitySource", "$request.header.Authorization")
    if not source.startswith("$request.header."):
        raise ValueError(f"authorizer {name}: identity source {source} is not emulated")
    return JwtConfig(issuer=conf["issuer"], audience=tuple(conf.get("audience", [])),
                     identity_header=source.removeprefix("$request.header.").lower())


def _cors_config(conf: Any) -> CorsConfig | None:
    if not conf:
        return None
    if conf is True:  # SAM's shorthand: allow everything
        return CorsConfig(allow_origins=("*",), allow_headers=("*",), allow_methods=("*",))
    return CorsConfig(
        allow_origins=tuple(conf.get("AllowOrigins", [])),
        allow_headers=tuple(h.lower() for h in conf.get("AllowHeaders", [])),
        allow_methods=tuple(m.upper() for m in conf.get("AllowMethods", [])),
        expose_headers=tuple(conf.get("ExposeHeaders", [])),
        max_age=conf.get("MaxAge"),
        allow_credentials=bool(conf.get("AllowCredentials", False)),
    )


# ------------------------------------------------------------------ routing

class RouteTable:
    """API Gateway route selection: the most specific match wins (literal segments beat
    {param}, which beats a greedy {proxy+})."""

    def __init__(self, table: tuple[Route, ...] | list[Route]):
        compiled = []
        for route in table:
            pattern, literals, greedy = "", 0, False
            for segment in route.path.strip("/").split("/"):
                m = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
                if m and m.group(2):
                    pattern += rf"/(?P<{m.group(1)}>.+)"
                    greedy = True
                elif m:
                    pattern += rf"/(?P<{m.group(1)}>[^/]+)"
                else:
                    pattern += "/" + re.escape(segment)
                    literals += 1
            compiled.append((greedy, -literals, re.compile(pattern or "/"), route))
        compiled.sort(key=lambda item: item[:2])
        self._compiled = [(regex, route) for _, _, regex, route in compiled]

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        for regex, route in self._compiled:
            if route.method not in (method, "ANY"):
                continue
            m = regex.fullmatch(raw_path)
            if m:
                return route, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        return None


# ------------------------------------------------------------------ the JWT authorizer

class Unauthorized(Exception):
    """A request the JWT authorizer rejects; the description goes into www-authenticate."""


class JwksCache:
    """The user pool's public keys, fetched once and again only when a token names an unknown
    kid (key rotation), at most every `refresh_interval` seconds."""

    def __init__(self, url: str, refresh_interval: float = 30.0, timeout: float = 5.0):
        self.url, self.refresh_interval, self.timeout = url, refresh_interval, timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
            document = json.load(resp)
        keys = {}
        for key in document.get("keys", []):
            try:
                keys[key["kid"]] = jwt.PyJWK(key)
            except (KeyError, jwt.PyJWKError):
                log.warning("ignoring an unusable key in %s: %s", self.url, key.get("kid"))
        self._keys, self._fetched_at = keys, time.monotonic()

    def get(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at > self.refresh_interval:
                try:
                    self._fetch()
                except OSError as exc:
                    # Fail closed, but say why: a dead emulator looks like a bad token otherwise.
                    log.error("cannot fetch the JWKS from %s: %s", self.url, exc)
            return self._keys.get(kid)


class JwtAuthorizer:
    """API Gateway's JWT authorizer: token (optionally "Bearer "-prefixed) from the identity
    source, an RSA signature by a key of the issuer's JWKS matched by kid, then iss, aud (or
    client_id when there is no aud), exp, nbf and iat."""

    def __init__(self, config: JwtConfig, jwks: JwksCache, clock=time.time):
        self.config, self.jwks, self.clock = config, jwks, clock

    def authorize(self, identity: str | None) -> dict[str, Any]:
        if not identity or not identity.strip():
            raise Unauthorized("")  # API Gateway says nothing more for a missing token
        token = identity.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not a valid JWT") from None
        if header.get("alg") not in RSA_ALGORITHMS:
            raise Unauthorized("the token is not signed with an RSA algorithm")
        key = self.jwks.get(str(header.get("kid")))
        if key is None:
            raise Unauthorized("the token's kid is not in the issuer's JWKS")
        try:
            # Time claims are checked below with this clock, so tests can move time.
            claims = jwt.decode(token, key.key, algorithms=[header["alg"]],
                                options={"verify_aud": False, "verify_iss": False,
                                         "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the token is malformed: {exc}") from None
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self.clock()
        if claims.get("iss") != self.config.issuer:
            raise Unauthorized("the token does not have a valid issuer")
        # "API Gateway validates client_id only if aud is not present."
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(a in self.config.audience for a in audiences):
            raise Unauthorized("the token does not have a valid audience")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= now:
            raise Unauthorized("the token has expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, (int, float)) or value > now):
                raise Unauthorized(f"the token's {name} is in the future")


def claims_for_event(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway puts them into the event: every value a string, arrays as
    "[a b]", nulls left out."""
    out = {}
    for name, value in claims.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            out[name] = json.dumps(value, separators=(",", ":"))
        else:
            out[name] = str(value)
    return out


# ------------------------------------------------------------------ request -> event

REQUEST_ID_HEADER = "apigw-requestid"


def new_request_id() -> str:
    """An id shaped like an HTTP API's ("Z8nZJhj20T85yxY="): 15 URL-safe characters and "="."""
    return secrets.token_urlsafe(11)[:15] + "="


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]  # as received, repeats kept
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name]
        return ",".join(values) if values else None


def build_event(request: HttpRequest, route: Route, path_params: dict[str, str],
                claims: dict[str, Any] | None, *, api_id: str = LOCAL_API_ID,
                account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for this request (absent parts are left
    out, as API Gateway does)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":  # 2.0 moves cookies out of the headers into their own list
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    host = headers.get("host", "localhost")
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    if ":" in host:
        headers.setdefault("x-forwarded-port", host.rsplit(":", 1)[1])
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(request.received_at):08x}-{secrets.token_hex(12)}")

    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value

    route_key = f"{route.method} {route.path}"
    when = datetime.fromtimestamp(request.received_at, tz=UTC)
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method,
            "path": urllib.parse.unquote(request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(request.received_at * 1000),
    }
    if claims is not None:
        # Scopes are only filled for routes with authorizationScopes; the template has none.
        context["authorizer"] = {"jwt": {"claims": claims_for_event(claims), "scopes": None}}

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        # HTTP APIs deliver the path percent-decoded, in rawPath as in requestContext.http.path
        # (REST APIs and function URLs keep it encoded); path parameters are decoded too.
        "rawPath": urllib.parse.unquote(request.raw_path),
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = context
    if path_params:
        event["pathParameters"] = path_params
    if request.body:
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        # A text type whose bytes are not UTF-8 travels base64-encoded, so the function sees the
        # bytes the client sent (and can refuse them), never a text with U+FFFD put in.
        as_text = bool(TEXT_TYPES.match(content_type)) and _is_utf8(request.body)
        if as_text:
            event["body"], event["isBase64Encoded"] = request.body.decode("utf-8"), False
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
    else:
        event["isBase64Encoded"] = False
    return event


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------ function result -> response

@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BadFunctionResponse(ValueError):
    pass


def gateway_error(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("content-type", "application/json"), *(extra or [])], body)


def translate_response(result: Any) -> HttpResponse:
    """A function's payload 2.0 response as HTTP. A dict with statusCode is the full form;
    any other JSON value is the shorthand: 200, application/json, the value as the body
    (a string as-is, anything else as JSON text)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], body.encode())

    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadFunctionResponse(f"statusCode must be an HTTP status, got {status!r}")

    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name.lower(), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        name = name.lower()
        headers = [(k, v) for k, v in headers if k != name]
        headers.append((name, ",".join(_header_value(v) for v in values)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))

    body = result.get("body")
    if body is None:
        raw = b""
    elif result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(str(body), validate=True)
        except ValueError as exc:
            raise BadFunctionResponse(f"body is not valid base64: {exc}") from None
    else:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    return HttpResponse(status, headers, raw)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def content_length(method: str, response: HttpResponse) -> str | None:
    """The Content-Length to send with `response` (RFC 9110 section 8.6), None for none. A 304
    carries none: it would have to be the full representation's, which the 304 has not got.
    A HEAD answer gets the length GET would send: its body's (the static site and the
    gateway's own errors answer HEAD with GET's body, which is then not sent), else the
    length a function declared, else none. Anything else: its body's."""
    if response.status == 304:
        return None
    if method == "HEAD" and not response.body:
        declared = next((v.strip() for k, v in response.headers if k == "content-length"), "")
        return declared if declared.isdigit() else None
    return str(len(response.body))


# ------------------------------------------------------------------ the gateway

class Gateway:
    """Route, authorize, invoke and answer; `handle` is the whole pipeline and is what the
    HTTP server calls (and what unit tests call directly)."""

    def __init__(self, config: ApiConfig, invoker: Invoker, authorizer: JwtAuthorizer | None,
                 site: StaticSite | None = None):
        self.config, self.invoker, self.authorizer = config, invoker, authorizer
        self.site = site if site is not None else WEB_CLIENT  # web/, for what no route matched
        self.integration_timeout = INTEGRATION_TIMEOUT
        self.table = RouteTable(config.routes)
        self._buckets = {(r.method, r.path): TokenBucket(config.throttle) for r in config.routes} \
            if config.throttle else {}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_stack(cls, sam: dict[str, Any], stack: Any, invoker: Invoker, *,
                  endpoint_url: str) -> Gateway:
        config = ApiConfig.from_template(sam, stack)
        authorizer = None
        if config.jwt is not None:
            jwks = JwksCache(f"{endpoint_url.rstrip('/')}/{stack.user_pool_id}/.well-known/jwks.json")
            authorizer = JwtAuthorizer(config.jwt, jwks)
        # The page may upload to and show images from the stack's media bucket, on the emulator.
        return cls(config, invoker, authorizer, site=WEB_CLIENT.with_media_endpoint(endpoint_url))

    # -------------------------------------------------------------- the pipeline

    def handle(self, request: HttpRequest) -> HttpResponse:
        origin = request.header("origin")
        cors = self.config.cors
        if cors and request.method == "OPTIONS" and origin and request.header("access-control-request-method"):
            # API Gateway answers preflights itself, before routing and without the authorizer.
            headers = self._cors_headers(origin, preflight=True) if cors.origin_allowed(origin) else []
            response = HttpResponse(204, headers, b"")
        else:
            response = self._dispatch(request)
            if cors and origin and cors.origin_allowed(origin):
                # CORS is the gateway's job: it overrides whatever the function set.
                response.headers = [(k, v) for k, v in response.headers if not k.startswith("access-control-")]
                response.headers += self._cors_headers(origin, preflight=False)
        # API Gateway names every response's request (its own errors too) by the id the
        # function's event carried as requestContext.requestId; a function cannot set it.
        response.headers = [(k, v) for k, v in response.headers if k.lower() != REQUEST_ID_HEADER]
        response.headers.append((REQUEST_ID_HEADER, request.request_id))
        return response

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        found = self.table.match(request.method, request.raw_path)
        if found is None:
            if self.site.serves(request.method, request.raw_path):  # web/: GET/HEAD outside /v1 only
                return HttpResponse(*self.site.respond(request.method, request.raw_path,
                                                       request.header("if-none-match")))
            return gateway_error(404, "Not Found")
        route, path_params = found
        bucket = self._buckets.get((route.method, route.path))
        if bucket is not None and not bucket.take():
            return gateway_error(429, "Too Many Requests")

        claims = None
        if route.authorized and self.authorizer is not None:
            try:
                claims = self.authorizer.authorize(request.header(self.authorizer.config.identity_header))
            except Unauthorized as exc:
                challenge = 'Bearer scope="" error="invalid_token"'
                if str(exc):
                    challenge += f' error_description="{exc}"'
                    log.info("401 %s %s: %s", request.method, request.raw_path, exc)
                return gateway_error(401, "Unauthorized", [("www-authenticate", challenge)])
            if route.scopes and not set(route.scopes) & set(str(claims.get("scope", "")).split()):
                return gateway_error(403, "Forbidden")

        event = build_event(request, route, path_params, claims)
        invocation = _integrations.submit(self.invoker.invoke, route.function, event)
        try:
            result = invocation.result(timeout=self.integration_timeout)
        except concurrent.futures.TimeoutError:
            log.error("%s did not answer %s %s within %.0f s", route.function, request.method, request.raw_path,
                      self.integration_timeout)
            return gateway_error(503, "Service Unavailable")
        except RequestTooLarge as exc:  # Lambda's payload quota refused the event itself
            log.info("%s %s: %s", request.method, request.raw_path, exc.error_message)
            return gateway_error(413, "Request Entity Too Large")
        except Exception as exc:
            log.error("%s failed on %s %s: %s: %s", route.function, request.method, request.raw_path,
                      getattr(exc, "error_type", type(exc).__name__),
                      getattr(exc, "error_message", str(exc)))
            for line in getattr(exc, "stack", None) or []:
                log.error("  %s", str(line).rstrip())
            return gateway_error(500, "Internal Server Error")
        try:
            return translate_response(result)
        except BadFunctionResponse as exc:
            log.error("%s returned a malformed response: %s", route.function, exc)
            return gateway_error(500, "Internal Server Error")

    def _cors_headers(self, origin: str, *, preflight: bool) -> list[tuple[str, str]]:
        cors = self.config.cors
        assert cors is not None
        headers = [("access-control-allow-origin", cors.allow_origin_value(origin))]
        if cors.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if preflight:
            if cors.allow_methods:
                headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
            if cors.allow_headers:
                headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
            if cors.max_age is not None:
                headers.append(("access-control-max-age", str(cors.max_age)))
        elif cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        return headers

    # -------------------------------------------------------------- the HTTP server

    def serve(self, port: int = 3000, host: str = "127.0.0.1") -> Gateway:
        gateway = self

        class Handler(_RequestHandler):
            pass

        Handler.gateway = gateway
        self._server = _Server((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "call serve() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a slow handler must not hold up shutdown
    allow_reuse_address = True
    request_queue_size = 128  # the seeder opens many connections at once


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as they do with AWS
    server_version = "timeline-local-gateway"
    # The headers and the body go out in two writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the headers (~40 ms on Linux) on every keep-alive
    # response. Measured by `make bench` (quick): home read through the gateway 72 ms -> 16 ms
    # median, for a handler time of about 14 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile = _HeaderLines(self.rfile)

    def parse_request(self) -> bool:
        self.rfile.start()  # the request line is read; its headers are next
        return super().parse_request()

    def __getattr__(self, name: str) -> Any:
        # Every method (GET, POST, ... and TRACE, PROPFIND, BREW) is routed alike: one no route
        # serves gets API Gateway's JSON 404, never the standard library's 501 HTML page.
        if name.startswith("do_"):
            return self.do_request
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (request line too long, malformed request) as
        JSON, like every other answer of the gateway."""
        self.close_connection = True
        self._write(gateway_error(code, message or http.HTTPStatus(code).phrase, [("connection", "close")]))

    def do_request(self) -> None:
        started = time.perf_counter()
        raw_path, _, raw_query = self.path.partition("?")
        request_id = new_request_id()
        try:
            self._check_framing()
            body = self._read_body()
        except _Refused as exc:
            response = gateway_error(exc.status, exc.message, [("connection", "close")])
            self.close_connection = True
        except ValueError:
            response = gateway_error(400, "Bad Request", [("connection", "close")])
            self.close_connection = True
        else:
            request = HttpRequest(method=self.command, raw_path=raw_path, raw_query=raw_query,
                                  headers=list(self.headers.items()), body=body,
                                  source_ip=self.client_address[0], protocol=self.request_version,
                                  request_id=request_id)
            response = self.gateway.handle(request)
        if not any(k == REQUEST_ID_HEADER for k, _ in response.headers):  # refused before routing
            response.headers.append((REQUEST_ID_HEADER, request_id))
        self._write(response)
        # The request's id last: `grep <id>` finds the request here and in `timeline logs`.
        log.info("%s %s %d %.1fms %s", self.command, raw_path, response.status,
                 (time.perf_counter() - started) * 1000, request_id)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")
        if length > MAX_BODY_BYTES:
            raise _TooLarge()
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _TooLarge()
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: HttpResponse) -> None:
        self.send_response_only(response.status)
        self.send_header("date", self.date_time_string())
        for name, value in response.headers:
            if name not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        length = content_length(self.command, response)
        if length is not None:
            self.send_header("content-length", length)
        self.end_headers()
        if self.command != "HEAD" and response.status != 304 and response.body:  # a 304 has no content
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by do_request


    def _check_framing(self) -> None:
        """What API Gateway refuses before routing: a bare CR inside a header line (RFC 9112
        lets a server reject it; Python's parser would split it into a second header, a header
        injection), Content-Length given twice with different values, and a request line and
        headers over HTTP API's 10 KB quota."""
        if self.rfile.bare_cr:
            raise _Refused(400, "Bad Request")
        if len({v.strip() for v in self.headers.get_all("content-length") or []}) > 1:
            raise _Refused(400, "Bad Request")
        if len(self.requestline) + self.rfile.header_bytes > MAX_REQUEST_LINE_AND_HEADERS:
            raise _Refused(431, "Request Header Fields Too Large")


class _HeaderLines:
    """The connection's input, watching the header lines of the request being parsed (from
    `start()` to the blank line; the body is not watched)."""

    def __init__(self, raw: Any):
        self._raw = raw
        self.bare_cr, self.header_bytes, self._watching = False, 0, False

    def start(self) -> None:
        self.bare_cr, self.header_bytes, self._watching = False, 0, True

    def readline(self, *args: Any) -> bytes:
        line = self._raw.readline(*args)
        if self._watching:
            if line in (b"\r\n", b"\n", b""):
                self._watching = False
            else:
                self.header_bytes += len(line)
                self.bare_cr = self.bare_cr or b"\r" in line.rstrip(b"\r\n")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _TooLarge(_Refused):
    def __init__(self) -> None:
        super().__init__(413, "Request Entity Too Large")
