"""The pieces of infra/runtime/local_stack.py that need no stack: its ready file and how it
quiets the runtime's logs."""

from __future__ import annotations

import json
import logging
import os

import pytest

from infra.runtime.local_stack import quiet_runtime_logs, write_ready_file


@pytest.fixture
def runtime_levels():
    names = ("infra", "infra.runtime")
    saved = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in saved.items():
        logging.getLogger(n).setLevel(level)


def test_given_facts_when_the_ready_file_is_written_then_it_holds_them_with_the_pid_and_nothing_partial(tmp_path):
    path = tmp_path / "state" / "ready.json"
    write_ready_file(path, api_url="http://127.0.0.1:3000", endpoint="http://127.0.0.1:4566")
    assert json.loads(path.read_text()) == {"api_url": "http://127.0.0.1:3000", "endpoint": "http://127.0.0.1:4566",
                                            "pid": os.getpid()}
    assert sorted(p.name for p in path.parent.iterdir()) == ["ready.json"]


def test_given_runtime_logs_at_info_when_quieted_then_they_are_at_warning(runtime_levels):
    logging.getLogger("infra").setLevel(logging.INFO)
    logging.getLogger("infra.runtime").setLevel(logging.NOTSET)
    quiet_runtime_logs()
    assert logging.getLogger("infra.runtime.gateway").getEffectiveLevel() == logging.WARNING


def test_given_a_caller_that_keeps_infra_at_error_when_quieted_then_the_runtime_is_not_made_louder(runtime_levels):
    logging.getLogger("infra").setLevel(logging.ERROR)
    logging.getLogger("infra.runtime").setLevel(logging.NOTSET)
    quiet_runtime_logs()
    assert logging.getLogger("infra.runtime.pollers").getEffectiveLevel() == logging.ERROR
