"""Fixes to the embedded moto, applied in the process that hosts it (in-process mock or
ThreadedMotoServer). Each one is a moto behaviour that differs from AWS in a way that
breaks the local runtime; keep this list short and say why.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import math
import re
import threading
import time
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlparse

from infra.runtime import dynamodb_faults

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _honour_disabled_stream_mappings()
    _transactions_without_table_copies()
    _queries_read_one_partition()
    _index_queries_read_one_partition()
    _projected_queries_without_a_deep_copy()
    _consumed_capacity_as_billed()
    _hot_partitions_throttled()  # after the billing, which meters for it: a refused request is not billed
    dynamodb_faults.install()  # after the limits: an injected fault is refused before any metering
    _transaction_tokens_honoured()  # after the billing: a repeat is billed as reads, not as writes
    _dynamodb_responses_serialized_directly()
    _sqs_receive_cost_independent_of_depth()
    _sqs_queues_consistent_under_concurrent_requests()
    _requests_routed_by_a_remembered_host()
    _data_plane_requests_past_flask()
    _cognito_confirmation_codes()
    _cognito_unknown_refresh_tokens_refused()
    _iam_enforced_for_execution_roles()
    _action_names_remembered_per_class()  # last: the patches above may add actions


CONFIRMATION_CODES: dict[tuple[str, str], str] = {}  # (client id, username) -> the code Cognito would send
ANNOUNCE_CONFIRMATION_CODES = False  # set by `make run` with Stage=prod: codes are logged, as Cognito emails them


def _cognito_confirmation_codes() -> None:
    """moto confirms a sign-up whatever code it is given and has no ResendConfirmationCode, so
    a `prod`-stage sign-up could not be tried locally as it works on AWS. Here sign-up draws a
    six-digit code (Cognito would email it; `make run` with Stage=prod logs it, logger
    "infra.cognito"), ConfirmSignUp checks it (CodeMismatchException, and
    NotAuthorizedException for a confirmed user, as Cognito answers), and
    ResendConfirmationCode draws a new one."""
    import logging
    import secrets as random_codes

    from moto.cognitoidp.exceptions import CodeMismatchException, NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpBackend, UserStatus
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import ActionResult

    log = logging.getLogger("infra.cognito")

    def draw(client_id: str, username: str) -> None:
        code = f"{random_codes.randbelow(10**6):06d}"
        CONFIRMATION_CODES[(client_id, username)] = code
        if ANNOUNCE_CONFIRMATION_CODES:
            log.warning("confirmation code for user %s: %s (Cognito would send it by email)", username, code)

    original_sign_up = CognitoIdpBackend.sign_up

    def sign_up(self, client_id, username, password, attributes):
        result = original_sign_up(self, client_id, username, password, attributes)
        draw(client_id, username)
        return result

    def confirm_sign_up(self, client_id: str, username: str, code: str | None = None) -> str:
        pool = next(p for p in self.user_pools.values() if client_id in p.clients)
        user = self.admin_get_user(pool.id, username)
        if user.status == UserStatus.CONFIRMED:
            raise NotAuthorizedError("User cannot be confirmed. Current status is CONFIRMED")
        if code is None or CONFIRMATION_CODES.get((client_id, username)) != code:
            raise CodeMismatchException("Invalid verification code provided, please try again.")
        CONFIRMATION_CODES.pop((client_id, username), None)
        user.status = UserStatus.CONFIRMED
        return ""

    def responds_confirm_sign_up(self) -> ActionResult:
        backend = self._get_region_agnostic_backend()._find_backend_for_clientid(self._get_param("ClientId"))
        confirm_sign_up(backend, self._get_param("ClientId"), self._get_param("Username"),
                        self._get_param("ConfirmationCode"))
        return ActionResult({})

    def resend_confirmation_code(self) -> ActionResult:
        client_id, username = self._get_param("ClientId"), self._get_param("Username")
        backend = self._get_region_agnostic_backend()._find_backend_for_clientid(client_id)
        pool = next(p for p in backend.user_pools.values() if client_id in p.clients)
        user = backend.admin_get_user(pool.id, username)  # UserNotFoundException, as Cognito
        if user.status == UserStatus.CONFIRMED:
            raise NotAuthorizedError("User is already confirmed.")
        draw(client_id, username)
        return ActionResult({"CodeDeliveryDetails": {"Destination": "the local stack's log",
                                                     "DeliveryMedium": "EMAIL", "AttributeName": "email"}})

    CognitoIdpBackend.sign_up = sign_up
    CognitoIdpBackend.confirm_sign_up = confirm_sign_up
    CognitoIdpResponse.confirm_sign_up = responds_confirm_sign_up
    CognitoIdpResponse.resend_confirmation_code = resend_confirmation_code


def _cognito_unknown_refresh_tokens_refused() -> None:
    """moto's AdminInitiateAuth with REFRESH_TOKEN_AUTH looks the token up unguarded: a token
    the pool never issued raised KeyError (a 500; InitiateAuth checks it). Cognito answers
    NotAuthorizedException, as moto does for a revoked one."""
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpUserPool

    original = CognitoIdpUserPool.create_tokens_from_refresh_token

    @functools.wraps(original)
    def create_tokens_from_refresh_token(self, refresh_token: str):
        if refresh_token not in self.refresh_tokens:
            raise NotAuthorizedError("Invalid Refresh Token")
        return original(self, refresh_token)

    CognitoIdpUserPool.create_tokens_from_refresh_token = create_tokens_from_refresh_token


def _sqs_queues_consistent_under_concurrent_requests() -> None:
    """moto's DeleteMessage rebuilds a queue's message list from a copy and swaps it in,
    outside the lock SendMessage appends under: a message sent meanwhile was lost, and of two
    deletes at once the later one put back the message the other had deleted (still in
    flight, so it came back after the visibility timeout). ReceiveMessage marks messages
    received, and moves them to the dead-letter queue, unlocked too. The server serves each
    request on its own thread, and the pollers delete while the functions send: all three now
    hold the queue's lock (reentrant; a long poll's wait releases it)."""
    from moto.sqs.models import Queue, SQSBackend

    original_delete, original_receive = Queue.delete_message, SQSBackend.receive_message

    @functools.wraps(original_delete)
    def delete_message(self, receipt_handle):
        with self._messages_lock:
            return original_delete(self, receipt_handle)

    @functools.wraps(original_receive)
    def receive_message(self, queue_name, *args, **kwargs):
        with self.get_queue(queue_name)._messages_lock:
            return original_receive(self, queue_name, *args, **kwargs)

    delete_message._local_runtime = True  # type: ignore[attr-defined]
    Queue.delete_message = delete_message
    SQSBackend.receive_message = receive_message


def _requests_routed_by_a_remembered_host() -> None:
    """moto's server finds each request's backend by trying its host against the URL pattern
    of every service it emulates (hundreds of regular expressions), under one lock that every
    request takes: about a sixth of the emulator's time under load. The answer depends on the
    host alone (the patterns never change), so it is remembered per host."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    remembered: dict[str, Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self, host):
        backend = remembered.get(host)
        if backend is None:
            backend = original(self, host)
            if backend is not None:  # no answer (an unknown host) is not remembered
                remembered[host] = backend
        return backend

    get_backend_for_host._local_runtime = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host


def _action_names_remembered_per_class() -> None:
    """moto finds a request's handler by listing every function of its response class
    (inspect.getmembers: every attribute, sorted) and by converting the action's name to
    snake case, on every request: about 7% of the emulator's time for a small request. Both
    answers depend on the class and the name alone, so they are remembered."""
    from moto.core import responses

    responses.method_names_from_class = functools.cache(
        lambda cls, names=responses.method_names_from_class: frozenset(names(cls)))
    responses.camelcase_to_underscores = functools.lru_cache(maxsize=4096)(responses.camelcase_to_underscores)


