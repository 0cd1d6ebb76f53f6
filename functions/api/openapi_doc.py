"""The OpenAPI document clients get: powertools' schema from the routes and their models,
completed with what every operation can answer besides its own responses, and with what
powertools leaves out.

Powertools documents each route's success and its validation 422 (in FastAPI's
`{"detail": [...]}` shape, which this API never sends). Every operation can also be refused
before or around its handler: a bad parameter or body (400), no valid token (401, from API
Gateway's authorizer; signed-in routes only), a block or someone else's resource (403), no
such route or resource (404), a conflicting change (409), a body too large or not JSON (413,
415), throttling (429, with Retry-After when it is a per-account or per-address limit). A
route that says 503 (the auth routes that call Cognito, when it is out of capacity) sends
Retry-After with it. Errors from the
function are `ErrorResponse`; those API Gateway answers itself are `{"message": ...}`
(`GatewayError`).

A router forgets its routes' `security=[]` (an empty list is falsy to it), so the public
routes (app.PUBLIC_ROUTES, template.yaml's `Authorizer: NONE`) would inherit the document's
bearer requirement; they are given `security: []` here.
The largest upload (MediaMaxBytes) is a template parameter, so its bound is added here, from
the settings, rather than in the model. tests/e2e/test_schemathesis.py holds the running API
to this document.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

GATEWAY_ERROR = {"title": "GatewayError", "type": "object", "required": ["message"],
                 "properties": {"message": {"type": "string"}},
                 "description": "an answer of API Gateway itself (authorizer, throttling, routing, limits)"}
COMMON = {
    "400": "a malformed body, or a path, query or header value that is not valid (e.g. a cursor)",
    "403": "not yours, or a block stands between you and that account",
    "404": "no such route, account, post or upload",
    "409": "a conflicting change; try again",
    "413": "the body is larger than allowed",
    "415": "the body is not JSON (UTF-8)",
    "422": "the body is JSON but not a valid request",
    "429": "too many requests: the stage's route throttling, or a per-account or per-address limit (see Retry-After)",
}
SIGNED_IN = {"401": "no valid token: send Authorization: Bearer <access or id token>"}
BODY_ONLY = ("413", "415")
RETRY_AFTER = {"Retry-After": {
    "description": "seconds until a per-account or per-address limit lets the next request through (API "
                   "Gateway's own throttling sends none)",
    "required": False, "schema": {"type": "integer", "minimum": 0}}}
UNAVAILABLE_RETRY_AFTER = {"Retry-After": {
    "description": "seconds after which the request may be sent again (API Gateway's own 503, when the "
                   "function does not answer in time, sends none)",
    "required": False, "schema": {"type": "integer", "minimum": 1}}}


def complete(spec: dict[str, Any], *, public: Collection[tuple[str, str]], media_max_bytes: int) -> dict[str, Any]:
    """`public`: the (METHOD, path) of the routes API Gateway serves without a token."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["GatewayError"] = GATEWAY_ERROR
    errors = {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/ErrorResponse"},
                                                        {"$ref": "#/components/schemas/GatewayError"}]}}}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if (method.upper(), path) in public:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            wanted = {**COMMON, **({} if operation.get("security") == [] else SIGNED_IN)}
            for code, description in wanted.items():
                if code in BODY_ONLY and "requestBody" not in operation:
                    continue
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = errors
            responses["429"]["headers"] = RETRY_AFTER
            if "503" in responses:
                responses["503"]["headers"] = UNAVAILABLE_RETRY_AFTER
    upload = schemas.get("MediaUploadRequest", {}).get("properties", {}).get("content_length")
    if upload is not None:
        upload["maximum"] = media_max_bytes
        upload["description"] = f"the file's size in bytes, at most {media_max_bytes:,} (MediaMaxBytes)"
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec
