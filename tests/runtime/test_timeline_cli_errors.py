"""Every error a user can cause from `timeline`'s command line is one line, never a traceback
(issue 26, "the first hour"): a busy port, a missing or broken event file, a bad --param, an
unknown function, a --ready-file or --log-dir that cannot be written. Each exits 2 (the
command line; infra.console.common.CommandLineError and click's usage errors) before anything
starts. Commands run in-process through typer's CliRunner; nothing here starts a stack."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.console import up as cli
from infra.console.app import app

runner = CliRunner()


def timeline(*args: str):
    return runner.invoke(app, list(args))


def one_line_error(result, *needles: str, code: int = 2) -> str:
    """The single line the command printed, after checking the exit code and that nothing
    else (no traceback, no usage box) came with it."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def nothing_starts(monkeypatch):
    """`timeline up`'s run with everything after its checks recorded instead of started."""
    started: list[str] = []
    monkeypatch.setattr(cli, "setup_logging", lambda *a: started.append("logging"))
    monkeypatch.setattr(cli, "use_fake_credentials", lambda region: None)
    monkeypatch.setattr(cli, "_install_signal_handlers", lambda: started.append("signals"))
    monkeypatch.setattr(cli, "_start", lambda *a, **k: started.append("stack"))
    monkeypatch.setattr(cli.signal, "pause", lambda: started.append("waited"))
    return started


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# ------------------------------------------------------------------ timeline invoke

def test_given_a_missing_event_file_when_invoke_then_one_line_names_it_and_exits_2(tmp_path):
    line = one_line_error(timeline("invoke", "api", "-e", str(tmp_path / "nope.json")), "no event file", "nope.json")
    assert line.startswith("timeline invoke: ")


def test_given_an_event_file_that_is_not_json_when_invoke_then_one_line_says_where_it_breaks(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"path": ')
    one_line_error(timeline("invoke", "api", "-e", str(bad)), "bad.json is not JSON", "line 1")


def test_given_an_event_that_is_not_an_object_or_a_folder_when_invoke_then_one_line_each(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    one_line_error(timeline("invoke", "api", "-e", str(listed)), "an event is a JSON object")
    one_line_error(timeline("invoke", "api", "-e", str(tmp_path)), "is a folder")


def test_given_an_unreadable_event_file_when_invoke_then_one_line_says_permission_denied(tmp_path, monkeypatch):
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    real = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == locked:  # as for an unprivileged user of a chmod 000 file (the tests may run as root)
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    one_line_error(timeline("invoke", "api", "-e", str(locked)), "cannot be read (permission denied)")


def test_given_an_unknown_function_when_invoke_or_logs_then_one_line_lists_the_functions(tmp_path):
    one_line_error(timeline("invoke", "nope"), "no function 'nope'", "ApiFunction (api)")
    one_line_error(timeline("logs", "nope", "--log-dir", str(tmp_path)), "no function 'nope'")


def test_given_an_env_override_without_a_value_when_invoke_then_one_line_names_the_option():
    one_line_error(timeline("invoke", "api", "--env", "LOG_LEVEL"), "--env", "expected Name=Value")


def test_given_no_function_at_all_when_invoke_then_one_line_and_where_to_read_more():
    one_line_error(timeline("invoke"), "Missing argument", "`timeline invoke --help` tells more")


# ------------------------------------------------------------------ timeline up

def test_given_a_parameter_that_is_not_name_equals_value_when_up_then_one_line_and_nothing_starts(nothing_starts):
    one_line_error(timeline("up", "--param", "CelebrityThreshold"), "--param", "expected Name=Value")
    assert nothing_starts == []


def test_given_an_unknown_parameter_when_up_then_one_line_lists_the_templates_and_nothing_starts(
        nothing_starts, tmp_path):
    line = one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(tmp_path),
                                   "--param", "CelebrityTreshold=3"),
                          "unknown template parameter(s) CelebrityTreshold", "CelebrityThreshold")
    assert line.startswith("timeline up: ")
    assert "stack" not in nothing_starts and "signals" not in nothing_starts


def test_given_an_unwritable_ready_file_when_up_then_one_line_names_it_and_nothing_starts(nothing_starts, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(tmp_path / "logs"),
                            "--ready-file", str(a_file / "ready.json")), "--ready-file", "cannot be written")
    one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(tmp_path / "logs"),
                            "--ready-file", str(tmp_path)), "--ready-file", "is a folder")
    assert nothing_starts == []


