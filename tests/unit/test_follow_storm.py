"""A follow storm (issue 23, hot keys): many follows of one celebrity at once must not read its
handle claim and profile on every follow. A container reuses the celebrity's profile as the
follow target for a few seconds (service/social.py); the follow's transaction checks the
celebrity flag itself, so a stale one is read again and the edge still matches the flag."""

from __future__ import annotations

import boto3
import pytest


def celebrity_edges(h, owner: int) -> list[str]:
    items = boto3.client("dynamodb").query(
        TableName=h.settings.graph_table, KeyConditionExpression="user_id = :u AND begins_with(edge, :p)",
        ExpressionAttributeValues={":u": {"N": str(owner)}, ":p": {"S": "home#celebrity#"}})["Items"]
    return [i["edge"]["S"] for i in items]


@pytest.fixture
def lookups(h, monkeypatch):
    """Every handle the api's social service looks up."""
    users = h.services.social._users
    seen: list[str] = []
    get_by_handle = users.get_by_handle
    monkeypatch.setattr(users, "get_by_handle", lambda handle, *a, **k: seen.append(handle) or get_by_handle(handle, *a, **k))
    return seen


@pytest.mark.stack(CelebrityThreshold="3")
def test_given_a_celebrity_when_many_follow_it_then_its_handle_is_looked_up_once_and_every_edge_matches(h, lookups):
    star = h.sign_up("star")
    for n in range(3):
        h.follow(h.sign_up(f"early{n}"), "star")
    h.drain()
    assert h.user(star).celebrity
    fans = [h.sign_up(f"fan{n}") for n in range(12)]
    lookups.clear()
    # When twelve accounts follow the celebrity in a burst
    replies = [h.follow(f, "STAR") for f in fans]
    # Then its handle and profile were read once, and every follow is a celebrity follow
    assert all(r.status == 200 for r in replies)
    assert lookups == ["STAR"]
    assert all(celebrity_edges(h, f) for f in fans)
    # and its follower count is exact where it is read (its profile)
    assert h.request("GET", "/v1/users/star", as_user=fans[0]).body["followers_count"] == 15


@pytest.mark.stack(CelebrityThreshold="3", DemotionCooldownMinutes="0")
def test_given_a_reused_celebrity_target_demoted_meanwhile_when_followed_then_the_follow_is_an_ordinary_one(h):
    star = h.sign_up("star")
    early = [h.sign_up(f"early{n}") for n in range(3)]
    for f in early:
        h.follow(f, "star")
    h.drain()
    late = h.sign_up("late")
    assert h.follow(late, "star").status == 200  # the container now reuses star's profile (a celebrity)
    for f in early:
        h.unfollow(f, "star")
    h.drain()
    assert not h.user(star).celebrity
    # When another account follows, with the reused profile still saying "celebrity"
    newcomer = h.sign_up("newcomer")
    post = h.post(star, "ordinary again")
    h.drain()
    assert h.follow(newcomer, "star").status == 200
    h.drain()
    # Then the transaction saw the flag had changed: an ordinary follow, no celebrity edge, and
    # the post reaches the newcomer's timeline through the follow's backfill
    assert celebrity_edges(h, newcomer) == []
    assert h.home_ids(newcomer) == [post]
