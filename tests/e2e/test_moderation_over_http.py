"""Replies, reposts, follow without reposts, blocks and mutes, over HTTP on the local stack.

Home timeline items are the ORIGINAL post; an item brought by a repost says who reposted it in
"repost": {"by": ...}. `entries` reduces a page to (post id, reposter handle or None) pairs.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def entries(items: list[dict]) -> list[tuple[str, str | None]]:
    return [(item["id"], item["repost"]["by"]["handle"] if item["repost"] else None) for item in items]


def error_code(resp) -> str:
    return resp.json()["error"]["code"]


def test_a_reply_to_a_stranger_is_hidden_and_a_self_thread_reply_shows_after_its_parent(api):
    author, author_token = api.new_user("replier")
    stranger, stranger_token = api.new_user("stranger")
    _, reader_token = api.new_user("rreader")
    api.follow(reader_token, author)
    parent = api.post(author_token, "thread 1/2")
    theirs = api.post(stranger_token, "a stranger's post")
    to_stranger = api.post(author_token, "I disagree", theirs)
    own = api.post(author_token, "thread 2/2", parent)
    # The reader sees the thread, its reply after (above) the parent, and not the reply to a stranger
    eventually(lambda: entries(api.timeline(reader_token)) == [(own, None), (parent, None)])
    items = api.timeline(reader_token)
    assert [i["reply_to_id"] for i in items] == [parent, None]
    # The reply exists all the same: it is on the author's own page
    eventually(lambda: [t["id"] for t in api.user_tweets(reader_token, author)] == [own, to_stranger, parent])
    # Once the reader follows the stranger, the reply to them is shown (and their post arrives)
    api.follow(reader_token, stranger)
    eventually(lambda: api.timeline_ids(reader_token) == [own, to_stranger, theirs, parent])


def test_a_repost_reaches_followers_once_even_when_two_followees_repost_it_and_undo_removes_it(api):
    author, author_token = api.new_user("original")
    first, first_token = api.new_user("rpfirst")
    second, second_token = api.new_user("rpsecond")
    _, reader_token = api.new_user("rpreader")
    api.follow(reader_token, first)
    api.follow(reader_token, second)
    post = api.post(author_token, "worth sharing")

    made = api.repost(first_token, post)  # 201 the first time
    assert made["id"] == post and made["author"]["handle"] == author and made["text"] == "worth sharing"
    assert made["repost"]["by"]["handle"] == first
    first_repost = made["repost"]["id"]
    assert first_repost != post
    again = api.repost(first_token, post, status=200)  # idempotent: the same repost
    assert again["repost"]["id"] == first_repost
    # GET by the repost's own id answers the original, with the repost set
    viewed = api.request("GET", f"/v1/tweets/{first_repost}", reader_token)
    assert viewed.status_code == 200, viewed.text
    assert viewed.json()["id"] == post and viewed.json()["repost"]["by"]["handle"] == first
    # The reposter's own page shows the repost as the original with "repost" set
    eventually(lambda: entries(api.user_tweets(reader_token, first)) == [(post, first)])

    second_repost = api.repost(second_token, post)["repost"]["id"]
    marker = api.post(second_token, "after my repost")
    # Shown once, by the first reposter (the oldest occurrence wins)
    eventually(lambda: entries(api.timeline(reader_token)) == [(marker, None), (post, first)])

    # Undo the first repost: never shown by the first reposter again, the second one's remains
    api.unrepost(first_token, post)
    assert (post, first) not in entries(api.timeline(reader_token))  # hidden at once on read
    eventually(lambda: entries(api.timeline(reader_token)) == [(marker, None), (post, second)])
    api.unrepost(first_token, post)  # idempotent
    # Deleting the repost by its own id undoes it too
    api.delete_tweet(second_token, second_repost)
    eventually(lambda: entries(api.timeline(reader_token)) == [(marker, None)])
    eventually(lambda: api.user_tweets(reader_token, first) == [])


def test_deleting_the_original_takes_its_reposts_with_it(api):
    _, author_token = api.new_user("doomed")
    sharer, sharer_token = api.new_user("sharer")
    _, reader_token = api.new_user("dreader")
    api.follow(reader_token, sharer)
    post = api.post(author_token, "soon gone")
    repost_id = api.repost(sharer_token, post)["repost"]["id"]
    eventually(lambda: entries(api.timeline(reader_token)) == [(post, sharer)])

    api.delete_tweet(author_token, post)
    eventually(lambda: api.timeline(reader_token) == [])
    eventually(lambda: api.request("GET", f"/v1/tweets/{repost_id}", reader_token).status_code == 404)
    gone = api.request("GET", f"/v1/tweets/{repost_id}", reader_token)
    assert error_code(gone) == "tweet_not_found", gone.text
    assert api.request("GET", f"/v1/tweets/{post}", reader_token).status_code == 404
    eventually(lambda: api.user_tweets(reader_token, sharer) == [])


def test_following_without_reposts_hides_the_reposts_but_not_the_posts_until_asked_again(api):
    _, author_token = api.new_user("quoted")
    sharer, sharer_token = api.new_user("nrsharer")
    _, reader_token = api.new_user("nrreader")
    early = api.post(author_token, "shared before the follow")
    api.repost(sharer_token, early)

    rel = api.follow_with(reader_token, sharer, reposts=False)
    assert rel["following"] is True and rel["reposts"] is False
    assert rel["user"]["handle"] == sharer and rel["user"]["followers_count"] == 1
    own = api.post(sharer_token, "my own words")
    eventually(lambda: entries(api.timeline(reader_token)) == [(own, None)])
    # A repost made while followed without reposts stays out as well
    later = api.post(author_token, "shared during the follow")
    api.repost(sharer_token, later)
    marker = api.post(sharer_token, "still my own words")
    eventually(lambda: entries(api.timeline(reader_token)) == [(marker, None), (own, None)])

    # Following again with reposts: only the choice changes, and the reposts come back
    rel = api.follow_with(reader_token, sharer, reposts=True)
    assert rel["following"] is True and rel["reposts"] is True and rel["user"]["followers_count"] == 1
    eventually(lambda: entries(api.timeline(reader_token))
               == [(marker, None), (later, sharer), (own, None), (early, sharer)])


def test_mute_hides_at_once_and_unmute_restores(api):
    loud, loud_token = api.new_user("loud")
    friend, friend_token = api.new_user("friend")
    other, other_token = api.new_user("other")
    _, reader_token = api.new_user("mreader")
    api.follow(reader_token, loud)
    api.follow(reader_token, friend)
    noisy = api.post(loud_token, "noise")
    elsewhere = api.post(other_token, "from someone the reader does not follow")
    api.repost(loud_token, elsewhere)
    calm = api.post(friend_token, "calm")
    answer = api.post(friend_token, "replying to the noise", noisy)
    everything = [(answer, None), (calm, None), (elsewhere, loud), (noisy, None)]
    eventually(lambda: entries(api.timeline(reader_token)) == everything)

    muted = api.mute(reader_token, loud)
    assert muted["muting"] is True and muted["user"]["handle"] == loud
    # The very next read: the muted account's posts, its reposts and replies to it are gone
    assert entries(api.timeline(reader_token)) == [(calm, None)]
    assert api.mute(reader_token, loud)["muting"] is True  # idempotent
    # Muting does not unfollow
    assert api.profile(reader_token, loud)["followers_count"] == 1
    self_mute = api.request("POST", f"/v1/users/{friend}/mute", friend_token)
    assert self_mute.status_code == 400 and error_code(self_mute) == "self_mute", self_mute.text

    # /v1/me/mutes lists them, ordered by user id, one per page with limit=1
    api.mute(reader_token, other)
    pages = api.user_pages(reader_token, "/v1/me/mutes", limit=1)
    listed = [u for page in pages for u in page]
    assert all(len(page) <= 1 for page in pages) and len(pages) >= 2
    assert sorted(u["handle"] for u in listed) == sorted([loud, other])
    assert [int(u["id"]) for u in listed] == sorted(int(u["id"]) for u in listed)

    unmuted = api.unmute(reader_token, loud)
    assert unmuted["muting"] is False and unmuted["user"]["handle"] == loud
    assert api.unmute(reader_token, loud)["muting"] is False  # idempotent
    assert [u["handle"] for page in api.user_pages(reader_token, "/v1/me/mutes", limit=1) for u in page] == [other]
    # Back, except the repost of a post by the still-muted account (its author is muted)
    eventually(lambda: entries(api.timeline(reader_token)) == [e for e in everything if e[0] != elsewhere])
    api.unmute(reader_token, other)
    eventually(lambda: entries(api.timeline(reader_token)) == everything)


def test_block_hides_at_once_cuts_follows_both_ways_and_shuts_the_blocked_account_out(api):
    blocker, blocker_token = api.new_user("blocker")
    pest, pest_token = api.new_user("pest")
    troll, _ = api.new_user("troll")
    api.follow(blocker_token, pest)
    api.follow(pest_token, blocker)
    mine = api.post(blocker_token, "mine")
    theirs = api.post(pest_token, "theirs")
    eventually(lambda: api.timeline_ids(blocker_token) == [theirs, mine])
    eventually(lambda: api.timeline_ids(pest_token) == [theirs, mine])

    body = api.block(blocker_token, pest)
    assert body["blocking"] is True and body["user"]["handle"] == pest
    assert (body["user"]["followers_count"], body["user"]["following_count"]) == (0, 0)
    # The very next read no longer shows the blocked account
    assert api.timeline_ids(blocker_token) == [mine]
    # Follows are gone both ways, counts already updated
    me = api.profile(blocker_token, blocker)
    assert (me["followers_count"], me["following_count"]) == (0, 0)
    them = api.profile(blocker_token, pest)
    assert (them["followers_count"], them["following_count"]) == (0, 0)
    assert api.block(blocker_token, pest)["blocking"] is True  # idempotent

    # The blocked account is shut out
    for method, path in [("POST", f"/v1/users/{blocker}/follow"),
                         ("GET", f"/v1/users/{blocker}/tweets"),
                         ("GET", f"/v1/tweets/{mine}"),
                         ("POST", f"/v1/tweets/{mine}/repost")]:
        resp = api.request(method, path, pest_token)
        assert resp.status_code == 403 and error_code(resp) == "blocked", (method, path, resp.text)
    replied = api.request("POST", "/v1/tweets", pest_token, json={"text": "hey", "reply_to_id": mine})
    assert replied.status_code == 403 and error_code(replied) == "blocked", replied.text
    # ... and the blocker cannot follow whom they block
    refollow = api.request("POST", f"/v1/users/{pest}/follow", blocker_token)
    assert refollow.status_code == 403 and error_code(refollow) == "blocked", refollow.text
    # The blocked account no longer follows the blocker: its posts leave their timeline
    eventually(lambda: api.timeline_ids(pest_token) == [theirs])
    self_block = api.request("POST", f"/v1/users/{blocker}/block", blocker_token)
    assert self_block.status_code == 400 and error_code(self_block) == "self_block", self_block.text

    # /v1/me/blocks lists them, ordered by user id, one per page with limit=1
    api.block(blocker_token, troll)
    pages = api.user_pages(blocker_token, "/v1/me/blocks", limit=1)
    listed = [u for page in pages for u in page]
    assert all(len(page) <= 1 for page in pages) and len(pages) >= 2
    assert sorted(u["handle"] for u in listed) == sorted([pest, troll])
    assert [int(u["id"]) for u in listed] == sorted(int(u["id"]) for u in listed)

    # Unblocking lifts the bans but restores no follow
    unblocked = api.unblock(blocker_token, pest)
    assert unblocked["blocking"] is False and unblocked["user"]["followers_count"] == 0
    assert [u["handle"] for page in api.user_pages(blocker_token, "/v1/me/blocks", limit=1) for u in page] == [troll]
    assert api.request("GET", f"/v1/users/{blocker}/tweets", pest_token).status_code == 200
    assert api.profile(blocker_token, blocker)["following_count"] == 0
