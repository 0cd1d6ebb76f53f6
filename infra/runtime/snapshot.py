"""`--persist DIR`: the embedded emulator's state kept across restarts of the local stack.

moto keeps every service's state in memory, in one `BackendDict` per service (module
globals such as `moto.dynamodb.models.dynamodb_backends`): account -> region -> backend
object, plain Python objects all the way down (tables and their items and stream records,
queues and their messages, buckets and their objects, user pools and their users, IAM
roles, the CloudFormation stack, the Lambda functions and their event source mappings).
moto has no persistence of its own, so:

- On a clean stop (Ctrl-C, SIGTERM), once the gateway, the pollers and the function workers
  have stopped (nothing writes any more), every backend in use is pickled in one piece (one
  `pickle.dumps`, so objects two services share, such as the queues the CloudFormation stack
  created, stay one object) and written atomically: a temporary file in DIR, fsync, rename.
  Beside it goes `stack.json`: the deployed `Stack` the runtime needs (physical names,
  outputs, functions' environments, event source mappings, roles), the parameters it was
  deployed with, a fingerprint of template.yaml, the moto version, and the pickle's SHA-256
  (so a pair torn by a crash between the two renames is refused, not half loaded).
- On start with a snapshot in DIR, the backends are put back into moto's BackendDicts before
  anything else talks to the emulator, and deploying and seeding are skipped: the stack is
  rebuilt from `stack.json` (its old emulator URL replaced by the new one). Function workers
  assume their execution roles afresh through the restored STS and IAM, as on every start.

What needs care, and how it is handled:

- Locks and conditions (SQS queues' long-poll condition, S3 keys' locks, ...) cannot be
  pickled: they are stored as "a fresh one". Weak dictionaries are stored with their
  contents (their values are held elsewhere in the same pickle). RSA/EC keys (Cognito's
  signing key, KMS keys) are stored as PEM. A reference to a BackendDict from inside a
  backend is stored as a reference to the live module global, never as a copy.
- Streams must not replay what was handled: the pollers checkpoint each shard (the sequence
  number of the last record handled). Before pickling, each table's stream shard is trimmed
  up to its checkpoint (as DynamoDB trims records after 24 hours), so TRIM_HORIZON, where the
  template's mappings start, is the first record not yet handled: nothing is lost, nothing is
  handled twice. Without a checkpoint (a stream nobody polled) nothing is trimmed. Queues keep
  their messages; an unfinished one comes back after its visibility timeout, as on AWS, and
  every handler is safe to run twice anyway.
- The template may have changed between runs: a snapshot whose template.yaml fingerprint,
  stack name or region differs, or whose parameters differ from an explicit `--param`, is
  refused with a message saying what differs (start with another DIR, or delete it to deploy
  afresh); so is one from another moto version or snapshot format. Stale infrastructure is
  never run silently. Changes to functions/ or layers/ need no redeploy: workers run the code
  on disk.

Limits: only the embedded emulator (not LocalStack via AWS_ENDPOINT_URL); a crash or `kill -9`
saves nothing (the previous snapshot stays); the module-level state of moto_fixes that
matters (Cognito confirmation codes) is kept, nothing else outside the backends; a pickle is
code: load only snapshots you wrote (DIR is yours, like a database's data directory); the
function logs in .local/logs/ start empty on every run.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import copyreg
import datetime as dt
import functools
import hashlib
import importlib
import io
import json
import logging
import os
import pickle
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.runtime.emulator import EmulatorError

log = logging.getLogger("infra.runtime.snapshot")

FORMAT = 1
STATE_FILE = "emulator.pickle"
META_FILE = "stack.json"


class SnapshotError(EmulatorError):
    """A snapshot that cannot or must not be loaded (the message says why and what to do)."""


def template_fingerprint(template_path: Path) -> str:
    return hashlib.sha256(Path(template_path).read_bytes()).hexdigest()


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


# ------------------------------------------------------------------ pickling moto's state

def _fresh(factory: Any) -> Any:
    return factory()


def _weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _weak_keys(items: dict) -> weakref.WeakKeyDictionary:
    return weakref.WeakKeyDictionary(items)


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


def _defaultdict(factory: Any, items: dict) -> collections.defaultdict:
    return collections.defaultdict(factory, items)


def _picklable_factory(factory: Any) -> Any:
    """A defaultdict's factory as pickle can store it: itself (dict, list, a class...), or for a
    lambda or a local function, a partial that deep-copies the value it makes (moto's Lambda
    backend keeps `defaultdict(lambda: {})`)."""
    if factory is None or "<" not in getattr(factory, "__qualname__", "<"):
        return factory
    return functools.partial(copy.deepcopy, factory())


def _backend_dict(module: str, attr: str) -> Any:
    return getattr(importlib.import_module(module), attr)


def _account_backend(module: str, attr: str, account: str) -> Any:
    return _backend_dict(module, attr)[account]


def _key_types() -> tuple[list[type], list[type]]:
    """The concrete classes of cryptography's RSA and EC keys (Rust types, not subclassable)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return [type(rsa_key), type(ec_key)], [type(rsa_key.public_key()), type(ec_key.public_key())]


