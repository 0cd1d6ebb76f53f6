"""Follow and unfollow storms cost the caller what they cost the service (issue 22, finding 4).

Every change that makes the service work for others (follow, unfollow, block, unblock, mute,
unmute, a reposts choice, an undone repost) counts against the caller's action window
(ActionRateLimitPerMinute) in the change's own transaction: past it, 429 with Retry-After and
nothing changes; a repeat that changes nothing counts nothing. One account follows at most
MaxFollowing accounts. A celebrity is not demoted within DemotionCooldownMinutes of its
promotion, so fake accounts cannot flip it back and forth (each demotion copies its posts into
every active follower's timeline).
"""

from __future__ import annotations

import pytest

from tests.support.moto_inprocess import UNLIMITED

LIMITED = pytest.mark.stack(ActionRateLimitPerMinute="4")


@pytest.fixture(autouse=True)
def fresh_window(h):
    """Each test starts at the start of a one-minute window, so its changes share one (a test
    that crossed a minute's end on the real clock would find its window empty again)."""
    from tests.support.harness import to_next_window
    to_next_window()


def handles(h, n: int, prefix: str = "u") -> list[int]:
    return [h.sign_up(f"{prefix}{i}") for i in range(n)]


@LIMITED
def test_given_a_follow_and_unfollow_storm_when_the_window_is_full_then_429_with_retry_after_and_nothing_changes(h):
    from timeline import clock
    storm, target = h.sign_up("storm"), h.sign_up("target")
    # Four changes fill the window: follow, unfollow, follow, unfollow
    for method in ("POST", "DELETE", "POST", "DELETE"):
        assert h.request(method, "/v1/users/target/follow", as_user=storm).status == 200
    # When the fifth comes
    reply = h.request("POST", "/v1/users/target/follow", as_user=storm)
    # Then 429 with Retry-After, and no follow was made
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert h.user(target).followers_count == 0 and h.user(storm).following_count == 0
    h.drain()
    assert h.entries(storm) == []
    # And a minute later it is allowed again
    clock.advance(ms=61_000)
    assert h.request("POST", "/v1/users/target/follow", as_user=storm).status == 200
    assert h.user(target).followers_count == 1


@pytest.mark.stack(ActionRateLimitPerMinute="4", CelebrityThreshold="2")
def test_given_a_full_window_when_following_a_celebrity_then_429_not_a_conflict_and_nothing_changes(h):
    # Given a celebrity (a follow of it takes the storm path: no profile in the transaction)
    star = h.sign_up("star")
    for n in range(2):
        h.follow(h.sign_up(f"fan{n}"), "star")
    h.drain()
    assert h.user(star).celebrity
    storm = h.sign_up("storm")
    for method in ("POST", "DELETE", "POST", "DELETE"):
        assert h.request(method, "/v1/users/star/follow", as_user=storm).status == 200
    # When a fifth change comes
    reply = h.request("POST", "/v1/users/star/follow", as_user=storm)
    # Then it is the window that refuses it (429), not a flag change (409), and nothing changed
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    h.drain()
    assert h.user(star).followers_count == 2 and h.user(storm).following_count == 0


@LIMITED
@pytest.mark.parametrize("action", ["block", "mute"])
def test_given_block_or_mute_toggles_then_they_share_the_window_and_repeats_count_nothing(h, action):
    user = h.sign_up("user")
    h.sign_up("other")
    for method in ("POST", "POST", "DELETE", "DELETE", "POST", "DELETE"):  # two repeats in there
        reply = h.request(method, f"/v1/users/other/{action}", as_user=user)
        assert reply.status == 200, (method, reply)
    # Four changes so far (on, off, on, off; the repeats were free): one more change is refused
    reply = h.request("POST", f"/v1/users/other/{action}", as_user=user)
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    flag = "blocking" if action == "block" else "muting"
    # the state is what the last accepted change left, and a repeat of it still answers 200
    again = h.request("DELETE", f"/v1/users/other/{action}", as_user=user)
    assert again.status == 200 and again.body[flag] is False


