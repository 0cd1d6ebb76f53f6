"""LocalFunctions: handlers in their own worker processes, with their own environment."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.runtime.functions import FunctionError, FunctionTimeout, LocalFunctions
from infra.runtime.template import ROOT

# moto's HTTP server or real processes on ports: a pytest process of their own (make test, step 2)
pytestmark = pytest.mark.server


@pytest.fixture
def echo_functions(deployed_stack, moto_endpoint, fixture_spec):
    """The echo fixture standing in for two of the template's functions."""
    specs = {"ApiFunction": fixture_spec("echo", "ApiFunction", timeout=1, memory=512),
             "FanoutWorkerFunction": fixture_spec("echo", "FanoutWorkerFunction", timeout=3, memory=256)}
    functions = LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=2, specs=specs)
    yield functions
    functions.close()


def test_given_the_deployed_stack_when_invoked_then_the_worker_sees_that_functions_env_and_lambda_vars(
        echo_functions, deployed_stack, moto_endpoint, monkeypatch):
    names = ["TWEETS_TABLE", "FANOUT_QUEUE_URL", "CELEBRITY_THRESHOLD", "AWS_ENDPOINT_URL", "AWS_REGION",
             "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
             "AWS_ACCESS_KEY_ID", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_SAM_LOCAL"]

    result = echo_functions.invoke("ApiFunction", {"env": names})

    env = result["env"]
    expected = deployed_stack.function_env["ApiFunction"]
    assert {k: env[k] for k in ("TWEETS_TABLE", "FANOUT_QUEUE_URL", "CELEBRITY_THRESHOLD")} == \
        {k: expected[k] for k in ("TWEETS_TABLE", "FANOUT_QUEUE_URL", "CELEBRITY_THRESHOLD")}
    assert env["AWS_ENDPOINT_URL"] == moto_endpoint
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == deployed_stack.region
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == deployed_stack.physical_ids["ApiFunction"]
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_ACCESS_KEY_ID"] != "testing"  # the execution role's, from STS
    assert env["_HANDLER"] == "app.handler"
    assert result["sys_path_head"] == [env["LAMBDA_TASK_ROOT"], str(ROOT / "layers/timeline/python")]
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"]


def test_given_two_functions_with_the_same_variable_then_each_sees_its_own_and_never_the_parents(
        deployed_stack, moto_endpoint, fixture_spec, monkeypatch, tmp_path):
    # Given: the parent process has a value, a secret and a profile of its own
    monkeypatch.setenv("COLOR", "parent-green")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-real-secret")
    (tmp_path / "config").write_text("[profile prod-admin]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    env = {fn: {**vars_, "COLOR": color} for (fn, vars_), color in
           zip(deployed_stack.function_env.items(), ["red", "blue", "amber"], strict=False)}
    stack = dataclasses.replace(deployed_stack, function_env=env)
    specs = {fn: fixture_spec("echo", fn) for fn in env}

    # When
    with LocalFunctions.start(stack, endpoint_url=moto_endpoint, concurrency=1, specs=specs) as functions:
        seen = {fn: functions.invoke(fn, {"env": ["COLOR", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                                                  "AWS_LAMBDA_FUNCTION_NAME"]})["env"] for fn in env}

    # Then
    for fn, expected in env.items():
        assert seen[fn]["COLOR"] == expected["COLOR"]
        assert seen[fn]["AWS_SECRET_ACCESS_KEY"] != "parent-real-secret"
        assert seen[fn]["AWS_PROFILE"] is None
        assert seen[fn]["AWS_LAMBDA_FUNCTION_NAME"] == stack.physical_ids[fn]
    assert len({s["COLOR"] for s in seen.values()}) == 3


def test_given_a_warm_worker_when_invoked_again_then_module_init_ran_once_and_context_is_lambdas(
        echo_functions, deployed_stack):
    first = echo_functions.invoke("ApiFunction", {})
    second = echo_functions.invoke("ApiFunction", {})
    same_worker = second if second["pid"] == first["pid"] else echo_functions.invoke("ApiFunction", {})

    assert same_worker["init_count"] == 1
    context = first["context"]
    name = deployed_stack.physical_ids["ApiFunction"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == "512"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert 0 < context["remaining_ms"] <= 1000
    assert context["aws_request_id"] != second["context"]["aws_request_id"]


def test_given_a_handler_that_raises_then_function_error_carries_type_message_stack_and_worker_survives(
        echo_functions):
    pids = {echo_functions.invoke("FanoutWorkerFunction", {})["pid"] for _ in range(4)}

    with pytest.raises(FunctionError) as caught:
        echo_functions.invoke("FanoutWorkerFunction", {"raise": "bad input"})

    assert caught.value.error_type == "Boom"
    assert caught.value.error_message == "bad input"
    assert any("app.py" in frame for frame in caught.value.stack)
    assert not isinstance(caught.value, FunctionTimeout)
    assert {echo_functions.invoke("FanoutWorkerFunction", {})["pid"] for _ in range(4)} == pids


def test_given_a_handler_past_its_timeout_then_function_timeout_and_the_worker_is_replaced(echo_functions):
    before = {echo_functions.invoke("ApiFunction", {})["pid"] for _ in range(4)}

    started = time.monotonic()
    with pytest.raises(FunctionTimeout) as caught:
        echo_functions.invoke("ApiFunction", {"sleep": 5})
    elapsed = time.monotonic() - started

    assert caught.value.error_type == "Sandbox.Timedout"
    assert "1.00 seconds" in caught.value.error_message
    assert 0.9 < elapsed < 2.0
    after = {echo_functions.invoke("ApiFunction", {})["pid"] for _ in range(6)}
    assert len(after) == 2 and len(after & before) == 1  # one killed, one fresh in its place


def test_given_concurrency_two_when_two_invokes_overlap_then_they_run_in_parallel_workers(echo_functions):
    echo_functions.invoke("FanoutWorkerFunction", {})  # warm

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: echo_functions.invoke("FanoutWorkerFunction", {"sleep": 0.6}), range(2)))

    assert time.monotonic() - started < 1.1
    assert len({r["pid"] for r in results}) == 2