class _Locator:
    """Where each BackendDict lives (module, attribute), to pickle references to them."""

    def __init__(self) -> None:
        from moto.core.base_backend import BackendDict

        self.where: dict[int, tuple[str, str]] = {}
        for backend_dict in BackendDict._instances:
            found = self.find(backend_dict)
            if found:
                self.where[id(backend_dict)] = found

    @staticmethod
    def find(backend_dict: Any) -> tuple[str, str] | None:
        module = importlib.import_module(backend_dict.backend.__module__)
        for name, value in vars(module).items():
            if value is backend_dict:
                return module.__name__, name
        return None


def _dispatch_table(locator: _Locator) -> dict:
    from cryptography.hazmat.primitives import serialization
    from moto.core.base_backend import AccountSpecificBackend, BackendDict

    def private_key(key: Any) -> tuple:
        return _private_key, (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()),)

    def public_key(key: Any) -> tuple:
        return _public_key, (key.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo),)

    def backend_dict(value: Any) -> tuple:
        where = locator.where.get(id(value)) or locator.find(value)
        if where is None:
            raise pickle.PicklingError(f"a BackendDict of {value.service_name} that is no module global")
        return _backend_dict, where

    def account_backend(value: Any) -> tuple:
        from moto.backends import get_backend

        owner = get_backend(value.service_name)  # type: ignore[call-overload]
        where = locator.where.get(id(owner)) or locator.find(owner)
        if where is None:
            raise pickle.PicklingError(f"the {value.service_name} backends of account {value.account_id}")
        return _account_backend, (*where, value.account_id)

    table: dict = dict(copyreg.dispatch_table)
    table.update({
        type(threading.Lock()): lambda _: (_fresh, (threading.Lock,)),
        type(threading.RLock()): lambda _: (_fresh, (threading.RLock,)),
        threading.Condition: lambda _: (_fresh, (threading.Condition,)),
        threading.Event: lambda _: (_fresh, (threading.Event,)),
        threading.Semaphore: lambda _: (_fresh, (threading.Semaphore,)),
        weakref.WeakValueDictionary: lambda d: (_weak_values, (dict(d),)),
        weakref.WeakKeyDictionary: lambda d: (_weak_keys, (dict(d),)),
        collections.defaultdict: lambda d: (_defaultdict, (_picklable_factory(d.default_factory), dict(d))),
        BackendDict: backend_dict,
        AccountSpecificBackend: account_backend,
    })
    private_types, public_types = _key_types()
    table.update({kind: private_key for kind in private_types})
    table.update({kind: public_key for kind in public_types})
    return table


