"""Fan-out on write: planning (tweets-stream record -> follower chunks on the queue) and
applying (one queue message -> timeline entries).

Every step is idempotent, so stream retries and queue redeliveries are harmless: entries
are keyed puts and deletes, and re-planning a post only re-sends the same chunks. The queue
keeps no order, so a message that writes checks afterwards what may have changed since it
was planned (the post deleted, a reader unfollowed) and takes back what it wrote: whichever
of the two runs second sees the other.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from timeline import clock
from timeline.records import Entry, Tweet
from timeline.service import messages
from timeline.service.activity import ActivityRules
from timeline.service.messages import Add
from timeline.settings import Settings
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import TOMBSTONE_TTL_SECONDS, GraphStore
from timeline.store.timelines import TimelineStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fanout")
# How far the API's clock (an unfollow's stamp) and dispatch's (an add's planned_at) may differ.
CLOCK_MARGIN_MS = 60_000


class TrimPolicy:
    """Trimming reads the whole timeline, so only about one write in `interval` per owner
    checks: a timeline stays within TimelineMax plus a bounded slack (about `interval`
    entries) at a fraction of the cost. Drawn by hash, so a redelivery decides the same."""

    def __init__(self, settings: Settings):
        self.keep = settings.timeline_max
        self.interval = max(1, settings.timeline_max // 8)

    def due(self, owner_id: int, tweet_id: int) -> bool:
        return zlib.crc32(f"{owner_id}:{tweet_id}".encode()) % self.interval == 0


class FanoutPlanner:
    """Runs in fanout_dispatch, once per tweets-stream record."""

    def __init__(self, settings: Settings, graph: GraphStore, users: UserStore, queue: FanoutQueue):
        self._settings, self._graph, self._users, self._queue = settings, graph, users, queue
        self._activity = ActivityRules(settings)
        self._trim = TrimPolicy(settings)

    def _follower_chunks(self, author_id: int, *, active_only: bool, repost: bool = False) -> Iterator[list[int]]:
        """Pages of followers, one message each; inactive readers dropped from the page
        already read (they get a rebuild when they return), and for a repost the readers
        who follow the reposter without its reposts."""
        size, after, now = self._settings.fanout_chunk_size, None, clock.now_ms()
        while True:
            page, after = self._graph.followers_with_activity(author_id, size, after)
            owners = [f.user_id for f in page
                      if (not active_only or self._activity.edge_is_active(f.seen_at, now))
                      and (f.reposts or not repost)]
            if owners:
                yield owners
            if after is None:
                return

    def _fans_out(self, tweet: Tweet) -> tuple[bool, bool]:
        """Whether to fan the post out, and whether to copy it. A celebrity's post is merged
        at read time and written to no follower's timeline (a copied celebrity's is copied to
        its shards instead). The flag was read when the post was made; if the account has been
        demoted since, the demotion's backfill may have run before this post reached the
        index, so fan it out after all (entries are idempotent, and reads drop duplicates)."""
        if tweet.fanout:
            return True, False
        author = self._users.get_consistent(tweet.author_id)
        if author is None or not author.celebrity:
            return True, False
        return False, author.copied and bool(self._settings.celebrity_copy_shards)

    def _may_have_copies(self, tweet: Tweet) -> bool:
        """Copies exist only of a copied account's posts (its build copies those it made
        before, too); an account no longer copied had its shards emptied."""
        if not self._settings.celebrity_copy_shards:
            return False
        author = self._users.get_consistent(tweet.author_id)
        return author is not None and author.copied

    def posted(self, tweet: Tweet) -> int:
        """Queue the active follower chunks of a new post, or for a celebrity's post its copy
        into the account's shards (merged at read); returns how many messages were sent. The
        author's own entry was written with the post."""
        batch: list[messages.FanoutMessage] = []
        fans_out, copied = self._fans_out(tweet)
        if fans_out:
            planned_at, entry = clock.now_ms(), tweet.as_entry()
            batch = [Add.of(entry, owners, planned_at)
                     for owners in self._follower_chunks(tweet.author_id, active_only=True, repost=tweet.is_repost)]
        elif copied:
            batch = [messages.Copy(tweet_id=tweet.tweet_id)]
        if self._trim.due(tweet.author_id, tweet.tweet_id):
            batch.append(messages.Trim(owner=tweet.author_id))  # the author's own posts fill their timeline too
        if tweet.media:
            batch.append(messages.AttachMedia(media=[a.media_id for a in tweet.media]))
        self._queue.send(batch)
        return len(batch)

    def deleted(self, tweet: Tweet) -> int:
        """Queue removal from the author's timeline and every follower's, active or not (an
        inactive reader may still hold entries from before). Reads already hide a deleted
        post (hydration finds nothing); this reclaims the entries."""
        batch: list[messages.FanoutMessage] = [messages.Remove(tweet_id=tweet.tweet_id, owners=[tweet.author_id])]
        batch += [messages.Remove(tweet_id=tweet.tweet_id, owners=owners)
                  for owners in self._follower_chunks(tweet.author_id, active_only=False)]
        if not tweet.is_repost:  # its reposts go too, each through its own REMOVE record
            batch.append(messages.DropReposts(original=tweet.tweet_id, after=None))
        if self._may_have_copies(tweet):
            batch.append(messages.Uncopy(tweet_id=tweet.tweet_id, author_id=tweet.author_id))
        if tweet.media:
            batch.append(messages.DeleteMedia(media=[a.media_id for a in tweet.media]))
        self._queue.send(batch)
        return len(batch)


