"""Reading timelines: a user's own posts, and the home timeline (materialized entries
merged with the latest posts of each followed celebrity)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from timeline import clock, ids
from timeline.cursors import CursorCodec
from timeline.errors import InvalidInput, NotFound
from timeline.observability import logger
from timeline.records import Counts, Entry, Tweet, User, ViewerState
from timeline.service.accounts import user_by_handle
from timeline.service.activity import ActivityRules
from timeline.service.engagement import Engagement, Shown
from timeline.service.visibility import Surface, Visibility
from timeline.settings import Settings
from timeline.store.celebrity_copies import CopyStore, shard_of
from timeline.store.graph import GraphStore
from timeline.store.throttling import is_throttled
from timeline.store.timelines import TimelineStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

# Headroom fetched beyond the page size, so a few deleted posts don't cost another round trip.
OVERFETCH = 5
MAX_ROUNDS = 8
# A read's query budget: one query per source (the reader's timeline, each followed celebrity)
# for a page, then at most this many more in all, when hidden entries make the read go on; a
# source is asked again only while it holds unread entries. Past it the page answers partial.
EXTRA_QUERIES = 8
# A rebuild that has not finished in this long lost its messages (they sit in the dead-letter
# queue): the next read starts it again.
REBUILD_STALE_MS = 15 * 60 * 1000
# A post shows once: an entry is hidden when the same post (itself, or a repost of it) is among
# the next DEDUPE_WINDOW older entries of the reader's timeline. Mastodon's fall-off is 40; a
# post reposted again after that many newer entries is news again and shows again.
DEDUPE_WINDOW = 40
# A reply waits for the post it answers to reach the reader's timeline; a post this old has
# finished its fan-out (or sits in the dead-letter queue), so its replies wait no longer.
PARENT_SETTLE_MS = 60 * 60 * 1000

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="timeline-read")

# A newest-first stream of entries: (below this id or None for the newest, how many) -> entries.
Source = Callable[[int | None, int], list[Entry]]


@dataclass(frozen=True)
class Item:
    tweet: Tweet  # the post shown
    author: User
    repost: Tweet | None = None  # the repost that brought it, if any
    reposter: User | None = None
    counts: Counts = field(default_factory=Counts)
    viewer: ViewerState = field(default_factory=ViewerState)
    reply_to_author: User | None = None  # whom the post answers, if it is a reply (and they exist)


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None
    partial: bool = False
    celebrities_merged: int = 0  # celebrity accounts whose posts this read merged (home timeline)


@dataclass(frozen=True)
class _Merged:
    items: list[Item]
    position: int | None  # the last id consumed
    more: bool
    partial: bool  # the rounds ran out before the page filled
    profiles: dict[int, User]  # every profile fetched on the way


@dataclass(frozen=True)
class _HomeRules:
    """What only a home timeline filters: replies by whom they answer, and replies whose parent
    is still on its way. (Blocks and mutes are `Visibility`'s, the same on every path.)"""
    user_id: int
    celebrities: dict[int, bool]  # followed celebrities -> whether their reposts show

    def _others_reply(self, e: Entry) -> bool:
        return not e.is_repost and e.reply_to_id is not None and e.author_id != self.user_id

    def answers_a_stranger(self, e: Entry) -> bool:
        """A followee's reply to someone other than itself, the reader, or a followed
        celebrity: shown only if the reader follows whom it answers (looked up at read)."""
        return (self._others_reply(e) and e.reply_to_author_id not in (e.author_id, self.user_id)
                and e.reply_to_author_id not in self.celebrities)

    def may_wait_for_parent(self, e: Entry, now_ms: int) -> bool:
        """A followee's reply whose parent may still be on its way to the reader's timeline
        (a recent post of an account the reader follows without merging it, fanned out by
        messages the queue keeps in no order)."""
        return (self._others_reply(e) and e.reply_to_id is not None
                and e.reply_to_author_id not in (self.user_id, *self.celebrities)
                and now_ms - ids.timestamp_ms(e.reply_to_id) < PARENT_SETTLE_MS)


def _started(fetch: Source, before: int | None, want: int) -> Source:
    """`fetch` as a source whose first call, (before, want), is already running in the pool.

    `_paginate`'s first round asks every source for exactly (before, want), so that call is
    answered by the future; any later round fetches afresh.
    """
    pending = [_pool.submit(fetch, before, want)]

    def source(before_id: int | None, want_now: int) -> list[Entry]:
        if pending and (before_id, want_now) == (before, want):
            return pending.pop().result()
        return fetch(before_id, want_now)
    return source


class _CappedTimeline:
    """The materialized timeline as a source that never goes past its TimelineMax-th entry
    (trimming is amortized, so the table may briefly hold a few more). `taken` counts the
    entries earlier pages consumed; the cursor carries it forward."""

    def __init__(self, fetch: Source, cap: int, taken: int):
        self._fetch, self._cap, self._taken = fetch, cap, taken
        self._seen: set[int] = set()

    def taken_through(self, position: int | None) -> int:
        """Entries consumed once the merge has reached `position` (ids at or above it)."""
        return self._taken + (0 if position is None else sum(1 for i in self._seen if i >= position))

    def __call__(self, before: int | None, want: int) -> list[Entry]:
        left = self._cap - self.taken_through(before)
        if left <= 0:
            return []
        got = self._fetch(before, min(want, left))
        self._seen.update(e.tweet_id for e in got)
        return got


class Reader:
    def __init__(self, settings: Settings, users: UserStore, tweets: TweetStore, graph: GraphStore,
                 timelines: TimelineStore, cursors: CursorCodec, copies: CopyStore, engagement: Engagement):
        self._settings, self._users, self._tweets, self._graph = settings, users, tweets, graph
        self._timelines, self._cursors, self._copies = timelines, cursors, copies
        self._engagement = engagement
        self._activity = ActivityRules(settings)

    # -------------------------------------------------------------- replies
    def replies(self, caller_id: int, tweet_id: int, limit: int, cursor: str | None) -> Page:
        """A post's direct replies, oldest first (a repost's id: the replies of the post it
        shares). 404 for an unknown post, 403 when a block stands between the caller and its
        author (as reading the post is); replies by or to accounts the caller blocks, is
        blocked by or mutes are left out (the FEED surface: the service chose them)."""
        row = self._tweets.get(tweet_id)
        post = self._tweets.get(row.repost_of_id) if row is not None and row.repost_of_id is not None else row
        if row is None or post is None:
            raise NotFound(f"no post {tweet_id}", code="tweet_not_found")
        # Blocks both ways and mutes: one consistent Query of the caller's own partition.
        visibility = Visibility(caller_id, self._graph.home_edges(caller_id).restrictions)
        visibility.require_post(post, row if row.is_repost else None)
        scope = f"replies:{post.tweet_id}"
        position = int(self._cursors.decode(cursor, reader=caller_id, scope=scope)) if cursor else None
        items: list[Item] = []
        more = False
        profiles: dict[int, User] = {}
        for _ in range(MAX_ROUNDS):
            want = limit - len(items) + OVERFETCH
            got = self._tweets.replies_after(post.tweet_id, after=position, limit=want)
            more = len(got) == want
            shows = [e for e in got if visibility.entry_shows(e, Surface.FEED)]
            hydrated = self._hydrate(shows, got, profiles, visibility, Surface.FEED, None, _Known({}, {}))
            for e in got:
                if len(items) == limit:
                    more = True
                    break
                position = e.tweet_id
                if e.tweet_id in hydrated:
                    items.append(hydrated[e.tweet_id])
            if len(items) == limit or not more:
                break
        next_cursor = self._cursors.encode(reader=caller_id, scope=scope,
                                           position=str(position)) if more and position is not None else None
        return Page(items=items, next_cursor=next_cursor, partial=more and len(items) < limit)

    def engagement(self, viewer_id: int, post_ids: list[int]) -> dict[int, Shown]:
        """Counts and the viewer's state of posts shown outside a page (one post, a new post)."""
        return self._engagement.of_posts(viewer_id, post_ids)

    # -------------------------------------------------------------- user timeline
    def user_timeline(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> Page:
        """The account's posts and reposts, newest first. A block either way between the
        caller and the account is a 403; reposts of posts by an account a block stands
        between the caller and are left out (see timeline.service.visibility)."""
        author = user_by_handle(self._users, handle)
        rules = _pool.submit(Visibility.of_reader, self._graph, caller_id)
        scope = f"user:{author.user_id}"
        before = int(self._cursors.decode(cursor, reader=caller_id, scope=scope)) if cursor else None
        # The account itself reads the index: its post shows on its own page at once (read your
        # writes), before the worker has copied it.
        copied = author.copied and self._copies.shards and caller_id != author.user_id
        posts = self._copies_of(author.user_id, caller_id) if copied else self._posts_of(author.user_id)
        first = _started(posts, before, limit + OVERFETCH)
        visibility = rules.result()
        visibility.require_account(author)
        merged = self._paginate([first], before, limit, visibility=visibility, surface=Surface.PROFILE)
        next_cursor = self._cursors.encode(reader=caller_id, scope=scope,
                                           position=str(merged.position)) if merged.more else None
        return Page(items=merged.items, next_cursor=next_cursor, partial=merged.partial)

    # -------------------------------------------------------------- home timeline
    def home_timeline(self, reader_id: int, limit: int, cursor: str | None) -> Page:
        """One query of the reader's materialized timeline (which holds their own posts too)
        plus one per followed celebrity, run in parallel and k-way merged by id. Never one
        query per followed account. The reader's graph partition gives, in one Query beside
        the timeline's, the celebrities to merge and the accounts to hide. The reader's own
        profile rides along with the authors' BatchGetItem (no request of its own): it
        records the visit and tells whether their timeline is being rebuilt, which makes the
        page partial."""
        scope = "home"
        before, taken = self._home_position(cursor, reader_id, scope) if cursor else (None, 0)
        edges = _pool.submit(self._graph.home_edges, reader_id)

        def materialized(before_id: int | None, want: int) -> list[Entry]:
            return self._timelines.page(reader_id, before=before_id, limit=want)

        timeline = _CappedTimeline(materialized, self._settings.timeline_max, taken)
        # The timeline's first round does not depend on the graph: start it now, so the two
        # lookups share one round trip instead of two in a row.
        first_round = _started(timeline, before, limit + OVERFETCH + DEDUPE_WINDOW)
        home = edges.result()
        visibility = Visibility(reader_id, home.restrictions)
        # Everything a celebrity the reader mutes (or blocks) brings is hidden: not asked at all.
        merging = {c: r for c, r in home.celebrities.items() if c not in visibility.hidden(Surface.FEED)}
        copied = home.copied if self._copies.shards else frozenset()
        sources = [first_round] + [_degradable(self._copies_of(c, reader_id, reposts=r) if c in copied
                                               else self._posts_of(c, reposts=r)) for c, r in merging.items()]
        merged = self._paginate(sources, before, limit, visibility=visibility,
                                surface=Surface.FEED, home=_HomeRules(reader_id, home.celebrities))
        # An empty page hydrated nothing: then (only then) the profile costs a GetItem.
        reader = merged.profiles[reader_id] if reader_id in merged.profiles else self._users.get(reader_id)
        incomplete = self._record_visit(reader)
        next_cursor = self._cursors.encode(reader=reader_id, scope=scope, position=[
            str(merged.position), timeline.taken_through(merged.position)]) if merged.more else None
        return Page(items=merged.items, next_cursor=next_cursor, partial=merged.partial or incomplete,
                    celebrities_merged=len(merging))

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
    def _posts_of(self, author_id: int, reposts: bool = True) -> Source:
        """A source of the account's entries, newest first, from the ByAuthor index (without
        its reposts when the reader follows it without them)."""
        def fetch(before_id: int | None, want: int) -> list[Entry]:
            got = self._tweets.entries_by_author(author_id, before=before_id, limit=want)
            # Filtered after the count is taken: a short page must not look like the end.
            return got if reposts else _Filtered(got, [e for e in got if not e.is_repost])
        return fetch

    def _copies_of(self, author_id: int, reader_id: int, reposts: bool = True) -> Source:
        """A celebrity's entries, newest first, from the shard of its copies the reader's id
        picks, with the posts and authors they show (nothing more to read for them); below the
        shard's oldest copy (a deep page, or a shard still being built) from the ByAuthor
        index, unless the shard's floor marker says there is nothing older."""
        shard = shard_of(reader_id, self._copies.shards)

        def fetch(before_id: int | None, want: int) -> list[Entry]:
            page = self._copies.page(author_id, shard, before=before_id, limit=want)
            got = page.entries
            if len(got) < want and not page.whole_history:
                got = got + self._tweets.entries_by_author(author_id, before=got[-1].tweet_id if got else before_id,
                                                           limit=want - len(got))
            return _Filtered(got, got if reposts else [e for e in got if not e.is_repost], page.tweets, page.users)
        return fetch

    def _paginate(self, sources: list[Source], before: int | None, limit: int, *, visibility: Visibility,
                  surface: Surface, home: _HomeRules | None = None) -> _Merged:
        """Merge newest-first entry streams into one page of live posts.

        Each round needs `want` entries (plus, for a home timeline, the dedupe window) below
        the position from every source; a source that holds fewer of what it already gave is
        asked for the rest, below the last entry it gave (one that gave fewer than it was asked
        has no more and is never asked again), within the read's query budget (EXTRA_QUERIES
        past the first round). A source that returned all it was asked for may
        hold more below its last one, so the merged list is only complete down to the
        highest such last id: the round consumes only entries with a whole window of the
        complete list below them, and of those only the newest `want` (the page needs no
        more; hydrating them all would fetch up to `want` posts per source). What
        `visibility` hides on this `surface` drops out before anything is read; on a home
        timeline, so do replies to strangers and replies whose parent is still on its way;
        deleted posts drop out at hydration. On a home timeline an entry is a duplicate when
        an older entry of the same post within the window would show on its own (passes
        every one of those filters): only what the reader sees suppresses, so a hidden copy
        never makes a post show zero times. A page is full, or the end, or, when the rounds
        ran out on hidden entries or the budget, marked partial (with a cursor to go on).
        """
        window = DEDUPE_WINDOW if home is not None else 0
        items: list[Item] = []
        profiles: dict[int, User] = {}
        position = before
        exhausted = False
        extra = 0
        buffers = [_Buffer(fetch) for fetch in sources]
        budget = len(buffers) + EXTRA_QUERIES
        for _ in range(MAX_ROUNDS):
            want = limit - len(items) + OVERFETCH
            ask = want + window + extra
            short = [b for b in buffers if b.short(position, ask)]
            last = budget < len(short)  # what is read is all this read gets: decide with it
            if not last:
                budget -= len(short)
                list(_pool.map(lambda b, p=position, w=ask: b.fill(p, w), short))
            lows = [b.low for b in buffers if not b.done and b.low is not None]  # each was read: its low is set
            floor = max(lows) if lows else None
            merged = heapq.merge(*(b.below(position) for b in buffers), key=lambda e: -e.tweet_id)
            complete: list[Entry] = []
            seen = set()
            for e in merged:
                if floor is not None and e.tweet_id < floor:
                    break
                if e.tweet_id not in seen:
                    seen.add(e.tweet_id)
                    complete.append(e)
            decidable = len(complete) if floor is None or last else max(0, len(complete) - window)
            if decidable == 0 and floor is not None and not last:
                extra = 2 * (extra or max(window, want))  # filtered down to less than a window: ask for more
                continue
            exhausted = floor is None and decidable <= want
            candidates = complete[:min(want, decidable)]
            shown = [visibility.entry_shows(e, surface) for e in candidates]
            # Older copies of a shown candidate's post within the window, which suppress it if
            # they would show themselves (hydrated with the page, so it costs no round trip).
            copies = {i: _copies(complete, i, window, visibility, surface) for i, s in enumerate(shown) if s}
            wanted = [e for e, s in zip(candidates, shown, strict=True) if s] + [c for cs in copies.values() for c in cs]
            hydrated = self._hydrate(list({e.tweet_id: e for e in wanted}.values()), complete, profiles,
                                     visibility, surface, home, _Known.of(buffers))
            consumed_all = True
            for i, e in enumerate(candidates):
                if len(items) == limit:
                    consumed_all = False
                    break
                position = e.tweet_id
                repeated = any(c.tweet_id in hydrated for c in copies.get(i, ()))
                item = hydrated.get(e.tweet_id) if shown[i] and not repeated else None
                if item is not None:
                    items.append(item)
            if len(items) == limit or exhausted or last:
                exhausted = exhausted and consumed_all
                break
        more = not exhausted and position is not None
        unavailable = any(b.unavailable for b in buffers)
        return _Merged(items, position, more, (more and len(items) < limit) or unavailable, profiles)

    def _hydrate(self, candidates: list[Entry], complete: list[Entry], profiles: dict[int, User],
                 visibility: Visibility, surface: Surface, home: _HomeRules | None, known: _Known) -> dict[int, Item]:
        """Posts and their authors (and reposters), with BatchGetItems in parallel (the
        reader's profile rides along with the authors, once), but for those the sources
        brought (a celebrity's copies carry them); for a home timeline, in the
        same round trip, whether the reader follows whom its replies answer and whether the
        posts they answer have reached the reader's timeline. Returns the items that show,
        by entry id. Profiles fetched are kept in `profiles`."""
        if not candidates:
            return {}
        now = clock.now_ms()
        # (a reply names whom it answers: reply_to_author_id is set wherever reply_to_id is)
        strangers = {e.reply_to_author_id for e in candidates
                     if home and home.answers_a_stranger(e) and e.reply_to_author_id is not None}
        in_stream = {e.tweet_id for e in complete}
        waits = [e for e in candidates
                 if home and e.reply_to_id not in in_stream and home.may_wait_for_parent(e, now)]
        waiting = {e.reply_to_id for e in waits if e.reply_to_id is not None}  # each one's is (may_wait_for_parent)
        waiting_entries = {e.tweet_id for e in waits}
        wanted_posts = ({e.tweet_id for e in candidates} | {e.original_id for e in candidates} | waiting) - known.tweets.keys()
        tweets_future = _pool.submit(self._tweets.get_many, wanted_posts)
        # The viewer's likes and reposts of these posts, and their counts: sent now, beside the
        # posts' and authors' reads (the same round trip).
        # A celebrity's posts (merged at read, or from its copies) have their counts read from
        # this container's replica: every reader of the celebrity wants them.
        celebrity_posts = {e.original_id for e in candidates
                           if (e.original_id in known.tweets and e.author_id == e.via_id)
                           or (home is not None and e.author_id in home.celebrities)}
        engagement = self._engagement.start(visibility.reader_id, [e.original_id for e in candidates],
                                            celebrity_posts)
        # Whom the reader follows, and since when: the reply rule, and whether a parent's fan-out
        # included the reader at all (a follow made after the post brought only what its
        # backfill brought).
        lookups = strangers | {e.reply_to_author_id for e in waits if e.reply_to_author_id is not None}
        # Only a home read has strangers or replies waiting.
        follows_future = (_pool.submit(self._graph.followed_since, home.user_id, lookups)
                          if lookups and home is not None else None)
        arrived_future = (_pool.submit(self._timelines.present, [(home.user_id, p) for p in waiting])
                          if waiting and home is not None else None)
        wanted = ({e.author_id for e in candidates} | {e.via_id for e in candidates}
                  | {e.reply_to_author_id for e in candidates if e.reply_to_author_id is not None}) - known.users.keys()
        if home is not None:
            wanted.add(home.user_id)  # always read: its visit is recorded from it
        profiles.update(self._users.get_many(wanted - profiles.keys()))
        people = {**known.users, **profiles}
        tweets = {**known.tweets, **tweets_future.result()}
        engaged = engagement()
        # A repost's entry does not say whom the reply it shares answers: read those few now
        # (only then: every other entry named its post's in the batch above).
        shared = [tweets[e.original_id] for e in candidates if e.is_repost and e.original_id in tweets]
        answering = {t.reply_to_author_id for t in shared if t.reply_to_author_id is not None} - people.keys()
        if answering:
            profiles.update(self._users.get_many(answering))
            people.update(profiles)
        followed = follows_future.result() if follows_future else {}
        arrived = {p for _, p in arrived_future.result()} if arrived_future else set()
        out: dict[int, Item] = {}
        for e in candidates:
            row, tweet = tweets.get(e.tweet_id), tweets.get(e.original_id)
            author = people.get(tweet.author_id) if tweet else None
            if row is None or tweet is None or author is None:
                continue  # deleted (or the repost undone) after the entry was written
            if home and home.answers_a_stranger(e) and e.reply_to_author_id not in followed:
                continue  # a reply to someone the reader does not follow
            since = followed.get(e.reply_to_author_id) if e.reply_to_author_id is not None else None
            if (e.tweet_id in waiting_entries and e.reply_to_id not in arrived and e.reply_to_id in tweets
                    and since is not None and since < ids.timestamp_ms(e.reply_to_id)):
                continue  # the post it answers is still on its way to this timeline
            if not visibility.post_shows(tweet, row if e.is_repost else None, surface):
                continue  # e.g. a repost of a reply to an account the reader blocks or mutes
            shown = engaged.get(tweet.tweet_id) or Shown(Counts(), ViewerState())
            answered = people.get(tweet.reply_to_author_id) if tweet.reply_to_author_id is not None else None
            if e.is_repost:
                reposter = people.get(row.author_id)
                if reposter is not None:
                    out[e.tweet_id] = Item(tweet, author, row, reposter, shown.counts, shown.viewer, answered)
            else:
                out[e.tweet_id] = Item(tweet, author, None, None, shown.counts, shown.viewer, answered)
        return out


class _Buffer:
    """One source's entries read so far in one read. It is asked again only for entries below
    the last one it gave (it is complete down to `low`), and never once it gave fewer than it
    was asked for (`done`)."""

    def __init__(self, fetch: Source) -> None:
        self._fetch = fetch
        self.known = _Known({}, {})
        self._entries: list[Entry] = []
        self._read = False
        self.low: int | None = None
        self.done = False
        self.unavailable = False  # a degradable source that was throttled: the page is partial

    def below(self, position: int | None) -> list[Entry]:
        return [e for e in self._entries if position is None or e.tweet_id < position]

    def short(self, position: int | None, ask: int) -> bool:
        return not self.done and len(self.below(position)) < ask

    def fill(self, position: int | None, ask: int) -> None:
        want = ask - len(self.below(position))
        got = self._fetch(self.low if self._read else position, want)
        self._read = True
        if _raw_len(got) < want:
            self.done = True
        if _raw_len(got):
            self.low = _raw_last(got)
        if isinstance(got, _Unavailable):
            self.unavailable = True
        if isinstance(got, _Filtered):
            self.known.tweets.update(got.tweets)
            self.known.users.update(got.users)
        self._entries.extend(got)


class _Filtered(list[Entry]):
    """A source's entries after a filter, remembering how many the query returned, and the
    posts and authors it brought with them (a celebrity's copies)."""

    def __init__(self, raw: list[Entry], kept: list[Entry], tweets: dict[int, Tweet] | None = None,
                 users: dict[int, User] | None = None):
        super().__init__(kept)
        self.raw_len, self.raw_last = len(raw), (raw[-1].tweet_id if raw else None)
        self.tweets, self.users = tweets or {}, users or {}


class _Unavailable(_Filtered):
    """What a degradable source gives when DynamoDB throttled it: nothing, and the page is
    marked partial."""

    def __init__(self) -> None:
        super().__init__([], [])


def _degradable(fetch: Source) -> Source:
    """A source that may be left out of a page when DynamoDB throttles it (after the SDK's
    retries): a followed celebrity's posts. The reader still gets the rest of the page,
    marked partial, rather than an error (issue 14's overload policy)."""
    def source(before_id: int | None, want: int) -> list[Entry]:
        try:
            return fetch(before_id, want)
        except Exception as exc:
            if not is_throttled(exc):
                raise
            logger.warning("a merged source was throttled: the page is partial", exc_info=True)
            return _Unavailable()
    return source


@dataclass(frozen=True)
class _Known:
    """Posts and authors the sources brought: hydration reads only the others."""
    tweets: dict[int, Tweet]
    users: dict[int, User]

    @classmethod
    def of(cls, buffers: list[_Buffer]) -> _Known:
        known = cls({}, {})
        for b in buffers:
            known.tweets.update(b.known.tweets)
            known.users.update(b.known.users)
        return known


def _raw_len(result: list[Entry]) -> int:
    return result.raw_len if isinstance(result, _Filtered) else len(result)


def _raw_last(result: list[Entry]) -> int | None:
    return result.raw_last if isinstance(result, _Filtered) else result[-1].tweet_id


def _copies(complete: list[Entry], i: int, window: int, visibility: Visibility, surface: Surface) -> list[Entry]:
    """The entries of entry i's post within the `window` older entries below it that the
    visibility rule lets through (whether they show is known after hydration)."""
    original = complete[i].original_id
    return [e for e in complete[i + 1:i + 1 + window]
            if e.original_id == original and visibility.entry_shows(e, surface)]
