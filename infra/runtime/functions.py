"""Run the template's Lambda handlers locally, without Docker.

Each function gets `concurrency` worker processes, the local stand-in for Lambda execution
environments: a fresh interpreter whose environment holds only that function's variables
(from the deployed stack) plus what the Lambda runtime itself sets, whose sys.path is the
function's code folder, its layers as `sam build` lays them out (infra/runtime/layers.py) and the
standard library, nothing from the development virtualenv, which imports the handler module once (the cold
start) and then serves invocations one at a time. Nothing is shared between functions, so
two functions reading the same variable name see their own values, as in the cloud.

Parent and worker talk JSON lines over the worker's stdin and a private copy of its stdout;
the worker points fd 1 at stderr before importing anything, so a handler's print() lands in
the log instead of corrupting the protocol.

This file is also the worker's entry point (`python -I -S infra/runtime/functions.py BOOT_JSON`), so its
top level imports only the standard library: the worker must not pay for boto3 or the
template translator that the parent side uses.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the worker never imports these
    from infra.runtime.deployer import Stack
    from infra.runtime.template import FunctionSpec

log = logging.getLogger("infra.runtime.functions")

DEFAULT_ACCOUNT = "123456789012"  # moto's and LocalStack's default account
# Lambda allows 10 s for the init phase; a cold import of boto3 + powertools on a busy
# laptop with several workers booting at once can need more, so be generous locally.
INIT_TIMEOUT = 30.0
# Synchronous invocation's payload quota, for the event in and for the result out.
PAYLOAD_LIMIT = 6 * 1024 * 1024


class FunctionError(Exception):
    """An unhandled exception inside the handler, shaped like Lambda's error payload."""

    def __init__(self, error_type: str, error_message: str, stack: list[str] | None = None):
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message
        self.stack = list(stack or [])


class RequestTooLarge(FunctionError):
    """The event is over the invoke quota: Lambda refuses it before any execution environment
    sees it (Invoke's 413 RequestEntityTooLargeException)."""


class FunctionTimeout(FunctionError):
    """The handler ran past the template's Timeout; its worker was killed and replaced."""


class _WorkerExited(Exception):
    pass


@dataclass(frozen=True)
class Invocation:
    """One finished invocation, as observers see it. Times are epoch seconds taken by the
    invoker; `duration_ms` is the handler's own run time as the worker measured it (Lambda's
    Duration); `calls` are the AWS calls it made, when the functions were started with
    meter=True (see _Meter for their shape)."""

    function: str
    event: dict
    started: float
    ended: float
    duration_ms: float | None
    failed: bool
    calls: list[dict[str, Any]]


# ------------------------------------------------------------------------------ parent side


