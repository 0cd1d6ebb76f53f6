"""timeline.text's rules for a post's text and a display name, as JSON Schema patterns for the
OpenAPI document, so that clients and fuzzers know which text the api refuses.

What a pattern can say: no control characters, noncharacters or (display names) direction
controls; something visible in it (or, for a post with media, nothing but white space).
What it cannot: the limits counted in user-perceived characters (280 for a post, 50 for a
display name, 32 code points in any one of them): JSON Schema counts code points (maxLength).

The classes are computed, once for the document, from timeline.text's own expressions, so the
document follows whatever those say (tests/functional/test_bad_input.py holds the two together). BMP
characters are written as \\uXXXX escapes, which Python's `re` and ECMA-262 both read;
characters beyond it as themselves (a JSON parser reads the document's surrogate-pair escapes
back into one character, as ECMA-262 reads the pattern with the `u` flag).
"""

from __future__ import annotations

import array
import functools
from collections.abc import Iterable

import regex

from timeline import text

Runs = list[tuple[int, int]]


@functools.lru_cache(maxsize=1)
def _every_code_point() -> str:
    return array.array("I", range(0x110000)).tobytes().decode("utf-32-le", "surrogatepass")


def _spans(pattern: regex.Pattern) -> list[tuple[int, int]]:
    """[start, end) of each run of code points `pattern` matches one at a time."""
    runs = regex.compile(f"(?:{pattern.pattern})+", flags=pattern.flags)
    return [m.span() for m in runs.finditer(_every_code_point())]


def _matching(pattern: regex.Pattern) -> set[int]:
    return {cp for start, end in _spans(pattern) for cp in range(start, end)}


def _not_matching(pattern: regex.Pattern) -> set[int]:
    edges = [0, *(edge for span in _spans(pattern) for edge in span), 0x110000]
    return {cp for start, end in zip(edges[::2], edges[1::2], strict=True) for cp in range(start, end)}


def _runs(code_points: Iterable[int]) -> Runs:
    runs: Runs = []
    for cp in sorted(set(code_points)):
        if runs and runs[-1][1] == cp - 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return runs


def _char(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else chr(cp)


def _class(code_points: Iterable[int], *, negated: bool = False) -> str:
    body = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in _runs(code_points))
    return f"[{'^' if negated else ''}{body}]"


@functools.lru_cache(maxsize=1)
def _sets() -> dict[str, set[int]]:
    # Less the surrogates: a JSON text cannot carry one alone (the api refuses "\ud800" with 400
    # before any model), and no regex engine but Python's takes them in a class.
    not_text = _matching(text._NOT_TEXT) - set(range(0xD800, 0xE000))
    return {
        # What a reader sees nothing of (timeline.text.is_blank); never text that is not text.
        "blank": (_not_matching(text._VISIBLE) - set(range(0xD800, 0xE000))) | not_text,
        "not_text": not_text,
        "control": _matching(text._CONTROL),  # tab and line feed excepted
        "bidi": _matching(text._BIDI_CONTROL),
        "space": {cp for cp in range(0x10000) if chr(cp).isspace()},  # what str.strip() removes
    }


@functools.lru_cache(maxsize=1)
def visible() -> str:
    """One character a reader can see: text with one is not blank."""
    return _class(_sets()["blank"], negated=True)


@functools.lru_cache(maxsize=1)
def post_text() -> str:
    """A post's text: no control character but tab and line breaks (CR only before LF, which
    normalization folds into LF), no noncharacter; either nothing but white space (allowed
    with media: the object's anyOf says when) or something visible."""
    s = _sets()
    refused = s["control"] | s["not_text"]
    allowed = f"(?:{_class(refused, negated=True)}|\\r\\n)"
    space = f"(?:{_class(s['space'] - refused)}|\\r\\n)"
    return f"^(?:{space}*|{allowed}*{visible()}{allowed}*)$"


@functools.lru_cache(maxsize=1)
def display_name() -> str:
    """A display name: white space at either end is trimmed; what is left has no control
    character (tabs and line breaks included), no direction control and no noncharacter,
    and something visible."""
    s = _sets()
    refused = s["control"] | {ord("\t"), ord("\n")} | s["not_text"] | s["bidi"]
    edge = _class(s["space"])
    allowed = _class(refused, negated=True)
    return f"^{edge}*{allowed}*{visible()}{allowed}*{edge}*$"
