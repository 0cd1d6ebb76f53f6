"""64-bit, time-ordered ids (Snowflake layout), so ordering by id is ordering by time.

    | 41 bits: ms since EPOCH | 10 bits: generator | 12 bits: sequence |

Lambda has no stable machine number, so each execution environment picks a random
generator id at cold start. Two environments that drew the same number and mint in the
same millisecond could collide; writers use conditional puts and retry with a new id.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
GENERATOR_BITS = 10
SEQUENCE_BITS = 12
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    def __init__(self, generator_id: int | None = None, clock: Callable[[], float] = time.time):
        self.generator_id = secrets.randbelow(1 << GENERATOR_BITS) if generator_id is None else generator_id
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000) - EPOCH_MS

    def next_id(self) -> int:
        with self._lock:
            now = self._now_ms()
            if now < self._last_ms:  # clock stepped back: keep monotonic, never reuse
                now = self._last_ms
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # 4096 ids this millisecond: wait for the next one
                    while now <= self._last_ms:
                        now = max(self._now_ms(), self._last_ms)
                        if now <= self._last_ms:
                            time.sleep(0.0001)
            else:
                self._sequence = 0
            self._last_ms = now
            return (now << (GENERATOR_BITS + SEQUENCE_BITS)) | (self.generator_id << SEQUENCE_BITS) | self._sequence


def timestamp_ms(snowflake: int) -> int:
    """The wall-clock millisecond an id was minted at."""
    return (snowflake >> (GENERATOR_BITS + SEQUENCE_BITS)) + EPOCH_MS


_default = IdGenerator()


def new_id() -> int:
    return _default.next_id()
