"""Likes, and what every post shown carries of its engagement: its counts of replies, reposts
and likes, and the reader's own like and repost (issue 26).

Counts come from the graph stream (store/engagement.py), a second or two behind the
actions. Every reader of a viral post wants its counts item, so a container keeps the counts
it read for CountsCacheSeconds (COUNTS_TTL_S by default): the item is read at most once per
container per TTL, whatever the post's readership; and once a post is hot, a container reads
one of its replicas (its own pick, CONTAINER_REPLICA), not the counts item (docs/hot-keys.md). The reader's own state is never cached: it is read
consistently with the page, and a count is never shown below what the reader's own like or
repost makes it, so their action shows at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from timeline import clock
from timeline.errors import NotFound
from timeline.records import Counts, Tweet, User, ViewerState
from timeline.service.social import action_window, counted_action
from timeline.service.visibility import Visibility
from timeline.store.engagement import COUNTS_REPLICAS, Counted, EngagementStore
from timeline.store.graph import GraphStore
from timeline.store.tweets import TweetStore

# How long a container shows the counts it read (the template's CountsCacheSeconds): a count
# lags its actions by at most the graph stream's window and a batch's work (about 2 s) plus this.
COUNTS_TTL_S = 2.0
COUNTS_CACHED = 10_000  # posts whose counts a container keeps (least recently read dropped first)


# Which of a hot post's replicas this container reads: containers pick at random, so the
# reads of one post spread evenly over its replicas.
CONTAINER_REPLICA = random.randrange(1 << 30)


class CountsCache:
    """Counts read in the last `ttl_s`, per post, shared by the container's threads; and which
    posts are hot (their counts have replicas), as their counts items said."""

    def __init__(self, ttl_s: float = COUNTS_TTL_S, size: int = COUNTS_CACHED,
                 now: Callable[[], float] = time.monotonic):
        self._ttl, self._size, self._now = ttl_s, size, now
        self._items: OrderedDict[int, tuple[float, Counts]] = OrderedDict()
        self._hot: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    def replicas(self, post_ids: Iterable[int]) -> dict[int, int]:
        """How many replicas each of these posts' counts has, for those known hot."""
        with self._lock:
            return {p: self._hot[p] for p in post_ids if p in self._hot}

    def remember_hot(self, replicas: dict[int, int]) -> None:
        with self._lock:
            for p, n in replicas.items():
                self._hot[p] = n
                self._hot.move_to_end(p)
            while len(self._hot) > self._size:
                self._hot.popitem(last=False)

    def forget_hot(self, post_ids: Iterable[int]) -> None:
        with self._lock:
            for p in post_ids:
                self._hot.pop(p, None)

    def stale(self, post_ids: Iterable[int]) -> dict[int, Counts]:
        """The counts last read for these posts, however old."""
        with self._lock:
            return {p: self._items[p][1] for p in post_ids if p in self._items}

    def get_many(self, post_ids: Iterable[int]) -> dict[int, Counts]:
        now = self._now()
        found: dict[int, Counts] = {}
        if self._ttl <= 0:
            return found
        with self._lock:
            for p in post_ids:
                got = self._items.get(p)
                if got is not None and now - got[0] < self._ttl:
                    found[p] = got[1]
                    self._items.move_to_end(p)
        return found

    def put_many(self, counts: dict[int, Counts]) -> None:
        now = self._now()
        with self._lock:
            for p, c in counts.items():
                self._items[p] = (now, c)
                self._items.move_to_end(p)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@dataclass(frozen=True)
class Shown:
    """A post's engagement as a reader sees it."""
    counts: Counts
    viewer: ViewerState


def shown(counts: Counts, viewer: ViewerState) -> Shown:
    """Never fewer likes or reposts than the reader's own: their action shows at once, before
    the stream has counted it."""
    return Shown(Counts(replies=counts.replies, reposts=max(counts.reposts, int(viewer.reposted)),
                        likes=max(counts.likes, int(viewer.liked))), viewer)


