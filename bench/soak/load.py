"""The soak's load: a writer that makes one change at a time (each sent until acknowledged or
refused, client.py) and keeps the naive model (model.py) of what was acknowledged, and readers
reading home timelines about 50 times per post, as Twitter's traffic is shaped.

One writer, so the model's order is the order the service committed in: a change is applied to
the model when its answer arrives, and the next change is sent only then. The readers change
nothing the model holds. Every choice comes from the run's seed.

The budget keeps the model exact (model.py): every post, repost and removal counts against
the stack's TimelineMax, and each account's posts and reposts against TimelineMax/4 (what a
backfill brings); past either, the writer makes other changes instead.
"""

from __future__ import annotations

import io
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.soak.client import Answer, SoakClient
from bench.soak.model import NaiveTimelines, Post

PASSWORD = "soak-password-1"
# Changes the writer makes, by weight: posts (with replies and image posts) are about 45% of
# them, so reads_per_post home reads per post set the readers' pace (Load.paces).
WEIGHTS = {"post": 30, "reply": 10, "upload": 4, "image_post": 4, "repost": 8, "unrepost": 3, "delete": 4,
           "follow": 8, "follow_without_reposts": 2, "switch_reposts": 2, "unfollow": 6,
           "block": 1.5, "unblock": 1, "mute": 1.5, "unmute": 1}
POSTING = ("post", "reply", "image_post")


@dataclass
class Logged:
    """One acknowledged (or refused) change, for the diffs: who, what, whom and which posts."""
    at: float
    kind: str
    actor: int
    accounts: tuple[int, ...] = ()
    posts: tuple[str, ...] = ()
    status: int = 0

    def describe(self, handles: dict[int, str]) -> str:
        whom = ",".join(handles[a] for a in self.accounts)
        return (f"t+{self.at:.1f}s {handles[self.actor]} {self.kind}"
                f"{' ' + whom if whom else ''}{' ' + ','.join(self.posts) if self.posts else ''} -> {self.status}")


@dataclass
class Anomaly:
    """An answer the model did not expect (a refusal of an allowed change, or the reverse)."""
    kind: str
    detail: str