def _data_plane_requests_past_flask() -> None:
    """Every request to moto's server goes through a Flask app per service (in debug mode,
    with CORS hooks, a request context and URL routing) only to reach the service's
    `dispatch` with a request, a URL and headers, and to wrap its (status, headers, body)
    in a response: about a sixth of the emulator's time for a small request. The requests
    that carry a timeline's traffic (DynamoDB, its streams and SQS: JSON protocols, POST to
    "/", the API named by X-Amz-Target) now reach `dispatch` directly, the way moto's own
    view (convert_to_flask_response) calls it, with the request class moto's Flask apps use.
    Everything else (other paths and services, a browser's request with an Origin header,
    which wants Flask's CORS answer) still goes through Flask."""
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication
    from moto.sqs.responses import SQSResponse

    handlers = {"DynamoDB_20120810": DynamoHandler, "DynamoDBStreams_20120810": DynamoDBStreamsHandler,
                "AmazonSQS": SQSResponse}
    original = DomainDispatcherApplication.__call__

    def direct(handler: Any, environ: dict[str, Any], start_response: Any) -> Any:
        request = BackendRequest(environ)
        recorder._record_request(request)
        try:
            result = handler.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        return Response(response=content, status=status, headers=headers)(environ, start_response)

    @functools.wraps(original)
    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/"
                and "HTTP_ORIGIN" not in environ):
            handler = handlers.get(environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
            if handler is not None:
                return direct(handler, environ, start_response)
        return original(self, environ, start_response)

    __call__._local_runtime = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__


def _sqs_receive_cost_independent_of_depth() -> None:
    """moto computes all of a queue's attributes, ApproximateNumberOfMessages among them, on
    every SendMessage (to read ContentBasedDeduplication) and for every message a
    ReceiveMessage hands out (to read MessageRetentionPeriod). Each count walks every message
    in the queue and reads the clock once per message, so a queue n deep costs O(n) clock
    reads per message sent and per message received. Found when follows started queueing a
    timeline sync each: `make run`'s demo (1,420 follows queued at once) took 100 s to drain
    in-process, 67 s of it in those walks. On AWS a send or a receive costs the same at any
    depth. Here the retention check reads the retention period alone, and the counts and the
    visible-message list read the clock once per walk."""
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Queue, SQSBackend

    def is_message_valid_based_on_retention_period(self, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    def visible_now(queue: Any) -> list:
        now = unix_time_millis()
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed_count(queue: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in queue._messages if now < m.delayed_until)

    def in_flight_count(queue: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in queue._messages if not now > m.visible_at)

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    Queue.messages = property(visible_now)
    Queue.approximate_number_of_messages = property(lambda queue: len(visible_now(queue)))
    Queue.approximate_number_of_messages_delayed = property(delayed_count)
    Queue.approximate_number_of_messages_not_visible = property(in_flight_count)


def _honour_disabled_stream_mappings() -> None:
    """moto hands every DynamoDB stream record to the table's event source mappings itself,
    ignoring their Enabled flag (it honours it for SQS). Without Docker that invocation
    fails, and moto then empties the shard, so GetRecords never sees the records. The
    local runtime disables the mappings and polls the stream itself, as Lambda does; with
    this fix a disabled mapping leaves the shard alone."""
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    original_add = StreamShard.add

    def add(self, old, new):
        mappings = self.table.lambda_event_source_mappings
        if any(getattr(esm, "enabled", True) for esm in mappings.values()):
            return original_add(self, old, new)
        view_type = self.table.stream_specification["StreamViewType"]
        event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        sequence = len(self.items) + self.starting_sequence_number
        self.items.append(StreamRecord(self.table, view_type, event_name, old, new, sequence))

    StreamShard.add = add


_transaction_lock = threading.RLock()  # transactions are serialized among themselves, as DynamoDB isolates them


def _transactions_without_table_copies() -> None:
    """moto's TransactWriteItems deep-copies every table it touches so it can roll back.
    That costs time linear in the table (about 5 ms at 100 items, 220 ms at 4,000, measured
    in-process), so seeding follows (one transaction each) grows quadratically, and in the
    threaded server the copy also races concurrent writers ("dictionary changed size during
    iteration", a 500 that boto retries). DynamoDB's own semantics need no copy: check every
    condition first, write only if all pass, with transactions serialized among themselves.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (MultipleTransactionsException, TooManyTransactionsException,
                                          TransactionCanceledException, TransactWriteSingleOpException)
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_local_runtime", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with _transaction_lock:
            planned, reasons, seen = [], [], set()
            for entry in transact_items:  # phase 1: validate against the current state
                if len(entry) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                identity = (op["TableName"], str(sorted(key.items())))
                if identity in seen:
                    raise MultipleTransactionsException()
                seen.add(identity)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                if condition is not None and not get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"),
                        op.get("ExpressionAttributeValues")).expr(current):
                    old = (current.to_json()["Attributes"] if current and
                           op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
                    reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
                else:
                    reasons.append((None, None, None))
                planned.append((op_type, op, key))
            if any(code for code, _, _ in reasons):
                raise TransactionCanceledException(reasons)
            for op_type, op, key in planned:  # phase 2: every condition held; write
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"])
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names,
                                     expression_attribute_values=values)

    transact_write_items._local_runtime = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items


TOKEN_WINDOW_S = 600  # DynamoDB: a ClientRequestToken is valid for 10 minutes after its request completed
# Wall-clock time: the tokens are kept in the DynamoDB backend, which `--persist` pickles across
# restarts of the local stack (infra/runtime/snapshot.py), where a monotonic clock starts again.
_token_clock = time.time


def _transaction_tokens_honoured() -> None:
    """moto ignores TransactWriteItems' ClientRequestToken. botocore draws one for every call
    (idempotencyToken in its model) and sends it again with each retry of that call, so that on
    AWS a transaction whose answer was lost (a timeout, a reset connection) and that botocore
    retried commits once and answers success. On moto the retry ran the transaction again and
    its own "attribute_not_exists" conditions failed: a post that was stored answered
    TransactionCanceled (and was written again under a new id), and a sign-up's handle claim
    answered "handle taken" for the claim it had just made, leaving a profile without a login
    (issue 21, defect 3).

    DynamoDB's rule, as documented for TransactWriteItems: a token is valid for 10 minutes
    after the first request that used it completed; within them, the same token with the same
    request succeeds without writing anything (with ReturnConsumedCapacity, the repeat reports
    read units, for reading the items, not write units), and with any parameter changed it is
    refused, IdempotentParameterMismatchException (400). After 10 minutes the token is new
    again. Here each request that committed is remembered (its parameters, when it completed)
    in its account and region's backend; a request that failed wrote nothing and is not
    remembered, so its retry runs (DynamoDB's guide speaks of repeats of a call that
    succeeded). A repeat is billed one strongly consistent read of each item (AWS says only
    "read units"). The check, the transaction and the record are one step under the
    transactions' lock, so a repeat sent while the first is still running waits for it and
    then answers as a repeat (DynamoDB may answer that one TransactionInProgressException,
    which the caller retries). Measured: a committed transaction retried by botocore (forced by
    answering its needs-retry event; tests/runtime/test_moto_patches.py), in-process and over the
    server: TransactionCanceled (ConditionalCheckFailed) before, success and one write now."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.transact_write_items, "_honours_tokens", False):
        return
    inner = DynamoHandler.transact_write_items

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                             "this ClientRequestToken was used by a different request within the last 10 minutes")

    def repeated(handler: Any) -> ActionResult:
        """The answer to a repeat: nothing written, the items read."""
        body: dict[str, Any] = {"ItemCollectionMetrics": {}}
        mode = handler.body.get("ReturnConsumedCapacity", "NONE")
        if mode != "NONE":
            backend, bill, labels = handler.dynamodb_backend, _Bill(), []
            for entry in handler.body["TransactItems"]:
                op = next(iter(entry.values()))
                table = backend.get_table(op["TableName"])
                key = op.get("Key") or {name: op["Item"][name] for name in
                                        (table.hash_key_attr, table.range_key_attr) if name}
                item = table.get_item(*backend.get_keys_value(table, key))
                bill.add(table, _read_units(_attributes_size(item.attrs) if item is not None else 0, True))
                labels.append(op["TableName"])
            body["ConsumedCapacity"] = [bill.render(label, backend.get_table(label).name, mode, "Read")
                                        for label in dict.fromkeys(labels)]
        return ActionResult(body)

    @functools.wraps(inner)
    def transact_write_items(self):
        token = self.body.get("ClientRequestToken")
        if token is None:
            return inner(self)
        request = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"},
                             sort_keys=True, default=_blob)  # binary values arrive decoded, as bytes
        with _transaction_lock:
            # token -> (the request, when it completed), oldest first: expired ones are dropped
            remembered = self.dynamodb_backend.__dict__.setdefault("_local_runtime_tokens", {})
            now = _token_clock()
            while remembered and now - next(iter(remembered.values()))[1] >= TOKEN_WINDOW_S:
                del remembered[next(iter(remembered))]
            if token in remembered:
                if remembered[token][0] != request:
                    raise IdempotentParameterMismatch()
                return repeated(self)
            result = inner(self)
            remembered[token] = (request, _token_clock())
            return result

    transact_write_items._honours_tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items


def _queries_read_one_partition() -> None:
    """moto answers every Query by sorting the whole table (`Table.all_items`) and then
    keeping one partition, so a query's cost grows with the table, not the partition: with
    the demo's ~40,000 timeline entries a one-item query took longer than a whole request
    should. DynamoDB reads one partition. During a table Query, `all_items` now returns just
    that partition; during an index Query it returns the items unsorted (the query sorts what
    it keeps), when `_index_queries_read_one_partition` cannot narrow them to the index
    partition. Scans and everything else see moto's original behaviour."""
    from moto.dynamodb.models.table import Table

    local = threading.local()
    original_all_items, original_query = Table.all_items, Table.query

    @functools.wraps(original_all_items)
    def all_items(self):
        hint = getattr(local, "hint", None)
        if hint is None or hint[0] is not self:
            return original_all_items(self)
        _, hash_key, by_index = hint
        if by_index:
            if self.range_key_attr:
                return [item for partition in self.items.values() for item in partition.values()]
            return list(self.items.values())
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    @functools.wraps(original_query)
    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        conditions = kwargs.get("hash_key_conditions")
        if hash_key is None and not index_name and not conditions:
            return original_query(self, hash_key, *args, **kwargs)
        local.hint = (self, hash_key, bool(index_name) or hash_key is None)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            local.hint = None

    Table.all_items = all_items
    Table.query = query


