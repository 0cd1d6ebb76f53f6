"""What counts as a character in a post, and what text is refused.

A character is a user-perceived character (an extended grapheme cluster, UAX #29): an emoji
with a skin tone, a flag, a family emoji or a letter with combining accents is one character
to the person typing it, however many code points it takes. `regex`'s \\X implements it.
Text is NFC-normalized first, so the same visible text is stored and counted the same way
whatever the keyboard sent.

Counting characters alone would let one "character" carry thousands of code points (a
zero-width-joiner chain, or Zalgo-style combining marks), so a post is bounded three ways:

- at most 280 characters;
- at most 32 code points in any one character (Unicode's stream-safe text format allows 30
  combining marks in a row; the longest emoji sequences take 10);
- at most 2,240 code points in all (8 a character on average: 280 four-person family
  emoji fit), hence at most 8,960 bytes of UTF-8.

Twitter counts a weighted length over NFC code points instead; ours keeps "280 characters"
meaning what a reader sees, and the two extra bounds make the worst case in bytes fixed,
which is what keeps every page of every route under Lambda's 6 MB response limit.

Refused anywhere: unpaired surrogates and noncharacters (not text at all), and control
characters (newline and tab excepted). Refused as a whole post or display name: blank text
(`is_blank`: nothing a reader sees, only spaces, invisible format characters such as U+200B
and U+FEFF, direction controls, or characters that draw nothing, such as U+2800 BRAILLE
PATTERN BLANK and the Hangul fillers). Display names also refuse newlines, tabs and direction
controls, which would let a name reorder or break the text around it.
"""

from __future__ import annotations

import unicodedata

import regex

MAX_POST_CHARACTERS = 280
MAX_CODE_POINTS_PER_CHARACTER = 32
MAX_POST_CODE_POINTS = 8 * MAX_POST_CHARACTERS
MAX_DISPLAY_NAME_CHARACTERS = 50
MAX_DISPLAY_NAME_CODE_POINTS = 4 * MAX_DISPLAY_NAME_CHARACTERS

_GRAPHEME = regex.compile(r"\X")
# Control characters have no business in a post (newline and tab excepted).
_CONTROL = regex.compile(r"[\p{Cc}--[\n\t]]", flags=regex.V1)
# Not text: unpaired surrogates (JSON's "\ud800" decodes to one) and the 66 noncharacters.
_NOT_TEXT = regex.compile(r"[\p{Cs}\p{Noncharacter_Code_Point}]")
# Direction controls: embeddings, overrides and isolates (marks LRM/RLM/ALM are harmless).
_BIDI_CONTROL = regex.compile(r"[\u202a-\u202e\u2066-\u2069]")
# What a reader sees nothing of (see is_blank): separators, controls, format characters and
# whitespace; the default-ignorable code points (Unicode's "render as nothing unless
# supported": variation selectors, U+034F COMBINING GRAPHEME JOINER, the Hangul fillers
# U+115F, U+1160, U+3164 and U+FFA0, ...); and U+2800 BRAILLE PATTERN BLANK, a symbol whose
# glyph is an empty cell. The fillers are named although the property covers them: they are
# what blank names and posts are made of, whatever Unicode version `regex` carries.
_BLANK_CLASS = (r"\p{Z}\p{Cc}\p{Cf}\s\p{Default_Ignorable_Code_Point}"
                r"\u2800\u3164\u115f\u1160\uffa0")
_VISIBLE = regex.compile(rf"[^{_BLANK_CLASS}]")


def normalize(text: str) -> str:
    if _NOT_TEXT.search(text):  # before NFC, which cannot encode an unpaired surrogate
        raise ValueError("text must not contain unpaired surrogates or noncharacters")
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n")


def is_blank(text: str) -> bool:
    """True if a reader would see nothing of `text` (the empty string included): it is made only
    of separators and whitespace, control and format characters (U+200B, U+FEFF, direction
    controls...), default-ignorable code points (variation selectors, the Hangul fillers U+115F,
    U+1160, U+3164 and U+FFA0...) and U+2800 BRAILLE PATTERN BLANK.

    The one definition of blank text: posts (`check_post_text`) and display names
    (`check_display_name`) refuse blank text with it, and hashtags and search terms are to use
    it too (a tag or a term made of blank characters names nothing a reader can see), so that
    every place agrees on what counts as nothing. Text that merely contains blank characters
    among visible ones is not blank."""
    return _VISIBLE.search(text) is None


def count_characters(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def _check_bounds(text: str, max_characters: int, max_code_points: int, what: str) -> None:
    characters = _GRAPHEME.findall(text)
    if len(characters) > max_characters:
        raise ValueError(f"{what} is {len(characters)} characters; the limit is {max_characters}")
    longest = max((len(c) for c in characters), default=0)
    if longest > MAX_CODE_POINTS_PER_CHARACTER:
        raise ValueError(f"{what} has a character of {longest} code points; "
                         f"the limit is {MAX_CODE_POINTS_PER_CHARACTER}")
    if len(text) > max_code_points:
        raise ValueError(f"{what} is {len(text)} code points; the limit is {max_code_points}")


def check_post_text(text: str, *, media: bool = False) -> str:
    """The normalized text, or ValueError saying what is wrong with it. A post with media
    may have no text."""
    text = normalize(text)
    if _CONTROL.search(text):
        raise ValueError("text must not contain control characters")
    if is_blank(text):
        if media and not text.strip():
            return ""
        raise ValueError("text must not be empty" if not text.strip()
                         else "text must contain something visible, not only invisible, blank (such as U+2800 "
                              "or U+3164) or direction characters")
    _check_bounds(text, MAX_POST_CHARACTERS, MAX_POST_CODE_POINTS, "text")
    return text


def check_display_name(name: str) -> str:
    """The normalized display name, or ValueError saying what is wrong with it."""
    name = normalize(name).strip()
    if _CONTROL.search(name) or "\n" in name or "\t" in name:
        raise ValueError("a display name must not contain control characters or line breaks")
    if _BIDI_CONTROL.search(name):
        raise ValueError("a display name must not contain direction controls (U+202A-202E, U+2066-2069)")
    if is_blank(name):
        raise ValueError("a display name must contain something visible, not only spaces, invisible or blank "
                         "characters (such as U+200B, U+2800 or U+3164)")
    _check_bounds(name, MAX_DISPLAY_NAME_CHARACTERS, MAX_DISPLAY_NAME_CODE_POINTS, "the display name")
    return name
