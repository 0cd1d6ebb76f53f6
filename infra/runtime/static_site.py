"""The web client's files (web/), served by the local gateway beside the API.

The gateway asks this module only about requests no API route matched, so the API is never
shadowed: `serves` says yes to GET and HEAD outside /v1 (the API's namespace), and `respond`
answers them from the site's folder:

  * `/` is `index.html`; any other path names a file under the folder, or it is a 404;
  * the path is percent-decoded once and must stay inside the folder: `..` and `.` segments,
    hidden names (`.gitkeep`, `.env`), backslashes, NUL and control characters are refused, and
    the resolved file (symlinks followed) must still be inside the folder;
  * Content-Type from a fixed table (text types say UTF-8; anything unknown is
    application/octet-stream), `X-Content-Type-Options: nosniff`, `Cache-Control: no-cache`
    with an ETag for the page, scripts and styles (the files are not fingerprinted, so browsers
    revalidate them and get a 304 while unchanged), an hour of caching for images and fonts;
  * HEAD gets GET's status, headers and body: the HTTP layer sends no body for HEAD (the
    gateway's writer does not) and keeps the Content-Length of the body it would have sent;
  * a missing file is API Gateway's own `404 {"message":"Not Found"}`, as any unknown path was
    before the site existed;
  * the page's Content-Security-Policy is the `<meta http-equiv>` in web/index.html, which lets
    requests and images reach only the page's own origin (where this gateway serves the API
    too). The one thing it cannot name is the stack's media bucket, on the emulator's port:
    a site made `with_media_endpoint(the emulator's URL)` adds that origin (and, for a host
    name, its subdomains on that port: botocore's virtual-hosted buckets) to the policy's
    connect-src (the presigned upload) and img-src (the presigned images), nothing else.
    Only an origin is accepted, so a policy is never widened with a scheme, a wildcard host
    or a smuggled directive.

Files are read on every request, so editing web/ needs no restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from pathlib import Path
from typing import NamedTuple

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
API_PREFIX = "/v1"  # every API route lives under it; the site never answers there
INDEX = "index.html"
MAX_FILE_BYTES = 8 * 1024 * 1024  # a static asset of the client, never a data dump

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
# Unfingerprinted code and the page: always revalidated (ETag), so an edit shows on reload.
REVALIDATE = {".html", ".js", ".mjs", ".css", ".json", ".map", ".webmanifest", ".txt"}


# The page's policy (web/index.html) and the directives the media bucket's origin joins.
CSP_META = re.compile(rb'(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")', re.IGNORECASE)
MEDIA_DIRECTIVES = ("connect-src", "img-src")
# http(s)://host[:port][/], the host a DNS name or an IPv4 address: an origin, nothing more.
ENDPOINT = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?/?", re.IGNORECASE)


def media_sources(endpoint_url: str) -> tuple[str, ...]:
    """The CSP sources for the media bucket behind an S3 endpoint: its origin, and for a host
    name (not an IP address) its subdomains on the same port, where botocore addresses a
    bucket (virtual-hosted style) on a custom endpoint. ValueError for anything that is not
    an http(s) origin."""
    m = ENDPOINT.fullmatch(endpoint_url)
    if m is None or (m.group(3) is not None and not 0 < int(m.group(3)) < 65536):
        raise ValueError(f"not an http(s) origin: {endpoint_url!r}")
    scheme, host = m.group(1).lower(), m.group(2).lower()
    port = f":{m.group(3)}" if m.group(3) else ""
    origin = f"{scheme}://{host}{port}"
    if re.fullmatch(r"[0-9.]+", host):
        return (origin,)
    return (origin, f"{scheme}://*.{host}{port}")


class StaticResponse(NamedTuple):
    """Field for field what infra.runtime.gateway.HttpResponse takes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def not_found() -> StaticResponse:
    """API Gateway's answer for a path with no route, unchanged."""
    return StaticResponse(404, [("content-type", "application/json")],
                          json.dumps({"message": "Not Found"}).encode())


class StaticSite:
    def __init__(self, root: Path = WEB_ROOT, media: tuple[str, ...] = ()):
        self.root = Path(root)
        self.media = media  # CSP sources of the media bucket, added to the page's policy

    def with_media_endpoint(self, endpoint_url: str) -> StaticSite:
        """This site, its page allowed to upload to and show images from the media bucket
        behind `endpoint_url` (the local stack's emulator)."""
        return StaticSite(self.root, media_sources(endpoint_url))

    def _allow_media(self, page: bytes) -> bytes:
        """The page with the media bucket's sources added to its policy's connect-src and
        img-src; the rest of the page, the policy's other directives included, as it is."""
        def widen(m: re.Match[bytes]) -> bytes:
            directives = m.group(2).decode().split(";")
            for i, directive in enumerate(directives):
                sources = directive.split()
                if sources and sources[0].lower() in MEDIA_DIRECTIVES:
                    extra = [s for s in self.media if s not in sources[1:]]
                    directives[i] = " ".join([directive.rstrip(), *extra]) + directive[len(directive.rstrip()):]
            return m.group(1) + ";".join(directives).encode() + m.group(3)

        return CSP_META.sub(widen, page, count=1) if self.media else page

    def serves(self, method: str, raw_path: str) -> bool:
        """Whether a request that matched no API route is the site's to answer."""
        path = raw_path.split("?", 1)[0]
        return method in ("GET", "HEAD") and path.startswith("/") and not (
            path == API_PREFIX or path.startswith(API_PREFIX + "/"))

    def resolve(self, raw_path: str) -> Path | None:
        """The file a request path names, or None when it names nothing we serve."""
        path = urllib.parse.unquote(raw_path.split("?", 1)[0], errors="strict")
        if not path.startswith("/") or "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
            return None
        rel = path[1:]
        segments = rel.split("/") if rel else []
        if any(not s or s.startswith(".") for s in segments):
            return None  # empty (//, a folder's trailing /), ., .., and hidden names
        root = self.root.resolve()
        candidate = root.joinpath(*segments) if segments else root / INDEX
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(root) or not real.is_file():
            return None
        return real

    def respond(self, method: str, raw_path: str, if_none_match: str | None = None) -> StaticResponse:
        if not self.serves(method, raw_path):
            return not_found()
        try:
            file = self.resolve(raw_path)
        except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8
            file = None
        if file is None:
            return not_found()
        try:
            stat = file.stat()
            if stat.st_size > MAX_FILE_BYTES:
                return not_found()
            body = file.read_bytes()
        except OSError:
            return not_found()
        suffix = file.suffix.lower()
        if suffix == ".html":
            body = self._allow_media(body)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = [
            ("content-type", CONTENT_TYPES.get(suffix, "application/octet-stream")),
            ("cache-control", "no-cache" if suffix in REVALIDATE else "public, max-age=3600"),
            ("etag", etag),
            ("x-content-type-options", "nosniff"),
        ]
        if suffix == ".html":
            headers += [("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")]
        tags = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
        if etag in tags or "*" in tags:
            return StaticResponse(304, [h for h in headers if h[0] != "content-type"], b"")
        return StaticResponse(200, headers, body)


SITE = StaticSite()
