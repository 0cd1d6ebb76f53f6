"""infra/runtime/static_site.py: the web client's files beside the API on the local gateway. Only GET and
HEAD outside /v1, only files inside the site's folder, each with its content type and caching,
and API Gateway's own JSON 404 for everything else."""

from __future__ import annotations

import html
import http.client
import json
import re
from pathlib import Path

import pytest

from infra.runtime import static_site
from infra.runtime import template as tpl
from infra.runtime.gateway import ApiConfig, Gateway, HttpRequest
from infra.runtime.static_site import StaticSite

NOT_FOUND = (404, {"message": "Not Found"})


@pytest.fixture()
def site(tmp_path: Path) -> StaticSite:
    """A site folder with one file of each kind, a hidden file, a sub-folder, and a secret
    beside it (outside) that a symlink inside points at."""
    root = tmp_path / "web"
    (root / "img").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "app.js").write_text("export const x = 1;")
    (root / "style.css").write_text("body{}")
    (root / "img" / "logo.svg").write_text("<svg/>")
    (root / "img" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "notes.xyz").write_bytes(b"\x00\x01")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside the site")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return StaticSite(root)


def status_and_json(response):
    return response.status, json.loads(response.body)


def header(response, name):
    return dict(response.headers).get(name)


# ---------------------------------------------------------------- which requests are the site's

def test_given_requests_no_api_route_matched_then_only_get_and_head_outside_v1_are_the_sites(site):
    assert site.serves("GET", "/") and site.serves("HEAD", "/app.js") and site.serves("GET", "/v1x/app.js")
    assert not site.serves("POST", "/index.html")
    assert not site.serves("DELETE", "/app.js")
    assert not site.serves("OPTIONS", "/")
    assert not site.serves("GET", "/v1") and not site.serves("GET", "/v1/nowhere")
    # and asked anyway, it answers them as no route
    assert status_and_json(site.respond("POST", "/index.html")) == NOT_FOUND
    assert status_and_json(site.respond("GET", "/v1/app.js")) == NOT_FOUND


# ---------------------------------------------------------------- files and their headers

@pytest.mark.parametrize("path, content_type", [
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/app.js", "text/javascript; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/img/logo.svg", "image/svg+xml"),
    ("/img/photo.png", "image/png"),
    ("/notes.xyz", "application/octet-stream"),
])
def test_given_a_file_when_it_is_asked_for_then_its_bytes_come_with_its_content_type(site, path, content_type):
    response = site.respond("GET", path)
    assert response.status == 200
    assert header(response, "content-type") == content_type
    assert header(response, "x-content-type-options") == "nosniff"
    name = "index.html" if path == "/" else path.lstrip("/")
    assert response.body == (site.root / name).read_bytes()


def test_given_code_and_images_then_code_is_revalidated_and_images_are_cached_an_hour(site):
    for path in ("/", "/app.js", "/style.css"):
        assert header(site.respond("GET", path), "cache-control") == "no-cache"
    assert header(site.respond("GET", "/img/photo.png"), "cache-control") == "public, max-age=3600"
    assert header(site.respond("GET", "/"), "x-frame-options") == "DENY"


def test_given_an_unchanged_file_when_revalidated_with_its_etag_then_304_without_a_body(site):
    etag = header(site.respond("GET", "/app.js"), "etag")
    revalidated = site.respond("GET", "/app.js", if_none_match=etag)
    assert (revalidated.status, revalidated.body, header(revalidated, "etag")) == (304, b"", etag)
    (site.root / "app.js").write_text("export const x = 2;")  # edited: a new ETag, the new bytes
    changed = site.respond("GET", "/app.js", if_none_match=etag)
    assert changed.status == 200 and changed.body == b"export const x = 2;"


def test_given_head_then_get_headers_and_body_are_answered_for_the_writer_to_drop_the_body(site):
    get, head = site.respond("GET", "/app.js"), site.respond("HEAD", "/app.js")
    assert (head.status, head.headers, head.body) == (get.status, get.headers, get.body)


# ---------------------------------------------------------------- what is refused

@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/img/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/img/%2e%2e/%2e%2e/secret.txt",
    "/..%5csecret.txt",
    "/img\\..\\..\\secret.txt",
    "/escape.txt",  # a symlink inside pointing outside
    "/.env",  # hidden files are not the site's
    "/./app.js",
    "//app.js",
    "/app.js%00.html",
    "/%ff%fe",  # not UTF-8 once decoded
    "/img/",  # a folder has no index but the root's
    "/img",
    "/missing.js",
])
def test_given_a_path_outside_the_site_or_to_no_file_then_api_gateways_json_404(site, path):
    assert status_and_json(site.respond("GET", path)) == NOT_FOUND
    assert status_and_json(site.respond("HEAD", path)) == NOT_FOUND


