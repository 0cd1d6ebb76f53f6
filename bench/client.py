"""The benchmark's HTTP client of the public API: one keep-alive session per thread, and an
`x-bench-op` header on every request so the recorded invocation can be matched to it
(the gateway hands headers to the function, which ignores this one)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import requests


class ApiError(RuntimeError):
    pass


class Client:
    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, method: str, path: str, token: str, op: str, json: Any = None,
             headers: dict[str, str] | None = None) -> tuple[requests.Response, float, float]:
        """(response, started, ended) with epoch-second times around the request."""
        hdrs = {"authorization": f"Bearer {token}", "x-bench-op": op, **(headers or {})}
        started = time.time()
        resp = self._session.request(method, self.base_url + path, json=json, headers=hdrs, timeout=self.timeout)
        ended = time.time()
        if resp.status_code >= 300:
            raise ApiError(f"{method} {path} -> {resp.status_code} {resp.text[:300]}")
        return resp, started, ended

    def sign_up(self, handle: str, password: str) -> str:
        """A new account through the public API; returns its access token."""
        for path, body in (("/v1/auth/signup", {"handle": handle, "password": password, "display_name": handle}),
                           ("/v1/auth/token", {"handle": handle, "password": password})):
            resp = self._session.post(self.base_url + path, json=body, timeout=self.timeout)
            if resp.status_code >= 300:
                raise ApiError(f"POST {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json()["access_token"]

    def home(self, token: str, op: str, limit: int = 20) -> tuple[list[str], float, float]:
        resp, started, ended = self.call("GET", f"/v1/timeline?limit={limit}", token, op)
        return [item["id"] for item in resp.json()["items"]], started, ended

    def post(self, token: str, text: str, op: str) -> tuple[int, float, float]:
        # A real client sends an Idempotency-Key so a retried post is not posted twice.
        resp, started, ended = self.call("POST", "/v1/tweets", token, op, json={"text": text},
                                         headers={"idempotency-key": uuid.uuid4().hex})
        return int(resp.json()["id"]), started, ended

    def follow(self, token: str, handle: str, op: str) -> None:
        self.call("POST", f"/v1/users/{handle}/follow", token, op)

    def unfollow(self, token: str, handle: str, op: str) -> None:
        self.call("DELETE", f"/v1/users/{handle}/follow", token, op)

    def delete(self, token: str, tweet_id: int, op: str) -> None:
        self.call("DELETE", f"/v1/tweets/{tweet_id}", token, op)
