"""A stateful property test: random sequences of sign-ups, follows, unfollows, posts,
deletes, celebrity threshold crossings both ways and readers going inactive and returning,
with the pipeline drained in a shuffled order (streams of different tables in any order,
queue messages shuffled and batched at random). After each drain, every user's home
timeline must equal the one computed naively from the graph and the posts: newest first,
no deleted posts, no duplicates, nothing from accounts they no longer follow.

The scale keeps the naive model exact: at most 30 posts, so no timeline reaches
TimelineMax (40), and at most 10 posts per author, so a follow's backfill (TimelineMax/4)
brings all of them. The cap and the backfill limit have their own tests.

Budget: about a minute in `make test` (profile "ci"). A longer run:
    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/unit/test_timeline_properties.py
"""

from __future__ import annotations

import os

import pytest
from collections import Counter

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

settings.register_profile("ci", max_examples=40, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck), derandomize=True)
settings.register_profile("long", max_examples=300, stateful_step_count=60, deadline=None,
                          suppress_health_check=list(HealthCheck))

SEEN: Counter = Counter()  # what the examples went through, so the test can say it explored
THRESHOLD, DEMOTE_BELOW = 5, 4  # promoted at 5 followers, demoted below 4 (80% of 5)
MAX_USERS, MAX_POSTS, MAX_POSTS_PER_AUTHOR = 7, 30, 10


class TimelineMachine(RuleBasedStateMachine):
    def __init__(self, h):
        super().__init__()
        from timeline import clock
        self.h, self.clock = h, clock
        h.reset()
        clock.reset()
        self.users: list[int] = []
        self.handles: dict[int, str] = {}
        self.follows: set[tuple[int, int]] = set()
        self.posts: dict[str, int] = {}  # live post id -> author
        self.celebrity: dict[int, bool] = {}

    # ------------------------------------------------------------------ model
    def expected_home(self, user: int) -> list[str]:
        followed = {x for f, x in self.follows if f == user}
        visible = [p for p, author in self.posts.items() if author == user or author in followed]
        return sorted(visible, key=int, reverse=True)

    def followers(self, user: int) -> int:
        return sum(1 for _, x in self.follows if x == user)

    # ------------------------------------------------------------------ rules
    @initialize()
    def six_users(self):
        """Enough for the threshold: everyone else following one account makes it a celebrity."""
        for _ in range(6):
            self.sign_up()

    @precondition(lambda self: len(self.users) < MAX_USERS)
    @rule()
    def sign_up(self):
        handle = f"user{len(self.users)}"
        user = self.h.sign_up(handle)
        self.users.append(user)
        self.handles[user] = handle

    @rule(data=st.data())
    def follow(self, data):
        follower, followee = data.draw(st.permutations(self.users))[:2]
        self.h.follow(follower, self.handles[followee])
        self.follows.add((follower, followee))

    @precondition(lambda self: self.follows)
    @rule(data=st.data())
    def unfollow(self, data):
        follower, followee = data.draw(st.sampled_from(sorted(self.follows)))
        self.h.unfollow(follower, self.handles[followee])
        self.follows.discard((follower, followee))

    @rule(data=st.data())
    def everyone_follows(self, data):
        """Crosses the threshold up (all others follow: at least 5 followers)."""
        star = data.draw(st.sampled_from(self.users))
        for user in self.users:
            if user != star and (user, star) not in self.follows:
                self.h.follow(user, self.handles[star])
                self.follows.add((user, star))

    @rule(data=st.data(), leave=st.integers(min_value=1, max_value=3))
    def followers_leave(self, data, leave):
        """Crosses the threshold down, or only into the hysteresis band."""
        star = data.draw(st.sampled_from(self.users))
        for follower in sorted(f for f, x in self.follows if x == star)[:leave]:
            self.h.unfollow(follower, self.handles[star])
            self.follows.discard((follower, star))

    @precondition(lambda self: len(self.posts) < MAX_POSTS)
    @rule(data=st.data())
    def post(self, data):
        authors = [u for u in self.users if sum(1 for a in self.posts.values() if a == u) < MAX_POSTS_PER_AUTHOR]
        if authors:
            author = data.draw(st.sampled_from(authors))
            self.posts[self.h.post(author, "x")] = author

    @precondition(lambda self: self.posts)
    @rule(data=st.data())
    def delete(self, data):
        post = data.draw(st.sampled_from(sorted(self.posts)))
        self.h.delete(self.posts.pop(post), post)

    @rule(hours=st.sampled_from([2, 12, 30, 24 * 3]))
    def time_passes(self, hours):
        """With InactiveDays 1: readers not seen for long enough get no fan-out writes."""
        self.clock.advance(ms=hours * 3_600_000)

    @rule(data=st.data())
    def reader_returns(self, data):
        reader = data.draw(st.sampled_from(self.users))
        assert self.h.home(reader).status == 200

    @rule(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def drain_and_check(self, seed):
        import random
        self.h.drain(shuffle=random.Random(seed))
        for user in self.users:
            ids, partial = self.h.home_all(user, limit=7)
            if partial:  # a returning reader: the rebuild it started completes in one drain
                SEEN["returning reader rebuilt"] += 1
                self.h.drain(shuffle=random.Random(seed + 1))
                ids, partial = self.h.home_all(user, limit=7)
            assert not partial, self.handles[user]
            assert ids == self.expected_home(user), self.handles[user]
        for user in self.users:
            count, flag = self.followers(user), self.h.user(user).celebrity
            assert self.h.user(user).followers_count == count
            SEEN["celebrity checked" if flag else "ordinary account checked"] += 1
            SEEN["celebrity in the hysteresis band" if flag and count < THRESHOLD else ""] += 1
            if count >= THRESHOLD:
                assert flag, f"{self.handles[user]} has {count} followers but is not a celebrity"
            elif count < DEMOTE_BELOW:
                assert not flag, f"{self.handles[user]} has {count} followers but is a celebrity"

    @invariant()
    def counts_match_the_graph(self):
        for user in self.users:
            assert self.h.user(user).following_count == sum(1 for f, _ in self.follows if f == user)


@pytest.mark.timeout(3 * 3600)  # the long profile runs for a while; "ci" takes about a minute
@pytest.mark.stack(CelebrityThreshold=str(THRESHOLD), TimelineMax="40", InactiveDays="1")
def test_given_random_graph_changes_and_shuffled_delivery_then_every_home_timeline_matches_the_naive_model(h):
    profile = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    SEEN.clear()
    run_state_machine_as_test(lambda: TimelineMachine(h), settings=profile)
    # and the examples went where the bugs would be: both sides of the threshold, the band, returns
    print(dict(SEEN))
    for what in ("celebrity checked", "ordinary account checked", "celebrity in the hysteresis band",
                 "returning reader rebuilt"):
        assert SEEN[what], f"no example reached: {what}"
