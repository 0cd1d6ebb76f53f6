"""moto's SQS: a queue stays consistent while the threaded server serves several requests on
it at once, and a send or a receive costs the same at any depth, as on AWS."""

from __future__ import annotations

from typing import Any

from infra.runtime.moto_fixes.registry import Fix, Patch

QUEUE = "moto.sqs.models.Queue"
BACKEND = "moto.sqs.models.SQSBackend"


def _locked_delete(inner: Any, self: Any, receipt_handle: Any) -> Any:
    """moto's DeleteMessage rebuilds a queue's message list from a copy and swaps it in,
    outside the lock SendMessage appends under: a message sent meanwhile was lost, and of two
    deletes at once the later one put back the message the other had deleted (still in
    flight, so it came back after the visibility timeout). ReceiveMessage marks messages
    received, and moves them to the dead-letter queue, unlocked too. The server serves each
    request on its own thread, and the pollers delete while the functions send: both now hold
    the queue's lock (reentrant; a long poll's wait releases it)."""
    with self._messages_lock:
        return inner(self, receipt_handle)


def _locked_receive(inner: Any, self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
    with self.get_queue(queue_name)._messages_lock:
        return inner(self, queue_name, *args, **kwargs)


# moto computes all of a queue's attributes, ApproximateNumberOfMessages among them, on every
# SendMessage (to read ContentBasedDeduplication) and for every message a ReceiveMessage hands
# out (to read MessageRetentionPeriod). Each count walks every message in the queue and reads
# the clock once per message, so a queue n deep costs O(n) clock reads per message sent and per
# message received. Found when follows started queueing a timeline sync each: `make run`'s demo
# (1,420 follows queued at once) took 100 s to drain in-process (moto 5.2.5), 67 s of it in those
# walks. On AWS a send or a receive costs the same at any depth. Here the retention check reads
# the retention period alone, and the counts and the visible-message list read the clock once
# per walk.
def _is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > unix_time()


def _visible_now(queue: Any) -> list:
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed_count(queue: Any) -> int:
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _in_flight_count(queue: Any) -> int:
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


FIXES = [
    Fix("sqs.queues_consistent_under_concurrent_requests", "correctness",
        "moto's DeleteMessage swaps in a rebuilt message list outside the queue's lock (and ReceiveMessage is "
        "unlocked): concurrent sends were lost and deleted messages came back; both now hold the lock",
        patches=(Patch(f"{QUEUE}.delete_message", wrap=_locked_delete),
                 Patch(f"{BACKEND}.receive_message", wrap=_locked_receive))),
    Fix("sqs.receive_cost_independent_of_depth", "speed",
        "moto computes every queue attribute (a walk of the queue, a clock read per message) for each message "
        "sent or received; the retention check and the counts read what they need, the clock once",
        patches=(Patch(f"{BACKEND}.is_message_valid_based_on_retention_period",
                       value=_is_message_valid_based_on_retention_period),
                 Patch(f"{QUEUE}.messages", value=property(_visible_now)),
                 Patch(f"{QUEUE}.approximate_number_of_messages",
                       value=property(lambda queue: len(_visible_now(queue)))),
                 Patch(f"{QUEUE}.approximate_number_of_messages_delayed", value=property(_delayed_count)),
                 Patch(f"{QUEUE}.approximate_number_of_messages_not_visible", value=property(_in_flight_count)))),
]
