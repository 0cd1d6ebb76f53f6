"""Requests from a given client address: the source IP API Gateway puts in the event
(`requestContext.http.sourceIp`), which the harness's sample events fix at 203.0.113.7."""

from __future__ import annotations

from typing import Any

SAMPLE_ADDRESS = "203.0.113.7"  # events/*.json


def request_from(h, address: str, method: str, path: str, **kwargs: Any):
    """h.request, with the event's source IP set to `address` (as API Gateway sets it)."""
    handler = h.api.handler

    def from_address(event, context):
        event["requestContext"]["http"]["sourceIp"] = address
        return handler(event, context)

    h.api.handler = from_address
    try:
        return h.request(method, path, **kwargs)
    finally:
        h.api.handler = handler


def sign_in_from(h, address: str, handle: str, password: str, **kwargs: Any):
    return request_from(h, address, "POST", "/v1/auth/token", body={"handle": handle, "password": password}, **kwargs)


def sign_up_from(h, address: str, handle: str, password: str, display_name: str | None = None):
    return request_from(h, address, "POST", "/v1/auth/signup",
                        body={"handle": handle, "password": password, "display_name": display_name or handle})
