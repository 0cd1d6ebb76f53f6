"""Following and unfollowing, blocking and muting, and the lists of each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

from timeline import clock
from timeline.cursors import CursorCodec
from timeline.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from timeline.records import Relation, User
from timeline.service.accounts import user_by_handle
from timeline.service.visibility import Visibility
from timeline.store.graph import Blocked, FolloweeChanged, FollowingLimit, GraphStore, UnknownUser
from timeline.store.rate_limits import Limited, Window
from timeline.store.users import UserStore

FOLLOW_ATTEMPTS = 3


def action_window(user_id: int, per_minute: int) -> Window:
    """The account's window of changes that make the service work for others (follows,
    unfollows, blocks, mutes, their undoing, reposts choices, undone reposts)."""
    return Window.now("act", str(user_id), per_minute)


@contextmanager
def counted_action(per_minute: int) -> Iterator[None]:
    """A change counted against `action_window`: a full window is a 429 with Retry-After."""
    try:
        yield
    except Limited as exc:
        raise TooManyRequests(f"you can follow, unfollow, block, mute, like, undo a repost or undo these "
                              f"{per_minute} times a minute; try again in {exc.retry_after} s",
                              code="rate_limited", retry_after=exc.retry_after) from None


@dataclass(frozen=True)
class Relationship:
    user: User
    following: bool
    changed: bool
    reposts: bool = True


@dataclass(frozen=True)
class Restriction:
    """A block or a mute as the caller left it."""
    user: User
    active: bool
    changed: bool


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None


# How long a container reuses a celebrity's profile as a follow or unfollow target. A follow
# storm (5,000 a second when a celebrity joins) would otherwise read its handle claim and its
# profile on every follow: 2,500 read units a second on each, most of a partition. Reusing it is
# safe: the follow's transaction checks the celebrity flag itself (a stale one is read again),
# handles never change, and only the follower count in the answer may be a few seconds behind.
CELEBRITY_TARGET_TTL_S = 5.0
RECENT_CELEBRITIES = 1_000


class _RecentCelebrities:
    """Celebrity profiles by handle (case-folded), for CELEBRITY_TARGET_TTL_S, in this container."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, User]] = {}

    def get(self, handle: str) -> User | None:
        entry = self._entries.get(handle.casefold())
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, handle: str, user: User) -> None:
        if len(self._entries) >= RECENT_CELEBRITIES:
            self._entries.clear()
        self._entries[handle.casefold()] = (time.monotonic() + CELEBRITY_TARGET_TTL_S, user)

    def drop(self, handle: str) -> None:
        self._entries.pop(handle.casefold(), None)


# A page of an account's list: (account, limit, after) -> (user ids, the next page's `after`).
_Page = Callable[[int, int, str | None], tuple[list[int], str | None]]


