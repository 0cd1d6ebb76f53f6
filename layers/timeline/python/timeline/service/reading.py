"""Reading timelines: a user's own posts, and the home timeline (materialized entries
merged with the latest posts of each followed celebrity)."""

from __future__ import annotations

import heapq
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from timeline import clock
from timeline.cursors import CursorCodec
from timeline.errors import InvalidInput
from timeline.observability import logger
from timeline.records import Tweet, User
from timeline.service.accounts import user_by_handle
from timeline.service.activity import ActivityRules
from timeline.settings import Settings
from timeline.store.graph import GraphStore
from timeline.store.timelines import TimelineStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

# Headroom fetched beyond the page size, so a few deleted posts don't cost another round trip.
OVERFETCH = 5
MAX_ROUNDS = 8
# A rebuild that has not finished in this long lost its messages (they sit in the dead-letter
# queue): the next read starts it again.
REBUILD_STALE_MS = 15 * 60 * 1000

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="timeline-read")


@dataclass(frozen=True)
class Item:
    tweet: Tweet
    author: User


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None
    partial: bool = False


@dataclass(frozen=True)
class _Merged:
    items: list[Item]
    position: int | None  # the last id consumed
    more: bool
    partial: bool  # the rounds ran out before the page filled
    profiles: dict[int, User]  # every profile fetched on the way


def _started(fetch, before: int | None, want: int):
    """`fetch` as a source whose first call, (before, want), is already running in the pool.

    `_paginate`'s first round asks every source for exactly (before, limit + OVERFETCH), so
    that call is answered by the future; any later round fetches afresh.
    """
    pending = [_pool.submit(fetch, before, want)]

    def source(before_id: int | None, want_now: int) -> list[tuple[int, int]]:
        if pending and (before_id, want_now) == (before, want):
            return pending.pop().result()
        return fetch(before_id, want_now)
    return source


class _CappedTimeline:
    """The materialized timeline as a source that never goes past its TimelineMax-th entry
    (trimming is amortized, so the table may briefly hold a few more). `taken` counts the
    entries earlier pages consumed; the cursor carries it forward."""

    def __init__(self, fetch, cap: int, taken: int):
        self._fetch, self._cap, self._taken = fetch, cap, taken
        self._seen: set[int] = set()

    def taken_through(self, position: int | None) -> int:
        """Entries consumed once the merge has reached `position` (ids at or above it)."""
        return self._taken + (0 if position is None else sum(1 for i in self._seen if i >= position))

    def __call__(self, before: int | None, want: int) -> list[tuple[int, int]]:
        left = self._cap - self.taken_through(before)
        if left <= 0:
            return []
        got = self._fetch(before, min(want, left))
        self._seen.update(tweet_id for tweet_id, _ in got)
        return got


