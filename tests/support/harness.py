"""In-process harness for unit tests: the stack from template.yaml deployed on moto's
in-process mock, the three functions loaded with the environment the stack gave them, and
a `drain()` that carries stream records and queue messages through dispatch and worker
the way the Lambda event sources would (records shaped by the local runtime's pollers;
synchronously, without their batching windows, so tests stay fast and deterministic).

Events are built from the samples in events/, so the tests exercise the shapes a
deployed function receives.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import itertools
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3

from infra.runtime import template as tpl
from infra.runtime.deployer import Stack
from infra.runtime.pollers import dynamodb_stream_record, sqs_record

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
LAYER = ROOT / "layers" / "timeline" / "python"
_counter = itertools.count()


def sample_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


class LambdaContext:
    def __init__(self, function_name: str, memory: int = 512, timeout_s: int = 10):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.time() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error_code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


def _load(function_dir: Path, fresh_name: str):
    """Import functions/<x>/app.py as a new module (a cold start with the current env)."""
    if str(function_dir) not in sys.path:
        sys.path.insert(0, str(function_dir))
    spec = importlib.util.spec_from_file_location(fresh_name, function_dir / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Harness:
    """One per deployed stack. Several can exist (one per parameter set); `activate()`
    points the process-wide state (env, settings, pynamodb table names) at this one."""

    _active: Harness | None = None

    def __init__(self, stack: Stack):
        self.stack = stack
        specs = tpl.functions(tpl.load_sam())
        for path in (LAYER, specs["ApiFunction"].code_dir):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        self._set_env()
        from timeline.settings import get_settings
        self.settings = get_settings()
        self.api = _load(specs["ApiFunction"].code_dir, f"api_app_{next(_counter)}")
        self.dispatch = _load(specs["FanoutDispatchFunction"].code_dir, f"dispatch_app_{next(_counter)}")
        self.worker = _load(specs["FanoutWorkerFunction"].code_dir, f"worker_app_{next(_counter)}")
        self.media_processor = _load(specs["MediaProcessorFunction"].code_dir, f"media_app_{next(_counter)}")
        import wiring  # the api function's own module
        self.services = wiring.services()
        Harness._active = self

        self._streams = boto3.client("dynamodbstreams")
        self._sqs = boto3.client("sqs")
        self._iterators: dict[str, str] = {}
        self.queue_url = stack.outputs["FanoutQueueUrl"]
        self.queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # Every stream dispatch reads (tweets, users, graph), in the template's order.
        self.stream_arns = [s.source_arn for s in stack.event_sources if s.function == "FanoutDispatchFunction"]
        self.media_queue_url = stack.outputs["MediaQueueUrl"]
        self.media_queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self.media_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.bucket = stack.outputs["MediaBucketName"]
        self.dispatch_batches: list[dict] = []  # every event dispatch was given
        self.worker_batches: list[dict] = []
        self._hold_delayed()

    def _hold_delayed(self) -> None:
        """Messages sent with a delay (a demotion's second walk) are held here instead, so none
        surfaces in a later test; `release_delayed` sends them, as if the delay had passed."""
        from timeline.store.fanout_queue import FanoutQueue
        self.delayed: list[tuple[FanoutQueue, list[dict]]] = []
        if getattr(FanoutQueue.send, "held_by_harness", False):
            return
        send = FanoutQueue.send

        def held(queue, messages, *, delay_seconds: int = 0):
            if delay_seconds and Harness._active is not None:
                Harness._active.delayed.append((queue, list(messages)))
                return None
            return send(queue, messages)
        held.held_by_harness = True
        FanoutQueue.send = held

    def release_delayed(self) -> int:
        """Send the held delayed messages now; how many."""
        held, self.delayed = self.delayed, []
        for queue, messages in held:
            queue.send(messages)
        return sum(len(m) for _, m in held)

    def _set_env(self) -> None:
        os.environ.update(self.stack.function_env["ApiFunction"])
        import wiring

        from timeline.settings import get_settings
        get_settings.cache_clear()
        wiring.services.cache_clear()

    def activate(self) -> Harness:
        if Harness._active is not self:
            self._set_env()
            import wiring

            from timeline.store import tables
            tables.bind(self.settings, "us-east-1")
            self.services = wiring.services()
            Harness._active = self
            self._hold_delayed()
        return self

    def reset(self) -> None:
        """Empty every table and queue, and skip the stream past the deletions: each test
        starts from a fresh stack without paying for a new deployment."""
        ddb = boto3.client("dynamodb")
        names = self.stack.outputs
        for output in ("UsersTableName", "TweetsTableName", "GraphTableName", "TimelinesTableName",
                       "IdempotencyTableName", "MediaTableName", "RateLimitsTableName", "CelebrityCopiesTableName"):
            table = names[output]
            keys = [k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]]
            items = ddb.scan(TableName=table, ProjectionExpression=", ".join(f"#k{i}" for i in range(len(keys))),
                             ExpressionAttributeNames={f"#k{i}": k for i, k in enumerate(keys)})["Items"]
            for start in range(0, len(items), 25):
                ddb.batch_write_item(RequestItems={table: [
                    {"DeleteRequest": {"Key": item}} for item in items[start:start + 25]]})
        s3 = boto3.client("s3")
        for obj in s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        for url in (self.queue_url, names["FanoutDeadLetterQueueUrl"], self.media_queue_url,
                    names["MediaDeadLetterQueueUrl"]):
            while messages := self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                for m in messages:
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        while self._stream_records():
            pass
        self.dispatch_batches.clear()
        self.worker_batches.clear()
        self.delayed.clear()
        # What this container remembers of the tables went with them: the windows it knows full,
        # the celebrity profiles it reuses as follow targets (handles are reused across tests).
        from timeline.store import rate_limits
        rate_limits._full = rate_limits._FullWindows()
        self.services.social._celebrities = type(self.services.social._celebrities)()

    # ------------------------------------------------------------------ HTTP API
    def request(self, method: str, path: str, *, as_user: int | None = None, body: Any = None,
                raw_body: str | None = None, query: dict | None = None, headers: dict | None = None,
                token_use: str = "access") -> Reply:
        event = copy.deepcopy(sample_event("api_post_tweet.json" if body is not None or raw_body is not None
                                           else "api_home_timeline.json"))
        event["routeKey"] = f"{method} {path}"
        event["rawPath"] = path
        event["requestContext"]["http"].update(method=method, path=path)
        event["requestContext"]["routeKey"] = event["routeKey"]
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        query = {k: str(v) for k, v in (query or {}).items()}
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = query or None
        event["headers"].pop("idempotency-key", None)
        if body is not None or raw_body is not None:
            event["body"] = raw_body if raw_body is not None else json.dumps(body)
        else:
            event.pop("body", None)
        event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
        if as_user is None:
            event["headers"].pop("authorization", None)
            event["requestContext"].pop("authorizer", None)
        else:
            claims = {"sub": str(uuid.uuid5(uuid.NAMESPACE_OID, str(as_user))), "token_use": token_use,
                      "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{self.stack.user_pool_id}"}
            claims["username" if token_use == "access" else "cognito:username"] = str(as_user)
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        result = self.api.handler(event, LambdaContext("api"))
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return Reply(status=result["statusCode"], body=parsed, headers=result.get("headers") or {})

    def sign_up(self, handle: str, password: str = "correct-horse-battery-9", display_name: str | None = None) -> int:
        reply = self.request("POST", "/v1/auth/signup",
                             body={"handle": handle, "password": password, "display_name": display_name or handle})
        assert reply.status == 201, reply
        return int(reply.body["id"])

    def follow(self, follower: int, handle: str, *, reposts: bool | None = None) -> Reply:
        body = {"reposts": reposts} if reposts is not None else None
        reply = self.request("POST", f"/v1/users/{handle}/follow", as_user=follower, body=body)
        assert reply.status == 200, reply
        return reply

    def repost(self, reposter: int, tweet_id: str) -> str:
        """Repost; returns the repost's own id."""
        reply = self.request("POST", f"/v1/tweets/{tweet_id}/repost", as_user=reposter)
        assert reply.status in (200, 201), reply
        return reply.body["repost"]["id"]

    def unrepost(self, reposter: int, tweet_id: str) -> None:
        reply = self.request("DELETE", f"/v1/tweets/{tweet_id}/repost", as_user=reposter)
        assert reply.status == 204, reply

    def _toggle(self, method: str, user: int, handle: str, what: str) -> Reply:
        reply = self.request(method, f"/v1/users/{handle}/{what}", as_user=user)
        assert reply.status == 200, reply
        return reply

    def block(self, user: int, handle: str) -> Reply:
        return self._toggle("POST", user, handle, "block")

    def unblock(self, user: int, handle: str) -> Reply:
        return self._toggle("DELETE", user, handle, "block")

    def mute(self, user: int, handle: str) -> Reply:
        return self._toggle("POST", user, handle, "mute")

    def unmute(self, user: int, handle: str) -> Reply:
        return self._toggle("DELETE", user, handle, "mute")

    def unfollow(self, follower: int, handle: str) -> Reply:
        reply = self.request("DELETE", f"/v1/users/{handle}/follow", as_user=follower)
        assert reply.status == 200, reply
        return reply

    def delete(self, author: int, tweet_id: str) -> None:
        reply = self.request("DELETE", f"/v1/tweets/{tweet_id}", as_user=author)
        assert reply.status == 204, reply

    def entries(self, owner: int) -> list[str]:
        """The post ids stored in a materialized home timeline, newest first."""
        items = boto3.client("dynamodb").query(
            TableName=self.settings.timelines_table, KeyConditionExpression="owner_id = :o",
            ExpressionAttributeValues={":o": {"N": str(owner)}}, ScanIndexForward=False)["Items"]
        return [i["tweet_id"]["N"] for i in items]

    def user(self, user_id: int):
        return self.services.accounts.user(user_id)

    def post(self, author: int, text: str, **extra) -> str:
        reply = self.request("POST", "/v1/tweets", as_user=author, body={"text": text, **extra})
        assert reply.status == 201, reply
        return reply.body["id"]

    def home(self, user: int, **query) -> Reply:
        return self.request("GET", "/v1/timeline", as_user=user, query=query)

    def home_ids(self, user: int, limit: int = 100) -> list[str]:
        reply = self.home(user, limit=limit)
        assert reply.status == 200, reply
        return [item["id"] for item in reply.body["items"]]

    def home_items(self, user: int, limit: int = 100) -> list[tuple[str, str | None]]:
        """Every page of the home timeline as (post id, reposter's handle or None)."""
        items, _ = self.home_all(user, limit, detail=True)
        return items

    def home_all(self, user: int, limit: int = 100, *, detail: bool = False) -> tuple[list, bool]:
        """Every page of the home timeline: (post ids newest first, whether any page was partial);
        with `detail`, (post id, reposter's handle or None) pairs."""
        ids, partial, cursor = [], False, None
        while True:
            reply = self.home(user, limit=limit, **({"cursor": cursor} if cursor else {}))
            assert reply.status == 200, reply
            ids += [(item["id"], (item.get("repost") or {}).get("by", {}).get("handle")) if detail else item["id"]
                    for item in reply.body["items"]]
            partial = partial or reply.body.get("partial", False)
            cursor = reply.body.get("next_cursor")
            if not cursor:
                return ids, partial

    # ------------------------------------------------------------------ media
    def objects(self) -> dict[str, bytes]:
        """Every object in the media bucket, by key."""
        s3 = boto3.client("s3")
        return {o["Key"]: s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
                for o in s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])}

    def start_upload(self, user: int, content_type: str, size: int) -> Reply:
        return self.request("POST", "/v1/media", as_user=user, body={"content_type": content_type,
                                                                      "content_length": size})

    def upload(self, user: int, data: bytes, content_type: str, *, declared: str | None = None,
               process: bool = True) -> str:
        """Request an upload form, put the bytes where it says (as the presigned POST would),
        and by default run the processor on the notification. Returns the media id."""
        reply = self.start_upload(user, declared or content_type, len(data))
        assert reply.status == 201, reply
        form = reply.body["upload"]
        boto3.client("s3").put_object(Bucket=self.bucket, Key=form["fields"]["key"], Body=data,
                                      ContentType=form["fields"]["Content-Type"])
        if process:
            self.process_media()
        return reply.body["media_id"]

    def media_status(self, user: int, media_id: str) -> Reply:
        return self.request("GET", f"/v1/media/{media_id}", as_user=user)

    def media_records(self) -> list[dict]:
        """Every message on the media queue (S3 notifications), as SQS records, taken off it."""
        out = []
        while received := self._sqs.receive_message(QueueUrl=self.media_queue_url, MaxNumberOfMessages=10,
                                                    AttributeNames=["All"]).get("Messages", []):
            out += [sqs_record(m, self.media_queue_arn, "us-east-1") for m in received]
            for m in received:
                self._sqs.delete_message(QueueUrl=self.media_queue_url, ReceiptHandle=m["ReceiptHandle"])
        return out

    def run_media_processor(self, records: list[dict]) -> dict:
        return self.media_processor.handler({"Records": records}, LambdaContext("media_processor", 1024, 30))

    def process_media(self) -> None:
        """Hand every S3 notification waiting on the media queue to the processor."""
        records = self.media_records()
        for start in range(0, len(records), 5):  # the template's BatchSize
            result = self.run_media_processor(records[start:start + 5])
            assert not result.get("batchItemFailures"), result

    # ------------------------------------------------------------------ event sources
    def _stream_records(self, stream_arn: str | None = None) -> list[dict]:
        """Records not yet read, of one stream or of all (shard order kept within each)."""
        records = []
        for arn in [stream_arn] if stream_arn else self.stream_arns:
            shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            for shard in shards:
                key = f"{arn}|{shard['ShardId']}"
                iterator = self._iterators.get(key) or self._streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                out = self._streams.get_records(ShardIterator=iterator, Limit=100)
                self._iterators[key] = out["NextShardIterator"]
                records += [dynamodb_stream_record(raw, arn, "us-east-1") for raw in out["Records"]]
        return records

    def _queue_records(self) -> list[dict]:
        received = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                             AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        return [sqs_record(m, self.queue_arn, "us-east-1") for m in received]  # as the pollers receive

    def dispatch_pending(self) -> None:
        """Run dispatch on every pending stream record, leaving the queued work unprocessed."""
        while records := self._stream_records():
            assert not self.run_dispatch(records).get("batchItemFailures")

    def take_queued(self) -> list[dict]:
        """Take every visible message off the queue (as SQS records), unprocessed."""
        out = []
        while batch := self._queue_records():
            out += batch
        for m in out:
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["receiptHandle"])
        return out

    def run_worker(self, records: list[dict]) -> dict:
        event = {"Records": records}
        self.worker_batches.append(event)
        return self.worker.handler(event, LambdaContext("fanout_worker", timeout_s=30))

    def stream_of(self, table_output: str) -> str:
        """The stream ARN dispatch reads for a table (by its stack output, e.g. "UsersTableName")."""
        name = self.stack.outputs[table_output]
        return next(arn for arn in self.stream_arns if f":table/{name}/" in arn)

    def run_dispatch(self, records: list[dict]) -> dict:
        event = {"Records": records}
        self.dispatch_batches.append(event)
        return self.dispatch.handler(event, LambdaContext("fanout_dispatch", timeout_s=60))

    def drain(self, max_rounds: int = 1000, *, shuffle: random.Random | None = None) -> None:
        """Carry everything pending through dispatch and worker until both are quiet.

        With `shuffle`, the streams are read in a random order and every visible message is
        received, shuffled and handed over in random batches: the queue keeps no order, and
        neither do the streams of different tables."""
        for _ in range(max_rounds):
            arns = list(self.stream_arns)
            if shuffle:
                shuffle.shuffle(arns)
            dispatched = False
            for arn in arns:
                records = self._stream_records(arn)
                if records:
                    dispatched = True
                    result = self.run_dispatch(records)
                    assert not result.get("batchItemFailures"), result
            messages = self._queue_records()
            if shuffle:
                while more := self._queue_records():
                    messages += more
                shuffle.shuffle(messages)
            if not dispatched and not messages:
                return
            while messages:
                size = shuffle.randint(1, 10) if shuffle else 10
                batch, messages = messages[:size], messages[size:]
                result = self.run_worker(batch)
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                assert not failed, result
                for m in batch:
                    self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["receiptHandle"])
        raise AssertionError("fan-out did not settle")


def to_next_window() -> None:
    """Move the product's clock to the start of the next one-minute rate-limit window."""
    from timeline import clock
    clock.advance(ms=(60 - clock.now_s() % 60) * 1000)
