"""`timeline invoke` against a deployed stack, and code reload on real worker processes.

The stack is the session's `deployed_stack` (template.yaml on the moto server of
tests/support/moto_server.py); nothing here starts another.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.console.app import app
from infra.runtime.functions import LocalFunctions
from infra.runtime.reloader import Reloader
from infra.runtime.template import ROOT

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server

runner = CliRunner()


def test_given_the_deployed_stack_when_the_health_sample_is_invoked_then_api_function_answers_like_api_gateway(
        deployed_stack, moto_endpoint):
    # Given the stack on the emulator, When `timeline invoke api -e events/api_health.json`
    result = runner.invoke(app, ["invoke", "api", "-e", str(ROOT / "events" / "api_health.json"),
                                 "--endpoint-url", moto_endpoint, "--stack-name", deployed_stack.name])
    # Then ApiFunction ran with the stack's environment and answered the route's response
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"status": "ok"}
    assert f"REPORT ApiFunction ({deployed_stack.physical_ids['ApiFunction']})" in result.stderr

    # When a function gets an event it cannot handle, Then Lambda's error payload and exit 1
    failed = runner.invoke(app, ["invoke", "fanout-worker", "-e", "-", "--no-logs", "--endpoint-url", moto_endpoint,
                                 "--stack-name", deployed_stack.name], input="{}")
    assert failed.exit_code == 1, failed.output
    error = json.loads(failed.stdout)
    assert set(error) == {"errorType", "errorMessage", "stackTrace"} and error["errorType"]


def test_given_no_such_stack_when_invoked_then_it_names_the_stacks_there_and_exits_2(deployed_stack, moto_endpoint):
    result = runner.invoke(app, ["invoke", "api", "--endpoint-url", moto_endpoint, "--stack-name", "missing"])
    assert result.exit_code == 2 and deployed_stack.name in result.output


# ------------------------------------------------------------------------------ reload on real workers

@pytest.fixture
def echo(deployed_stack, moto_endpoint, fixture_spec):
    """One echo worker standing in for ApiFunction."""
    functions = LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1,
                                     specs={"ApiFunction": fixture_spec("echo", "ApiFunction", timeout=5)})
    yield functions
    functions.close()


def _exited(pid: int, timeout: float = 5.0) -> bool:
    """The worker process is gone (stopped and reaped by its pool)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not Path(f"/proc/{pid}").exists()


def test_given_an_idle_worker_when_its_function_reloads_then_a_fresh_process_serves_the_next_call(echo):
    before = echo.invoke("ApiFunction", {})["pid"]
    assert echo.reload(["ApiFunction"]) == ["ApiFunction"]
    after = echo.invoke("ApiFunction", {})
    assert after["pid"] != before and after["init_count"] == 1
    assert _exited(before)


def test_given_a_busy_worker_when_its_function_reloads_then_the_call_finishes_and_the_next_gets_a_fresh_one(echo):
    warm = echo.invoke("ApiFunction", {})["pid"]
    answers = {}
    busy = threading.Thread(target=lambda: answers.update(echo.invoke("ApiFunction", {"sleep": 1.0})))
    busy.start()
    time.sleep(0.3)  # the invocation is in flight
    echo.reload(["ApiFunction"])
    assert Path(f"/proc/{warm}").exists()  # not killed mid-invocation
    busy.join(10)
    assert answers["pid"] == warm  # the in-flight call finished on the old worker, normally
    assert echo.invoke("ApiFunction", {})["pid"] != warm  # replaced once released
    assert _exited(warm)


def test_given_the_watcher_when_a_handler_file_is_edited_then_the_next_invocation_runs_the_new_code(
        deployed_stack, moto_endpoint, fixture_spec, tmp_path, caplog):
    # Given a function whose code folder is a copy of the echo handler, behind the watcher
    folder = tmp_path / "functions" / "echo"
    shutil.copytree(ROOT / "tests" / "fixtures" / "functions" / "echo", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    spec = dataclasses.replace(fixture_spec("echo", "EchoFunction"), code_dir=folder)
    sam = {"Resources": {"EchoFunction": {"Type": "AWS::Serverless::Function",
                                          "Properties": {"CodeUri": "functions/echo"}}}}
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1,
                              specs={"EchoFunction": spec}) as functions:
        assert "version" not in functions.invoke("EchoFunction", {})
        reloader = Reloader.for_template(sam, functions, root=tmp_path).start()
        try:
            assert reloader.wait_ready()
            # When the handler is edited
            with caplog.at_level(logging.INFO, logger="infra.runtime.reloader"):
                source = (folder / "app.py").read_text()
                (folder / "app.py").write_text(source.replace('    return {\n', '    return {\n        "version": 2,\n'))
                deadline = time.monotonic() + 10
                while "reloaded EchoFunction (functions/echo/app.py changed)" not in caplog.messages:
                    assert time.monotonic() < deadline, caplog.messages
                    time.sleep(0.05)
            # Then the next invocation runs the edited code
            assert functions.invoke("EchoFunction", {})["version"] == 2
        finally:
            reloader.stop()
