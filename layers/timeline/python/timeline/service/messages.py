"""The fan-out queue's messages: one pydantic model per kind, joined in `FanoutMessage`.

This module alone says what a message holds and how it looks on the queue: the planners
construct these models, FanoutQueue.send writes each as `wire()` gives it, and fanout_worker
reads each record's body once with `parse` and dispatches on the model's class.

On the queue a message is a JSON object whose `op` names its kind; ids are decimal strings
there (`Id`) and ints here. A field that messages queued by an older version leave out stays
out when such a message is written again, so every shape ever queued still parses and reads
back the same (tests/unit/test_messages.py holds one of each).

Every message is safe to apply twice and in any order relative to the others: each one
checks the state it depends on (an edge, a flag, a post) when it is applied.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from timeline.records import Entry

Id = Annotated[int, PlainSerializer(str, return_type=str)]
"""A user, post or media id: an int, written to the queue as a decimal string."""


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object the queue carries: `op` first, then the fields in the order they
        are declared; a field left unset (an older message's missing one) is left out."""
        data = self.model_dump(mode="json")
        return {name: value for name, value in data.items() if name == "op" or name in self.model_fields_set}


class Add(_Message):
    """Write an entry (a post, or a repost) into a chunk of its followers' timelines.
    Messages queued before reposts name only the post and its author (`entry` fills in the
    rest), and before unfollow checks carry no `planned_at`."""
    op: Literal["add"] = "add"
    tweet_id: Id
    author_id: Id
    via_id: Id | None = None
    original_id: Id | None = None
    reply_to_id: Id | None = None
    reply_to_author_id: Id | None = None
    owners: list[Id]
    planned_at: int = 0  # epoch ms the chunk's follower page was read

    @classmethod
    def of(cls, e: Entry, owners: list[int], planned_at: int) -> Add:
        return cls(tweet_id=e.tweet_id, author_id=e.author_id, via_id=e.via_id, original_id=e.original_id,
                   reply_to_id=e.reply_to_id, reply_to_author_id=e.reply_to_author_id, owners=owners,
                   planned_at=planned_at)

    @cached_property
    def entry(self) -> Entry:
        return Entry.stored(self.tweet_id, self.author_id, self.via_id, self.original_id, self.reply_to_id,
                            self.reply_to_author_id)


class Remove(_Message):
    """Remove a deleted post's entry from a chunk of timelines."""
    op: Literal["remove"] = "remove"
    tweet_id: Id
    owners: list[Id]


class Trim(_Message):
    """Cut a timeline back to TimelineMax entries."""
    op: Literal["trim"] = "trim"
    owner: Id


class SyncFollow(_Message):
    """Make the owner's timeline match whether they follow the account now: backfill its
    recent posts, or remove what it brought."""
    op: Literal["sync_follow"] = "sync_follow"
    owner: Id
    account: Id


class CelebrityPage(_Message):
    """One page of the account's followers moved to the path its celebrity flag says, for
    the flip numbered `epoch` (`after`: the follower page's cursor, None for the first)."""
    op: Literal["celebrity_page"] = "celebrity_page"
    account: Id
    epoch: int
    after: str | None


class Rebuild(_Message):
    """One page of the reader's followees: stamp the reader active on their follower edges
    and, for the rebuild that started at `started` (None: a restamp only), backfill."""
    op: Literal["rebuild"] = "rebuild"
    owner: Id
    started: int | None
    after: str | None


class Sever(_Message):
    """Remove the follows both ways between two accounts, if the block still stands."""
    op: Literal["sever"] = "sever"
    blocker: Id
    blocked: Id


class DropReposts(_Message):
    """One page of a deleted post's reposts deleted (each row's REMOVE takes its entries back)."""
    op: Literal["drop_reposts"] = "drop_reposts"
    original: Id
    after: Id | None


class Copy(_Message):
    """Copy a celebrity's new post into the account's shards (service/celebrity_copies.py)."""
    op: Literal["copy"] = "copy"
    tweet_id: Id


class Uncopy(_Message):
    """Remove a deleted post's copies from its author's shards."""
    op: Literal["uncopy"] = "uncopy"
    tweet_id: Id
    author_id: Id


class CelebrityCopies(_Message):
    """Shards [first, last) of an account built (it is copied now) or emptied (it is not),
    whichever its profile says when this is applied."""
    op: Literal["celebrity_copies"] = "celebrity_copies"
    account: Id
    first: int
    last: int


class AttachMedia(_Message):
    """Keep a new post's media (its originals retagged as attached)."""
    op: Literal["attach_media"] = "attach_media"
    media: list[Id]


class DeleteMedia(_Message):
    """Delete a deleted post's media: objects and records."""
    op: Literal["delete_media"] = "delete_media"
    media: list[Id]


FanoutMessage = Annotated[
    Add | Remove | Trim | SyncFollow | CelebrityPage | Rebuild | Sever | DropReposts | Copy | Uncopy
    | CelebrityCopies | AttachMedia | DeleteMedia,
    Field(discriminator="op")]

_adapter: TypeAdapter[FanoutMessage] = TypeAdapter(FanoutMessage)


def parse(body: str | bytes) -> FanoutMessage:
    """A queue message's body as its model. Raises pydantic.ValidationError (a ValueError)
    for a body that is not JSON, names no known `op`, or lacks or mistypes a field."""
    return _adapter.validate_json(body)
