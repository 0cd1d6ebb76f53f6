"""Timeline syncs racing the reader's own changes (issue 21, defects 4, 5, 7 and 8): a reader
coming back while an account is demoted, follows without reposts of an account that mostly
reposts, a reposts setting changed while a rebuild or a promotion page is being written, and
two reposts toggles at once. Each race is made deterministic by running the other party
between two steps of the first. Through the real handlers on the in-process stack."""

from __future__ import annotations

import json

import boto3
import pytest

CELEBRITY = pytest.mark.stack(CelebrityThreshold="3")
AUTHOR_KINDS = [pytest.param(False, id="materialized"), pytest.param(True, id="celebrity", marks=CELEBRITY)]


# ---------------------------------------------------------------------- helpers
def apply_pending(h) -> None:
    """Dispatch every pending stream record and apply every queued message in this thread,
    until nothing is left: a whole flow run to its end between two steps of another."""
    for _ in range(100):
        h.dispatch_pending()
        queued = h.take_queued()
        if not queued:
            return
        apply_messages(h, queued)
    raise AssertionError("did not settle")


def apply_messages(h, records: list[dict]) -> None:
    """Each message applied alone, in this thread, as the worker applies it."""
    from timeline.service import messages
    for m in records:
        h.worker.apply(messages.parse(m["body"]))


def no_reposts(h, owner: int, edge: str) -> bool | None:
    """An edge's no_reposts flag as stored (None: no such edge)."""
    item = boto3.client("dynamodb").get_item(TableName=h.settings.graph_table, ConsistentRead=True, Key={
        "user_id": {"N": str(owner)}, "edge": {"S": edge}}).get("Item")
    return None if item is None else bool(item.get("no_reposts", {}).get("BOOL", False))


def reposts_of(h, reposter: int, author: int, count: int) -> list[str]:
    """`count` posts by `author`, each reposted by `reposter`: the originals, oldest first."""
    originals = [h.post(author, f"shared {n}") for n in range(count)]
    for original in originals:
        h.repost(reposter, original)
    return originals


def right_after_a_write_to(monkeypatch, edge: str, then) -> list[str]:
    """Run `then` once, right after the first write request that touches the edge named
    `edge` succeeds, whatever the request (UpdateItem, PutItem, TransactWriteItems): the
    other party lands between that write and the next one."""
    from pynamodb.connection.base import Connection
    real, fired = Connection._make_api_call, []

    def hooked(self, operation_name, kwargs):
        out = real(self, operation_name, kwargs)
        if (not fired and operation_name in ("UpdateItem", "PutItem", "TransactWriteItems")
                and f'"{edge}"' in json.dumps(kwargs)):
            fired.append(operation_name)
            then()
        return out
    monkeypatch.setattr(Connection, "_make_api_call", hooked)
    return fired


# ====================================================================== 4: back during a demotion
@pytest.mark.stack(CelebrityThreshold="3", InactiveDays="30")
def test_given_a_reader_returning_while_a_demotion_page_is_written_then_they_keep_the_demoted_accounts_posts(
        h, monkeypatch):
    """Issue 21 #4: the demotion page saw the reader inactive and left their backfill to the
    rebuild; the rebuild, run before the page removed the celebrity edges, skipped the account
    because its celebrity edge was still there; then the edge went: the posts were gone."""
    from timeline import clock
    from timeline.store.graph import GraphStore
    reader, star, f1, f2 = (h.sign_up(n) for n in ("reader", "star", "f1", "f2"))
    for fan in (reader, f1, f2):
        h.follow(fan, "star")
    h.drain()
    assert h.user(star).celebrity
    posts = [h.post(star, f"merged {n}") for n in range(3)]
    h.drain()
    # Given the reader away for longer than InactiveDays
    clock.advance(days=31)
    # When f2 leaves (2 followers, below 80% of 3): the star is demoted and its walk queued
    h.unfollow(f2, "star")
    h.dispatch_pending()
    walk = h.take_queued()
    assert any(json.loads(m["body"])["op"] == "celebrity_page" for m in walk)
    # And the reader comes back, their rebuild running to its end, after the demotion page
    # read its followers and before it removed their celebrity edges
    real_remove, returned = GraphStore.remove_celebrity_edges, []

    def reader_returns_first(self, celebrity_id, follower_ids):
        if celebrity_id == star and not returned:
            returned.append(h.home(reader).body["partial"])
            apply_pending(h)
        return real_remove(self, celebrity_id, follower_ids)
    monkeypatch.setattr(GraphStore, "remove_celebrity_edges", reader_returns_first)
    apply_messages(h, walk)
    monkeypatch.undo()
    h.drain()
    assert returned == [True] and not h.user(star).celebrity
    # Then the reader still has every post of the account, now as entries of their own
    assert h.home_ids(reader) == list(reversed(posts))
    assert set(posts) <= set(h.entries(reader))
    assert h.home(reader).body["partial"] is False


