"""The unit tier runs without an emulator: pure functions and rules (`make unit`, well under a
minute). A test here that asks for the emulator's fixtures is told where it belongs."""

from __future__ import annotations

import pytest

_MOVE = "unit tests use no emulator: a test that needs {0!r} belongs in tests/functional or tests/runtime"


@pytest.fixture
def h():
    pytest.fail(_MOVE.format("h"))


@pytest.fixture
def aws():
    pytest.fail(_MOVE.format("aws"))
