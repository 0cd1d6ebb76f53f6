"""Fixed-window rate limits in RateLimitsTable: one counter item per (action, who, window),
and the back-off of repeated failures (`Backoff`).

A hit is one conditional UpdateItem (ADD hits 1 while hits < limit), or one more item in a
transaction the action writes anyway (a post), so a refused action is never counted and a
counted one always happened. A fixed window admits up to twice the limit across a window
boundary; a sliding window would cost a read per action, and the limit is a guard against
abuse, not a quota. Windows last a minute unless said (sign-ups per address: an hour); items
expire (TTL) a window after their own.

A window found full stays full until it ends (its hits only grow), so each container
remembers it (`_FullWindows`) and refuses the window's later hits without a request: a flood
from one address costs its window item one write per container per window, not one per
attempt (a refused conditional update still costs a write unit; docs/hot-keys.md).
"""

from __future__ import annotations

import ipaddress
import math
import threading
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from timeline import clock
from timeline.store.tables import RateLimitModel

WINDOW_S = 60
HOUR_S = 3600
REMEMBERED_WINDOWS = 10_000  # full windows a container remembers (forgotten all at once past it)


class _FullWindows:
    """Window keys known full in this container, until their window ends (epoch seconds)."""

    def __init__(self) -> None:
        self._until: dict[str, int] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Seconds until the window ends, if it is known full; else None."""
        until = self._until.get(key)
        now = clock.now_s()
        return until - now if until is not None and until > now else None

    def remember(self, key: str, retry_after: int) -> None:
        with self._lock:
            if len(self._until) >= REMEMBERED_WINDOWS:
                self._until.clear()
            self._until[key] = clock.now_s() + retry_after


_full = _FullWindows()


class Limited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Window:
    """The current window of one counter."""
    key: str
    limit: int
    retry_after: int  # seconds until the window ends
    expires_at: int

    @classmethod
    def now(cls, what: str, who: str, limit: int, window_s: int = WINDOW_S) -> Window:
        """`what` names the counter and its window length: one `what`, one `window_s`."""
        now_s = clock.now_s()
        number = now_s // window_s
        return cls(f"{what}#{who}#{number}", limit, window_s - now_s % window_s, (number + 2) * window_s)

    def _update(self) -> tuple[list[Action], Condition]:
        actions: list[Action] = [RateLimitModel.hits.add(1), RateLimitModel.expires_at.set(self.expires_at)]
        return actions, RateLimitModel.hits.does_not_exist() | (RateLimitModel.hits < self.limit)

    def hit(self) -> None:
        """Count one action, or Limited if the window is full (known full in this container:
        no request at all)."""
        known = _full.retry_after(self.key)
        if known is not None:
            raise Limited(known)
        actions, condition = self._update()
        try:
            RateLimitModel(self.key).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                _full.remember(self.key, self.retry_after)
                raise Limited(self.retry_after) from exc
            raise

    def hit_within(self, tx: TransactWrite) -> None:
        """Count the action in the transaction that performs it (its cancellation reason,
        ConditionalCheckFailed on this item, means the window is full)."""
        actions, condition = self._update()
        tx.update(RateLimitModel(self.key), actions=actions, condition=condition)


def client_key(address: str | None) -> str:
    """Who a client address counts as: an IPv4 address itself, an IPv6 address its /64 (one
    subscriber holds a whole /64, and picks any address in it); anything else ("", or no
    address at all: not through API Gateway) one shared "unknown"."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Backoff:
    """Consecutive failures of one kind for one key (sign-ins for a handle from an address),
    and the wait they impose: the first FREE_FAILURES cost nothing, then each further one
    doubles the wait before the next attempt (BASE_S, 2 BASE_S, 4 BASE_S ... at most CAP_S).
    The client is told the wait (Retry-After); the function never sleeps.

    One item, pk = "<what>#<who>": `hits` the failures, `expires_at` the end of the wait plus
    MEMORY_S (the table's TTL; so the end of the wait is expires_at - MEMORY_S). Failures are
    forgotten MEMORY_S after the last wait ends, or at once by a success. TTL deletes late, so
    an item past its expires_at reads as none. A read, and a write only for a failure (or the
    first success after failures); concurrent failures may count once between them, which the
    fixed windows in front (attempts per handle and address) keep to a few."""

    key: str
    failures: int
    blocked_until: int  # epoch seconds; the attempt waits while now < blocked_until

    FREE_FAILURES = 5
    BASE_S = 1
    CAP_S = 900  # 15 minutes, as Cognito's own lockout at its longest
    MEMORY_S = 3600

    @classmethod
    def read(cls, what: str, who: str) -> Backoff:
        key = f"{what}#{who}"
        try:
            item = RateLimitModel.get(key, consistent_read=True)
        except DoesNotExist:
            return cls(key, 0, 0)
        if int(item.expires_at) <= clock.now_s():
            return cls(key, 0, 0)  # forgotten; the TTL has not deleted it yet
        return cls(key, int(item.hits or 0), int(item.expires_at) - cls.MEMORY_S)

    @classmethod
    def wait_after(cls, failures: int) -> int:
        """Seconds the next attempt waits after this many consecutive failures."""
        if failures < cls.FREE_FAILURES:
            return 0
        wait: int = cls.BASE_S * 2 ** min(failures - cls.FREE_FAILURES, 30)
        return min(wait, cls.CAP_S)

    def retry_after(self) -> int:
        """Seconds until the next attempt may be made (0: now)."""
        return max(0, math.ceil((self.blocked_until * 1000 - clock.now_ms()) / 1000))

    def failed(self) -> None:
        """Count one more failure, and start the wait it earns."""
        failures = self.failures + 1
        wait = self.wait_after(failures)
        # A wait rounded up to a whole second: never shorter than said
        blocked_until = math.ceil((clock.now_ms() + wait * 1000) / 1000) if wait else clock.now_s()
        count = RateLimitModel.hits.add(1) if self.failures else RateLimitModel.hits.set(1)
        RateLimitModel(self.key).update(actions=[count, RateLimitModel.expires_at.set(blocked_until + self.MEMORY_S)])

    def succeeded(self) -> None:
        """Forget the failures (a write only if there were any)."""
        if self.failures:
            RateLimitModel(self.key).update(actions=[RateLimitModel.hits.set(0),
                                                     RateLimitModel.expires_at.set(clock.now_s())])
