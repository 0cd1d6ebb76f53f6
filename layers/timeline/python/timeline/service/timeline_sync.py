"""Keeping materialized timelines in step with the graph (runs in fanout_worker).

Three kinds of message, each bounded and each safe to apply twice, late, or out of order:

- `sync_follow` (from a follow or unfollow): backfill the account's recent posts if the
  owner follows it now, or remove what it brought if not.
- `celebrity_page` (from a celebrity flip): one page of the account's followers moved to the
  path the flag says: celebrity edges (merged at read), or backfilled entries and no edges.
- `rebuild` (from a reader's activity stamp): one page of the reader's followees, stamped
  active on their follower edges and, for a returning reader, backfilled.

Each one reads the state it acts on when it is applied, acts, then reads it again: if it
changed meanwhile, whatever changed it may have run its own message before this one wrote,
so the step is redone for the new state. A later message of the same relationship finds
the state as it stands, so the last action wins whatever order the queue delivers them in.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from timeline import clock
from timeline.records import Entry
from timeline.service import messages
from timeline.service.activity import ActivityRules
from timeline.service.celebrity_copies import CelebrityCopies
from timeline.service.fanout import FanoutApplier
from timeline.service.messages import Add
from timeline.settings import Settings
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import Follower, GraphStore
from timeline.store.timelines import TimelineStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

CELEBRITY_PAGE_SIZE = 100  # followers moved per message (a demotion backfills each of them)
REBUILD_PAGE_SIZE = 50  # followees per message (each may bring up to TimelineMax/4 posts)
DROP_PAGE_SIZE = 100  # reposts of a deleted post removed per message
MAX_REDO = 4  # a relationship flapping faster than this is redone by its own later messages
BACKFILL_PAGES = 4  # ByAuthor pages read for an account's posts without its reposts: TimelineMax entries

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sync")
class _Unread(enum.Enum):
    UNREAD = "unread"


UNREAD: Final = _Unread.UNREAD  # sync_follow's state, not read yet


class TimelineSync:
    def __init__(self, settings: Settings, users: UserStore, tweets: TweetStore, graph: GraphStore,
                 timelines: TimelineStore, queue: FanoutQueue, fanout: FanoutApplier, copies: CelebrityCopies):
        self._settings, self._users, self._tweets, self._graph = settings, users, tweets, graph
        self._timelines, self._queue, self._fanout, self._copies = timelines, queue, fanout, copies
        self._activity = ActivityRules(settings)

    # ------------------------------------------------------------------ building blocks
    def recent_posts(self, author_ids: list[int], no_reposts: Collection[int] = ()) -> list[Entry]:
        """Newest first: each account's newest TimelineMax/4 posts and reposts (its newest
        TimelineMax/4 posts for the accounts in `no_reposts`), at most TimelineMax in all."""
        def newest(author_id: int) -> list[Entry]:
            return self.newest_of(author_id, originals_only=author_id in no_reposts)
        merged = heapq.merge(*_pool.map(newest, author_ids), key=lambda e: -e.tweet_id)
        return list(itertools.islice(merged, self._settings.timeline_max))

    def newest_of(self, author_id: int, *, originals_only: bool, first: list[Entry] | None = None) -> list[Entry]:
        """The account's newest TimelineMax/4 entries of the ByAuthor index, or with
        `originals_only` its newest TimelineMax/4 posts: reposts are dropped and the index is
        paged on past them (`before` the last entry read), so an account that reposted more
        than that since its last post still brings its posts; at most BACKFILL_PAGES pages, a
        full timeline's worth of the index. `first`: the first page, if already read."""
        n = self._settings.backfill_posts
        page = first if first is not None else self._tweets.entries_by_author(author_id, before=None, limit=n)
        if not originals_only:
            return page
        posts = [e for e in page if not e.is_repost]
        for _ in range(BACKFILL_PAGES - 1):
            if len(posts) >= n or len(page) < n:
                break  # enough, or the end of the index
            page = self._tweets.entries_by_author(author_id, before=page[-1].tweet_id, limit=n)
            posts += [e for e in page if not e.is_repost]
        return posts[:n]

    def _materialized(self, account_ids: Collection[int]) -> set[int]:
        """The accounts among these whose posts are written into their followers' timelines:
        those whose profile, read consistently, says they are not celebrities (a celebrity's
        posts are merged at read). Every backfill decides here, from the flag every follow's
        transaction checks and every walk starts from, never from a reader's celebrity edge,
        which a promotion or demotion walk writes or removes later."""
        return {a for a, celebrity in self._users.celebrity_flags(account_ids).items() if not celebrity}

    def backfill(self, owner_id: int, posts: list[Entry]) -> list[int]:
        """Write the entries the owner's timeline lacks; into a full timeline only those newer
        than its oldest entry (an older one would be trimmed at once). Returns the ids written."""
        keep = self._settings.timeline_max
        present = self._timelines.newest_ids(owner_id, keep)
        have, full = set(present), len(present) >= keep
        oldest = present[-1] if full else None
        missing = [e for e in posts if e.tweet_id not in have and (oldest is None or e.tweet_id > oldest)]
        if not missing:
            return []
        self._timelines.add_posts(owner_id, missing, clock.now_s() + self._settings.timeline_ttl_seconds)
        if len(present) + len(missing) > keep:
            self._fanout.trim(owner_id)
        return [e.tweet_id for e in missing]

    def _take_back_deleted(self, written: dict[int, list[int]]) -> None:
        """Backfills read the author index, which can still list a post deleted a moment ago:
        check the written posts against the table and remove the ones that are gone."""
        ids = {t for tweet_ids in written.values() for t in tweet_ids}
        gone = ids - self._tweets.existing(ids)
        if gone:
            self._timelines.remove_entries((owner, t) for owner, tweet_ids in written.items()
                                           for t in tweet_ids if t in gone)

    def cleanup(self, owner_id: int, account_id: int, *, reposts_only: bool = False) -> int:
        """Remove every entry the account brought into the owner's timeline (or its reposts)."""
        ids = self._timelines.ids_via(owner_id, account_id, reposts_only=reposts_only)
        self._timelines.remove_entries((owner_id, t) for t in ids)
        return len(ids)

    # ------------------------------------------------------------------ follow / unfollow
    def follow_states(self, pairs: Collection[tuple[int, int]]) -> dict[tuple[int, int], bool | None]:
        """The follow state of each (owner, account) pair, for a batch's syncs: one read."""
        return self._graph.follow_states(pairs)

    def sync_follow(self, owner_id: int, account_id: int, state: bool | _Unread | None = UNREAD) -> None:
        """`state`: None when not following, else whether the account's reposts show; read
        here unless the caller read it (follow_states) after the message arrived."""
        if state is UNREAD:
            state = self._graph.follow_state(owner_id, account_id)
        for _ in range(MAX_REDO):
            if state is None:
                changed = self.cleanup(owner_id, account_id)
            else:
                changed = self._backfill_account(owner_id, account_id, reposts=state)
                if not state:
                    changed += self.cleanup(owner_id, account_id, reposts_only=True)
            if not changed:
                return  # nothing written or removed: nothing a concurrent change could undo
            now = self._graph.follow_state(owner_id, account_id)
            if now == state:
                return
            state = now

    def _backfill_account(self, owner_id: int, account_id: int, *, reposts: bool) -> int:
        posts = self.recent_posts([account_id], no_reposts=() if reposts else (account_id,))
        if not posts:
            return 0  # the common case for a new account: no read of the profile or the timeline
        if not self._materialized([account_id]):
            return 0  # following a celebrity needs no entries: the read merges their posts
        written = self.backfill(owner_id, posts)
        self._take_back_deleted({owner_id: written})
        return len(written)

    # ------------------------------------------------------------------ celebrity flips
    def celebrity_page(self, account_id: int, epoch: int, after: str | None) -> None:
        account = self._users.get_consistent(account_id)
        if account is None or account.celebrity_epoch != epoch:
            return  # a later flip started its own walk from the first page
        # Every walk reads the account's shards too: a celebrity's storm-path follows put their
        # edges there (GraphStore.follow), and a demotion moves them home.
        followers, next_after = self._graph.followers_with_activity(account_id, CELEBRITY_PAGE_SIZE, after,
                                                                    sharded=True)
        for _ in range(MAX_REDO):
            self._move_followers(account_id, account.celebrity, followers, copied=account.copied)
            again = self._users.get_consistent(account_id)
            if again is None:
                return
            flipped, account = again.celebrity != account.celebrity, again
            if not flipped:
                break
            # Flipped while this page was written, perhaps after the new walk passed it: put
            # the page right for the new flag (the new walk does every other page).
        if next_after and account.celebrity_epoch == epoch:
            self._queue.send([messages.CelebrityPage(account=account_id, epoch=epoch, after=next_after)])

    def _move_followers(self, account_id: int, celebrity: bool, followers: list[Follower], *,
                        copied: bool = False) -> None:
        if not followers:
            return
        if celebrity:
            self._promote(account_id, followers, copied=copied)
        else:
            self._demote(account_id, followers)

    def _promote(self, account_id: int, followers: list[Follower], *, copied: bool = False) -> None:
        """From now on these readers merge the account's posts, through a celebrity edge that
        carries each one's reposts choice (and whether the account is copied: then from their
        shard of its copies). After writing, the follower edges are read again:
        an edge written for a reader who unfollowed meanwhile is taken back (the unfollow
        removed its own), and one whose reader changed the reposts choice since the page was
        read is written again with the choice as it stands (that change's transaction found
        no celebrity edge to update). Rewritten edges are checked again in turn."""
        written = list({f.user_id: f for f in followers}.values())
        for _ in range(MAX_REDO):
            self._graph.add_celebrity_edges(account_id, written, clock.now_ms(), copied=copied)
            now = self._graph.follower_edges(account_id, [f.user_id for f in written], sharded=True)
            gone = [f.user_id for f in written if f.user_id not in now]
            if gone:
                self._graph.remove_celebrity_edges(account_id, gone)
            written = [now[f.user_id] for f in written if f.user_id in now and now[f.user_id].reposts != f.reposts]
            if not written:
                return

    def _demote(self, account_id: int, followers: list[Follower]) -> None:
        """Entries first, then the celebrity edges go, so no active reader has a moment with
        neither. Inactive readers are left to the rebuild they get when they return, which
        backfills every followee whose flag says it is no celebrity (_materialized).

        After writing, the follower edges are read again, consistently, and what changed since
        the page was read is put right: a reader who unfollowed is cleaned up (their cleanup
        may have run before this backfill); one who came back meanwhile is backfilled (their
        rebuild may have run while the account was still a celebrity, and this page's read
        said inactive); one who changed the reposts choice gets the entries of the new
        choice, their reposts taken back if they turned them off (their sync may have run
        before this backfill). Either the change landed before this read, or after the edges
        were removed and the account's flag cleared, and then its own work sees both."""
        posts: dict[bool, list[Entry]] = {}

        def posts_for(reposts: bool) -> list[Entry]:
            if True not in posts:
                posts[True] = self.newest_of(account_id, originals_only=False)
            if not reposts and False not in posts:
                posts[False] = self.newest_of(account_id, originals_only=True, first=posts[True])
            return posts[reposts]

        # First home: fan-out reads only the account's own partition, so a follower edge a
        # storm-path follow put in a shard moves there before this page is backfilled (a post
        # made meanwhile that fan-out missed for it is then among the newest posts read below).
        ids = [f.user_id for f in followers]
        followers = self._graph.move_home(account_id, followers)
        plan = {f.user_id: f for f in followers if self._activity.edge_is_active(f.seen_at, clock.now_ms())}
        for reposts in {f.reposts for f in plan.values()}:
            posts_for(reposts)  # read once, before the backfills share them
        written: dict[int, list[int]] = dict(zip(plan, _pool.map(
            lambda f: self.backfill(f.user_id, posts_for(f.reposts)), plan.values()), strict=True))
        self._graph.remove_celebrity_edges(account_id, ids)
        cleaned: set[int] = set()
        for _ in range(MAX_REDO):
            now, at = self._graph.follower_edges(account_id, ids, sharded=True), clock.now_ms()
            for owner_id in set(ids) - set(now) - cleaned:  # unfollowed meanwhile
                self.cleanup(owner_id, account_id)
                cleaned.add(owner_id)
            redo = [f for f in now.values() if self._activity.edge_is_active(f.seen_at, at)
                    and (f.user_id not in plan or plan[f.user_id].reposts != f.reposts)]
            if not redo:
                break
            for f in redo:
                written[f.user_id] = written.get(f.user_id, []) + self.backfill(f.user_id, posts_for(f.reposts))
                if not f.reposts:
                    self.cleanup(f.user_id, account_id, reposts_only=True)
                plan[f.user_id] = f
        self._take_back_deleted(written)

    # ------------------------------------------------------------------ returning readers
    def rebuild(self, owner_id: int, started: int | None, after: str | None) -> None:
        if started is not None:
            owner = self._users.get_consistent(owner_id)
            if owner is None or owner.rebuilding != started:
                return  # finished, or superseded by a later rebuild
        page, next_after = self._graph.following_with_reposts(owner_id, REBUILD_PAGE_SIZE, after)
        followed = self._graph.restamp(owner_id, [a for a, _ in page], clock.now_ms())
        if started is not None and followed:
            self._rebuild_page(owner_id, followed, dict(page))
        if next_after:
            self._queue.send([messages.Rebuild(owner=owner_id, started=started, after=next_after)])
        elif started is not None:
            self._users.finish_rebuild(owner_id, started)

    def _rebuild_page(self, owner_id: int, followed: list[int], reposts: dict[int, bool]) -> None:
        """Backfill a returning reader from a page of the accounts they follow. Which accounts
        need entries is decided from their flags (_materialized), after this page restamped
        the reader active: an account demoted before that read is backfilled here; one demoted
        after it is walked after the restamp, and its demotion page, which checks the readers
        it skipped as inactive after writing, backfills this reader.

        After writing, the follow edges are read again (consistently): an account unfollowed
        meanwhile is cleaned up, and one whose reposts were turned off since the page was read
        has its reposts taken back (that change's own sync may have run before this wrote
        them). Turned on, that sync brings them."""
        materialized = self._materialized(followed)
        accounts = [a for a in followed if a in materialized]
        posts = self.recent_posts(accounts, {a for a in accounts if not reposts.get(a, True)})
        written = self.backfill(owner_id, posts)
        self._take_back_deleted({owner_id: written})
        written_ids = set(written)
        brought = {e.via_id for e in posts if e.tweet_id in written_ids}
        if not brought:
            return  # nothing written: nothing a concurrent change could have undone
        states = self._graph.follow_states([(owner_id, a) for a in brought])
        for account_id in brought:
            state = states.get((owner_id, account_id))
            if state is None:  # unfollowed while this page was written
                self.cleanup(owner_id, account_id)
            elif not state and reposts.get(account_id, True):
                self.cleanup(owner_id, account_id, reposts_only=True)

    # ------------------------------------------------------------------ a worker batch's adds
    def add_all(self, adds: list[Add]) -> None:
        """A batch's `add` messages, applied together (FanoutApplier.add_all)."""
        self._fanout.add_all(adds)

    # ------------------------------------------------------------------ blocks and deleted posts
    def sever(self, blocker_id: int, blocked_id: int) -> None:
        """The block's own call removed the follows; this repeats it from the block's stream
        record in case that call failed halfway (unfollows are idempotent)."""
        if self._graph.blocks(blocker_id, blocked_id):
            self._graph.sever(blocker_id, blocked_id, now_ms=clock.now_ms())

    def drop_reposts(self, original_id: int, after: int | None) -> None:
        """A deleted post's reposts, one page per message: each row deleted (with its claim),
        whose REMOVE record takes its entries back from its reposter's followers."""
        reposts, next_after = self._tweets.reposts_of(original_id, DROP_PAGE_SIZE, after)
        self._tweets.remove_reposts(reposts)
        if next_after is not None:
            self._queue.send([messages.DropReposts(original=original_id, after=next_after)])
