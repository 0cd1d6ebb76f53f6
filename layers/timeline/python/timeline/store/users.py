"""Profiles and handle claims in UsersTable."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from timeline.records import User
from timeline.store.tables import HandleClaimModel, UserModel, cancellation_codes


class HandleTaken(Exception):
    pass


def to_user(m: UserModel) -> User:
    return User(
        user_id=int(m.user_id), handle=m.handle, display_name=m.display_name,
        created_at=int(m.created_at), followers_count=int(m.followers_count or 0),
        following_count=int(m.following_count or 0), celebrity=bool(m.celebrity),
        last_seen_at=int(m.last_seen_at) if m.last_seen_at is not None else None,
    )


class UserStore:
    def __init__(self, connection: Connection):
        self._connection = connection

    def create(self, user: User) -> None:
        """Claim the handle and write the profile in one transaction."""
        claim = HandleClaimModel(HandleClaimModel.key(user.handle), user_id=user.user_id)
        profile = UserModel(
            UserModel.key(user.user_id), user_id=user.user_id, handle=user.handle,
            display_name=user.display_name, created_at=user.created_at,
            followers_count=0, following_count=0, celebrity=False,
        )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(claim, condition=HandleClaimModel.pk.does_not_exist())
                tx.save(profile, condition=UserModel.pk.does_not_exist())
        except TransactWriteError as exc:
            reasons = cancellation_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise HandleTaken(user.handle) from exc
            raise

    def delete(self, user: User) -> None:
        """Undo `create` (used when the identity provider refuses the sign-up)."""
        with TransactWrite(connection=self._connection) as tx:
            tx.delete(HandleClaimModel(HandleClaimModel.key(user.handle)),
                      condition=HandleClaimModel.user_id == user.user_id)
            tx.delete(UserModel(UserModel.key(user.user_id)))

    def get(self, user_id: int) -> User | None:
        try:
            return to_user(UserModel.get(UserModel.key(user_id)))
        except DoesNotExist:
            return None

    def id_for_handle(self, handle: str) -> int | None:
        try:
            return int(HandleClaimModel.get(HandleClaimModel.key(handle)).user_id)
        except DoesNotExist:
            return None

    def get_by_handle(self, handle: str) -> User | None:
        user_id = self.id_for_handle(handle)
        return None if user_id is None else self.get(user_id)

    def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        keys = {UserModel.key(i) for i in user_ids}
        if not keys:
            return {}
        return {int(m.user_id): to_user(m) for m in UserModel.batch_get(keys)}

    def mark_celebrity(self, user_id: int) -> bool:
        """Set the celebrity flag; True only for the call that flipped it."""
        try:
            UserModel(UserModel.key(user_id)).update(
                actions=[UserModel.celebrity.set(True)],
                condition=UserModel.pk.exists() & (UserModel.celebrity != True),  # noqa: E712
            )
            return True
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