@pytest.mark.stack(CelebrityThreshold="3", InactiveDays="30")
def test_given_a_demotion_page_read_from_before_a_readers_return_then_the_reader_still_gets_the_posts(
        h, monkeypatch):
    """Issue 21 #4, the other order: the reader's rebuild ran while the account was still a
    celebrity (nothing to backfill: the read merges it); the demotion came after, but its page
    of followers (an eventually consistent Query) still showed the reader inactive."""
    from timeline import clock
    from timeline.store.graph import GraphStore
    reader, star, f1, f2 = (h.sign_up(n) for n in ("reader", "star", "f1", "f2"))
    for fan in (reader, f1, f2):
        h.follow(fan, "star")
    h.drain()
    posts = [h.post(star, f"merged {n}") for n in range(3)]
    h.drain()
    clock.advance(days=31)
    stale = h.services.applier._graph.followers_with_activity(star, 100)  # the reader inactive
    # Given the reader back, rebuilt while the star is still a celebrity
    assert h.home(reader).body["partial"] is True
    h.drain()
    assert h.home(reader).body["partial"] is False
    # When the star is demoted and its page of followers comes back stale
    real_page = GraphStore.followers_with_activity
    monkeypatch.setattr(GraphStore, "followers_with_activity",
                        lambda self, user_id, limit, after=None, **kwargs:
                        stale if user_id == star and after is None else real_page(self, user_id, limit, after, **kwargs))
    h.unfollow(f2, "star")
    h.drain()
    monkeypatch.undo()
    assert not h.user(star).celebrity
    # Then the returned reader has the account's posts all the same
    assert h.home_ids(reader) == list(reversed(posts))


# ====================================================================== 5: no reposts, reposting accounts
@pytest.mark.stack(TimelineMax="40")
def test_given_an_account_whose_newest_entries_are_reposts_when_followed_without_reposts_then_its_posts_are_backfilled(h):
    """Issue 21 #5: the backfill took the newest TimelineMax/4 (10) entries and dropped the
    reposts: an account that reposted more than that since its last post brought nothing."""
    reader, account, other = h.sign_up("reader"), h.sign_up("account"), h.sign_up("other")
    own = [h.post(account, f"own {n}") for n in range(2)]
    reposts_of(h, account, other, 12)
    h.drain()
    # When the reader follows it without reposts
    h.follow(reader, "account", reposts=False)
    h.drain()
    # Then its own posts are there, and none of its reposts
    assert h.home_items(reader) == [(p, None) for p in reversed(own)]


@pytest.mark.stack(TimelineMax="40", InactiveDays="30")
def test_given_a_reader_following_a_reposting_account_without_reposts_when_they_return_then_the_rebuild_brings_its_posts(h):
    """Issue 21 #5, in a returning reader's rebuild (the same newest-N-then-filter)."""
    from timeline import clock
    reader, account, other = h.sign_up("reader"), h.sign_up("account"), h.sign_up("other")
    h.follow(reader, "account", reposts=False)
    h.drain()
    clock.advance(days=31)
    own = [h.post(account, f"own {n}") for n in range(2)]
    reposts_of(h, account, other, 12)
    h.drain()
    assert h.entries(reader) == []  # away: fan-out skipped them
    # When the reader returns and the rebuild runs
    h.home(reader)
    h.drain()
    # Then the account's own posts are back
    assert h.home_items(reader) == [(p, None) for p in reversed(own)]


