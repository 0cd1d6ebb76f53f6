"""Demo data: the plan (who exists, who follows whom, who posts, replies, reposts and paints
what), and `seed`, which writes a plan the way real clients would: over the public HTTP API
only (sign up, sign in, follow, post, upload an image to the presigned POST), so it also
exercises the whole stack. `timeline seed` loads a running stack that way. `make run` loads
the same plan in bulk through the store layer instead, and leaves the fan-out to the pipeline
(infra/console/demo_loader.py); its pictures still go through the API with `ApiClient.post_picture`.

The follow graph is power-law shaped, like real social graphs: account popularity follows a
Zipf law, so a few accounts collect most follows. Those cross CelebrityThreshold and take the
read-time-merge path while everyone else is fanned out on write. Everything is derived from
one random seed, so two runs with the same seed build the same demo.
"""

from __future__ import annotations

import io
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import requests

DEMO_HANDLE = "demo"
DEMO_PASSWORD = "demo-password-1"  # local demo only; every seeded account shares it
DEFAULT_THRESHOLD = 50  # the demo's CelebrityThreshold: the Zipf head crosses it, the tail does not
DEMO_POST_RATE_LIMIT = 1000  # for `timeline seed` over the API: its busiest account posts ~60 times at once

_FIRST = ("ada", "alan", "barbara", "claude", "dennis", "edsger", "frances", "grace", "hedy",
          "ivan", "john", "ken", "leslie", "margaret", "niklaus", "radia", "shafi", "tim",
          "vint", "whitfield", "yukihiro", "guido", "linus", "anita", "donald", "katherine",
          "mary", "robin", "sophie", "tony")
_TOPICS = ("timelines", "fan-out", "queues", "streams", "caches", "shards", "lambdas",
           "cold starts", "backpressure", "idempotency", "hot partitions", "retries")
_CAPTIONS = ("Whiteboard from today's design review.", "The fan-out, drawn.", "Dashboard at peak.",
             "View from the office.", "Latency before and after.", "Our queue depth this morning.")
_TEMPLATES = ("Thinking about {t} again today.",
              "Hot take: {t} are easier than {u}.",
              "Shipped a fix for {t} #{n}.",
              "Reading a paper on {t} and {u}.",
              "Anyone else debugging {t} at this hour?",
              "Note to self: measure {t} before tuning {u}.",
              "{t} {n}, {u} 0. Good day.")


@dataclass(frozen=True)
class DemoUser:
    handle: str
    display_name: str


@dataclass
class SeedPlan:
    users: list[DemoUser]
    follows: list[tuple[int, int]]  # (follower index, followee index)
    posts: list[tuple[int, str]]  # (author index, text), in posting order
    threshold: int
    # (user index, index into posts, reply text or None for a repost), after the posts
    reactions: list[tuple[int, int, str | None]] = field(default_factory=list)
    # (user index, caption, picture seed): posts with an image, after the posts
    pictures: list[tuple[int, str, int]] = field(default_factory=list)
    # (user index, index into posts): likes, after the posts
    likes: list[tuple[int, int]] = field(default_factory=list)

    def follower_counts(self) -> Counter:
        return Counter(followee for _, followee in self.follows)

    def celebrities(self) -> list[tuple[str, int]]:
        counts = self.follower_counts()
        return sorted(((self.users[i].handle, n) for i, n in counts.items() if n >= self.threshold),
                      key=lambda item: -item[1])