class Social:
    """Every change that makes the service work for others (a follow's backfill, an unfollow's
    cleanup, a block's severing, a reposts choice's sync) counts against the caller's action
    window (ActionRateLimitPerMinute), in the change's own transaction: a repeat that changes
    nothing counts nothing, and a refused change never counts."""

    def __init__(self, users: UserStore, graph: GraphStore, cursors: CursorCodec,
                 actions_per_minute: int = 60, max_following: int = 5000):
        self._users, self._graph, self._cursors = users, graph, cursors
        self._actions_per_minute, self._max_following = actions_per_minute, max_following
        self._celebrities = _RecentCelebrities()

    def _window(self, caller_id: int) -> Window:
        return action_window(caller_id, self._actions_per_minute)

    def _target(self, caller_id: int, handle: str, action: str = "follow") -> User:
        """The account an `action` (follow, block, mute, or their undoing) is aimed at; never
        the caller (400 `self_<action>`)."""
        target = self._celebrities.get(handle)
        if target is None:
            target = user_by_handle(self._users, handle)
            if target.celebrity:
                self._celebrities.put(handle, target)
        if target.user_id == caller_id:
            what = {"follow": "follow or unfollow", "block": "block", "mute": "mute"}[action]  # as answered before
            raise InvalidInput(f"you cannot {what} yourself", code=f"self_{action}")
        return target

    def follow(self, caller_id: int, handle: str, reposts: bool = True) -> Relationship:
        """Follow (idempotent; following again changes only whether the account's reposts
        show). The edge matches the followee's celebrity flag at commit (the transaction
        checks it), or, for an account read as a celebrity, once a demotion's second walk has
        run (GraphStore.follow's storm path); the timeline work follows from the edge's
        stream record. The answer's follower count is the profile as read plus this follow."""
        target = self._target(caller_id, handle)
        for _ in range(FOLLOW_ATTEMPTS):
            try:
                with counted_action(self._actions_per_minute):
                    changed = self._graph.follow(caller_id, target.user_id, celebrity=target.celebrity,
                                                 copied=target.copied,
                                                 now_ms=clock.now_ms(), reposts=reposts,
                                                 window=self._window(caller_id), max_following=self._max_following)
                break
            except FollowingLimit:
                raise Forbidden(f"you follow {self._max_following} accounts, the most one may; unfollow some "
                                "to follow others", code="following_limit") from None
            except UnknownUser:
                raise NotFound(f"no user @{handle}", code="user_not_found") from None
            except Blocked as exc:
                raise Forbidden(f"you block @{handle}; unblock them first" if exc.by_caller
                                else f"@{handle} blocks you", code="blocked") from None
            except FolloweeChanged:  # promoted or demoted since the profile was read (or cached)
                self._celebrities.drop(handle)
                fresh = self._users.get_consistent(target.user_id)
                if fresh is None:
                    raise NotFound(f"no user @{handle}", code="user_not_found") from None
                target = fresh
        else:
            raise Conflict(f"@{handle} is changing right now; try again", code="followee_changing")
        # The profile as this follow left it, without reading it again.
        return Relationship(replace(target, followers_count=target.followers_count + changed),
                            following=True, changed=changed, reposts=reposts)

    def unfollow(self, caller_id: int, handle: str) -> Relationship:
        target = self._target(caller_id, handle)
        with counted_action(self._actions_per_minute):
            changed = self._graph.unfollow(caller_id, target.user_id, now_ms=clock.now_ms(),
                                           window=self._window(caller_id), celebrity=target.celebrity)
        return Relationship(replace(target, followers_count=target.followers_count - changed),
                            following=False, changed=changed)

    # ------------------------------------------------------------------ blocks and mutes
    def block(self, caller_id: int, handle: str) -> Restriction:
        """Block (idempotent): hidden from the caller's home timeline from the moment this
        answers, follows removed both ways, no follow either way until unblocked. If this call
        fails after the block, its stream record removes the follows."""
        target = self._target(caller_id, handle, "block")
        with counted_action(self._actions_per_minute):
            changed = self._graph.block(caller_id, target.user_id, now_ms=clock.now_ms(),
                                        window=self._window(caller_id))
        self._graph.sever(caller_id, target.user_id, now_ms=clock.now_ms())
        return Restriction(self._users.get_consistent(target.user_id) or target, active=True, changed=changed)

    def unblock(self, caller_id: int, handle: str) -> Restriction:
        target = self._target(caller_id, handle, "block")
        with counted_action(self._actions_per_minute):
            changed = self._graph.unblock(caller_id, target.user_id, window=self._window(caller_id))
        return Restriction(target, active=False, changed=changed)

    def mute(self, caller_id: int, handle: str) -> Restriction:
        target = self._target(caller_id, handle, "mute")
        with counted_action(self._actions_per_minute):
            changed = self._graph.mute(caller_id, target.user_id, now_ms=clock.now_ms(),
                                       window=self._window(caller_id))
        return Restriction(target, active=True, changed=changed)

    def unmute(self, caller_id: int, handle: str) -> Restriction:
        target = self._target(caller_id, handle, "mute")
        with counted_action(self._actions_per_minute):
            changed = self._graph.unmute(caller_id, target.user_id, window=self._window(caller_id))
        return Restriction(target, active=False, changed=changed)

    def blocks(self, caller_id: int, limit: int, cursor: str | None) -> UserPage:
        return self._page(caller_id, caller_id, "blocks", self._graph.blocks_page, limit, cursor)

    def mutes(self, caller_id: int, limit: int, cursor: str | None) -> UserPage:
        return self._page(caller_id, caller_id, "mutes", self._graph.mutes_page, limit, cursor)

    # ------------------------------------------------------------------ lists
    def _page(self, caller_id: int, owner_id: int, kind: str, page: _Page, limit: int, cursor: str | None) -> UserPage:
        scope = f"{kind}:{owner_id}"
        after = self._cursors.decode(cursor, reader=caller_id, scope=scope) if cursor else None
        if after is not None and not isinstance(after, str):
            raise InvalidInput("cursor is not valid for this request; start again without it",
                               code="invalid_cursor")
        ids, last = page(owner_id, limit, after)
        profiles = self._users.get_many(ids)
        return UserPage(
            users=[profiles[i] for i in ids if i in profiles],
            next_cursor=self._cursors.encode(reader=caller_id, scope=scope, position=last) if last else None,
        )

    def _list(self, caller_id: int, handle: str, kind: str, limit: int, cursor: str | None) -> UserPage:
        """An account's followers or following: 403 when a block stands between the caller
        and the account (timeline.service.visibility)."""
        owner = user_by_handle(self._users, handle)
        if owner.user_id != caller_id:
            Visibility.of_reader(self._graph, caller_id).require_account(owner)
        page: _Page
        if kind == "followers":  # an account that has been a celebrity may have followers in its shards
            page = partial(self._graph.followers_page, sharded=owner.celebrity or owner.celebrity_epoch > 0)
        else:
            page = self._graph.following_page
        return self._page(caller_id, owner.user_id, kind, page, limit, cursor)

    def relations(self, caller_id: int, user_ids: list[int]) -> dict[int, Relation]:
        """How the caller stands with each account (a profile's `viewer`): one read round trip."""
        return self._graph.relations(caller_id, user_ids)

    def followers(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> UserPage:
        return self._list(caller_id, handle, "followers", limit, cursor)

    def following(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> UserPage:
        return self._list(caller_id, handle, "following", limit, cursor)