@pytest.mark.stack(TimelineMax="40", CelebrityThreshold="3")
def test_given_a_celebrity_followed_without_reposts_whose_newest_entries_are_reposts_when_demoted_then_its_posts_stay(h):
    """Issue 21 #5, in a demotion: the merge showed the celebrity's older posts (it pages past
    reposts); the demotion's backfill did not, and the edge went."""
    reader, star, other, f1, f2 = (h.sign_up(n) for n in ("reader", "star", "other", "f1", "f2"))
    h.follow(reader, "star", reposts=False)
    h.follow(f1, "star")
    h.follow(f2, "star")
    h.drain()
    assert h.user(star).celebrity
    own = [h.post(star, f"own {n}") for n in range(2)]
    reposts_of(h, star, other, 12)
    h.drain()
    assert h.home_items(reader) == [(p, None) for p in reversed(own)]
    # When the star is demoted
    h.unfollow(f2, "star")
    h.drain()
    assert not h.user(star).celebrity
    # Then the reader still sees its posts
    assert h.home_items(reader) == [(p, None) for p in reversed(own)]


# ====================================================================== 7: reposts turned off mid-page
@pytest.mark.stack(InactiveDays="30")
def test_given_a_rebuild_page_read_when_the_reader_turns_reposts_off_before_it_is_written_then_no_repost_lands(
        h, monkeypatch):
    """Issue 21 #7: the rebuild wrote the reposts its page of followees said to write; the
    reader's change, and its sync, ran in between: the reposts stayed."""
    from timeline import clock
    from timeline.store.graph import GraphStore
    reader, account, other = h.sign_up("reader"), h.sign_up("account"), h.sign_up("other")
    h.follow(reader, "account")
    h.drain()
    clock.advance(days=31)
    original = h.post(other, "shared")
    h.repost(account, original)
    own = h.post(account, "its own post")
    h.drain()
    # Given the reader back: a rebuild queued
    h.home(reader)
    h.dispatch_pending()
    rebuild = h.take_queued()
    assert [json.loads(m["body"])["op"] for m in rebuild] == ["rebuild"]
    # When the reader turns the account's reposts off (and that sync runs) after the rebuild
    # read its page of followees
    real_page, changed = GraphStore.following_with_reposts, []

    def page_then_reposts_off(self, user_id, limit, after=None, **kwargs):
        page = real_page(self, user_id, limit, after, **kwargs)
        if user_id == reader and not changed:
            changed.append(h.services.social.follow(reader, "account", reposts=False).reposts)
            apply_pending(h)
        return page
    monkeypatch.setattr(GraphStore, "following_with_reposts", page_then_reposts_off)
    apply_messages(h, rebuild)
    monkeypatch.undo()
    h.drain()
    assert changed == [False]
    # Then the account's post is back and its repost is not
    assert h.home_items(reader) == [(own, None)]


@CELEBRITY
def test_given_a_promotion_page_read_when_a_follower_turns_reposts_off_before_it_is_written_then_reposts_stay_off(
        h, monkeypatch):
    """Issue 21 #7: the promotion wrote each celebrity edge with the reposts choice its page
    read; a reader who turned them off in between had every later repost merged in."""
    from timeline.store.graph import GraphStore
    reader, star, other, f1, f2 = (h.sign_up(n) for n in ("reader", "star", "other", "f1", "f2"))
    h.follow(reader, "star")
    h.follow(f1, "star")
    h.drain()
    # When the third follower promotes the star
    h.follow(f2, "star")
    h.dispatch_pending()
    walk = h.take_queued()
    assert h.user(star).celebrity
    # And the reader turns its reposts off after the page of followers was read
    real_page, changed = GraphStore.followers_with_activity, []

    def page_then_reposts_off(self, user_id, limit, after=None, **kwargs):
        page = real_page(self, user_id, limit, after, **kwargs)
        if user_id == star and not changed:
            changed.append(h.services.social.follow(reader, "star", reposts=False).reposts)
            apply_pending(h)
        return page
    monkeypatch.setattr(GraphStore, "followers_with_activity", page_then_reposts_off)
    apply_messages(h, walk)
    monkeypatch.undo()
    h.drain()
    assert changed == [False]
    # Then the celebrity's later reposts are not merged into the reader's home; its posts are
    original = h.post(other, "shared")
    h.repost(star, original)
    own = h.post(star, "its own post")
    h.drain()
    assert h.home_items(reader) == [(own, None)]
    assert h.home_items(f1) == [(own, None), (original, "star")]


