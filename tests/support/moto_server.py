"""Shared fixtures for tests that talk to a real emulator over HTTP.

`moto_endpoint` starts moto's HTTP server in this process, once per session, on a free port
(the e2e suite can reuse the same pattern); `deployed_stack` deploys template.yaml to it once.
Fixture handlers live in tests/fixtures/functions/<name>/app.py and run through
LocalFunctions with a stack's environment, via `fixture_spec`.

moto's server shares its state with moto's in-process mock: a `mock_aws` started while this
server is in use resets it. Keep the two apart: tests that use these fixtures are marked
`server` and run in a pytest process of their own (make test's second step).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.runtime.deployer import Stack, deploy
from infra.runtime.template import FunctionSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


@pytest.fixture(scope="session")
def aws_env():
    """Throwaway credentials and one region for the whole session; no real account is reachable."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.setenv("AWS_REGION", "us-east-1")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


@pytest.fixture(scope="session")
def moto_endpoint(aws_env) -> str:
    from moto.server import ThreadedMotoServer

    from infra.runtime import moto_fixes
    from infra.runtime.moto_fixes.iam import enforce_iam

    moto_fixes.apply()
    enforce_iam()  # as make run does: functions act with their roles' policies
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # 0: a free port
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    enforce_iam(False)


@pytest.fixture(scope="session")
def deployed_stack(moto_endpoint) -> Stack:
    return deploy("itest", endpoint_url=moto_endpoint)


@pytest.fixture(scope="session")
def fixture_spec() -> Callable[..., FunctionSpec]:
    """FunctionSpec for a fixture handler folder, standing in for a template function."""
    def make(folder: str, logical_id: str, *, timeout: int = 5, memory: int = 256) -> FunctionSpec:
        return FunctionSpec(logical_id=logical_id, code_dir=FIXTURES / folder, handler="app.handler",
                            timeout=timeout, memory=memory)
    return make


class Journal:
    """What the `journal` fixture handler recorded (one entry per record outcome)."""

    def __init__(self, folder: Path):
        self.dir = folder

    def entries(self) -> list[dict[str, Any]]:
        path = self.dir / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def succeeded(self) -> list[str]:
        return [e["key"] for e in self.entries() if e["ok"]]

    def failed(self) -> list[str]:
        return [e["key"] for e in self.entries() if not e["ok"]]

    def wait_for(self, predicate: Callable[[Journal], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(tmp_path)
