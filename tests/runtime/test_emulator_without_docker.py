"""The embedded emulator never looks for Docker (issue 26, "the first hour"): moto runs no
Lambda code itself; the local runtime's workers do (infra/runtime/moto_fixes/awslambda.py)."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from infra.runtime import moto_fixes


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def docker_asked(monkeypatch) -> list[str]:
    """Every time moto reaches for Docker: its client, or the Docker socket for its host."""
    import moto.settings
    from moto.utilities.docker_utilities import DockerModel

    asked: list[str] = []

    def client(self):
        asked.append("docker client")
        raise RuntimeError("no Docker here")

    monkeypatch.setattr(DockerModel, "docker_client", property(client))
    monkeypatch.setattr(moto.settings, "get_docker_host", lambda: asked.append("docker host") or "http://none")
    return asked


def test_given_a_queue_with_an_enabled_lambda_mapping_when_a_message_arrives_then_moto_never_looks_for_docker(
        aws, docker_asked, capsys, caplog):
    """Given the emulator's fixes, a function and an SQS queue mapped to it (still enabled, as
    during a deploy), When a message arrives (the bucket notification's s3:TestEvent does at
    deploy), Then moto neither asks Docker nor prints about it, and the message stays on the
    queue for the runtime's poller."""
    moto_fixes.apply()
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="no-docker-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    fn = lam.create_function(FunctionName="no-docker", Runtime="python3.11", Role=role, Handler="app.handler",
                             Code={"ZipFile": _zip()})["FunctionArn"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="no-docker-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=1)

    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))

    assert docker_asked == []
    out = capsys.readouterr()
    said = out.out + out.err + caplog.text
    assert "docker" not in said.lower(), said
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert [json.loads(m["Body"]) for m in received.get("Messages", [])] == [{"Event": "s3:TestEvent"}]