# ====================================================================== 8: two toggles at once
@pytest.mark.parametrize("celebrity", AUTHOR_KINDS)
def test_given_two_reposts_toggles_racing_then_every_edge_agrees_and_the_home_timeline_follows_it(
        h, monkeypatch, celebrity):
    """Issue 21 #8: turning reposts off wrote the follower, celebrity and following edges one
    after another; turning them on again, landing in between, left the edges disagreeing
    (the follow answered off while fan-out or the merge still brought reposts)."""
    reader, author, account = h.sign_up("reader"), h.sign_up("author"), h.sign_up("account")
    h.follow(reader, "account")
    if celebrity:
        for n in range(2):
            h.follow(h.sign_up(f"fan{n}"), "account")
    h.drain()
    assert h.user(account).celebrity is celebrity
    # When the reader turns the account's reposts off, and on again right after the first
    # edge that says what fan-out (or, for a celebrity, the merge) reads was written
    edge = f"home#celebrity#{account:020d}" if celebrity else f"follower#{reader:020d}"
    fired = right_after_a_write_to(monkeypatch, edge,
                                   lambda: h.services.social.follow(reader, "account", reposts=True))
    assert h.follow(reader, "account", reposts=False).body["reposts"] is False
    monkeypatch.undo()
    assert fired
    h.drain()
    # Then every edge of the relationship says the same
    states = {"following": no_reposts(h, reader, f"following#{account:020d}"),
              "follower": no_reposts(h, account, f"follower#{reader:020d}")}
    if celebrity:
        states["celebrity"] = no_reposts(h, reader, f"home#celebrity#{account:020d}")
    assert len(set(states.values())) == 1, states
    # And the account's reposts show in the reader's home exactly when the follow says so
    original = h.post(author, "shared")
    h.repost(account, original)
    own = h.post(account, "its own post")
    h.drain()
    shown = [(own, None)] + ([] if states["following"] else [(original, "account")])
    assert h.home_items(reader) == shown


@CELEBRITY
def test_given_a_reposts_change_deciding_from_a_profile_read_before_the_promotion_then_the_celebrity_edge_changes_too(
        h, monkeypatch):
    """The reposts change expects a celebrity edge only if the profile it read says celebrity;
    a profile read before the promotion (whose walk has written the edge) must still reach it."""
    from timeline.store.users import UserStore
    reader, author, star = h.sign_up("reader"), h.sign_up("author"), h.sign_up("star")
    h.follow(reader, "star")
    h.drain()
    stale = h.services.accounts.profile("star")  # not a celebrity yet
    for n in range(2):
        h.follow(h.sign_up(f"fan{n}"), "star")
    h.drain()
    assert h.user(star).celebrity and no_reposts(h, reader, f"home#celebrity#{star:020d}") is False
    # When the reader turns its reposts off from the stale profile
    monkeypatch.setattr(UserStore, "get_by_handle", lambda self, handle: stale)
    assert h.follow(reader, "star", reposts=False).body["reposts"] is False
    monkeypatch.undo()
    h.drain()
    # Then the celebrity edge says so as well, and the merge leaves its reposts out
    assert no_reposts(h, reader, f"home#celebrity#{star:020d}") is True
    original = h.post(author, "shared")
    h.repost(star, original)
    own = h.post(star, "its own post")
    assert h.home_items(reader) == [(own, None)]


def test_given_an_unfollow_between_a_follows_transaction_and_its_reposts_change_then_the_reader_follows(
        h, monkeypatch):
    """Following again found the edges, then an unfollow removed them before the reposts
    change: the follow answered `following: true` while the reader followed nobody."""
    from timeline.store.graph import GraphStore
    reader, account = h.sign_up("reader"), h.sign_up("account")
    h.follow(reader, "account")
    h.drain()
    post = h.post(account, "worth following")
    h.drain()
    real_set, unfollowed = GraphStore.set_reposts, []

    def unfollow_first(self, *args, **kwargs):
        if not unfollowed:
            unfollowed.append(h.services.social.unfollow(reader, "account").changed)
        return real_set(self, *args, **kwargs)
    monkeypatch.setattr(GraphStore, "set_reposts", unfollow_first)
    reply = h.follow(reader, "account", reposts=False)
    monkeypatch.undo()
    h.drain()
    assert unfollowed == [True] and reply.body["following"] is True
    assert h.user(account).followers_count == 1 and h.user(reader).following_count == 1
    assert h.home_items(reader) == [(post, None)]
