"""The home timeline as the contract defines it, computed naively from the graph and the posts:
the oracle of the property test (tests/functional/test_timeline_properties.py) and of the soak.

- RAW: the reader's own posts and reposts, the posts of every account they follow and the
  reposts of every account they follow with reposts, newest first by entry id (a repost's
  own id);
- an entry is hidden when its post's author, its reposter or the account a reply answers
  is blocked or muted by the reader, or blocks the reader; for a reply written by someone
  else (not a repost), unless it answers the reader, its own author or an account the
  reader follows; and when the same post (itself or a repost of it) is among the 40 older
  RAW entries below it in an entry that neither of those rules hides (a copy the reader
  never sees suppresses nothing).

Items are (post id, reposter's handle or None). The model is exact while no timeline reaches
TimelineMax and no account's posts and reposts outgrow a backfill (TimelineMax/4): whoever
drives it keeps within those (the property test by its scale, the soak by its budget).

`seen`, if given, counts which rules hid or showed something (the property test's proof that
its examples went where the bugs would be).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

DEDUPE_WINDOW = 40  # the contract's: an entry hides when its post is among the 40 older ones


@dataclass(frozen=True)
class Post:
    author: int
    answers: int | None = None  # for a reply: the account it answers


@dataclass
class NaiveTimelines:
    seen: Counter = field(default_factory=Counter)
    users: list[int] = field(default_factory=list)
    handles: dict[int, str] = field(default_factory=dict)
    follows: dict[tuple[int, int], bool] = field(default_factory=dict)  # (follower, followee) -> takes reposts
    posts: dict[str, Post] = field(default_factory=dict)  # live post id -> the post
    reposts: dict[tuple[int, str], str] = field(default_factory=dict)  # (reposter, post id) -> repost id
    blocks: set[tuple[int, int]] = field(default_factory=set)  # (blocker, blocked)
    mutes: set[tuple[int, int]] = field(default_factory=set)  # (muter, muted)

    # ------------------------------------------------------------------ the contract's effects
    def block(self, blocker: int, blocked: int) -> int:
        """A block removes the follows both ways at once; returns how many it removed."""
        self.blocks.add((blocker, blocked))
        return sum(self.follows.pop(pair, None) is not None for pair in ((blocker, blocked), (blocked, blocker)))

    def delete(self, post_id: str) -> list[tuple[int, str]]:
        """A post deleted takes its reposts with it; returns their keys."""
        del self.posts[post_id]
        gone = [key for key in self.reposts if key[1] == post_id]
        for key in gone:
            del self.reposts[key]
        return gone

    # ------------------------------------------------------------------ questions
    def followers(self, user: int) -> int:
        return sum(1 for _, x in self.follows if x == user)

    def following(self, user: int) -> int:
        return sum(1 for f, _ in self.follows if f == user)

    def blocked_between(self, a: int, b: int) -> bool:
        return (a, b) in self.blocks or (b, a) in self.blocks

    def raw(self, reader: int) -> list[tuple[int, str, int | None]]:
        """(entry id, post id, reposter or None), newest first: everything the reader's
        timeline holds once the pipeline has drained."""
        takes = {x: r for (f, x), r in self.follows.items() if f == reader}
        out = [(int(p), p, None) for p, post in self.posts.items() if post.author == reader or post.author in takes]
        for (by, p), repost_id in self.reposts.items():
            if by == reader or takes.get(by):
                out.append((int(repost_id), p, by))
        return sorted(out, reverse=True)

    def expected_home(self, reader: int) -> list[tuple[str, str | None]]:
        seen = self.seen
        followed = {x for f, x in self.follows if f == reader}
        blocked = {b for a, b in self.blocks if a == reader} | {a for a, b in self.blocks if b == reader}
        muted = {m for a, m in self.mutes if a == reader}
        raw = self.raw(reader)
        seen["a repost left out: followed without reposts"] += sum(
            1 for by, _ in self.reposts if self.follows.get((reader, by)) is False)

        def filtered(p: str, by: int | None) -> tuple[set[int], bool]:
            """(the hidden accounts it involves, whether the reply rule hides it)."""
            post = self.posts[p]
            accounts = {post.author, by, post.answers} - {None}
            stranger = (by is None and post.answers is not None and post.author != reader
                        and post.answers not in (reader, post.author) and post.answers not in followed)
            return accounts & (blocked | muted), stranger

        # Only an entry the reader would see on its own suppresses a newer one of its post.
        alone = [not any(filtered(p, by)) for _, p, by in raw]
        shown = []
        for i, (_, p, by) in enumerate(raw):
            post = self.posts[p]
            window = range(i + 1, min(len(raw), i + 1 + DEDUPE_WINDOW))
            repeated = any(raw[j][1] == p and alone[j] for j in window)
            if any(raw[j][1] == p and not alone[j] for j in window) and not repeated and alone[i]:
                seen["a copy hidden from the reader suppressed nothing"] += 1
            hidden_by, stranger = filtered(p, by)
            if hidden_by:
                seen["an entry hidden by a block" if hidden_by & blocked else "an entry hidden by a mute"] += 1
                if by is not None and post.answers not in (post.author, by) and hidden_by == {post.answers} \
                        and not repeated:
                    seen["a repost of a reply hidden for whom it answers"] += 1
            elif repeated:
                seen["dedupe hid a repost" if by is not None else "dedupe hid a post"] += 1
            elif stranger:
                seen["a reply hidden by the reply rule"] += 1
            else:
                if post.answers is not None and post.author != reader:
                    seen["a reply by another shown" if by is None else "a repost of a reply shown"] += 1
                shown.append((p, self.handles[by] if by is not None else None))
        return shown
