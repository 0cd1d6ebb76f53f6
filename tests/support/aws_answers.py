"""Answers injected where AWS would give them: a botocore `before-call` hook on the very client
a store uses, so our code meets the error (or the partial success) as DynamoDB shapes it and
nothing of our own is mocked. Subclasses decide, per call, what to answer (None: let it through)."""

from __future__ import annotations

from typing import Any, ClassVar


class _HttpResponse:
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, status: int):
        self.status_code = status


def answer(status: int, parsed: dict[str, Any]) -> tuple[_HttpResponse, dict[str, Any]]:
    """What botocore takes from a before-call hook in place of a request: (HTTP response, parsed body)."""
    return _HttpResponse(status), {**parsed, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}


def error(status: int, code: str, message: str, **extra: Any) -> tuple[_HttpResponse, dict[str, Any]]:
    return answer(status, {"Error": {"Code": code, "Message": message}, **extra})


class Injected:
    """A context manager that hooks `operation` ("dynamodb.BatchWriteItem") on `client`."""

    def __init__(self, client: Any, operation: str):
        self.client, self.event = client, f"before-call.{operation}"

    def __call__(self, params: dict[str, Any], **_kwargs: Any) -> Any:
        raise NotImplementedError

    def __enter__(self):
        self.client.meta.events.register(self.event, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.meta.events.unregister(self.event, self)
