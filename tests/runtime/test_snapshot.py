"""`--persist DIR` (infra/runtime/snapshot.py): what may be loaded, how it is written, what the
pickled emulator state keeps, and how streams are trimmed so nothing is handled twice. The
whole cycle (deploy, post, SIGTERM, start again) is tests/e2e/test_persist.py."""

from __future__ import annotations

import collections
import json
import pickle
import threading
import weakref

import pytest

from infra.runtime import snapshot
from infra.runtime.snapshot import Persistence, SnapshotError

TEMPLATE = "AWSTemplateFormatVersion: '2010-09-09'\n"


@pytest.fixture
def persist(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    return Persistence(tmp_path / "state", stack_name="timeline-local", region="us-east-1", template_path=template)


def _meta(persist: Persistence, **changes) -> dict:
    meta = {"format": snapshot.FORMAT, "moto": snapshot._moto_version(), "taken_at": "2026-01-01T00:00:00+00:00",
            "template_sha256": snapshot.template_fingerprint(persist.template_path), "stack_name": "timeline-local",
            "region": "us-east-1", "params": {"CelebrityThreshold": "50", "TimelineMax": "800"}}
    meta.update(changes)
    return meta


# ------------------------------------------------------------------ what may be loaded

def test_given_a_snapshot_of_this_template_and_parameters_then_it_fits(persist):
    persist.check(_meta(persist), explicit={"CelebrityThreshold": "50"})  # no exception


def test_given_a_changed_template_then_the_snapshot_is_refused_with_what_to_do(persist):
    meta = _meta(persist)
    persist.template_path.write_text(TEMPLATE + "Description: changed\n")
    with pytest.raises(SnapshotError) as refused:
        persist.check(meta, explicit={})
    message = str(refused.value)
    assert "template.yaml changed since it was taken" in message
    assert "stale infrastructure" in message and f"delete {persist.directory}" in message


@pytest.mark.parametrize("changes, explicit, says", [
    ({}, {"CelebrityThreshold": "3"}, "--param CelebrityThreshold=3, but the stack was deployed with CelebrityThreshold=50"),
    ({"stack_name": "other"}, {}, "its stack is 'other', not 'timeline-local'"),
    ({"region": "eu-west-1"}, {}, "its region is eu-west-1, not us-east-1"),
    ({"moto": "0.0.1"}, {}, "moto 0.0.1 wrote it"),
    ({"format": 0}, {}, "snapshot format 0"),
])
def test_given_a_snapshot_that_does_not_fit_this_run_then_it_is_refused_saying_why(persist, changes, explicit, says):
    with pytest.raises(SnapshotError, match="does not fit this run") as refused:
        persist.check(_meta(persist, **changes), explicit=explicit)
    assert says in str(refused.value)


def test_given_an_explicit_parameter_equal_to_the_deployed_default_then_the_snapshot_fits(persist):
    persist.check(_meta(persist), explicit={"TimelineMax": "800"})


def test_given_a_state_file_that_is_not_the_one_described_then_restore_refuses_it(persist):
    # Given a stack.json whose state checksum is not the pickle's (a save torn between renames)
    persist.directory.mkdir()
    persist.state_path.write_bytes(pickle.dumps({"backends": {}}))
    persist.meta_path.write_text(json.dumps(_meta(persist, state_sha256="0" * 64, stack={})))
    persist.prepare(explicit={})
    # When it is restored, Then nothing is loaded and the message says what to do
    with pytest.raises(SnapshotError, match="does not match") as refused:
        persist.restore("http://127.0.0.1:4566")
    assert f"Delete {persist.directory}" in str(refused.value)


def test_given_an_unreadable_description_then_prepare_says_so(persist):
    persist.directory.mkdir()
    persist.meta_path.write_text("{not json")
    with pytest.raises(SnapshotError, match="cannot read the snapshot"):
        persist.prepare(explicit={})


# ------------------------------------------------------------------ how it is written

def test_given_a_file_when_written_atomically_then_it_is_replaced_whole_and_no_temporary_is_left(tmp_path):
    target = tmp_path / "emulator.pickle"
    target.write_bytes(b"old")
    snapshot._write_atomically(target, b"new state")
    assert target.read_bytes() == b"new state"
    assert [p.name for p in tmp_path.iterdir()] == ["emulator.pickle"]


def test_given_a_write_that_fails_then_the_previous_file_is_intact(tmp_path, monkeypatch):
    target = tmp_path / "emulator.pickle"
    target.write_bytes(b"previous snapshot")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(snapshot.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        snapshot._write_atomically(target, b"half")
    assert target.read_bytes() == b"previous snapshot"
    assert [p.name for p in tmp_path.iterdir()] == ["emulator.pickle"]


def test_given_a_hold_when_saving_then_nothing_is_written(persist, caplog):
    # Given a stack whose demo was still loading when it stopped
    persist.remember(object(), {}, demo=True)
    persist.hold = "the demo data was still loading"
    # When it is saved, Then DIR stays as it was, and the log says why and what happens next
    persist.save()
    assert not persist.directory.exists()
    assert "NOT saved" in caplog.text and "the demo data was still loading" in caplog.text
    assert "deploys and seeds afresh" in caplog.text


def test_given_the_previous_runs_emulator_url_then_the_stack_points_at_this_runs():
    stack = {"outputs": {"FanoutQueueUrl": "http://127.0.0.1:4566/123456789012/q"},
             "function_env": {"Api": {"FANOUT_QUEUE_URL": "http://127.0.0.1:4566/123456789012/q", "X": "1"}}}
    moved = snapshot._rebased(stack, "http://127.0.0.1:4566", "http://127.0.0.1:41001")
    assert moved["outputs"]["FanoutQueueUrl"] == "http://127.0.0.1:41001/123456789012/q"
    assert moved["function_env"]["Api"] == {"FANOUT_QUEUE_URL": "http://127.0.0.1:41001/123456789012/q", "X": "1"}


# ------------------------------------------------------------------ what the pickle keeps

class _Holder:
    """Shaped like the moto objects that broke a plain pickle."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        self.lock, self.rlock = threading.Lock(), threading.RLock()
        self.messages_lock, self.ready = threading.Condition(), threading.Event()
        self.aliases = collections.defaultdict(lambda: {})  # moto's LambdaStorage
        self.aliases["fn"]["live"] = 1
        self.functions = {"fn": _Function()}
        self.by_arn = weakref.WeakValueDictionary({"arn:fn": self.functions["fn"]})
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # Cognito's, KMS's
        self.ec_key = ec.generate_private_key(ec.SECP256R1())


class _Function:
    pass


def _roundtrip(value):
    import io

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = snapshot._dispatch_table(snapshot._Locator())
    pickler.dump(value)
    return pickle.loads(buffer.getvalue())


def test_given_locks_keys_and_weak_or_default_dicts_when_pickled_then_they_come_back_usable():
    original = _Holder()
    copy = _roundtrip(original)
    # Locks and conditions come back fresh (and free)
    assert copy.lock.acquire(blocking=False) and copy.rlock.acquire(blocking=False)
    with copy.messages_lock:
        copy.messages_lock.notify_all()
    assert not copy.ready.is_set()
    # A defaultdict made with a lambda keeps its contents and still makes fresh defaults
    assert copy.aliases["fn"] == {"live": 1}
    copy.aliases["other"]["x"] = 2
    assert copy.aliases["third"] == {} and copy.aliases["other"] == {"x": 2}
    # A weak dictionary keeps the objects held elsewhere in the same state
    assert copy.by_arn["arn:fn"] is copy.functions["fn"]
    # Keys come back as the same keys
    assert copy.signing_key.private_numbers() == original.signing_key.private_numbers()
    assert copy.ec_key.private_numbers() == original.ec_key.private_numbers()


def test_given_a_reference_to_a_moto_backend_dict_when_pickled_then_it_comes_back_as_the_live_one():
    from moto.dynamodb.models import dynamodb_backends

    assert _roundtrip({"owner": dynamodb_backends})["owner"] is dynamodb_backends


# ------------------------------------------------------------------ streams: no replay

def _table_with_stream():
    from moto.dynamodb.models.table import Table

    return Table("t", account_id="123456789012", region="us-east-1",
                 schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 attr=[{"AttributeName": "pk", "AttributeType": "S"}],
                 streams={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})


def _put(table, *keys: str) -> None:
    for key in keys:
        table.put_item({"pk": {"S": key}})


def _keys(records: list[dict]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_given_a_checkpoint_when_the_shard_is_trimmed_then_trim_horizon_starts_after_it_and_numbers_go_on():
    # Given five stream records, the first three handled by the poller
    table = _table_with_stream()
    _put(table, "a", "b", "c", "d", "e")
    shard = table.stream_shard
    records = shard.get(shard.starting_sequence_number, 10)
    checkpoint = int(records[2]["dynamodb"]["SequenceNumber"])
    # When the shard is trimmed to the checkpoint
    assert snapshot.trim_shard(shard, checkpoint) == 3
    # Then TRIM_HORIZON (the shard's start) reads the two not yet handled, with their numbers
    left = shard.get(shard.starting_sequence_number, 10)
    assert _keys(left) == ["d", "e"]
    assert [r["dynamodb"]["SequenceNumber"] for r in left] == [r["dynamodb"]["SequenceNumber"] for r in records[3:]]
    # And a new record is numbered after them, never reusing a handled record's number
    _put(table, "f")
    newest = shard.get(shard.starting_sequence_number, 10)[-1]
    assert _keys([newest]) == ["f"] and int(newest["dynamodb"]["SequenceNumber"]) == checkpoint + 3


def test_given_a_checkpoint_before_the_shard_or_past_its_end_then_trimming_keeps_or_drops_only_what_exists():
    table = _table_with_stream()
    _put(table, "a", "b")
    shard = table.stream_shard
    assert snapshot.trim_shard(shard, shard.starting_sequence_number - 1) == 0  # nothing handled yet
    assert snapshot.trim_shard(shard, shard.starting_sequence_number + 99) == 2  # all handled
    assert shard.get(shard.starting_sequence_number, 10) == []


# ------------------------------------------------------------------ the option

def test_given_persist_when_up_then_run_gets_the_directory(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from infra.console import up as cli
    from infra.console.app import app

    # Given the stack's start replaced by a recorder
    calls = []
    monkeypatch.setattr(cli, "run", lambda args: calls.append(args) or 0)
    # When `timeline up --persist DIR` is run
    flags = ["--persist", str(tmp_path / "state"), "--no-demo"]
    result = CliRunner().invoke(app, ["up", *flags])
    # Then run gets exactly those options, the directory included
    assert result.exit_code == 0, result.output
    assert vars(calls[0]) == vars(cli.UpOptions(persist=tmp_path / "state", demo=False))
    assert calls[0].persist == tmp_path / "state" and cli.UpOptions().persist is None
