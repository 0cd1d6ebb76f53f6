"""The soak's verdict, once the load has stopped and the pipeline has drained: the service's
state against the model of what was acknowledged.

- every home timeline (every page) equals the model's; a mismatch is shown as the smallest
  diff that explains it: the reader, what is missing, what is extra (or the order), and the
  logged changes that touched those posts or accounts;
- every acknowledged post exists exactly once (its own page, and once in its author's posts);
  a deleted one is gone; an image post carries its image (`lost`, `duplicated`);
- every followers and following count equals the edges (`counters_off`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.soak.client import SoakClient
from bench.soak.load import POSTING, Load


@dataclass
class Verdict:
    mismatched_timelines: int = 0
    lost: int = 0
    duplicated: int = 0
    counters_off: int = 0
    deleted_but_shown: int = 0
    diffs: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Every count of the verdict (each must be 0)."""
        return {name: value for name, value in asdict(self).items() if name != "diffs"}


def _pages(client: SoakClient, path: str, token: str) -> tuple[list[dict], bool]:
    """Every item of a list, following next_cursor; and whether its last page came back partial
    (a page cut short on hidden posts is partial too, and says where to go on)."""
    items: list[dict] = []
    cursor, partial = None, False
    for _ in range(100):
        query = f"?limit=100{'&cursor=' + cursor if cursor else ''}"
        answer = client.write("check", "GET", path + query, token, may_lose=False)
        if answer.status != 200:
            raise AssertionError(f"GET {path} -> {answer.status} {answer.body!r:.300}")
        items += answer.body["items"]
        cursor = answer.body.get("next_cursor")
        partial = bool(answer.body.get("partial")) and not cursor
        if not cursor:
            return items, partial
    raise AssertionError(f"GET {path}: pagination does not end")


def home_items(client: SoakClient, token: str, authors: dict[str, str]) -> list[tuple[str, str | None]]:
    """(post id, reposter's handle or None) of every item, newest first; each post's author's
    handle goes into `authors`."""
    for _ in range(10):  # a partial page (a source out of capacity) is read again
        items, partial = _pages(client, "/v1/timeline", token)
        if not partial:
            authors.update((i["id"], i["author"]["handle"]) for i in items)
            return [(i["id"], (i.get("repost") or {}).get("by", {}).get("handle")) for i in items]
        time.sleep(1)
    raise AssertionError("home timeline still partial after 10 reads")


def touched_by(load: Load, posts: set[str], accounts: set[int], reader: int) -> list[str]:
    """The logged changes that touched these posts, or these accounts with the reader."""
    out = [entry.describe(load.model.handles) for entry in load.log
           if set(entry.posts) & posts or (entry.actor == reader and set(entry.accounts) & accounts)
           or (entry.actor in accounts and (reader in entry.accounts or entry.kind in POSTING))]
    return out[-15:]


def check(load: Load, client: SoakClient) -> Verdict:
    model, verdict = load.model, Verdict()
    _posts_exactly_once(load, client, verdict)  # first: a post lost or doubled explains the timelines' diffs
    authors = {p: post.author for p, post in model.posts.items()}
    users = {handle: user for user, handle in model.handles.items()}
    for reader in model.users:
        shown_by: dict[str, str] = {}
        got = home_items(client, load.tokens[reader], shown_by)
        expected = model.expected_home(reader)
        counts = Counter(got)
        verdict.duplicated += sum(n - 1 for n in counts.values() if n > 1)
        if got == expected:
            continue
        verdict.mismatched_timelines += 1
        missing = [e for e in expected if e not in counts]
        extra = [g for g in got if g not in set(expected)]
        posts = {p for p, _ in missing + extra}
        accounts = {users[shown_by[p]] for p in posts if shown_by.get(p) in users} | {
            authors[p] for p in posts if p in authors} | {
            model.posts[p].answers for p in posts if p in model.posts and model.posts[p].answers is not None}
        verdict.diffs.append({
            "reader": model.handles[reader], "missing": missing, "extra": extra,
            **({"expected": expected, "got": got} if not missing and not extra else {}),  # the order differs
            "changes": touched_by(load, posts, accounts, reader)})
    for user in model.users:
        answer = client.write("check", "GET", f"/v1/users/{model.handles[user]}", load.tokens[user], may_lose=False)
        counts = (answer.body["followers_count"], answer.body["following_count"])
        if counts != (model.followers(user), model.following(user)):
            verdict.counters_off += 1
            verdict.diffs.append({"account": model.handles[user], "counts (followers, following)": counts,
                                  "edges": (model.followers(user), model.following(user))})
    return verdict


def _posts_exactly_once(load: Load, client: SoakClient, verdict: Verdict) -> None:
    """Lost, duplicated, deleted but shown: each author's own posts against the model's, each
    post's own page, each image post's image."""
    model = load.model
    lost = duplicated = 0
    for user in model.users:
        items, _ = _pages(client, f"/v1/users/{model.handles[user]}/tweets", load.tokens[user])
        own = Counter(i["id"] for i in items if not i.get("repost"))
        expected = {p for p, post in model.posts.items() if post.author == user}
        lost += len(expected - set(own))
        duplicated += sum(n - 1 for n in own.values()) + len(set(own) - expected)
        if expected - set(own) or set(own) - expected:
            verdict.diffs.append({"author": model.handles[user], "posts missing": sorted(expected - set(own)),
                                  "posts unexpected or twice": sorted(p for p, n in own.items()
                                                                      if n > 1 or p not in expected)})
    deleted_but_shown = 0
    for post_id, post in sorted(model.posts.items()):
        answer = client.write("check", "GET", f"/v1/tweets/{post_id}", load.tokens[post.author], may_lose=False)
        if answer.status != 200:
            lost += 1
        elif post_id in load.media_posts and len(answer.body.get("media") or []) != load.media_posts[post_id]:
            lost += 1
            verdict.diffs.append({"post": post_id, "images expected": load.media_posts[post_id],
                                  "media": answer.body.get("media")})
    for entry in load.log:
        if entry.kind == "delete" and entry.status in (204, 404) and entry.posts[0] not in model.posts:
            answer = client.write("check", "GET", f"/v1/tweets/{entry.posts[0]}", load.tokens[entry.actor],
                                  may_lose=False)
            deleted_but_shown += answer.status == 200
    verdict.lost += lost
    verdict.duplicated += duplicated
    verdict.deleted_but_shown += deleted_but_shown
