"""Following and unfollowing, and the lists of followers and followees."""

from __future__ import annotations

from dataclasses import dataclass, replace

from timeline import clock
from timeline.cursors import CursorCodec
from timeline.errors import Conflict, InvalidInput, NotFound
from timeline.records import User
from timeline.service.accounts import user_by_handle
from timeline.store.graph import FolloweeChanged, GraphStore, UnknownUser
from timeline.store.users import UserStore


FOLLOW_ATTEMPTS = 3


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
    def __init__(self, users: UserStore, graph: GraphStore, cursors: CursorCodec):
        self._users, self._graph, self._cursors = users, graph, cursors

    def _target(self, caller_id: int, handle: str) -> User:
        target = user_by_handle(self._users, handle)
        if target.user_id == caller_id:
            raise InvalidInput("you cannot follow or unfollow yourself", code="self_follow")
        return target

    def follow(self, caller_id: int, handle: str) -> Relationship:
        """Follow (idempotent). The edge matches the followee's celebrity flag at commit (the
        transaction checks it); the timeline work follows from the edge's stream record."""
        target = self._target(caller_id, handle)
        for _ in range(FOLLOW_ATTEMPTS):
            try:
                changed = self._graph.follow(caller_id, target.user_id, celebrity=target.celebrity,
                                             now_ms=clock.now_ms())
                break
            except UnknownUser:
                raise NotFound(f"no user @{handle}", code="user_not_found") from None
            except FolloweeChanged:  # promoted or demoted since the profile was read
                target = self._users.get_consistent(target.user_id)
                if target is None:
                    raise NotFound(f"no user @{handle}", code="user_not_found") from None
        else:
            raise Conflict(f"@{handle} is changing right now; try again", code="followee_changing")
        # The profile as this follow left it, without reading it again.
        return Relationship(replace(target, followers_count=target.followers_count + changed),
                            following=True, changed=changed)

    def unfollow(self, caller_id: int, handle: str) -> Relationship:
        target = self._target(caller_id, handle)
        changed = self._graph.unfollow(caller_id, target.user_id, now_ms=clock.now_ms())
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
