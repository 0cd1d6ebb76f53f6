"""moto's Lambda: the emulator never runs a function's code itself, so it never looks for Docker."""

from __future__ import annotations

from typing import Any

from infra.runtime.moto_fixes.registry import Fix, Patch

# What a push from moto answers: a function error, as moto's own answers when Docker is
# missing, so that the caller (an SQS queue's or a stream's mapping) keeps the messages.
NOT_RUN = "the embedded emulator runs no function code: the local runtime's workers do (infra/runtime/functions.py)"


def _invoke_without_docker(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """moto runs a Lambda function in a Docker container whenever something invokes it: its
    Invoke API, and its own push of an event source mapping's messages (an SQS queue with an
    enabled mapping hands every new message to it). The deployer switches the mappings off
    once the stack exists, but the S3 notification's s3:TestEvent reaches the media queue
    while its mapping is still on: moto then asked the Docker socket for its host (printing
    "Unable to parse Docker API response" and a JSONDecodeError) and logged "error running
    docker" on every `timeline up`, on a project that needs no Docker. Here it answers at once
    with a function error, as it did when Docker was missing, without asking for it: the queue
    keeps the message for the runtime's poller, which invokes the real function."""
    return NOT_RUN, True, ""


FIXES = [
    Fix("awslambda.no_docker", "correctness",
        "moto runs Lambda code in Docker when a queue's mapping pushes to it (the bucket notification's "
        "test event at deploy) and printed Docker errors on every start; it now answers a function error "
        "without looking for Docker, and the local runtime's workers run the code",
        patches=(Patch("moto.awslambda.models.LambdaFunction._invoke_lambda", value=_invoke_without_docker),)),
]