class Engagement:
    def __init__(self, tweets: TweetStore, graph: GraphStore, store: EngagementStore, actions_per_minute: int,
                 cache: CountsCache | None = None):
        self._tweets, self._graph, self._store = tweets, graph, store
        self._actions_per_minute = actions_per_minute
        self._cache = cache or CountsCache()

    def start(self, viewer_id: int, post_ids: Iterable[int],
              celebrity_posts: Iterable[int] = ()) -> Callable[[], dict[int, Shown]]:
        """Send the reads of the posts' counts and the viewer's state now (counts cached in the
        last CountsCacheSeconds are not asked again; a post known hot, or a celebrity's, is
        asked from this container's replica), and return what waits for them: counts and the
        viewer's state for each post. Started beside a page's hydration, they add no round
        trip. A celebrity's post whose replica is not there has no counts yet."""
        posts = list(dict.fromkeys(post_ids))
        if not posts:
            return dict
        cached = self._cache.get_many(posts)
        missing = [p for p in posts if p not in cached]
        replica_of = {p: CONTAINER_REPLICA % n for p, n in self._cache.replicas(missing).items()}
        replica_of.update({p: CONTAINER_REPLICA % COUNTS_REPLICAS for p in celebrity_posts if p in missing})
        pending = self._store.start_page_state(viewer_id, posts, counts_of=missing, replica_of=replica_of)
        celebrities = set(celebrity_posts)

        def finish() -> dict[int, Shown]:
            state = pending()
            # A celebrity's post whose replica is not there has no counts yet: zero, kept as any
            # counts are (not asked again by every read of every reader of the celebrity).
            none_yet = {p: Counts() for p in missing if p in celebrities and p not in state.counts}
            self._cache.put_many({**state.counts, **none_yet})
            self._cache.remember_hot(state.replicas)
            # A replica not written yet (it is, before its counts item sends anyone to it) or
            # gone: the counts last read, and the counts item next time.
            unknown = [p for p in missing if p not in state.counts and p not in celebrities]
            self._cache.forget_hot(unknown)
            counts = {**self._cache.stale(unknown), **cached, **none_yet, **state.counts}
            return {p: shown(counts.get(p, Counts()),
                             ViewerState(reposted=p in state.reposted, liked=p in state.liked)) for p in posts}
        return finish

    def of_posts(self, viewer_id: int, post_ids: Iterable[int]) -> dict[int, Shown]:
        """Counts and the viewer's state for each post (start, then wait)."""
        return self.start(viewer_id, post_ids)()

    def of_post(self, viewer_id: int, post_id: int) -> Shown:
        return self.of_posts(viewer_id, [post_id])[post_id]

    def mirror_like(self, liker_id: int, post_id: int, made: bool, celebrity_post: bool) -> None:
        """A like made or taken back, as its stream record says: its engagement edge follows."""
        self._store.mirror_like(liker_id, post_id, made, celebrity_post, clock.now_ms())

    def count(self, post_id: int, changes: Sequence[Counted]) -> int:
        """Count a stream batch's engagement changes of one post (exactly once each)."""
        return self._store.count(post_id, changes)

    # ------------------------------------------------------------------ likes
    def _likeable(self, user_id: int, tweet_id: int) -> Tweet:
        """The post a like of this id is for (a repost's id: the post it shares): 404 if gone,
        403 if a block stands between the reader and its author or reposter, either way (a
        post the reader cannot see is not theirs to like)."""
        row = self._tweets.get(tweet_id)
        if row is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        post = self._tweets.get(row.repost_of_id) if row.repost_of_id is not None else row
        if post is None:
            raise NotFound(f"no post {row.repost_of_id}", code="tweet_not_found")
        Visibility.of_reader(self._graph, user_id).require_post(post, row if row.is_repost else None)
        return post

    def like(self, user: User, tweet_id: int) -> tuple[Tweet, bool]:
        """Like (idempotent): (the post liked, whether the like is new). Liking a repost likes
        the post it shares. Every like or unlike counts against the action window, as every
        other toggle does."""
        post = self._likeable(user.user_id, tweet_id)
        with counted_action(self._actions_per_minute):
            action_window(user.user_id, self._actions_per_minute).hit()
        # A celebrity's post (merged at read: not fanned out) is read by many: its counts get
        # replicas from its first like.
        return post, self._store.like(user.user_id, post.tweet_id, clock.now_ms(), celebrity_post=not post.fanout)

    def unlike(self, user_id: int, tweet_id: int) -> bool:
        """Take a like back (idempotent): True if there was one. An unknown post is a 404; a
        post deleted since it was liked can still be unliked by its id."""
        row = self._tweets.get(tweet_id)
        post_id = row.repost_of_id if row is not None and row.repost_of_id is not None else tweet_id
        with counted_action(self._actions_per_minute):
            action_window(user_id, self._actions_per_minute).hit()
        removed = self._store.unlike(user_id, post_id)
        if not removed and row is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        return removed
