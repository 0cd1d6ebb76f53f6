"""Observability as an operator meets it: one request's id on every log line of the work it
caused (API -> tweets stream -> fan-out queue -> worker; upload -> media processor), the
EMF metrics each path emits, and the dashboard and p99 alarm beside the template's alarms."""

from __future__ import annotations

import io
import json
import re

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.runtime import template as tpl
from infra.runtime.pollers import sqs_record

CUSTOM_METRICS = {"PostsCreated", "TimelineEntriesWritten", "FanoutLag", "CelebrityMerges", "PartialReads"}


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def logs():
    """Every line the functions' powertools Logger writes during the test, parsed."""
    from timeline.observability import logger
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous, level = handler.setStream(buffer), logger.log_level
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    handler.setStream(previous)
    logger.setLevel(level)


def emitted(out: str) -> dict[str, list[float]]:
    """Metric name -> every value the EMF lines in `out` carry."""
    values: dict[str, list[float]] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        assert doc["service"] == "timeline"  # the one dimension, as the dashboard reads it
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Timeline" and directive["Dimensions"] == [["service"]]
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


def request_ids(h, monkeypatch) -> list[str]:
    """The API Gateway request id of every API call from here on, in order."""
    seen: list[str] = []
    handler = h.api.handler

    def recording(event, context):
        seen.append(event["requestContext"]["requestId"])
        return handler(event, context)
    monkeypatch.setattr(h.api, "handler", recording)
    return seen


def queued_with_attributes(h) -> list[dict]:
    """Every visible fan-out message as Lambda hands it over (message attributes included, as
    the local pollers ask for them), taken off the queue."""
    sqs, out = boto3.client("sqs"), []
    while received := sqs.receive_message(QueueUrl=h.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                          MessageAttributeNames=["All"]).get("Messages", []):
        out += [sqs_record(m, h.queue_arn, "us-east-1") for m in received]
        for m in received:
            sqs.delete_message(QueueUrl=h.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return out


def deliver(h) -> list[dict]:
    """Stream records through dispatch, then the queued messages through the worker (with
    their attributes), until both are quiet. Returns the worker's results."""
    results = []
    for _ in range(20):
        h.dispatch_pending()
        records = queued_with_attributes(h)
        if not records:
            return results
        for start in range(0, len(records), 10):
            results.append(h.run_worker(records[start:start + 10]))
    raise AssertionError("fan-out did not settle")


def tweet_item(h, tweet_id: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName=h.settings.tweets_table,
                                             Key={"tweet_id": {"N": tweet_id}})["Item"]


# ---------------------------------------------------------------------- correlation ids
def test_given_a_post_when_its_fan_out_runs_then_every_dispatch_and_worker_line_carries_the_requests_id(
        h, monkeypatch, logs):
    from timeline.observability import logger
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    h.follow(bob, "alice")
    h.follow(carol, "alice")
    h.drain()
    ids = request_ids(h, monkeypatch)
    # When alice posts
    post = h.post(alice, "trace me")
    request_id = ids[-1]
    # Then her post's row keeps the request's id for the stream
    assert tweet_item(h, post)["correlation_id"] == {"S": request_id}
    # And when dispatch and the worker carry it to bob's and carol's timelines
    results = deliver(h)
    assert results and not any(r.get("batchItemFailures") for r in results)
    assert set(h.entries(bob)) == set(h.entries(carol)) == {post}
    # Then dispatch and the worker logged the post's work at the default level (INFO), every
    # line with the request's id: one line for the post dispatched, one per message applied
    lines = [line for line in logs() if line.get("tweet_id") == post]
    by_function = {line["function_name"] for line in lines}
    assert {"fanout_dispatch", "fanout_worker"} <= by_function
    assert all(line.get("correlation_id") == request_id for line in lines), lines
    assert [line["level"] for line in lines if line["message"] == "post dispatched"] == ["INFO"]
    applied = [line for line in lines if line["message"] == "fan-out message applied"]
    assert applied and {(line["level"], line["op"]) for line in applied} == {("INFO", "add")}
    # And nothing after the work inherits it
    assert logger.get_correlation_id() is None


def test_given_a_failing_fan_out_message_then_its_error_line_carries_the_id_and_the_next_message_does_not(
        h, monkeypatch, logs):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(bob, "alice")
    h.drain()
    ids = request_ids(h, monkeypatch)
    h.post(alice, "this one fails downstream")
    request_id = ids[-1]
    h.dispatch_pending()
    records = queued_with_attributes(h)
    assert records and all(r["messageAttributes"]["correlation_id"]["stringValue"] == request_id for r in records)
    # Given the worker fails on every message, and a second message that no request caused
    uncorrelated = dict(records[0], messageId="uncorrelated", messageAttributes={})

    def broken(*_):
        raise RuntimeError("timelines table unavailable")
    monkeypatch.setattr(h.worker, "apply", broken)
    monkeypatch.setattr(h.worker.services.applier, "add_all", broken)  # a batch's adds are applied together
    # When the worker gets both, then the whole batch comes back for redelivery
    with pytest.raises(BatchProcessingError):
        h.run_worker([records[0], uncorrelated])
    # And each failure is logged at the default level, with its own message's id or none
    failures = [line for line in logs() if line["message"] == "fan-out message failed"]
    assert [(f["message_id"], f.get("correlation_id")) for f in failures] == [
        (records[0]["messageId"], request_id), ("uncorrelated", None)]
    assert "timelines table unavailable" in failures[0]["exception"]


def test_given_an_idempotent_replay_then_the_post_is_the_same_and_its_correlation_id_never_reaches_a_response(
        h, monkeypatch):
    alice = h.sign_up("alice")
    ids = request_ids(h, monkeypatch)
    key = {"Idempotency-Key": "retry-1"}
    first = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "once"}, headers=key)
    replay = h.request("POST", "/v1/tweets", as_user=alice, body={"text": "once"}, headers=key)
    # Then the replay answers the same post, and the row keeps the first request's id
    assert first.status == replay.status == 201 and first.body == replay.body
    assert tweet_item(h, first.body["id"])["correlation_id"] == {"S": ids[0]}
    # And no response (the post, one post, the author's posts, the home timeline) shows it
    shown = [first, replay, h.request("GET", f"/v1/tweets/{first.body['id']}", as_user=alice),
             h.request("GET", "/v1/users/alice/tweets", as_user=alice), h.home(alice)]
    for reply in shown:
        assert reply.status == 200 or reply.status == 201
        text = json.dumps(reply.body)
        assert "correlation" not in text and not any(i in text for i in ids), text