def test_given_no_site_folder_then_every_path_is_a_404(tmp_path):
    assert status_and_json(StaticSite(tmp_path / "absent").respond("GET", "/")) == NOT_FOUND


# ---------------------------------------------------------------- through the gateway

class NoFunctions:
    def invoke(self, logical_id, event):
        return {"statusCode": 200, "body": json.dumps({"route": event["routeKey"]})}


@pytest.fixture()
def gateway(site, monkeypatch):
    monkeypatch.setattr("infra.runtime.gateway.WEB_CLIENT", site)
    config = ApiConfig(routes=(tpl.Route("GET", "/v1/health", "Api", False, "Health"),
                               tpl.Route("POST", "/v1/tweets", "Api", False, "Post")), jwt=None, cors=None)
    gw = Gateway(config, NoFunctions(), authorizer=None).serve(0)
    yield gw
    gw.close()


def test_given_the_gateway_then_api_routes_are_unchanged_and_other_gets_are_files(gateway):
    def call(method, path):
        return gateway.handle(HttpRequest(method=method, raw_path=path, raw_query="", headers=[], body=b""))

    assert json.loads(call("GET", "/v1/health").body) == {"route": "GET /v1/health"}
    assert status_and_json(call("GET", "/v1/nowhere")) == NOT_FOUND
    assert status_and_json(call("GET", "/v1/app.js")) == NOT_FOUND  # /v1 is the API's, file or not
    assert status_and_json(call("POST", "/index.html")) == NOT_FOUND
    assert status_and_json(call("GET", "/nowhere")) == NOT_FOUND
    assert call("GET", "/").body.startswith(b"<!doctype html>")


def test_given_head_over_http_then_the_length_of_get_and_no_body(gateway, site):
    host, port = gateway.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("HEAD", "/app.js")
        head = conn.getresponse()
        assert head.read() == b""
        conn.request("GET", "/app.js")  # the same keep-alive connection: HEAD left no stray body
        get = conn.getresponse()
        body = get.read()
    finally:
        conn.close()
    assert head.status == get.status == 200
    assert head.getheader("content-length") == get.getheader("content-length") == str(len(body))
    assert head.getheader("content-type") == "text/javascript; charset=utf-8"
    assert body == (site.root / "app.js").read_bytes()


def test_the_real_web_client_is_in_the_repository():
    site = StaticSite(static_site.WEB_ROOT)
    for path in ("/", "/config.js", "/app.js", "/api.js", "/dom.js", "/feed.js", "/style.css", "/favicon.svg"):
        assert site.respond("GET", path).status == 200, path


def test_every_module_the_web_client_imports_is_served_as_a_script():
    # the client is ES modules without a build step: each import names a file the site serves
    site = StaticSite(static_site.WEB_ROOT)
    imported = {name for script in static_site.WEB_ROOT.glob("*.js")
                for name in re.findall(r'^import [^;]*? from "\./([\w.-]+\.js)";$', script.read_text(), flags=re.M)}
    assert {"post.js", "thread.js", "profile.js", "composer.js"} <= imported, imported
    for name in imported:
        response = site.respond("GET", f"/{name}")
        assert response.status == 200, name
        assert dict(response.headers)["content-type"] == "text/javascript; charset=utf-8", name


def test_the_demo_login_the_sign_in_page_names_is_the_one_the_demo_data_has():
    from infra.console import seed

    config = (static_site.WEB_ROOT / "config.js").read_text()
    named = re.findall(r'^export const LOCAL_DEMO_LOGIN = \{ handle: "([^"]*)", password: "([^"]*)" \};$',
                       config, flags=re.MULTILINE)
    assert named == [(seed.DEMO_HANDLE, seed.DEMO_PASSWORD)]


# ---------------------------------------------------------------- the page's Content-Security-Policy
# Issue 22, finding 1: a link naming another server as the API (?api=) got the password typed
# into the real page, and the page's policy let requests and images go to any http(s) origin.
# The page's requests may reach only its own origin (where the local gateway serves the API)
# and the media bucket; a host serving web/ elsewhere names its API and bucket in index.html.

EMULATOR = "http://127.0.0.1:4566"
WIDE_SOURCES = {"*", "http:", "https:", "ws:", "wss:", "data:", "'unsafe-inline'", "'unsafe-eval'"}


def csp_policies(response) -> list[dict[str, list[str]]]:
    """Every policy the page carries (header and <meta http-equiv>), as directive -> sources."""
    texts = [v for k, v in response.headers if k.lower() == "content-security-policy"]
    texts += re.findall(r'<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"',
                        response.body.decode(), flags=re.IGNORECASE)
    policies = []
    for text in texts:
        directives = [d.split() for d in html.unescape(text).split(";") if d.strip()]
        policies.append({d[0].lower(): d[1:] for d in directives})
    return policies


