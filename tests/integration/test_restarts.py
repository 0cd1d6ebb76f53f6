"""The whole local runtime (gateway, function workers, pollers) on moto's HTTP server, with its
pollers stopped while posts keep coming and started again: the restarted stream pollers read
the streams from TRIM_HORIZON again (the template's starting position; Lambda would resume
from its checkpoint), so every record is dispatched a second time. After recovery every
timeline holds exactly the expected posts, once each, and every counter its value. Function
workers killed mid-invocation (LocalFunctions.kill_busy, a chaos fault): their batches come
back, and again every timeline is exact."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from infra import template as tpl
from infra.deployer import deploy
from infra.functions import LocalFunctions
from infra.gateway import Gateway
from infra.pollers import DeliveryFaults, Pollers
from tests.e2e.conftest import Api

UNLIMITED = {"PostRateLimitPerMinute": "100000", "ActionRateLimitPerMinute": "100000"}


@contextmanager
def _runtime(moto_endpoint: str, name: str, *, visibility_s: int | None = None,
             faults: DeliveryFaults | None = None) -> Iterator[tuple[LocalFunctions, Pollers, Api]]:
    """A fresh stack with its functions, pollers and gateway, closed afterwards. With
    `visibility_s`, the fan-out queue's visibility timeout (180 s in the template, six times the
    worker's timeout): a failed invocation's messages come back when it ends, as on AWS, so a
    test that fails some waits less."""
    stack = deploy(f"{name}-{uuid.uuid4().hex[:6]}", UNLIMITED, endpoint_url=moto_endpoint)
    if visibility_s is not None:
        boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1").set_queue_attributes(
            QueueUrl=stack.outputs["FanoutQueueUrl"], Attributes={"VisibilityTimeout": str(visibility_s)})
    functions = LocalFunctions.start(stack, endpoint_url=moto_endpoint)
    pollers = Pollers.start(stack, functions, endpoint_url=moto_endpoint, faults=faults)
    gateway = Gateway.for_stack(tpl.load_sam(), stack, functions, endpoint_url=moto_endpoint).serve(0)
    try:
        yield functions, pollers, Api(gateway.url)
    finally:
        gateway.close()
        pollers.close()
        functions.close()


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


def _kill_once(functions: LocalFunctions, logical_id: str, stop: threading.Event, killed: list[str]) -> None:
    """Kill one busy worker of the function as soon as one is busy (once)."""
    while not stop.is_set():
        if functions.kill_busy(logical_id):
            killed.append(logical_id)
            return
        time.sleep(0.002)


def test_given_dispatch_and_worker_processes_killed_mid_invocation_then_their_batches_are_retried_and_every_timeline_is_exact(
        moto_endpoint):
    # Given the whole runtime, and a fault that SIGKILLs one busy dispatch worker and one busy
    # fan-out worker (a Lambda runtime that crashed mid-invocation)
    stop, killed = threading.Event(), []
    with _runtime(moto_endpoint, "kill", visibility_s=10) as (functions, pollers, api):
        killers = [threading.Thread(target=_kill_once, args=(functions, f, stop, killed), daemon=True)
                   for f in ("FanoutDispatchFunction", "FanoutWorkerFunction")]
        try:
            author, author_token = api.new_user("author")
            readers = [api.new_user(f"reader{n}") for n in range(3)]
            for _, token in readers:
                api.follow(token, author)
            assert pollers.wait_idle(60)
            for k in killers:
                k.start()
            # When posts come while the faults strike
            posted = [api.post(author_token, f"under fire {n}") for n in range(10)]
            assert pollers.wait_idle(120)
        finally:
            stop.set()
        # Then both kills happened, and each reader has every post exactly once: the killed
        # invocations failed as a crashed runtime's do, and their batches were retried
        assert sorted(killed) == ["FanoutDispatchFunction", "FanoutWorkerFunction"]
        _assert_exact(api, posted, readers)


def _until_taken(send, tries: int = 10):
    """Send until the answer is not "busy, try again" (409 contention, 429, 503), as a client
    does: the same request, so a post keeps its Idempotency-Key."""
    for _ in range(tries):
        resp = send()
        if resp.status_code not in (409, 429, 503):
            return resp
        time.sleep(float(resp.headers.get("Retry-After", "0.2")))
    return resp


def test_given_dynamodb_throttling_and_conflicts_on_a_share_of_calls_then_every_timeline_and_counter_is_exact(
        moto_endpoint):
    from infra import dynamodb_faults

    with _runtime(moto_endpoint, "faults") as (_, pollers, api):
        authors = [api.new_user(f"author{n}") for n in range(3)]
        readers = [api.new_user(f"reader{n}") for n in range(4)]
        # Given 10% of DynamoDB calls throttled and 20% of write transactions cancelled for a
        # conflict, everywhere (the api, dispatch, the worker), from a seeded draw (rates well
        # above the soak's 2%, so that a load this small meets both kinds many times)
        dynamodb_faults.set_dynamodb_faults(throttle=0.10, conflict=0.20, seed=24)
        try:
            # When the readers follow the authors and the authors post, as clients that resend
            # what was answered "busy"
            for _, token in readers:
                for handle, _ in authors:
                    follow = functools.partial(api.request, "POST", f"/v1/users/{handle}/follow", token)
                    assert _until_taken(follow).status_code == 200
            posted = []
            for n in range(24):
                token, key = authors[n % 3][1], uuid.uuid4().hex
                resp = _until_taken(functools.partial(api.request, "POST", "/v1/tweets", token,
                                                      json={"text": f"through faults {n}"},
                                                      headers={"Idempotency-Key": key}))
                assert resp.status_code == 201, resp.text
                posted.append(resp.json()["id"])
            assert pollers.wait_idle(120)
            injected = dynamodb_faults.dynamodb_faults()
        finally:
            dynamodb_faults.set_dynamodb_faults()
        # Then faults of both kinds struck, and still every reader has every post exactly once
        # and every counter equals its edges
        assert injected["throttled"] >= 8 and injected["conflicts"] >= 3, injected
        _assert_exact(api, posted, readers, authors)


def test_given_stream_batches_delivered_twice_and_messages_redelivered_then_every_timeline_and_counter_is_exact(
        moto_endpoint):
    # Given pollers that deliver every stream batch a second time and leave 20% of the queue
    # messages undeleted after handling them (they come back once their visibility ends). Every
    # batch, not a share: how the records fall into batches depends on timing, so a share of
    # them may be too few to count on (a run saw 4 of ~13 at 30%).
    faults = DeliveryFaults(duplicate_stream_batches=1.0, redeliver_messages=0.2, seed=24)
    with _runtime(moto_endpoint, "redeliver", visibility_s=3, faults=faults) as (_, pollers, api):
        authors = [api.new_user(f"author{n}") for n in range(3)]
        readers = [api.new_user(f"reader{n}") for n in range(4)]
        # When the readers follow the authors, one unfollows and follows again, and the authors post
        for _, token in readers:
            for handle, _ in authors:
                api.follow(token, handle)
        api.unfollow(readers[0][1], authors[0][0])
        api.follow(readers[0][1], authors[0][0])
        posted = [api.post(authors[n % 3][1], f"said twice {n}") for n in range(15)]
        assert pollers.wait_idle(120)
        time.sleep(4)  # the last undeleted messages' visibility
        assert pollers.wait_idle(120)
        # Then both faults struck, and every reader has every post exactly once, every counter
        # equals its edges
        assert faults.injected["duplicate_stream_batches"] >= 5 and faults.injected["redelivered_messages"] >= 3, \
            faults.injected
        _assert_exact(api, posted, readers, authors)