def test_given_a_worker_that_exits_or_returns_garbage_then_lambda_runtime_errors(echo_functions):
    with pytest.raises(FunctionError) as exited:
        echo_functions.invoke("FanoutWorkerFunction", {"exit": 3})
    with pytest.raises(FunctionError) as marshal:
        echo_functions.invoke("FanoutWorkerFunction", {"unserialisable": True})

    assert exited.value.error_type == "Runtime.ExitError" and "exit status 3" in exited.value.error_message
    assert marshal.value.error_type == "Runtime.MarshalError"
    assert echo_functions.invoke("FanoutWorkerFunction", {})["init_count"] == 1  # still serving


def test_given_a_missing_handler_module_then_import_module_error_on_invoke(
        deployed_stack, moto_endpoint, fixture_spec):
    spec = dataclasses.replace(fixture_spec("echo", "ApiFunction"), handler="nope.handler")
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1,
                              specs={"ApiFunction": spec}) as functions:
        with pytest.raises(FunctionError) as caught:
            functions.invoke("ApiFunction", {})
        with pytest.raises(ValueError):
            functions.invoke("NoSuchFunction", {})

    assert caught.value.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'nope'" in caught.value.error_message


def test_given_a_log_dir_when_a_handler_prints_then_its_output_lands_in_that_functions_log_file(
        deployed_stack, moto_endpoint, fixture_spec, tmp_path):
    specs = {"ApiFunction": fixture_spec("echo", "ApiFunction")}
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1, specs=specs,
                              log_dir=tmp_path) as functions:
        functions.invoke("ApiFunction", {})
        functions.invoke("ApiFunction", {})
    log_text = (tmp_path / "ApiFunction.log").read_text()
    assert log_text.count("echo handler says hello on stdout") == 2