def _projected_queries_without_a_deep_copy() -> None:
    """moto's Query deep-copies every item it returns before projecting them, so that what
    it hands back is not the stored item. A projected query (ProjectionExpression, which
    pynamodb's attributes_to_get sends, and nearly every read of ours has) builds new items
    from the copies anyway: the copy is thrown away, and it was about a tenth of the
    emulator's time while the demo fans out. During a projected Query the copy is skipped;
    the query reads the stored items (to filter, and to project them into new ones) and
    changes none."""
    import copy as copy_module

    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table

    local = threading.local()

    class _Copy:
        """`copy` as moto's table module sees it: deepcopy is the identity during a
        projected Query on this thread."""
        copy = staticmethod(copy_module.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(local, "projected", False):
                return value
            return copy_module.deepcopy(value, memo)

    original_query = Table.query

    @functools.wraps(original_query)
    def query(self, hash_key, *args, **kwargs):
        projection = kwargs.get("projection_expressions", args[5] if len(args) > 5 else None)
        if not projection:
            return original_query(self, hash_key, *args, **kwargs)
        local.projected = True
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            local.projected = False

    table_module.copy = _Copy()
    Table.query = query


# ------------------------------------------------------------------ item writes, observed
# Every write of an item in moto's DynamoDB ends in one of three methods: Table.put_item
# (PutItem, BatchWriteItem puts, transaction puts, PartiQL, imports, and UpdateItem when it
# creates the item), Table.delete_item (DeleteItem, batch and transaction deletes, PartiQL),
# or DynamoDBBackend.update_item (UpdateItem and transaction updates, which change the
# stored Item in place, possibly an index key attribute). `_observed` wraps those three, and
# is the one place where the state of an item just before and just after its write is seen:
# the index partitions (below) follow each write, and capacity billing reads the old item's
# size there. Writes are serialized by `_write_lock`, so an observer sees each write whole;
# ThreadedMotoServer runs requests on several threads, and a lazily built index partition
# map must not be built while another thread writes. A write nested in another on the same
# item (UpdateItem creating it with put_item) is part of the outer write, observed once.
_write_lock = threading.RLock()
_write_observers: list[Any] = []  # objects with before(table, key) -> state, after(table, key, state, ok)
_writes_in_progress = threading.local()


def _observe_item_writes(observer: Any) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if observer in _write_observers:
        return
    _write_observers.append(observer)
    if len(_write_observers) > 1:
        return
    original_put, original_delete = Table.put_item, Table.delete_item
    original_update = DynamoDBBackend.update_item

    @functools.wraps(original_put)
    def put_item(self, item_attrs, *args, **kwargs):
        try:
            key = (DynamoType(item_attrs[self.hash_key_attr]),
                   DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None)
        except Exception:  # no key: moto rejects the item before storing anything
            key = None
        return _observed(self, key, lambda: original_put(self, item_attrs, *args, **kwargs))

    @functools.wraps(original_delete)
    def delete_item(self, hash_key, range_key):
        # moto pops the whole partition if a range table is given no range key: observe it as unknown
        key = None if self.range_key_attr and not range_key else (hash_key, range_key if self.range_key_attr else None)
        return _observed(self, key, lambda: original_delete(self, hash_key, range_key))

    @functools.wraps(original_update)
    def update_item(self, table_name, key, *args, **kwargs):
        try:
            table = self.get_table(table_name)
        except Exception:
            return original_update(self, table_name, key, *args, **kwargs)
        try:  # moto's own reading of `key`
            stored_key = (DynamoType(key[table.hash_key_attr]),
                          DynamoType(key[table.range_key_attr]) if table.range_key_attr else None)
        except Exception:
            stored_key = None
        return _observed(table, stored_key, lambda: original_update(self, table_name, key, *args, **kwargs))

    Table.put_item, Table.delete_item = put_item, delete_item
    DynamoDBBackend.update_item = update_item


def _observed(table: Any, key: tuple | None, write: Any) -> Any:
    active = _writes_in_progress.__dict__.setdefault("keys", set())
    token = (id(table), key)
    with _write_lock:
        if key is not None and token in active:
            return write()
        states = [observer.before(table, key) for observer in _write_observers]
        active.add(token)
        ok = False
        try:
            result = write()
            ok = True
            return result
        finally:
            active.discard(token)
            for observer, state in zip(_write_observers, states):
                observer.after(table, key, state, ok)


def _stored(table: Any, key: tuple) -> Any:
    """The Item stored under (hash, range) now, or None; never creates a partition."""
    hash_key, range_key = key
    if not table.range_key_attr:
        return table.items.get(hash_key)
    partition = table.items.get(hash_key)
    return partition.get(range_key) if partition is not None and range_key is not None else None


def _all_stored(table: Any):
    for hash_key, partition in list(table.items.items()):
        if table.range_key_attr:
            for range_key, item in list(partition.items()):
                yield (hash_key, range_key), item
        else:
            yield (hash_key, None), partition


# ------------------------------------------------------------------ index partitions
_INDEX_MAPS = "_local_runtime_index_partitions"
_SCALAR_KEY_TYPES = ("S", "N", "B")


class _IndexMaps(dict):
    """index name -> _IndexPartitions, stored on the Table. moto deep-copies tables (backups);
    a copy starts empty and is rebuilt from the copied items on first use."""

    def __deepcopy__(self, memo: dict) -> _IndexMaps:
        return _IndexMaps()

    def __reduce__(self):
        return (_IndexMaps, ())


class _IndexPartitions:
    """One secondary index as DynamoDB stores it: index hash key value -> {primary key ->
    Item}, holding only items that have every key attribute of the index (sparse index). The
    Items are the table's own objects, so in-place updates of other attributes show through."""

    def __init__(self, table: Any, index: Any):
        self.index = index
        self.schema = _schema_of(index)
        self.key_attrs = [name for name, _ in self.schema]
        self.hash_attr = next(name for name, kind in self.schema if kind == "HASH")
        # Keyed by _token()s, not DynamoTypes: equal exactly when the DynamoTypes are, but
        # hashed without re-parsing a Decimal each time (which made building 10x slower).
        self.partitions: dict[tuple, dict[tuple, Any]] = {}
        self.placed: dict[tuple, tuple] = {}  # primary key -> the index hash value it is filed under
        for key, item in _all_stored(table):
            self.place(key, item)

    def describes(self, index: Any) -> bool:
        return index is self.index and _schema_of(index) == self.schema

    def partition(self, value: Any) -> list:
        return list(self.partitions.get(_token(value), {}).values())

    def place(self, key: tuple, item: Any) -> None:
        """File the item now stored under `key` (None: deleted) where the index keeps it."""
        key = (_token(key[0]), _token(key[1]))
        old = self.placed.pop(key, None)
        if old is not None:
            partition = self.partitions.get(old)
            if partition is not None:
                partition.pop(key, None)
                if not partition:
                    del self.partitions[old]
        if item is None or not all(name in item.attrs for name in self.key_attrs):
            return
        value = item.attrs[self.hash_attr]
        if value.type not in _SCALAR_KEY_TYPES:
            return  # not a valid key value: no query can match it
        value = _token(value)
        self.partitions.setdefault(value, {})[key] = item
        self.placed[key] = value


def _token(value: Any) -> tuple | None:
    """A scalar DynamoType as an immutable, cheaply hashed (type, value) pair."""
    return None if value is None else (value.type, value.cast_value)


def _schema_of(index: Any) -> tuple:
    return tuple((k["AttributeName"], k["KeyType"]) for k in index.schema)


class _IndexUpkeep:
    """Write observer: re-files the written item in every index partition map built so far."""

    @staticmethod
    def before(table: Any, key: tuple | None) -> None:
        return None

    @staticmethod
    def after(table: Any, key: tuple | None, state: None, ok: bool) -> None:
        maps = table.__dict__.get(_INDEX_MAPS)
        if not maps:
            return
        if key is None:
            if ok:  # a write we could not place: rebuild on next use
                maps.clear()
            return
        item = _stored(table, key)
        for partitions in maps.values():
            partitions.place(key, item)


def _index_partition(table: Any, index_name: str, conditions: Any) -> list | None:
    """The items of one index partition, or None when moto's own walk must answer (unknown
    index, no hash key condition, or a hash value that cannot be a key)."""
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    value = next((v for name, v in conditions or () if name == hash_attr), None)
    if value is None or getattr(value, "type", None) not in _SCALAR_KEY_TYPES:
        return None
    with _write_lock:
        maps = table.__dict__.get(_INDEX_MAPS)
        if maps is None:
            maps = table.__dict__[_INDEX_MAPS] = _IndexMaps()
        partitions = maps.get(index_name)
        if partitions is None or not partitions.describes(index):
            partitions = maps[index_name] = _IndexPartitions(table, index)
        return partitions.partition(value)


def _index_queries_read_one_partition() -> None:
    """moto answers a Query on a secondary index by walking every item of the table and
    keeping those whose index hash key matches (`_queries_read_one_partition` only saves it
    the sort), so the home timeline's read of a followed celebrity's posts (ByAuthor, on every
    home timeline read) costs time linear in TweetsTable. DynamoDB reads one index partition.
    Each table now keeps, per index, a map index hash value -> {primary key -> Item} (items
    lacking an index key attribute are not in it, as on AWS), built from the table on the
    index's first Query and then kept current by every item write (`_observe_item_writes`);
    an index Query walks only its partition, and moto sorts, pages and projects it as before.
    A ByAuthor-like Query (author_id = :a AND tweet_id < :b, descending, Limit 25, 20 posts
    per author), in-process through boto3, median: with the patches before this one 4.2 ms at
    1,000 items and 39 ms at 50,000 (unpatched moto 4.6 and 78 ms); with it 3.5 ms at both
    (half of it moto's response serializer). The map costs one walk of the table on the
    index's first Query: 9 ms at 1,000 items, 125 ms at 50,000."""
    from moto.dynamodb.models.table import Table

    local = threading.local()
    inner_all_items, inner_query = Table.all_items, Table.query
    signature = inspect.signature(inspect.unwrap(inner_query))
    _observe_item_writes(_IndexUpkeep)

    @functools.wraps(inner_all_items)
    def all_items(self):
        hint = getattr(local, "hint", None)
        if hint is None or hint[0] is not self:
            return inner_all_items(self)
        return hint[1]

    @functools.wraps(inner_query)
    def query(self, *args, **kwargs):
        arguments = signature.bind_partial(self, *args, **kwargs).arguments
        partition = None
        if arguments.get("index_name"):
            partition = _index_partition(self, arguments["index_name"], arguments.get("hash_key_conditions"))
        if partition is None:
            return inner_query(self, *args, **kwargs)
        local.hint = (self, partition)
        try:
            return inner_query(self, *args, **kwargs)
        finally:
            local.hint = None

    Table.all_items = all_items
    Table.query = query


# ------------------------------------------------------------------ capacity, as billed
_billing = threading.local()  # .bill: the _Bill of the request this thread is serving, if it asked for one


def _value_size(value: Any) -> int:
    """Bytes DynamoDB counts for an attribute value (its name not included)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(value, DynamoType):
        value = DynamoType(value)
    kind, v = value.type, value.value
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return _binary_size(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "BS":
        return sum(_binary_size(b) for b in v)
    if kind == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(_value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(e) + 1 for k, e in v.items())
    return len(str(v).encode("utf-8"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed), plus 1."""
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return (len(digits) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, (bytes, bytearray)) else len(base64.b64decode(value))


def _attributes_size(attrs: Any, names: Any = None) -> int:
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in attrs.items()
               if names is None or name in names)


