"""Whether an error means DynamoDB is out of capacity (a hot partition, or a table over its
throughput) after the SDK's own retries: nothing is wrong with the request, and the caller
may answer 503 with Retry-After (a write) or leave a source out of a page (a read)."""

from __future__ import annotations

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException

from timeline.store.batching import UnprocessedItemsError

THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                       "ThrottlingError"})


def _codes(exc: BaseException) -> set[str | None]:
    if isinstance(exc, PynamoDBException):
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return {exc.cause_response_code} | {r.code for r in reasons if r}
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reasons = exc.response.get("CancellationReasons") or []
        return {error.get("Code")} | {r.get("Code") for r in reasons}
    return set()


def is_throttled(exc: BaseException) -> bool:
    """True for a throttling error, or one caused by one (pynamodb wraps botocore's)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, UnprocessedItemsError) or _codes(current) & THROTTLED:
            return True
        current, seen = current.__cause__ or current.__context__, seen + 1
    return False
