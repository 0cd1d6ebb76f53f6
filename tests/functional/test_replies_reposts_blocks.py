"""Replies, reposts, follows without reposts, blocks and mutes: the home timeline's reply
rule, the wait for a reply's parent, repost fan-out and dedupe, undo and delete, and what
blocks and mutes hide, through the real handlers on the in-process stack. Each rule is
checked for a followee whose posts are fanned out (materialized) and, where it matters, for
a celebrity whose posts are merged at read time."""

from __future__ import annotations

import json
import random

import pytest

CELEBRITY = pytest.mark.stack(CelebrityThreshold="3")
# Every rule holds the same whether the followee's posts are written to the reader's
# timeline or merged at read (CelebrityThreshold 3: the followee gets 3 followers).
AUTHOR_KINDS = [pytest.param(False, id="materialized"), pytest.param(True, id="celebrity", marks=CELEBRITY)]


# ---------------------------------------------------------------------- helpers
def followed_account(h, handle: str, readers: list[int], celebrity: bool, **follow) -> int:
    """Sign up `handle`, followed by `readers` (with `follow` options for the first one);
    for a celebrity, fans top its followers up to the threshold of 3. Drain to settle."""
    account = h.sign_up(handle)
    for n, reader in enumerate(readers):
        h.follow(reader, handle, **(follow if n == 0 else {}))
    if celebrity:
        for n in range(3 - len(readers)):
            h.follow(h.sign_up(f"{handle}fan{n}"), handle)
    return account


def assert_kind(h, account: int, celebrity: bool) -> None:
    h.drain()
    assert h.user(account).celebrity is celebrity


def ids(items: list[tuple[str, str | None]]) -> list[str]:
    return [i for i, _ in items]


def adds_by_post(records: list[dict]) -> dict[str, dict]:
    """The `add` messages among queued records, by the entry id they write."""
    out = {}
    for r in records:
        body = json.loads(r["body"])
        if body["op"] == "add":
            assert body["tweet_id"] not in out
            out[body["tweet_id"]] = r
    return out


def apply(h, records: list[dict]) -> None:
    for r in records:
        assert not h.run_worker([r]).get("batchItemFailures")


def get_tweet(h, user: int, tweet_id: str):
    return h.request("GET", f"/v1/tweets/{tweet_id}", as_user=user)