def item_size(item: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for an item in DynamoDB JSON ({"name": {"S": "..."}}), as it bills
    them; the benchmark uses it to report the sizes its capacity model was fed."""
    return _attributes_size(item)


def _projected_names(table: Any, index: Any) -> set | None:
    """Attribute names an index entry holds; None for all of them."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    names = set(table.table_key_attrs) | {k["AttributeName"] for k in index.schema}
    if kind == "INCLUDE":
        names |= set(projection.get("NonKeyAttributes", []))
    return names


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


class _Footprint:
    """What a stored item costs to write: its size, and per index its entry (key values,
    size, a canonical form to tell whether the projected view changed, and the partition key
    value as a _token)."""

    def __init__(self, table: Any, item: Any):
        from moto.dynamodb.models.utilities import DynamoJsonEncoder

        self.size = _attributes_size(item.attrs)
        self.entries: dict[str, tuple] = {}
        for index in table.all_indexes():
            key_names = [k["AttributeName"] for k in index.schema]
            if not all(name in item.attrs for name in key_names):
                continue  # not in this (sparse) index
            names = _projected_names(table, index)
            keys = tuple((item.attrs[n].type, item.attrs[n].cast_value) for n in key_names)
            view = {n: v for n, v in item.attrs.items() if names is None or n in names}
            hash_at = next((i for i, k in enumerate(index.schema) if k["KeyType"] == "HASH"), 0)
            self.entries[index.name] = (keys, _attributes_size(view),
                                        json.dumps(view, cls=DynamoJsonEncoder, sort_keys=True), keys[hash_at])


def _index_entry_writes(table: Any, old: _Footprint | None, new: _Footprint | None):
    """Per index whose entry an item write changes, (index, 1 KB units, the entry's partition
    key _token) for the entry put or deleted, both when its key changed (each under its own
    partition); a changed view under the same key costs the larger of the two entries."""
    for index in table.all_indexes():
        before = old.entries.get(index.name) if old else None
        after = new.entries.get(index.name) if new else None
        if before is None and after is None:
            continue
        if before is None or after is None:
            entry = before or after
            yield index, _write_units(entry[1]), entry[3]
        elif before[0] != after[0]:
            yield index, _write_units(before[1]), before[3]
            yield index, _write_units(after[1]), after[3]
        elif before[2] != after[2]:
            yield index, _write_units(max(before[1], after[1])), after[3]


class _Bill:
    """Capacity units one request consumed: per table, on the table and on each index; and,
    when `metered` (the partition limits are on), per partition too."""

    def __init__(self, transactional: bool = False, metered: bool = False):
        self.factor = 2.0 if transactional else 1.0  # TransactWriteItems: 2 units per write
        self.tables: dict[str, dict[str, Any]] = {}
        # _partition_id -> units; None when not metered (callers then skip finding the keys)
        self.partitions: dict[tuple, float] | None = {} if metered else None

    def add(self, table: Any, units: float, index: Any = None, key: tuple | None = None) -> None:
        """`key`: the partition key value (a _token) the units were spent in, for the meter: the
        table's, or a global index's (a local index lives in its table's partitions)."""
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        entry = self.tables.setdefault(table.name, {"table": 0.0, "GlobalSecondaryIndexes": {},
                                                    "LocalSecondaryIndexes": {}})
        is_global = isinstance(index, GlobalSecondaryIndex)
        if index is None:
            entry["table"] += units
        else:
            kind = "GlobalSecondaryIndexes" if is_global else "LocalSecondaryIndexes"
            entry[kind][index.name] = entry[kind].get(index.name, 0.0) + units
        if key is not None and self.partitions is not None:
            partition = _partition_id(table, index.name if is_global else None, key)
            self.partitions[partition] = self.partitions.get(partition, 0.0) + units

    def spread(self, table: Any, units: float, index: Any, items: list, sizes: list[int]) -> None:
        """Meter the units of one Scan page over the partitions its items came from, in
        proportion to the bytes read from each (DynamoDB rounds a page once, not per
        partition), so the partitions' figures add up to the page's bill."""
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        if self.partitions is None or not items:
            return
        is_global = isinstance(index, GlobalSecondaryIndex)
        hash_attr = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH") if is_global \
            else table.hash_key_attr
        read: dict[tuple, int] = {}
        for item, size in zip(items, sizes):
            key = _token(item.attrs.get(hash_attr) or item.attrs.get(table.hash_key_attr))
            read[key] = read.get(key, 0) + size
        total = sum(read.values())
        for key, size in read.items():
            partition = _partition_id(table, index.name if is_global else None, key)
            self.partitions[partition] = self.partitions.get(partition, 0.0) + units * size / total

    def write(self, table: Any, old: _Footprint | None, new: _Footprint | None, key: tuple | None = None) -> None:
        """One item write: the larger of the item's sizes before and after, in 1 KB units (at
        least 1: a delete of nothing costs 1), and per index whose entry changed, the
        entry's put or delete, or both when its key changed. `key`: the item's partition key
        value (a _token), for the meter."""
        self.add(table, self.factor * _write_units(max(old.size if old else 0, new.size if new else 0)), key=key)
        for index, units, entry_key in _index_entry_writes(table, old, new):
            self.add(table, self.factor * units, index, entry_key)

    def render(self, label: str, table_name: str, mode: str, kind: str | None = None) -> dict[str, Any]:
        """AWS's ConsumedCapacity for one table; `kind` ("Read"/"Write") adds the
        ReadCapacityUnits/WriteCapacityUnits that transactions report."""
        entry = self.tables.get(table_name) or {"table": 0.0, "GlobalSecondaryIndexes": {},
                                                "LocalSecondaryIndexes": {}}

        def capacity(units: float) -> dict[str, float]:
            return {"CapacityUnits": units, **({f"{kind}CapacityUnits": units} if kind else {})}

        total = entry["table"] + sum(u for k in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
                                     for u in entry[k].values())
        out: dict[str, Any] = {"TableName": label, **capacity(total)}
        if mode == "INDEXES":
            out["Table"] = capacity(entry["table"])
            for k in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if entry[k]:
                    out[k] = {name: capacity(units) for name, units in entry[k].items()}
        return out


class _WriteBilling:
    """Write observer: bills each item write of a request that asked for its capacity."""

    @staticmethod
    def before(table: Any, key: tuple | None) -> Any:
        bill = getattr(_billing, "bill", None)
        if bill is None or key is None:
            return None
        item = _stored(table, key)
        return bill, (_Footprint(table, item) if item is not None else None)

    @staticmethod
    def after(table: Any, key: tuple | None, state: Any, ok: bool) -> None:
        if state is None or not ok:  # a failed write answers with an error, without capacity
            return
        bill, old = state
        item = _stored(table, key)
        bill.write(table, old, _Footprint(table, item) if item is not None else None,
                   _token(key[0]) if bill.partitions is not None else None)


def _consumed_capacity_as_billed() -> None:
    """moto answers ReturnConsumedCapacity with constants whatever the items: 1.0 per call
    (0.5 for GetItem), every Query and Scan alike whatever it read, 1 per key for
    BatchGetItem, 1 per table for BatchWriteItem, an empty list for TransactWriteItems, and
    UpdateItem and the batch calls report it even when not asked. A benchmark that sums the
    capacity every call reports (ReturnConsumedCapacity=TOTAL or INDEXES) so learns nothing
    about what the service would cost. Capacity is now what on-demand DynamoDB bills: item size = sum of
    UTF-8 attribute name lengths and value sizes (strings UTF-8 bytes, numbers 1 byte per two
    significant digits + 1, binary raw bytes, null/bool 1, list/map 3 + 1 per element).
    GetItem ceil(size/4 KB) read units, halved unless ConsistentRead; BatchGetItem each item
    so; TransactGetItems twice the strong units. Query and Scan: the items read (before
    FilterExpression and ProjectionExpression; for an index, the index entries) summed and
    rounded up to 4 KB once per request, halved if eventually consistent, at least 0.5/1.
    PutItem/UpdateItem/DeleteItem, and each BatchWriteItem request: ceil(max(old, new
    size)/1 KB), at least 1 (deleting nothing costs 1); plus per secondary index whose entry
    changed, 1 KB units of the entry put or deleted (both when its key changed);
    TransactWriteItems twice all that, and a ConditionCheck counts as a write of its item.
    Responses carry AWS's shapes: TOTAL {TableName, CapacityUnits}, INDEXES adds Table and
    GlobalSecondaryIndexes/LocalSecondaryIndexes, batch and transaction calls a list per
    table (transactions add Read/WriteCapacityUnits); with NONE there is none. Measured
    in-process through boto3 on a table with one KEYS_ONLY index (pynamodb asks for TOTAL on
    every call): asking adds ~0.1 ms to a PutItem (0.7 ms), UpdateItem (1.0 ms), GetItem
    (0.8 ms) or ByAuthor Query (3.5 ms). While the partition limits are on
    (`_hot_partitions_throttled`), every request is billed, asked or not, and each unit is also
    recorded against the partition it was spent in, for the limits to meter."""
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.get_item, "_local_runtime", False):
        return
    _observe_item_writes(_WriteBilling)

    # Query and Scan: run moto's without the filter and the projection, bill what was read,
    # then filter and project exactly as moto does.
    inner_query, inner_scan = Table.query, Table.scan
    query_signature = inspect.signature(inspect.unwrap(inner_query))
    scan_signature = inspect.signature(inspect.unwrap(inner_scan))

    def billed_read(inner, signature, projection_name):
        @functools.wraps(inner)
        def read(self, *args, **kwargs):
            bill = getattr(_billing, "bill", None)
            if bill is None:
                return inner(self, *args, **kwargs)
            arguments = dict(signature.bind(self, *args, **kwargs).arguments)
            del arguments["self"]
            extra = arguments.pop("filter_kwargs", {})
            filter_expression = arguments.pop("filter_expression", None)
            projection = arguments.pop(projection_name, None)
            items, scanned, last_key = inner(self, filter_expression=None, **{projection_name: None},
                                             **arguments, **extra)
            index_name = arguments.get("index_name")
            index = self.get_index(index_name) if index_name else None
            sizes = [_attributes_size(item.attrs) for item in items]
            units = _read_units(sum(sizes), bool(arguments.get("consistent_read")))
            if projection_name == "projection_expression":  # a Scan: metered by each item's partition
                bill.add(self, units, index)
                bill.spread(self, units, index, items, sizes)
            else:  # an index query: Table 0.0, the units on the index (and metered on its partition)
                bill.add(self, units, index, _token(arguments.get("hash_key")) if bill.partitions is not None else None)
            if filter_expression is not None:
                items = [item for item in items if filter_expression.expr(item)]
            if projection:
                items = [item.project(projection) for item in items]
            return items, scanned, last_key
        return read

    Table.query = billed_read(inner_query, query_signature, "projection_expressions")
    Table.scan = billed_read(inner_scan, scan_signature, "projection_expression")

    def item_size(handler: Any, table_name: str, key: dict, bill: _Bill) -> tuple[Any, int, tuple | None]:
        """The table, the stored item's size, and (when metered) its partition key _token."""
        backend = handler.dynamodb_backend
        table = backend.get_table(table_name)
        item = table.get_item(*backend.get_keys_value(table, key))
        return (table, _attributes_size(item.attrs) if item is not None else 0,
                _hash_token(table, key) if bill.partitions is not None else None)

    # Reads of single items are billed from the request once moto has answered it; `response`
    # is moto's answer (for the keys it left unprocessed).
    def bill_get_item(handler, response, bill):
        request = handler.body
        table, size, key = item_size(handler, request["TableName"], request["Key"], bill)
        bill.add(table, _read_units(size, bool(request.get("ConsistentRead"))), key=key)

    def bill_batch_get_item(handler, response, bill):
        unprocessed = response.get("UnprocessedKeys") or {}
        for label, request in handler.body["RequestItems"].items():
            skip = unprocessed.get(label, {}).get("Keys", [])  # dicts: compared whatever their order
            for key in request["Keys"]:
                if key not in skip:  # (binary keys arrive as bytes, which json.dumps refuses)
                    table, size, partition_key = item_size(handler, label, key, bill)
                    bill.add(table, _read_units(size, bool(request.get("ConsistentRead"))), key=partition_key)

    def bill_transact_get_items(handler, response, bill):
        for entry in handler.body["TransactItems"]:
            table, size, key = item_size(handler, entry["Get"]["TableName"], entry["Get"]["Key"], bill)
            bill.add(table, 2 * _read_units(size, True), key=key)

    def bill_condition_checks(handler, response, bill):  # the transaction's writes were observed
        for entry in handler.body["TransactItems"]:
            if "ConditionCheck" in entry:
                check = entry["ConditionCheck"]
                table, size, key = item_size(handler, check["TableName"], check["Key"], bill)
                bill.add(table, bill.factor * _write_units(size), key=key)

    def tables_of(handler: Any, op: str) -> list[str]:
        body = handler.body
        if op in ("batch_get_item", "batch_write_item"):
            return list(body["RequestItems"])
        if op in ("transact_get_items", "transact_write_items"):
            return list(dict.fromkeys(next(iter(e.values()))["TableName"] for e in body["TransactItems"]))
        return [body["TableName"]]

    extras = {"get_item": bill_get_item, "batch_get_item": bill_batch_get_item,
              "transact_get_items": bill_transact_get_items, "transact_write_items": bill_condition_checks}
    kinds = {"transact_get_items": "Read", "transact_write_items": "Write"}
    single = {"get_item", "put_item", "update_item", "delete_item", "query", "scan"}

    def billed(op: str, inner: Any) -> Any:
        @functools.wraps(inner)
        def handle(self):
            mode = self.body.get("ReturnConsumedCapacity", "NONE")
            if mode not in ("INDEXES", "TOTAL", "NONE"):
                raise MockValidationException(
                    f"1 validation error detected: Value '{mode}' at 'returnConsumedCapacity' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")
            metered = _partition_limits is not None  # then billed whatever was asked, for the meter
            bill = (_Bill(transactional=op == "transact_write_items", metered=metered)
                    if mode != "NONE" or metered else None)
            _billing.bill = bill
            try:
                result = inner(self)
            finally:
                _billing.bill = None
            body = result.result
            body.pop("ConsumedCapacity", None)  # moto's made-up figures
            body.pop("ConsumedCapacityUnits", None)
            if bill is None:
                return result
            if op in extras:
                extras[op](self, body, bill)
            if metered:
                self._local_runtime_bill = bill  # for _hot_partitions_throttled, which debits it
            if mode == "NONE":
                return result
            backend = self.dynamodb_backend
            rendered = [bill.render(label, backend.get_table(label).name, mode, kinds.get(op))
                        for label in tables_of(self, op)]
            body["ConsumedCapacity"] = rendered[0] if op in single else rendered
            return result

        handle._local_runtime = True  # type: ignore[attr-defined]
        return handle

    for op in ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
               "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items"):
        inner = getattr(DynamoHandler, op)
        if op in ("get_item", "put_item", "delete_item", "query", "scan"):
            inner = inner.__wrapped__  # past moto's include_consumed_capacity and its constants
        setattr(DynamoHandler, op, billed(op, inner))


