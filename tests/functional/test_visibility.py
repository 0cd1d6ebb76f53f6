"""One visibility rule for every read path (issue 21, defect 1; issue 22, findings 2 and 3).

A block separates two accounts both ways, on every path: neither reads the other's user
timeline or posts by id, and neither sees the other's posts through anyone's reposts, a
third party's user timeline, their own earlier repost, or a repost by id. A mute hides only
from the muter's home timeline. The rule lives in `timeline.service.visibility`, which every
read goes through; these tests drive the real handlers over each path.
"""

from __future__ import annotations

import pytest


def user_timeline(h, reader: int, handle: str) -> list[tuple[str, str | None]]:
    """Every item of a user timeline as (post id, reposter's handle or None)."""
    reply = h.request("GET", f"/v1/users/{handle}/tweets", as_user=reader, query={"limit": 100})
    assert reply.status == 200, reply
    return [(i["id"], (i.get("repost") or {}).get("by", {}).get("handle")) for i in reply.body["items"]]


@pytest.fixture
def world(h):
    """alice posts (with a reply to dave); carol and bob repost it; alice reposts dave's post."""
    alice, bob, carol, dave = (h.sign_up(n) for n in ("alice", "bob", "carol", "dave"))
    daves = h.post(dave, "dave's post")
    alices = h.post(alice, "alice's post")
    carols_repost = h.repost(carol, alices)
    bobs_repost = h.repost(bob, alices)
    alices_repost = h.repost(alice, daves)
    carols_own = h.post(carol, "carol's own")
    return dict(alice=alice, bob=bob, carol=carol, dave=dave, daves=daves, alices=alices,
                carols_repost=carols_repost, bobs_repost=bobs_repost, alices_repost=alices_repost,
                carols_own=carols_own)


@pytest.mark.parametrize("who_blocks", ["alice blocks bob", "bob blocks alice"])
def test_given_a_block_then_a_third_partys_user_timeline_hides_their_repost_of_the_other_accounts_post(
        h, world, who_blocks):
    w = world
    assert (w["alices"], "carol") in user_timeline(h, w["bob"], "carol")
    # When a block stands between alice and bob (either way)
    if who_blocks == "alice blocks bob":
        h.block(w["alice"], "bob")
    else:
        h.block(w["bob"], "alice")
    # Then bob reads carol's timeline without alice's post; carol's own post still shows
    assert user_timeline(h, w["bob"], "carol") == [(w["carols_own"], None)]
    # and anyone else still sees carol's repost of it
    assert user_timeline(h, w["dave"], "carol") == [(w["carols_own"], None), (w["alices"], "carol")]


@pytest.mark.parametrize("who_blocks", ["alice blocks bob", "bob blocks alice"])
def test_given_a_block_then_the_readers_own_earlier_repost_no_longer_shows_the_other_accounts_post(
        h, world, who_blocks):
    w = world
    assert user_timeline(h, w["bob"], "bob") == [(w["alices"], "bob")]
    if who_blocks == "alice blocks bob":
        h.block(w["alice"], "bob")
    else:
        h.block(w["bob"], "alice")
    # Then bob's own timeline, read by bob, no longer carries alice's post (nor its images)
    assert user_timeline(h, w["bob"], "bob") == []
    # And alice, reading bob's timeline, is refused as bob would be on hers
    reply = h.request("GET", "/v1/users/bob/tweets", as_user=w["alice"])
    assert (reply.status, reply.error_code) == (403, "blocked"), reply


@pytest.mark.parametrize("who_blocks", ["alice blocks bob", "bob blocks alice"])
def test_given_a_block_then_a_post_by_id_is_refused_whether_it_is_the_post_a_repost_of_it_or_a_repost_by_the_other(
        h, world, who_blocks):
    w = world
    if who_blocks == "alice blocks bob":
        h.block(w["alice"], "bob")
    else:
        h.block(w["bob"], "alice")
    for tweet_id in (w["alices"], w["carols_repost"], w["alices_repost"]):
        reply = h.request("GET", f"/v1/tweets/{tweet_id}", as_user=w["bob"])
        assert (reply.status, reply.error_code) == (403, "blocked"), (tweet_id, reply)
        # the same for alice reading bob's side is covered by the symmetric rule; dave reads all
        assert h.request("GET", f"/v1/tweets/{tweet_id}", as_user=w["dave"]).status == 200
    # dave's own post, reposted by alice, is still dave's to show bob by its own id
    assert h.request("GET", f"/v1/tweets/{w['daves']}", as_user=w["bob"]).status == 200


def test_given_a_mute_then_user_timelines_and_posts_by_id_still_show_the_muted_account(h, world):
    w = world
    h.mute(w["bob"], "alice")
    assert user_timeline(h, w["bob"], "carol") == [(w["carols_own"], None), (w["alices"], "carol")]
    assert h.request("GET", f"/v1/tweets/{w['alices']}", as_user=w["bob"]).status == 200
    assert h.request("GET", "/v1/users/alice/tweets", as_user=w["bob"]).status == 200


