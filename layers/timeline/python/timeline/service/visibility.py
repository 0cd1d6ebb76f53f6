"""Who may see what: the one rule every read path goes through (DESIGN.md §7).

A block separates two accounts both ways and everywhere: neither reads the other's user
timeline, lists or posts by id (403), and neither sees the other's posts anywhere else, not
through a third party's repost, a third party's user timeline, nor their own earlier repost.
A mute is the muter's choice of what to read about: it hides the account only where the
service chooses what to show (the home timeline, replies, search), never where the muter
asked for the account by name.

| surface     | a block, either way                         | a mute             |
|-------------|---------------------------------------------|--------------------|
| FEED        | by, reposted by, or answering: hidden       | the same           |
| PROFILE     | the account: 403; posts by or reposted by   | shown              |
|             | it, in anyone's timeline: hidden            |                    |

FEED is the home timeline (and later replies of a post, search); PROFILE is a user
timeline, a post by id, a user's lists. A reader is never hidden from themself.

Every read builds a `Visibility` for its reader (one consistent Query of the reader's own
graph partition: the block mirrors live there too) and asks it about each entry before
hydrating and each post after; `Reader._paginate` takes one and has no default, so a new
read path cannot forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from timeline.errors import Forbidden
from timeline.records import Entry, Tweet, User
from timeline.store.graph import GraphStore, Restrictions


class Surface(Enum):
    FEED = "feed"  # what the service chose to show: home timeline, replies, search
    PROFILE = "profile"  # what the reader asked for by name: a user timeline, a post by id


@dataclass(frozen=True)
class Visibility:
    reader_id: int
    restrictions: Restrictions

    @classmethod
    def of_reader(cls, graph: GraphStore, reader_id: int) -> Visibility:
        """The rule for a reader who needs only the blocks (every surface but the home
        timeline, whose one Query of the reader's partition brings the mutes along)."""
        return cls(reader_id, graph.blocks_around(reader_id))

    @property
    def blocked(self) -> frozenset[int]:
        """Accounts a block stands between the reader and (either way)."""
        r = self.restrictions
        return (r.blocking | r.blocked_by) - {self.reader_id}

    def hidden(self, surface: Surface) -> frozenset[int]:
        """Accounts whose posts, and reposts of whose posts, do not show on this surface."""
        if surface is Surface.FEED:
            return self.blocked | (self.restrictions.muted - {self.reader_id})
        return self.blocked

    def entry_shows(self, e: Entry, surface: Surface) -> bool:
        """From the entry alone (before any post is read): not by, nor reposted by, a hidden
        account; on a feed, not answering one either."""
        hidden = self.hidden(surface)
        if e.author_id in hidden or e.via_id in hidden:
            return False
        return not (surface is Surface.FEED and e.reply_to_author_id in hidden)

    def post_shows(self, tweet: Tweet, repost: Tweet | None, surface: Surface) -> bool:
        """After the post is read: what its entry could not say (a repost's entry does not
        carry whom the reposted reply answers)."""
        hidden = self.hidden(surface)
        if tweet.author_id in hidden or (repost is not None and repost.author_id in hidden):
            return False
        return not (surface is Surface.FEED and tweet.reply_to_author_id in hidden)

    def require_account(self, account: User) -> None:
        """403 unless the reader may read this account's timeline, lists and posts by id."""
        if account.user_id == self.reader_id:
            return
        if account.user_id in self.restrictions.blocked_by:
            raise Forbidden(f"@{account.handle} blocks you", code="blocked")
        if account.user_id in self.restrictions.blocking:
            raise Forbidden(f"you block @{account.handle}; unblock them to see their posts", code="blocked")

    def require_post(self, tweet: Tweet, repost: Tweet | None) -> None:
        """403 unless the reader may read this post by id (the post shown, and the repost
        that shares it, if the id was a repost's)."""
        for author_id in (tweet.author_id, *((repost.author_id,) if repost is not None else ())):
            if author_id == self.reader_id:
                continue
            if author_id in self.restrictions.blocked_by:
                raise Forbidden("the author of this post blocks you", code="blocked")
            if author_id in self.restrictions.blocking:
                raise Forbidden("you block the author of this post; unblock them to see it", code="blocked")
