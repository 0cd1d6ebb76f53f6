"""infra/static_site.py: the web client's files beside the API on the local gateway. Only GET and
HEAD outside /v1, only files inside the site's folder, each with its content type and caching,
and API Gateway's own JSON 404 for everything else."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from infra import static_site
from infra import template as tpl
from infra.gateway import ApiConfig, Gateway, HttpRequest
from infra.static_site import StaticSite

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
    monkeypatch.setattr("infra.gateway.WEB_CLIENT", site)
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
