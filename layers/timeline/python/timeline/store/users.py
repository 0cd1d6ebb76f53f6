"""Profiles and handle claims in UsersTable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from timeline.records import IdLike, User
from timeline.store.tables import HandleClaimModel, UserModel, cancellation_codes
from timeline.store.transactions import Transaction


class HandleTaken(Exception):
    pass


def to_user(m: UserModel) -> User:
    return User(
        user_id=int(m.user_id), handle=m.handle, display_name=m.display_name,
        created_at=int(m.created_at), followers_count=int(m.followers_count or 0),
        following_count=int(m.following_count or 0), celebrity=bool(m.celebrity),
        celebrity_epoch=int(m.celebrity_epoch or 0), copied=bool(m.copied),
        last_seen_at=_int_or_none(m.last_seen_at), stamped_at=_int_or_none(m.stamped_at),
        rebuilding=_int_or_none(m.rebuilding),
    )


class Profile(NamedTuple):
    """A profile as stored, with its sign-up state: `pending_since` is the epoch ms of the
    sign-up that claimed the handle while the account has no login yet, else None."""
    user: User
    pending_since: int | None


def _int_or_none(value: IdLike | None) -> int | None:
    return int(value) if value is not None else None


def from_image(image: dict[str, Any]) -> User | None:
    """A User from a users-stream record's image (DynamoDB JSON); None for a handle claim."""
    if not image.get("pk", {}).get("S", "").startswith("USER#"):
        return None
    return to_user(UserModel.from_raw_data(image))


class Tallied(NamedTuple):
    """A follow (+1) or unfollow (-1) of an account, written without its profile (the storm
    path of a celebrity's follows), as the graph stream delivers it."""
    seq: int  # the stream record's sequence number
    delta: int
    partition: str = "o"  # the graph partition it was written in: "o" the account's own, "s<k>" its shard k


TALLY_ATTEMPTS = 3