def png(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (32, 24), ((seed * 37) % 256, (seed * 91) % 256, 128))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Load:
    client: SoakClient
    rng: random.Random
    timeline_max: int
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    started: float = field(default_factory=time.monotonic)
    model: NaiveTimelines = field(default_factory=NaiveTimelines)
    tokens: dict[int, str] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    acknowledged: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    posts_made: Counter = field(default_factory=Counter)  # author -> posts and reposts ever made
    entries_made: int = 0  # posts, reposts and removals ever: the TimelineMax budget
    over_budget: int = 0
    pending_uploads: list[tuple[int, str]] = field(default_factory=list)  # (user, media id)
    media_posts: dict[str, int] = field(default_factory=dict)  # post id -> images it carries

    # ------------------------------------------------------------------ the world
    def sign_up(self, users: int, prefix: str) -> None:
        for n in range(users):
            handle = f"{prefix}{n}"[:15]
            body = {"handle": handle, "password": PASSWORD, "display_name": handle}
            made = self.client.write("signup", "POST", "/v1/auth/signup", json=body, may_lose=False)
            assert made.status == 201, made
            token = self.client.write("signin", "POST", "/v1/auth/token", may_lose=False,
                                      json={"handle": handle, "password": PASSWORD})
            assert token.status == 200, token
            self.model.users.append(n)
            self.model.handles[n] = handle
            self.tokens[n] = token.body["access_token"]

    def befriend(self, follows_each: int) -> None:
        """Each account follows some others, the first accounts most (a skewed graph: its most
        followed accounts cross the celebrity threshold and back during the run)."""
        users = self.model.users
        weights = [1.0 / (1 + rank) for rank in range(len(users))]
        for user in users:
            chosen: set[int] = set()
            while len(chosen) < min(follows_each, len(users) - 1):
                other = self.rng.choices(users, weights)[0]
                if other != user:
                    chosen.add(other)
            for other in sorted(chosen):
                self._follow(user, other, None)

    def start_counting(self) -> None:
        """Count from here (the world's making is not the load)."""
        self.acknowledged.clear()
        self.refused.clear()
        self.started = time.monotonic()

    # ------------------------------------------------------------------ one change
    def step(self) -> str:
        """Make one change chosen by weight (one whose preconditions hold), wait for its answer
        and apply it to the model. Returns its kind."""
        kinds = list(self.weights)
        while True:
            kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            if getattr(self, f"_do_{kind}")():
                return kind

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _record(self, kind: str, actor: int, answer: Answer, accounts: tuple[int, ...] = (),
                posts: tuple[str, ...] = ()) -> None:
        self.log.append(Logged(self._elapsed(), kind, actor, accounts, posts, answer.status))
        (self.acknowledged if answer.status < 300 or answer.resent_after_commit else self.refused)[kind] += 1

    def _expect(self, kind: str, answer: Answer, ok: tuple[int, ...], refused: tuple[int, str] | None = None) -> bool:
        """True if the change was acknowledged; a refusal must be the one the model expects."""
        if refused is None and answer.status in ok:
            return True
        if refused is not None and (answer.status, answer.code) == refused:
            return False
        self.anomalies.append(Anomaly(kind, f"expected {refused or ok}, got {answer.status} {answer.body!r:.300}"))
        return False

    def _room(self, author: int, entries: int = 1) -> bool:
        ok = (self.entries_made + entries < self.timeline_max - 10
              and self.posts_made[author] + 1 < self.timeline_max // 4)
        self.over_budget += not ok
        return ok

    def _pick(self, options: list) -> Any:
        return self.rng.choice(options) if options else None

    def _targets(self) -> list[str]:
        """What one can answer or repost: a post, or a repost (which stands for its post)."""
        return sorted([*self.model.posts, *self.model.reposts.values()], key=int)

    def _original(self, target: str) -> str:
        return target if target in self.model.posts else next(
            p for (_, p), r in self.model.reposts.items() if r == target)

    def _post(self, author: int, kind: str, body: dict) -> str | None:
        answer = self.client.write(kind, "POST", "/v1/tweets", self.tokens[author], json=body,
                                   headers={"Idempotency-Key": uuid.uuid4().hex})
        answers = self.model.posts[self._original(body["reply_to_id"])].author if "reply_to_id" in body else None
        blocked = answers is not None and answers != author and (answers, author) in self.model.blocks
        if not self._expect(kind, answer, (201,), (403, "blocked") if blocked else None):
            self._record(kind, author, answer, (answers,) if answers is not None else ())
            return None
        post_id = answer.body["id"]
        self.model.posts[post_id] = Post(author, answers)
        self.posts_made[author] += 1
        self.entries_made += 1
        self._record(kind, author, answer, (answers,) if answers is not None else (), (post_id,))
        return post_id

    def _do_post(self) -> bool:
        author = self._pick(self.model.users)
        if not self._room(author):
            return False
        self._post(author, "post", {"text": f"soak post {len(self.log)}"})
        return True

    def _do_reply(self) -> bool:
        targets = self._targets()
        author = self._pick(self.model.users)
        if not targets or not self._room(author):
            return False
        target = self.rng.choice(targets[-30:])  # people answer what is recent
        self._post(author, "reply", {"text": f"soak reply {len(self.log)}", "reply_to_id": target})
        return True

    def _do_upload(self) -> bool:
        return len(self.pending_uploads) < 4 and self.upload()

    def upload(self) -> bool:
        """A form for an image, then the image straight to S3: the media processor checks it
        (the post that carries it comes later, once it is ready)."""
        user = self._pick(self.model.users)
        data = png(len(self.log))
        form = self.client.write("upload_form", "POST", "/v1/media", self.tokens[user], may_lose=False,
                                 json={"content_type": "image/png", "content_length": len(data)})
        if not self._expect("upload", form, (201,)):
            return True
        upload = form.body["upload"]
        sent = self.client.write("upload_s3", "POST", upload["url"], may_lose=False, data=upload["fields"],
                                 files={"file": ("soak.png", data, "image/png")})
        if self._expect("upload", sent, (204,)):
            self.pending_uploads.append((user, form.body["media_id"]))
            self._record("upload", user, sent)
        return True

    def _do_image_post(self) -> bool:
        if not self.pending_uploads:
            return False
        user, media_id = self.pending_uploads[0]
        resp = self.client.read("media_status", "GET", f"/v1/media/{media_id}", self.tokens[user])
        media = resp.json() if resp is not None and resp.status_code == 200 else {"status": "pending"}
        if media["status"] == "pending":
            return False  # not checked yet (or no answer): another change meanwhile
        self.pending_uploads.pop(0)
        if media["status"] != "ready":
            self.anomalies.append(Anomaly("image_post", f"upload {media_id} was {media}"))
            return True
        if not self._room(user):
            return True
        post_id = self._post(user, "image_post", {"text": f"soak image {len(self.log)}", "media_ids": [media_id]})
        if post_id is not None:
            self.media_posts[post_id] = 1
        return True

    def _do_repost(self) -> bool:
        targets = self._targets()
        user = self._pick(self.model.users)
        if not targets:
            return False
        target = self.rng.choice(targets[-40:])
        original = self._original(target)
        again = (user, original) in self.model.reposts
        if not again and not self._room(user):
            return False
        author = self.model.posts[original].author
        blocked = author != user and (author, user) in self.model.blocks
        answer = self.client.write("repost", "POST", f"/v1/tweets/{target}/repost", self.tokens[user])
        ok = (200,) if again else (201, 200)  # 200 after a dropped answer: the repost it made
        acknowledged = self._expect("repost", answer, ok, (403, "blocked") if blocked else None)
        self._record("repost", user, answer, (author,), (original,))
        if not acknowledged:
            return True
        repost_id = answer.body["repost"]["id"]
        if again and self.model.reposts[(user, original)] != repost_id:
            self.anomalies.append(Anomaly("repost", f"made again: {repost_id}, was {self.model.reposts[(user, original)]}"))
        if not again:
            self.model.reposts[(user, original)] = repost_id
            self.posts_made[user] += 1
            self.entries_made += 1
        return True

    def _do_unrepost(self) -> bool:
        if not self.model.reposts:
            return False
        (user, original), repost_id = self.rng.choice(sorted(self.model.reposts.items()))
        answer = self.client.write("unrepost", "DELETE", f"/v1/tweets/{original}/repost", self.tokens[user])
        if self._expect("unrepost", answer, (204,)):
            del self.model.reposts[(user, original)]
            self.entries_made += 1
        self._record("unrepost", user, answer, (), (original, repost_id))
        return True

    def _do_delete(self) -> bool:
        recent = sorted(self.model.posts, key=int)[-20:]  # people delete what they just posted
        if not recent:
            return False
        post_id = self.rng.choice(recent)
        author = self.model.posts[post_id].author
        answer = self.client.write("delete", "DELETE", f"/v1/tweets/{post_id}", self.tokens[author])
        # A delete sent again after it committed finds nothing: that 404 acknowledges it.
        ok = (204, 404) if answer.attempts > 1 else (204,)
        if self._expect("delete", answer, ok):
            gone = self.model.delete(post_id)
            self.entries_made += 1 + len(gone)
            self.media_posts.pop(post_id, None)
        self._record("delete", author, answer, (), (post_id,))
        return True

    def _follow(self, follower: int, followee: int, reposts: bool | None, kind: str = "follow") -> None:
        blocked = self.model.blocked_between(follower, followee)
        answer = self.client.write(kind, "POST", f"/v1/users/{self.model.handles[followee]}/follow",
                                   self.tokens[follower], json={"reposts": reposts} if reposts is not None else None)
        if self._expect(kind, answer, (200,), (403, "blocked") if blocked else None):
            self.model.follows[(follower, followee)] = reposts is not False
        self._record(kind, follower, answer, (followee,))

    def _pair(self) -> tuple[int, int]:
        a, b = self.rng.sample(self.model.users, 2)
        return a, b

    def _do_follow(self) -> bool:
        self._follow(*self._pair(), None)
        return True

    def _do_follow_without_reposts(self) -> bool:
        self._follow(*self._pair(), False, "follow_without_reposts")
        return True

    def _do_switch_reposts(self) -> bool:
        if not self.model.follows:
            return False
        (follower, followee), takes = self.rng.choice(sorted(self.model.follows.items()))
        self._follow(follower, followee, not takes, "switch_reposts")
        return True

    def _do_unfollow(self) -> bool:
        if not self.model.follows:
            return False
        follower, followee = self.rng.choice(sorted(self.model.follows))
        answer = self.client.write("unfollow", "DELETE", f"/v1/users/{self.model.handles[followee]}/follow",
                                   self.tokens[follower])
        if self._expect("unfollow", answer, (200,)):
            del self.model.follows[(follower, followee)]
            self.entries_made += 1  # its cleanup removes entries (counted once: the budget is generous)
        self._record("unfollow", follower, answer, (followee,))
        return True

    def _someone_shown_to(self, reader: int) -> int | None:
        """An account the reader's timeline holds something of (its author, reposter or whom a
        reply answers): a block or a mute chosen blindly would seldom hide anything."""
        accounts = {a for _, p, by in self.model.raw(reader)
                    for a in (self.model.posts[p].author, by, self.model.posts[p].answers)} - {None, reader}
        return self._pick(sorted(accounts))  # type: ignore[arg-type]

    def _moderate(self, kind: str, path: str, method: str, actor: int, other: int,
                  apply: Callable[[], Any]) -> None:
        answer = self.client.write(kind, method, f"/v1/users/{self.model.handles[other]}/{path}", self.tokens[actor])
        if self._expect(kind, answer, (200,)):
            apply()
        self._record(kind, actor, answer, (other,))

    def _do_block(self) -> bool:
        blocker = self._pick(self.model.users)
        blocked = self._someone_shown_to(blocker)
        if blocked is None or (blocker, blocked) in self.model.blocks:
            return False
        self._moderate("block", "block", "POST", blocker, blocked, lambda: self.model.block(blocker, blocked))
        return True

    def _do_unblock(self) -> bool:
        if not self.model.blocks:
            return False
        blocker, blocked = self.rng.choice(sorted(self.model.blocks))
        self._moderate("unblock", "block", "DELETE", blocker, blocked,
                       lambda: self.model.blocks.discard((blocker, blocked)))
        return True

    def _do_mute(self) -> bool:
        muter = self._pick(self.model.users)
        muted = self._someone_shown_to(muter)
        if muted is None or (muter, muted) in self.model.mutes:
            return False
        self._moderate("mute", "mute", "POST", muter, muted, lambda: self.model.mutes.add((muter, muted)))
        return True

    def _do_unmute(self) -> bool:
        if not self.model.mutes:
            return False
        muter, muted = self.rng.choice(sorted(self.model.mutes))
        self._moderate("unmute", "mute", "DELETE", muter, muted, lambda: self.model.mutes.discard((muter, muted)))
        return True


class Readers:
    """Threads reading home timelines at a steady pace (reads/s in all), each of a reader drawn
    at random; statuses and times go to the client's latencies (kind "home")."""

    def __init__(self, client: SoakClient, tokens: dict[int, str], reads_per_s: float, *, threads: int = 2,
                 seed: int = 0):
        self.client, self.tokens = client, tokens
        self.interval = threads / reads_per_s
        self._stop = threading.Event()
        self.reads = 0
        self._threads = [threading.Thread(target=self._run, args=(random.Random(seed * 100 + n),), daemon=True,
                                          name=f"soak-reader-{n}") for n in range(threads)]

    def start(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, rng: random.Random) -> None:
        users = sorted(self.tokens)
        next_at = time.monotonic() + rng.random() * self.interval
        while not self._stop.is_set():
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            if self._stop.is_set():
                return
            next_at = max(next_at + self.interval, time.monotonic() - self.interval)  # no catch-up bursts
            self.client.read("home", "GET", "/v1/timeline?limit=20", self.tokens[rng.choice(users)])
            self.reads += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def paces(read_ceiling_per_s: float, weights: dict[str, float], *, load_share: float,
          reads_per_post: float) -> tuple[float, float]:
    """(reads/s, writes/s): reads at `load_share` of the measured ceiling, and as many writes as
    make reads_per_post home reads per post."""
    reads = read_ceiling_per_s * load_share
    post_share = sum(weights[k] for k in POSTING) / sum(weights.values())
    return reads, reads / reads_per_post / post_share
