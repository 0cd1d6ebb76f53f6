"""Blank text: characters that are letters or symbols to Unicode but show nothing to a reader
(U+2800 BRAILLE PATTERN BLANK, the Hangul fillers U+3164, U+115F, U+1160 and U+FFA0, variation
selectors...) must not make a post or a display name count as visible. One rule decides it,
`timeline.text.is_blank`; posts and display names use it, so they refuse the same things.
"""

from __future__ import annotations

import json

import boto3
import pytest

BRAILLE_BLANK, HANGUL_FILLER, CHOSEONG_FILLER, JUNGSEONG_FILLER, HALFWIDTH_HANGUL_FILLER = (
    "\u2800", "\u3164", "\u115f", "\u1160", "\uffa0")

BLANK = [
    pytest.param(BRAILLE_BLANK, id="braille-blank"),
    pytest.param(BRAILLE_BLANK * 280, id="280-braille-blanks"),
    pytest.param(HANGUL_FILLER, id="hangul-filler"),
    pytest.param(CHOSEONG_FILLER + JUNGSEONG_FILLER, id="choseong-and-jungseong-fillers"),
    pytest.param(HALFWIDTH_HANGUL_FILLER * 3, id="halfwidth-hangul-filler"),
    pytest.param(f"{BRAILLE_BLANK} {HANGUL_FILLER}\u200b{HALFWIDTH_HANGUL_FILLER}", id="blanks-spaces-and-zwsp"),
    pytest.param("\ufe0f\ufe0f", id="variation-selectors"),
    pytest.param("\u034f", id="combining-grapheme-joiner"),
]

# Text that merely contains such characters, or looks like them, is text: braille that
# has dots and real Hangul are read by someone.
NOT_BLANK = [
    pytest.param(f"hello{BRAILLE_BLANK}world", id="braille-blank-between-words"),
    pytest.param("\u2813\u2811\u2807\u2807\u2815", id="braille-letters"),
    pytest.param("\ud55c\uae00", id="hangul-syllables"),
    pytest.param("\u1100" + JUNGSEONG_FILLER, id="hangul-initial-with-a-filler"),
    pytest.param("\u2764\ufe0f", id="heart-with-variation-selector"),
]


def table_items(h) -> dict[str, list]:
    ddb = boto3.client("dynamodb")
    names = {"users": h.settings.users_table, "tweets": h.settings.tweets_table,
             "graph": h.settings.graph_table, "timelines": h.settings.timelines_table,
             "idempotency": h.settings.idempotency_table}
    return {k: ddb.scan(TableName=v)["Items"] for k, v in names.items()}


@pytest.fixture
def world(h):
    alice, bob = h.sign_up("alice"), h.sign_up("bob")
    h.follow(bob, "alice")
    h.drain()
    return h, alice, bob


def error_text(reply) -> str:
    return json.dumps(reply.body["error"], ensure_ascii=False)


# ------------------------------------------------------------------ the rule

@pytest.mark.parametrize("text", BLANK)
def test_given_only_blank_characters_then_is_blank(h, text):
    from timeline.text import is_blank
    assert is_blank(text)


@pytest.mark.parametrize("text", [*NOT_BLANK, pytest.param("a", id="a")])
def test_given_something_a_reader_sees_then_not_blank(h, text):
    from timeline.text import is_blank
    assert not is_blank(text)


def test_given_what_text_already_treated_as_invisible_then_is_blank_agrees(h):
    from timeline.text import is_blank
    for text in ("", " ", "\n\t", "\u200b\u200d\u2060\ufeff", "\u202e\u2066 \u2069", "\u3000\u00a0", "\x00"):
        assert is_blank(text), repr(text)


# ------------------------------------------------------------------ posts

@pytest.mark.parametrize("text", BLANK)
def test_given_a_post_of_only_blank_characters_when_posted_then_422_and_nothing_written(world, text):
    """Given a post a reader would see as empty, when it is sent, then 422 saying it has
    nothing visible, and no table changes (no post, no timeline entry, no idempotency record)."""
    h, alice, bob = world
    before = table_items(h)
    reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": text},
                      headers={"Idempotency-Key": "blank-post-1"})
    assert (reply.status, reply.error_code) == (422, "invalid_body"), reply
    assert "visible" in error_text(reply), reply.body
    h.drain()
    assert table_items(h) == before
    assert h.home_ids(bob) == []


@pytest.mark.parametrize("text", NOT_BLANK)
def test_given_a_post_with_something_visible_among_blank_characters_when_posted_then_201(world, text):
    h, alice, bob = world
    post_id = h.post(alice, text)
    h.drain()
    assert h.home_ids(bob) == [post_id]


def test_given_an_image_with_blank_text_when_posted_then_422_as_for_invisible_text(world):
    """Given a ready image, when it is posted with text that is only blank characters, then 422
    as for text of zero-width characters (an image needs no text, but text that shows nothing
    is not accepted as a caption)."""
    import io

    from PIL import Image
    h, alice, _ = world
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(out, "PNG")
    media_id = h.upload(alice, out.getvalue(), "image/png")
    for text in ("\u200b", BRAILLE_BLANK * 3):
        reply = h.request("POST", "/v1/tweets", as_user=alice, body={"text": text, "media_ids": [media_id]})
        assert (reply.status, reply.error_code) == (422, "invalid_body"), reply
    assert h.request("POST", "/v1/tweets", as_user=alice, body={"text": "", "media_ids": [media_id]}).status == 201


# ------------------------------------------------------------------ display names

@pytest.mark.parametrize("name", [p for p in BLANK if p.id != "280-braille-blanks"]
                         + [pytest.param(f"\u200b{HANGUL_FILLER}\u200b", id="filler-in-zwsp")])
def test_given_a_blank_display_name_when_signing_up_then_422_saying_so_and_no_account(h, name):
    """Given a display name that would show as nothing next to a post, when signing up with
    it, then 422 with a message saying the name needs something visible, no profile is
    created, and the handle stays free."""
    reply = h.request("POST", "/v1/auth/signup", body={"handle": "eve", "password": "correct-horse-9",
                                                        "display_name": name})
    assert (reply.status, reply.error_code) == (422, "invalid_body"), reply
    assert "display name must contain something visible" in error_text(reply), reply.body
    assert h.request("GET", "/v1/users/eve", as_user=1).status in (401, 404)
    assert h.sign_up("eve", display_name="Eve")


@pytest.mark.parametrize("name", NOT_BLANK)
def test_given_a_display_name_with_something_visible_when_signing_up_then_201_and_it_is_kept(h, name):
    user = h.sign_up("eve", display_name=name)
    assert h.request("GET", "/v1/users/eve", as_user=user).body["display_name"] == name