class FanoutApplier:
    """Runs in fanout_worker: entries written, removed and trimmed for one message."""

    def __init__(self, settings: Settings, timelines: TimelineStore, graph: GraphStore, tweets: TweetStore,
                 users: UserStore):
        self._settings, self._timelines, self._graph, self._tweets = settings, timelines, graph, tweets
        self._users = users
        self.trims = TrimPolicy(settings)

    def add(self, e: Entry, owners: list[int], planned_at: int) -> None:
        self.add_all([Add.of(e, owners, planned_at)])

    def add_all(self, adds: Sequence[Add]) -> None:
        """Write, then check what changed since each chunk was planned, then take back.

        A worker batch's `add` messages are applied together: their entries share
        BatchWriteItems (25 a request, whichever messages they come from), and the checks are
        a few reads per batch, none per owner: the posts (a remove applied before an add would
        otherwise leave orphans), and the via accounts' unfollows (a cleanup applied before an
        add would otherwise leave the unfollowed account's post): their profiles say when each
        was last unfollowed, and only one unfollowed since its adds were planned has its
        tombstones read. Either the change landed before these checks and they see it, or it
        landed after the write and its own cleanup sees the entries. A repost checks the
        follower edges themselves instead: a reader may also have turned the reposter's
        reposts off meanwhile."""
        if not adds:
            return
        expires_at = clock.now_s() + self._settings.timeline_ttl_seconds
        self._timelines.add_entries(((owner, a.entry) for a in adds for owner in a.owners), expires_at)
        exists = _pool.submit(self._tweets.existing, {a.entry.tweet_id for a in adds})
        now_ms = clock.now_ms()
        fresh = (TOMBSTONE_TTL_SECONDS - 86_400) * 1000
        by_tombstones = [not a.entry.is_repost and now_ms - a.planned_at < fresh for a in adds]
        tombstones = {via: _pool.submit(self._graph.unfollowed_by, via)
                      for via in self._unfollowed_since_planned([a for a, recent in zip(adds, by_tombstones, strict=True) if recent])}
        gone: list[set[int]] = []
        for a, recent in zip(adds, by_tombstones, strict=True):
            e, owners = a.entry, set(a.owners)
            if e.is_repost:
                gone.append(owners - self._graph.followers_among(e.via_id, a.owners, reposts=True))
            elif recent:
                gone.append(tombstones[e.via_id].result() & owners if e.via_id in tombstones else set())
            else:  # planned so long ago that its tombstones may have expired: ask the edges
                gone.append(owners - self._graph.followers_among(e.via_id, a.owners))
        existing = exists.result()
        taken_back = [(owner, a.entry.tweet_id) for a, lost in zip(adds, gone, strict=True)
                      for owner in (a.owners if a.entry.tweet_id not in existing else sorted(lost))]
        if taken_back:
            self._timelines.remove_entries(taken_back)
        due = dict.fromkeys(owner for a, lost in zip(adds, gone, strict=True) if a.entry.tweet_id in existing
                            for owner in a.owners if owner not in lost and self.trims.due(owner, a.entry.tweet_id))
        # Independent timelines: trim them side by side rather than one round trip after another.
        list(_pool.map(self.trim, due))

    def _unfollowed_since_planned(self, adds: Sequence[Add]) -> set[int]:
        """The via accounts of these adds that someone may have unfollowed since the adds were
        planned (or that cannot say: a profile older than its unfollow stamp), whose
        tombstones must be read; one read of the profiles answers for the rest. The stamp is
        the API's clock and `planned_at` dispatch's, so an unfollow up to CLOCK_MARGIN_MS
        before the planning still counts."""
        planned: dict[int, int] = {}
        for a in adds:
            planned[a.entry.via_id] = min(a.planned_at, planned.get(a.entry.via_id, a.planned_at))
        last = self._users.last_unfollowed(planned)  # no accounts: no request
        return {via for via, at in planned.items() if via not in last or last[via] >= at - CLOCK_MARGIN_MS}

    def remove(self, tweet_id: int, owners: list[int]) -> None:
        self._timelines.remove(owners, tweet_id)

    def trim(self, owner_id: int) -> int:
        return self._timelines.trim(owner_id, self.trims.keep)
