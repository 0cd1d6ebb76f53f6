"""Opaque pagination cursors: signed, and bound to the reader and the list they page.

A cursor is base64url(JSON) + "." + HMAC-SHA256 tag. A client can neither edit one
(the tag breaks) nor replay one for another reader or another list (the binding is
checked), so a cursor never leads into data its holder could not page to anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from timeline.errors import InvalidInput

MAX_CURSOR_LENGTH = 512


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, key: Callable[[], bytes]):
        self._key = key  # fetched on first use: functions that never page never ask for it

    def _tag(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key(), payload, hashlib.sha256).digest()[:18])

    def encode(self, *, reader: int, scope: str, position: Any) -> str:
        payload = json.dumps({"r": str(reader), "s": scope, "p": position}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._tag(payload)}"

    def decode(self, cursor: str, *, reader: int, scope: str) -> Any:
        """The position, or InvalidInput if the cursor is malformed, forged or someone else's."""
        invalid = InvalidInput("cursor is not valid for this request; start again without it",
                               code="invalid_cursor")
        if not cursor or len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1 or not cursor.isascii():
            raise invalid
        body, tag = cursor.split(".")
        try:
            payload = _unb64(body)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise invalid
        data = json.loads(payload)
        if data.get("r") != str(reader) or data.get("s") != scope:
            raise invalid
        return data["p"]
