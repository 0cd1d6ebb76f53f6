"""Fixtures for tests on moto's in-process mock (tests/functional, and the runtime's in-process
tests): the stack created from template.yaml by the same deployer `make run` uses; tables, queues
and env vars are never restated here. Each tier's conftest.py imports these.

One mock and one stack per parameter set serve the whole session; every test starts from
empty tables and queues (Harness.reset). Override template parameters per test with
`@pytest.mark.stack(CelebrityThreshold="3")`.
"""

from __future__ import annotations

import os

import pytest
from moto import mock_aws

from infra.runtime.deployer import deploy
from tests.support.harness import Harness

FAKE_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def aws():
    saved = dict(os.environ)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    os.environ.update(FAKE_AWS_ENV)
    with mock_aws():
        yield {}
    os.environ.clear()
    os.environ.update(saved)


# Tests act far faster than a person, and demote at once: limits apply where a test asks for them.
UNLIMITED = {"PostRateLimitPerMinute": "1000000", "ActionRateLimitPerMinute": "1000000",
             "DemotionCooldownMinutes": "0",
             # every request of the harness comes from one address (the sample events')
             "SignInAttemptsPerAddressPerMinute": "1000000", "SignUpsPerAddressPerHour": "1000000",
             # counts read fresh: a test reads what the stream counted, not what a read cached
             "CountsCacheSeconds": "0"}


@pytest.fixture
def h(aws, request):
    """Given the stack deployed from template.yaml, empty, with the three functions loaded."""
    marker = request.node.get_closest_marker("stack")
    params = {**UNLIMITED, **{k: str(v) for k, v in (marker.kwargs if marker else {}).items()}}
    key = tuple(sorted(params.items()))
    if key not in aws:
        aws[key] = Harness(deploy(f"unit{len(aws)}", params))
    harness = aws[key].activate()
    harness.reset()
    yield harness
    from timeline import clock
    clock.reset()  # tests that moved the clock forward leave it as they found it


@pytest.fixture
def clock(h):
    """The product's clock (timeline.clock), which tests move forward; importable once the
    harness has put the layer on the path."""
    from timeline import clock
    return clock
