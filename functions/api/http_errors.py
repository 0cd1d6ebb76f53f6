"""The one place errors become HTTP responses: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from timeline.errors import DomainError, Unavailable
from timeline.observability import logger, metrics
from timeline.store.throttling import is_throttled


def _error_body(code: str, message: str, details=None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details}})


def error_response(status: int, code: str, message: str, details=None, headers=None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=_error_body(code, message, details), headers=headers)


MAX_JSON_DEPTH = 32  # our deepest body is two levels; anything far deeper is an attack


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refuse_body(event: dict, max_bytes: int) -> dict | None:
    """A ready API Gateway response for a body we will not parse, else None: over `max_bytes`
    bytes (counted in bytes, as Lambda counts its payload), not JSON, not UTF-8, malformed,
    nested deeper than MAX_JSON_DEPTH, a key given twice, text that is not text (an unpaired
    surrogate escape such as "\\ud800"), or JSON that is not an object (nor null). Checked
    before routing: powertools would otherwise hand such bodies on (the last key wins,
    surrogates reach DynamoDB, an array's first element is taken for the body) or crash
    (RecursionError)."""
    body = event.get("body")
    if not body:
        return None
    try:
        _check_body(event, body, max_bytes)
    except _Refused as refused:
        return {"statusCode": refused.status, "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": _error_body(refused.code, refused.message), "isBase64Encoded": False}
    return None


def _check_body(event: dict, body: str, max_bytes: int) -> None:
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise _Refused(400, "malformed_body", "the body is not valid base64") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        raise _Refused(413, "payload_too_large", f"request bodies are limited to {max_bytes} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type, *parameters = (headers.get("content-type") or "").lower().split(";")
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in parameters if p.strip().startswith("charset=")),
                   "utf-8")
    if content_type.strip() != "application/json" or charset not in ("utf-8", "utf8"):
        raise _Refused(415, "unsupported_media_type",
                       "send the body as JSON (UTF-8) with Content-Type: application/json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, "invalid_utf8", "the body is not valid UTF-8") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_without_duplicate_keys)
    except _Refused:
        raise
    except RecursionError:
        raise _Refused(400, "malformed_json", f"the body is nested too deeply (the limit is {MAX_JSON_DEPTH})") from None
    except ValueError:
        raise _Refused(400, "malformed_json", "the body is not valid JSON") from None
    if parsed is not None and not isinstance(parsed, dict):
        # Every body of the API is an object (follow's may be null). powertools would take an
        # array's first element for the body ([{"text": "hi"}] posted "hi"), a scalar as is.
        raise _Refused(422, "invalid_body", "the request body must be a JSON object")
    _check_values(parsed)


def _without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise _Refused(400, "duplicate_key", f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _check_values(parsed: object) -> None:
    """Depth and text, walked without recursion."""
    stack = [(parsed, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _Refused(400, "malformed_json", f"the body is nested too deeply (the limit is {MAX_JSON_DEPTH})")
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                _check_text(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(400, "invalid_unicode",
                       "the body holds an unpaired surrogate (such as \\ud800), which is not text") from None


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
        elif e.get("type") in ("string_too_long", "string_too_short"):
            # pydantic counts code points, as the document's maxLength does; "characters" are
            # what a reader sees (timeline.text), which a post may have 280 of in 2,240 code points.
            message = message.replace(" characters", " code points").replace(" character", " code point")
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
        retry_after = getattr(exc, "retry_after", None)
        return error_response(exc.status, exc.code, exc.message, exc.details,
                              {"Retry-After": str(retry_after)} if retry_after is not None else None)

    @app.not_found
    def not_found(_exc) -> Response:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        if is_throttled(exc):
            # DynamoDB out of capacity (a hot key) after the SDK's retries: not the client's
            # fault, nor a bug; the request may be sent again.
            metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=1)
            logger.warning("throttled by DynamoDB", exc_info=True)
            return domain_error(Unavailable("the service is busy; try again shortly", retry_after=1))
        # A bug or an outage on our side: log everything, tell the client nothing internal.
        logger.exception("unhandled error")
        metrics.add_metric(name="InternalErrors", unit=MetricUnit.Count, value=1)
        return error_response(500, "internal_error", "something went wrong on our side; try again")
