"""The demo loaded in bulk through the store layer (infra.console.demo_loader) against the same demo
written through the API, as `make run` used to seed it: a reader must not be able to tell
them apart. Both run on the unit-test stack, with the pipeline (dispatch and worker) carried
by the harness's drain().
"""

from __future__ import annotations

import pytest

from infra.console import seed as demo
from infra.console.demo_loader import DemoLoader

pytestmark = pytest.mark.stack(CelebrityThreshold="9")


def _plan() -> demo.SeedPlan:
    plan = demo.plan(20, 45, threshold=9, seed=5, reactions=10, pictures=0, mean_following=4)
    # worth comparing: celebrities (merged at read) and many more ordinary accounts (fanned out),
    # replies and reposts
    assert 1 <= len(plan.celebrities()) <= 3, plan.celebrities()
    assert any(text is None for _, _, text in plan.reactions) and any(plan.reactions), plan.reactions
    return plan


def _through_the_api(h, plan: demo.SeedPlan) -> None:
    """The plan as clients make it (infra.console.seed.seed's order), the pipeline drained as it goes."""
    ids = [h.sign_up(u.handle, demo.DEMO_PASSWORD, u.display_name) for u in plan.users]
    for a, b in plan.follows:
        h.follow(ids[a], plan.users[b].handle)
    h.drain()
    posted = [h.post(ids[a], text) for a, text in plan.posts]
    for actor, target, text in plan.reactions:
        if text is None:
            h.repost(ids[actor], posted[target])
        else:
            h.post(ids[actor], text, reply_to_id=posted[target])
    h.drain()


def _as_readers_see_it(h, plan: demo.SeedPlan) -> dict[str, object]:
    """Every account's profile and whole home timeline, as the API shows them, without ids
    (they differ from one load to the other): who wrote what, who reposted it, what it answers."""
    def text_of(tweet_id: str | None, reader: int) -> str | None:
        if tweet_id is None:
            return None
        reply = h.request("GET", f"/v1/tweets/{tweet_id}", as_user=reader)
        return f"{reply.body['author']['handle']}: {reply.body['text']}"

    seen: dict[str, object] = {}
    for user in plan.users:
        profile = h.request("GET", f"/v1/users/{user.handle}", as_user=1).body
        me = int(profile["id"])
        items, cursor = [], None
        while True:
            page = h.home(me, limit=100, **({"cursor": cursor} if cursor else {})).body
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        seen[user.handle] = {
            "profile": {k: profile[k] for k in ("handle", "display_name", "followers_count", "following_count",
                                                "celebrity")},
            "home": [(i["author"]["handle"], i["text"], (i.get("repost") or {}).get("by", {}).get("handle"),
                      text_of(i.get("reply_to_id"), me)) for i in items],
        }
    return seen


def test_given_a_demo_plan_when_loaded_through_the_store_layer_then_readers_see_what_the_api_would_have_made(h):
    plan = _plan()
    # Given the demo written through the API, every home timeline filled by the pipeline
    _through_the_api(h, plan)
    expected = _as_readers_see_it(h, plan)
    h.reset()

    # When the same plan is loaded in bulk (accounts and follows, the pipeline syncs the
    # follows and flips the celebrities, then the posts, and the pipeline fans them out)
    loader = DemoLoader(h.stack, None)
    written = loader.write_accounts(plan)
    h.drain()
    loader.write_posts(plan)
    h.drain()

    # Then every profile and every home timeline reads the same, entry for entry
    assert _as_readers_see_it(h, plan) == expected
    # And the celebrities were flagged by the pipeline before their posts were written
    assert sorted(written.promoted) == sorted(handle for handle, _ in plan.celebrities())
    celebrity = plan.celebrities()[0][0]
    assert expected[celebrity]["profile"]["celebrity"] is True
    # And the demo login signs in with the demo password
    token = h.request("POST", "/v1/auth/token", body={"handle": demo.DEMO_HANDLE, "password": demo.DEMO_PASSWORD})
    assert token.status == 200 and token.body["access_token"]


def test_given_the_demo_login_when_its_account_is_written_then_it_can_sign_in_before_the_rest(h):
    # Given a loader whose first account is written
    plan = _plan()
    loader = DemoLoader(h.stack, None)
    seen_at_login = []

    def look(*_args) -> None:  # the moment login_ready is set, before any follow is written
        if loader.login_ready.is_set() and not seen_at_login:
            seen_at_login.append(h.request("POST", "/v1/auth/token",
                                           body={"handle": demo.DEMO_HANDLE, "password": demo.DEMO_PASSWORD}).status)

    original = loader._write_follows
    loader._write_follows = lambda *a: (look(), original(*a))[1]  # type: ignore[method-assign]
    # When the accounts are written
    loader.write_accounts(plan)
    # Then the demo login worked before the follows were even written
    assert seen_at_login == [200]


def test_given_a_stopping_stack_when_the_load_is_cancelled_then_it_stops_between_two_steps(h):
    plan = _plan()
    loader = DemoLoader(h.stack, None)
    loader.cancelled.set()
    from infra.console.demo_loader import Cancelled

    with pytest.raises(Cancelled):
        loader.write_accounts(plan)
