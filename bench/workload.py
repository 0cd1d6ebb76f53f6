"""The operation log every strategy replays: deterministic from the seed and the graph.

Home reads and posts at Twitter's ratio (`reads_per_post`, about 50 reads per post), readers
drawn by their read rate and authors by their posting rate; follows, unfollows and deletes at
small rates. Each post names up to `probes_per_post` of its author's followers who poll their
home timelines until the post shows: the delivery-lag probes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.graph import Graph



@dataclass(frozen=True)
class Op:
    kind: str  # "read" | "post" | "follow" | "unfollow" | "delete"
    actor: int  # graph index of the account acting
    target: int | None = None  # followee for follow/unfollow; index of the post (in log order) for delete
    probes: tuple[int, ...] = ()  # followers polling for this post


@dataclass
class OpLog:
    ops: list[Op]
    actors: set[int] = field(default_factory=set)  # every account that needs a login

    def count(self, kind: str) -> int:
        return sum(op.kind == kind for op in self.ops)


def build(graph: Graph, *, reads: int, reads_per_post: float, follows: int, unfollows: int, deletes: int,
          probes_per_post: int, seed: int) -> OpLog:
    rng = random.Random(seed * 7919 + 17)
    n = graph.n
    posts = max(1, round(reads / reads_per_post))
    kinds = ["read"] * reads + ["post"] * posts + ["follow"] * follows + ["unfollow"] * unfollows
    rng.shuffle(kinds)
    # Deletes remove an earlier post of the log: place each after a post.
    for _ in range(deletes):
        kinds.insert(rng.randrange(kinds.index("post") + 1, len(kinds) + 1), "delete")
    readers = rng.choices(range(n), weights=graph.read_weight, k=reads)
    authors = rng.choices(range(n), weights=graph.post_weight, k=posts)
    following = [set(f) for f in graph.following]
    ops: list[Op] = []
    posted: list[int] = []  # op indexes of posts, for deletes
    for kind in kinds:
        if kind == "read":
            ops.append(Op("read", readers.pop()))
        elif kind == "post":
            author = authors.pop()
            followers = graph.followers(author)
            probes = tuple(rng.sample(followers, min(probes_per_post, len(followers))))
            posted.append(len(ops))
            ops.append(Op("post", author, probes=probes))
        elif kind == "follow":
            actor = rng.randrange(n)
            # Popular accounts get followed more (preferential attachment).
            target = rng.choices(range(n), weights=[c + 1 for c in graph.followers_count], k=1)[0]
            if target != actor and target not in following[actor]:
                following[actor].add(target)
                ops.append(Op("follow", actor, target))
        elif kind == "unfollow":
            candidates = [u for u in rng.sample(range(n), min(n, 50)) if following[u]]
            if candidates:
                actor = candidates[0]
                target = rng.choice(sorted(following[actor]))
                following[actor].discard(target)
                ops.append(Op("unfollow", actor, target))
        elif kind == "delete" and posted:
            victim = posted.pop(rng.randrange(len(posted)))
            ops.append(Op("delete", ops[victim].actor, victim))
    # A deleted post never shows up: nobody polls for it.
    deleted = {op.target for op in ops if op.kind == "delete"}
    ops = [Op(op.kind, op.actor, op.target, ()) if i in deleted else op for i, op in enumerate(ops)]
    actors = {op.actor for op in ops} | {p for op in ops for p in op.probes}
    return OpLog(ops, actors)