def plan(users: int = 200, posts: int = 1500, *, threshold: int = DEFAULT_THRESHOLD,
         seed: int = 7, zipf_exponent: float = 1.0, mean_following: float = 8.0,
         reactions: int = 120, pictures: int = 12, likes: int = 600) -> SeedPlan:
    """Who exists, who follows whom, who posts what, and who replies to or reposts what.
    Index 0 is the demo login, which follows the biggest accounts and a handful of others so
    its home timeline shows both the fan-out and the celebrity-merge paths."""
    rng = random.Random(seed)
    people = [DemoUser(DEMO_HANDLE, "Demo Reader")]
    for i in range(1, users):
        first = _FIRST[(i - 1) % len(_FIRST)]
        people.append(DemoUser(f"{first}{i:03d}", f"{first.title()} #{i}"))

    # Popularity rank is a shuffled order of the accounts (not their index) so the
    # celebrities are not simply the first handles.
    ranked = list(range(1, users))
    rng.shuffle(ranked)
    weights = [1.0 / (rank + 1) ** zipf_exponent for rank in range(len(ranked))]

    follows: set[tuple[int, int]] = set()
    for follower in range(1, users):
        # Out-degree is skewed too (most people follow a few, some follow many).
        want = min(len(ranked) - 1, max(1, int(rng.expovariate(1 / mean_following))))
        chosen: set[int] = set()
        while len(chosen) < want:
            followee = rng.choices(ranked, weights)[0]
            if followee != follower:
                chosen.add(followee)
        follows.update((follower, f) for f in chosen)
    for followee in ranked[:3] + rng.sample(ranked[3:], k=min(12, len(ranked) - 3)):
        follows.add((0, followee))

    # Posting activity is skewed more gently than popularity; the demo reader only reads.
    activity = [1.0 / (rank + 1) ** 0.5 for rank in range(len(ranked))]
    written = []
    for n in range(posts):
        author = rng.choices(ranked, activity)[0]
        t, u = rng.sample(_TOPICS, 2)
        written.append((author, rng.choice(_TEMPLATES).format(t=t, u=u, n=n)))
    ordered = sorted(follows)
    rng.shuffle(ordered)  # follows arrive in no particular order, as they would for real
    # Recent posts draw the replies and reposts: threads and reposts near the top of timelines.
    recent = list(range(max(0, posts - 300), posts))
    reacted = []
    for n in range(reactions if recent else 0):
        actor, target = rng.choice(ranked), rng.choice(recent)
        reacted.append((actor, target, None if n % 2 else f"Agreed on {rng.choice(_TOPICS)} (#{n})."))
    # Pictures come from accounts the demo login follows (its timeline shows them) and others.
    followed = sorted(b for a, b in follows if a == 0)
    painters = [followed[n % len(followed)] if n % 3 and followed else rng.choice(ranked) for n in range(pictures)]
    drawn = [(who, rng.choice(_CAPTIONS), rng.randrange(1 << 30)) for who in painters] if ranked else []
    # Likes from a generator of their own (the rest of the plan is as it was without them): the
    # recent posts of popular accounts draw most.
    liking = random.Random(seed + 1)
    liked = sorted({(liking.choice(ranked), liking.choice(recent)) for _ in range(likes if recent else 0)})
    return SeedPlan(users=people, follows=ordered, posts=written, threshold=threshold, reactions=reacted,
                    pictures=drawn, likes=liked)


def picture(seed: int, width: int = 960, height: int = 640) -> bytes:
    """A JPEG that looks like something (a tinted Mandelbrot detail), different for each seed."""
    from PIL import Image  # the runtime's own dependency; imported here so --help stays instant

    rng = random.Random(seed)
    x, y, span = rng.uniform(-1.8, 0.2), rng.uniform(-0.9, 0.9), rng.uniform(0.2, 2.5)
    fractal = Image.effect_mandelbrot((width, height), (x - span, y - span * height / width,
                                                        x + span, y + span * height / width), 96)
    tint = [rng.randrange(256) for _ in range(3)]
    gradient = Image.linear_gradient("L").resize((width, height))
    channels = [Image.blend(fractal, gradient, 0.35).point(lambda v, t=t: (v * t) // 255 + (255 - t) // 3)
                for t in tint]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=85)
    return out.getvalue()


class SeedError(RuntimeError):
    pass