def test_given_an_upload_then_the_processor_logs_with_the_upload_requests_id(h, monkeypatch, logs):
    from timeline.observability import logger
    alice = h.sign_up("alice")
    ids = request_ids(h, monkeypatch)
    # When alice uploads something that is not the PNG it claims to be
    h.upload(alice, b"not a png at all", "image/png")
    # Then the processor's line about it carries the id of the request that started the upload
    rejected = [line for line in logs() if line["message"] == "media rejected"]
    assert [line.get("correlation_id") for line in rejected] == [ids[0]]
    assert rejected[0]["function_name"] == "media_processor"
    assert logger.get_correlation_id() is None


# ---------------------------------------------------------------------- metrics
def test_given_a_post_then_the_api_counts_it_once_and_an_idempotent_replay_is_not_a_new_post(h, capsys):
    alice = h.sign_up("alice")
    capsys.readouterr()
    key = {"Idempotency-Key": "k-1"}
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "hello"}, headers=key).status == 201
    assert emitted(capsys.readouterr().out).get("PostsCreated") == [1.0]
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "hello"}, headers=key).status == 201
    assert "PostsCreated" not in emitted(capsys.readouterr().out)


def test_given_a_batch_of_fan_out_then_the_worker_counts_entries_and_one_lag_per_post(h, capsys):
    from timeline import clock
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    h.follow(bob, "alice")
    h.follow(carol, "alice")
    h.drain()
    posts = [h.post(alice, f"post {n}") for n in range(2)]
    # Given the fan-out runs 5 s after the posts were made
    clock.advance(ms=5000)
    capsys.readouterr()
    batches = len(h.worker_batches)
    h.drain()
    assert len(h.worker_batches) == batches + 1  # both posts' chunks in one batch
    metrics = emitted(capsys.readouterr().out)
    # Then the batch wrote 2 posts x 2 followers, and says how late each post arrived, once
    assert metrics["TimelineEntriesWritten"] == [4.0]
    assert len(metrics["FanoutLag"]) == len(posts)
    assert all(5000 <= lag < 65_000 for lag in metrics["FanoutLag"])


