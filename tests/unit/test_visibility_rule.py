"""Who may see what (service/visibility.py), as the table in its docstring says, with no
emulator: every relation the reader can have to an account (none, blocks it, blocked by it,
mutes it, is it), every place the account can stand in an entry (author, reposter, the author a
reply answers), on both surfaces. tests/functional/test_visibility.py checks the read paths use
the rule; this checks the rule itself, exhaustively."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "timeline" / "python"))

from timeline.errors import Forbidden
from timeline.records import Entry, Tweet, User
from timeline.service.visibility import Surface, Visibility
from timeline.store.graph import Restrictions

READER, OTHER, FRIEND = 1, 2, 3
RELATIONS = ("none", "blocks", "blocked_by", "mutes", "self")
ROLES = ("author", "reposter", "answered")

# The docstring's table: does an entry in which the account stands show?
SHOWS = {
    (Surface.FEED, "none"): True, (Surface.FEED, "blocks"): False, (Surface.FEED, "blocked_by"): False,
    (Surface.FEED, "mutes"): False, (Surface.FEED, "self"): True,
    (Surface.PROFILE, "none"): True, (Surface.PROFILE, "blocks"): False, (Surface.PROFILE, "blocked_by"): False,
    (Surface.PROFILE, "mutes"): True, (Surface.PROFILE, "self"): True,
}


def reader_seeing(relation: str) -> tuple[Visibility, int]:
    """The reader's Visibility with `relation` to the account, and the account's id."""
    if relation == "self":
        return Visibility(READER, Restrictions()), READER
    r = {"none": Restrictions(), "blocks": Restrictions(blocking=frozenset({OTHER})),
         "blocked_by": Restrictions(blocked_by=frozenset({OTHER})),
         "mutes": Restrictions(muted=frozenset({OTHER}))}[relation]
    return Visibility(READER, r), OTHER


def entry_with(account: int, role: str) -> Entry:
    """An entry (post 100) in which `account` stands in `role`; FRIEND fills the other places."""
    if role == "author":
        return Entry(100, account, account, 100)
    if role == "reposter":
        return Entry(101, FRIEND, account, 100)
    return Entry(100, FRIEND, FRIEND, 100, reply_to_id=99, reply_to_author_id=account)


@pytest.mark.parametrize("surface", list(Surface))
@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_given_a_relation_and_a_place_in_the_entry_then_the_entry_shows_as_the_table_says(surface, relation, role):
    # Given the reader's relation to an account, and an entry in which the account stands
    visibility, account = reader_seeing(relation)
    entry = entry_with(account, role)
    # Then the entry shows as the table says; a reply to a hidden account is hidden on a feed
    # only (on a profile the reader asked for the replier by name)
    expected = SHOWS[surface, relation] or (role == "answered" and surface is Surface.PROFILE)
    assert visibility.entry_shows(entry, surface) is expected


@pytest.mark.parametrize("surface", list(Surface))
@pytest.mark.parametrize("relation", RELATIONS)
def test_given_a_repost_whose_reposted_reply_answers_the_account_then_the_post_rule_catches_what_the_entry_could_not(
        surface, relation):
    # Given a friend's repost of a friend's reply to the account: the repost's entry does not
    # say whom the reply answers
    visibility, account = reader_seeing(relation)
    reply = Tweet(100, FRIEND, "re", 0, reply_to_id=99, reply_to_author_id=account)
    repost = Tweet(101, FRIEND, "", 0, repost_of_id=100, repost_of_author_id=FRIEND)
    assert visibility.entry_shows(Entry(101, FRIEND, FRIEND, 100), surface)
    # Then, once the post is read, it shows on a feed only if the account is not hidden there
    expected = SHOWS[surface, relation] or surface is Surface.PROFILE
    assert visibility.post_shows(reply, repost, surface) is expected


@pytest.mark.parametrize("relation", RELATIONS)
def test_given_a_relation_then_the_accounts_timeline_is_refused_only_across_a_block(relation):
    visibility, account = reader_seeing(relation)
    user = User(account, "someone", "Someone", 0)
    post = Tweet(100, account, "hi", 0)
    if relation in ("blocks", "blocked_by"):
        # Then 403 with the code a client can act on, for the account and for its post by id
        with pytest.raises(Forbidden) as refused:
            visibility.require_account(user)
        assert refused.value.code == "blocked"
        with pytest.raises(Forbidden):
            visibility.require_post(post, None)
    else:  # a mute never refuses what the reader asked for by name
        visibility.require_account(user)
        visibility.require_post(post, None)


def test_given_a_reader_who_blocks_and_mutes_themself_in_error_then_they_are_never_hidden_from_themself():
    odd = Visibility(READER, Restrictions(blocking=frozenset({READER}), muted=frozenset({READER})))
    assert odd.entry_shows(Entry(100, READER, READER, 100), Surface.FEED)
    assert READER not in odd.hidden(Surface.FEED) and READER not in odd.blocked
