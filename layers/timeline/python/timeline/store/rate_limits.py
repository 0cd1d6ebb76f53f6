"""Fixed-window rate limits in RateLimitsTable: one counter item per (action, who, minute).

A hit is one conditional UpdateItem (ADD hits 1 while hits < limit), or one more item in a
transaction the action writes anyway (a post), so a refused action is never counted and a
counted one always happened. A fixed window admits up to twice the limit across a window
boundary; a sliding window would cost a read per action, and the limit is a guard against
abuse, not a quota. Items expire (TTL) a window after their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from timeline import clock
from timeline.store.tables import RateLimitModel

WINDOW_S = 60


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
    def now(cls, what: str, who: str, limit: int) -> Window:
        now_s = clock.now_s()
        number = now_s // WINDOW_S
        return cls(f"{what}#{who}#{number}", limit, WINDOW_S - now_s % WINDOW_S, (number + 2) * WINDOW_S)

    def _update(self) -> tuple[list, object]:
        actions = [RateLimitModel.hits.add(1), RateLimitModel.expires_at.set(self.expires_at)]
        return actions, RateLimitModel.hits.does_not_exist() | (RateLimitModel.hits < self.limit)

    def hit(self) -> None:
        """Count one action, or Limited if the window is full."""
        actions, condition = self._update()
        try:
            RateLimitModel(self.key).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Limited(self.retry_after) from exc
            raise

    def hit_within(self, tx: TransactWrite) -> None:
        """Count the action in the transaction that performs it (its cancellation reason,
        ConditionalCheckFailed on this item, means the window is full)."""
        actions, condition = self._update()
        tx.update(RateLimitModel(self.key), actions=actions, condition=condition)
