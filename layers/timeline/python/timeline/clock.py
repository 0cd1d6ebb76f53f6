"""Wall-clock time for the rules that count days (reader activity, entry and tombstone
expiry). One place, so tests move time forward instead of sleeping.

Post ids and their timestamps keep their own clock (timeline.ids): ordering by id must stay
ordering by real time.
"""

from __future__ import annotations

import time

DAY_MS = 86_400_000

_offset_ms = 0


def now_ms() -> int:
    return int(time.time() * 1000) + _offset_ms


def now_s() -> int:
    return now_ms() // 1000


def advance(*, days: float = 0, ms: int = 0) -> None:
    """Move this process's clock forward (tests only: Lambda's clock is the real one)."""
    global _offset_ms
    _offset_ms += int(days * DAY_MS) + ms


def reset() -> None:
    global _offset_ms
    _offset_ms = 0
