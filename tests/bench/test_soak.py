"""The chaos soak's short profile (bench/soak): the whole local stack under a Twitter-shaped
load for forty seconds while every kind of fault strikes, judged against the naive model of
what was acknowledged. And the proof that it can fail: with a known defect put back into the
api's code (the Idempotency-Key ignored, so a post resent after its answer was lost is posted
twice), the same soak catches it.

`make soak` runs the long profile (10 minutes); its figures are in docs/reliability.md.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from infra.runtime import template as tpl

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server

SEED = 24


def test_given_the_short_soak_when_every_fault_kind_strikes_then_nothing_acknowledged_is_lost_or_doubled(
        moto_endpoint, tmp_path):
    from bench.soak.run import PROFILES, run_soak, summary

    # Given the short profile's faults (kills of all four functions, DynamoDB throttling and
    # conflicts, duplicate stream batches, redelivered messages, a poller restart, half-applied
    # worker batches, dropped answers), when its load runs and the pipeline drains
    report = run_soak(PROFILES["short"], SEED, endpoint_url=moto_endpoint, out=tmp_path, say=print)

    # Then every fault kind struck at least its minimum, and every timeline, post and counter
    # is what the acknowledged changes make
    assert report["ok"], "\n".join(summary(report))
    assert all(f["count"] >= max(1, f["minimum"]) for f in report["faults"].values()), report["faults"]
    assert (report["lost"], report["duplicated"], report["mismatched_timelines"], report["counters_off"]) == (0, 0, 0, 0)
    assert report["acknowledged"]["post"] > 0 and report["home_reads"] > 20 * report["acknowledged"]["post"]
    saved = json.loads((tmp_path / "soak.json").read_text())
    assert {"duration_s", "seed", "acknowledged", "faults", "lost", "duplicated", "mismatched_timelines",
            "counters_off", "latency_under_faults_ms"} <= set(saved)
    assert saved["latency_under_faults_ms"]["home"]["p99_ms"] >= saved["latency_under_faults_ms"]["home"]["p50_ms"]


def _api_with_the_idempotency_key_ignored(folder):
    """The api's code, and the domain layer's before it on sys.path, with posting.py's keyed
    path cut out: every post creates a new post, whatever its Idempotency-Key."""
    spec = tpl.functions(tpl.load_sam())["ApiFunction"]
    code = folder / "api"
    shutil.copytree(spec.code_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(tpl.ROOT / "layers" / "timeline" / "python" / "timeline", code / "timeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    posting = code / "timeline" / "service" / "posting.py"
    source = posting.read_text()
    keyed = "        if idempotency_key is None:\n"
    assert source.count(keyed) == 1
    posting.write_text(source.replace(keyed, "        if True:  # the defect: the key is ignored\n"))
    return dataclasses.replace(spec, code_dir=code)


def test_given_the_idempotency_key_ignored_when_the_short_soak_runs_then_it_fails_on_duplicated_posts(
        moto_endpoint, tmp_path):
    from bench.soak.faults import FaultPlan
    from bench.soak.run import PROFILES, run_soak

    # Given the api with a known defect put back, and the short soak with every acknowledged
    # write's answer dropped (each then sent again, as a client whose answer was lost does), for
    # twenty seconds
    short = PROFILES["short"]
    profile = dataclasses.replace(short, duration_s=20, plan=dataclasses.replace(
        short.plan, answers_dropped=1.0, minimums={}))
    assert isinstance(profile.plan, FaultPlan)
    specs = {"ApiFunction": _api_with_the_idempotency_key_ignored(tmp_path)}

    # When it runs
    report = run_soak(profile, SEED, endpoint_url=moto_endpoint, out=None, specs=specs, say=print)

    # Then it fails, and says why: posts that exist twice (and the home timelines that show them)
    assert not report["ok"]
    assert report["duplicated"] > 0, report
    assert any(d.get("posts unexpected or twice") for d in report["diffs"]), report["diffs"]