@dataclass
class SeedReport:
    users: int = 0
    follows: int = 0
    posts: int = 0
    requests: int = 0
    api_seconds: float = 0.0  # the HTTP calls
    settle_seconds: float = 0.0  # then waiting for fan-out to drain
    settled: bool = False
    celebrities: list[tuple[str, int]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.api_seconds + self.settle_seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.api_seconds if self.api_seconds else 0.0


class Progress:
    """One line rewritten in place on a terminal; a line every few seconds otherwise."""

    def __init__(self, stream=sys.stderr, interval: float = 3.0):
        self.stream, self.interval = stream, interval
        self.tty = stream.isatty()
        self._last = 0.0

    def update(self, phase: str, done: int, total: int, started: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.tty and now - self._last < self.interval:
            return
        if not force and self.tty and now - self._last < 0.1:
            return
        self._last = now
        rate = done / max(now - started, 1e-6)
        line = f"  seeding {phase:<8} {done:>5}/{total:<5} {rate:6.0f} req/s"
        if self.tty:
            self.stream.write("\r" + line.ljust(60) + ("\n" if force else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class ApiClient:
    """A thin client of the public API: one keep-alive session per thread, retries only for
    transport errors and 5xx/429 (a 4xx is a real answer and fails the seed)."""

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3):
        self.base_url, self.timeout, self.retries = base_url.rstrip("/"), timeout, retries
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, method: str, path: str, *, token: str | None = None, json: Any = None,
             ok: Iterable[int] = (200, 201, 204)) -> requests.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        for attempt in range(self.retries + 1):
            try:
                resp = self._session.request(method, self.base_url + path, json=json,
                                             headers=headers, timeout=self.timeout)
            except requests.ConnectionError:
                if attempt == self.retries:
                    raise
            else:
                if resp.status_code in ok:
                    return resp
                if (resp.status_code < 500 and resp.status_code != 429) or attempt == self.retries:
                    raise SeedError(f"{method} {path} -> {resp.status_code} {resp.text[:300]}")
            time.sleep(0.2 * 2 ** attempt)
        raise AssertionError("unreachable")

    def sign_up(self, user: DemoUser, password: str) -> None:
        # 409: the account exists already (a rerun against a persistent emulator).
        self.call("POST", "/v1/auth/signup", ok=(200, 201, 409),
                  json={"handle": user.handle, "password": password, "display_name": user.display_name})

    def sign_in(self, handle: str, password: str) -> dict[str, Any]:
        return self.call("POST", "/v1/auth/token", json={"handle": handle, "password": password}).json()

    def follow(self, token: str, handle: str) -> None:
        self.call("POST", f"/v1/users/{handle}/follow", token=token, ok=(200, 201, 204, 409))

    def like(self, token: str, tweet_id: str) -> None:
        self.call("POST", f"/v1/tweets/{tweet_id}/like", token=token, ok=(200, 201))

    def post(self, token: str, text: str, reply_to_id: str | None = None) -> dict[str, Any]:
        body = {"text": text, **({"reply_to_id": reply_to_id} if reply_to_id else {})}
        return self.call("POST", "/v1/tweets", token=token, json=body).json()

    def repost(self, token: str, tweet_id: str) -> None:
        self.call("POST", f"/v1/tweets/{tweet_id}/repost", token=token, ok=(200, 201))

    def post_picture(self, token: str, caption: str, data: bytes, ready_timeout: float = 30.0) -> dict[str, Any]:
        """Upload as a client does (an upload form, then the file straight to S3), wait for the
        media processor's verdict, then post with it."""
        form = self.call("POST", "/v1/media", token=token,
                         json={"content_type": "image/jpeg", "content_length": len(data)}).json()
        upload = form["upload"]
        resp = self._session.post(upload["url"], data=upload["fields"], timeout=self.timeout,
                                  files={"file": ("picture.jpg", data, "image/jpeg")})
        if resp.status_code not in (200, 201, 204):
            raise SeedError(f"upload to {upload['url']} -> {resp.status_code} {resp.text[:300]}")
        deadline = time.monotonic() + ready_timeout
        while True:
            status = self.call("GET", f"/v1/media/{form['media_id']}", token=token).json()
            if status["status"] == "ready":
                break
            if status["status"] == "rejected" or time.monotonic() > deadline:
                raise SeedError(f"demo picture {form['media_id']}: {status['status']} {status.get('message')}")
            time.sleep(0.1)
        return self.call("POST", "/v1/tweets", token=token,
                         json={"text": caption, "media_ids": [form["media_id"]]}).json()


def _run_phase(pool: ThreadPoolExecutor, name: str, jobs: list[Callable[[], Any]],
               progress: Progress) -> list[Any]:
    started = time.monotonic()
    futures = {pool.submit(job): i for i, job in enumerate(jobs)}
    results: list[Any] = [None] * len(jobs)
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()  # the first failure stops the seed
            progress.update(name, done, len(jobs), started, force=done == len(jobs))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results


def seed(api_url: str, seed_plan: SeedPlan, *, wait_idle: Callable[[float], bool] | None = None,
         threads: int = 8, settle_timeout: float = 60.0, progress: Progress | None = None,
         token_field: str = "access_token") -> SeedReport:
    """Create the plan's accounts, follows and posts through the API, then wait for the
    fan-out to drain (`wait_idle`, e.g. Pollers.wait_idle) so timelines are complete."""
    progress = progress or Progress()
    client = ApiClient(api_url)
    report = SeedReport()
    started = time.monotonic()
    users = seed_plan.users
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seed")
    try:
        _run_phase(pool, "sign-up", [lambda u=u: client.sign_up(u, DEMO_PASSWORD) for u in users], progress)
        tokens = _run_phase(pool, "sign-in",
                            [lambda u=u: client.sign_in(u.handle, DEMO_PASSWORD)[token_field]
                             for u in users], progress)
        _run_phase(pool, "follow", [lambda a=a, b=b: client.follow(tokens[a], users[b].handle)
                                    for a, b in seed_plan.follows], progress)
        posted = _run_phase(pool, "post", [lambda a=a, t=t: client.post(tokens[a], t)
                                           for a, t in seed_plan.posts], progress)
        _run_phase(pool, "reply/repost", [
            (lambda a=a, p=posted[i]["id"], t=t: client.post(tokens[a], t, reply_to_id=p)) if t is not None
            else (lambda a=a, p=posted[i]["id"]: client.repost(tokens[a], p))
            for a, i, t in seed_plan.reactions], progress)
        _run_phase(pool, "like", [lambda a=a, p=posted[i]["id"]: client.like(tokens[a], p)
                                  for a, i in seed_plan.likes], progress)
        _run_phase(pool, "pictures", [lambda a=a, c=c, n=n: client.post_picture(tokens[a], c, picture(n))
                                      for a, c, n in seed_plan.pictures], progress)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    report.users, report.follows, report.posts = len(users), len(seed_plan.follows), len(seed_plan.posts)
    report.requests = (2 * len(users) + len(seed_plan.follows) + len(seed_plan.posts) + len(seed_plan.reactions)
                       + len(seed_plan.likes) + 4 * len(seed_plan.pictures))  # form, upload, at least one status read, post
    report.api_seconds = time.monotonic() - started
    if wait_idle is not None:
        report.settled = wait_idle(settle_timeout)
    report.settle_seconds = time.monotonic() - started - report.api_seconds
    report.celebrities = seed_plan.celebrities()
    return report