# ------------------------------------------------------------------ partitions, throttled at their throughput
PARTITION_READ_UNITS_PER_S = 3000.0  # DynamoDB's ceiling per partition, base tables and global indexes alike
PARTITION_WRITE_UNITS_PER_S = 1000.0
THROTTLED_MESSAGE = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
                     "scaling your table or index so please try again shortly. If exceptions persist, check if you "
                     "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                     "bp-partition-key-design.html")
# The buckets' clock (tests replace it). Monotonic: buckets live in this process only, never pickled.
_partition_clock = time.monotonic
_partition_lock = threading.Lock()  # guards the buckets and the usage
_partition_limits: _PartitionLimits | None = None  # None: off, neither metered nor throttled
# _partition_id -> [read units, write units, throttled reads, throttled writes], since the last reset
_partition_usage: dict[tuple, list[float]] = {}
_PARTITION_READS = frozenset({"get_item", "batch_get_item", "transact_get_items", "query", "scan"})


def set_partition_limits(read_units_per_s: float | None, write_units_per_s: float | None) -> None:
    """Meter DynamoDB per partition key value and throttle a partition above these units per
    second (None: that kind is metered, never throttled); (None, None) turns it all off, as it
    starts. Each call starts every bucket full again; the usage is kept (reset_partition_usage).
    Acts on the moto hosted by this process (in-process mock or ThreadedMotoServer)."""
    global _partition_limits
    for rate in (read_units_per_s, write_units_per_s):
        if rate is not None and not rate > 0:
            raise ValueError(f"a partition limit is a positive number of units per second, or None: {rate!r}")
    if read_units_per_s is None and write_units_per_s is None:
        _partition_limits = None
    else:
        _partition_limits = _PartitionLimits(None if read_units_per_s is None else float(read_units_per_s),
                                             None if write_units_per_s is None else float(write_units_per_s))


def set_dynamodb_partition_limits(scale: float = 1.0) -> None:
    """DynamoDB's own per-partition limits (3,000 read and 1,000 write units a second), times
    `scale` (below 1 to meet them with a smaller load)."""
    set_partition_limits(PARTITION_READ_UNITS_PER_S * scale, PARTITION_WRITE_UNITS_PER_S * scale)


def partition_usage() -> list[dict[str, Any]]:
    """Every partition touched while metering since the last reset_partition_usage(), in the
    order first touched: {"table", "index" (a global index's name, or None for the table and
    its local indexes), "key" (the partition key value as text; binary as base64),
    "read_units", "write_units" (as ConsumedCapacity reports them), "throttled_reads",
    "throttled_writes" (request items refused on this partition)}."""
    with _partition_lock:
        rows = [(partition, list(figures)) for partition, figures in _partition_usage.items()]
    return [{"table": partition[1], "index": partition[2], "key": _key_text(partition[3]),
             "read_units": reads, "write_units": writes,
             "throttled_reads": int(throttled_reads), "throttled_writes": int(throttled_writes)}
            for partition, (reads, writes, throttled_reads, throttled_writes) in rows]


def reset_partition_usage() -> None:
    """Forget the usage recorded so far (the buckets stay as they are)."""
    with _partition_lock:
        _partition_usage.clear()


def _partition_id(table: Any, index_name: str | None, key: tuple) -> tuple:
    """One partition: (table ARN, table name, global index name or None, key value _token)."""
    return table.table_arn, table.name, index_name, key