@dataclass(frozen=True)
class _Sandbox:
    """Everything a worker for one function is booted with."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    python_path: tuple[str, ...]
    timeout: int
    memory: int
    env: Mapping[str, str]
    log_path: Path | None = None  # the function's "log group": its workers' stderr, appended
    meter: bool = False  # workers report every AWS call they make (see _Meter)

    def boot_argument(self) -> str:
        return json.dumps({
            "meter": self.meter,
            "handler": self.handler,
            "python_path": list(self.python_path),
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "memory": self.memory,
            "timeout": self.timeout,
        })


class _Worker:
    """One worker process and the thread that reads its replies."""

    def __init__(self, sandbox: _Sandbox, number: int):
        self.sandbox = sandbox
        self.number = number
        self.ready = False
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        log_file = open(sandbox.log_path, "a", encoding="utf-8") if sandbox.log_path else None  # noqa: SIM115
        # -I: ignore PYTHON* variables, the user site and the script's folder; -S: no
        # site-packages at all, not the virtualenv's nor the interpreter's. sys.path is exactly
        # what the worker builds: code folder, layers (as sam build lays them out), stdlib.
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, sandbox.boot_argument()],
            env=dict(sandbox.env), cwd=sandbox.code_dir,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
            text=True, encoding="utf-8", bufsize=1,
        )
        if log_file is not None:
            log_file.close()  # the child holds its own descriptor
        threading.Thread(target=self._read_replies, daemon=True,
                         name=f"{sandbox.logical_id}-{number}-reader").start()

    def _read_replies(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self._replies.put(json.loads(line))
        self._replies.put(None)  # EOF: the process is gone

    def _next_reply(self, timeout: float) -> dict[str, Any]:
        reply = self._replies.get(timeout=timeout)  # queue.Empty propagates as "too slow"
        if reply is None:
            raise _WorkerExited(f"exit status {self.process.wait()}")
        return reply

    def invoke(self, request_id: str, payload: str, timeout: float) -> dict[str, Any]:
        if not self.ready:
            try:
                boot = self._next_reply(INIT_TIMEOUT)
            except queue.Empty:
                raise FunctionTimeout("Sandbox.Timedout",
                                      f"Init phase did not finish within {INIT_TIMEOUT:.0f} s") from None
            self.ready = True
            log.info("%s worker %d cold start %.0f ms%s", self.sandbox.logical_id, self.number,
                     boot["init_ms"], " (init failed)" if boot.get("init_error") else "")
        try:
            self.process.stdin.write(  # type: ignore[union-attr]
                f'{{"id": "{request_id}", "event": {payload}}}\n')
            self.process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerExited(str(exc)) from exc
        reply = self._next_reply(timeout)
        if reply.get("id") != request_id:  # cannot happen with one request at a time
            raise _WorkerExited(f"protocol error: reply for {reply.get('id')}, expected {request_id}")
        return reply

    def stop(self, grace: float = 1.0) -> None:
        """Ask politely (EOF on stdin), then kill."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class _Pool:
    """The workers of one function; an invocation takes a free one or waits for it."""

    def __init__(self, sandbox: _Sandbox, size: int):
        self.sandbox = sandbox
        self._spawned = 0
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._busy: set[_Worker] = set()  # acquired, not yet released or replaced
        self._closed = False
        with self._lock:
            for _ in range(size):
                self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:  # with self._lock held
        self._spawned += 1
        worker = _Worker(self.sandbox, self._spawned)
        self._all.add(worker)
        return worker

    def acquire(self) -> _Worker:
        while True:
            if self._closed:
                raise RuntimeError("LocalFunctions is closed")
            try:
                worker = self._idle.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._lock:
                self._busy.add(worker)
            return worker

    def release(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        if worker in self._reloading and self._swap_for_reload(worker):
            return  # reload() ran while it was busy: a fresh worker has taken its place
        self._idle.put(worker)

    def kill_busy(self) -> bool:
        """SIGKILL one worker in the middle of an invocation, as a crashed runtime dies (its
        invocation fails with Runtime.ExitError and a fresh worker takes its place). False if
        none is busy."""
        with self._lock:
            busy = next(iter(self._busy), None)
            if busy is None:
                return False
            self._busy.discard(busy)
        busy.process.kill()
        return True

    def replace(self, worker: _Worker) -> None:
        """Kill a worker that timed out or died and put a fresh (cold) one in its place."""
        worker.kill()
        with self._lock:
            self._busy.discard(worker)
            self._all.discard(worker)
            if self._closed:
                return
            fresh = self._spawn()
        self._idle.put(fresh)

    # Code reload (infra.runtime.reloader): the workers to retire as soon as they are free. An empty
    # class-level default, so a pool that never reloads pays one set lookup per release.
    _reloading: set[_Worker] | frozenset[_Worker] = frozenset()

    def reload(self) -> int:
        """Replace every worker with a fresh one (the code as it is now, a cold start) without
        cutting an invocation short: idle workers are stopped and replaced at once, busy ones
        when they are released. Returns how many workers are being replaced."""
        with self._lock:
            if self._closed:
                return 0
            self._reloading = set(self._all)
            count = len(self._reloading)
        idle = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for worker in idle:
            if not self._swap_for_reload(worker):
                self._idle.put(worker)  # spawned after the reload began: already fresh
        return count

    def _swap_for_reload(self, worker: _Worker) -> bool:
        """Put a fresh worker in the place of `worker`, a free one that reload() marked, and stop
        the old one in the background (EOF, then a kill after the grace). False if not marked."""
        with self._lock:
            if worker not in self._reloading:
                return False
            self._reloading.discard(worker)  # type: ignore[union-attr]
            self._all.discard(worker)
            fresh = None if self._closed else self._spawn()
        if fresh is not None:
            self._idle.put(fresh)
        threading.Thread(target=worker.stop, daemon=True,
                         name=f"{self.sandbox.logical_id}-{worker.number}-retire").start()
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()


class LocalFunctions:
    """Invoke the stack's functions locally: `invoke(logical_id, event)` blocks like
    RequestResponse and returns the handler's result or raises FunctionError."""

    def __init__(self, pools: dict[str, _Pool]):
        self._pools = pools
        self._observers: list[Callable[[Invocation], None]] = []
        self._faults_lock = threading.Lock()
        self._half_armed: dict[str, int] = {}  # logical id -> batches still to half-apply (a chaos fault)
        self.half_applied: dict[str, int] = {}  # logical id -> batches half-applied so far

    def add_observer(self, observer: Callable[[Invocation], None]) -> None:
        """Call `observer` after every invocation (successful or not), on the invoking thread.
        With `meter=True` at start, each Invocation also lists the AWS calls the handler made."""
        self._observers.append(observer)

    @classmethod
    def start(cls, stack: Stack, *, endpoint_url: str, concurrency: int | Mapping[str, int] = 2,
              extra_env: dict[str, str] | None = None,
              specs: Mapping[str, FunctionSpec] | None = None,
              log_dir: Path | None = None, meter: bool = False) -> LocalFunctions:
        """Boot `concurrency` workers for every function of the stack (a mapping: per logical
        id, 2 for the others).

        `specs` (logical id -> FunctionSpec) defaults to template.yaml's functions; tests pass
        their own to run fixture handlers with a stack's resolved environment. With `log_dir`,
        what handlers write (powertools logs and metrics) goes to `<log_dir>/<LogicalId>.log`,
        as CloudWatch would keep it, instead of this process's stderr. With `meter`, workers
        report every AWS call (see _Meter) to the observers (`add_observer`): the benchmark's
        request and capacity counts. Workers start importing in the background; the first
        invoke waits for its worker.
        """
        from infra.runtime import layers  # parent-side only (see the module docstring)
        from infra.runtime import template as tpl

        sam = tpl.load_sam()
        specs = dict(specs) if specs is not None else tpl.functions(sam)
        account = _account_id(stack)
        sts = functools.cache(lambda: _platform_sts(stack, endpoint_url))  # made once, if any role
        pools = {}
        for logical_id, spec in specs.items():
            name = stack.physical_ids.get(logical_id) or logical_id
            credentials = _role_credentials(stack, logical_id, name, sts)
            sandbox = _Sandbox(
                logical_id=logical_id,
                function_name=name,
                function_arn=f"arn:aws:lambda:{stack.region}:{account}:function:{name}",
                handler=spec.handler,
                code_dir=Path(spec.code_dir),
                python_path=(str(spec.code_dir), *layers.layer_paths(sam, logical_id)),
                timeout=spec.timeout,
                memory=spec.memory,
                env=_sandbox_env(stack, spec, name, endpoint_url, credentials, extra_env or {}),
                log_path=(Path(log_dir) / f"{logical_id}.log") if log_dir else None,
                meter=meter,
            )
            workers = concurrency if isinstance(concurrency, int) else concurrency.get(logical_id, 2)
            pools[logical_id] = _Pool(sandbox, workers)
        return cls(pools)

    def kill_busy(self, logical_id: str) -> bool:
        """SIGKILL one of the function's workers mid-invocation (a chaos fault, issue 24): that
        invocation fails as a crashed Lambda runtime's does, and its event source retries it.
        False if none of its workers is busy."""
        return self._pools[logical_id].kill_busy()

    def fail_half_batch(self, logical_id: str, batches: int = 1) -> None:
        """Arm a chaos fault (issue 24): the function's next `batches` invocations with two
        records or more run the first half of their records, then fail as a runtime that died
        after them would (Runtime.ExitError). The event source retries the whole batch, half of
        which has already had its effects. `half_applied` counts the batches it struck."""
        if logical_id not in self._pools:
            raise ValueError(f"no local function {logical_id!r}; have {sorted(self._pools)}")
        with self._faults_lock:
            self._half_armed[logical_id] = self._half_armed.get(logical_id, 0) + batches

    def clear_faults(self) -> None:
        """Disarm what fail_half_batch armed and has not struck yet."""
        with self._faults_lock:
            self._half_armed.clear()

    def _half_of(self, logical_id: str, event: Any) -> dict | None:
        """The event cut to its first half, if a half-applied batch is armed and it has two
        records or more (the fault is then used up); None otherwise."""
        records = event.get("Records") if isinstance(event, dict) else None
        if not self._half_armed.get(logical_id) or not isinstance(records, list) or len(records) < 2:
            return None
        with self._faults_lock:
            if not self._half_armed.get(logical_id):
                return None
            self._half_armed[logical_id] -= 1
            self.half_applied[logical_id] = self.half_applied.get(logical_id, 0) + 1
        return {**event, "Records": records[:len(records) // 2]}

    def invoke(self, logical_id: str, event: dict) -> Any:
        try:
            pool = self._pools[logical_id]
        except KeyError:
            raise ValueError(f"no local function {logical_id!r}; have {sorted(self._pools)}") from None
        half = self._half_of(logical_id, event)
        if half is not None:
            self.invoke(logical_id, half)  # its own failures are the batch's too
            raise FunctionError("Runtime.ExitError", f"{len(half['Records'])} of {len(event['Records'])} records "
                                "applied, then the runtime exited (a half-applied batch, a chaos fault)")
        payload = json.dumps(event)  # a TypeError here is the caller's bug, not the handler's
        if len(payload) > PAYLOAD_LIMIT:
            raise RequestTooLarge("RequestEntityTooLargeException", f"{len(payload)} byte payload is too large "
                                  f"for the RequestResponse invocation type (limit {PAYLOAD_LIMIT} bytes)")
        request_id = str(uuid.uuid4())
        timeout = pool.sandbox.timeout
        worker = pool.acquire()
        started = time.time()
        reply: dict[str, Any] = {}
        try:
            reply = worker.invoke(request_id, payload, timeout)
        except queue.Empty:
            pool.replace(worker)
            raise FunctionTimeout("Sandbox.Timedout",
                                  f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds") from None
        except _WorkerExited as exc:
            pool.replace(worker)
            raise FunctionError("Runtime.ExitError",
                                f"RequestId: {request_id} Error: Runtime exited with error: {exc}") from exc
        except BaseException:
            pool.replace(worker)  # init timeout, KeyboardInterrupt...: the worker's state is unknown
            raise
        finally:
            if self._observers:
                done = Invocation(logical_id, event, started, time.time(), reply.get("duration_ms"),
                                  "error" in reply or not reply, reply.get("calls") or [])
                for observer in self._observers:
                    observer(done)
        if reply.get("fatal"):  # the worker killed itself (memory limit): a fresh one takes its place
            pool.replace(worker)
        else:
            pool.release(worker)
        if "error" in reply:
            err = reply["error"]
            raise FunctionError(err["errorType"], err["errorMessage"], err.get("stackTrace"))
        if "result_bytes" in reply:  # a handler that returned bytes: the payload, as it is
            import base64

            return base64.b64decode(reply["result_bytes"])
        return reply["result"]

    @property
    def function_ids(self) -> list[str]:
        return sorted(self._pools)

    def reload(self, logical_ids: list[str]) -> list[str]:
        """Fresh workers for these functions, running their code as it is now (_Pool.reload):
        invocations in flight finish on the old workers. Returns the ids reloaded."""
        unknown = sorted(set(logical_ids) - set(self._pools))
        if unknown:
            raise ValueError(f"no local function {', '.join(unknown)}; have {sorted(self._pools)}")
        for logical_id in logical_ids:
            self._pools[logical_id].reload()
        return list(logical_ids)

    def close(self) -> None:
        pools = list(self._pools.values())
        threads = [threading.Thread(target=pool.close) for pool in pools]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def __enter__(self) -> LocalFunctions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _account_id(stack: Stack) -> str:
    for source in stack.event_sources:
        parts = source.source_arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return DEFAULT_ACCOUNT


def _platform_sts(stack: Stack, endpoint_url: str) -> Any:
    """One STS client of the emulator, signing as the local account's root: it assumes every
    function's role at start."""
    import boto3  # parent side only

    from infra.runtime.emulator import FAKE_CREDENTIALS

    session = boto3.Session(region_name=stack.region,
                            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"])
    return session.client("sts", endpoint_url=endpoint_url)


def _role_credentials(stack: Stack, logical_id: str, function_name: str, sts: Callable[[], Any]) -> dict[str, str]:
    """The function's execution role, assumed through the emulator's STS as Lambda assumes it:
    the worker signs every call with these, so the emulator holds it to the template's policies
    (infra.runtime.moto_fixes.iam enforces them). A function without a role in the stack (a test's own
    spec) gets the local account's fake root credentials."""
    from infra.runtime.emulator import FAKE_CREDENTIALS  # parent side only

    role_arn = stack.roles.get(logical_id)
    if not role_arn:
        return dict(FAKE_CREDENTIALS)
    issued = sts().assume_role(RoleArn=role_arn, RoleSessionName=function_name[:64])["Credentials"]
    return {"AWS_ACCESS_KEY_ID": issued["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"]}


def _sandbox_env(stack: Stack, spec: FunctionSpec, function_name: str, endpoint_url: str,
                 credentials: Mapping[str, str], extra_env: Mapping[str, str]) -> dict[str, str]:
    """What a Lambda execution environment holds, and nothing from this process's shell: the
    runtime's own variables < the function's env from the stack < what Lambda itself sets <
    extra_env. Lambda's reserved variables cannot be overridden by a template either. A
    variable exported in the developer's shell (say FANOUT_CHUNK_SIZE) does not reach the
    function, as it would not on AWS. TMPDIR is the function's own folder (Lambda's /tmp is
    per execution environment, never shared between functions)."""
    tmp = _tmp_dir(spec.logical_id)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TMPDIR": str(tmp)}
    env.update(stack.function_env.get(spec.logical_id, {}))
    env.update({
        # The emulator, with the execution role's credentials from its STS: nothing can reach
        # a real account, and the role's policies are what the function may do.
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        **credentials,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        # What the Lambda runtime sets (and powertools reads).
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        # sam local's marker: powertools Tracer switches itself off (no X-Ray daemon here).
        "AWS_SAM_LOCAL": "true",
    })
    env.update(extra_env)
    return env


def _tmp_dir(logical_id: str) -> Path:
    """The function's /tmp: a folder of its own under .local/tmp (shared by its workers)."""
    folder = Path(__file__).resolve().parents[2] / ".local" / "tmp" / logical_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------------------ worker side


class LambdaContext:
    """The context object the Python runtime passes to handlers (awslambdaric's shape)."""

    def __init__(self, boot: dict[str, Any], request_id: str, deadline: float):
        self.function_name = boot["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = boot["function_arn"]
        # The real runtime copies AWS_LAMBDA_FUNCTION_MEMORY_SIZE, a string; so do we.
        self.memory_limit_in_mb = str(boot["memory"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    return {"errorType": error_type or type(exc).__name__,
            "errorMessage": message if message is not None else str(exc),
            "stackTrace": [line.rstrip("\n") for line in traceback.format_list(frames)]}


def _load_handler(spec: str):
    """Import module.function the way the Python runtime does, with its error types."""
    import importlib

    module_name, _, function_name = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(_error(exc, "Runtime.ImportModuleError",
                                f"Unable to import module '{module_name}': {exc}")) from exc
    except Exception as exc:  # an exception while the module initialises
        raise _InitError(_error(exc)) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _InitError({"errorType": "Runtime.HandlerNotFound", "stackTrace": [],
                          "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'"})
    return handler


class _InitError(Exception):
    def __init__(self, payload: dict[str, Any]):
        super().__init__(payload["errorMessage"])
        self.payload = payload


# DynamoDB operations by what they consume: the meter asks each for its capacity, and the
# benchmark counts requests by the same sets (bench.measure).
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class _Meter:
    """Counts every AWS call a handler makes, for the benchmark (`LocalFunctions.start(meter=True)`).

    It wraps botocore's BaseClient._make_api_call, which boto3 and pynamodb clients alike go
    through, so the function's code is untouched and cannot tell. DynamoDB calls are sent with
    ReturnConsumedCapacity=INDEXES (unless the caller asked for it itself) and the capacity the
    service reports is recorded, then removed from the response so the caller sees what it
    asked for. Each call is recorded as {"service", "op", "table", "t0", "t1" (ms since the
    invocation started), "read_units", "write_units", "items", "messages"}.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @classmethod
    def install(cls) -> _Meter:
        import botocore.client

        meter = cls()
        original = botocore.client.BaseClient._make_api_call

        def _make_api_call(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            injected = (service == "dynamodb" and operation_name in DYNAMODB_READS | DYNAMODB_WRITES
                        and "ReturnConsumedCapacity" not in api_params)
            if injected:
                api_params = {**api_params, "ReturnConsumedCapacity": "INDEXES"}
            t0 = time.perf_counter()
            try:
                response = original(client, operation_name, api_params)
            except Exception:
                meter._record(service, operation_name, api_params, {}, t0, failed=True)
                raise
            meter._record(service, operation_name, api_params, response, t0)
            if injected:
                response.pop("ConsumedCapacity", None)
            return response

        botocore.client.BaseClient._make_api_call = _make_api_call
        return meter

    def _record(self, service: str, op: str, params: dict, response: dict, t0: float,
                failed: bool = False) -> None:
        t1 = time.perf_counter()
        consumed = response.get("ConsumedCapacity") or []
        if isinstance(consumed, dict):
            consumed = [consumed]
        units = sum(float(c.get("CapacityUnits") or 0) for c in consumed)
        tables = [c.get("TableName") for c in consumed if c.get("TableName")]
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), None) or \
            (tables[0] if tables else None)
        items = 0
        if op == "BatchWriteItem":
            items = sum(len(v) for v in params.get("RequestItems", {}).values())
        elif op == "BatchGetItem":
            items = sum(len(v.get("Keys", [])) for v in params.get("RequestItems", {}).values())
        elif op in ("Query", "Scan"):
            items = int(response.get("Count") or 0)
        elif op in ("TransactWriteItems", "TransactGetItems"):
            items = len(params.get("TransactItems", []))
        elif service == "dynamodb":
            items = 1
        messages = len(params.get("Entries", [])) if op == "SendMessageBatch" else int(op == "SendMessage")
        call = {"service": service, "op": op, "table": table, "t0": t0, "t1": t1, "failed": failed,
                "read_units": units if op in DYNAMODB_READS else 0.0,
                "write_units": units if op in DYNAMODB_WRITES else 0.0,
                "items": items, "messages": messages}
        with self._lock:
            self.calls.append(call)

    def take(self, started: float) -> list[dict[str, Any]]:
        with self._lock:
            calls, self.calls = self.calls, []
        for call in calls:
            call["t0"] = round((call["t0"] - started) * 1000, 3)
            call["t1"] = round((call["t1"] - started) * 1000, 3)
        return calls


def _marshal(result: Any) -> tuple[str, str, int]:
    """The result as the Python runtime sends it (awslambdaric's marshaller): JSON in which a
    Decimal is its exact number (not a float, not an error), or bytes passed through as they
    are. Returns (reply field, its JSON, the payload's size in bytes)."""
    if isinstance(result, (bytes, bytearray)):
        import base64

        return "result_bytes", json.dumps(base64.b64encode(result).decode()), len(result)
    import decimal

    numbers: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [swap(v) for v in value]
        if isinstance(value, decimal.Decimal):
            token = f"\x00decimal{len(numbers)}\x00"
            numbers[json.dumps(token)] = "NaN" if value.is_nan() else str(value)
            return token
        return value

    encoded = json.dumps(swap(result))
    for token, number in numbers.items():
        encoded = encoded.replace(token, number, 1)
    return "result", encoded, len(encoded)  # ASCII (the runtime's ensure_ascii on 3.11): chars are bytes


MEMORY_CHECK_INTERVAL = 0.05  # seconds between looks at the worker's resident memory


def _watch_memory(limit_mb: int, exceeded: Callable[[int], None], lock: threading.Lock) -> None:
    """Call `exceeded(rss)` (holding `lock`, so no reply is half-written) once the process's
    resident memory passes the function's memory size. Lambda counts the whole runtime's
    memory the same way. Where there is no /proc (macOS), the limit is not enforced."""
    statm = "/proc/self/statm"
    if not os.path.exists(statm):
        return
    page = os.sysconf("SC_PAGE_SIZE")
    limit = limit_mb * 1024 * 1024

    def watch() -> None:
        while True:
            with open(statm) as f:
                rss = int(f.read().split()[1]) * page
            if rss > limit:
                with lock:
                    exceeded(rss)
                return
            time.sleep(MEMORY_CHECK_INTERVAL)

    threading.Thread(target=watch, daemon=True, name="memory-limit").start()


def _worker_main(boot_json: str) -> None:
    import signal

    # Ctrl-C reaches the whole process group; the parent decides when workers stop
    # (EOF on stdin, or a kill), so a worker never dies mid-invocation with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    boot = json.loads(boot_json)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # from here on, anything printed goes to the log, not the protocol
    sys.stdout.reconfigure(line_buffering=True)
    sys.path[0:0] = boot["python_path"]

    def init():
        started = time.perf_counter()
        try:
            return _load_handler(boot["handler"]), None, (time.perf_counter() - started) * 1000
        except _InitError as exc:
            return None, exc.payload, (time.perf_counter() - started) * 1000

    write_lock = threading.Lock()
    current: dict[str, str | None] = {"id": None}

    def reply_line(text: str) -> None:
        with write_lock:
            replies.write(text + "\n")

    def out_of_memory(rss: int) -> None:
        # What Lambda does to a function over its memory size: the runtime is killed. The
        # invocation in flight gets the error the platform reports, then the process dies.
        used = rss // (1024 * 1024)
        print(f"Runtime.OutOfMemory: {used} MB used, memory size {boot['memory']} MB", file=sys.stderr, flush=True)
        if current["id"] is not None:  # write_lock is held: no reply is half-written
            replies.write(json.dumps({"id": current["id"], "fatal": True, "error": {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {current['id']} Error: Runtime exited with error: signal: killed"}})
                          + "\n")
            replies.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    _watch_memory(boot["memory"], out_of_memory, write_lock)
    meter = _Meter.install() if boot.get("meter") else None
    handler, init_error, init_ms = init()
    reply_line(json.dumps({"ready": True, "init_ms": init_ms, "init_error": init_error}))

    for line in sys.stdin:
        request = json.loads(line)
        current["id"] = request["id"]
        deadline = time.monotonic() + boot["timeout"]
        if handler is None:  # Lambda retries the init phase in a fresh sandbox; so do we
            sys.modules.pop(boot["handler"].rpartition(".")[0].replace("/", "."), None)
            handler, init_error, _ = init()
        reply = {"id": request["id"], "error": init_error}
        if meter is not None:
            meter.calls.clear()  # what init did belongs to no invocation
        started = time.perf_counter()
        if handler is not None:
            try:
                result = handler(request["event"], LambdaContext(boot, request["id"], deadline))
                reply = {"id": request["id"], "result": result}
            except Exception as exc:
                reply = {"id": request["id"], "error": _error(exc)}
        reply["duration_ms"] = (time.perf_counter() - started) * 1000
        if meter is not None:
            reply["calls"] = meter.take(started)
        try:
            field, result, size = _marshal(reply.pop("result")) if "result" in reply else (None, "", 0)
            encoded = json.dumps(reply)
        except (TypeError, ValueError) as exc:  # the handler returned something JSON cannot hold
            field, encoded = None, json.dumps({"id": request["id"], "error": _error(
                exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")})
        if field and size > PAYLOAD_LIMIT:
            encoded = json.dumps({"id": request["id"], "error": {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({PAYLOAD_LIMIT} bytes)."}})
        elif field:
            encoded = f'{encoded[:-1]}, "{field}": {result}}}'
        sys.stdout.flush()
        sys.stderr.flush()
        with write_lock:
            current["id"] = None
            replies.write(encoded + "\n")


if __name__ == "__main__":
    _worker_main(sys.argv[1])
