"""Fan-out on write: planning (stream record -> follower chunks on the queue) and
applying (one queue message -> timeline entries).

Every step is idempotent, so stream retries and queue redeliveries are harmless: entries
are keyed puts and deletes, celebrity edges are keyed puts, and re-planning a post only
re-sends the same chunks.
"""

from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from timeline.records import Tweet
from timeline.service import messages
from timeline.settings import Settings
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import GraphStore
from timeline.store.timelines import TimelineStore


_trim_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trim")


class FanoutPlanner:
    """Runs in fanout_dispatch, once per tweets-stream record."""

    def __init__(self, settings: Settings, graph: GraphStore, queue: FanoutQueue):
        self._settings, self._graph, self._queue = settings, graph, queue

    def _owner_chunks(self, tweet: Tweet):
        """Pages of followers, one message each. The author's own home timeline shows their posts
        too: the author rides in the first message, whose page is one follower shorter, so every
        message but the last holds exactly `fanout_chunk_size` owners and fills whole 25-item
        BatchWriteItems (a 201-owner message would need a ninth batch for one entry)."""
        size = self._settings.fanout_chunk_size
        chunk, after = [tweet.author_id], None
        if size > 1:
            followers, after = self._graph.followers_page(tweet.author_id, size - 1)
            chunk += followers
        yield chunk
        while size == 1 or after is not None:
            followers, after = self._graph.followers_page(tweet.author_id, size, after)
            if followers:
                yield followers
            if after is None:
                return

    def _send_per_chunk(self, tweet: Tweet, message) -> int:
        if not tweet.fanout:  # a celebrity's post: readers merge it, no timeline holds it
            return 0
        batch = [message(chunk) for chunk in self._owner_chunks(tweet)]
        self._queue.send(batch)
        return len(batch)

    def posted(self, tweet: Tweet) -> int:
        """Queue the follower chunks of a new post; returns how many messages were sent."""
        return self._send_per_chunk(tweet, lambda owners: messages.add(tweet.tweet_id, tweet.author_id, owners))

    def deleted(self, tweet: Tweet) -> int:
        """Queue removal from every timeline the post was fanned out to. Reads already hide a
        deleted post (hydration finds nothing); this reclaims the entries."""
        return self._send_per_chunk(tweet, lambda owners: messages.remove(tweet.tweet_id, owners))


class FanoutApplier:
    """Runs in fanout_worker, once per queue message."""

    CELEBRITY_EDGE_PAGE = 500

    def __init__(self, settings: Settings, timelines: TimelineStore, graph: GraphStore, queue: FanoutQueue):
        self._settings, self._timelines, self._graph, self._queue = settings, timelines, graph, queue
        # Trimming reads the whole timeline, so check only about one write in `interval` per
        # owner: timelines stay within TimelineMax plus a bounded slack, at a fraction of the cost.
        self.trim_interval = max(1, settings.timeline_max // 8)

    def apply(self, message: dict) -> None:
        op = message.get("op")
        if op == messages.ADD:
            self._add(int(message["tweet_id"]), int(message["author_id"]), [int(o) for o in message["owners"]])
        elif op == messages.REMOVE:
            self._timelines.remove([int(o) for o in message["owners"]], int(message["tweet_id"]))
        elif op == messages.CELEBRITY_EDGES:
            self._celebrity_edges(int(message["celebrity_id"]), message.get("after"))
        else:
            raise ValueError(f"unknown fan-out message op {op!r}")

    def should_trim(self, owner_id: int, tweet_id: int) -> bool:
        return zlib.crc32(f"{owner_id}:{tweet_id}".encode()) % self.trim_interval == 0

    def _add(self, tweet_id: int, author_id: int, owners: list[int]) -> None:
        expires_at = int(time.time()) + self._settings.timeline_ttl_seconds
        self._timelines.add(owners, tweet_id, author_id, expires_at)
        due = [owner for owner in owners if self.should_trim(owner, tweet_id)]
        # Independent timelines: trim them side by side rather than one round trip after another.
        list(_trim_pool.map(lambda owner: self._timelines.trim(owner, self._settings.timeline_max), due))

    def _celebrity_edges(self, celebrity_id: int, after: str | None) -> None:
        """One page of a promotion: celebrity edges for a page of followers, then the next
        page as a new message, so no single message does unbounded work."""
        follower_ids, next_after = self._graph.followers_page(celebrity_id, self.CELEBRITY_EDGE_PAGE, after)
        if after is None:
            follower_ids.append(celebrity_id)  # their own posts are merged into their own home too
        if follower_ids:
            self._graph.add_celebrity_edges(celebrity_id, follower_ids, int(time.time() * 1000))
        if next_after:
            self._queue.send([messages.celebrity_edges(celebrity_id, after=next_after)])
