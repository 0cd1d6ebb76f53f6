"""The unit tier stays emulator-free: a test here that asks for the emulator's fixtures fails,
and says where it belongs (tests/unit/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT_CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.parametrize("fixture", ["h", "aws"])
def test_given_a_unit_test_asking_for_the_emulator_then_it_fails_saying_where_it_belongs(tmp_path, fixture):
    # Given a unit test that asks for an emulator fixture, under the unit tier's conftest
    shutil.copy(UNIT_CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_needs_aws.py").write_text(f"def test_it({fixture}):\n    pass\n")
    # When it runs
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # Then it fails, naming the fixture and the tiers it belongs in
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"a test that needs '{fixture}' belongs in tests/functional or tests/runtime" in run.stdout, run.stdout
