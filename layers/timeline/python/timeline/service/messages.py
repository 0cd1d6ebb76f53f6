"""The fan-out queue's message shapes: one place that writes and reads them.

Every message is safe to apply twice and in any order relative to the others: each one
checks the state it depends on (an edge, a flag, a post) when it is applied.
"""

from __future__ import annotations

from timeline.records import Entry

ADD, REMOVE, TRIM = "add", "remove", "trim"
SYNC_FOLLOW, CELEBRITY_PAGE, REBUILD = "sync_follow", "celebrity_page", "rebuild"
SEVER, DROP_REPOSTS = "sever", "drop_reposts"
ATTACH_MEDIA, DELETE_MEDIA = "attach_media", "delete_media"
COPY, UNCOPY, CELEBRITY_COPIES = "copy", "uncopy", "celebrity_copies"


def _opt(value) -> str | None:
    return str(value) if value is not None else None


def add(e: Entry, owners: list[int], planned_at: int) -> dict:
    """Write an entry (a post, or a repost) into a chunk of its followers' timelines
    (`planned_at`: epoch ms the follower page was read)."""
    return {"op": ADD, "tweet_id": str(e.tweet_id), "author_id": str(e.author_id), "via_id": str(e.via_id),
            "original_id": str(e.original_id), "reply_to_id": _opt(e.reply_to_id),
            "reply_to_author_id": _opt(e.reply_to_author_id),
            "owners": [str(o) for o in owners], "planned_at": planned_at}


def entry_of(message: dict) -> Entry:
    """The entry an `add` carries (messages queued before reposts name only the post)."""
    return Entry.stored(message["tweet_id"], message["author_id"], message.get("via_id"),
                        message.get("original_id"), message.get("reply_to_id"), message.get("reply_to_author_id"))


def remove(tweet_id: int, owners: list[int]) -> dict:
    return {"op": REMOVE, "tweet_id": str(tweet_id), "owners": [str(o) for o in owners]}


def trim(owner_id: int) -> dict:
    return {"op": TRIM, "owner": str(owner_id)}


def sync_follow(owner_id: int, account_id: int) -> dict:
    """Make the owner's timeline match whether they follow the account now: backfill its
    recent posts, or remove what it brought."""
    return {"op": SYNC_FOLLOW, "owner": str(owner_id), "account": str(account_id)}


def celebrity_page(account_id: int, epoch: int, after: str | None) -> dict:
    """One page of the account's followers moved to the path its celebrity flag says, for
    the flip numbered `epoch`."""
    return {"op": CELEBRITY_PAGE, "account": str(account_id), "epoch": epoch, "after": after}


def rebuild(owner_id: int, *, started: int | None, after: str | None) -> dict:
    """One page of the reader's followees: stamp the reader active on their follower edges
    and, for the rebuild that started at `started` (None: a restamp only), backfill."""
    return {"op": REBUILD, "owner": str(owner_id), "started": started, "after": after}


def sever(blocker_id: int, blocked_id: int) -> dict:
    """Remove the follows both ways between two accounts, if the block still stands."""
    return {"op": SEVER, "blocker": str(blocker_id), "blocked": str(blocked_id)}


def drop_reposts(original_id: int, after: int | None) -> dict:
    """One page of a deleted post's reposts deleted (each row's REMOVE takes its entries back)."""
    return {"op": DROP_REPOSTS, "original": str(original_id), "after": _opt(after)}


def copy(tweet_id: int) -> dict:
    """Copy a celebrity's new post into the account's shards (service/celebrity_copies.py)."""
    return {"op": COPY, "tweet_id": str(tweet_id)}


def uncopy(tweet_id: int, author_id: int) -> dict:
    """Remove a deleted post's copies from its author's shards."""
    return {"op": UNCOPY, "tweet_id": str(tweet_id), "author_id": str(author_id)}


def celebrity_copies(account_id: int, first: int, last: int) -> dict:
    """Shards [first, last) of an account built (it is copied now) or emptied (it is not),
    whichever its profile says when this is applied."""
    return {"op": CELEBRITY_COPIES, "account": str(account_id), "first": first, "last": last}


def attach_media(media_ids: list[int]) -> dict:
    """Keep a new post's media (its originals retagged as attached)."""
    return {"op": ATTACH_MEDIA, "media": [str(m) for m in media_ids]}


def delete_media(media_ids: list[int]) -> dict:
    """Delete a deleted post's media: objects and records."""
    return {"op": DELETE_MEDIA, "media": [str(m) for m in media_ids]}


def media_of(message: dict) -> list[int]:
    return [int(m) for m in message["media"]]