class UserStore:
    def __init__(self, connection: Connection):
        self._connection = connection

    def create(self, user: User) -> None:
        """Claim the handle and write the profile, marked pending (no login yet: see
        `finish_sign_up`), in one transaction. HandleTaken if the handle is claimed by
        another account; a claim of this very account (the transaction committed, its answer
        was lost, and it was sent again where the emulator or a retry of ours bypassed the
        ClientRequestToken) is success, not a conflict with itself."""
        claim = HandleClaimModel(HandleClaimModel.key(user.handle), user_id=user.user_id)
        profile = UserModel(
            UserModel.key(user.user_id), user_id=user.user_id, handle=user.handle,
            display_name=user.display_name, created_at=user.created_at,
            followers_count=0, following_count=0, celebrity=False,
            last_seen_at=user.created_at, stamped_at=user.created_at, unfollowed_at=0,
            pending=user.created_at, tallied={},
        )
        try:
            with Transaction(connection=self._connection) as tx:
                tx.save(claim, condition=HandleClaimModel.pk.does_not_exist())
                tx.save(profile, condition=UserModel.pk.does_not_exist())
        except TransactWriteError as exc:
            reasons = cancellation_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                if self.id_for_handle(user.handle, consistent=True) == user.user_id:
                    return
                raise HandleTaken(user.handle) from exc
            raise

    def finish_sign_up(self, user_id: int) -> bool:
        """Clear the pending mark: the account has its login. Idempotent; False only if the
        profile is gone (its stale claim was released by another sign-up)."""
        try:
            UserModel(UserModel.key(user_id)).update(actions=[UserModel.pending.remove()],
                                                     condition=UserModel.pk.exists())
            return True
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def release(self, stale: Profile) -> bool:
        """Delete a pending profile and its handle claim, if both are still as read: the
        claim still this account's, the profile still pending since the same sign-up. False
        if either changed (another sign-up finished or released it first)."""
        user = stale.user
        try:
            with Transaction(connection=self._connection) as tx:
                tx.delete(HandleClaimModel(HandleClaimModel.key(user.handle)),
                          condition=HandleClaimModel.user_id == user.user_id)
                tx.delete(UserModel(UserModel.key(user.user_id)), condition=UserModel.pending == stale.pending_since)
            return True
        except TransactWriteError as exc:
            if "ConditionalCheckFailed" in cancellation_codes(exc):
                return False
            raise

    def delete(self, user: User) -> None:
        """Undo `create` (used when the identity provider refuses the sign-up, or fails)."""
        with Transaction(connection=self._connection) as tx:
            tx.delete(HandleClaimModel(HandleClaimModel.key(user.handle)),
                      condition=HandleClaimModel.user_id == user.user_id)
            tx.delete(UserModel(UserModel.key(user.user_id)))

    def get(self, user_id: int) -> User | None:
        try:
            return to_user(UserModel.get(UserModel.key(user_id)))
        except DoesNotExist:
            return None

    def id_for_handle(self, handle: str, *, consistent: bool = False) -> int | None:
        """The account that claimed the handle, pending or not."""
        try:
            return int(HandleClaimModel.get(HandleClaimModel.key(handle), consistent_read=consistent).user_id)
        except DoesNotExist:
            return None

    def get_by_handle(self, handle: str) -> User | None:
        """The account with this handle; None for a pending one too: it has no login, nobody
        can act as it, so nobody finds it (profile, follow, user timeline)."""
        found = self.profile_by_handle(handle)
        return found.user if found is not None and found.pending_since is None else None

    def profile(self, user_id: int, *, consistent: bool = False) -> Profile | None:
        try:
            m = UserModel.get(UserModel.key(user_id), consistent_read=consistent)
        except DoesNotExist:
            return None
        return Profile(to_user(m), _int_or_none(m.pending))

    def profile_by_handle(self, handle: str, *, consistent: bool = False) -> Profile | None:
        """The profile that claimed the handle, pending or not."""
        user_id = self.id_for_handle(handle, consistent=consistent)
        return None if user_id is None else self.profile(user_id, consistent=consistent)

    def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        keys = {UserModel.key(i) for i in user_ids}
        if not keys:
            return {}
        return {int(m.user_id): to_user(m) for m in UserModel.batch_get(keys)}

    def last_unfollowed(self, user_ids: Iterable[int]) -> dict[int, int]:
        """When each account was last unfollowed by anyone (epoch ms; 0: never), read
        consistently in one BatchGetItem per hundred. An account that is gone, or whose
        profile is older than the record, is left out: unknown."""
        keys = [UserModel.key(u) for u in dict.fromkeys(user_ids)]
        if not keys:
            return {}
        return {int(p.user_id): int(p.unfollowed_at)
                for p in UserModel.batch_get(keys, consistent_read=True, attributes_to_get=["user_id", "unfollowed_at"])
                if p.unfollowed_at is not None}

    def get_consistent(self, user_id: int) -> User | None:
        try:
            return to_user(UserModel.get(UserModel.key(user_id), consistent_read=True))
        except DoesNotExist:
            return None

    def _update(self, user_id: int, actions: list[Action], condition: Condition) -> bool:
        """A conditional update; False when the condition did not hold."""
        try:
            UserModel(UserModel.key(user_id)).update(actions=actions, condition=UserModel.pk.exists() & condition)
            return True
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise

    def celebrity_flags(self, user_ids: Iterable[int]) -> dict[int, bool]:
        """Each account's celebrity flag, read consistently from its profile (absent: no such
        account): the flag every follow's transaction checks, and so what decides whether an
        account's posts are written into timelines or merged at read. One BatchGetItem per
        hundred accounts."""
        keys = [UserModel.key(u) for u in dict.fromkeys(user_ids)]
        if not keys:
            return {}
        return {int(p.user_id): bool(p.celebrity)
                for p in UserModel.batch_get(keys, consistent_read=True, attributes_to_get=["user_id", "celebrity"])}

    def promote(self, user_id: int, threshold: int, now_ms: int) -> bool:
        """Set the celebrity flag if the follower count, as it stands, reaches the threshold.
        True only for the update that flipped it."""
        return self._update(
            user_id, [UserModel.celebrity.set(True), UserModel.celebrity_epoch.add(1),
                      UserModel.celebrity_flipped_at.set(now_ms)],
            (UserModel.celebrity != True) & (UserModel.followers_count >= threshold))

    def demote(self, user_id: int, below: int, now_ms: int, promoted_before: int | None = None) -> bool:
        """Clear the celebrity flag if the follower count, as it stands, is below `below` and,
        with `promoted_before`, the account was promoted (flipped) before then."""
        condition = (UserModel.celebrity == True) & (UserModel.followers_count < below)
        if promoted_before is not None:
            condition = condition & (UserModel.celebrity_flipped_at.does_not_exist()
                                     | (UserModel.celebrity_flipped_at < promoted_before))
        return self._update(
            user_id, [UserModel.celebrity.set(False), UserModel.celebrity_epoch.add(1),
                      UserModel.celebrity_flipped_at.set(now_ms), UserModel.copied.remove()], condition)

    def mark_copied(self, user_id: int, threshold: int) -> bool:
        """Mark a celebrity with at least `threshold` followers, as the count stands, as copied
        (its record queues the build of its shards and the walk that marks its followers'
        celebrity edges). True only for the update that marked it."""
        return self._update(user_id, [UserModel.copied.set(True)],
                            (UserModel.celebrity == True) & (UserModel.followers_count >= threshold)
                            & (UserModel.copied.does_not_exist() | (UserModel.copied == False)))

    def copied_flags(self, user_ids: Iterable[int]) -> dict[int, bool]:
        """Each account's copied mark, read consistently (absent: no such account)."""
        keys = [UserModel.key(u) for u in dict.fromkeys(user_ids)]
        if not keys:
            return {}
        return {int(p.user_id): bool(p.copied)
                for p in UserModel.batch_get(keys, consistent_read=True, attributes_to_get=["user_id", "copied"])}

    def tally(self, user_id: int, changes: Sequence[Tallied], now_ms: int) -> int:
        """Count follows and unfollows made without the profile into its followers_count,
        each exactly once, however often the stream delivers it. Each graph partition the
        changes live in (the account's shards, store/graph.py storm_partition) delivers its
        records from one stream shard lineage, in order, each record's number greater than the
        last; the profile keeps, per partition, the number of the last change counted
        (`tallied`), and an update counts only later changes, conditional on the marks it
        read: a batch delivered again, whole or in part, counts nothing twice. An unfollow
        among them stamps `unfollowed_at` with now (later than any of them, so fan-out never
        skips a tombstone it should read). One UpdateItem per batch of changes. Returns how
        many were counted (0 if the profile is gone)."""
        by_partition: dict[str, list[Tallied]] = {}
        for c in sorted(changes):
            by_partition.setdefault(c.partition, []).append(c)
        marks: dict[str, int] | None = None  # as read; None: not read, guess each is before its changes
        for _ in range(TALLY_ATTEMPTS):
            todo = {p: [c for c in cs if marks is None or c.seq > marks.get(p, 0)] for p, cs in by_partition.items()}
            todo = {p: cs for p, cs in todo.items() if cs}
            if not todo:
                return 0
            counted = [c for cs in todo.values() for c in cs]
            actions: list[Action] = [UserModel.followers_count.add(sum(c.delta for c in counted))]
            condition = UserModel.tallied.exists()
            for partition, cs in todo.items():
                mark = UserModel.tallied[partition]
                actions.append(mark.set(cs[-1].seq))
                if marks is None:
                    condition = condition & (mark.does_not_exist() | (mark < cs[0].seq))
                elif partition in marks:
                    condition = condition & (mark == marks[partition])
                else:
                    condition = condition & mark.does_not_exist()
            if any(c.delta < 0 for c in counted):
                actions.append(UserModel.unfollowed_at.set(now_ms))
            if self._update(user_id, actions, condition):
                return len(counted)
            try:
                profile = UserModel.get(UserModel.key(user_id), consistent_read=True, attributes_to_get=["tallied"])
            except DoesNotExist:
                return 0
            if profile.tallied is None:  # a profile from before the marks (seeded): give it them
                self._update(user_id, [UserModel.tallied.set(UserModel.tallied | {})], UserModel.pk.exists())
                marks = {}
            else:
                tallied = profile.tallied.as_dict()  # type: ignore[no-untyped-call]  # pynamodb: untyped
                marks = {k: int(v) for k, v in tallied.items()}
        raise RuntimeError(f"the follower tally of {user_id} changed under it {TALLY_ATTEMPTS} times")

    def touch(self, user: User, now_ms: int, *, restamp: bool, rebuild: bool) -> bool:
        """Record a home read: `last_seen_at`, and when asked a new activity stamp (the stream
        turns it into restamped follower edges) and a rebuild. Conditional on the record the
        reader read, so concurrent reads write it once."""
        actions: list[Action] = [UserModel.last_seen_at.set(now_ms)]
        if restamp or rebuild:
            actions.append(UserModel.stamped_at.set(now_ms))
        if rebuild:
            actions.append(UserModel.rebuilding.set(now_ms))
        seen = (UserModel.last_seen_at == user.last_seen_at) if user.last_seen_at is not None \
            else UserModel.last_seen_at.does_not_exist()
        stamped = (UserModel.stamped_at == user.stamped_at) if user.stamped_at is not None \
            else UserModel.stamped_at.does_not_exist()
        return self._update(user.user_id, actions, seen & stamped)

    def finish_rebuild(self, user_id: int, started: int) -> bool:
        return self._update(user_id, [UserModel.rebuilding.remove()], UserModel.rebuilding == started)
