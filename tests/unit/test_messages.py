"""The fan-out queue's messages (timeline/service/messages.py): every shape ever queued parses
into its model and is written back exactly as it came, and what the planners write now is
byte for byte what they wrote when messages were dicts (messages already queued, and the
queues of persisted local stacks, must still be read)."""

from __future__ import annotations

import json
import sys

import pytest
from pydantic import ValidationError

from tests.support.harness import LAYER

if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

from timeline.records import Entry
from timeline.service import messages

POST, AUTHOR, REPOSTER, FAN, OTHER = 7_300_000_000_000_000_001, 101, 202, 303, 404

# Each kind as the dict-building writers wrote it, with None where they wrote None.
TODAY = {
    "add": {"op": "add", "tweet_id": str(POST), "author_id": str(AUTHOR), "via_id": str(REPOSTER),
            "original_id": "7299999999999999999", "reply_to_id": None, "reply_to_author_id": None,
            "owners": [str(FAN), str(OTHER)], "planned_at": 1_765_000_000_000},
    "add (a reply)": {"op": "add", "tweet_id": str(POST), "author_id": str(AUTHOR), "via_id": str(AUTHOR),
                      "original_id": str(POST), "reply_to_id": "7200000000000000000", "reply_to_author_id": "55",
                      "owners": [str(FAN)], "planned_at": 1},
    "remove": {"op": "remove", "tweet_id": str(POST), "owners": [str(FAN)]},
    "trim": {"op": "trim", "owner": str(FAN)},
    "sync_follow": {"op": "sync_follow", "owner": str(FAN), "account": str(AUTHOR)},
    "celebrity_page": {"op": "celebrity_page", "account": str(AUTHOR), "epoch": 3, "after": None},
    "celebrity_page (a later page)": {"op": "celebrity_page", "account": str(AUTHOR), "epoch": 3,
                                      "after": "00000000000000000303"},
    "rebuild": {"op": "rebuild", "owner": str(FAN), "started": 1_765_000_000_000, "after": None},
    "rebuild (a restamp, a later page)": {"op": "rebuild", "owner": str(FAN), "started": None, "after": "x#42"},
    "sever": {"op": "sever", "blocker": str(FAN), "blocked": str(AUTHOR)},
    "drop_reposts": {"op": "drop_reposts", "original": str(POST), "after": None},
    "drop_reposts (a later page)": {"op": "drop_reposts", "original": str(POST), "after": "7300000000000000099"},
    "copy": {"op": "copy", "tweet_id": str(POST)},
    "uncopy": {"op": "uncopy", "tweet_id": str(POST), "author_id": str(AUTHOR)},
    "celebrity_copies": {"op": "celebrity_copies", "account": str(AUTHOR), "first": 0, "last": 8},
    "attach_media": {"op": "attach_media", "media": ["11", "12"]},
    "delete_media": {"op": "delete_media", "media": ["11"]},
    # Queued by older versions, still read.
    "add (before unfollow checks)": {"op": "add", "tweet_id": str(POST), "author_id": str(AUTHOR),
                                     "owners": [str(FAN)]},
    "add (before reposts)": {"op": "add", "tweet_id": str(POST), "author_id": str(AUTHOR), "via_id": str(AUTHOR),
                             "owners": [str(FAN)], "planned_at": 1_765_000_000_000},
}


@pytest.mark.parametrize("shape", list(TODAY.values()), ids=list(TODAY))
def test_given_a_queued_message_then_it_parses_into_its_kind_and_writes_back_the_same(shape):
    message = messages.parse(json.dumps(shape))
    assert message.op == shape["op"]
    assert message.wire() == shape
    assert list(message.wire()) == list(shape)  # the same fields in the same order: the same bytes
    assert messages.parse(json.dumps(message.wire(), separators=(",", ":"))) == message


def test_given_the_message_kinds_then_every_one_is_covered_here():
    kinds = {m.op for m in map(messages.parse, map(json.dumps, TODAY.values()))}
    assert kinds == {"add", "remove", "trim", "sync_follow", "celebrity_page", "rebuild", "sever",
                     "drop_reposts", "copy", "uncopy", "celebrity_copies", "attach_media", "delete_media"}


