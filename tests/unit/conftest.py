"""Unit tests run on moto's in-process mock, with the stack created from template.yaml by
the same deployer `make run` uses: tables, queues and env vars are never restated here.

Override template parameters per test with `@pytest.mark.stack(CelebrityThreshold="3")`.
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from infra.deployer import deploy
from tests.support.harness import Harness


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def stack(aws, request):
    marker = request.node.get_closest_marker("stack")
    params = {k: str(v) for k, v in (marker.kwargs if marker else {}).items()}
    return deploy("unit", params)


@pytest.fixture
def h(stack, monkeypatch) -> Harness:
    """Given the stack deployed from template.yaml, with the three functions loaded."""
    return Harness(stack, monkeypatch)
