"""Home timelines that stay right while the graph changes, over HTTP on the local stack
(CelebrityThreshold=3: three followers promote an account, fewer than 80% of 3 demote it)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def test_your_own_post_is_in_your_home_timeline_at_once(api):
    _, token = api.new_user("self")
    post_id = api.post(token, "read your writes")
    # no waiting: the very next read has it
    assert api.timeline_ids(token) == [post_id]


def test_follow_backfills_unfollow_cleans_up_and_refollow_brings_the_posts_back(api):
    author, author_token = api.new_user("author")
    other, other_token = api.new_user("other")
    _, reader_token = api.new_user("reader")
    posts = [api.post(author_token, f"earlier {n}") for n in range(3)]
    kept = api.post(other_token, "from another account")
    api.follow(reader_token, other)
    eventually(lambda: api.timeline_ids(reader_token) == [kept])
    # When the reader follows the author: their earlier posts arrive, in order, once
    api.follow(reader_token, author)
    expected = [kept, *reversed(posts)]  # newest first: "kept" came last
    eventually(lambda: api.timeline_ids(reader_token) == expected)
    # When the reader unfollows: the author's posts go, the other account's stay
    api.unfollow(reader_token, author)
    eventually(lambda: api.timeline_ids(reader_token) == [kept])
    # When the reader follows again: back, still once each
    api.follow(reader_token, author)
    eventually(lambda: api.timeline_ids(reader_token) == expected)


def test_quick_follow_unfollow_follow_converges_to_following(api):
    author, author_token = api.new_user("toggle")
    _, reader_token = api.new_user("toggler")
    post_id = api.post(author_token, "toggled")
    for action in (api.follow, api.unfollow, api.follow, api.unfollow, api.follow):
        action(reader_token, author)
    eventually(lambda: api.timeline_ids(reader_token) == [post_id])


def test_a_demoted_celebrity_stays_in_every_follower_timeline_without_duplicates(api):
    star, star_token = api.new_user("star")
    fans = [api.new_user(f"fan{n}") for n in range(3)]
    for _, token in fans:
        api.follow(token, star)
    eventually(lambda: api.profile(star_token, star)["celebrity"])
    merged = [api.post(star_token, f"merged {n}") for n in range(2)]
    for _, token in fans:
        eventually(lambda token=token: api.timeline_ids(token) == list(reversed(merged)))
    # When one fan leaves: 2 followers, below 80% of 3, so the account is demoted
    api.unfollow(fans[0][1], star)
    eventually(lambda: not api.profile(star_token, star)["celebrity"])
    fanned = api.post(star_token, "fanned out again")
    # Then the remaining fans see every post once, the leaver none
    for _, token in fans[1:]:
        eventually(lambda token=token: api.timeline_ids(token) == [fanned, *list(reversed(merged))])
    eventually(lambda: api.timeline_ids(fans[0][1]) == [])