def test_given_a_message_then_its_ids_are_ints():
    add = messages.parse(json.dumps(TODAY["add"]))
    assert isinstance(add, messages.Add)
    assert (add.tweet_id, add.via_id, add.owners, add.reply_to_id) == (POST, REPOSTER, [FAN, OTHER], None)
    page = messages.parse(json.dumps(TODAY["drop_reposts (a later page)"]))
    assert isinstance(page, messages.DropReposts) and page.after == 7300000000000000099


def test_given_an_add_from_before_reposts_then_its_entry_is_the_authors_own_post():
    old = messages.parse(json.dumps(TODAY["add (before unfollow checks)"]))
    assert isinstance(old, messages.Add)
    assert old.entry == Entry(POST, AUTHOR, AUTHOR, POST, None, None)
    assert old.planned_at == 0


def test_given_the_planners_messages_then_the_queue_gets_what_the_dict_writers_wrote():
    """The exact bodies the dict-building writers produced (json.dumps, compact separators)."""
    repost = Entry(POST, AUTHOR, REPOSTER, 7299999999999999999)
    built = [
        messages.Add.of(repost, [FAN, OTHER], 1_765_000_000_000),
        messages.Remove(tweet_id=POST, owners=[FAN]),
        messages.Trim(owner=FAN),
        messages.SyncFollow(owner=FAN, account=AUTHOR),
        messages.CelebrityPage(account=AUTHOR, epoch=3, after=None),
        messages.Rebuild(owner=FAN, started=None, after="x#42"),
        messages.Sever(blocker=FAN, blocked=AUTHOR),
        messages.DropReposts(original=POST, after=None),
        messages.Copy(tweet_id=POST),
        messages.Uncopy(tweet_id=POST, author_id=AUTHOR),
        messages.CelebrityCopies(account=AUTHOR, first=0, last=8),
        messages.AttachMedia(media=[11, 12]),
        messages.DeleteMedia(media=[11]),
    ]
    bodies = [json.dumps(m.wire(), separators=(",", ":")) for m in built]
    assert bodies == [
        '{"op":"add","tweet_id":"7300000000000000001","author_id":"101","via_id":"202",'
        '"original_id":"7299999999999999999","reply_to_id":null,"reply_to_author_id":null,'
        '"owners":["303","404"],"planned_at":1765000000000}',
        '{"op":"remove","tweet_id":"7300000000000000001","owners":["303"]}',
        '{"op":"trim","owner":"303"}',
        '{"op":"sync_follow","owner":"303","account":"101"}',
        '{"op":"celebrity_page","account":"101","epoch":3,"after":null}',
        '{"op":"rebuild","owner":"303","started":null,"after":"x#42"}',
        '{"op":"sever","blocker":"303","blocked":"101"}',
        '{"op":"drop_reposts","original":"7300000000000000001","after":null}',
        '{"op":"copy","tweet_id":"7300000000000000001"}',
        '{"op":"uncopy","tweet_id":"7300000000000000001","author_id":"101"}',
        '{"op":"celebrity_copies","account":"101","first":0,"last":8}',
        '{"op":"attach_media","media":["11","12"]}',
        '{"op":"delete_media","media":["11"]}',
    ]


@pytest.mark.parametrize("body", [
    '{"op": "celebrity_edges", "celebrity_id": "1", "after": null}',  # a kind no longer queued
    '{"tweet_id": "1"}',  # no kind
    '{"op": "add", "tweet_id": "x", "author_id": "1", "owners": []}',  # not an id
    '{"op": "trim"}',  # a field missing
    '["trim"]',
    "not json",
], ids=["unknown op", "no op", "not an id", "missing field", "not an object", "not json"])
def test_given_a_body_that_is_no_message_then_parsing_refuses_it(body):
    with pytest.raises(ValidationError):
        messages.parse(body)
    assert issubclass(ValidationError, ValueError)  # a ValueError, as the dict readers raised