def _hash_token(table: Any, key: dict) -> tuple | None:
    """The partition key value of a request's Key (or Item), as a _token."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    return _token(DynamoType(key[table.hash_key_attr]))


def _key_text(key: tuple | None) -> str:
    if key is None:
        return ""
    kind, value = key
    if kind == "B" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _usage_of(partition: tuple) -> list[float]:  # under _partition_lock
    figures = _partition_usage.get(partition)
    if figures is None:
        figures = _partition_usage[partition] = [0.0, 0.0, 0, 0]
    return figures


class _PartitionLimits:
    """A token bucket per partition and kind ("read", "write"): it holds at most one second
    of the limit, starts full and refills continuously at the limit per second. A request
    item is refused while a bucket it needs is empty (<= 0); what was performed is debited
    afterwards, so a bucket may go below zero and then takes longer to refill."""

    def __init__(self, read_units_per_s: float | None, write_units_per_s: float | None):
        self.rates = {"read": read_units_per_s, "write": write_units_per_s}
        self.buckets: dict[tuple, list[float]] = {}  # (kind, partition) -> [tokens, when last refilled]

    def _bucket(self, kind: str, rate: float, partition: tuple, now: float) -> list[float]:  # under the lock
        bucket = self.buckets.get((kind, partition))
        if bucket is None:
            bucket = self.buckets[(kind, partition)] = [rate, now]
        elif now > bucket[1]:
            bucket[0] = min(rate, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        return bucket

    def refuse(self, kind: str, plan: list[list[tuple]]) -> list[bool]:
        """For each item of a request (the partitions it would touch), whether to refuse it;
        each refusal is counted on the empty partitions that caused it."""
        rate = self.rates[kind]
        if rate is None or not plan:
            return [False] * len(plan)
        column = 2 if kind == "read" else 3
        refused = []
        with _partition_lock:
            now = _partition_clock()
            for partitions in plan:
                empty = [p for p in dict.fromkeys(partitions) if self._bucket(kind, rate, p, now)[0] <= 0]
                for partition in empty:
                    _usage_of(partition)[column] += 1
                refused.append(bool(empty))
        return refused

    def debit(self, kind: str, units: dict[tuple, float]) -> None:
        rate = self.rates[kind]
        column = 0 if kind == "read" else 1
        with _partition_lock:
            now = _partition_clock()
            for partition, spent in units.items():
                _usage_of(partition)[column] += spent
                if rate is not None:
                    self._bucket(kind, rate, partition, now)[0] -= spent


def _write_partitions(backend: Any, table_name: str, op_type: str, op: dict) -> list[tuple]:
    """The partitions one item write would touch, before it is made: its table's, and each
    global index partition whose entry it would put or delete (`_index_entry_writes` on the
    stored item and the item the write would leave; an update is tried on a copy of the
    stored item with moto's own update-expression code). op_type: Put (op holds Item),
    Update, Delete or ConditionCheck (op holds Key)."""
    import copy
    import types

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    table = backend.get_table(table_name)
    key = op["Item"] if op_type == "Put" else op["Key"]
    partitions = [_partition_id(table, None, _hash_token(table, key))]
    if op_type == "ConditionCheck" or not table.global_indexes:
        return partitions
    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        with _write_lock:  # the stored item, whole (UpdateItem changes it in place)
            stored = _stored(table, (hash_value, range_value))
            old = _Footprint(table, stored) if stored is not None else None
            if op_type == "Put":
                new = _Footprint(table, types.SimpleNamespace(attrs={k: DynamoType(v) for k, v in key.items()}))
            elif op_type == "Delete":
                new = None
            else:
                item = copy.deepcopy(stored) if stored is not None else Item(hash_value, range_value, {
                    name: {value.type: value.value} for name, value in
                    ((table.hash_key_attr, hash_value), (table.range_key_attr, range_value)) if value is not None})
        if op_type == "Update":
            _updated(table, item, op)
            new = _Footprint(table, item)
    except Exception:  # moto will refuse the write itself (or the update cannot be foreseen): the table's partition
        return partitions
    for index, _, entry_key in _index_entry_writes(table, old, new):
        if isinstance(index, GlobalSecondaryIndex):
            partitions.append(_partition_id(table, index.name, entry_key))
    return partitions


def _updated(table: Any, item: Any, op: dict) -> None:
    """Apply an UpdateItem's update to `item` (a copy), as DynamoDBBackend.update_item does."""
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    names = op.get("ExpressionAttributeNames") or {}
    if op.get("UpdateExpression"):
        validated = UpdateExpressionValidator(UpdateExpressionParser.make(op["UpdateExpression"]),
                                              expression_attribute_names=names,
                                              expression_attribute_values=op.get("ExpressionAttributeValues") or {},
                                              item=item, table=table).validate()
        validated.normalize()
        UpdateExpressionExecutor(validated, item, names).execute()
    elif op.get("AttributeUpdates"):
        item.update_with_attribute_updates(op["AttributeUpdates"])


def _query_partitions(backend: Any, body: dict) -> list[tuple]:
    """A Query's one partition: its key condition's hash value, in the queried index if global."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.key_condition_expression import parse_expression

    table = backend.get_table(body["TableName"])
    index_name = body.get("IndexName")
    schema = backend.get_schema(body["TableName"], index_name)
    if body.get("KeyConditionExpression"):
        conditions, _, _ = parse_expression(key_condition_expression=body["KeyConditionExpression"],
                                            expression_attribute_names=body.get("ExpressionAttributeNames") or {},
                                            expression_attribute_values=body.get("ExpressionAttributeValues") or {},
                                            schema=schema)
        value = conditions[0][1]  # moto's hash_key, which the bill meters
    else:
        hash_attr = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        value = body["KeyConditions"][hash_attr]["AttributeValueList"][0]
    is_global = index_name is not None and any(i.name == index_name for i in table.global_indexes)
    return [_partition_id(table, index_name if is_global else None, _token(DynamoType(value)))]


def _planned(handler: Any, op: str) -> list[list[tuple]]:
    """Per item of the request, in its order (batches: table by table), the partitions it
    would touch; [] for an item that cannot be read (moto answers it as it would)."""
    body, backend = handler.body, handler.dynamodb_backend

    def safely(find: Any, *args: Any) -> list[tuple]:
        try:
            return find(*args)
        except Exception:
            return []

    def read(table_name: str, key: dict) -> list[tuple]:
        table = backend.get_table(table_name)
        return [_partition_id(table, None, _hash_token(table, key))]

    if op == "get_item":
        return [safely(read, body.get("TableName"), body.get("Key"))]
    if op == "query":
        return [safely(_query_partitions, backend, body)]
    if op in ("put_item", "update_item", "delete_item"):
        op_type = {"put_item": "Put", "update_item": "Update", "delete_item": "Delete"}[op]
        return [safely(_write_partitions, backend, body.get("TableName"), op_type, body)]
    if op == "batch_get_item":
        return [safely(read, label, key) for label, request in (body.get("RequestItems") or {}).items()
                for key in request.get("Keys") or []]
    if op == "batch_write_item":
        return [safely(_write_partitions, backend, label, "Put" if "PutRequest" in entry else "Delete",
                       entry.get("PutRequest") or entry.get("DeleteRequest") or {})
                for label, requests in (body.get("RequestItems") or {}).items() for entry in requests]
    if op in ("transact_get_items", "transact_write_items"):
        plan = []
        for entry in body.get("TransactItems") or []:
            op_type, spec = next(iter(entry.items()), (None, {}))
            if op_type == "Get":
                plan.append(safely(read, spec.get("TableName"), spec.get("Key")))
            else:
                plan.append(safely(_write_partitions, backend, spec.get("TableName"), op_type, spec))
        return plan
    return []  # scan: metered, never throttled


def _batch_split(op: str, body: dict, refused: list[bool]) -> tuple[dict, dict]:
    """A batch request without its refused items, and those items as DynamoDB hands them back
    (UnprocessedKeys: each table's KeysAndAttributes with the refused keys; UnprocessedItems:
    each table's refused write requests). A table all of whose items were refused stays in
    the request with none (so it still has its Responses entry and ConsumedCapacity)."""
    verdicts = iter(refused)
    kept: dict[str, Any] = {}
    left: dict[str, Any] = {}
    for label, request in body["RequestItems"].items():
        entries = request["Keys"] if op == "batch_get_item" else request
        keep, leave = [], []
        for entry in entries:
            (leave if next(verdicts) else keep).append(entry)
        if op == "batch_get_item":
            kept[label] = {**request, "Keys": keep}
            if leave:
                left[label] = {**request, "Keys": leave}
        else:
            kept[label] = keep
            if leave:
                left[label] = leave
    return {**body, "RequestItems": kept}, left


@functools.cache
def _throughput_exceeded_class() -> type:
    from moto.dynamodb.exceptions import DynamodbException

    class ProvisionedThroughputExceeded(DynamodbException):
        def __init__(self) -> None:
            super().__init__("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                             THROTTLED_MESSAGE)

    return ProvisionedThroughputExceeded


def throughput_exceeded() -> Exception:
    """The error DynamoDB answers a throttled request with (the SDKs retry it), as moto raises
    its errors (a partition over its limit here; an injected fault, infra/runtime/dynamodb_faults.py)."""
    return _throughput_exceeded_class()()


def _hot_partitions_throttled() -> None:
    """moto has no partitions: it serves any number of requests a second on one key. DynamoDB
    serves at most 3,000 read and 1,000 write units a second from one partition (of a table or
    a global index) and answers ProvisionedThroughputExceededException above that, which the
    SDKs retry with backoff: a hot key (a celebrity's posts, a counter) shows on AWS and not
    here. Off by default (set_partition_limits / set_dynamodb_partition_limits turn it on; off,
    each request costs one check of a module global). On, every data-plane call is metered per
    partition key value (partition_usage), in the units the billing patch reports as
    ConsumedCapacity (`_consumed_capacity_as_billed` bills every request then, whatever it
    asked for, and records each unit against the partition it was spent in: the table's key of
    the item, a global index's key of the entry put or deleted, a Query's key in its index;
    a local index's units count in its table's partition, which holds them), and each
    partition has a token bucket per kind (see _PartitionLimits). Before a request runs, the
    partitions each of its items would touch are found (writes: the item's key and the global
    index partitions of its old and new entries, an update tried on a copy); an item needing
    an empty bucket is refused, as DynamoDB answers: GetItem, PutItem, UpdateItem, DeleteItem
    and Query raise ProvisionedThroughputExceededException; BatchGetItem and BatchWriteItem
    perform the rest and return the refused keys/items in UnprocessedKeys/UnprocessedItems
    (the exception only if every one was refused); TransactGetItems and TransactWriteItems are
    cancelled whole (TransactionCanceledException, reason ThrottlingError for the throttled
    items, None for the others). A refused request changes and bills nothing. Scans are
    metered (each page's units spread over its items' partitions by bytes read) but never
    throttled. Not covered: PartiQL, and a TransactWriteItems repeated with its
    ClientRequestToken (answered by `_transaction_tokens_honoured`, outside this). Partitions
    are checked and then debited without one lock over both, so concurrent requests may
    overdraw a bucket together, as they may on DynamoDB. Measured in-process through boto3,
    2,000 GetItems of a 250-byte item over 100 keys: off, each call costs one more function
    frame and a global read (~25 ns; the loop took 1.73 s, 1.82 s before this patch: noise);
    on, ~40 us more per call (~5%): finding the partitions 10 us, the check 5, the debit 3, the
    rest billing a call that did not ask for its capacity."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.get_item, "_partition_limits", False):
        return

    def limited(op: str, inner: Any) -> Any:
        kind = "read" if op in _PARTITION_READS else "write"

        @functools.wraps(inner)
        def handle(self):
            limits = _partition_limits
            if limits is None:
                return inner(self)
            refused = limits.refuse(kind, _planned(self, op))
            body, unprocessed = self.body, None
            if any(refused):
                if op.startswith("transact_"):
                    raise TransactionCanceledException([("ThrottlingError", THROTTLED_MESSAGE, None) if no
                                                        else (None, None, None) for no in refused])
                if not op.startswith("batch_") or all(refused):
                    raise throughput_exceeded()
                self.body, unprocessed = _batch_split(op, body, refused)
            self._local_runtime_bill = None
            try:
                result = inner(self)
            finally:
                self.body = body
            bill = self._local_runtime_bill
            if bill is not None and bill.partitions:
                limits.debit(kind, bill.partitions)
            if unprocessed:
                answer = result.result
                if op == "batch_get_item":
                    left = answer.setdefault("UnprocessedKeys", {})
                    for label, request in unprocessed.items():
                        if label in left:
                            left[label]["Keys"].extend(request["Keys"])
                        else:
                            left[label] = request
                else:
                    left = answer.setdefault("UnprocessedItems", {})
                    for label, requests in unprocessed.items():
                        left.setdefault(label, []).extend(requests)
            return result

        handle._partition_limits = True  # type: ignore[attr-defined]
        return handle

    for op in ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
               "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items"):
        setattr(DynamoHandler, op, limited(op, getattr(DynamoHandler, op)))


# ------------------------------------------------------------------ responses, serialized directly
# moto's generic serializer (moto/core/serialize.py) turns a result into the response body
# by walking the operation's botocore output shape, looking every structure member up
# through alias providers. What it does to a plain-dict result, and what the direct encoder
# below reproduces member for member:
#   structure: the shape's members only, in the shape's order; a member whose value is None
#       is left out; an empty structure stays {} (a None element of a list stays None)
#   map: every key kept as given; values encoded by the value shape (a None structure value
#       is left out); list: every element encoded by the member shape
#   string: Enum -> its value, then str() (None, {} and [] kept as they are)
#   integer/long: int(); float/double: float(); boolean: as given
#   blob: base64 text (a str is UTF-8 encoded first)
#   timestamp: epoch seconds (moto's own TimestampSerializer is called)
#   then json.dumps(body), indented when MOTO_PRETTIFY_RESPONSES is set: the same text.
# Anything else (a result that is not a dict where a structure is due, a key that is not a
# member, so might be picked through an alias, a shape with a serialization name, or any
# error while encoding) makes that response go through moto's serializer instead.
_SKIP = object()  # "the generic serializer writes nothing here"
_ATTRIBUTE_VALUE = "AttributeValue"
_TAG_ORDER = {tag: i for i, tag in enumerate(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))}  # shape's
_DIRECT_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                                "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
                                "GetRecords"})  # DynamoDB Streams: every poll of every shard