class Reader:
    def __init__(self, settings: Settings, users: UserStore, tweets: TweetStore, graph: GraphStore,
                 timelines: TimelineStore, cursors: CursorCodec):
        self._settings, self._users, self._tweets, self._graph = settings, users, tweets, graph
        self._timelines, self._cursors = timelines, cursors
        self._activity = ActivityRules(settings)

    # -------------------------------------------------------------- user timeline
    def user_timeline(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> Page:
        author = user_by_handle(self._users, handle)
        scope = f"user:{author.user_id}"
        before = int(self._cursors.decode(cursor, reader=caller_id, scope=scope)) if cursor else None
        merged = self._paginate([self._posts_of(author.user_id)], before, limit)
        next_cursor = self._cursors.encode(reader=caller_id, scope=scope,
                                           position=str(merged.position)) if merged.more else None
        return Page(items=merged.items, next_cursor=next_cursor, partial=merged.partial)

    # -------------------------------------------------------------- home timeline
    def home_timeline(self, reader_id: int, limit: int, cursor: str | None) -> Page:
        """One query of the reader's materialized timeline (which holds their own posts too)
        plus one per followed celebrity, run in parallel and k-way merged by id. Never one
        query per followed account. The reader's own profile rides along with the authors'
        BatchGetItem (no request of its own): it records the visit and tells whether their
        timeline is being rebuilt, which makes the page partial."""
        scope = "home"
        before, taken = self._home_position(cursor, reader_id, scope) if cursor else (None, 0)
        celebrities = _pool.submit(self._graph.celebrity_followees, reader_id)

        def materialized(before_id: int | None, want: int) -> list[tuple[int, int]]:
            return self._timelines.page(reader_id, before=before_id, limit=want)

        timeline = _CappedTimeline(materialized, self._settings.timeline_max, taken)
        # The timeline's first round does not depend on the celebrity list: start it now, so
        # the two lookups share one round trip instead of two in a row.
        first_round = _started(timeline, before, limit + OVERFETCH)
        sources = [first_round] + [self._posts_of(c) for c in dict.fromkeys(celebrities.result())]
        merged = self._paginate(sources, before, limit, reader_id=reader_id)
        # An empty page hydrated nothing: then (only then) the profile costs a GetItem.
        reader = merged.profiles[reader_id] if reader_id in merged.profiles else self._users.get(reader_id)
        incomplete = self._record_visit(reader)
        next_cursor = self._cursors.encode(reader=reader_id, scope=scope, position=[
            str(merged.position), timeline.taken_through(merged.position)]) if merged.more else None
        return Page(items=merged.items, next_cursor=next_cursor, partial=merged.partial or incomplete)

    def _home_position(self, cursor: str, reader_id: int, scope: str) -> tuple[int, int]:
        position = self._cursors.decode(cursor, reader=reader_id, scope=scope)
        try:
            tweet_id, taken = position if isinstance(position, list) else (position, 0)
            return int(tweet_id), int(taken)
        except (TypeError, ValueError):
            raise InvalidInput("cursor is not valid for this request; start again without it",
                               code="invalid_cursor") from None

    def _record_visit(self, reader: User | None) -> bool:
        """Record a home read (at most one write a day) and say whether the reader's timeline
        is incomplete: they were away long enough for fan-out to skip them, so a rebuild
        starts now (through the users stream), or one is still running."""
        if reader is None:
            return False
        now, rules = clock.now_ms(), self._activity
        if reader.rebuilding is not None and now - reader.rebuilding < REBUILD_STALE_MS:
            return True
        if rules.needs_rebuild(reader, now) or reader.rebuilding is not None:
            self._touch(reader, now, restamp=True, rebuild=True)
            return True
        if rules.seen_due(reader, now):
            self._touch(reader, now, restamp=rules.restamp_due(reader, now), rebuild=False)
        return False

    def _touch(self, reader: User, now: int, *, restamp: bool, rebuild: bool) -> None:
        # The page is worth more than the bookkeeping: if this write fails (throttled), the
        # reader's next read tries again, since nothing was recorded.
        try:
            self._users.touch(reader, now, restamp=restamp, rebuild=rebuild)
        except Exception:
            logger.warning("could not record a home read", extra={"reader": reader.user_id}, exc_info=True)

    # -------------------------------------------------------------- shared machinery
    def _posts_of(self, author_id: int):
        """A source of (post id, author id), newest first, from the ByAuthor index."""
        def fetch(before_id: int | None, want: int) -> list[tuple[int, int]]:
            return [(i, author_id) for i in self._tweets.ids_by_author(author_id, before=before_id, limit=want)]
        return fetch

    def _paginate(self, sources, before: int | None, limit: int, *, reader_id: int | None = None) -> _Merged:
        """Merge newest-first id streams into one page of live posts.

        Each round asks every source for `want` ids below the position. A source that
        returned a full `want` may hold more ids below its last one, so the merged list is
        only complete down to the highest such last id: the round consumes just that prefix,
        and of it only the newest `want` (the page needs no more; hydrating the whole prefix
        would fetch up to `want` posts per source). Deleted posts (gone from TweetsTable)
        fall out at hydration. A page is full, or the end, or, when the rounds ran out on
        hidden entries, marked partial (with a cursor to go on from).
        """
        items: list[Item] = []
        profiles: dict[int, User] = {}
        position = before
        exhausted = False
        for _ in range(MAX_ROUNDS):
            want = limit - len(items) + OVERFETCH
            results = list(_pool.map(lambda fetch, p=position, w=want: fetch(p, w), sources))
            truncated = [r[-1][0] for r in results if len(r) >= want]
            floor = max(truncated) if truncated else None
            merged = heapq.merge(*results, key=lambda entry: -entry[0])
            candidates: list[tuple[int, int]] = []
            seen = set()
            for tweet_id, author_id in merged:
                if floor is not None and tweet_id < floor:
                    break
                if tweet_id not in seen:
                    seen.add(tweet_id)
                    candidates.append((tweet_id, author_id))
            exhausted = floor is None and len(candidates) <= want
            candidates = candidates[:want]
            hydrated = self._hydrate(candidates, profiles, also=reader_id)
            consumed_all = True
            for (tweet_id, _), item in zip(candidates, hydrated):
                if len(items) == limit:
                    consumed_all = False
                    break
                position = tweet_id
                if item is not None:
                    items.append(item)
            if len(items) == limit or exhausted:
                exhausted = exhausted and consumed_all
                break
        more = not exhausted and position is not None
        return _Merged(items, position, more, more and len(items) < limit, profiles)

    def _hydrate(self, candidates: list[tuple[int, int]], profiles: dict[int, User],
                 also: int | None = None) -> list[Item | None]:
        """Posts and their authors, with two BatchGetItems in parallel (`also` rides along
        with the authors, once). None for a post that no longer exists (deleted after the
        entry was written). Profiles fetched are kept in `profiles`."""
        if not candidates:
            return []
        tweets_future = _pool.submit(self._tweets.get_many, [t for t, _ in candidates])
        wanted = {a for _, a in candidates} | ({also} if also is not None else set())
        profiles.update(self._users.get_many(wanted - profiles.keys()))
        tweets = tweets_future.result()
        out: list[Item | None] = []
        for tweet_id, _ in candidates:
            tweet = tweets.get(tweet_id)
            author = profiles.get(tweet.author_id) if tweet else None
            out.append(Item(tweet, author) if tweet and author else None)
        return out