def _backends() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(module, attribute) of each BackendDict in use -> account -> region -> backend."""
    from moto.core.base_backend import BackendDict

    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for backend_dict in list(BackendDict._instances):
        if backend_dict.service_name == "moto_api":  # the emulator's own control plane
            continue
        accounts = {account: dict(regions) for account, regions in backend_dict.items() if regions}
        if not accounts:
            continue
        where = _Locator.find(backend_dict)
        if where is None:  # nowhere to put it back: say so rather than lose it quietly
            log.warning("the %s backends are not a module global moto can be given back: not saved",
                        backend_dict.service_name)
            continue
        found[where] = accounts
    return found


def dump_state() -> bytes:
    """Every backend in use and the moto_fixes state that goes with them, pickled."""
    from infra.runtime.moto_fixes import cognito

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table(_Locator())
    pickler.dump({"backends": _backends(),
                  "confirmation_codes": dict(cognito.CONFIRMATION_CODES)})
    return buffer.getvalue()


def load_state(data: bytes) -> dict[str, int]:
    """Put pickled backends into moto's BackendDicts (replacing what they hold for those
    accounts and regions). Returns how many backends each service got back."""
    from infra.runtime.moto_fixes import cognito

    state = pickle.loads(data)
    restored: dict[str, int] = {}
    for (module, attr), accounts in state["backends"].items():
        backend_dict = _backend_dict(module, attr)
        for account, regions in accounts.items():
            account_backends = backend_dict[account]  # created (and registered) if needed
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
                restored[backend_dict.service_name] = restored.get(backend_dict.service_name, 0) + 1
    cognito.CONFIRMATION_CODES.update(state.get("confirmation_codes", {}))
    return restored


# ------------------------------------------------------------------ streams: no replay

def stream_checkpoints(pollers: Any) -> dict[str, int]:
    """stream ARN -> sequence number of the last record its poller handled, for every shard
    a poller checkpointed (read from infra.runtime.pollers' stream pollers)."""
    checkpoints: dict[str, int] = {}
    for poller in getattr(pollers, "_pollers", []):
        source = getattr(poller, "source", None)
        if source is None or ":dynamodb:" not in source.source_arn:
            continue
        for shard in getattr(poller, "shards", {}).values():
            if shard.checkpoint is not None:
                checkpoints[source.source_arn] = int(shard.checkpoint)
    return checkpoints


def _stream_shards() -> Any:
    """(stream ARN, table name, moto's StreamShard) of every table with a stream, in this process."""
    from moto.dynamodb.models import dynamodb_backends

    for _, _, backend in dynamodb_backends.iter_backends():
        for table in list(backend.tables.values()):
            shard = getattr(table, "stream_shard", None)
            if shard is not None:
                yield f"{table.table_arn}/stream/{table.latest_stream_label}", table.name, shard


def stream_backlog(pollers: Any) -> dict[str, int]:
    """Table name -> stream records its poller has not handled yet (the embedded emulator only)."""
    checkpoints = stream_checkpoints(pollers)
    backlog = {}
    for arn, name, shard in _stream_shards():
        last = shard.starting_sequence_number + len(shard.items) - 1
        handled = checkpoints.get(arn, shard.starting_sequence_number - 1)
        backlog[name] = max(0, last - handled)
    return backlog


def trim_shard(shard: Any, checkpoint: int) -> int:
    """Drop a moto stream shard's records up to `checkpoint` (a sequence number) inclusive:
    TRIM_HORIZON then reads the first record after it, and new records go on numbering from
    where they were. Returns how many went."""
    handled = max(0, min(len(shard.items), checkpoint - shard.starting_sequence_number + 1))
    if handled:
        del shard.items[:handled]
        shard.starting_sequence_number += handled
    return handled


def trim_streams(checkpoints: dict[str, int]) -> int:
    """Drop the stream records up to each checkpoint from the emulator's tables (moto keeps
    one shard per table). Returns how many went."""
    dropped = 0
    for arn, _, shard in _stream_shards():
        if arn in checkpoints:
            dropped += trim_shard(shard, checkpoints[arn])
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for _, _, streams in dynamodbstreams_backends.iter_backends():
        streams.shard_iterators.clear()  # every GetRecords left one; none outlives the pollers
    return dropped


# ------------------------------------------------------------------ the snapshot on disk

@dataclass
class Restored:
    stack: Any  # infra.runtime.deployer.Stack
    params: dict[str, str]
    demo: bool
    taken_at: str
    seconds: float
    services: dict[str, int]


class Persistence:
    """One `--persist DIR`: `prepare` (if it holds a snapshot) and `restore` it at start, `save`
    it at a clean stop. `hold` (a reason) keeps a save from happening, e.g. while the demo loads."""

    def __init__(self, directory: str | Path, *, stack_name: str, region: str, template_path: Path):
        self.directory = Path(directory).expanduser().resolve()
        self.stack_name, self.region, self.template_path = stack_name, region, Path(template_path)
        self.meta: dict[str, Any] | None = None  # the snapshot's stack.json, once prepared
        self.pollers: Any = None  # set once the pollers run: their checkpoints trim the streams
        self.stack: Any = None
        self.params: dict[str, str] = {}
        self.demo = False
        self.hold: str | None = None

    @property
    def meta_path(self) -> Path:
        return self.directory / META_FILE

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    @property
    def restorable(self) -> bool:
        return self.meta is not None

    @property
    def taken_at(self) -> str:
        return (self.meta or {}).get("taken_at", "?")

    def exists(self) -> bool:
        return self.meta_path.exists()

    def read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"cannot read the snapshot in {self.directory}: {exc}. Delete "
                                f"{self.directory} to start afresh.") from None

    def prepare(self, explicit: dict[str, str]) -> None:
        """Read the snapshot's description and check it fits this run (SnapshotError if not)."""
        meta = self.read_meta()
        self.check(meta, explicit)
        self.meta, self.params, self.demo = meta, dict(meta.get("params", {})), bool(meta.get("demo"))

    def check(self, meta: dict[str, Any], explicit: dict[str, str]) -> None:
        """Refuse a snapshot this run must not use, saying what differs."""
        problems = []
        if meta.get("format") != FORMAT:
            problems.append(f"snapshot format {meta.get('format')} (this runtime writes {FORMAT})")
        if meta.get("moto") != _moto_version():
            problems.append(f"moto {meta.get('moto')} wrote it (installed: {_moto_version()})")
        if meta.get("template_sha256") != template_fingerprint(self.template_path):
            problems.append(f"{self.template_path.name} changed since it was taken")
        if meta.get("stack_name") != self.stack_name:
            problems.append(f"its stack is {meta.get('stack_name')!r}, not {self.stack_name!r}")
        if meta.get("region") != self.region:
            problems.append(f"its region is {meta.get('region')}, not {self.region}")
        deployed = meta.get("params", {})
        for name, value in sorted(explicit.items()):
            if deployed.get(name) != value:
                problems.append(f"--param {name}={value}, but the stack was deployed with "
                                f"{name}={deployed.get(name)}")
        if problems:
            raise SnapshotError(
                f"the snapshot in {self.directory} (taken {meta.get('taken_at', '?')}) does not fit this run: "
                + "; ".join(problems) + ". Its stack would be stale infrastructure: start with another "
                f"--persist directory, or delete {self.directory} to deploy and seed afresh.")

    def restore(self, endpoint_url: str) -> Restored:
        """Load the prepared snapshot into the embedded emulator (before anything else uses it)."""
        from infra.runtime.deployer import EventSource, Stack

        if self.meta is None:
            raise SnapshotError(f"no snapshot prepared from {self.directory}")
        started = time.perf_counter()
        meta = self.meta
        try:
            data = self.state_path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"{self.state_path} is missing ({exc}). Delete {self.directory} to start "
                                "afresh.") from None
        if hashlib.sha256(data).hexdigest() != meta.get("state_sha256"):
            raise SnapshotError(f"{self.state_path} does not match {self.meta_path} (a save was interrupted?). "
                                f"Delete {self.directory} to start afresh.")
        try:
            services = load_state(data)
        except Exception as exc:  # a pickle that no longer fits the installed code
            raise SnapshotError(f"cannot load {self.state_path}: {type(exc).__name__}: {exc}. Delete "
                                f"{self.directory} to start afresh.") from exc
        fields = _rebased(meta["stack"], meta.get("endpoint_url"), endpoint_url)
        fields["event_sources"] = [EventSource(**source) for source in fields["event_sources"]]
        fields["endpoint_url"] = endpoint_url
        self.stack = Stack(**fields)
        return Restored(stack=self.stack, params=self.params, demo=self.demo, taken_at=self.taken_at,
                        seconds=time.perf_counter() - started, services=services)

    def remember(self, stack: Any, params: dict[str, str], *, demo: bool) -> None:
        """What the next save writes beside the state: the stack as deployed, its parameters."""
        self.stack, self.params, self.demo = stack, dict(params), demo

    def save(self) -> None:
        """Snapshot the emulator (call after the pollers and workers stopped; the state lives in
        this process, so before or after the emulator's HTTP server stops)."""
        if self.stack is None:
            return  # stopped before the stack existed: DIR keeps what it had
        if self.hold:
            log.warning("emulator state NOT saved to %s: %s (the next start %s)", self.directory, self.hold,
                        "loads the previous snapshot" if self.exists() else "deploys and seeds afresh")
            return
        started = time.perf_counter()
        try:
            dropped = trim_streams(stream_checkpoints(self.pollers)) if self.pollers is not None else 0
            data = dump_state()
        except Exception as exc:  # the stop goes on; what DIR held stays
            log.error("emulator state NOT saved to %s: %s: %s", self.directory, type(exc).__name__, exc)
            return
        meta = {
            "format": FORMAT,
            "moto": _moto_version(),
            "taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "template_sha256": template_fingerprint(self.template_path),
            "stack_name": self.stack_name,
            "region": self.region,
            "params": self.params,
            "demo": self.demo,
            "endpoint_url": self.stack.endpoint_url,
            "state_sha256": hashlib.sha256(data).hexdigest(),
            "state_bytes": len(data),
            "stack": asdict(self.stack),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.state_path, data)
        _write_atomically(self.meta_path, (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
        log.info("emulator state saved to %s (%.1f MB; %d handled stream records dropped) in %.1fs",
                 self.directory, len(data) / 1e6, dropped, time.perf_counter() - started)


def _rebased(node: Any, old: str | None, new: str) -> Any:
    """The stack's fields with the previous run's emulator URL replaced by this run's (queue
    URLs in outputs and environments name the host they were created on)."""
    if not old or old == new:
        return node
    if isinstance(node, dict):
        return {k: _rebased(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebased(v, old, new) for v in node]
    if isinstance(node, str):
        return node.replace(old, new)
    return node


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