class _NotPlain(Exception):
    """A result (or shape) the direct encoder does not reproduce exactly."""


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).strip().decode("utf-8")


def _attribute_value(value: Any) -> Any:
    """An AttributeValue, encoded as the generic serializer would (it probes all ten members,
    twice each through aliases; this reads the one or two present)."""
    if value is None:
        return _SKIP
    if type(value) is not dict:
        raise _NotPlain
    out = {}
    tags = value.items()
    if len(value) > 1:  # not a valid value, but encoded as the serializer would: in the shape's order
        tags = sorted(tags, key=lambda tag_value: _TAG_ORDER.get(tag_value[0], -1))
    for tag, v in tags:
        if v is None:
            continue
        if tag == "S" or tag == "N":
            out[tag] = v if type(v) is str else _string(v)
        elif tag == "M":
            if type(v) is not dict:
                raise _NotPlain
            m = {}
            for name, element in v.items():
                encoded = _attribute_value(element)
                if encoded is not _SKIP:
                    m[name] = encoded
            out[tag] = m
        elif tag == "L":
            out[tag] = [element if encoded is _SKIP else encoded
                        for element in v for encoded in (_attribute_value(element),)]
        elif tag == "B":
            out[tag] = _blob(v)
        elif tag == "SS" or tag == "NS":
            out[tag] = [_string(element) for element in v]
        elif tag == "BS":
            out[tag] = [_blob(element) for element in v]
        elif tag == "BOOL" or tag == "NULL":
            out[tag] = v
        else:  # not a member (the generic serializer might find it through an alias)
            raise _NotPlain
    return out


def _encoder(shape: Any, memo: dict[str, Any]) -> Any:
    """A function: value -> its JSON-ready form (or _SKIP) under `shape`, as moto's
    JSONSerializer would produce it. Raises _NotPlain for shapes it does not handle."""
    if shape.name in memo:
        return memo[shape.name]
    if shape.name == _ATTRIBUTE_VALUE:
        memo[shape.name] = _attribute_value
        return _attribute_value
    cell: list[Any] = []
    memo[shape.name] = lambda value: cell[0](value)  # recursive shapes reach themselves through it
    kind = shape.type_name
    if kind == "structure" and shape.is_document_type:
        def encode(value):
            return value
    elif kind == "structure":
        members = []
        for name, member in shape.members.items():
            if member.serialization.get("name", name) != name:
                raise _NotPlain
            members.append((name, _encoder(member, memo)))
        names = frozenset(name for name, _ in members)

        def encode(value):
            if value is None:
                return _SKIP
            if type(value) is not dict or not names.issuperset(value):
                raise _NotPlain
            out = {}
            for name, member_encoder in members:
                v = value.get(name)
                if v is not None:
                    encoded = member_encoder(v)
                    if encoded is not _SKIP:
                        out[name] = encoded
            return out
    elif kind == "map":
        if shape.value.serialization.get("name"):
            raise _NotPlain
        value_encoder = _encoder(shape.value, memo)

        def encode(value):
            if type(value) is not dict:
                raise _NotPlain
            out = {}
            for k, v in value.items():
                encoded = value_encoder(v)
                if encoded is not _SKIP:
                    out[k] = encoded
            return out
    elif kind == "list":
        element_encoder = _encoder(shape.member, memo)

        def encode(value):
            if not isinstance(value, (list, tuple)):
                raise _NotPlain
            return [element if encoded is _SKIP else encoded
                    for element in value for encoded in (element_encoder(element),)]
    elif kind == "string":
        encode = _string
    elif kind in ("integer", "long"):
        encode = int
    elif kind in ("float", "double"):
        encode = float
    elif kind == "blob":
        encode = _blob
    elif kind == "timestamp":
        from moto.core.serialize import TimestampSerializer

        timestamps = TimestampSerializer(TimestampSerializer.TIMESTAMP_FORMAT_UNIX)

        def encode(value):
            wrapper: dict[str, Any] = {}
            timestamps.serialize(wrapper, value, shape, "timestamp")
            return wrapper["timestamp"]
    elif kind == "boolean":
        def encode(value):
            return value
    else:
        raise _NotPlain
    cell.append(encode)
    memo[shape.name] = encode
    return encode