def test_given_variables_exported_in_the_developers_shell_then_no_function_sees_them(
        deployed_stack, moto_endpoint, fixture_spec, monkeypatch):
    # Given a shell that exports a tuning knob the code reads, and anything else
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "7")
    monkeypatch.setenv("DEVELOPER_ONLY", "leaked")
    specs = {fn: fixture_spec("echo", fn) for fn in ("FanoutWorkerFunction", "ApiFunction")}
    # When the functions start
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1, specs=specs) as functions:
        seen = {fn: functions.invoke(fn, {"env": ["FANOUT_CHUNK_SIZE", "DEVELOPER_ONLY", "TMPDIR", "LANG",
                                                  "TWEETS_TABLE"]})["env"] for fn in specs}
    # Then only the template's environment and Lambda's own variables are there
    for fn, env in seen.items():
        assert env["FANOUT_CHUNK_SIZE"] is None and env["DEVELOPER_ONLY"] is None, fn
        assert env["TWEETS_TABLE"] == deployed_stack.function_env[fn]["TWEETS_TABLE"]
        assert env["LANG"] == "en_US.UTF-8"
    # and each function has a /tmp of its own
    assert seen["ApiFunction"]["TMPDIR"] != seen["FanoutWorkerFunction"]["TMPDIR"]
    assert seen["ApiFunction"]["TMPDIR"].endswith("ApiFunction")


def test_given_an_event_or_a_result_over_the_6_mb_invoke_quota_then_lambdas_errors(echo_functions):
    from infra.runtime.functions import PAYLOAD_LIMIT, RequestTooLarge
    seen = []
    echo_functions.add_observer(seen.append)
    # An event over the quota is refused before any worker runs it
    with pytest.raises(RequestTooLarge) as refused:
        echo_functions.invoke("ApiFunction", {"padding": "x" * PAYLOAD_LIMIT})
    assert refused.value.error_type == "RequestEntityTooLargeException" and seen == []
    # A result over it is the function's error, and the worker serves on
    with pytest.raises(FunctionError) as failed:
        echo_functions.invoke("ApiFunction", {"respond_bytes": PAYLOAD_LIMIT})
    assert failed.value.error_type == "Function.ResponseSizeTooLarge"
    assert echo_functions.invoke("ApiFunction", {"respond_bytes": 1000})["padding"] == "x" * 1000


def test_given_a_function_importing_a_dev_only_package_then_it_fails_as_it_would_deployed(
        deployed_stack, moto_endpoint, fixture_spec):
    # Given a handler importing requests, which the dev virtualenv has and no layer does
    specs = {"ApiFunction": fixture_spec("devonly", "ApiFunction")}
    # When it is invoked
    with (LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1, specs=specs) as functions,
          pytest.raises(FunctionError) as caught):
        functions.invoke("ApiFunction", {})
    # Then the init phase fails the way Lambda reports it
    assert caught.value.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'app': No module named 'requests'" in caught.value.error_message


def test_given_the_template_layers_then_workers_import_from_them_as_sam_build_lays_them_out(echo_functions):
    from infra.runtime.layers import BUILD_ROOT

    # When a worker reports where packages would come from
    found = echo_functions.invoke("ApiFunction", {"modules": [
        "timeline", "boto3", "botocore", "aws_lambda_powertools", "PIL", "moto", "jwt", "pytest", "numpy"]})["modules"]

    # Then our layer code comes from the TimelineLayer's python/ folder, third-party code from
    # the DepsLayer built from its requirements.txt (the SDK included), and dev-only packages
    # from nowhere
    assert found["timeline"].startswith(str(ROOT / "layers/timeline/python/timeline"))
    for name in ("boto3", "botocore", "aws_lambda_powertools", "PIL"):
        assert found[name].startswith(str(BUILD_ROOT / "DepsLayer-")), (name, found[name])
    assert [found[name] for name in ("moto", "jwt", "pytest", "numpy")] == [None] * 4


