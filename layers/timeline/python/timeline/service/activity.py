"""Reader activity: who gets fan-out writes, and when a returning reader's timeline is rebuilt.

A home read records `last_seen_at` at most once a day. Fan-out must not read each
follower's profile, so what it needs lives on the follower edges it pages anyway: each
carries `seen_at`, the reader's activity stamp. Restamping every edge on every daily visit
would cost a write per followee per reader per day, so edges are restamped only when the
stamp is a quarter of InactiveDays old; fan-out skips an edge whose stamp is older than
InactiveDays.

So the stamp on the user (`stamped_at`, the value last written to the edges) tells a read
everything: younger than InactiveDays minus a margin, the edges are fresh and will be
restamped well before any of them counts as inactive; older, fan-out may have skipped the
reader, so the read answers `partial` and starts a rebuild. The margin covers the time the
restamp takes to land through the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from timeline.clock import DAY_MS
from timeline.records import User
from timeline.settings import Settings

SEEN_EVERY_MS = DAY_MS


@dataclass(frozen=True)
class ActivityRules:
    settings: Settings

    @property
    def _margin(self) -> int:
        return min(DAY_MS, self.settings.inactive_ms // 4)

    def edge_is_active(self, seen_at: int | None, now_ms: int) -> bool:
        """Fan-out writes to a follower whose edge was stamped within InactiveDays (an edge
        from before stamps existed counts as active)."""
        return seen_at is None or now_ms - seen_at <= self.settings.inactive_ms

    def needs_rebuild(self, user: User, now_ms: int) -> bool:
        return now_ms - user.activity_stamp > self.settings.inactive_ms - self._margin

    def restamp_due(self, user: User, now_ms: int) -> bool:
        return now_ms - user.activity_stamp > self.settings.inactive_ms // 4

    def seen_due(self, user: User, now_ms: int) -> bool:
        return user.last_seen_at is None or now_ms - user.last_seen_at >= SEEN_EVERY_MS
