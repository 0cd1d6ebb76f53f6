"""Likes, counts, the viewer's state, threads and profiles' relations (issue 26), through the
real handlers on the in-process stack (moto): the API answers, the graph stream's counting
(exactly once, however often a batch comes), and the one visibility rule on replies."""

from __future__ import annotations

import pytest

CELEBRITY = pytest.mark.stack(CelebrityThreshold="3")


def like(h, user: int, tweet_id: str):
    return h.request("POST", f"/v1/tweets/{tweet_id}/like", as_user=user)


def unlike(h, user: int, tweet_id: str):
    return h.request("DELETE", f"/v1/tweets/{tweet_id}/like", as_user=user)


def get_tweet(h, user: int, tweet_id: str) -> dict:
    reply = h.request("GET", f"/v1/tweets/{tweet_id}", as_user=user)
    assert reply.status == 200, reply
    return reply.body


def replies(h, user: int, tweet_id: str, **query):
    return h.request("GET", f"/v1/tweets/{tweet_id}/replies", as_user=user, query=query)


def all_replies(h, user: int, tweet_id: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        reply = replies(h, user, tweet_id, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply
        pages.append([i["text"] for i in reply.body["items"]])
        cursor = reply.body["next_cursor"]
        if not cursor:
            return [p for p in pages if p]
        assert len(pages) < 50


# ====================================================================== likes
def test_given_a_post_when_liked_twice_and_unliked_twice_then_201_200_204_204_and_the_state_follows(h):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    post = h.post(author, "like me")

    first, again = like(h, reader, post), like(h, reader, post)
    assert (first.status, again.status) == (201, 200), (first, again)
    # Then the viewer's own like shows at once, before the stream has counted it
    assert first.body["viewer"] == {"liked": True, "reposted": False}
    assert first.body["counts"]["likes"] == 1
    assert get_tweet(h, reader, post)["viewer"]["liked"] is True

    assert unlike(h, reader, post).status == 204
    assert unlike(h, reader, post).status == 204
    assert get_tweet(h, reader, post)["viewer"]["liked"] is False


def test_given_an_unknown_post_when_liked_or_unliked_then_404(h):
    user = h.sign_up("liker")
    for reply in (like(h, user, "123456789"), unlike(h, user, "123456789")):
        assert reply.status == 404, reply
        assert reply.body["error"]["code"] == "tweet_not_found"


@pytest.mark.parametrize("blocker", ["author", "reader"])
def test_given_a_block_either_way_when_the_reader_likes_the_post_then_403_and_nothing_changes(h, blocker):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    post = h.post(author, "blocked")
    if blocker == "author":
        h.block(author, "reader")
    else:
        h.block(reader, "author")
    reply = like(h, reader, post)
    assert reply.status == 403, reply
    h.drain()
    assert get_tweet(h, author, post)["counts"]["likes"] == 0


def test_given_a_repost_id_when_liked_then_the_post_it_shares_is_liked(h):
    author, reposter, reader = h.sign_up("author"), h.sign_up("reposter"), h.sign_up("reader")
    post = h.post(author, "original")
    repost = h.repost(reposter, post)
    reply = like(h, reader, repost)
    assert reply.status == 201 and reply.body["id"] == post, reply
    assert get_tweet(h, reader, post)["viewer"]["liked"] is True


@pytest.mark.stack(ActionRateLimitPerMinute="3")
def test_given_the_action_window_is_full_when_liking_again_then_429_with_retry_after(h):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    post = h.post(author, "toggle me")
    for _ in range(3):
        assert like(h, reader, post).status in (200, 201)
    reply = like(h, reader, post)
    assert reply.status == 429, reply
    assert int(reply.headers["Retry-After"]) >= 1


# ====================================================================== counts
def test_given_likes_reposts_and_replies_when_the_stream_has_counted_them_then_every_read_path_shows_the_counts(h):
    author = h.sign_up("author")
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for fan in fans:
        h.follow(fan, "author")
    post = h.post(author, "count me")
    for fan in fans:
        assert like(h, fan, post).status == 201
    h.repost(fans[0], post)
    h.repost(fans[1], post)
    h.post(fans[2], "a reply", reply_to_id=post)
    h.drain()

    expected = {"replies": 1, "reposts": 2, "likes": 3}
    assert get_tweet(h, author, post)["counts"] == expected
    home = h.home(author).body["items"]
    assert next(i for i in home if i["id"] == post)["counts"] == expected
    own = h.request("GET", "/v1/users/author/tweets", as_user=fans[2]).body["items"]
    assert next(i for i in own if i["id"] == post)["counts"] == expected
    # And the viewer's own state rides with the page
    fan_home = h.home(fans[0]).body["items"]
    shown = [i for i in fan_home if i["id"] == post]
    assert shown and all(i["viewer"] == {"liked": True, "reposted": True} for i in shown), shown


def test_given_undone_likes_reposts_and_a_deleted_reply_when_counted_then_the_counts_go_down(h):
    author, fan = h.sign_up("author"), h.sign_up("fan")
    post = h.post(author, "up and down")
    like(h, fan, post)
    h.repost(fan, post)
    answer = h.post(fan, "reply", reply_to_id=post)
    h.drain()
    assert get_tweet(h, author, post)["counts"] == {"replies": 1, "reposts": 1, "likes": 1}

    unlike(h, fan, post)
    h.unrepost(fan, post)
    h.delete(fan, answer)
    h.drain()
    assert get_tweet(h, author, post)["counts"] == {"replies": 0, "reposts": 0, "likes": 0}


def engagement_records(h) -> list[dict]:
    """Dispatch the graph stream's pending records (likes made: their engagement edges are put)
    and return the next ones, the engagement edges' own, unhandled."""
    graph = h.stream_of("GraphTableName")
    assert not h.run_dispatch(h._stream_records(graph)).get("batchItemFailures")
    batch = h._stream_records(graph)
    assert batch and all(r["dynamodb"]["Keys"]["edge"]["S"].startswith("liked_by#") for r in batch), batch
    return batch


def test_given_a_stream_batch_delivered_twice_when_counted_then_each_like_counts_once(h):
    author = h.sign_up("author")
    post = h.post(author, "at least once")
    h.dispatch_pending()
    for n in range(4):
        like(h, h.sign_up(f"fan{n}"), post)
    batch = engagement_records(h)
    # When the same batch comes three times (a retry, a redelivery), and then half of it again
    for records in (batch, batch, batch, batch[len(batch) // 2:]):
        assert not h.run_dispatch(records).get("batchItemFailures")
    h.drain()
    assert get_tweet(h, author, post)["counts"]["likes"] == 4


# ====================================================================== threads
def test_given_a_thread_when_its_replies_are_read_then_oldest_first_paged_and_each_says_whom_it_answers(h):
    author, other = h.sign_up("author"), h.sign_up("other", display_name="The Other")
    post = h.post(author, "the root")
    texts = [f"reply {n}" for n in range(7)]
    for n, text in enumerate(texts):
        h.post(other if n % 2 else author, text, reply_to_id=post)
    h.post(other, "not a reply")

    pages = all_replies(h, other, post, limit=3)
    assert [t for p in pages for t in p] == texts
    assert all(len(p) <= 3 for p in pages) and len(pages) == 3
    first = replies(h, other, post, limit=1).body["items"][0]
    assert first["reply_to"] == {"id": post, "author": {"id": str(author), "handle": "author",
                                                         "display_name": "author"}}


def test_given_an_unknown_post_when_its_replies_are_read_then_404(h):
    user = h.sign_up("reader")
    reply = replies(h, user, "987654321")
    assert reply.status == 404 and reply.body["error"]["code"] == "tweet_not_found", reply


def test_given_blocks_and_mutes_when_a_thread_is_read_then_their_replies_are_left_out(h):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    muted, blocked, blocker, friend = (h.sign_up(n) for n in ("muted", "blocked", "blocker", "friend"))
    post = h.post(author, "root")
    for user, text in ((muted, "by muted"), (blocked, "by blocked"), (blocker, "by blocker"), (friend, "by friend")):
        h.post(user, text, reply_to_id=post)
    h.mute(reader, "muted")
    h.block(reader, "blocked")
    h.block(blocker, "reader")

    assert all_replies(h, reader, post, limit=1) == [["by friend"]]
    # And the author, who blocks no one, sees them all
    assert [t for p in all_replies(h, author, post, limit=10) for t in p] == [
        "by muted", "by blocked", "by blocker", "by friend"]


def test_given_a_post_by_an_account_that_blocks_the_reader_when_its_replies_are_read_then_403(h):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    post = h.post(author, "root")
    h.block(author, "reader")
    assert replies(h, reader, post).status == 403


def test_given_a_deleted_reply_when_the_thread_is_read_then_it_is_gone(h):
    author, other = h.sign_up("author"), h.sign_up("other")
    post = h.post(author, "root")
    keep = h.post(other, "stays", reply_to_id=post)
    gone = h.post(other, "goes", reply_to_id=post)
    h.delete(other, gone)
    assert [i["id"] for i in replies(h, author, post).body["items"]] == [keep]


def test_given_a_reply_in_the_home_timeline_then_it_names_whom_it_answers(h):
    author, reader = h.sign_up("author"), h.sign_up("reader")
    h.follow(reader, "author")
    post = h.post(author, "root")
    answer = h.post(author, "self reply", reply_to_id=post)
    h.drain()
    item = next(i for i in h.home(reader).body["items"] if i["id"] == answer)
    assert item["reply_to"]["id"] == post and item["reply_to"]["author"]["handle"] == "author"
    assert next(i for i in h.home(reader).body["items"] if i["id"] == post)["reply_to"] is None


# ====================================================================== profiles
def test_given_relations_when_profiles_are_read_then_each_carries_the_viewers_state(h):
    me = h.sign_up("me")
    friend, fan = h.sign_up("friend"), h.sign_up("fan")
    for handle in ("pest", "bore"):
        h.sign_up(handle)
    h.follow(me, "friend")
    h.follow(friend, "me")
    h.follow(fan, "me")
    h.block(me, "pest")
    h.mute(me, "bore")

    def viewer(handle: str) -> dict:
        reply = h.request("GET", f"/v1/users/{handle}", as_user=me)
        assert reply.status == 200, reply
        return reply.body["viewer"]

    assert viewer("friend") == {"following": True, "followed_by": True, "blocking": False, "muting": False}
    assert viewer("fan") == {"following": False, "followed_by": True, "blocking": False, "muting": False}
    assert viewer("pest") == {"following": False, "followed_by": False, "blocking": True, "muting": False}
    assert viewer("bore") == {"following": False, "followed_by": False, "blocking": False, "muting": True}
    followers = h.request("GET", "/v1/users/me/followers", as_user=me).body["items"]
    assert {u["handle"]: u["viewer"]["following"] for u in followers} == {"friend": True, "fan": False}
    following = h.request("GET", "/v1/users/me/following", as_user=me).body["items"]
    assert [(u["handle"], u["viewer"]["followed_by"]) for u in following] == [("friend", True)]


def test_given_a_signed_in_user_when_me_is_read_then_their_own_profile_in_the_profile_shape(h):
    me = h.sign_up("myself", display_name="My Self")
    h.follow(h.sign_up("fan"), "myself")
    reply = h.request("GET", "/v1/me", as_user=me)
    assert reply.status == 200, reply
    other = h.request("GET", "/v1/users/myself", as_user=me).body
    assert reply.body == other
    assert reply.body["handle"] == "myself" and reply.body["followers_count"] == 1
    assert reply.body["viewer"] == {"following": False, "followed_by": False, "blocking": False, "muting": False}


@CELEBRITY
def test_given_a_celebritys_post_merged_at_read_when_liked_then_its_counts_and_state_show_in_the_home_timeline(h):
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for fan in fans:
        h.follow(fan, "star")
    h.drain()
    assert h.user(star).celebrity
    post = h.post(star, "merged")
    like(h, fans[0], post)
    like(h, fans[1], post)
    h.drain()
    item = next(i for i in h.home(fans[0]).body["items"] if i["id"] == post)
    assert item["counts"]["likes"] == 2 and item["viewer"]["liked"] is True
    other = next(i for i in h.home(fans[2]).body["items"] if i["id"] == post)
    assert other["viewer"]["liked"] is False and other["counts"]["likes"] == 2
    # Then its counts were published to its replicas from the first like (a celebrity's post is
    # read by every follower), and that is where the home reads took them from
    assert {r["likes"]["N"] for r in replica_items(h, post)} == {"2"}


@CELEBRITY
def test_given_a_celebritys_post_nobody_engaged_with_when_read_then_its_counts_are_zero_from_a_missing_replica(h):
    star = h.sign_up("star")
    fans = [h.sign_up(f"fan{n}") for n in range(3)]
    for fan in fans:
        h.follow(fan, "star")
    h.drain()
    post = h.post(star, "quiet")
    h.drain()
    item = next(i for i in h.home(fans[0]).body["items"] if i["id"] == post)
    assert item["counts"] == {"replies": 0, "reposts": 0, "likes": 0}
    assert replica_items(h, post) == []


# ====================================================================== a hot post's replicas
def replica_items(h, post: str) -> list[dict]:
    import boto3

    from timeline.store.engagement import COUNTS_REPLICAS, replica_partition

    client = boto3.client("dynamodb")
    keys = [{"user_id": {"N": str(replica_partition(int(post), r))}, "edge": {"S": "counts"}}
            for r in range(COUNTS_REPLICAS)]
    got = client.batch_get_item(RequestItems={h.settings.graph_table: {"Keys": keys, "ConsistentRead": True}})
    return got["Responses"][h.settings.graph_table]


def test_given_a_post_grows_hot_when_counted_then_its_replicas_hold_the_counts_and_readers_read_them(h, monkeypatch):
    import boto3

    from timeline.store import engagement

    monkeypatch.setattr(engagement, "HOT_ENGAGEMENTS", 3)
    author = h.sign_up("author")
    post = h.post(author, "going viral")
    for n in range(3):
        like(h, h.sign_up(f"fan{n}"), post)
    h.drain()
    # Then every replica holds the counts, and the counts item sends readers to them
    replicas = replica_items(h, post)
    assert len(replicas) == engagement.COUNTS_REPLICAS
    assert {r["likes"]["N"] for r in replicas} == {"3"}
    assert get_tweet(h, author, post)["counts"]["likes"] == 3  # the reader learns the post is hot
    # When the replicas say something else, the reader (who knows the post is hot) shows it
    client = boto3.client("dynamodb")
    for r in replicas:
        client.update_item(TableName=h.settings.graph_table, Key={"user_id": r["user_id"], "edge": r["edge"]},
                           UpdateExpression="SET likes = :l", ExpressionAttributeValues={":l": {"N": "999"}})
    assert get_tweet(h, author, post)["counts"]["likes"] == 999


def test_given_publishing_fails_after_the_count_when_the_batch_is_retried_then_the_replicas_catch_up_and_nothing_counts_twice(
        h, monkeypatch):
    from timeline.store import engagement

    monkeypatch.setattr(engagement, "HOT_ENGAGEMENTS", 2)
    author = h.sign_up("author")
    post = h.post(author, "crash in the middle")
    h.dispatch_pending()
    for n in range(2):
        like(h, h.sign_up(f"fan{n}"), post)
    batch = engagement_records(h)
    real = engagement.EngagementStore._publish
    calls = []

    def crash_once(self, item):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the function died after the count")
        return real(self, item)

    monkeypatch.setattr(engagement.EngagementStore, "_publish", crash_once)
    failed = h.run_dispatch(batch).get("batchItemFailures")
    assert failed, "the failed publish is reported, so the stream retries"
    assert replica_items(h, post) == []
    # When the stream retries the batch
    assert not h.run_dispatch(batch).get("batchItemFailures")
    assert {r["likes"]["N"] for r in replica_items(h, post)} == {"2"}
    assert get_tweet(h, author, post)["counts"]["likes"] == 2


def test_given_a_reposted_reply_in_the_home_timeline_then_it_names_whom_the_reply_answers(h):
    author, replier, reposter, reader = (h.sign_up(n) for n in ("author", "replier", "reposter", "reader"))
    h.follow(reader, "reposter")
    post = h.post(author, "root")
    answer = h.post(replier, "an answer", reply_to_id=post)
    h.repost(reposter, answer)
    h.drain()
    item = next(i for i in h.home(reader).body["items"] if i["id"] == answer)
    assert item["repost"]["by"]["handle"] == "reposter"
    assert item["reply_to"] == {"id": post, "author": {"id": str(author), "handle": "author", "display_name": "author"}}
