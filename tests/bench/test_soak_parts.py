"""The chaos soak's own rules (bench/soak), each on its own: which answers a client sends again,
how its pace follows the measured ceiling, the model's budget, and what a dropped answer does.
The soak as a whole runs in tests/bench/test_soak.py."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from bench.soak.client import SoakClient, transient
from bench.soak.load import WEIGHTS, Load, paces


def _answer(status: int, code: str | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps({"error": {"code": code}} if code else {}).encode()
    return resp


@pytest.mark.parametrize("status, code, again", [
    (None, None, True), (500, None, True), (502, None, True), (503, "unavailable", True), (429, "rate_limited", True),
    (409, "contention", True), (409, "followee_changing", True), (409, "repost_changing", True),
    (409, "idempotency_key_used", False), (403, "blocked", False), (404, "tweet_not_found", False), (201, None, False),
])
def test_given_an_answer_then_the_client_sends_again_only_what_may_not_have_committed_or_is_busy(status, code, again):
    assert transient(None if status is None else _answer(status, code)) is again


def test_given_a_measured_ceiling_then_reads_run_at_its_share_and_posts_at_one_per_50_reads():
    reads, changes = paces(50.0, WEIGHTS, load_share=0.4, reads_per_post=50)
    posting = sum(WEIGHTS[k] for k in ("post", "reply", "image_post")) / sum(WEIGHTS.values())
    assert reads == pytest.approx(20.0)
    assert changes * posting == pytest.approx(reads / 50)


def test_given_the_budget_spent_then_the_writer_makes_no_more_posts_and_counts_the_choices():
    load = Load(client=None, rng=random.Random(1), timeline_max=100)  # type: ignore[arg-type]
    load.entries_made = 85
    assert load._room(author=1)
    load.entries_made = 90  # within ten of TimelineMax
    assert not load._room(author=1)
    load.entries_made, load.posts_made[2] = 0, 24  # an account's own: TimelineMax/4
    assert not load._room(author=2)
    assert load.over_budget == 2


class _Counting(BaseHTTPRequestHandler):
    posts: ClassVar[list[str]] = []

    def do_POST(self):
        self.posts.append(self.headers["Idempotency-Key"])
        body = b'{"id": "1"}'
        self.send_response(201)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_given_an_answer_dropped_then_the_write_is_sent_again_with_the_same_key_and_acknowledged_once():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Given a client that drops every first answer
        client = SoakClient(f"http://127.0.0.1:{server.server_port}", lost_answers=1.0)
        # When it posts
        answer = client.write("post", "POST", "/v1/tweets", headers={"Idempotency-Key": "k1"}, json={"text": "x"})
        # Then the post went twice with one key, and the answer says a resend followed a commit
        assert _Counting.posts == ["k1", "k1"]
        assert (answer.status, answer.attempts, answer.resent_after_commit) == (201, 2, True)
        assert client.answers_dropped == 1
    finally:
        server.shutdown()


def test_given_calls_and_faults_over_time_then_each_10_s_bucket_holds_its_own_and_the_plot_is_written(tmp_path):
    from bench.soak.plot import over_time, plot

    # Given 25 s of load: reads of 10 ms then 100 ms, a post, a kill at 12.5 s and a restart at 21 s
    started = 1000.0
    series = [(started + t, "home", 0.01 if t < 10 else 0.1) for t in range(0, 25)] + [(started + 3, "post", 0.05)]
    events = [(started + 12.5, "kill_ApiFunction"), (started + 21.0, "poller_restart")]

    rows = over_time(series, events, started, duration_s=25.0)

    # Then three buckets (the last, half of one, still counts), each with its calls and faults
    assert [r["t"] for r in rows] == [0.0, 10.0, 20.0]
    assert [(r["home"]["count"], r["home"]["p50_ms"]) for r in rows] == [(10, 10.0), (10, 100.0), (5, 100.0)]
    assert rows[0]["writes"] == {"count": 1, "p50_ms": 50.0, "p99_ms": 50.0}
    assert [r["faults"] for r in rows] == [[], [[12.5, "kill_ApiFunction"]], [[21.0, "poller_restart"]]]
    report = {"over_time": rows, "profile": "short", "seed": 1, "lost": 0, "duplicated": 0,
              "mismatched_timelines": 0, "counters_off": 0, "measured": "now", "machine": "2 cores",
              "faults": {k: {"count": 0} for k in ("throttled", "conflicts", "duplicate_stream_batches",
                                                   "redelivered_messages", "half_applied_batches", "answers_dropped")}}
    assert plot(report, tmp_path / "soak.png").stat().st_size > 10_000
