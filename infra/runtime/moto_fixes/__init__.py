"""Fixes to the embedded moto, applied in the process that hosts it (the in-process mock or
ThreadedMotoServer), one module per moto service, each fix declared with its targets, its
kind and its reason:

- correctness: moto answers differently from AWS in a way that breaks the local runtime;
- feature: the emulator adds what AWS does and moto does not (per-partition throttling,
  injected faults, confirmation codes);
- speed: moto is right but too slow for the demo and the benchmark; each one is measured
  below, and one that saves less than 5% of both is dropped.

`apply()` refuses a moto other than TESTED_MOTO_VERSION (TIMELINE_MOTO_UNTESTED=1 tries it,
with a warning) and a fix whose target is missing, applies every fix once, and records them:
`python -m infra.runtime.moto_fixes` lists them with their kind and moto issue. `undo()` puts
moto back. A target changed by several fixes is wrapped once, its layers in the order ORDER
states (dynamodb.py says why that order).

Modules: dynamodb.py (tables, queries, transactions, responses), capacity.py (the bill),
partitions.py (per-partition limits and their meter), dynamodb_streams.py, sqs.py,
cognito.py, iam.py, server.py (moto's server and dispatch); items.py and registry.py hold
what they share.
"""

from __future__ import annotations

import os

from infra.runtime.moto_fixes import capacity, cognito, dynamodb, dynamodb_streams, iam, partitions, server, sqs
from infra.runtime.moto_fixes.registry import SKIP_ENV, UNTESTED_ENV, Fix, FixError, Patch, Registry

TESTED_MOTO_VERSION = "5.2.5"

FIXES: list[Fix] = [
    *dynamodb.FIXES, *capacity.FIXES, *partitions.FIXES, *dynamodb_streams.FIXES,
    *sqs.FIXES, *cognito.FIXES, *iam.FIXES, *server.FIXES,
]
ORDER = dynamodb.ORDER

REGISTRY = Registry(FIXES, ORDER, TESTED_MOTO_VERSION)

__all__ = ["FIXES", "ORDER", "REGISTRY", "SKIP_ENV", "TESTED_MOTO_VERSION", "UNTESTED_ENV", "Fix", "FixError",
           "Patch", "applied", "apply", "undo"]


def apply() -> None:
    """Apply every fix to the moto installed (once; later calls do nothing). TIMELINE_MOTO_SKIP
    names speed fixes to leave out, to measure them."""
    import moto

    REGISTRY.apply(moto.__version__, skip=os.environ.get(SKIP_ENV, "").split(","))


def undo() -> None:
    """Put moto back as it was before apply()."""
    REGISTRY.undo()


def applied() -> list[Fix]:
    """The fixes applied in this process, in the order they were declared."""
    return list(REGISTRY.applied)
