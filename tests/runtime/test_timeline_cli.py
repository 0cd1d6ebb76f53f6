"""`timeline` (infra.console): each command's wiring, output and verdicts, without a stack.

Commands run in-process through typer's CliRunner; what would start a stack or a benchmark is
replaced by a recorder at the boundary (infra.console.up.run, bench.cli.main), so these tests check
what `timeline` passes on, not the stack itself (tests/runtime/test_timeline_cli_on_a_stack.py does).
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

from bench import commands as bench_cmd
from infra.console import doctor
from infra.console import logs as logs_cmd
from infra.console import stack as stack_cmd
from infra.console import up as cli
from infra.console.app import app
from infra.console.common import resolve_function
from infra.runtime.reloader import Reloader, built_layer_sources, code_folders
from infra.runtime.template import ROOT, load_sam

runner = CliRunner()
COMMANDS = ["up", "seed", "invoke", "logs", "redrive", "doctor", "bench", "capacity"]


def timeline(*args: str):
    return runner.invoke(app, list(args))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------ help

def test_given_no_arguments_when_timeline_runs_then_it_lists_every_command():
    result = timeline()
    assert all(f" {name} " in result.output for name in COMMANDS), result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_given_any_command_when_asked_for_help_then_it_explains_itself_with_an_example(command):
    result = timeline(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Examples" in result.output or "Example" in result.output
    assert f"timeline {command}" in result.output


# ------------------------------------------------------------------------------ up

@pytest.fixture
def recorded_run(monkeypatch):
    """infra.console.up.run replaced by a recorder: what `timeline up` would start the stack with."""
    calls = []
    monkeypatch.setattr(cli, "run", lambda args: calls.append(args) or 0)
    return calls


def test_given_no_options_when_up_then_the_stack_starts_with_the_default_options(recorded_run):
    result = timeline("up")
    assert result.exit_code == 0, result.output
    assert vars(recorded_run[0]) == vars(cli.UpOptions())


def test_given_every_option_when_up_then_run_gets_each_of_them(recorded_run):
    flags = ["--no-demo", "--port", "0", "--emulator-port", "0", "--param", "CelebrityThreshold=3",
             "--param", "Stage=prod", "--stack-name", "mine", "--seed", "9", "--demo-users", "30",
             "--demo-posts", "80", "--verbose", "--no-reload"]
    result = timeline("up", *flags)
    assert result.exit_code == 0, result.output
    assert vars(recorded_run[0]) == vars(cli.UpOptions(
        demo=False, port=0, emulator_port=0, param=[("CelebrityThreshold", "3"), ("Stage", "prod")],
        stack_name="mine", seed=9, demo_users=30, demo_posts=80, verbose=True, reload=False))
    assert recorded_run[0].param == [("CelebrityThreshold", "3"), ("Stage", "prod")]


def test_given_a_parameter_without_a_value_when_up_then_it_is_refused_before_anything_starts(recorded_run):
    result = timeline("up", "--param", "CelebrityThreshold")
    assert result.exit_code == 2 and "Name=Value" in result.output
    assert recorded_run == []


def test_given_the_stack_exits_non_zero_then_up_exits_with_its_code(monkeypatch):
    monkeypatch.setattr(cli, "run", lambda args: 1)
    assert timeline("up", "--no-demo").exit_code == 1


def test_the_shared_defaults_are_the_emulators_and_up_options():
    from infra.console import defaults
    from infra.runtime.emulator import DEFAULT_PORT
    assert defaults.EMULATOR_PORT == DEFAULT_PORT
    args = cli.UpOptions()
    assert (args.port, args.emulator_port, args.stack_name) == (3000, 4566, "timeline-local")


# ------------------------------------------------------------------------------ function names

@pytest.mark.parametrize("name, expected", [
    ("ApiFunction", "ApiFunction"), ("api", "ApiFunction"), ("API", "ApiFunction"),
    ("fanout-worker", "FanoutWorkerFunction"), ("fanout_worker", "FanoutWorkerFunction"),
    ("FanoutDispatch", "FanoutDispatchFunction"), ("dispatch", "FanoutDispatchFunction"),
    ("media-processor", "MediaProcessorFunction"),
])
def test_given_a_logical_id_or_short_name_then_it_resolves_to_the_templates_function(name, expected):
    from infra.console.common import template_functions
    code_dirs = template_functions()
    assert resolve_function(name, code_dirs, code_dirs) == expected


def test_given_an_ambiguous_or_unknown_name_then_the_error_names_the_candidates():
    known = ["ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction"]
    with pytest.raises(typer.BadParameter, match="FanoutDispatchFunction, FanoutWorkerFunction"):
        resolve_function("fanout", known)
    with pytest.raises(typer.BadParameter, match=r"ApiFunction \(api\)"):
        resolve_function("nope", known)


# ------------------------------------------------------------------------------ logs

POWERTOOLS = {"level": "INFO", "location": "handler:42", "message": "post created",
              "timestamp": "2026-11-27 05:46:01,123+0000", "service": "timeline", "cold_start": True,
              "function_name": "timeline-local-ApiFunction-X", "function_request_id": "r-1",
              "correlation_id": "corr-7", "tweet_id": "913472704300351488"}
EMF = {"_aws": {"Timestamp": 1795758361123,  # 2026-11-27 05:46:01.123 UTC
                "CloudWatchMetrics": [{"Namespace": "Timeline",
                                                                   "Dimensions": [["service"]],
                                                                   "Metrics": [{"Name": "PostsCreated",
                                                                                "Unit": "Count"}]}]},
       "service": "timeline", "PostsCreated": [1.0, 1.0, 1.0]}


@pytest.fixture
def log_dir(tmp_path) -> Path:
    lines = [json.dumps(POWERTOOLS), json.dumps(EMF), "Traceback (most recent call last): boom",
             json.dumps({**POWERTOOLS, "level": "ERROR", "message": "last one", "correlation_id": None})]
    (tmp_path / "ApiFunction.log").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_given_powertools_lines_when_logs_then_each_is_one_compact_line(log_dir):
    result = timeline("logs", "api", "--log-dir", str(log_dir))
    assert result.exit_code == 0, result.output
    first, metric, plain, last = result.output.splitlines()
    assert first.startswith("05:46:01.123 INFO") and "post created" in first
    assert "correlation_id=corr-7" in first and "tweet_id=913472704300351488" in first
    assert "function_request_id" not in first and "location" not in first  # the standard keys stay out
    assert metric.startswith("05:46:01.123 METRIC") and "PostsCreated: n=3 sum=3" in metric
    assert plain == "Traceback (most recent call last): boom"
    assert last.startswith("05:46:01.123 ERROR") and "correlation_id" not in last


def test_given_raw_and_a_line_count_when_logs_then_the_last_lines_are_printed_as_written(log_dir):
    result = timeline("logs", "ApiFunction", "--log-dir", str(log_dir), "--raw", "-n", "2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == (log_dir / "ApiFunction.log").read_text().splitlines()[-2:]


def test_given_no_log_file_when_logs_then_it_says_why_and_exits_1(tmp_path):
    result = timeline("logs", "fanout-worker", "--log-dir", str(tmp_path))
    assert result.exit_code == 1 and "no log for FanoutWorkerFunction" in result.output


def test_given_a_followed_log_when_lines_are_appended_and_the_file_replaced_then_follow_yields_them(tmp_path):
    path = tmp_path / "ApiFunction.log"
    path.write_text("old line\n")
    seen: list[str] = []
    done = threading.Event()

    def reader():
        for line in logs_cmd.follow(path, start_at_end=True, poll=0.02, stop=done.is_set):
            seen.append(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.1)
    with path.open("a") as f:  # When a line is written in two pieces
        f.write("new ")
        f.flush()
        time.sleep(0.1)
        f.write("line\n")
    time.sleep(0.1)
    path.unlink()  # When a new run replaces the file
    path.write_text("next run\n")
    deadline = time.monotonic() + 5
    while "next run" not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    done.set()
    thread.join(2)
    # Then: only what came after the start, whole lines, and the replacement from its start
    assert seen == ["new line", "--- log restarted ---", "next run"]


# ------------------------------------------------------------------------------ doctor

def test_given_pyproject_then_the_pins_include_the_runtime_and_dev_sets():
    pinned = doctor.pins()
    assert pinned["typer"] == "0.29.1" and pinned["rich"] == "15.0.0" and pinned["watchfiles"] == "1.3.0"
    assert "boto3" in pinned and "moto" in pinned  # moto[server]: the extra is not part of the name


def test_given_a_missing_package_then_doctor_fails_only_if_up_needs_it_and_a_different_version_warns():
    pinned = {"boto3": "1.0", "moto": "5.2.5", "pytest": "9.2.0"}
    missing = doctor.check_packages(pinned, installed=lambda name: {"boto3": "1.0", "pytest": "9.2.0"}.get(name))
    assert missing.verdict == doctor.FAIL and "`timeline up` needs moto" in missing.detail and "make" in missing.fix
    test_tool = doctor.check_packages(pinned, installed=lambda name: {"boto3": "1.0", "moto": "5.2.5"}.get(name))
    assert test_tool.verdict == doctor.WARN and "missing: pytest" in test_tool.detail
    different = doctor.check_packages(pinned, installed=lambda name: {"boto3": "1.1", "moto": "5.2.5",
                                                                      "pytest": "9.2.0"}[name])
    assert different.verdict == doctor.WARN and "boto3 1.1 (pinned 1.0)" in different.detail


def test_given_an_old_python_or_a_full_disk_then_doctor_fails():
    assert doctor.check_python((3, 10, 12)).verdict == doctor.FAIL
    assert doctor.check_python((3, 11, 7)).verdict == doctor.OK

    class Usage:
        free = 100 * 1000 * 1000
    assert doctor.check_disk(usage=lambda path: Usage()).verdict == doctor.FAIL


def test_given_a_port_held_by_another_program_then_doctor_names_it_and_exits_1(monkeypatch):
    monkeypatch.setattr(doctor, "pins", lambda **_: {})  # this test is about ports, not the virtualenv
    with socket.socket() as held:  # a program that takes connections and hangs up: no HTTP
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        threading.Thread(target=lambda: [held.accept()[0].close() for _ in range(5)], daemon=True).start()
        result = runner.invoke(app, ["doctor", "--port", str(port), "--emulator-port", str(_free_port())],
                               env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "in use by another program" in result.output and "blocked by" in result.output


def test_given_a_port_held_by_a_running_local_stack_then_doctor_says_so_and_does_not_block():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"status": "ok"}' if self.path == "/v1/health" else b"{}"
            self.send_response(200 if self.path == "/v1/health" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        check = doctor.check_api_port(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert check.verdict == doctor.WARN and "running local stack" in check.detail


def test_given_free_ports_then_doctor_reports_them_free_and_no_emulator_running():
    checks = doctor.check_emulator_port(_free_port(), None, "timeline-local")
    assert [(c.name.split(" (")[0], c.verdict) for c in checks] == [(checks[0].name.split(" (")[0], doctor.OK),
                                                                     ("emulator", doctor.OK)]
    assert doctor.check_api_port(_free_port()).detail == "free"


# ------------------------------------------------------------------------------ bench and capacity

def test_given_bench_options_when_bench_then_bench_cli_gets_them_with_the_rest_passed_through(monkeypatch, tmp_path):
    from bench import cli as bench_cli
    from bench import runner
    original = runner.Progress
    seen = {}

    def fake_main(argv):
        seen["argv"] = argv
        seen["progress"] = runner.Progress  # what run_benchmark would build
        return 0

    monkeypatch.setattr(bench_cli, "main", fake_main)
    result = timeline("bench", "-p", "tiny", "--out", str(tmp_path), "--no-plots", "--future-flag", "x")
    assert result.exit_code == 0, result.output
    assert seen["argv"] == ["run", "--profile", "tiny", "--out", str(tmp_path), "--no-plots", "--future-flag", "x"]
    # The benchmark reported through the rich progress while it ran, and only then
    assert issubclass(seen["progress"], original) and seen["progress"] is not original
    assert runner.Progress is original


def test_given_an_unknown_profile_when_bench_then_it_is_refused_with_the_known_ones():
    result = timeline("bench", "--profile", "huge")
    assert result.exit_code == 2 and "tiny" in result.output and "quick" in result.output


def test_given_a_target_scale_when_capacity_then_the_tables_show_the_models_figures(monkeypatch):
    from bench import model
    projected = []
    projection = model.projection
    monkeypatch.setattr(model, "projection", lambda *a, **kw: projected.append(projection(*a, **kw)) or projected[-1])
    args = ["--users", "2000000", "--posts-per-s", "50", "--reads-per-s", "2500"]
    result = runner.invoke(app, ["capacity", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    [scale] = projected
    assert (scale["users"], scale["posts_per_s"], scale["home_reads_per_s"]) == (2_000_000, 50.0, 2500.0)
    assert f"hybrid threshold (threshold_rule): {scale['thresholds']['hybrid']:,} followers" in result.output
    assert "2,000,000 users, 50 posts/s, 2,500 home reads/s" in result.output
    totals = next(line for line in result.output.splitlines() if "USD/month total " in line)
    assert [bench_cmd._fmt(scale["projected"][n]["monthly_usd"]["total"]) for n in ("push", "pull", "hybrid")] == \
        totals.replace("│", " ").split()[-3:]
    assert "cutting the hybrid's bill" in result.output and "provisioned capacity" in result.output


def test_given_plain_when_capacity_then_bench_capacity_prints_it_with_the_same_options(monkeypatch):
    from bench import model
    seen = []
    monkeypatch.setattr(model, "capacity_main", lambda argv: seen.append(argv) or 0)
    result = timeline("capacity", "--plain", "--users", "1000000", "--reads-per-s", "500")
    assert result.exit_code == 0, result.output
    assert seen == [["--preset", "twitter-2013", "--users", "1000000", "--reads-per-s", "500.0"]]


# ------------------------------------------------------------------------------ seed and redrive

def test_given_no_stack_at_the_api_when_seed_then_it_says_how_to_start_one_and_exits_1():
    result = timeline("seed", "--api", f"http://127.0.0.1:{_free_port()}")
    assert result.exit_code == 1 and "no local stack" in result.output and "timeline up" in result.output


def test_given_a_plan_then_its_busiest_poster_counts_posts_replies_reposts_and_pictures():
    from infra.console.seed import SeedPlan
    plan = SeedPlan(users=[], follows=[], posts=[(1, "a"), (1, "b"), (2, "c")], threshold=5,
                    reactions=[(2, 0, None), (2, 1, "re")], pictures=[(2, "x", 1)])
    assert stack_cmd.busiest_poster(plan) == 4


def test_given_seed_phases_then_the_progress_bar_tracks_each_and_the_wait_reports_its_answer():
    from rich.console import Console

    from infra.console.progress import SeedProgressBar
    with SeedProgressBar(Console(file=open("/dev/null", "w"))) as bar:
        started = time.monotonic()
        bar.update("sign-up", 3, 10, started)
        bar.update("sign-up", 10, 10, started, force=True)
        bar.update("follow", 1, 4, started)
        settled = bar.waiting(lambda timeout: timeout == 60.0)(60.0)
    tasks = {t.description: t for t in bar.progress.tasks}
    assert tasks["sign-up"].completed == 10 and tasks["sign-up"].finished
    assert tasks["follow"].completed == 1 and not tasks["follow"].finished
    assert settled is True and tasks["fan-out"].finished
    assert bar.waiting(None) is None


def test_given_redrive_options_then_the_redrive_gets_them(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "redrive", lambda queue, stack_name, *, local, limit: seen.append(
        {"queue": queue, "stack_name": stack_name, "local": local, "max": limit}) or 0)
    result = timeline("redrive", "--queue", "media", "--local", "--max", "5")
    assert result.exit_code == 0, result.output
    assert seen == [{"queue": "media", "stack_name": "timeline-local", "local": True, "max": 5}]
    assert timeline("redrive", "--queue", "nope").exit_code == 2


# ------------------------------------------------------------------------------ reload: what changes mean

def test_given_the_template_then_each_code_folder_maps_to_the_functions_that_import_it():
    sam = load_sam()
    functions = ["ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction", "MediaProcessorFunction"]
    folders = code_folders(sam, functions)
    assert folders[ROOT / "functions" / "api"] == {"ApiFunction"}
    assert folders[ROOT / "functions" / "fanout_worker"] == {"FanoutWorkerFunction"}
    assert folders[ROOT / "layers" / "timeline" / "python"] == set(functions)  # the layer: every function
    assert not any(folder.is_relative_to(ROOT / "layers" / "deps") for folder in folders)  # built, not watched
    assert built_layer_sources(sam) == {ROOT / "layers" / "deps": "DepsLayer"}


class RecordingFunctions:
    function_ids: ClassVar[list[str]] = ["ApiFunction", "FanoutDispatchFunction", "FanoutWorkerFunction",
                                         "MediaProcessorFunction"]

    def __init__(self):
        self.reloaded: list[list[str]] = []

    def reload(self, logical_ids):
        self.reloaded.append(list(logical_ids))
        return logical_ids


def test_given_changed_files_then_only_their_functions_reload_and_the_log_says_why(caplog):
    functions = RecordingFunctions()
    reloader = Reloader.for_template(load_sam(), functions)
    with caplog.at_level(logging.INFO, logger="infra.runtime.reloader"):
        # When a handler file changes
        reloader.apply([ROOT / "functions" / "api" / "app.py"])
        # Then only its function reloads, and the log names the file
        assert functions.reloaded == [["ApiFunction"]]
        assert "reloaded ApiFunction (functions/api/app.py changed)" in caplog.messages
        # When the shared layer changes, Then every function reloads
        functions.reloaded.clear()
        reloader.apply([ROOT / "layers" / "timeline" / "python" / "timeline" / "text.py"])
        assert sorted(ids[0] for ids in functions.reloaded) == sorted(RecordingFunctions.function_ids)
        # When the requirements of the built layer change, Then nothing reloads, and a restart is asked for
        functions.reloaded.clear()
        reloader.apply([ROOT / "layers" / "deps" / "requirements.txt"])
        assert functions.reloaded == []
        assert any("restart to rebuild" in m and "DepsLayer" in m for m in caplog.messages)
        # When a file outside every code folder changes, Then nothing happens
        reloader.apply([ROOT / "README.md"])
        assert functions.reloaded == []


def test_given_a_watched_folder_when_a_file_is_saved_then_the_watcher_reloads_its_function(tmp_path):
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("x = 1\n")
    sam = {"Resources": {"FnFunction": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "fn"}}}}

    class One(RecordingFunctions):
        function_ids: ClassVar[list[str]] = ["FnFunction"]

    functions = One()
    reloader = Reloader.for_template(sam, functions, root=tmp_path).start()
    try:
        assert reloader.wait_ready()
        (tmp_path / "fn" / "__pycache__").mkdir()
        (tmp_path / "fn" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"")  # the workers' own writes
        (tmp_path / "fn" / "app.py").write_text("x = 2\n")
        deadline = time.monotonic() + 10
        while not functions.reloaded and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reloader.stop()
    assert functions.reloaded == [["FnFunction"]]


# ------------------------------------------------------------------------------ metrics, --log-dir, --no-metrics

def _emf(at: float, **metrics: list[float]) -> str:
    """One EMF line as powertools Metrics prints it, stamped `at` (epoch s)."""
    return json.dumps({"_aws": {"Timestamp": int(at * 1000), "CloudWatchMetrics": [{
        "Namespace": "Timeline", "Dimensions": [["service"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics]}]}, "service": "timeline", **metrics})


class StubQueues:
    """The stack lookup and SQS of `timeline metrics`, without an emulator: the stack's
    dead-letter queues and their depths, and what was asked."""

    def __init__(self, depths: dict[str, int] | None):
        self.depths, self.found_with, self.asked = depths, [], 0

    def find_queues(self, endpoint_url, stack_name):
        self.found_with.append((endpoint_url, stack_name))
        return None if self.depths is None else {label: f"http://sqs.local/{label}" for label in self.depths}

    def sqs_client(self, endpoint_url):
        return self

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        self.asked += 1
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depths[QueueUrl.rsplit("/", 1)[1]])}}


@pytest.fixture
def metrics_logs(tmp_path) -> Path:
    """A stack's log folder: the api and the fan-out worker logged EMF metrics (and other lines)
    over the last half minute, and 300 posts two minutes ago, outside a 60 s window."""
    now = time.time()
    (tmp_path / "ApiFunction.log").write_text("\n".join([
        _emf(now - 120, PostsCreated=[300.0]),
        json.dumps(POWERTOOLS),
        _emf(now - 20, PostsCreated=[1.0, 1.0], CelebrityMerges=[2.0], PartialReads=[0.0]),
        _emf(now - 10, PostsCreated=[1.0], CelebrityMerges=[0.0, 1.0], PartialReads=[1.0]),
        "Traceback (most recent call last): boom",
    ]) + "\n")
    (tmp_path / "FanoutWorkerFunction.log").write_text("\n".join([
        _emf(now - 15, TimelineEntriesWritten=[40.0, 20.0], FanoutLag=[100.0, 300.0, 200.0]),
        _emf(now - 5, TimelineEntriesWritten=[60.0], FanoutLag=[900.0]),
    ]) + "\n")
    return tmp_path


@pytest.fixture
def stub_queues(monkeypatch):
    from infra.console import metrics as metrics_cmd

    stub = StubQueues({"fanout": 2, "media": 0, "dispatch": 0})
    monkeypatch.setattr(metrics_cmd, "find_queues", stub.find_queues)
    monkeypatch.setattr(metrics_cmd, "sqs_client", stub.sqs_client)
    return stub


def test_given_emf_logs_and_dead_letters_when_metrics_then_a_table_and_the_compact_line(metrics_logs, stub_queues):
    # Given the logs of the fixture and a stack with two dead letters in its fan-out DLQ
    # When `timeline metrics` reads the last minute
    result = timeline("metrics", "--log-dir", str(metrics_logs), "--window", "60")
    # Then the table has the window's figures, the older posts left out
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in result.output.splitlines() if line.count("│") == 4}
    assert rows["posts created"] == "3  (0.1/s)"
    assert rows["timeline entries written"] == "120  (2.0/s)"
    assert (rows["fan-out lag p50"], rows["fan-out lag p99"], rows["fan-out lag max"]) == ("200 ms", "900 ms", "900 ms")
    assert (rows["home reads"], rows["celebrity merges per read"], rows["partial reads"]) == ("3", "1.00", "1")
    assert (rows["DLQ fanout"], rows["DLQ media"], rows["DLQ dispatch"]) == ("2", "0", "0")
    # And the compact line `timeline up` prints, whole on one line
    line = next(line for line in result.output.splitlines() if line.startswith("metrics 60s: "))
    assert "posts 0.1/s" in line and "lag p50 200 ms p99 900 ms" in line and line.endswith("DLQ 2 (fanout 2)")
    # And the queues were those of the local stack's emulator, asked once each
    assert stub_queues.found_with == [("http://127.0.0.1:4566", "timeline-local")] and stub_queues.asked == 3


def test_given_json_an_endpoint_and_a_stack_name_when_metrics_then_the_snapshot_of_that_stack(
        metrics_logs, stub_queues, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    # When asked for JSON of another stack, on the endpoint given (over AWS_ENDPOINT_URL)
    result = timeline("metrics", "--log-dir", str(metrics_logs), "--json", "--stack-name", "other",
                      "--endpoint-url", "http://127.0.0.1:4567/")
    # Then the snapshot's numbers are exact
    assert result.exit_code == 0, result.output
    snap = json.loads(result.output)
    assert (snap["posts"], snap["entries"], snap["reads"], snap["partial_reads"]) == (3, 120, 3, 1)
    assert snap["lag_ms"] == {"p50": 200.0, "p99": 900.0, "max": 900.0, "count": 4}
    assert snap["dlq"] == {"fanout": 2, "media": 0, "dispatch": 0} and snap["dlq_total"] == 2
    assert stub_queues.found_with == [("http://127.0.0.1:4567", "other")]
    # And without --endpoint-url, AWS_ENDPOINT_URL is the emulator
    timeline("metrics", "--log-dir", str(metrics_logs), "--json")
    assert stub_queues.found_with[-1] == ("http://127.0.0.1:9999", "timeline-local")


def test_given_a_short_window_when_metrics_then_only_its_samples_count(metrics_logs, stub_queues):
    result = timeline("metrics", "--log-dir", str(metrics_logs), "--json", "--window", "12")
    snap = json.loads(result.output)
    assert (snap["window_s"], snap["posts"], snap["entries"], snap["lag_ms"]["count"]) == (12.0, 1, 60, 1)


def test_given_no_stack_when_metrics_then_the_logs_still_count_and_it_says_the_queues_were_not(
        metrics_logs, monkeypatch):
    from infra.console import metrics as metrics_cmd

    stub = StubQueues(None)
    monkeypatch.setattr(metrics_cmd, "find_queues", stub.find_queues)
    monkeypatch.setattr(metrics_cmd, "sqs_client", lambda endpoint_url: pytest.fail("no SQS without a stack"))
    result = timeline("metrics", "--log-dir", str(metrics_logs))
    assert result.exit_code == 0, result.output
    assert "no stack 'timeline-local' at http://127.0.0.1:4566" in result.output
    assert "stack not found" in result.output and "posts created" in result.output
    assert "DLQ" not in next(line for line in result.output.splitlines() if line.startswith("metrics 60s: "))


def test_given_no_stack_and_no_logs_when_metrics_then_it_says_how_to_start_one_and_exits_1(tmp_path, monkeypatch):
    from infra.console import metrics as metrics_cmd

    monkeypatch.setattr(metrics_cmd, "find_queues", StubQueues(None).find_queues)
    result = timeline("metrics", "--log-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "timeline up" in result.output


def test_given_watch_when_metrics_then_it_refreshes_every_interval_until_ctrl_c(metrics_logs, stub_queues, monkeypatch):
    from types import SimpleNamespace

    from infra.console import metrics as metrics_cmd

    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the second nap is interrupted by Ctrl-C
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(metrics_cmd, "time", SimpleNamespace(sleep=sleep))
    result = timeline("metrics", "--log-dir", str(metrics_logs), "--watch", "--interval", "2")
    # Then: a snapshot, a refresh after the interval, and a clean exit at Ctrl-C with the last table shown
    assert result.exit_code == 0, result.output
    assert naps == [2.0, 2.0] and stub_queues.asked == 2 * 3
    assert "posts created" in result.output and "metrics 60s: " in result.output


def test_given_metrics_when_asked_for_help_then_it_explains_itself_with_an_example():
    result = timeline("metrics", "--help")
    assert result.exit_code == 0 and "timeline metrics --window" in result.output
    assert " metrics " in timeline().output


def test_given_log_dir_and_no_metrics_when_up_then_run_gets_both(recorded_run, tmp_path):
    flags = ["--log-dir", str(tmp_path / "stack-b"), "--no-metrics"]
    result = timeline("up", *flags)
    assert result.exit_code == 0, result.output
    assert vars(recorded_run[0]) == vars(cli.UpOptions(log_dir=tmp_path / "stack-b", metrics=False))
    assert (recorded_run[0].log_dir, recorded_run[0].metrics) == (tmp_path / "stack-b", False)
    # And by default: .local/logs and the metrics line, as before
    defaults = cli.UpOptions()
    assert (defaults.log_dir, defaults.metrics) == (ROOT / ".local" / "logs", True)


def test_given_the_stacks_log_dir_then_the_live_metrics_line_goes_through_the_cli_logger_unless_held(
        metrics_logs, caplog):
    from types import SimpleNamespace

    # Given the live metrics `timeline up` starts for a stack without dead-letter queue outputs
    stack = SimpleNamespace(outputs={}, physical_ids={})
    live, line = cli._live_metrics(stack, metrics_logs, "http://127.0.0.1:1", "us-east-1")
    try:
        with caplog.at_level(logging.INFO, logger="infra.console.up"):
            # When it looks while held (the demo's progress bar on a terminal), Then nothing is printed
            line.held = True
            live.tick()
            assert not [r for r in caplog.records if r.name == "infra.console.up"]
            # When released and the figures change, Then the line is logged by infra.console.up
            line.held = False
            with (metrics_logs / "ApiFunction.log").open("a") as log:
                log.write(_emf(time.time(), PostsCreated=[5.0]) + "\n")
            printed = live.tick()
        assert printed and printed.startswith("metrics 10s: ")
        assert [r.getMessage() for r in caplog.records if r.name == "infra.console.up"] == [printed]
    finally:
        live.stop()


def test_the_banner_names_the_web_client_above_the_api_and_still_ends_with_ctrl_c():
    text = cli.banner("http://127.0.0.1:3000", "http://127.0.0.1:4566", True, 1.5, None)
    lines = text.splitlines()
    web = lines.index("  Web       http://127.0.0.1:3000/  (the web client)")
    assert lines[web + 1] == "  API       http://127.0.0.1:3000"
    assert lines[-1] == "Ctrl-C stops everything."


def test_given_a_demo_still_loading_then_the_banner_says_so_below_the_login():
    from infra.console.demo_loader import LoadReport

    # Given the accounts written and the posts still loading in the background
    text = cli.banner("http://127.0.0.1:3000", "http://127.0.0.1:4566", True, 1.5, LoadReport(),
                      note="Demo      posts ... are loading in the background")
    lines = text.splitlines()
    # Then the login comes first, then what is still on its way
    login = next(i for i, line in enumerate(lines) if line.startswith("  Login     handle 'demo'"))
    assert lines[login + 1] == "  Demo      posts ... are loading in the background"
    assert "demo accounts 0.0s" in lines[1]
