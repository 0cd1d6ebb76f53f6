"""Races, as Lambda would let them happen, over HTTP on the local stack.

The local runtime runs two worker processes per function and five SQS batches in flight per
queue mapping (infra.runtime.pollers.SQS_CONCURRENT_BATCHES, as Lambda starts), so concurrent writes to
one timeline, duplicate deliveries and trims racing adds are exercised here. Each client
request runs on its own thread; each test checks the end state, never an interleaving.
"""

from __future__ import annotations

import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Api, eventually

pytestmark = pytest.mark.e2e

THREADS = 16


def run_all(jobs: list) -> list[Any]:
    """Every job at once (as far as THREADS allow), each thread with its own HTTP session."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return local.http

    start = threading.Barrier(min(THREADS, len(jobs)))

    def run(job):
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=10)
        return job(session())

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, jobs))


def call(api: Api, http: requests.Session, method: str, path: str, token: str, **kw) -> requests.Response:
    return http.request(method, api.url + path, headers={"authorization": f"Bearer {token}",
                                                          **kw.pop("headers", {})}, timeout=60, **kw)


def test_given_50_concurrent_follow_and_unfollow_toggles_then_edges_counters_and_timeline_agree(api):
    fan, fan_token = api.new_user("toggler")
    star, star_token = api.new_user("toggled")
    posts = [api.post(star_token, f"toggle {n}") for n in range(2)]
    rng = random.Random(50)
    methods = [rng.choice(["POST", "DELETE"]) for _ in range(50)]
    answers = run_all([lambda http, m=m: call(api, http, m, f"/v1/users/{star}/follow", fan_token)
                       for m in methods])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200][:3]
    # Then the counters match the edges, both ways
    following = api.user_pages(fan_token, f"/v1/users/{fan}/following", 50)[0]
    followers = api.user_pages(fan_token, f"/v1/users/{star}/followers", 50)[0]
    follows = star in [u["handle"] for u in following]
    assert (fan in [u["handle"] for u in followers]) == follows
    assert api.profile(fan_token, star)["followers_count"] == int(follows)
    assert api.profile(fan_token, fan)["following_count"] == int(follows)
    # And the timeline converges to the relationship that won
    eventually(lambda: set(posts) <= set(api.timeline_ids(fan_token)) if follows
               else not set(posts) & set(api.timeline_ids(fan_token)), timeout=60)


def test_given_200_concurrent_posts_from_20_authors_then_each_arrives_exactly_once_in_every_followers_timeline(api):
    authors = [api.new_user(f"author{n}") for n in range(20)]
    readers = [api.new_user(f"reader{n}") for n in range(2)]  # two followers each: below the threshold
    run_all([lambda http, r=r, a=a: call(api, http, "POST", f"/v1/users/{a[0]}/follow", r[1])
             for r in readers for a in authors])
    jobs = [lambda http, a=a, n=n: call(api, http, "POST", "/v1/tweets", a[1], json={"text": f"{a[0]} #{n}"})
            for a in authors for n in range(10)]
    random.Random(200).shuffle(jobs)
    answers = run_all(jobs)
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.status_code != 201][:3]
    posted = {a.json()["id"] for a in answers}
    assert len(posted) == 200
    for _, token in readers:
        eventually(lambda token=token: set(api.timeline_all(token)) == posted, timeout=120)
        timeline = api.timeline_all(token)
        assert len(timeline) == len(set(timeline)) == 200  # once each, nothing else
        assert timeline == sorted(timeline, key=int, reverse=True)  # newest first


def test_given_concurrent_retries_with_one_idempotency_key_then_one_post(api):
    handle, token = api.new_user("retrier")
    body, key = {"text": "said once, sent ten times"}, {"Idempotency-Key": "e2e-concurrent-retry"}
    answers = run_all([lambda http: call(api, http, "POST", "/v1/tweets", token, json=body, headers=dict(key))
                       for _ in range(10)])
    # The key is claimed in the post's own transaction: a retry that overlaps the first finds
    # the claim and answers the same post (a 409 only if its transaction met contention five
    # times in a row, which says "try again").
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert all(a.json()["error"]["code"] == "contention" for a in answers if a.status_code == 409)
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    again = api.request("POST", "/v1/tweets", token, json=body, headers=dict(key))
    assert again.status_code == 201 and again.json()["id"] in created
    assert [t["id"] for t in api.user_tweets(token, handle)] == list(created)
