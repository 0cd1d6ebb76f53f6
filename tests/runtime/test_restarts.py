"""The whole local runtime (gateway, function workers, pollers) on moto's HTTP server, with its
pollers stopped while posts keep coming and started again: the restarted stream pollers read
the streams from TRIM_HORIZON again (the template's starting position; Lambda would resume
from its checkpoint), so every record is dispatched a second time. After recovery every
timeline holds exactly the expected posts, once each, and every counter its value.

Workers killed mid-invocation, DynamoDB throttling and conflicts, duplicate stream batches,
redelivered messages, half-applied batches and lost answers, all at once under a steady load,
are the chaos soak's (tests/bench/test_soak.py, bench/soak)."""

from __future__ import annotations

import uuid

import pytest

from infra.runtime import template as tpl
from infra.runtime.deployer import deploy
from infra.runtime.functions import LocalFunctions
from infra.runtime.gateway import Gateway
from infra.runtime.pollers import Pollers
from tests.e2e.conftest import Api

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server

UNLIMITED = {"PostRateLimitPerMinute": "100000", "ActionRateLimitPerMinute": "100000"}


def _assert_exact(api: Api, posted: list[str], readers: list[tuple[str, str]],
                  authors: list[tuple[str, str]] | None = None) -> None:
    """Each reader has every post exactly once, newest first; with `authors` (each followed by
    every reader), every counter equals its edges."""
    expected = sorted(posted, key=int, reverse=True)
    for _, token in readers:
        assert api.timeline_all(token) == expected
    for handle, token in authors or []:
        assert api.profile(token, handle)["followers_count"] == len(readers)
    for handle, token in readers if authors else []:
        assert api.profile(token, handle)["following_count"] == len(authors)


def test_given_pollers_stopped_and_restarted_mid_load_then_every_timeline_is_exact(moto_endpoint):
    stack = deploy(f"restart-{uuid.uuid4().hex[:6]}", UNLIMITED, endpoint_url=moto_endpoint)
    functions = LocalFunctions.start(stack, endpoint_url=moto_endpoint)
    pollers = Pollers.start(stack, functions, endpoint_url=moto_endpoint)
    gateway = Gateway.for_stack(tpl.load_sam(), stack, functions, endpoint_url=moto_endpoint).serve(0)
    try:
        api = Api(gateway.url)
        authors = [api.new_user(f"author{n}") for n in range(3)]
        readers = [api.new_user(f"reader{n}") for n in range(4)]
        for _, token in readers:
            for handle, _ in authors:
                api.follow(token, handle)
        posted = [api.post(authors[n % 3][1], f"before {n}") for n in range(12)]
        # When the pollers stop (in-flight batches finish) while posts keep coming
        pollers.close()
        posted += [api.post(authors[n % 3][1], f"while stopped {n}") for n in range(12)]
        # and start again, reading every stream from its trim horizon
        pollers = Pollers.start(stack, functions, endpoint_url=moto_endpoint)
        posted += [api.post(authors[n % 3][1], f"after {n}") for n in range(6)]
        assert pollers.wait_idle(120)
        # Then each reader has every post exactly once, newest first, and the counters hold
        _assert_exact(api, posted, readers, authors)
    finally:
        gateway.close()
        pollers.close()
        functions.close()
