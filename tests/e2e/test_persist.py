"""`make run ARGS="--persist DIR"`: a developer's data survives a restart of the local stack,
and a persisted stack starts without deploying or seeding (infra/runtime/snapshot.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, Api, LocalStack, eventually

pytestmark = pytest.mark.e2e

STREAM_BATCH = re.compile(r"FanoutDispatchFunction <- \S+ batch=")


def _startup(stack: LocalStack) -> float:
    banner = next(line for line in stack.lines if line.startswith("Local stack is up"))
    return float(re.search(r"startup ([0-9.]+)s", banner).group(1))


def test_given_a_persisted_stack_when_it_restarts_then_its_data_is_there_and_nothing_is_replayed(tmp_path):
    state = tmp_path / "state"
    # Given a stack started with --persist, where bob follows alice and alice posted
    first = LocalStack("--no-demo", "--param", "CelebrityThreshold=3", "--persist", str(state)).wait_ready()
    try:
        api = Api(first.url)
        alice, alice_token = api.new_user("alice")
        bob, bob_token = api.new_user("bob")
        api.follow(bob_token, alice)
        before = api.post(alice_token, "written before the restart")
        eventually(lambda: before in api.timeline_ids(bob_token))
        # (and the follow's graph-stream records handled too: that stream batches over a second,
        # and a batch still gathering at the stop is handled after the restart, as it should be)
        eventually(lambda: any(STREAM_BATCH.search(line) and "GraphTable" in line for line in first.lines))
    finally:
        # When it is stopped with SIGTERM
        assert first.stop() == 0, first.log()
    assert any("emulator state saved to" in line for line in first.lines), first.log()

    # And started again with the same directory (no --param: the snapshot's stack is reused)
    second = LocalStack("--no-demo", "--persist", str(state)).wait_ready()
    try:
        log = second.log()
        # Then it restored the snapshot instead of deploying
        assert "restored the snapshot taken" in log and "deploying template.yaml" not in log, log
        assert "CelebrityThreshold=3 (as deployed, from the snapshot" in log
        print(f"\nstartup: first {_startup(first):.1f}s (deploy), restarted {_startup(second):.1f}s (restore)")
        # And both accounts sign in with their passwords, and bob's timeline and alice's
        # profile are as they were
        api = Api(second.url)
        alice_token, bob_token = api.sign_in(alice), api.sign_in(bob)
        assert api.timeline_ids(bob_token) == [before]
        assert api.profile(bob_token, alice)["followers_count"] == 1
        # And no stream record handled before the stop was handled again
        assert not [line for line in second.lines if STREAM_BATCH.search(line)], second.log()
        # And the pipeline works on: a new post reaches bob through the fan-out
        after = api.post(alice_token, "written after the restart")
        eventually(lambda: api.timeline_ids(bob_token) == [after, before])
        assert len([line for line in second.lines if STREAM_BATCH.search(line)]) >= 1
    finally:
        assert second.stop() == 0, second.log()


def test_given_a_snapshot_when_started_with_another_parameter_then_it_refuses_to_run_stale_infrastructure(tmp_path):
    # Given a snapshot of the stack as deployed with CelebrityThreshold=3 (its description,
    # as a save writes it: the check comes before the state is read)
    from infra.runtime import template as tpl
    from infra.runtime.snapshot import FORMAT, META_FILE, _moto_version, template_fingerprint

    state = tmp_path / "state"
    state.mkdir()
    (state / META_FILE).write_text(json.dumps({
        "format": FORMAT, "moto": _moto_version(), "taken_at": "2026-01-01T00:00:00+00:00",
        "template_sha256": template_fingerprint(tpl.TEMPLATE_PATH), "stack_name": "timeline-local",
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "params": {"CelebrityThreshold": "3"}}))
    # When the stack is started on it with CelebrityThreshold=4
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    run = subprocess.run([sys.executable, "-m", "infra.console", "up", "--port", "0", "--emulator-port", "0",
                          "--no-demo", "--param", "CelebrityThreshold=4", "--persist", str(state),
                          "--log-dir", str(tmp_path / "logs")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # Then it exits 1 before starting anything, saying what differs and what to do
    assert run.returncode == 1, run.stdout + run.stderr
    assert "CelebrityThreshold=4, but the stack was deployed with CelebrityThreshold=3" in run.stderr
    assert "stale infrastructure" in run.stderr and "AWS emulator" not in run.stderr