@LIMITED
def test_given_a_full_window_then_following_again_unchanged_still_answers_200(h):
    user, others = h.sign_up("user"), handles(h, 4, "o")
    for i in range(4):
        h.follow(user, f"o{i}")
    # the window is full, yet repeating a follow that stands changes nothing: 200
    reply = h.request("POST", "/v1/users/o0/follow", as_user=user)
    assert reply.status == 200 and reply.body["following"] is True
    # while turning its reposts off is a change: 429
    reply = h.request("POST", "/v1/users/o0/follow", as_user=user, body={"reposts": False})
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert len(others) == 4


@LIMITED
def test_given_a_full_window_when_a_repost_is_undone_then_429_and_the_repost_stays(h):
    author, user = h.sign_up("author"), h.sign_up("user")
    posts = [h.post(author, f"p{i}") for i in range(3)]
    for p in posts:
        h.repost(user, p)
    h.unrepost(user, posts[0])
    h.unrepost(user, posts[1])
    h.unrepost(user, posts[2])
    h.repost(user, posts[0])  # a repost counts as a post, not in this window
    h.follow(user, "author")  # the fourth change
    reply = h.request("DELETE", f"/v1/tweets/{posts[0]}/repost", as_user=user)
    assert (reply.status, reply.error_code) == (429, "rate_limited"), reply
    assert h.request("GET", "/v1/users/user/tweets", as_user=user).body["items"][0]["id"] == posts[0]


@pytest.mark.stack(MaxFollowing="3")
def test_given_an_account_following_the_most_one_may_when_it_follows_another_then_403_following_limit(h):
    user = h.sign_up("user")
    handles(h, 4, "o")
    for i in range(3):
        h.follow(user, f"o{i}")
    reply = h.request("POST", "/v1/users/o3/follow", as_user=user)
    assert (reply.status, reply.error_code) == (403, "following_limit"), reply
    assert "3" in reply.body["error"]["message"]
    assert h.user(user).following_count == 3
    # following again one already followed is no new follow: still fine; after an unfollow, room again
    assert h.request("POST", "/v1/users/o0/follow", as_user=user).status == 200
    h.unfollow(user, "o0")
    assert h.request("POST", "/v1/users/o3/follow", as_user=user).status == 200


@pytest.mark.stack(CelebrityThreshold="3", DemotionCooldownMinutes="60")
def test_given_fake_followers_flapping_a_celebrity_then_it_is_demoted_at_most_once_per_cooldown(h):
    from timeline import clock
    star = h.sign_up("star")
    h.post(star, "a post a demotion would copy")
    fans = handles(h, 3, "fan")
    for i in range(3):
        h.follow(fans[i], "star")
    h.drain()
    assert h.user(star).celebrity
    epoch = h.user(star).celebrity_epoch
    # When the fakes leave and come back, again and again, within the cool-down
    for _ in range(3):
        for i in range(2):
            h.unfollow(fans[i], "star")
        h.drain()
        for i in range(2):
            h.follow(fans[i], "star")
        h.drain()
    # Then the account was never demoted: no walk copied its posts into anyone's timeline
    assert h.user(star).celebrity and h.user(star).celebrity_epoch == epoch
    # When the cool-down has passed and followers leave, it is demoted as before
    clock.advance(ms=61 * 60_000)
    for i in range(2):
        h.unfollow(fans[i], "star")
    h.drain()
    assert not h.user(star).celebrity
    # and the one follower left keeps its posts, backfilled by the demotion
    assert len(h.entries(fans[2])) == 1


def test_the_unit_stacks_run_without_these_limits_unless_a_test_asks():
    assert UNLIMITED["ActionRateLimitPerMinute"] == "1000000" and UNLIMITED["DemotionCooldownMinutes"] == "0"
