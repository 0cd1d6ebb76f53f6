"""The cursor signing key, from Secrets Manager (cached by powertools for an hour)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters


def cursor_key(secret_arn: str) -> bytes:
    return parameters.get_secret(secret_arn, max_age=3600).encode()