def _dynamodb_responses_serialized_directly() -> None:
    """moto 5.2 serializes every response through its generic, botocore-shape-driven
    serializer, which for DynamoDB walks every attribute value of every item and, for each,
    looks up all ten AttributeValue members (S, N, B, SS, NS, BS, M, L, NULL, BOOL) through
    its alias providers, about 80 lookups per value: every DynamoDB read on the emulator costs
    time proportional to attributes x 10, which dominated the home timeline read. For the
    data-plane operations, whose results are already plain DynamoDB JSON (GetItem, PutItem,
    UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems,
    TransactWriteItems), a successful result is now encoded directly: the same transformation
    of the result (see the notes above `_SKIP`), then json.dumps, with the status code
    (200) and headers (Content-Type application/x-amz-json-1.0, plus the handler's own) the
    serializer gives. The request id and the x-amz-crc32 header, which botocore checks for
    DynamoDB, are added after this, by moto's call_action, over whichever body was produced.
    Errors, the control plane (DescribeTable, CreateTable, ListTables..., whose results hold
    datetimes and model objects) and any result the encoder cannot reproduce exactly still go
    through moto's serializer. Measured in-process through boto3 (mock_aws, all the patches
    above, ReturnConsumedCapacity=TOTAL), median of 300 calls: a BatchGetItem of 11 items of
    10 attributes took 6.7 ms, of which serializing the result 4.8 ms; now 1.6 ms (0.06 ms).
    A Query returning 25 items of 10 attributes took 16.5 ms, serializing 12.9 ms; now 3.1 ms
    (0.16 ms). The bodies are the serializer's, byte for byte (tests/runtime/test_moto_patches.py)."""
    from moto import settings
    from moto.core.responses import ActionResult
    from moto.core.serialize import JSONSerializer, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoHandler.serialized, "_local_runtime", False):
        return
    generic = DynamoHandler.serialized  # BaseResponse.serialized: moto's serializer
    generic_execute = ActionResult.execute_result
    plans: dict[tuple[str, str], Any] = {}  # (service, operation) -> (status, content type, encoder), or None

    def plan_for(service_model: Any, action: str) -> Any:
        key = (service_model.service_name, action)
        if key not in plans:
            try:
                operation = service_model.operation_model(action)
                if operation.has_event_stream_output or operation.output_shape is None:
                    raise _NotPlain
                serializer = JSONSerializer(operation_model=operation)  # its status and Content-Type
                plans[key] = (serializer._create_default_response()["status_code"],
                              serializer._get_protocol_specific_content_type(),
                              _encoder(operation.output_shape, {}))
            except _NotPlain:
                plans[key] = None
        return plans[key]

    def direct(handler: Any, action_result: Any) -> Any:
        """(status, headers, body) as moto's serializer would give them, or None to let it."""
        result = action_result.result
        action = handler._get_action()
        if (action not in _DIRECT_OPERATIONS or isinstance(result, Exception)
                # a subclass with its own execute_result (PaginatedResult) does more than serialize
                or type(action_result).execute_result is not generic_execute
                or getattr(handler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)):
            return None
        service_model = get_service_model(handler.boto3_service_name)
        protocol = handler.determine_response_protocol(service_model)
        plan = plan_for(service_model, action)
        if plan is None or get_serializer_class(service_model.service_name, protocol) is not JSONSerializer:
            return None
        status, content_type, encode = plan
        try:
            body = encode(result)
            text = json.dumps({} if body is _SKIP else body, indent=4 if settings.PRETTIFY_RESPONSES else None)
        except Exception:  # _NotPlain, or what moto's serializer would fail on too: let it
            return None
        headers = {"Content-Type": content_type}
        headers.update(handler.response_headers)  # as BaseResponse.serialized does
        return status, headers, text

    @functools.wraps(generic)
    def serialized(self, action_result):
        response = direct(self, action_result)
        return response if response is not None else generic(self, action_result)

    serialized._local_runtime = True  # type: ignore[attr-defined]
    DynamoHandler.serialized = serialized
    # The stream pollers read every shard four times a second, up to 100 records a call: the
    # same walk, over records whose images are the same AttributeValue maps. Measured draining
    # 1,420 follows' stream records in-process: 13 s of 30 s went to serializing GetRecords.
    DynamoDBStreamsHandler.serialized = serialized


# ------------------------------------------------------------------ IAM, as Lambda's roles see it

# The account root of the local stack: the platform (deployer, pollers, gateway, tests) signs
# with it and, as an account's root user, may do anything; so may any key the emulator did not
# issue (the developer's own, so `aws --endpoint-url ...` works with whatever is configured).
# Keys the emulator issued, a function's execution role assumed through STS by
# infra.runtime.functions or an IAM user's key, are held to their policies.
ROOT_ACCESS_KEY_ID = "testing"

# DynamoDB checks a transaction's items one by one, each under its own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
# SQS's batch operations are no IAM actions of their own: each is authorized as its single form.
_SQS_BATCH_ACTIONS = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
                      "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


def enforce_iam(enabled: bool = True) -> None:
    """Turn moto's IAM checks on (from the next request) or off for this process's moto."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def _iam_enforced_for_execution_roles() -> None:
    """moto's IAM access control, made fit to hold functions to their template policies.

    moto checks one action against one resource, and only knows the resource for S3, SQS and
    IAM: anything else is checked against "*", which a policy naming a table denies. Here each
    request is checked as AWS checks it: DynamoDB against its table (or index) ARN, each table
    of a batch and each item of a transaction under the item's own action; SQS's batch
    operations under their single forms (SendMessageBatch is sqs:SendMessage); an S3 PutObject
    with tags under s3:PutObjectTagging too; Cognito against its user pool; Secrets Manager
    against the secret's ARN. Where the resource cannot be known (other services, a secret
    named rather than ARN'd) the action alone is checked against the policies' actions, never
    denied for want of a resource. Condition blocks are not evaluated
    (none of the template's function policies has one). Requests without an Authorization
    header (presigned URLs and POST policies, which carry their signature in the query or the
    form) pass unchecked: moto cannot verify those signatures.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def _authenticate_and_authorize_action(self, iam_request_cls, resource="*"):
        from moto import settings

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return original(self, iam_request_cls, resource)
        authorization = self.headers.get("Authorization") or ""
        scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
        credential = scope[0]
        if not credential or credential == ROOT_ACCESS_KEY_ID:
            return None
        if not _issued_here(self.current_account, scope[2] if len(scope) > 2 else "us-east-1", credential):
            return None  # your shell's keys, whatever they are: the account's root, as ROOT_ACCESS_KEY_ID
        if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            return None
        query = urlparse(self.uri).query
        request = iam_request_cls(account_id=self.current_account, method=self.method,
                                  path=self.raw_path + (f"?{query}" if query else ""),
                                  data=self.data, body=self.raw_body, headers=self.headers,
                                  action=self._get_action())
        request.check_signature()
        service = request._action.partition(":")[0]
        checks = _iam_checks(self, service, request._action, resource)
        documents = [_policy_document(IAMPolicy, policy) for policy in request._access_key.collect_policies()]
        for action, target in checks:
            if not _iam_allows(documents, action, target):
                if self.headers.get("X-Amz-Target"):  # a JSON-protocol service: AWS's JSON error
                    from moto.core.exceptions import JsonRESTError

                    raise JsonRESTError("AccessDeniedException", (
                        f"User: {request._access_key.arn} is not authorized to perform: {action} on resource: "
                        f"{target or '*'} because no identity-based policy allows the {action} action"))
                request._action = action
                request._raise_access_denied()
        return None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action


def _issued_here(account: str, region: str, access_key_id: str) -> bool:
    """Whether the emulator issued this key: an STS session (a function's role) or an IAM user's
    key. Only those are principals with policies; any other key is the developer's."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(region)
    if sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id) is not None:
        return True
    return access_key_id in iam_backends[account][partition].access_keys


def _policy_document(policy_cls: Any, policy: Any) -> dict:
    """An inline policy is kept as JSON text (IAM API) or a dict (CloudFormation); a managed
    one as moto's Policy object."""
    if isinstance(policy, str):
        return _parsed_policy(policy)
    if isinstance(policy, dict) and "Statement" in policy:
        return policy
    return policy_cls(policy)._policy_json


@functools.lru_cache(maxsize=512)
def _parsed_policy(text: str) -> dict:
    return json.loads(text)


def _iam_checks(response: Any, service: str, action: str, resource: str) -> list[tuple[str, str | None]]:
    """(action, resource ARN or None for "action only") pairs this request needs, all allowed."""
    region, account = response.region, response.current_account
    if service == "s3" and action == "s3:DeleteObject" and response.method == "POST":
        # DeleteObjects is no IAM action of its own: each key needs s3:DeleteObject (moto
        # checks the bucket once)
        return [(action, f"{resource}/{key}") for key in _deleted_keys(response.body)] or [(action, resource)]
    if service == "s3" and action == "s3:PutObject" and any(
            name.lower() == "x-amz-tagging" for name in response.headers.keys()):
        # an object written with tags needs the right to tag it too, as S3 checks
        return [(action, resource), ("s3:PutObjectTagging", resource)]
    if service == "sqs":
        return [(_SQS_BATCH_ACTIONS.get(action, action), resource)]
    if service == "s3":  # moto resolved these itself
        return [(action, resource)]
    body = response.body  # moto's DynamoDB has parsed it already; others keep the text
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body or "{}")
        except ValueError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    if service == "dynamodb":
        def table(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

        op = action.partition(":")[2]
        if op in ("TransactWriteItems", "TransactGetItems"):
            checks = []
            for item in body.get("TransactItems") or []:
                for kind, spec in item.items():
                    checks.append((f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}", table(spec.get("TableName", ""))))
            return checks
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(action, table(name)) for name in body.get("RequestItems") or {}]
        if body.get("TableName"):
            arn = table(body["TableName"])
            return [(action, f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn)]
        return [(action, "*")]
    if service == "cognito-idp" and body.get("UserPoolId"):
        return [(action, f"arn:aws:cognito-idp:{region}:{account}:userpool/{body['UserPoolId']}")]
    if service == "secretsmanager" and str(body.get("SecretId", "")).startswith("arn:"):
        return [(action, body["SecretId"])]
    return [(action, None)]


def _deleted_keys(body: Any) -> list[str]:
    """The keys of an S3 DeleteObjects request body (<Delete><Object><Key>...)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(body if isinstance(body, (str, bytes)) else b"")
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rpartition("}")[2] == "Key"]


def _iam_allows(documents: list[dict], action: str, resource: str | None) -> bool:
    """IAM's rule over identity policies: an explicit Deny wins, else some Allow is needed."""
    allowed = False
    for document in documents:
        statements = document.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _iam_matches(statement, "Action", "NotAction", action, ignore_case=True):
                continue
            if resource is not None and not _iam_matches(statement, "Resource", "NotResource", resource):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed


def _iam_matches(statement: dict, key: str, not_key: str, value: str, ignore_case: bool = False) -> bool:
    if key in statement:
        patterns, negate = statement[key], False
    elif not_key in statement:
        patterns, negate = statement[not_key], True
    else:
        return False
    patterns = patterns if isinstance(patterns, list) else [patterns]
    hit = any(_iam_pattern(pattern, ignore_case).fullmatch(value) for pattern in patterns if isinstance(pattern, str))
    return hit != negate


@functools.lru_cache(maxsize=1024)
def _iam_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters, ? any one; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
