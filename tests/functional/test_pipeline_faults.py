"""At-least-once pipeline, exactly-once effect: faults injected around the store and the event
sources, then, after recovery, every timeline holds exactly the expected entries and every
counter the expected value.

Faults are injected where AWS would produce them: DynamoDB answers on the worker's own
botocore client (throttling, UnprocessedItems, a connection dropped mid-message), and the
event sources' behaviour (a stream record delivered twice, a batch redelivered after its
visibility timeout, a worker that died after some writes, batches in any order). Nothing of
our own code is mocked. Figures for README's reliability section are printed (-s).
"""

from __future__ import annotations

import json
import random

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ConnectionClosedError

from infra.runtime.redrive import redrive_stack
from tests.support.aws_answers import Injected, answer, error


class Faults(Injected):
    """Every `every`-th BatchWriteItem of the worker fails: alternately throttled (400
    ProvisionedThroughputExceeded), half its items returned unprocessed (200), or the
    connection dropped (the worker dies mid-message, some of its writes done)."""

    def __init__(self, client, every: int, seed: int):
        super().__init__(client, "dynamodb.BatchWriteItem")
        self.every, self.rng = every, random.Random(seed)
        self.calls = self.injected = 0
        self.kinds: dict[str, int] = {}

    def __call__(self, params, **_kwargs):
        self.calls += 1
        if self.calls % self.every:
            return None
        kind = self.rng.choice(["throttled", "unprocessed", "dropped"])
        self.injected += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "dropped":
            raise ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        if kind == "throttled":
            return error(400, "ProvisionedThroughputExceededException",
                         "The level of configured provisioned throughput for the table was exceeded.")
        request = json.loads(params["body"])["RequestItems"]
        table, items = next(iter(request.items()))
        return None if len(items) < 2 else self._half_unprocessed(table, items)

    def _half_unprocessed(self, table, items):
        # Write the first half for real, hand the second back as DynamoDB does under load.
        half = len(items) // 2
        boto3.client("dynamodb").batch_write_item(RequestItems={table: items[:half]})
        return answer(200, {"UnprocessedItems": {table: items[half:]}})


def hostile_drain(h, rng: random.Random, max_rounds: int = 500) -> dict[str, int]:
    """Carry stream records and queue messages through dispatch and worker the way a bad day
    at AWS would: every stream batch delivered twice, queue messages shuffled and in random
    batches, a failed message redelivered later (its visibility timeout), and a third of the
    successful batches delivered again."""
    seen = {"stream_batches": 0, "duplicate_stream_batches": 0, "worker_batches": 0, "failed_messages": 0,
            "redelivered_batches": 0}
    retry: list[dict] = []
    for _ in range(max_rounds):
        dispatched = False
        for arn in rng.sample(h.stream_arns, len(h.stream_arns)):
            records = h._stream_records(arn)
            if records:
                dispatched = True
                for _ in range(2):  # the stream hands the same records over again
                    assert not h.run_dispatch(records).get("batchItemFailures")
                seen["stream_batches"] += 1
                seen["duplicate_stream_batches"] += 1
        messages = h.take_queued() + retry
        retry = []
        if not dispatched and not messages:
            return seen
        rng.shuffle(messages)
        while messages:
            size = rng.randint(1, 10)
            batch, messages = messages[:size], messages[size:]
            seen["worker_batches"] += 1
            try:
                result = h.run_worker(batch)
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except BatchProcessingError:  # every message failed: Lambda retries the whole batch
                failed = {m["messageId"] for m in batch}
            seen["failed_messages"] += len(failed)
            retry += [m for m in batch if m["messageId"] in failed]
            done = [m for m in batch if m["messageId"] not in failed]
            if done and rng.random() < 0.33:  # delivered again after its visibility timeout
                seen["redelivered_batches"] += 1
                retry += done
    raise AssertionError("the pipeline did not settle")


def expected_timelines(posts: dict[int, list[str]], follows: dict[int, set[int]], deleted: set[str]) -> dict:
    return {reader: sorted({p for a in authors | {reader} for p in posts.get(a, []) if p not in deleted},
                           key=int, reverse=True)
            for reader, authors in follows.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_given_faults_at_every_stage_when_the_pipeline_recovers_then_timelines_and_counters_are_exact(h, seed):
    rng = random.Random(seed)
    handles = [f"user{n}" for n in range(8)]
    ids = {handle: h.sign_up(handle) for handle in handles}
    users = list(ids.values())
    follows = {u: set() for u in users}
    for reader in users:
        for handle in rng.sample(handles, 4):
            if ids[handle] != reader:
                h.follow(reader, handle)
                follows[reader].add(ids[handle])
    client = h.worker.services.applier._timelines._batch._client
    posts: dict[int, list[str]] = {}
    deleted: set[str] = set()
    with Faults(client, every=3, seed=seed) as faults:
        figures = hostile_drain(h, rng)  # the follows' syncs, through the faults
        for n in range(40):
            author = rng.choice(users)
            posts.setdefault(author, []).append(h.post(author, f"post {n}"))
        for author in rng.sample(users, 2):
            victim = posts[author].pop(0)
            h.delete(author, victim)
            deleted.add(victim)
        unfollower = rng.choice(users)
        gone = rng.choice(sorted(follows[unfollower]))
        h.unfollow(unfollower, next(k for k, v in ids.items() if v == gone))
        follows[unfollower].discard(gone)
        more = hostile_drain(h, rng)
    figures = {k: figures[k] + more[k] for k in figures}
    assert faults.injected > 0
    for reader, expected in expected_timelines(posts, follows, deleted).items():
        assert h.home_ids(reader) == expected, reader
        stored = set(h.entries(reader))
        assert stored == set(expected), (reader, stored ^ set(expected))  # nothing lost, nothing extra
    for handle, user_id in ids.items():
        user = h.user(user_id)
        assert user.followers_count == sum(user_id in f for f in follows.values()), handle
        assert user.following_count == len(follows[user_id]), handle
    print(f"\nseed {seed}: {faults.calls} BatchWriteItem calls, {faults.injected} faults {faults.kinds}, "
          f"{figures}, entries lost 0")


def test_given_messages_in_the_dlq_when_redriven_after_a_fix_then_they_are_applied_once(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(bob, "alice")
    h.drain()
    post = h.post(alice, "stuck for a while")
    h.dispatch_pending()
    queued = h.take_queued()
    assert queued
    # Given the post's fan-out dead-lettered (a bug since fixed)
    sqs = boto3.client("sqs")
    dlq = h.stack.outputs["FanoutDeadLetterQueueUrl"]
    for record in queued:
        sqs.send_message(QueueUrl=dlq, MessageBody=record["body"])
    assert post not in h.entries(bob)
    # When redriven
    lines: list[str] = []
    [moved] = redrive_stack(boto3.Session(region_name="us-east-1"), h.stack.name, ["fanout"], say=lines.append)
    assert (moved.moved, moved.failed) == (len(queued), 0)
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert any("moved" in line for line in lines)
    # Then the fan-out completes, once, even if the messages come twice
    records = h.take_queued()
    assert sorted(r["body"] for r in records) == sorted(r["body"] for r in queued)
    for _ in range(2):
        assert not h.run_worker(records).get("batchItemFailures")
    assert h.entries(bob).count(post) == 1 and h.home_ids(bob) == [post]
