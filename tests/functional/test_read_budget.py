"""Every home read has a query budget (issue 22, finding 5).

A page costs one query of the reader's timeline and one per followed celebrity; when hidden
entries make the read go on, only sources that still hold unread entries are asked again,
and at most EXTRA_QUERIES more in all. A followed celebrity the reader mutes or blocks is
not asked at all: everything it brings is hidden. Counted at the store, through the handler.
"""

from __future__ import annotations

import pytest

CELEBRITY = pytest.mark.stack(CelebrityThreshold="3")


@pytest.fixture
def queries(monkeypatch):
    """Queries of a timeline or of an account's posts, as a read makes them."""
    from timeline.store.timelines import TimelineStore
    from timeline.store.tweets import TweetStore
    made: list[str] = []
    page, by_author = TimelineStore.page, TweetStore.entries_by_author

    def counted_page(self, *args, **kwargs):
        made.append("timeline")
        return page(self, *args, **kwargs)

    def counted_by_author(self, author_id, **kwargs):
        made.append(f"author {author_id}")
        return by_author(self, author_id, **kwargs)
    monkeypatch.setattr(TimelineStore, "page", counted_page)
    monkeypatch.setattr(TweetStore, "entries_by_author", counted_by_author)
    return made


def celebrities(h, reader: int, n: int, posts: int) -> list[int]:
    """n celebrities the reader follows (3 followers each: the threshold), each with posts."""
    out = []
    for i in range(n):
        star = h.sign_up(f"star{i}")
        h.follow(reader, f"star{i}")
        for f in range(2):
            h.follow(h.sign_up(f"star{i}fan{f}"), f"star{i}")
        for p in range(posts):
            h.post(star, f"star {i} post {p}")
        out.append(star)
    h.drain()
    assert all(h.user(s).celebrity for s in out)
    return out


@CELEBRITY
def test_given_five_followed_celebrities_all_muted_when_reading_one_item_then_no_query_asks_them(h, queries):
    reader = h.sign_up("reader")
    celebrities(h, reader, 5, posts=8)
    for i in range(5):
        h.mute(reader, f"star{i}")
    queries.clear()
    reply = h.home(reader, limit=1)
    assert reply.status == 200 and reply.body["items"] == []
    # Then one query of the reader's timeline, none of the muted celebrities
    assert queries == ["timeline"], queries


@CELEBRITY
def test_given_a_timeline_of_hidden_entries_when_read_then_ended_sources_are_not_asked_again_and_the_budget_holds(
        h, queries):
    reader = h.sign_up("reader")
    stars = celebrities(h, reader, 3, posts=0)  # followed, with nothing to merge
    noisy = h.sign_up("noisy")
    h.follow(reader, "noisy")
    for p in range(150):
        h.post(noisy, f"noise {p}")
    h.drain()
    h.mute(reader, "noisy")
    queries.clear()
    reply = h.home(reader, limit=1)
    assert reply.status == 200, reply
    assert reply.body["items"] == [] and reply.body["partial"] is True and reply.body["next_cursor"]
    # Then each empty celebrity is asked once, and the whole read stays within its budget
    for star in stars:
        assert queries.count(f"author {star}") == 1, queries
    from timeline.service.reading import EXTRA_QUERIES
    assert len(queries) <= 1 + len(stars) + EXTRA_QUERIES, queries


@CELEBRITY
def test_given_an_ordinary_page_then_one_query_per_source(h, queries):
    reader = h.sign_up("reader")
    stars = celebrities(h, reader, 2, posts=3)
    friend = h.sign_up("friend")
    h.follow(reader, "friend")
    for p in range(10):
        h.post(friend, f"friend {p}")
    h.drain()
    queries.clear()
    reply = h.home(reader, limit=5)
    assert reply.status == 200 and len(reply.body["items"]) == 5
    assert sorted(queries) == sorted(["timeline"] + [f"author {s}" for s in stars]), queries
