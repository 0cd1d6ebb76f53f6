"""Graph and account changes -> queued work (runs in fanout_dispatch, from the users and
graph tables' streams).

Nothing here is sent from the API: a follow, an unfollow, a celebrity flip or a returning
reader is a committed row first, and its stream record drives the work. If a send fails,
the record is retried, so no flip is ever separated from its bookkeeping.
"""

from __future__ import annotations

from timeline import clock
from timeline.records import User
from timeline.service import messages
from timeline.service.celebrity_copies import shard_groups
from timeline.settings import Settings
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import BLOCK, FOLLOWING, other_of
from timeline.store.users import Tallied, UserStore

# A follow of an account read as a celebrity does not check the flag in its transaction (the
# storm path, GraphStore.follow): the flag it went by is at most CELEBRITY_TARGET_TTL_S old
# when the follow starts (service/social.py), and the follow commits or fails within the API's
# 29 s (API Gateway's limit on a request). So a demotion walks its followers twice: at once,
# and again this long after, when every follow that read the flag before the flip is in, and
# the second walk finds each one that the first passed by.
DEMOTION_RECHECK_S = 60


class ChangePlanner:
    def __init__(self, settings: Settings, users: UserStore, queue: FanoutQueue):
        self._settings, self._users, self._queue = settings, users, queue

    def user_changed(self, old: User | None, new: User | None) -> int:
        """One users-stream record (profiles only). Returns how many messages were queued.

        The follower count in each record is the count as it stands (counters change inside
        the follow and unfollow transactions, or, for a celebrity's, in this stream's tally,
        and a user's records arrive in order), so the flag is flipped from the record, with a
        condition on the count as it stands: whatever the interleaving of follows, the last
        record leaves the flag agreeing with the count.
        The flip is a record of its own, whose arrival starts the walk over the followers. A
        demotion waits out DemotionCooldownMinutes after the promotion."""
        if new is None:
            return 0
        settings, now = self._settings, clock.now_ms()
        if not new.celebrity and new.followers_count >= settings.celebrity_threshold:
            self._users.promote(new.user_id, settings.celebrity_threshold, now)
        elif new.celebrity and new.followers_count < settings.demote_below:
            # Not within the cool-down after the promotion: a follow storm flips it at most once
            # per cool-down. Held back, the demotion happens at a later follower change.
            self._users.demote(new.user_id, settings.demote_below, now,
                               promoted_before=now - settings.demotion_cooldown_minutes * 60_000)
        batch: list[messages.FanoutMessage] = []
        if old is not None and new.celebrity_epoch != old.celebrity_epoch:
            batch.append(messages.CelebrityPage(account=new.user_id, epoch=new.celebrity_epoch, after=None))
            if not new.celebrity:
                self._queue.send([messages.CelebrityPage(account=new.user_id, epoch=new.celebrity_epoch, after=None)],
                                 delay_seconds=DEMOTION_RECHECK_S)
        if (settings.celebrity_copy_shards and new.celebrity and not new.copied
                and new.followers_count >= settings.copy_threshold):
            self._users.mark_copied(new.user_id, settings.copy_threshold)  # its own record builds the shards
        if old is not None and new.copied != old.copied:
            # The shards built (or emptied), and, when copied, the walk that marks its followers'
            # celebrity edges (a demotion's own walk removes them). A reader whose edge is marked
            # before the shards are built finds them empty and reads the index; one whose edge is
            # not marked yet reads the index: either way nothing is missing.
            batch += [messages.CelebrityCopies(account=new.user_id, first=first, last=last)
                      for first, last in shard_groups(settings.celebrity_copy_shards)]
            if new.copied and old.celebrity_epoch == new.celebrity_epoch:
                batch.append(messages.CelebrityPage(account=new.user_id, epoch=new.celebrity_epoch, after=None))
        if new.rebuilding is not None and new.rebuilding != (old.rebuilding if old else None):
            batch.append(messages.Rebuild(owner=new.user_id, started=new.rebuilding, after=None))
        elif old is not None and new.stamped_at != old.stamped_at and new.rebuilding is None:
            batch.append(messages.Rebuild(owner=new.user_id, started=None, after=None))
        self._queue.send(batch)
        return len(batch)

    def tally(self, account_id: int, changes: list[Tallied]) -> int:
        """Count an account's follows and unfollows made without its profile (a celebrity's;
        UserStore.tally). The count's own record then decides promotion and demotion, as any
        count change does."""
        return self._users.tally(account_id, changes, clock.now_ms())

    def edge_changed(self, owner_id: int, edge: str, *, created: bool) -> int:
        """One graph-stream record. A following edge created, changed (reposts on or off) or
        removed queues the owner's timeline sync with that account; a block created queues
        the removal of the follows both ways (the block's call did it already, unless it
        failed halfway). Activity stamps on follower edges change no relationship."""
        if edge.startswith(FOLLOWING):
            message: messages.FanoutMessage = messages.SyncFollow(owner=owner_id, account=other_of(edge))
        elif edge.startswith(BLOCK) and created:
            message = messages.Sever(blocker=owner_id, blocked=other_of(edge))
        else:
            return 0
        self._queue.send([message])
        return 1
