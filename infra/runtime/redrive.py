"""Move messages from a dead-letter queue back to the queue they failed on, after a fix.

    timeline redrive [--queue fanout|media|all] [--stack-name NAME] [--local]

The queues are found through the stack's outputs (FanoutQueueUrl and FanoutDeadLetterQueueUrl,
MediaQueueUrl and MediaDeadLetterQueueUrl), so the same command serves a deployed stack (your
AWS credentials) and the local one (`--local`: the emulator on 127.0.0.1:4566). Each message is
sent to its queue, then deleted from the DLQ: a crash in between leaves a copy in both, and
the consumers are idempotent, so nothing is lost and nothing is applied twice. On AWS,
SQS's own StartMessageMoveTask does the same; moto does not implement it, and this works on
both. The dispatch failure queue holds pointers to stream records, not messages to replay:
see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

QUEUES = {"fanout": ("FanoutDeadLetterQueueUrl", "FanoutQueueUrl"),
          "media": ("MediaDeadLetterQueueUrl", "MediaQueueUrl")}


@dataclass
class Moved:
    queue: str
    moved: int
    failed: int


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def redrive(sqs, dead_letter_url: str, queue_url: str, *, limit: int | None = None,
            progress: Callable[[int], None] = lambda moved: None) -> tuple[int, int]:
    """Move up to `limit` messages (all by default); returns (moved, failed to send)."""
    moved = failed = 0
    while limit is None or moved + failed < limit:
        batch = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        batch = batch[:limit - moved - failed] if limit is not None else batch
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": m["Body"],
             **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})}
            for i, m in enumerate(batch)])
        ok = {int(s["Id"]) for s in sent.get("Successful", [])}
        done = [m for i, m in enumerate(batch) if i in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dead_letter_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        moved += len(done)
        failed += len(batch) - len(done)  # left in the DLQ; visible again in a minute
        progress(moved)
    return moved, failed


def redrive_stack(session, stack_name: str, which: list[str], *, endpoint_url: str | None = None,
                  limit: int | None = None, say: Callable[[str], None] = print) -> list[Moved]:
    client = lambda name: session.client(name, endpoint_url=endpoint_url)
    outputs = stack_outputs(client("cloudformation"), stack_name)
    sqs = client("sqs")
    results = []
    for name in which:
        dlq_output, queue_output = QUEUES[name]
        dlq, queue = outputs[dlq_output], outputs[queue_output]
        waiting = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
                      ["Attributes"]["ApproximateNumberOfMessages"])
        say(f"{name}: {waiting} message(s) in the dead-letter queue")
        moved, failed = redrive(sqs, dlq, queue, limit=limit,
                                progress=lambda n, name=name: say(f"  {name}: moved {n}") if n % 100 == 0 and n else None)
        say(f"{name}: moved {moved} back to the queue" + (f", {failed} could not be sent (still in the DLQ)"
                                                          if failed else ""))
        results.append(Moved(name, moved, failed))
    return results
