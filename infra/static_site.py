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
    before the site existed.

Files are read on every request, so editing web/ needs no restart.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from pathlib import Path
from typing import NamedTuple

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
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


class StaticResponse(NamedTuple):
    """Field for field what infra.gateway.HttpResponse takes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def not_found() -> StaticResponse:
    """API Gateway's answer for a path with no route, unchanged."""
    return StaticResponse(404, [("content-type", "application/json")],
                          json.dumps({"message": "Not Found"}).encode())


class StaticSite:
    def __init__(self, root: Path = WEB_ROOT):
        self.root = Path(root)

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