def test_given_a_log_dir_that_cannot_be_a_folder_when_up_then_one_line_names_it_and_nothing_starts(
        nothing_starts, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(a_file / "logs")),
                   "--log-dir", "cannot be written")
    assert nothing_starts == []


def test_given_a_port_out_of_range_or_the_same_for_both_when_up_then_one_line_each(nothing_starts, tmp_path):
    one_line_error(timeline("up", "--port", "70000"), "--port", "65535")
    one_line_error(timeline("up", "--port", "abc"), "--port")
    one_line_error(timeline("up", "--port", "3999", "--emulator-port", "3999", "--log-dir", str(tmp_path)),
                   "--port and --emulator-port are both 3999")
    assert nothing_starts == []


@pytest.mark.parametrize("option, what", [("--port", "HTTP API"), ("--emulator-port", "AWS emulator")])
def test_given_a_port_held_by_another_process_when_up_then_one_line_names_it_who_holds_it_and_the_ways_out(
        nothing_starts, tmp_path, option, what, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with _listening() as held:
        port = held.getsockname()[1]
        other = "--emulator-port" if option == "--port" else "--port"
        line = one_line_error(timeline("up", option, str(port), other, "0", "--log-dir", str(tmp_path)),
                              f"port {port} ({what}) is already in use", f"`timeline up {option} ",
                              "stop the other stack")
    if Path("/proc/net/tcp").exists():  # who holds it, as `timeline doctor` finds it: this test's process
        assert f"pid {os.getpid()} (" in line, line
    assert nothing_starts == []


def test_given_the_gateway_port_taken_after_the_check_when_up_then_one_line_and_exit_2(monkeypatch, tmp_path):
    """Given a port that was free when checked but taken before the gateway bound it, Then the
    same one line (logged), and exit 2, not a traceback."""
    import errno

    monkeypatch.setattr(cli, "setup_logging", lambda *a: None)
    monkeypatch.setattr(cli, "use_fake_credentials", lambda region: None)
    monkeypatch.setattr(cli, "_install_signal_handlers", lambda: None)

    def bind(*a, **k):
        raise OSError(errno.EADDRINUSE, "Address already in use")

    monkeypatch.setattr(cli, "_start", bind)
    monkeypatch.setattr(cli, "preflight", lambda args: None)  # it found the port free
    monkeypatch.setattr(cli, "busy_port", lambda *a: "port 3999 (HTTP API) is already in use")
    logged = []
    monkeypatch.setattr(cli.log, "error", lambda fmt, *args: logged.append(fmt % args))
    code = cli.run(cli.UpOptions(port=0, emulator_port=0, log_dir=tmp_path, demo=False))
    assert code == 2 and logged == ["port 3999 (HTTP API) is already in use"]


def test_given_a_stack_name_cloudformation_refuses_when_up_then_one_line_before_anything_starts(
        nothing_starts, tmp_path):
    one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(tmp_path),
                            "--stack-name", "my_stack!"), "--stack-name 'my_stack!'", "letters, digits and hyphens")
    assert nothing_starts == []


def test_given_a_persist_folder_that_cannot_be_made_when_up_then_one_line_before_anything_starts(
        nothing_starts, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    one_line_error(timeline("up", "--port", "0", "--emulator-port", "0", "--log-dir", str(tmp_path / "logs"),
                            "--persist", str(a_file / "state")), "--persist", "cannot be written")
    assert nothing_starts == []


def test_given_a_demo_too_small_to_plan_when_up_or_seed_then_one_line_names_the_minimum(nothing_starts):
    one_line_error(timeline("up", "--demo-users", "0"), "--demo-users", "5")
    one_line_error(timeline("seed", "--demo-users", "2"), "--demo-users", "5")


def test_given_no_emulator_when_redrive_local_then_one_line_says_to_start_the_stack(monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def refused(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")

    monkeypatch.setattr(cli, "redrive", refused)
    one_line_error(timeline("redrive", "--local"), "cannot read stack 'timeline-local'", "`timeline up` first")


def test_given_no_stack_at_the_api_when_seed_then_one_line_says_how_to_start_one_and_exits_1():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    one_line_error(timeline("seed", "--api", f"http://127.0.0.1:{port}"), "no local stack at", "timeline up --no-demo",
                   code=1)