def test_given_a_block_when_lifted_then_every_path_shows_the_posts_again(h, world):
    w = world
    h.block(w["alice"], "bob")
    h.unblock(w["alice"], "bob")
    assert user_timeline(h, w["bob"], "carol") == [(w["carols_own"], None), (w["alices"], "carol")]
    assert user_timeline(h, w["bob"], "bob") == [(w["alices"], "bob")]
    assert h.request("GET", f"/v1/tweets/{w['carols_repost']}", as_user=w["bob"]).status == 200


def test_given_a_user_timeline_whose_first_page_is_all_blocked_reposts_then_paging_still_reaches_the_older_posts(h):
    """Hidden entries do not end a user timeline early: the page goes on past them."""
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    old = h.post(carol, "carol's older post")
    for n in range(6):
        h.repost(carol, h.post(alice, f"alice {n}"))
    h.block(alice, "bob")
    items, cursor, pages = [], None, 0
    while True:
        reply = h.request("GET", "/v1/users/carol/tweets", as_user=bob,
                          query={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply
        items += [i["id"] for i in reply.body["items"]]
        cursor, pages = reply.body.get("next_cursor"), pages + 1
        if not cursor:
            break
        assert pages < 10
    assert items == [old]


# ====================================================================== each post once (issue 21, defect 6)
# An entry is hidden when an older entry of the same post within the dedupe window shows; an
# older copy the reader never sees must not suppress a newer one, or the post shows zero times.
def home_items(h, reader: int) -> list[tuple[str, str | None]]:
    return h.home_items(reader)


def test_given_a_muted_accounts_older_repost_when_a_friend_reposts_the_same_post_then_it_shows_once_by_the_friend(h):
    reader, muted, friend, stranger = (h.sign_up(n) for n in ("reader", "muted", "friend", "stranger"))
    h.follow(reader, "muted")
    h.follow(reader, "friend")
    post = h.post(stranger, "worth sharing")
    h.repost(muted, post)
    h.repost(friend, post)
    h.drain()
    assert home_items(h, reader) == [(post, "muted")]  # the older copy suppresses the newer
    # When the reader mutes the account whose repost came first
    h.mute(reader, "muted")
    # Then the friend's repost shows: the muted copy is not seen, so it suppresses nothing
    assert home_items(h, reader) == [(post, "friend")]


def test_given_a_muted_accounts_older_repost_alone_then_the_post_shows_zero_times_and_unmuting_brings_it_back(h):
    reader, muted, stranger = (h.sign_up(n) for n in ("reader", "muted", "stranger"))
    h.follow(reader, "muted")
    post = h.post(stranger, "worth sharing")
    h.repost(muted, post)
    h.drain()
    h.mute(reader, "muted")
    assert home_items(h, reader) == []
    h.unmute(reader, "muted")
    assert home_items(h, reader) == [(post, "muted")]


def test_given_a_reply_hidden_by_the_reply_rule_when_another_followee_reposts_it_then_the_repost_shows(h):
    reader, replier, reposter, stranger = (h.sign_up(n) for n in ("reader", "replier", "reposter", "stranger"))
    h.follow(reader, "replier")
    h.follow(reader, "reposter")
    parent = h.post(stranger, "a stranger's post")
    reply = h.post(replier, "answering a stranger", reply_to_id=parent)  # hidden: the reply rule
    h.repost(reposter, reply)  # reposts skip the reply rule
    h.drain()
    # Then the repost shows: the hidden reply below it suppresses nothing
    assert home_items(h, reader) == [(reply, "reposter")]


def test_given_a_post_shown_when_a_friend_reposts_it_then_the_repost_stays_suppressed(h):
    """What still holds: a copy the reader sees suppresses the newer ones."""
    reader, author, friend = (h.sign_up(n) for n in ("reader", "author", "friend"))
    h.follow(reader, "author")
    h.follow(reader, "friend")
    post = h.post(author, "seen already")
    h.repost(friend, post)
    h.drain()
    assert home_items(h, reader) == [(post, None)]


# ====================================================================== lists (issue 22, finding 3)
@pytest.mark.parametrize("who_blocks", ["alice blocks bob", "bob blocks alice"])
@pytest.mark.parametrize("kind", ["followers", "following"])
def test_given_a_block_then_neither_lists_the_others_followers_or_following(h, who_blocks, kind):
    alice, bob, carol = h.sign_up("alice"), h.sign_up("bob"), h.sign_up("carol")
    h.follow(carol, "alice")
    h.follow(alice, "carol")
    if who_blocks == "alice blocks bob":
        h.block(alice, "bob")
    else:
        h.block(bob, "alice")
    for reader, handle in ((bob, "alice"), (alice, "bob")):
        reply = h.request("GET", f"/v1/users/{handle}/{kind}", as_user=reader)
        assert (reply.status, reply.error_code) == (403, "blocked"), (reader, handle, reply)
    # a third party still lists them, and so does each account its own
    assert [u["handle"] for u in h.request("GET", f"/v1/users/alice/{kind}", as_user=carol).body["items"]] == ["carol"]
    assert h.request("GET", f"/v1/users/alice/{kind}", as_user=alice).status == 200
