"""The one place errors become HTTP responses: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from timeline.errors import DomainError
from timeline.observability import logger, metrics


def _error_body(code: str, message: str, details=None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details}})


def error_response(status: int, code: str, message: str, details=None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=_error_body(code, message, details))


def refuse_body(event: dict, max_bytes: int) -> dict | None:
    """A ready API Gateway response for an oversized or non-JSON body, else None."""
    body = event.get("body")
    if not body:
        return None
    if len(body) > max_bytes:
        status, code, message = 413, "payload_too_large", f"request bodies are limited to {max_bytes} bytes"
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            return None
        status, code, message = (415, "unsupported_media_type",
                                 "send the body as JSON with Content-Type: application/json")
    return {"statusCode": status, "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": _error_body(code, message),
            "isBase64Encoded": False}


def _describe(errors) -> tuple[bool, list[dict]]:
    """(is the body malformed JSON?, a readable list of field problems)."""
    malformed = any(e.get("type") == "json_invalid" for e in errors)
    details = []
    for e in errors:
        loc = [str(part) for part in e.get("loc", ()) if part != "body"]
        where = ".".join(loc[1:] if loc and loc[0] in ("query", "path", "header") else loc) or "body"
        message = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            message = "unknown field"
        elif e.get("type") == "missing":
            message = "required"
        details.append({"field": where, "problem": message.removeprefix("Value error, ")})
    return malformed, details


def register(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        malformed, details = _describe(exc.errors())
        if malformed:
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        in_body = any(str((e.get("loc") or ("",))[0]) == "body" for e in exc.errors())
        if in_body:
            return error_response(422, "invalid_body", "the request body is not valid", details)
        return error_response(400, "invalid_parameter", "a query or path parameter is not valid", details)

    @app.exception_handler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.not_found
    def not_found(_exc) -> Response:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug or an outage on our side: log everything, tell the client nothing internal.
        logger.exception("unhandled error")
        metrics.add_metric(name="InternalErrors", unit=MetricUnit.Count, value=1)
        return error_response(500, "internal_error", "something went wrong on our side; try again")