def walk_list(h, user: int, path: str) -> list[list[str]]:
    """Every page of a user list with limit=1: the handles on each page. A list whose last
    page came back full may end with one empty page (DynamoDB's Limit stops before knowing
    whether more edges match); no other page is empty."""
    pages, cursor = [], None
    while True:
        reply = h.request("GET", path, as_user=user, query={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply
        pages.append([u["handle"] for u in reply.body["items"]])
        cursor = reply.body["next_cursor"]
        if not cursor:
            assert all(pages[:-1]), pages  # an empty page only at the end
            return pages[:-1] if len(pages) > 1 and not pages[-1] else pages
        assert len(pages) < 20


# ====================================================================== replies
@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_followee_replies_to_an_account_the_reader_does_not_follow_then_the_reply_is_hidden(h, celebrity):
    reader, stranger = h.sign_up("reader"), h.sign_up("stranger")
    author = followed_account(h, "author", [reader], celebrity)
    assert_kind(h, author, celebrity)
    theirs = h.post(stranger, "a stranger's post")
    own = h.post(author, "a post of the author's own")
    reply = h.post(author, "answering a stranger", reply_to_id=theirs)
    h.drain()
    # Then the reader sees the author's post but not the reply to the stranger
    assert h.home_items(reader) == [(own, None)]
    # although (materialized) the entry is in the reader's timeline: the read applies the rule
    assert (reply in h.entries(reader)) is not celebrity
    # and still after an hour, when no reply waits for its parent any more: the reply rule hides it
    from timeline import clock  # importable once the harness has put the layer on the path
    clock.advance(ms=61 * 60 * 1000)
    assert h.home_items(reader) == [(own, None)]
    # and the reply is in the author's own home and user timeline
    assert reply in ids(h.home_items(author))
    tweets = h.request("GET", "/v1/users/author/tweets", as_user=reader).body["items"]
    assert [(t["id"], t["reply_to_id"]) for t in tweets] == [(reply, theirs), (own, None)]


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_followee_replies_to_the_reader_then_the_reader_sees_the_reply(h, celebrity):
    reader = h.sign_up("reader")
    author = followed_account(h, "author", [reader], celebrity)
    assert_kind(h, author, celebrity)
    mine = h.post(reader, "the reader's post")
    h.drain()
    reply = h.post(author, "answering the reader", reply_to_id=mine)
    h.drain()
    assert h.home_items(reader) == [(reply, None), (mine, None)]
    body = h.home(reader).body["items"][0]
    assert (body["reply_to_id"], body["author"]["handle"]) == (mine, "author")


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_followee_replies_to_its_own_post_then_the_reader_sees_the_whole_thread(h, celebrity):
    reader = h.sign_up("reader")
    author = followed_account(h, "author", [reader], celebrity)
    assert_kind(h, author, celebrity)
    first = h.post(author, "1/3")
    second = h.post(author, "2/3", reply_to_id=first)
    third = h.post(author, "3/3", reply_to_id=second)
    h.drain()
    assert h.home_items(reader) == [(third, None), (second, None), (first, None)]


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_followee_replies_to_another_followee_then_the_reader_sees_the_reply(h, celebrity):
    reader, other = h.sign_up("reader"), h.sign_up("other")
    h.follow(reader, "other")
    author = followed_account(h, "author", [reader], celebrity)
    assert_kind(h, author, celebrity)
    theirs = h.post(other, "the other followee's post")
    h.drain()
    reply = h.post(author, "answering the other followee", reply_to_id=theirs)
    h.drain()
    assert h.home_items(reader) == [(reply, None), (theirs, None)]


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_hidden_reply_to_a_stranger_when_the_reader_follows_the_stranger_then_it_shows_and_unfollowing_hides_it_again(
        h, celebrity):
    reader, stranger = h.sign_up("reader"), h.sign_up("stranger")
    author = followed_account(h, "author", [reader], celebrity)
    assert_kind(h, author, celebrity)
    theirs = h.post(stranger, "a stranger's post")
    reply = h.post(author, "answering the stranger", reply_to_id=theirs)
    h.drain()
    assert h.home_items(reader) == []
    # When the reader follows the account the reply answers
    h.follow(reader, "stranger")
    h.drain()
    # Then the reply shows (and the followed account's post, backfilled)
    assert h.home_items(reader) == [(reply, None), (theirs, None)]
    # And when the reader unfollows it again, the reply is hidden again (an hour on too)
    h.unfollow(reader, "stranger")
    h.drain()
    assert h.home_items(reader) == []
    from timeline import clock
    clock.advance(ms=61 * 60 * 1000)
    assert h.home_items(reader) == []
    assert h.user(author).celebrity is celebrity


def test_given_a_reply_to_an_unknown_post_then_422_reply_target_missing_and_nothing_is_posted(h):
    author = h.sign_up("author")
    reply = h.request("POST", "/v1/tweets", as_user=author, body={"text": "to nothing", "reply_to_id": "123456789"})
    assert (reply.status, reply.error_code) == (422, "reply_target_missing")
    h.drain()
    assert h.home_items(author) == []
    assert h.request("GET", "/v1/users/author/tweets", as_user=author).body["items"] == []


def test_given_a_reply_to_a_repost_id_then_it_answers_the_original_post(h):
    author, reposter, replier = h.sign_up("author"), h.sign_up("reposter"), h.sign_up("replier")
    original = h.post(author, "the original")
    repost_id = h.repost(reposter, original)
    reply = h.request("POST", "/v1/tweets", as_user=replier, body={"text": "answer", "reply_to_id": repost_id})
    assert reply.status == 201, reply
    assert reply.body["reply_to_id"] == original


def test_given_a_followee_reposts_a_reply_to_strangers_then_the_reader_sees_it_as_reposts_skip_the_reply_rule(h):
    reader, reposter, s1, s2 = (h.sign_up(n) for n in ("reader", "reposter", "s1", "s2"))
    h.follow(reader, "reposter")
    h.drain()
    root = h.post(s1, "a stranger's post")
    reply = h.post(s2, "another stranger answers", reply_to_id=root)
    h.repost(reposter, reply)
    h.drain()
    assert h.home_items(reader) == [(reply, "reposter")]


# ====================================================================== a reply waits for its parent
@pytest.mark.parametrize("parent_by", ["other", "author"], ids=["another_followee", "self_thread"])
def test_given_a_reply_whose_parent_has_not_reached_the_reader_when_the_reply_arrives_first_then_it_waits_for_the_parent(
        h, parent_by):
    reader, author, other = h.sign_up("reader"), h.sign_up("author"), h.sign_up("other")
    h.follow(reader, "author")
    h.follow(reader, "other")
    h.drain()
    parent = h.post(author if parent_by == "author" else other, "the parent")
    reply = h.post(author, "the reply", reply_to_id=parent)
    h.dispatch_pending()
    queued = h.take_queued()
    adds = adds_by_post(queued)
    assert json.loads(adds[reply]["body"])["owners"] == [str(reader)]
    # When the reply's add is applied before the parent's
    apply(h, [adds[reply]])
    # Then the reply is in the reader's timeline but not shown: its parent is not there yet
    assert reply in h.entries(reader) and parent not in h.entries(reader)
    assert h.home_items(reader) == []
    # And once the parent's add is applied, both show
    apply(h, [adds[parent]])
    assert h.home_items(reader) == [(reply, None), (parent, None)]
    apply(h, [m for m in queued if m is not adds[reply] and m is not adds[parent]])
    h.drain()
    assert h.home_items(reader) == [(reply, None), (parent, None)]


def test_given_a_reply_whose_parent_never_arrives_when_an_hour_has_passed_then_the_reply_shows(h):
    reader, author, other = h.sign_up("reader"), h.sign_up("author"), h.sign_up("other")
    h.follow(reader, "author")
    h.follow(reader, "other")
    h.drain()
    parent = h.post(other, "the parent")
    reply = h.post(author, "the reply", reply_to_id=parent)
    h.dispatch_pending()
    adds = adds_by_post(h.take_queued())
    apply(h, [adds[reply]])  # the parent's add is lost
    from timeline import clock  # importable once the harness has put the layer on the path
    assert h.home_items(reader) == []
    clock.advance(ms=30 * 60 * 1000)
    assert h.home_items(reader) == []  # half an hour: still waiting
    clock.advance(ms=31 * 60 * 1000)
    assert h.home_items(reader) == [(reply, None)]


@pytest.mark.stack(TimelineMax="10")
def test_given_a_reply_to_a_post_the_follow_did_not_backfill_when_the_reader_follows_its_author_then_after_the_drain_it_shows(h):
    """Rule 4 only holds a reply back mid-pipeline: once drained, a reply to an account the
    reader follows shows even if the post it answers never entered the reader's timeline
    (TimelineMax 10: a follow backfills the newest 2 posts only)."""
    reader, author, stranger = h.sign_up("reader"), h.sign_up("author"), h.sign_up("stranger")
    h.follow(reader, "author")
    h.drain()
    parent = h.post(stranger, "the parent")
    newer = [h.post(stranger, f"newer {n}") for n in range(2)]
    reply = h.post(author, "answering the stranger", reply_to_id=parent)
    h.drain()
    assert h.home_items(reader) == []
    # When the reader follows the stranger, whose backfill brings only the 2 newest posts
    h.follow(reader, "stranger")
    h.drain()
    assert parent not in h.entries(reader) and reply in h.entries(reader)
    # Then the reply shows: the reader follows whom it answers, and nothing is in flight
    assert h.home_items(reader) == [(reply, None)] + [(p, None) for p in reversed(newer)]


@pytest.mark.stack(TimelineMax="10")
def test_given_a_reply_whose_parent_was_trimmed_within_its_first_hour_then_the_reply_waits_out_that_hour(h):
    """A known limit of the read-time ordering check: a parent the TimelineMax cap (10) trimmed
    away is indistinguishable from one still on its way, so while the parent is under an hour
    old its reply waits (at TimelineMax 800, a reader would need 800 newer entries within that
    hour); then it shows."""
    from timeline import clock

    reader, author, other = h.sign_up("reader"), h.sign_up("author"), h.sign_up("other")
    h.follow(reader, "author")
    h.follow(reader, "other")
    h.drain()
    parent = h.post(other, "the parent")
    h.drain()
    mine = [h.post(reader, f"mine {n}") for n in range(10)]  # the cap pushes the parent out
    h.drain()
    assert parent not in h.entries(reader)
    reply = h.post(author, "answering the other followee", reply_to_id=parent)
    h.drain()
    assert reply in h.entries(reader)
    assert h.home_items(reader) == [(m, None) for m in reversed(mine[1:])]  # the reply holds the 10th place
    # When the parent is an hour old: the reply shows on top of the reader's capped timeline
    clock.advance(ms=61 * 60 * 1000)
    assert h.home_items(reader) == [(reply, None)] + [(m, None) for m in reversed(mine[1:])]


# ====================================================================== reposts
def test_given_a_followee_reposts_a_strangers_post_then_its_followers_see_it_once_marked_repost_by(h):
    reader, second, reposter, author = (h.sign_up(n) for n in ("reader", "second", "reposter", "author"))
    h.follow(reader, "reposter")
    h.follow(second, "reposter")
    h.drain()
    original = h.post(author, "worth sharing")
    repost_id = h.repost(reposter, original)
    h.drain()
    # Then each follower has the repost's entry (its own id), shown once as the original
    for follower in (reader, second):
        assert h.entries(follower) == [repost_id]
        assert h.home_items(follower) == [(original, "reposter")]
    item = h.home(reader).body["items"][0]
    assert item["id"] == original and item["text"] == "worth sharing"
    assert item["author"]["handle"] == "author"
    assert item["repost"]["id"] == repost_id and item["repost"]["by"]["handle"] == "reposter"
    # and the reposter's home shows it too; the author, who follows nobody, only their post
    assert h.home_items(reposter) == [(original, "reposter")]
    assert h.home_items(author) == [(original, None)]


def test_given_a_post_when_reposted_twice_by_the_same_user_then_201_then_200_with_the_same_repost(h):
    reader, reposter, author = h.sign_up("reader"), h.sign_up("reposter"), h.sign_up("author")
    h.follow(reader, "reposter")
    h.drain()
    original = h.post(author, "once is enough")
    first = h.request("POST", f"/v1/tweets/{original}/repost", as_user=reposter)
    again = h.request("POST", f"/v1/tweets/{original}/repost", as_user=reposter)
    assert (first.status, again.status) == (201, 200)
    assert first.body == again.body
    assert first.body["id"] == original and first.body["author"]["handle"] == "author"
    assert first.body["repost"]["by"]["handle"] == "reposter"
    h.drain()
    assert h.entries(reader) == [first.body["repost"]["id"]]
    assert h.home_items(reader) == [(original, "reposter")]


def test_given_their_own_post_when_the_author_reposts_it_twice_then_one_repost_201_then_200(h):
    author = h.sign_up("author")
    post = h.post(author, "mine")
    first = h.request("POST", f"/v1/tweets/{post}/repost", as_user=author)
    again = h.request("POST", f"/v1/tweets/{post}/repost", as_user=author)
    assert (first.status, again.status) == (201, 200)
    assert first.body["repost"]["id"] == again.body["repost"]["id"] != post
    assert first.body["repost"]["by"]["handle"] == "author"


def test_given_an_unknown_post_when_reposted_or_unreposted_then_404_tweet_not_found(h):
    user = h.sign_up("user")
    reply = h.request("POST", "/v1/tweets/123456789/repost", as_user=user)
    assert (reply.status, reply.error_code) == (404, "tweet_not_found")
    reply = h.request("DELETE", "/v1/tweets/123456789/repost", as_user=user)
    assert (reply.status, reply.error_code) == (404, "tweet_not_found")
    # a known post never reposted: undo is a no-op 204
    post = h.post(user, "not reposted")
    assert h.request("DELETE", f"/v1/tweets/{post}/repost", as_user=user).status == 204


def test_given_a_repost_when_someone_reposts_it_then_they_repost_the_original(h):
    author, first, second = h.sign_up("author"), h.sign_up("first"), h.sign_up("second")
    original = h.post(author, "the original")
    first_repost = h.repost(first, original)
    reply = h.request("POST", f"/v1/tweets/{first_repost}/repost", as_user=second)
    assert reply.status == 201, reply
    assert reply.body["id"] == original and reply.body["author"]["handle"] == "author"
    assert reply.body["repost"]["by"]["handle"] == "second"
    second_repost = reply.body["repost"]["id"]
    # Reposting the original itself is then the same repost
    again = h.request("POST", f"/v1/tweets/{original}/repost", as_user=second)
    assert (again.status, again.body["repost"]["id"]) == (200, second_repost)
    # and GET of a repost id shows the original with "repost" set
    view = get_tweet(h, author, second_repost)
    assert view.status == 200
    assert (view.body["id"], view.body["repost"]["id"], view.body["repost"]["by"]["handle"]) == (
        original, second_repost, "second")
    assert get_tweet(h, author, original).body["repost"] is None


@pytest.mark.parametrize("seed", range(2))
def test_given_two_followees_repost_a_post_then_the_reader_sees_it_once_by_the_first(h, seed):
    reader, first, second, author = (h.sign_up(n) for n in ("reader", "first", "second", "author"))
    h.follow(reader, "first")
    h.follow(reader, "second")
    h.drain()
    original = h.post(author, "shared twice")
    first_repost = h.repost(first, original)
    second_repost = h.repost(second, original)
    h.drain(shuffle=random.Random(seed))
    assert sorted(h.entries(reader)) == sorted([first_repost, second_repost])
    assert h.home_items(reader) == [(original, "first")]
    assert h.home_items(reader, limit=1) == [(original, "first")]  # page by page too


def test_given_the_original_already_in_the_timeline_when_a_followee_reposts_it_then_it_is_not_shown_again(h):
    reader, reposter, author = h.sign_up("reader"), h.sign_up("reposter"), h.sign_up("author")
    h.follow(reader, "reposter")
    h.follow(reader, "author")
    h.drain()
    original = h.post(author, "already seen")
    h.drain()
    repost_id = h.repost(reposter, original)
    h.drain()
    assert set(h.entries(reader)) == {original, repost_id}
    assert h.home_items(reader) == [(original, None)]


@pytest.mark.parametrize("between, shown_again", [(39, False), (40, True)])
def test_given_the_original_n_entries_below_a_repost_then_it_is_shown_again_only_past_the_40_entry_window(
        h, between, shown_again):
    reader, reposter, author = h.sign_up("reader"), h.sign_up("reposter"), h.sign_up("author")
    h.follow(reader, "reposter")
    h.follow(reader, "author")
    h.drain()
    original = h.post(author, "old news")
    h.drain()
    fillers = [h.post(reader, f"filler {n}") for n in range(between)]
    h.repost(reposter, original)
    h.drain()
    expected = [(f, None) for f in reversed(fillers)] + [(original, None)]
    if shown_again:
        expected = [(original, "reposter"), *expected]
    assert h.home_items(reader) == expected
    assert h.home_items(reader, limit=7) == expected  # the window reaches across pages


def test_given_two_reposts_when_the_first_is_undone_then_it_is_hidden_at_once_and_the_second_shows_after_the_drain(h):
    reader, first, second, author = (h.sign_up(n) for n in ("reader", "first", "second", "author"))
    h.follow(reader, "first")
    h.follow(reader, "second")
    h.drain()
    original = h.post(author, "shared twice")
    first_repost = h.repost(first, original)
    second_repost = h.repost(second, original)
    h.drain()
    assert h.home_items(reader) == [(original, "first")]
    # When the first reposter undoes theirs
    h.unrepost(first, original)
    # Then it is hidden at once, though its entries are still there
    assert (original, "first") not in h.home_items(reader)
    assert first_repost in h.entries(reader)
    # And after the drain its entries are gone and the second repost shows
    h.drain()
    assert h.entries(reader) == [second_repost]
    assert first_repost not in h.entries(first)
    assert h.home_items(reader) == [(original, "second")]
    assert get_tweet(h, reader, first_repost).status == 404
    # Undoing again is still 204
    assert h.request("DELETE", f"/v1/tweets/{original}/repost", as_user=first).status == 204


def test_given_a_repost_when_the_reposter_deletes_the_repost_id_then_the_repost_is_undone(h):
    reader, reposter, author = h.sign_up("reader"), h.sign_up("reposter"), h.sign_up("author")
    h.follow(reader, "reposter")
    h.drain()
    original = h.post(author, "shared then unshared")
    repost_id = h.repost(reposter, original)
    h.drain()
    assert h.home_items(reader) == [(original, "reposter")]
    # Someone else cannot delete it
    assert h.request("DELETE", f"/v1/tweets/{repost_id}", as_user=author).status == 403
    h.delete(reposter, repost_id)
    assert h.home_items(reader) == []
    h.drain()
    assert h.entries(reader) == [] and h.entries(reposter) == []
    assert get_tweet(h, reader, repost_id).status == 404
    assert get_tweet(h, reader, original).status == 200  # the original stays
    # and reposting again is a new repost
    again = h.request("POST", f"/v1/tweets/{original}/repost", as_user=reposter)
    assert again.status == 201 and again.body["repost"]["id"] != repost_id


def test_given_a_post_reposted_twice_when_the_original_is_deleted_then_every_repost_goes(h):
    reader, first, second, author = (h.sign_up(n) for n in ("reader", "first", "second", "author"))
    h.follow(reader, "first")
    h.follow(reader, "second")
    h.drain()
    original = h.post(author, "soon deleted")
    keep = h.post(author, "stays")
    first_repost, second_repost = h.repost(first, original), h.repost(second, original)
    kept_repost = h.repost(second, keep)
    h.drain()
    assert h.home_items(reader) == [(keep, "second"), (original, "first")]
    # When the author deletes the original
    h.delete(author, original)
    # Then the read hides it at once
    assert h.home_items(reader) == [(keep, "second")]
    # And after the drain every repost's entries and rows are gone
    h.drain()
    assert h.entries(reader) == [kept_repost]
    assert h.entries(first) == [] and h.entries(second) == [kept_repost]
    for repost_id in (first_repost, second_repost):
        reply = get_tweet(h, reader, repost_id)
        assert (reply.status, reply.error_code) == (404, "tweet_not_found")
    assert get_tweet(h, reader, kept_repost).status == 200
    assert h.home_items(reader) == [(keep, "second")]


def test_given_a_post_reposted_by_more_accounts_than_a_page_when_deleted_then_every_repost_goes(h, monkeypatch):
    from timeline.service import timeline_sync
    monkeypatch.setattr(timeline_sync, "DROP_PAGE_SIZE", 1)
    reader, author = h.sign_up("reader"), h.sign_up("author")
    reposters = [h.sign_up(f"r{n}") for n in range(3)]
    for n in range(3):
        h.follow(reader, f"r{n}")
    h.drain()
    original = h.post(author, "popular, then gone")
    reposts = [h.repost(r, original) for r in reposters]
    h.drain()
    assert sorted(h.entries(reader)) == sorted(reposts)
    h.delete(author, original)
    h.drain()
    assert h.entries(reader) == []
    assert all(h.entries(r) == [] for r in reposters)
    assert all(get_tweet(h, reader, r).status == 404 for r in reposts)
    drops = [json.loads(r["body"]) for b in h.worker_batches for r in b["Records"]]
    assert sum(1 for m in drops if m["op"] == "drop_reposts") >= 3  # one page per repost


def repost_in_flight(h) -> tuple[int, int, str, str, list[dict]]:
    """A reader follows a reposter, who reposts a post; the repost's fan-out is planned but
    not applied. Returns (reader, reposter, original, repost id, the queued records)."""
    reader, reposter, author = h.sign_up("reader"), h.sign_up("reposter"), h.sign_up("author")
    h.follow(reader, "reposter")
    h.drain()
    original = h.post(author, "shared")
    h.drain()
    repost_id = h.repost(reposter, original)
    h.dispatch_pending()
    late = h.take_queued()
    assert repost_id in adds_by_post(late)
    return reader, reposter, original, repost_id, late


def test_given_a_repost_undone_before_its_fan_out_is_applied_then_no_entry_is_left(h):
    reader, reposter, original, repost_id, late = repost_in_flight(h)
    # When the repost is undone and its cleanup runs before the add
    h.unrepost(reposter, original)
    h.drain()
    apply(h, late)
    # Then the late add takes itself back
    assert repost_id not in h.entries(reader)
    assert h.home_items(reader) == []


def test_given_a_repost_in_flight_when_the_reader_turns_the_reposters_reposts_off_then_it_does_not_land(h):
    reader, reposter, _, repost_id, late = repost_in_flight(h)
    h.follow(reader, "reposter", reposts=False)
    h.drain()
    apply(h, late)
    assert repost_id not in h.entries(reader)
    assert h.home_items(reader) == []
    own = h.post(reposter, "its posts still come")
    h.drain()
    assert h.home_items(reader) == [(own, None)]


@CELEBRITY
def test_given_a_celebrity_reposts_a_post_then_followers_see_it_merged_at_read_once(h):
    reader, author = h.sign_up("reader"), h.sign_up("author")
    star = followed_account(h, "star", [reader], celebrity=True)
    assert_kind(h, star, True)
    original = h.post(author, "noticed by a star")
    repost_id = h.repost(star, original)
    h.drain()
    # Then nothing was written to the reader's timeline, and the read merges the repost
    assert h.entries(reader) == []
    assert h.home_items(reader) == [(original, "star")]
    assert h.home(reader).body["items"][0]["repost"]["id"] == repost_id
    # and a reader who follows the author too sees the original once, at its own place
    h.follow(reader, "author")
    h.drain()
    assert h.home_items(reader) == [(original, None)]


def test_given_an_account_posts_and_reposts_then_its_user_timeline_shows_both_newest_first(h):
    reader, account, author = h.sign_up("reader"), h.sign_up("account"), h.sign_up("author")
    original = h.post(author, "theirs")
    own = h.post(account, "mine")
    repost_id = h.repost(account, original)
    page = h.request("GET", "/v1/users/account/tweets", as_user=reader)
    assert page.status == 200
    items = page.body["items"]
    assert [(i["id"], (i["repost"] or {}).get("id")) for i in items] == [(original, repost_id), (own, None)]
    assert items[0]["author"]["handle"] == "author" and items[0]["repost"]["by"]["handle"] == "account"
    # the author's own user timeline has only their post
    assert [i["id"] for i in h.request("GET", "/v1/users/author/tweets", as_user=reader).body["items"]] == [original]


# ====================================================================== follow without reposts
@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_follow_without_reposts_then_the_accounts_reposts_are_hidden_and_its_posts_shown(h, celebrity):
    reader, other, author = h.sign_up("reader"), h.sign_up("other"), h.sign_up("author")
    account = followed_account(h, "account", [reader, other], celebrity, reposts=False)
    assert_kind(h, account, celebrity)
    original = h.post(author, "shared")
    repost_id = h.repost(account, original)
    own = h.post(account, "its own post")
    h.drain()
    # Then the reader sees its post but not its repost
    assert h.home_items(reader) == [(own, None)]
    assert repost_id not in h.entries(reader)
    # while a follower with reposts sees both
    assert h.home_items(other) == [(own, None), (original, "account")]


def test_given_a_follow_with_a_reposts_body_then_the_answer_says_whether_reposts_show(h):
    reader, account = h.sign_up("reader"), h.sign_up("account")
    off = h.follow(reader, "account", reposts=False).body
    assert (off["following"], off["reposts"], off["user"]["followers_count"]) == (True, False, 1)
    on = h.follow(reader, "account", reposts=True).body
    assert (on["following"], on["reposts"], on["user"]["followers_count"]) == (True, True, 1)
    plain = h.follow(reader, "account").body
    assert (plain["following"], plain["reposts"], plain["user"]["followers_count"]) == (True, True, 1)
    gone = h.unfollow(reader, "account").body
    assert (gone["following"], gone["reposts"], gone["user"]["followers_count"]) == (False, None, 0)
    assert h.user(reader).following_count == 0 and h.user(account).followers_count == 0


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_a_follow_without_reposts_when_followed_again_with_reposts_then_its_recent_reposts_come_back(
        h, celebrity):
    reader, author = h.sign_up("reader"), h.sign_up("author")
    account = followed_account(h, "account", [reader], celebrity, reposts=False)
    assert_kind(h, account, celebrity)
    original = h.post(author, "shared")
    repost_id = h.repost(account, original)
    own = h.post(account, "its own post")
    h.drain()
    assert h.home_items(reader) == [(own, None)]
    # When the reader follows again with reposts
    reply = h.follow(reader, "account", reposts=True)
    assert reply.body["reposts"] is True
    assert reply.body["user"]["followers_count"] == (3 if celebrity else 1)
    assert h.user(reader).following_count == 1
    h.drain()
    # Then the account's recent repost is back (backfilled, or merged for a celebrity)
    assert h.home_items(reader) == [(own, None), (original, "account")]
    assert (repost_id in h.entries(reader)) is not celebrity
    # And turning them off again takes it away after a drain, the posts staying
    h.follow(reader, "account", reposts=False)
    h.drain()
    assert h.home_items(reader) == [(own, None)]
    assert repost_id not in h.entries(reader)
    assert h.user(account).followers_count == (3 if celebrity else 1)


@pytest.mark.parametrize("body", [{"reposts": "no"}, {"reposts": 0}, {"reposts": None},
                                  {"reposts": False, "extra": 1}, {"other": True}],
                         ids=["string", "int", "null", "extra_key", "unknown_key"])
def test_given_a_bad_follow_body_then_422_and_nothing_changes(h, body):
    reader, stranger, account, author = (h.sign_up(n) for n in ("reader", "stranger", "account", "author"))
    h.follow(reader, "account")
    h.drain()
    original = h.post(author, "shared")
    h.repost(account, original)
    h.drain()
    assert h.home_items(reader) == [(original, "account")]
    # When a follower and a non-follower post a bad body
    for user in (reader, stranger):
        reply = h.request("POST", "/v1/users/account/follow", as_user=user, body=body)
        assert (reply.status, reply.error_code) == (422, "invalid_body")
    h.drain()
    # Then no follow was made or changed
    assert h.user(account).followers_count == 1
    assert h.user(stranger).following_count == 0
    assert h.home_items(stranger) == []
    assert h.home_items(reader) == [(original, "account")]


# ====================================================================== blocks
def test_given_mutual_follows_when_one_blocks_the_other_then_both_follows_are_gone_at_once(h):
    blocker, blocked, bystander = h.sign_up("blocker"), h.sign_up("blocked"), h.sign_up("bystander")
    h.follow(blocker, "blocked")
    h.follow(blocked, "blocker")
    h.follow(bystander, "blocked")
    h.drain()
    reply = h.block(blocker, "blocked")
    assert reply.body["blocking"] is True
    assert reply.body["user"]["handle"] == "blocked"
    assert (reply.body["user"]["followers_count"], reply.body["user"]["following_count"]) == (1, 0)
    # Then, before any drain, both follows are gone; the bystander's stays
    for user, counts in ((blocker, (0, 0)), (blocked, (1, 0)), (bystander, (0, 1))):
        u = h.user(user)
        assert (u.followers_count, u.following_count) == counts
    following = h.request("GET", "/v1/users/blocker/following", as_user=blocker).body["items"]
    followers = h.request("GET", "/v1/users/blocker/followers", as_user=blocker).body["items"]
    assert following == [] and followers == []


def test_given_a_block_then_neither_can_follow_or_read_the_other_and_the_blocked_cannot_reply_or_repost_until_unblock(h):
    blocker, blocked = h.sign_up("blocker"), h.sign_up("blocked")
    post = h.post(blocker, "not for you")
    h.block(blocker, "blocked")
    # The blocked account: no follow, no user timeline, no post, no reply, no repost
    for method, path, body in (("POST", "/v1/users/blocker/follow", None),
                               ("GET", "/v1/users/blocker/tweets", None),
                               ("GET", f"/v1/tweets/{post}", None),
                               ("POST", "/v1/tweets", {"text": "hey", "reply_to_id": post}),
                               ("POST", f"/v1/tweets/{post}/repost", None)):
        reply = h.request(method, path, as_user=blocked, body=body)
        assert (reply.status, reply.error_code) == (403, "blocked"), (method, path, reply)
    # The blocker cannot follow the account they block
    reply = h.request("POST", "/v1/users/blocked/follow", as_user=blocker)
    assert (reply.status, reply.error_code) == (403, "blocked")
    # nor read its user timeline: a block separates both ways (timeline.service.visibility)
    reply = h.request("GET", "/v1/users/blocked/tweets", as_user=blocker)
    assert (reply.status, reply.error_code) == (403, "blocked"), reply
    assert "unblock" in reply.body["error"]["message"]
    assert h.user(blocker).following_count == 0 and h.user(blocked).following_count == 0
    # When unblocked, following works again both ways (nothing was restored by itself)
    reply = h.unblock(blocker, "blocked")
    assert reply.body["blocking"] is False
    assert h.user(blocker).following_count == 0
    h.follow(blocker, "blocked")
    h.follow(blocked, "blocker")
    assert h.request("GET", "/v1/users/blocker/tweets", as_user=blocked).status == 200
    h.drain()
    assert h.home_items(blocked) == [(post, None)]
    assert (h.user(blocker).followers_count, h.user(blocker).following_count) == (1, 1)


@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
@pytest.mark.parametrize("action", ["block", "mute"])
def test_given_a_blocked_or_muted_account_then_its_posts_reposts_of_them_and_replies_to_it_leave_home_at_once(
        h, action, celebrity):
    reader, other, stranger = h.sign_up("reader"), h.sign_up("other"), h.sign_up("stranger")
    # the reader follows both; `other` follows only the friend
    target = followed_account(h, "target", [reader], celebrity)
    friend = followed_account(h, "friend", [reader, other], celebrity)
    h.drain()
    assert (h.user(target).celebrity, h.user(friend).celebrity) == (celebrity, celebrity)
    theirs = h.post(stranger, "a stranger's post")
    h.repost(target, theirs)  # a repost BY the target
    post = h.post(target, "the target's post")
    h.repost(friend, post)  # a repost OF the target's post
    reply = h.post(friend, "answering the target", reply_to_id=post)  # a reply TO the target
    own = h.post(friend, "the friend's own post")
    h.drain()
    before_reader = [(own, None), (reply, None), (post, None), (theirs, "target")]
    before_other = [(own, None), (post, "friend")]
    assert h.home_items(reader) == before_reader
    assert h.home_items(other) == before_other
    entries_before = h.entries(reader)
    # When both readers block (or mute) the target
    getattr(h, action)(reader, "target")
    getattr(h, action)(other, "target")
    # Then at once, before any drain, only the friend's own post is left
    assert h.entries(reader) == entries_before  # nothing removed yet: the read hides them
    assert h.home_items(reader) == [(own, None)]
    assert h.home_items(other) == [(own, None)]
    h.drain()
    assert h.home_items(reader) == [(own, None)]
    assert h.home_items(other) == [(own, None)]
    if action == "mute":
        # a mute leaves the follow, and unmuting shows everything again
        assert h.user(reader).following_count == 2
        h.unmute(reader, "target")
        h.unmute(other, "target")
        assert h.home_items(reader) == before_reader
        assert h.home_items(other) == before_other
    else:
        # a block removed the follow: after the drain its entries left the timeline
        assert h.user(reader).following_count == 1
        assert post not in h.entries(reader)


@pytest.mark.parametrize("action, flag", [("block", "blocking"), ("mute", "muting")])
def test_given_a_block_or_mute_when_repeated_then_200_and_the_same_state(h, action, flag):
    user, target = h.sign_up("user"), h.sign_up("target")
    h.follow(target, "user")
    first = h.request("POST", f"/v1/users/target/{action}", as_user=user)
    again = h.request("POST", f"/v1/users/target/{action}", as_user=user)
    assert (first.status, again.status) == (200, 200)
    assert first.body[flag] is True and again.body[flag] is True
    assert first.body["user"] == again.body["user"]
    assert [u["handle"] for u in h.request("GET", f"/v1/me/{action}s", as_user=user).body["items"]] == ["target"]
    followers = 0 if action == "block" else 1
    assert h.user(user).followers_count == followers
    off = h.request("DELETE", f"/v1/users/target/{action}", as_user=user)
    off_again = h.request("DELETE", f"/v1/users/target/{action}", as_user=user)
    assert (off.status, off_again.status) == (200, 200)
    assert off.body[flag] is False and off_again.body[flag] is False
    assert h.request("GET", f"/v1/me/{action}s", as_user=user).body["items"] == []
    assert h.user(user).followers_count == followers


def test_given_a_mute_then_follows_stay_and_the_muted_account_can_still_follow_and_read(h):
    user, muted = h.sign_up("user"), h.sign_up("muted")
    h.follow(user, "muted")
    post = h.post(user, "visible to the muted account")
    h.drain()
    reply = h.mute(user, "muted")
    assert reply.body["muting"] is True and reply.body["user"]["followers_count"] == 1
    h.follow(muted, "user")
    assert h.request("GET", "/v1/users/user/tweets", as_user=muted).status == 200
    h.drain()
    assert h.home_items(muted) == [(post, None)]
    assert (h.user(user).followers_count, h.user(user).following_count) == (1, 1)


@pytest.mark.parametrize("action", ["block", "mute"])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_given_oneself_or_an_unknown_handle_when_blocking_or_muting_then_400_or_404(h, action, method):
    user = h.sign_up("user")
    reply = h.request(method, f"/v1/users/user/{action}", as_user=user)
    assert (reply.status, reply.error_code) == (400, f"self_{action}")
    reply = h.request(method, f"/v1/users/nobody/{action}", as_user=user)
    assert (reply.status, reply.error_code) == (404, "user_not_found")
    assert h.request("GET", f"/v1/me/{action}s", as_user=user).body["items"] == []


@pytest.mark.parametrize("action", ["block", "mute"])
def test_given_several_blocks_or_mutes_when_listed_by_one_then_pages_of_one_show_only_the_callers_own_by_id(
        h, action):
    users = {n: h.sign_up(n) for n in ("zed", "me", "carol", "bob", "dave", "someone")}
    toggle = getattr(h, action)
    for handle in ("zed", "carol", "bob"):
        toggle(users["me"], handle)
    toggle(users["someone"], "dave")
    # the other kind is a list of its own
    (h.mute if action == "block" else h.block)(users["me"], "dave")
    expected = sorted(("zed", "carol", "bob"), key=lambda n: users[n])
    assert walk_list(h, users["me"], f"/v1/me/{action}s") == [[n] for n in expected]
    assert walk_list(h, users["someone"], f"/v1/me/{action}s") == [["dave"]]
    assert walk_list(h, users["bob"], f"/v1/me/{action}s") == [[]]
    # a cursor belongs to the caller's list
    first = h.request("GET", f"/v1/me/{action}s", as_user=users["me"], query={"limit": 1}).body
    stolen = h.request("GET", f"/v1/me/{action}s", as_user=users["someone"],
                       query={"limit": 1, "cursor": first["next_cursor"]})
    assert stolen.status == 400


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_followed_without_reposts_whose_newest_entries_are_all_reposts_then_its_older_post_still_shows(h):
    """The merge filters the celebrity's reposts after its Query: a page of nothing but
    reposts must not look like the end of that source (the read asks for more instead)."""
    reader, star, other = h.sign_up("reader"), h.sign_up("star"), h.sign_up("other")
    for fan in ("fan1", "fan2"):
        h.follow(h.sign_up(fan), "star")
    h.follow(reader, "star", reposts=False)
    h.drain()
    assert h.user(star).celebrity
    older = h.post(star, "the star's own post")
    shared = [h.post(other, f"other {n}") for n in range(70)]  # more than one Query's worth
    for post in shared:
        h.repost(star, post)
    assert h.home_items(reader, limit=5) == [(older, None)]  # each Query asks for 5 + 5 + 40


@pytest.mark.parametrize("hide", ["mute", "block"])
def test_given_a_followee_reposts_a_reply_to_an_account_the_reader_hides_then_the_repost_is_hidden(h, hide):
    """Found by the property test: a repost shows the reply it shares, and that reply answers
    an account the reader blocks or mutes."""
    reader, reposter, replier, hidden = (h.sign_up(n) for n in ("reader", "reposter", "replier", "hidden"))
    h.follow(reader, "reposter")
    h.drain()
    reply = h.post(replier, "answering", reply_to_id=h.post(hidden, "the post answered"))
    h.repost(reposter, reply)
    h.drain()
    assert h.home_items(reader) == [(reply, "reposter")]
    getattr(h, hide)(reader, "hidden")
    assert h.home_items(reader) == []


def test_given_a_block_then_the_blocked_account_no_longer_sees_the_blocker_even_through_others_reposts(h):
    """A block works both ways in home timelines: the blocked account sees nothing by the
    blocker either, not even a third account's repost of it, from the moment the call answers."""
    blocker, blocked, sharer = h.sign_up("blocker"), h.sign_up("blocked"), h.sign_up("sharer")
    h.follow(blocked, "sharer")
    h.drain()
    post = h.post(blocker, "not for you")
    h.repost(sharer, post)
    h.drain()
    assert h.home_items(blocked) == [(post, "sharer")]
    h.block(blocker, "blocked")
    assert h.home_items(blocked) == []
    h.unblock(blocker, "blocked")
    assert h.home_items(blocked) == [(post, "sharer")]
