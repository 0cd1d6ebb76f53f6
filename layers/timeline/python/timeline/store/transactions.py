"""DynamoDB transactions that ride out contention.

DynamoDB cancels a transaction that touches an item another transaction is writing at the
same moment (`TransactionConflict`), or that is throttled (`ThrottlingError`), with a 400 and
a reason per item. botocore does not retry those cancellations, and nothing about the
request was wrong, so `Transaction` commits again with exponential backoff and full jitter,
its conditions rechecked each time: two follows of the same account racing end with one
follow and one "already following", not a 500. Only when every try conflicts does it give
up: with `Contended` (409, "try again") when others' changes kept it out, or with
`Unavailable` (503, Retry-After) when the last try was throttled (a hot partition past its
limit: nothing the client did, and nothing it should change but wait). A failed condition is a
real answer and is never retried here: the caller reads the reasons as before.
"""

from __future__ import annotations

import random
import time
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from timeline.errors import Conflict, Unavailable
from timeline.store.tables import cancellation_codes

ATTEMPTS = 5
BACKOFF_BASE_S = 0.025  # sleeps drawn from [0, 25 ms], [0, 50 ms], ... [0, 200 ms]
THROTTLED = {"ThrottlingError", "ProvisionedThroughputExceeded"}
TRANSIENT = {"TransactionConflict", *THROTTLED}


class Contended(Conflict):
    status = 409
    code = "contention"


def transient(exc: TransactWriteError) -> bool:
    """Cancelled only because of other writers or throttling: no condition failed."""
    codes = {code for code in cancellation_codes(exc) if code not in (None, "None")}
    return bool(codes) and codes <= TRANSIENT


class Transaction(TransactWrite):
    """pynamodb's TransactWrite, whose commit is retried while it is cancelled for contention."""

    def _commit(self) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return super()._commit()
            except TransactWriteError as exc:
                if not transient(exc):
                    raise
                if attempt == ATTEMPTS - 1:
                    if set(cancellation_codes(exc)) & THROTTLED:
                        raise Unavailable("the service is busy; try again shortly", retry_after=1) from exc
                    raise Contended("too many concurrent changes to the same records; try again") from exc
                time.sleep(random.uniform(0, BACKOFF_BASE_S * 2 ** attempt))
        raise AssertionError("unreachable")
