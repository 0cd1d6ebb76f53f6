"""Ctrl-C in a terminal stops the stack cleanly and exits 0, for `timeline up` and for `make run`
(issue 26, "the first hour"). Each runs in a real pseudo-terminal of its own, as its
controlling terminal; Ctrl-C is the byte the terminal turns into SIGINT for its foreground
process group (make, the stack and its workers alike)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP, STOP = 180.0, 60.0  # bounds

pytestmark = pytest.mark.server


class Terminal:
    """`argv` in a new session whose controlling terminal is a pty this test holds."""

    def __init__(self, argv: list[str]):
        env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: never returns
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, env)
        self.output = b""

    def read_until(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the other end closed: everything has exited
                    return text.encode() in self.output
                if not chunk:
                    break
                self.output += chunk
        return text.encode() in self.output

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def exit_code(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_until("\0never\0", 0.2)  # keep the terminal drained
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        return None

    def close(self) -> None:
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)

    def text(self) -> str:
        return self.output.decode(errors="replace")[-4000:]


def _ctrl_c_once_up(argv: list[str]) -> tuple[int | None, str]:
    terminal = Terminal(argv)
    try:
        assert terminal.read_until("Ctrl-C stops everything", STARTUP), terminal.text()
        terminal.ctrl_c()
        code = terminal.exit_code(STOP)
        return code, terminal.text()
    finally:
        terminal.close()


def test_given_timeline_up_in_a_terminal_when_ctrl_c_then_it_stops_cleanly_and_exits_0(tmp_path):
    code, text = _ctrl_c_once_up([sys.executable, "-m", "infra.console", "up", "--no-demo", "--port", "0",
                                  "--emulator-port", "0", "--log-dir", str(tmp_path)])
    assert code == 0 and "stopped cleanly" in text, text


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_given_make_run_in_a_terminal_when_ctrl_c_then_make_itself_exits_0(tmp_path):
    """Given `make run` (the installed .venv: make's stamp is current), When Ctrl-C, Then the stack
    stops cleanly and make exits 0, not 130 (make kills itself with a SIGINT it receives)."""
    code, text = _ctrl_c_once_up(["make", "--no-print-directory", "run",
                                  f"ARGS=--no-demo --port 0 --emulator-port 0 --log-dir {tmp_path}"])
    assert "stopped cleanly" in text, text
    assert code == 0, text