@pytest.mark.stack(InactiveDays="30", CelebrityThreshold="2")
def test_given_home_reads_then_celebrity_merges_per_read_and_partial_reads_are_counted(h, capsys):
    from timeline import clock
    alice, bob, _star, fan = (h.sign_up(n) for n in ("alice", "bob", "star", "fan"))
    h.follow(alice, "bob")
    h.follow(alice, "star")
    h.follow(fan, "star")  # star is a celebrity now: merged at read
    h.drain()
    capsys.readouterr()
    # When alice reads, and bob (who follows no celebrity) reads
    assert h.home(alice).body["partial"] is False
    assert h.home(bob).body["partial"] is False
    metrics = emitted(capsys.readouterr().out)
    # Then each read is one sample: alice's merged one celebrity, bob's none; none was partial
    assert metrics["CelebrityMerges"] == [1.0, 0.0]
    assert metrics["PartialReads"] == [0.0, 0.0]
    # When alice returns after 31 days away, her first read is partial (her timeline is rebuilt)
    clock.advance(days=31)
    assert h.home(alice).body["partial"] is True
    metrics = emitted(capsys.readouterr().out)
    assert metrics["PartialReads"] == [1.0] and metrics["CelebrityMerges"] == [1.0]


def test_the_dashboard_shows_only_custom_metrics_the_code_emits(h, capsys):
    """Each custom metric on the dashboard is emitted by a plain post, fan-out and read (a
    renamed metric would leave an empty graph)."""
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(bob, "alice")
    h.drain()
    h.post(alice, "counted")
    h.drain()
    h.home(bob)
    names = set(emitted(capsys.readouterr().out))
    assert dashboard_metrics(dashboard_body()).get("Timeline", set()) == CUSTOM_METRICS
    assert names >= CUSTOM_METRICS


# ---------------------------------------------------------------------- template
def dashboard_body(cfn: dict | None = None) -> str:
    cfn = cfn or tpl.translate()
    dashboards = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(dashboards) == 1
    return dashboards[0]["Properties"]["DashboardBody"]["Fn::Sub"]


def dashboard_metrics(body: str) -> dict[str, set[str]]:
    """Namespace -> metric names graphed (CloudWatch's "." and "..." shorthands expanded)."""
    widgets = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))["widgets"]
    found: dict[str, set[str]] = {}
    for widget in widgets:
        previous: list = []
        for row in widget["properties"].get("metrics", []):
            row = [v for v in row if not isinstance(v, dict)]
            if row and row[0] == "...":
                row = previous[:len(previous) - len(row) + 1] + row[1:]
            row = [previous[i] if v == "." else v for i, v in enumerate(row)]
            found.setdefault(row[0], set()).add(row[1])
            previous = row
    return found


def test_the_tweets_stream_carries_new_images_so_dispatch_can_read_the_correlation_id():
    view = tpl.load_sam()["Resources"]["TweetsTable"]["Properties"]["StreamSpecification"]["StreamViewType"]
    assert view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")


def test_the_dashboard_graphs_api_functions_queues_and_stream_from_real_resources():
    cfn = tpl.translate()
    resources = cfn["Resources"]
    body = dashboard_body(cfn)
    # Every ${...} names a resource of the translated template (or a pseudo parameter)
    for ref in re.findall(r"\$\{([^}]+)\}", body):
        assert ref.startswith("AWS::") or ref.split(".")[0] in resources, ref
    api = [lid for lid, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    assert api == ["HttpApi"]
    widgets = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))["widgets"]
    text = json.dumps(widgets)
    for function in ("ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction", "MediaProcessorFunction"):
        assert resources[function]["Type"] == "AWS::Lambda::Function"
        assert text.count(f"<{function}>") >= 3, function  # errors, throttles, duration
    for queue in ("FanoutQueue", "FanoutDeadLetterQueue", "MediaDeadLetterQueue", "DispatchFailureQueue"):
        assert resources[queue]["Type"] == "AWS::SQS::Queue" and f"<{queue}.QueueName>" in text, queue
    graphed = dashboard_metrics(body)
    assert {"Count", "4xx", "5xx", "Latency"} <= graphed["AWS/ApiGateway"]
    assert {"Errors", "Throttles", "Duration", "IteratorAge"} <= graphed["AWS/Lambda"]
    assert "ApproximateNumberOfMessagesVisible" in graphed["AWS/SQS"]
    assert '"ApiId", "<HttpApi>"' in body.replace("${HttpApi}", "<HttpApi>")
    assert '"stat": "p99"' in body and '"stat": "p50"' in body


