"""Following and unfollowing, and the lists of followers and followees."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from timeline.cursors import CursorCodec
from timeline.errors import InvalidInput, NotFound
from timeline.records import User
from timeline.service import messages
from timeline.service.accounts import user_by_handle
from timeline.settings import Settings
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import GraphStore, UnknownUser
from timeline.store.users import UserStore


@dataclass(frozen=True)
class Relationship:
    user: User
    following: bool
    changed: bool


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None


class Social:
    def __init__(self, settings: Settings, users: UserStore, graph: GraphStore, queue: FanoutQueue,
                 cursors: CursorCodec):
        self._settings, self._users, self._graph, self._queue, self._cursors = settings, users, graph, queue, cursors

    def _target(self, caller_id: int, handle: str) -> User:
        target = user_by_handle(self._users, handle)
        if target.user_id == caller_id:
            raise InvalidInput("you cannot follow or unfollow yourself", code="self_follow")
        return target

    def follow(self, caller_id: int, handle: str) -> Relationship:
        target = self._target(caller_id, handle)
        try:
            changed = self._graph.follow(caller_id, target.user_id, celebrity=target.celebrity,
                                         now_ms=int(time.time() * 1000))
        except UnknownUser:
            raise NotFound(f"no user @{handle}", code="user_not_found") from None
        followers = target.followers_count + changed
        celebrity = target.celebrity
        if changed and not celebrity and followers >= self._settings.celebrity_threshold:
            celebrity = self._promote(target.user_id)
        # The profile as this follow left it, without reading it again.
        return Relationship(replace(target, followers_count=followers, celebrity=celebrity),
                            following=True, changed=changed)

    def _promote(self, user_id: int) -> bool:
        """The account just reached the threshold: from now on its posts are merged at read
        time, so every follower needs a celebrity edge. The flag flips first (new posts stop
        fanning out); the edges are written in follower pages by the fan-out worker. Posts
        in between are merged as soon as each follower's edge lands: none is lost."""
        if self._users.mark_celebrity(user_id):
            self._queue.send([messages.celebrity_edges(user_id, after=None)])
        return True  # flipped now, or by a concurrent follow a moment ago

    def unfollow(self, caller_id: int, handle: str) -> Relationship:
        target = self._target(caller_id, handle)
        changed = self._graph.unfollow(caller_id, target.user_id)
        return Relationship(replace(target, followers_count=target.followers_count - changed),
                            following=False, changed=changed)

    def _list(self, caller_id: int, handle: str, kind: str, limit: int, cursor: str | None) -> UserPage:
        owner = user_by_handle(self._users, handle)
        scope = f"{kind}:{owner.user_id}"
        after = self._cursors.decode(cursor, reader=caller_id, scope=scope) if cursor else None
        page = self._graph.followers_page if kind == "followers" else self._graph.following_page
        ids, last = page(owner.user_id, limit, after)
        profiles = self._users.get_many(ids)
        return UserPage(
            users=[profiles[i] for i in ids if i in profiles],
            next_cursor=self._cursors.encode(reader=caller_id, scope=scope, position=last) if last else None,
        )

    def followers(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> UserPage:
        return self._list(caller_id, handle, "followers", limit, cursor)

    def following(self, caller_id: int, handle: str, limit: int, cursor: str | None) -> UserPage:
        return self._list(caller_id, handle, "following", limit, cursor)
