"""`make run`'s Ctrl-C: a clean stop exits 0, `make` included.

A terminal's Ctrl-C sends SIGINT to its whole foreground process group, and `make` is in it:
GNU make then waits for its recipe and, whatever the recipe's exit status, kills itself with
the same signal, so `make run` always ended "130" even when `timeline up` had stopped cleanly
and exited 0. Run as

    python -m infra.console.foreground COMMAND [ARGS...]

(the Makefile's `run` target), this starts COMMAND in a process group of its own and hands it
the terminal (tcsetpgrp, as a shell's job control does): Ctrl-C then reaches COMMAND and its
workers, not `make`, which sees COMMAND's own exit status. The terminal goes back to the
caller's group when COMMAND ends. Without a controlling terminal (CI, a pipe) COMMAND simply
replaces this process. SIGTERM and SIGHUP sent here are passed on to COMMAND's group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def _terminal() -> int | None:
    """The controlling terminal, if this process has one and is in its foreground group."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def run(command: Sequence[str]) -> int:
    tty = _terminal()
    if tty is None:
        os.execvp(command[0], list(command))  # nothing to hand over: be the command
    assert tty is not None
    child = subprocess.Popen(list(command), process_group=0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # handing the terminal over, and back, from the background
    ours = os.getpgrp()
    with contextlib.suppress(OSError):  # the child may already have ended
        os.tcsetpgrp(tty, child.pid)

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    # A Ctrl-C can still reach this process if the terminal changed hands late: the child's
    # answer decides, not this process's death.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(tty, ours)
        os.close(tty)
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m infra.console.foreground COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