def test_the_api_p99_latency_alarm_watches_the_http_api_like_the_other_alarms():
    cfn = tpl.translate()
    resources = cfn["Resources"]
    alarm = resources["ApiLatencyAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"], props["ExtendedStatistic"]) == ("AWS/ApiGateway", "Latency", "p99")
    assert props["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    assert resources["HttpApi"]["Type"] == "AWS::ApiGatewayV2::Api"
    assert (props["Period"], props["EvaluationPeriods"], props.get("DatapointsToAlarm", 5)) == (60, 5, 5)
    assert props["Threshold"] == 1000 and props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    # wired as the existing alarms are
    others = [r["Properties"] for lid, r in resources.items()
              if r["Type"] == "AWS::CloudWatch::Alarm" and lid != "ApiLatencyAlarm"]
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        assert {json.dumps(o.get(key)) for o in others} == {json.dumps(props.get(key))}, key


def test_given_the_deployed_stack_then_the_dashboard_and_alarm_exist_with_every_name_resolved(h):
    cloudwatch = boto3.client("cloudwatch")
    body = cloudwatch.get_dashboard(DashboardName=f"{h.stack.name}-timeline")["DashboardBody"]
    assert "${" not in body
    text = json.dumps(json.loads(body))
    sqs = boto3.client("sqs")
    for output in ("FanoutQueueUrl", "FanoutDeadLetterQueueUrl", "MediaDeadLetterQueueUrl"):
        name = sqs.get_queue_attributes(QueueUrl=h.stack.outputs[output], AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"].rsplit(":", 1)[-1]
        assert f'"{name}"' in text, output
    for function in ("ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction", "MediaProcessorFunction"):
        assert f'"{h.stack.physical_ids[function]}"' in text, function
    alarms = cloudwatch.describe_alarms(AlarmNames=[f"{h.stack.name}-ApiLatencyAlarm"])["MetricAlarms"]
    assert [(a["MetricName"], a["ExtendedStatistic"], a["Threshold"]) for a in alarms] == [("Latency", "p99", 1000.0)]


# ---------------------------------------------------------------------- issue 26: ids in the logs
def test_given_any_request_when_the_api_answers_then_it_logs_one_line_with_the_request_id_as_correlation_id(
        h, monkeypatch, logs):
    alice = h.sign_up("alice")
    ids = request_ids(h, monkeypatch)
    # When alice posts, and someone asks for a route that does not exist
    h.post(alice, "logged")
    assert h.request("GET", "/v1/nowhere").status == 404
    # Then the api logged one INFO line per request, each with its own request's id
    lines = [line for line in logs() if line.get("function_name") == "api" and line.get("correlation_id") in ids]
    assert [(line["level"], line["message"], line["status"], line.get("correlation_id")) for line in lines] == [
        ("INFO", "POST /v1/tweets 201", 201, ids[0]), ("INFO", "GET /v1/nowhere 404", 404, ids[1])]


def test_given_a_refused_body_then_the_api_still_logs_its_request_line(h, monkeypatch, logs):
    ids = request_ids(h, monkeypatch)
    reply = h.request("POST", "/v1/auth/signup", raw_body="{not json")
    assert reply.status == 400
    lines = [line for line in logs() if line.get("status") == 400]
    assert [(line["message"], line.get("correlation_id")) for line in lines] == [("POST /v1/auth/signup 400", ids[0])]


def test_given_invocations_that_record_no_metric_then_powertools_warns_nothing_and_writes_no_metric_line(
        h, capsys):
    import warnings
    alice = h.sign_up("alice")
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # pytest's configuration ignores this warning: undo that here
        # When a health check, a profile read and an empty worker batch run (none records a metric)
        assert h.request("GET", "/v1/health").status == 200
        assert h.request("GET", "/v1/users/alice", as_user=alice).status == 200
        h.run_worker([sqs_record({"MessageId": "trim-1", "ReceiptHandle": "r", "Body": json.dumps(
            {"op": "trim", "owner": str(alice)}), "MD5OfBody": "", "Attributes": {}}, h.queue_arn, "us-east-1")])
        # And a post, which does
        h.post(alice, "counted")
    # Then powertools said nothing about empty metrics, and only the post wrote a metric line
    assert not [w for w in caught if "No application metrics" in str(w.message)], [str(w.message) for w in caught]
    assert emitted(capsys.readouterr().out) == {"PostsCreated": [1.0]}


# ---------------------------------------------------------------------- issue 26: metrics that read right
def test_given_the_sample_worker_event_when_invoked_then_it_records_no_absurd_lag_and_says_why(h, capsys, logs):
    """events/fanout_worker.json names a post minted when the sample was written: its "lag" is
    the sample's age (1.01e9 ms when issue 26 was filed), not the pipeline's."""
    from tests.support.harness import sample_event
    event = sample_event("fanout_worker.json")
    capsys.readouterr()
    # When the sample is invoked as is (as `timeline invoke fanout-worker -e ...` hands it over)
    h.run_worker(event["Records"])
    # Then no FanoutLag sample comes of it, and a warning line says the post is too old to be one
    assert "FanoutLag" not in emitted(capsys.readouterr().out)
    warned = [line for line in logs() if line["message"].startswith("post written outside the lag horizon")]
    assert [(line["level"], line["tweet_id"]) for line in warned] == [("WARNING", "913472704300351488")]
    assert warned[0]["age_ms"] > 24 * 3600 * 1000
    # And the sample's lines carry the correlation id its message attribute holds, as a real one would
    applied = [line for line in logs() if line["message"] == "fan-out message applied"]
    assert {line.get("correlation_id") for line in [*warned, *applied]} == {"Z8nZJhj20T85yxY="}


def test_given_the_sample_dispatch_insert_when_invoked_then_its_post_dispatched_line_carries_the_rows_request_id(
        h, logs):
    from tests.functional.test_dispatch import stream_record
    from tests.support.harness import LambdaContext, sample_event
    bob = h.sign_up("bob")
    record = stream_record(h, "fanout_dispatch_insert.json", 7101, bob, "1")
    request_id = sample_event("fanout_dispatch_insert.json")["Records"][0]["dynamodb"]["NewImage"]["correlation_id"]["S"]
    assert h.dispatch.handler({"Records": [record]}, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    dispatched = [line for line in logs() if line["message"] == "post dispatched"]
    assert [(line["tweet_id"], line.get("correlation_id")) for line in dispatched] == [("7101", request_id)]


def test_given_an_add_two_days_after_its_post_then_it_is_no_lag_sample_but_a_fresh_one_is(h, capsys, logs):
    """A redriven message delivers days later: its delay is the outage's, which the DLQ alarm
    reported; the lag percentiles stay the live pipeline's."""
    import time

    from timeline import ids
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(bob, "alice")
    h.drain()
    fresh = h.post(alice, "fresh")
    h.dispatch_pending()
    queued = [r for r in h.take_queued() if json.loads(r["body"])["op"] == "add"]
    # Given, beside the fresh post's add, an add for a post minted two days ago (a redriven one)
    old = str(ids.IdGenerator(clock=lambda: time.time() - 2 * 86400).next_id())
    redriven = dict(queued[0], messageId="redriven", body=json.dumps({**json.loads(queued[0]["body"]), "tweet_id": old}))
    capsys.readouterr()
    # When both are applied in one batch
    assert h.run_worker([*queued, redriven]) == {"batchItemFailures": []}
    out = emitted(capsys.readouterr().out)
    # Then only the fresh post is a lag sample (a sane one), and the old one is a warning line
    assert fresh in h.entries(bob)
    assert len(out["FanoutLag"]) == 1 and 0 <= out["FanoutLag"][0] < 60_000
    assert [line["tweet_id"] for line in logs() if "lag horizon" in line["message"]] == [old]


def test_given_a_post_written_as_a_row_not_through_the_api_then_dispatch_counts_it_as_dispatched(h, capsys):
    """The local demo writes its posts as rows (infra/console/demo_loader.py): PostsCreated,
    the API's count, never sees them; PostsDispatched counts every post the stream brings."""
    from tests.functional.test_dispatch import stream_record
    from tests.support.harness import LambdaContext
    bob = h.sign_up("bob")
    capsys.readouterr()
    event = {"Records": [stream_record(h, "fanout_dispatch_insert.json", 7001, bob, "1"),
                         stream_record(h, "fanout_dispatch_insert.json", 7002, bob, "2"),
                         stream_record(h, "fanout_dispatch_remove.json", 7003, bob, "3")]}
    assert h.dispatch.handler(event, LambdaContext("fanout_dispatch")) == {"batchItemFailures": []}
    # Then the two inserts are two posts dispatched (the remove is none), and no post was "created"
    out = emitted(capsys.readouterr().out)
    assert out["PostsDispatched"] == [2.0] and "PostsCreated" not in out
    # And a post through the API is counted by both
    h.post(bob, "through the api")
    h.dispatch_pending()
    out = emitted(capsys.readouterr().out)
    assert out["PostsCreated"] == [1.0] and out["PostsDispatched"] == [1.0]
