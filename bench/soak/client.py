"""The soak's HTTP client: every write is sent until it is acknowledged or definitively
refused, so the oracle knows what committed.

Retry-safe by construction, kind by kind:
- posts, replies and image posts carry an Idempotency-Key, the same on every resend: a resend
  of a post that committed answers the same post;
- follows, blocks, mutes and reposts set a state ("A follows B"), and their undoing clears it:
  sending one twice leaves the state as once (a repost sent again answers the same repost);
- a delete sent again after it committed answers 404, which then acknowledges it.

A resend follows anything that may have been lost in between: no answer (a connection reset,
a timeout), an answer the service gives for a transient state (5xx, 429, 409 contention), or
an answer the client drops on purpose (`lost_answers`, a chaos fault: the commit happened, its
answer did not arrive).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import requests

TRANSIENT_409 = {"contention", "followee_changing", "repost_changing"}  # "busy right now, try again"
GIVE_UP_S = 180.0  # a write still unanswered after this is unresolved: the run fails


class Unresolved(RuntimeError):
    """A write that was neither acknowledged nor refused within GIVE_UP_S."""


@dataclass
class Answer:
    status: int
    body: Any
    attempts: int
    resent_after_commit: bool  # a resend followed a dropped answer (the first send committed)

    @property
    def code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None


class Latencies:
    """Seconds per kind of call, and statuses seen, shared by the client's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.series: list[tuple[float, str, float]] = []  # (monotonic end, kind, seconds)

    def add(self, kind: str, seconds: float, status: int | str) -> None:
        with self._lock:
            self.samples[kind].append(seconds)
            self.statuses[kind][str(status)] += 1
            self.series.append((time.monotonic(), kind, seconds))

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {kind: {"count": len(v), "p50_ms": round(quantile(v, 0.5) * 1000, 1),
                           "p99_ms": round(quantile(v, 0.99) * 1000, 1), "max_ms": round(max(v) * 1000, 1)}
                    for kind, v in sorted(self.samples.items()) if v}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _server_error(resp: requests.Response | None) -> bool:
    """A 5xx other than 503 (which a throttled dependency answers, with Retry-After)."""
    return resp is not None and resp.status_code >= 500 and resp.status_code != 503


def transient(resp: requests.Response | None) -> bool:
    if resp is None or resp.status_code >= 500 or resp.status_code == 429:
        return True
    if resp.status_code == 409:
        try:
            return resp.json()["error"]["code"] in TRANSIENT_409
        except (ValueError, KeyError, TypeError):
            return False
    return False


class SoakClient:
    def __init__(self, url: str, *, lost_answers: float = 0.0, seed: int = 0, timeout: float = 30.0):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.lost_answers = lost_answers
        self._rng = random.Random(seed)
        self._local = threading.local()
        self.latencies = Latencies()
        self.answers_dropped = 0
        self.resends = 0
        self.server_errors = 0  # 5xx answers but 503, any call, resent or not (a killed api answers 500)

    @property
    def _http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def once(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response | None:
        """One attempt; None when no answer came (connection refused or reset, timeout)."""
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.url + path
        try:
            return self._http.request(method, url, headers=headers, timeout=self.timeout, **kw)
        except requests.RequestException:
            self._local.__dict__.pop("session", None)  # a broken keep-alive connection: start afresh
            return None

    def read(self, kind: str, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response | None:
        """A read, once, timed (no retry: a reader that failed reads again later)."""
        started = time.monotonic()
        resp = self.once(method, path, token, **kw)
        self.latencies.add(kind, time.monotonic() - started, resp.status_code if resp is not None else "no answer")
        self.server_errors += _server_error(resp)
        return resp

    def write(self, kind: str, method: str, path: str, token: str | None = None, *, may_lose: bool = True,
              **kw: Any) -> Answer:
        """Send until acknowledged or refused (see the module docstring); the time until then is
        the write's latency."""
        started = time.monotonic()
        attempts, dropped = 0, False
        while True:
            attempts += 1
            resp = self.once(method, path, token, **kw)
            if not transient(resp):
                assert resp is not None
                if may_lose and not dropped and resp.status_code < 300 and self._rng.random() < self.lost_answers:
                    dropped = True  # the commit happened; pretend its answer never arrived
                    self.answers_dropped += 1
                    continue
                self.latencies.add(kind, time.monotonic() - started, resp.status_code)
                try:
                    body = resp.json() if resp.content else None
                except ValueError:
                    body = resp.text
                return Answer(resp.status_code, body, attempts, dropped)
            self.resends += 1
            self.server_errors += _server_error(resp)
            if time.monotonic() - started > GIVE_UP_S:
                raise Unresolved(f"{kind} {method} {path}: no definitive answer in {GIVE_UP_S:.0f} s "
                                 f"({attempts} attempts, last {resp.status_code if resp is not None else 'no answer'})")
            retry_after = resp.headers.get("Retry-After") if resp is not None else None
            time.sleep(min(2.0, float(retry_after)) if retry_after else min(1.0, 0.05 * attempts))
