"""Domain errors. The API maps each to an HTTP status in one place (functions/api/http_errors.py).

`code` is a stable machine-readable string; `message` is written for a person to act on.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after  # seconds, sent as Retry-After


class Unavailable(DomainError):
    """A dependency out of capacity (throttled) or out of reach: nothing is wrong with the
    request, and it may be sent again after `retry_after` seconds. A write or a sign-in
    answers it (503); a read degrades instead (a page marked partial)."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after  # seconds, sent as Retry-After