def test_given_a_handler_over_its_memory_size_then_lambdas_out_of_memory_error_and_a_fresh_worker(
        deployed_stack, moto_endpoint, fixture_spec):
    # Given a function with 128 MB, whose handler can hold memory on request
    specs = {"ApiFunction": fixture_spec("echo", "ApiFunction", memory=128)}
    with LocalFunctions.start(deployed_stack, endpoint_url=moto_endpoint, concurrency=1, specs=specs) as functions:
        within = functions.invoke("ApiFunction", {"allocate_mb": 32})
        # When an invocation holds more than the function's memory size
        with pytest.raises(FunctionError) as caught:
            functions.invoke("ApiFunction", {"allocate_mb": 200})
        after = functions.invoke("ApiFunction", {})
    # Then it fails as Lambda reports it, and the next invocation gets a fresh worker
    assert caught.value.error_type == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in caught.value.error_message
    assert after["pid"] != within["pid"] and after["init_count"] == 1


def test_given_results_only_the_runtimes_marshaller_accepts_then_they_arrive_as_it_sends_them(echo_functions):
    # When handlers return Decimals (what a DynamoDB read hands out) and raw bytes
    numbers = echo_functions.invoke("ApiFunction", {"decimals": ["12.50", "3", "-0.001"]})
    raw = echo_functions.invoke("ApiFunction", {"raw_bytes": "plain payload"})
    # Then, as awslambdaric marshals them: Decimals are their exact numbers, bytes pass as they are
    assert numbers == {"values": [12.5, 3, -0.001]} and isinstance(numbers["values"][1], int)
    assert raw == b"plain payload"


def test_given_a_half_applied_batch_armed_then_half_the_records_run_and_the_invocation_fails_as_a_dead_runtime(
        echo_functions):
    # Given a chaos fault armed on the worker: its next batch of two records or more is half applied
    seen = []
    echo_functions.add_observer(lambda done: seen.append(len(done.event.get("Records", []))))
    echo_functions.fail_half_batch("FanoutWorkerFunction")
    one = {"Records": [{"n": 0}]}
    four = {"Records": [{"n": n} for n in range(4)]}

    # When a one-record batch comes (too small to halve: it runs whole), then a four-record one
    echo_functions.invoke("FanoutWorkerFunction", one)
    with pytest.raises(FunctionError) as failed:
        echo_functions.invoke("FanoutWorkerFunction", four)

    # Then the handler saw the first two records only, and the invocation failed as a runtime
    # that exited does; the fault is used up: the batch's retry runs whole
    assert failed.value.error_type == "Runtime.ExitError"
    assert seen == [1, 2]
    echo_functions.invoke("FanoutWorkerFunction", four)
    assert seen == [1, 2, 4]
    assert echo_functions.half_applied == {"FanoutWorkerFunction": 1}


def test_given_a_worker_busy_when_killed_then_its_invocation_fails_as_a_crashed_runtime_and_a_fresh_one_serves(
        echo_functions):
    # Given nothing busy: nothing to kill
    assert echo_functions.kill_busy("ApiFunction") is False
    # When an invocation is under way and a busy worker is killed
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(echo_functions.invoke, "ApiFunction", {"sleep": 0.8})
        deadline = time.monotonic() + 10
        while not echo_functions.kill_busy("ApiFunction"):
            assert time.monotonic() < deadline, "no worker became busy"
            time.sleep(0.01)
        # Then that invocation fails as Lambda's does when its runtime dies
        with pytest.raises(FunctionError) as failed:
            running.result(10)
    assert failed.value.error_type == "Runtime.ExitError"
    # and the next one is served by a fresh worker
    assert "pid" in echo_functions.invoke("ApiFunction", {})