def without_policy(body: bytes) -> bytes:
    return re.sub(rb'(http-equiv="Content-Security-Policy"\s+content=)"[^"]*"', rb"\1", body, flags=re.IGNORECASE)


def test_the_real_page_lets_requests_and_images_reach_only_its_own_origin():
    page = StaticSite(static_site.WEB_ROOT).respond("GET", "/")
    policies = csp_policies(page)
    assert policies, "the page carries no Content-Security-Policy"
    for policy in policies:
        assert policy.get("connect-src") == ["'self'"], policy
        assert policy.get("img-src") == ["'self'", "blob:"], policy
        assert policy.get("default-src") == ["'self'"] and policy.get("script-src") == ["'self'"], policy
        assert policy.get("form-action") == ["'none'"] and policy.get("base-uri") == ["'none'"], policy


def test_the_real_config_names_no_api_so_the_page_uses_its_own_origin():
    # API_BASE "" keeps the page on its own origin: what index.html's connect-src 'self' allows
    config = (static_site.WEB_ROOT / "config.js").read_text()
    assert re.findall(r'^export const API_BASE = (.*);$', config, flags=re.MULTILINE) == ['""']


def test_given_the_local_stack_then_the_page_may_reach_only_itself_and_the_emulators_media_bucket():
    site = StaticSite(static_site.WEB_ROOT).with_media_endpoint(EMULATOR + "/")
    page = site.respond("GET", "/")
    policies = csp_policies(page)
    assert policies, "the page carries no Content-Security-Policy"
    for policy in policies:
        assert policy.get("connect-src") == ["'self'", EMULATOR], policy
        assert policy.get("img-src") == ["'self'", "blob:", EMULATOR], policy
        assert not WIDE_SOURCES & {s for sources in policy.values() for s in sources}, policy
    # everything else in the page is the file's, byte for byte; HEAD and the ETag agree
    unchanged = StaticSite(static_site.WEB_ROOT).respond("GET", "/").body
    assert without_policy(page.body) == without_policy(unchanged) and page.body != unchanged
    assert site.respond("HEAD", "/") == page
    assert site.respond("GET", "/", if_none_match=header(page, "etag")).status == 304
    # scripts are served as they are
    assert site.respond("GET", "/config.js").body == (static_site.WEB_ROOT / "config.js").read_bytes()


def test_given_an_emulator_named_by_host_then_its_virtual_hosted_buckets_are_allowed_too():
    # botocore addresses a bucket as <bucket>.<host> on a custom endpoint that is not an IP
    site = StaticSite(static_site.WEB_ROOT).with_media_endpoint("http://LocalHost:4566")
    for policy in csp_policies(site.respond("GET", "/")):
        assert policy["connect-src"] == ["'self'", "http://localhost:4566", "http://*.localhost:4566"], policy
        assert policy["img-src"] == ["'self'", "blob:", "http://localhost:4566", "http://*.localhost:4566"]


@pytest.mark.parametrize("endpoint", [
    "",
    "127.0.0.1:4566",  # no scheme
    "http:",
    "*",
    "ftp://127.0.0.1:4566",
    "javascript:alert(1)",
    "http://127.0.0.1:4566; script-src *",  # a policy smuggled in
    "http://127.0.0.1:4566 https:",
    "http://user@127.0.0.1:4566",
    "http://127.0.0.1:4566/bucket",
    "http://127.0.0.1:4566/?x=1",
    "http://127.0.0.1:notaport",
    'http://"x.example',
])
def test_given_an_endpoint_that_is_not_an_origin_then_no_policy_is_widened_with_it(endpoint):
    with pytest.raises(ValueError):
        StaticSite(static_site.WEB_ROOT).with_media_endpoint(endpoint)


def test_given_a_page_without_a_policy_then_the_media_origin_adds_none(site):
    served = site.with_media_endpoint(EMULATOR).respond("GET", "/")
    assert served == site.respond("GET", "/") and csp_policies(served) == []


def test_given_the_gateway_of_a_stack_then_it_serves_the_page_with_that_stacks_media_origin(site):
    config = ApiConfig(routes=(tpl.Route("GET", "/v1/health", "Api", False, "Health"),), jwt=None, cors=None)
    gw = Gateway(config, NoFunctions(), authorizer=None, site=site.with_media_endpoint(EMULATOR))
    (site.root / "index.html").write_text(
        '<meta http-equiv="Content-Security-Policy" content="connect-src \'self\'; img-src \'self\'">')
    page = gw.handle(HttpRequest(method="GET", raw_path="/", raw_query="", headers=[], body=b""))
    assert csp_policies(page) == [{"connect-src": ["'self'", EMULATOR], "img-src": ["'self'", EMULATOR]}]
