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
cognito.py, iam.py, server.py (moto's server and dispatch), awslambda.py (no Docker); items.py and registry.py hold
what they share.

The speed fixes, measured 2026-12-08 against moto 5.2.5 as installed, on the project's
machine (2 cores, shared with other sessions: load average 5 to 13 during the runs), each
left out in turn with TIMELINE_MOTO_SKIP=<name>:

  demo:  .venv/bin/timeline up --port 0 --emulator-port 0 --no-reload --no-metrics
         --log-dir /tmp/x, stopped with SIGINT after "demo fully readable at N s"
  bench: .venv/bin/python -m bench run --profile tiny --out /tmp/b --no-plots (wall time)

  with all fixes: demo 50.4 and 59.6 s (median 55.0; two earlier runs under heavier load,
  95.4 and 92.8 s, are left out); bench 211.1 and 222.7 s (median 216.9)

  fix left out                                  demo s   saves   bench s  saves   verdict
  dynamodb.queries_read_one_partition            228.0    76%        -      -     kept
  sqs.receive_cost_independent_of_depth          157.7    65%        -      -     kept
  dynamodb.responses_serialized_directly          69.6    21%        -      -     kept
  server.data_plane_requests_past_flask           64.5    15%        -      -     kept
  dynamodb.index_queries_read_one_partition       61.1    10%        -      -     kept
  server.requests_routed_by_a_remembered_host     61.1    10%     214.5    -1%   kept
  server.action_names_remembered_per_class        54.2    -1%     229.7     6%   kept
  dynamodb_streams.records_serialized_directly    53.8    -2%     210.6    -3%   dropped
  dynamodb.projected_queries_without_a_deep_copy  54.2    -1%     239.4     9%   dropped

("saves": how much longer the run took without the fix, as a share of that run's time.)
One run each, on a shared machine: the noise is as large as the threshold. Leaving out the
projected-query fix, which cannot fire in either run (below), made the bench 9% slower. So
a fix is kept when either run shows 5% or more, as the rule says, and the small figures are
no proof of a small saving either way; the fixes' own docstrings give the profiles of the
emulator they were made from.

Dropped: dynamodb_streams.records_serialized_directly encoded the stream pollers'
GetRecords directly, as dynamodb.responses_serialized_directly does DynamoDB's answers
(profiled draining 1,420 follows' stream records in-process, 13 s of 30 s went to moto's
serializer); neither end-to-end run shows it. dynamodb.projected_queries_without_a_deep_copy skipped moto's deep copy of a
projected Query's results. pynamodb asks for ReturnConsumedCapacity=TOTAL on every call, so
the billing layer (capacity.py) runs every such query unprojected and the fix never fired;
and moto 5.2.5's own Item.__deepcopy__ (getmoto/moto#9670) has made the copy cheap.
"""

from __future__ import annotations

import os

from infra.runtime.moto_fixes import (
    awslambda,
    capacity,
    cognito,
    dynamodb,
    dynamodb_streams,
    iam,
    partitions,
    server,
    sqs,
)
from infra.runtime.moto_fixes.registry import SKIP_ENV, UNTESTED_ENV, Fix, FixError, Patch, Registry

TESTED_MOTO_VERSION = "5.2.5"

FIXES: list[Fix] = [
    *dynamodb.FIXES, *capacity.FIXES, *partitions.FIXES, *dynamodb_streams.FIXES,
    *sqs.FIXES, *cognito.FIXES, *iam.FIXES, *server.FIXES, *awslambda.FIXES,
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
