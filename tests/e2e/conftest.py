"""End-to-end: `timeline up` (`python -m infra.console up`) as a subprocess on free ports, driven only
over HTTP. The stack says it serves by writing its ready file (`--ready-file`), never through its log.

The stack is started once per session (startup is a few seconds; on a 2-core CI box the
function workers' cold starts dominate) and stopped with SIGTERM, which must end it cleanly.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 180.0  # generous: cold imports on a loaded 2-core box
WAIT = 30.0  # bound for "eventually" (fan-out through stream -> SQS -> worker)


class LocalStack:
    """One `timeline up` process; its log is kept for assertions and for failure reports.
    Its functions log to a folder of its own (`log_dir`, under the session's log root), never
    to a developer's .local/logs/, which a stack wipes when it starts."""

    log_root: Path | None = None  # set for the session by the stack_log_root fixture

    def __init__(self, *args: str):
        env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}  # always embedded moto
        env["PYTHONUNBUFFERED"] = "1"
        self.log_dir = Path(tempfile.mkdtemp(prefix="stack-", dir=self.log_root))
        self.ready_file = self.log_dir / "ready.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.console", "up", "--port", "0", "--emulator-port", "0",
             "--log-dir", str(self.log_dir), "--ready-file", str(self.ready_file), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> LocalStack:
        """Until the stack writes its ready file (or exits, or the time is up: a failure)."""
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists() and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if not self.ready_file.exists() or self.proc.poll() is not None:
            self.stop()
            pytest.fail("local stack did not start:\n" + self.log())
        self.url = json.loads(self.ready_file.read_text())["api_url"]
        return self

    def log(self) -> str:
        return "\n".join(self.lines[-200:])

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session", autouse=True)
def stack_log_root(tmp_path_factory) -> Iterator[Path]:
    """Where this session's stacks log: pytest's temporary folder, kept for the last few runs."""
    LocalStack.log_root = tmp_path_factory.mktemp("stack-logs")
    yield LocalStack.log_root
    LocalStack.log_root = None


@pytest.fixture(scope="session")
def local_stack(stack_log_root):
    # Demotion at once (the graph-change tests flip accounts both ways), and no per-account
    # action limit (the races and the fuzzer toggle far faster than a person; the limits have
    # their own tests in tests/functional/test_action_limits.py). Every request comes from 127.0.0.1:
    # no per-address sign-in and sign-up limits either (tests/functional/test_sign_in_limits.py,
    # tests/functional/test_cognito_admin_only.py).
    stack = LocalStack("--no-demo", "--param", "CelebrityThreshold=3", "--param", "DemotionCooldownMinutes=0",
                       "--param", "ActionRateLimitPerMinute=100000",
                       "--param", "SignInAttemptsPerAddressPerMinute=100000",
                       "--param", "SignUpsPerAddressPerHour=100000")
    stack.wait_ready()
    yield stack
    code = stack.stop()
    assert code == 0, f"SIGTERM should stop the stack cleanly (exit {code}):\n{stack.log()}"
    assert not stack.ready_file.exists(), "a stopped stack leaves no ready file behind"


class Api:
    """The public API as a client sees it."""

    _ids = itertools.count()
    PASSWORD = "e2e-password-1"

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def new_user(self, prefix: str) -> tuple[str, str]:
        """Sign up a fresh account and sign in: (handle, access token)."""
        handle = f"{prefix[:8]}{os.getpid() % 1000}{next(self._ids)}"[:15]
        created = self.request("POST", "/v1/auth/signup",
                               json={"handle": handle, "password": self.PASSWORD, "display_name": prefix})
        assert created.status_code == 201, created.text
        return handle, self.sign_in(handle)

    def sign_in(self, handle: str, password: str | None = None) -> str:
        resp = self.request("POST", "/v1/auth/token", json={"handle": handle, "password": password or self.PASSWORD})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert {"id_token", "access_token", "expires_in"} <= set(body)
        return body["access_token"]

    def follow(self, token: str, handle: str) -> None:
        resp = self.request("POST", f"/v1/users/{handle}/follow", token)
        assert resp.status_code in (200, 201, 204), resp.text

    def unfollow(self, token: str, handle: str) -> None:
        resp = self.request("DELETE", f"/v1/users/{handle}/follow", token)
        assert resp.status_code == 200, resp.text

    def profile(self, token: str, handle: str) -> dict:
        resp = self.request("GET", f"/v1/users/{handle}", token)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def post(self, token: str, text: str, reply_to_id: str | None = None) -> str:
        body = {"text": text, **({"reply_to_id": reply_to_id} if reply_to_id else {})}
        resp = self.request("POST", "/v1/tweets", token, json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    def timeline_ids(self, token: str, limit: int = 50) -> list[str]:
        return [item["id"] for item in self.timeline(token, limit)]

    # -- replies, reposts, follow options, blocks and mutes (issue 8) --

    def timeline(self, token: str, limit: int = 50) -> list[dict]:
        """The home timeline's items (TweetView dicts), newest first."""
        resp = self.request("GET", f"/v1/timeline?limit={limit}", token)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def user_tweets(self, token: str, handle: str, limit: int = 50) -> list[dict]:
        resp = self.request("GET", f"/v1/users/{handle}/tweets?limit={limit}", token)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def follow_with(self, token: str, handle: str, reposts: bool) -> dict:
        resp = self.request("POST", f"/v1/users/{handle}/follow", token, json={"reposts": reposts})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def repost(self, token: str, tweet_id: str, status: int = 201) -> dict:
        resp = self.request("POST", f"/v1/tweets/{tweet_id}/repost", token)
        assert resp.status_code == status, resp.text
        return resp.json()

    def unrepost(self, token: str, tweet_id: str) -> None:
        resp = self.request("DELETE", f"/v1/tweets/{tweet_id}/repost", token)
        assert resp.status_code == 204, resp.text

    def delete_tweet(self, token: str, tweet_id: str) -> None:
        resp = self.request("DELETE", f"/v1/tweets/{tweet_id}", token)
        assert resp.status_code == 204, resp.text

    def _moderate(self, method: str, token: str, handle: str, what: str) -> dict:
        resp = self.request(method, f"/v1/users/{handle}/{what}", token)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def block(self, token: str, handle: str) -> dict:
        return self._moderate("POST", token, handle, "block")

    def unblock(self, token: str, handle: str) -> dict:
        return self._moderate("DELETE", token, handle, "block")

    def mute(self, token: str, handle: str) -> dict:
        return self._moderate("POST", token, handle, "mute")

    def unmute(self, token: str, handle: str) -> dict:
        return self._moderate("DELETE", token, handle, "mute")

    def timeline_all(self, token: str) -> list[str]:
        """Every page of the home timeline: the post ids, newest first."""
        return [item["id"] for page in self.user_pages(token, "/v1/timeline", 100) for item in page]

    def user_pages(self, token: str, path: str, limit: int) -> list[list[dict]]:
        """Every page of a user list (e.g. /v1/me/blocks), following next_cursor to the end."""
        pages: list[list[dict]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            resp = self.request("GET", path, token, params=params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            pages.append(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 20, "pagination does not end"


@pytest.fixture()
def api(local_stack) -> Api:
    return Api(local_stack.url)


def eventually(check: Callable[[], Any], timeout: float = WAIT, interval: float = 0.2) -> Any:
    """Poll until `check` returns something truthy; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f}s (last: {value!r})")
        time.sleep(interval)
