"""What counts as a character in a post: a user-perceived character (grapheme cluster).

An emoji with skin tone, a flag, a family emoji or a letter with combining accents is one
character to the person typing it, however many code points it takes. `regex`'s \\X
implements Unicode's extended grapheme clusters (UAX #29). Text is NFC-normalized first,
so the same visible text is stored and counted the same way whatever the keyboard sent.
"""

from __future__ import annotations

import unicodedata

import regex

MAX_POST_CHARACTERS = 280
_GRAPHEME = regex.compile(r"\X")
# Control characters have no business in a post (newline and tab excepted).
_CONTROL = regex.compile(r"[\p{Cc}--[\n\t]]", flags=regex.V1)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n")


def count_characters(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def check_post_text(text: str, *, media: bool = False) -> str:
    """The normalized text, or ValueError saying what is wrong with it. A post with media
    may have no text."""
    text = normalize(text)
    if not text.strip():
        if media:
            return ""
        raise ValueError("text must not be empty")
    if _CONTROL.search(text):
        raise ValueError("text must not contain control characters")
    count = count_characters(text)
    if count > MAX_POST_CHARACTERS:
        raise ValueError(f"text is {count} characters; the limit is {MAX_POST_CHARACTERS}")
    return text
