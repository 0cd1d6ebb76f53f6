"""The capacity model: what one post and one home read of this product cost, and what that
comes to at Twitter's scale.

Each count below is derived from the product's request rules (cited as file:function), not
measured, so the benchmark can check the model against the local stack and then project to
150M users, where nothing can be measured. Capacity units follow DynamoDB's billing
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
reads in 4 KB units, halved for eventually consistent reads (pynamodb's default; the reads
that must see the latest write ask for strong consistency and are marked so below); a Query
rounds the sum of its items up once (an empty one still costs one unit, halved if eventually
consistent); BatchGetItem rounds each item; writes in 1 KB units per item, at least 1; a GSI
write costs its own units; TransactWriteItems costs twice the units of each item it writes
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling;
the local meter, infra/runtime/moto_fixes/capacity.py:_Bill, doubles the item's index writes too, and so
does this model).

Paths are relative to the repository root; `service/` and `store/` are under
layers/timeline/python/timeline/.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from bench import graph as graphs
from bench.prices import AS_OF, ON_DEMAND_US_EAST_1, Prices

HOURS_PER_MONTH = 730  # AWS prices monthly usage at 730 hours
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# Twitter tries to deliver a tweet to its followers within five seconds (Krikorian, "Timelines
# at Scale", QCon SF 2012, as reported by Kleppmann, DDIA ch. 1, and High Scalability 2013-07-08).
DELIVERY_BUDGET_S = 5.0
# Assumption: one AWS call from Lambda takes ~10 ms (DynamoDB's "single-digit millisecond"
# service latency plus the SDK's signing, TLS and JSON work); handler work is ~10 ms an invocation.
CALL_LATENCY_S = 0.010
HANDLER_OVERHEAD_S = 0.010
LAMBDA_MEMORY_GB = 0.5  # template.yaml Globals.Function.MemorySize: 512
# DynamoDB auto scaling's default target utilisation is 70%: provisioned capacity = average / 0.7.
PROVISIONED_UTILISATION = 0.7
SQS_CHUNK_BYTES = 64 * 1024  # SQS bills each 64 KB of a request's payload as one request
DYNAMODB_ITEM_OVERHEAD = 100  # storage: 100 bytes of overhead per item and per index entry
QUERY_PAGE_BYTES = 1024 * 1024  # a Query returns at most 1 MB per request
TRANSACTION_FACTOR = 2.0  # TransactWriteItems: two write units per 1 KB of each item


@dataclass(frozen=True)
class ProductRules:
    page_limit: int = 20  # functions/api/routes_tweets.py:home_timeline, default `limit`
    overfetch: int = 5  # service/reading.py OVERFETCH
    dedupe_window: int = 40  # service/reading.py DEDUPE_WINDOW: entries read past the page's last
    fanout_chunk: int = 200  # timeline/settings.py fanout_chunk_size (FANOUT_CHUNK_SIZE)
    batch_write_max: int = 25  # store/batching.py MAX_BATCH (BatchWriteItem's limit)
    sqs_batch_max: int = 10  # store/fanout_queue.py:FanoutQueue.send, 10 per SendMessageBatch
    worker_batch_size: int = 10  # template.yaml FanoutWorkerFunction SQS event BatchSize
    batch_get_max: int = 100  # pynamodb Model.batch_get pages (BatchGetItem's limit)
    timeline_max: int = 800  # template.yaml TimelineMax default
    idempotent_posts: bool = True  # posts carry an Idempotency-Key (service/posting.py:Posting.post)
    read_pool_workers: int = 16  # service/reading.py _pool max_workers
    stream_batching_window_s: float = 0.0  # template.yaml TweetsStream MaximumBatchingWindowInSeconds
    queue_batching_window_s: float = 0.0  # template.yaml FanoutQueue MaximumBatchingWindowInSeconds
    # False: timelines below TimelineMax (a fresh stack, as the benchmark measures): a trim reads a
    # short timeline (one 4 KB unit) and deletes nothing. True: timelines at the cap, as at Twitter
    # scale (an average user receives 6,000 posts/s * 126 / 150M = ~435 entries a day, so entries
    # leave by trim long before their 60-day TTL): every entry written is later deleted by a trim.
    steady_state: bool = False
    # Entries a timeline holds when it is trimmed below the cap (steady_state False): the trim
    # Query reads them all. The benchmark passes the mean it measured.
    fresh_timeline_entries: float = 0.0
    # DynamoDB returns LastEvaluatedKey whenever a Query stops at its Limit, even with nothing
    # after it, so a follower count that is a multiple of fanout_chunk costs one more (empty)
    # page. moto returns it only when another item follows: False reproduces moto's count.
    limit_page_marker: bool = True
    # A what-if variant for cut_the_bill (off in the product as built): a timeline entry holds the
    # post, so a home read hydrates only the posts merged from celebrities.
    entries_carry_post: bool = False

    @property
    def want(self) -> int:
        """Ids asked of every source by a home read's first round (service/reading.py:_paginate)."""
        return self.page_limit + self.overfetch

    @property
    def queried(self) -> int:
        """Entries a home read's first round Queries of every source: the ids it may show plus
        the dedupe window below them (service/reading.py:Reader._paginate)."""
        return self.want + self.dedupe_window

    @property
    def trim_interval(self) -> int:
        """service/fanout.py:TrimPolicy.due: an owner's timeline is trimmed when
        crc32("owner:tweet") % (TimelineMax // 8) == 0, about one write in this many (the
        follower entries by FanoutApplier.add, the author's own by a `trim` message that
        FanoutPlanner.posted queues)."""
        return max(1, self.timeline_max // 8)


@dataclass(frozen=True)
class ItemSizes:
    """Stored item sizes in bytes, as DynamoDB counts them: attribute names plus values, a
    number taking ~1 byte per 2 significant digits plus 1 (a 19-digit id: 11 bytes). The
    defaults are computed from store/tables.py for 19-digit ids and a 100-character post;
    the benchmark runner passes the sizes it measured."""

    # owner_id 8+11, tweet_id 8+11, author_id 9+11, via_id 6+11, expires_at 10+6
    # (store/tables.py:TimelineEntryModel, store/timelines.py:entry)
    timeline_entry: int = 91
    # tweet_id 8+11, author_id 9+11, text 4+100, created_at 10+8, fanout 6+1 (TweetModel)
    post: int = 168
    # pk 2+24, user_id 7+11, handle 6+10, display_name 12+16, two counts 15+3 each, created_at 10+8,
    # last_seen_at 12+8, stamped_at 10+8, celebrity 9+1, celebrity_epoch 15+1, unfollowed_at 13+8
    # (an epoch ms once anyone has unfollowed the account) (UserModel)
    profile: int = 227
    # a following or celebrity edge: user_id 7+11, edge 4+30 ("following#" + 20 digits), other_id
    # 8+11, created_at 10+8 (EdgeModel)
    edge: int = 89
    # a follower edge, which fan-out pages: edge 4+29 ("follower#" + 20 digits) and seen_at 7+8 besides
    # (store/graph.py:GraphStore.follow)
    follower_edge: int = 103
    # ByAuthor projects the keys, author_id 9+11 and tweet_id 8+11, and what an entry needs:
    # repost_of_id/_author_id and reply_to_id/_author_id, absent from a plain post (ByAuthorIndex)
    by_author_entry: int = 39
    # an Idempotency-Key's claim: id 2+~60 ("post#<author>#<key>"), post_id 7+11, request_hash 12+64,
    # expiration 10+11 (store/tables.py:PostKeyModel)
    idempotency_record: int = 180
    # a fan-out message: one owner is a quoted 19-digit id and a comma (service/messages.py:add) ...
    owner_in_message: int = 22
    # ... plus {"op":"add","tweet_id":"...","author_id":"...","via_id":"...","owners":[],"planned_at":...}
    message_overhead: int = 149
    # {"op":"trim","owner":"..."} (service/messages.py:trim)
    trim_message: int = 43


def _read_units(nbytes):
    """Eventually consistent read units for one item or one Query's items: 4 KB units, at least one, halved."""
    return 0.5 * np.maximum(1.0, np.ceil(np.asarray(nbytes, dtype=float) / 4096.0))


def _consistent_read_units(nbytes):
    """Strongly consistent read units: 4 KB units, at least one."""
    return 2.0 * _read_units(nbytes)


def _write_units(nbytes):
    return np.maximum(1.0, np.ceil(np.asarray(nbytes, dtype=float) / 1024.0))


@dataclass
class OpCounts:
    """Counts for ONE operation (a post, or a home read); fractions are expectations."""

    write_requests: float = 0.0  # DynamoDB PutItem, UpdateItem, BatchWriteItem, TransactWriteItems calls
    write_units: float = 0.0  # DynamoDB write request units, GSI writes included
    read_requests: float = 0.0  # DynamoDB GetItem, Query, BatchGetItem calls
    read_units: float = 0.0  # DynamoDB read request units
    sqs_messages: float = 0.0
    # SQS requests billed: SendMessageBatch and the event source's ReceiveMessage per 64 KB of
    # payload, and its DeleteMessageBatch (Lambda's idle long polls are left out: per queue, not per post)
    sqs_requests: float = 0.0
    invocations: float = 0.0  # Lambda invocations (api, fanout_dispatch, fanout_worker)
    sequential_round_trips: float = 0.0  # AWS calls, one after another, the caller waits for
    fanout_round_trips: float = 0.0  # calls one after another from the stream record to the last timeline entry
    lambda_busy_calls: float = 0.0  # AWS calls Lambda functions wait on, summed over invocations (billed duration)
    posts_hydrated: float = 0.0  # posts fetched from TweetsTable by a home read

    def __add__(self, other: OpCounts) -> OpCounts:
        return OpCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def scaled(self, factor: float) -> OpCounts:
        return OpCounts(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _mean(counts: OpCounts, weights: np.ndarray) -> OpCounts:
    """Weighted mean of a vector of operations."""
    total = float(weights.sum())
    return OpCounts(**{f.name: float(np.sum(np.asarray(getattr(counts, f.name)) * weights) / total)
                       for f in fields(counts)})


def _scalar(counts: OpCounts) -> OpCounts:
    return OpCounts(**{f.name: float(getattr(counts, f.name)) for f in fields(counts)})


# --------------------------------------------------------------------------------- one post
def _batch_writes(followers: np.ndarray, rules: ProductRules) -> np.ndarray:
    """BatchWriteItem calls to write the entries of `followers` followers.

    service/fanout.py:FanoutPlanner._follower_chunks: one message per page of fanout_chunk
    followers, the last holding what is left; FanoutApplier.add_all -> store/timelines.py:
    TimelineStore.add_entries -> store/batching.py:BatchWriter._write: ceil(owners / 25) calls
    for a message applied alone (so ceil(followers / 25) in all while fanout_chunk is a multiple
    of 25); a worker batch's messages share requests, so a post's can only be fewer."""
    full, rest = np.divmod(np.asarray(followers, dtype=float), rules.fanout_chunk)
    return full * math.ceil(rules.fanout_chunk / rules.batch_write_max) + np.ceil(rest / rules.batch_write_max)


def _queue(adds, owners, trims, rules: ProductRules, sizes: ItemSizes):
    """(SendMessageBatch calls, their billed 64 KB chunks, fanout_worker invocations) for `adds`
    add messages holding `owners` owners in all, then `trims` (0 or 1) trim message, sent
    sqs_batch_max a call (store/fanout_queue.py:FanoutQueue.send) and received worker_batch_size
    an invocation. Full calls carry sqs_batch_max messages of fanout_chunk owners; the last
    what is left."""
    total = adds + trims
    sends = np.ceil(total / rules.sqs_batch_max)
    full_sends = np.floor(total / rules.sqs_batch_max)
    full_bytes = rules.sqs_batch_max * (sizes.message_overhead + rules.fanout_chunk * sizes.owner_in_message)
    all_bytes = adds * sizes.message_overhead + owners * sizes.owner_in_message + trims * sizes.trim_message
    last_bytes = np.maximum(0.0, all_bytes - full_sends * full_bytes)
    chunks = (full_sends * math.ceil(full_bytes / SQS_CHUNK_BYTES)
              + np.where(sends > full_sends, np.ceil(last_bytes / SQS_CHUNK_BYTES), 0.0))
    return sends, chunks, np.ceil(total / rules.worker_batch_size)


def _trim(rules: ProductRules, sizes: ItemSizes, entry_bytes: int) -> tuple[float, float, float, float]:
    """(Query calls, read units, BatchWriteItem calls, write units) of one trim.

    store/timelines.py:TimelineStore.trim Queries the whole timeline and deletes what lies past
    TimelineMax. At the cap, writes between two trims are geometric with mean trim_interval, so a
    trim reads TimelineMax + trim_interval entries and deletes trim_interval of them in
    E[ceil(G / 25)] = 1 / (1 - (1 - 1/interval)^25) calls."""
    if not rules.steady_state:
        return 1.0, float(_read_units(rules.fresh_timeline_entries * entry_bytes)), 0.0, 0.0
    interval = rules.trim_interval
    read_bytes = (rules.timeline_max + interval) * entry_bytes
    pages = math.ceil(read_bytes / QUERY_PAGE_BYTES)
    delete_calls = 1.0 / (1.0 - (1.0 - 1.0 / interval) ** rules.batch_write_max)
    read_units = float(_read_units(read_bytes)) + 0.5 * (pages - 1)  # each page rounds up on its own
    return float(pages), read_units, delete_calls, float(interval * _write_units(entry_bytes))


def _post(followers, celebrity, rules: ProductRules, sizes: ItemSizes, author_trimmed=None) -> OpCounts:
    """Vectorised core of post_counts."""
    f = np.asarray(followers, dtype=float)
    celeb = np.asarray(celebrity, dtype=bool)
    push = ~celeb
    pushed = np.where(push, f, 0.0)  # followers whose timelines get the post
    entry_bytes = sizes.timeline_entry + (sizes.post if rules.entries_carry_post else 0)
    idem = 1.0 if rules.idempotent_posts else 0.0
    # api: GetItem of the caller's profile, then one TransactWriteItems (the post with its
    # ByAuthor index entry, the author's own timeline entry and, with an Idempotency-Key, the
    # key's claim: each item's units twice), one after the other.
    api_calls = 2.0
    api_write_units = float(TRANSACTION_FACTOR * (_write_units(sizes.post) + _write_units(sizes.by_author_entry)
                                                  + _write_units(entry_bytes)
                                                  + idem * _write_units(sizes.idempotency_record)))

    # fanout_dispatch, author below the threshold: Queries of fanout_chunk follower edges
    # (service/fanout.py:FanoutPlanner._follower_chunks), one message per page with followers.
    # A page that stops at its Limit returns LastEvaluatedKey, so one more is asked for: on
    # DynamoDB always (possibly empty), on moto only when items follow.
    full, rest = np.divmod(f, rules.fanout_chunk)
    last = (rest > 0) | (full == 0) | rules.limit_page_marker
    pages = full + last
    page_units = (full * _read_units(rules.fanout_chunk * sizes.follower_edge)
                  + np.where(last, _read_units(rest * sizes.follower_edge), 0.0))
    adds = np.where(push, np.ceil(f / rules.fanout_chunk), 0.0)
    # A celebrity's post: one consistent GetItem of the author's profile (FanoutPlanner._fans_out).
    # Any post: about one in trim_interval also queues a trim of the author's own timeline.
    # A probe that knows whether its draw queued the author's trim (author_trimmed) uses that.
    p_trim = 1.0 / rules.trim_interval
    p_author = p_trim if author_trimmed is None else np.asarray(author_trimmed, dtype=float)
    (sends0, chunks0, workers0), (sends1, chunks1, workers1) = (_queue(adds, pushed, t, rules, sizes) for t in (0, 1))
    sends, chunks, workers = ((1 - p_author) * a + p_author * b for a, b in
                              ((sends0, sends1), (chunks0, chunks1), (workers0, workers1)))

    # fanout_worker (service/fanout.py:FanoutApplier.add): each message's entries in
    # BatchWriteItems, then two consistent reads, per message: a BatchGetItem of the post
    # (store/tweets.py:TweetStore.existing) and one of the author's profile, whose unfollow stamp
    # spares the Query of its unfollow tombstones (FanoutApplier._unfollowed_since_planned: no
    # unfollow here); about one owner in trim_interval, and the author, is trimmed.
    writes = np.where(push, _batch_writes(f, rules), 0.0)
    check_units = _consistent_read_units(sizes.post) + _consistent_read_units(sizes.profile)
    trims = pushed * p_trim + p_author
    trim_reads, trim_units, trim_deletes, trim_delete_units = _trim(rules, sizes, entry_bytes)
    trim_calls = trim_reads + trim_deletes
    first_followers = np.minimum(f, rules.worker_batch_size * rules.fanout_chunk)
    first_adds = np.minimum(adds, rules.worker_batch_size)
    first_worker_calls = (_batch_writes(first_followers, rules) + first_adds
                          + (first_followers * p_trim + np.where(adds < rules.worker_batch_size, p_author, 0.0))
                          * trim_calls)

    return OpCounts(
        write_requests=1.0 + writes + trims * trim_deletes,
        write_units=api_write_units + pushed * _write_units(entry_bytes) + trims * trim_delete_units,
        read_requests=1.0 + celeb + push * pages + 2 * adds + trims * trim_reads,
        read_units=(_read_units(sizes.profile) + celeb * _consistent_read_units(sizes.profile)
                    + push * page_units + adds * check_units + trims * trim_units),
        sqs_messages=adds + p_author,
        # SendMessageBatch chunks, the same messages received in batches of worker_batch_size
        # (== sqs_batch_max, so the same chunks), and one DeleteMessageBatch per worker batch.
        sqs_requests=2 * chunks + workers,
        invocations=2.0 + workers,
        sequential_round_trips=np.full_like(f, api_calls),
        fanout_round_trips=push * (pages + sends + first_worker_calls),
        lambda_busy_calls=api_calls + celeb + push * pages + sends + writes + adds + trims * trim_calls,
    )


def post_counts(followers: int, celebrity: bool, rules: ProductRules, sizes: ItemSizes,
                author_trimmed: bool | None = None) -> OpCounts:
    """One whole post: the API request, fanout_dispatch for its stream record, and the
    fanout_worker invocations for its messages, measured in isolation.

    api (functions/api/routes_tweets.py:post_tweet, wiring.py:caller): GetItem of the caller's
    profile; the post, the author's own home timeline entry and, with an Idempotency-Key, the
    key's claim on IdempotencyTable in one TransactWriteItems (store/tweets.py:TweetStore.put_new,
    service/posting.py:Posting.post), whose ByAuthor index costs one more write, each item's
    units twice.
    fanout_dispatch (service/fanout.py:FanoutPlanner.posted), for a celebrity's post: one
    consistent GetItem of the author's profile (FanoutPlanner._fans_out: demoted since?), and
    nothing queued. Author below the threshold: Queries of the author's follower edges with their
    activity stamps (FanoutPlanner._follower_chunks, store/graph.py:GraphStore.followers_with_activity),
    pages of 200, plus one after a page that stopped at its Limit (on DynamoDB possibly empty);
    ceil(F / 200) messages (every follower active, as in the benchmark's graph), sent 10 per
    SendMessageBatch (store/fanout_queue.py). Either way, when TrimPolicy.due(author, post)
    (about one post in TimelineMax // 8) one more message trims the author's own timeline.
    fanout_worker: ceil(messages / 10) invocations (SQS BatchSize 10); per add message
    (FanoutApplier.add) its entries written 25 per BatchWriteItem (store/batching.py), one entry
    per follower, then a consistent BatchGetItem of the post (store/tweets.py:TweetStore.existing)
    and one of the author's profile, which says when it was last unfollowed
    (store/users.py:UserStore.last_unfollowed; its unfollow tombstones, GraphStore.unfollowed_by,
    are Queried only after an unfollow since the message was planned: none here); about
    one follower in TimelineMax // 8 has its whole timeline Queried for a trim
    (FanoutApplier.trim, store/timelines.py:TimelineStore.trim), and so has the author after a
    trim message. The stream's GetRecords are free to Lambda triggers and not counted.
    `author_trimmed`, which a measured post knows, replaces the author's one-in-interval trim
    draw by its outcome: a handful of probes is then not held to an expectation over many posts.
    """
    return _scalar(_post(followers, celebrity, rules, sizes, author_trimmed))


# ------------------------------------------------------------------------------- one home read
VIEWER_QUERIES = 2  # store/engagement.py start_page_state: the reader's likes, its reposts (one range each)
COUNTS_READ_UNITS = 0.5  # store/engagement.py counts_of: a post's counts item, eventually consistent
def _home_read(celebrities, rules: ProductRules, sizes: ItemSizes, hydrated, authors, merged) -> OpCounts:
    c = np.asarray(celebrities, dtype=float)
    entry_bytes = sizes.timeline_entry + (sizes.post if rules.entries_carry_post else 0)
    fetched = merged if rules.entries_carry_post else hydrated
    post_gets = np.ceil(fetched / rules.batch_get_max)
    profiles = authors + 1  # the reader's own profile rides along with the authors'
    author_gets = np.ceil(profiles / rules.batch_get_max)
    # The page's engagement (issue 26), beside the two above: the reader's likes and reposts of
    # the page's posts, two consistent Queries of ranges of the reader's own partition (a few
    # small edges: 1 unit each), and the posts' counts items, an eventually consistent
    # BatchGetItem per hundred (0.5 unit each, found or not).
    engagement_gets = VIEWER_QUERIES + np.ceil(hydrated / rules.batch_get_max)
    hydration_trips = np.maximum(post_gets, author_gets)  # all of them in parallel
    trips = 1.0 + np.ceil(c / rules.read_pool_workers) + hydration_trips
    return OpCounts(
        read_requests=2.0 + c + post_gets + author_gets + engagement_gets,
        read_units=(_consistent_read_units(c * sizes.edge) + _read_units(rules.queried * entry_bytes)
                    + c * _read_units(rules.queried * sizes.by_author_entry)
                    + fetched * _read_units(sizes.post) + profiles * _read_units(sizes.profile)
                    + VIEWER_QUERIES * 1.0 + hydrated * COUNTS_READ_UNITS),
        invocations=np.ones_like(c),
        sequential_round_trips=trips,
        lambda_busy_calls=trips,
        posts_hydrated=np.zeros_like(c) + hydrated,
    )


def home_read_counts(celebrities_followed: int, rules: ProductRules, sizes: ItemSizes,
                     distinct_authors: int | None = None, hydrated_posts: float | None = None,
                     merged_posts: float | None = None) -> OpCounts:
    """One GET /v1/timeline page (service/reading.py:Reader.home_timeline), in one round.

    A consistent Query of the reader's "home#" edges, the celebrities to merge and the accounts
    to hide (store/graph.py:GraphStore.home_edges; a celebrity's own posts are in its own
    timeline, so it has no edge to itself; no blocks or mutes in the benchmark), in parallel
    with a Query of the reader's TimelinesTable partition for limit + OVERFETCH entries plus the
    dedupe window (store/timelines.py:TimelineStore.page, started before the edges are back:
    service/reading.py:_started); then one ByAuthor GSI Query per followed celebrity for as
    many entries, 16 at a time (the read pool); then the merged candidates are hydrated with two
    BatchGetItems in parallel, the posts (store/tweets.py:TweetStore.get_many) and their distinct
    authors plus the reader's own profile (store/users.py:UserStore.get_many; the profile feeds
    service/reading.py:Reader._record_visit), at most 100 keys a request, and, beside them, two
    consistent Queries of the reader's likes and reposts in the page's id range and an eventually
    consistent BatchGetItem of the posts' counts items (store/engagement.py:page_state; counts a
    container read in the last CountsCacheSeconds are not asked again, which this does not count).
    Not counted: _record_visit's UpdateItem of the profile (store/users.py:UserStore.touch), at
    most once a day per reader (and its users-stream record, a fanout_dispatch invocation that
    queues nothing), plus, every InactiveDays / 4, a restamp of the reader's follower edges, one
    UpdateItem per followee (service/timeline_sync.py:TimelineSync.rebuild); a benchmark run is
    shorter than a day (its users are seeded as seen now).

    hydrated_posts: candidates of the merged round (default limit + OVERFETCH: one full source
    sets the floor); distinct_authors: their authors (default: one per post, the most);
    merged_posts: how many of them came from celebrity sources (default: an equal share per
    source), which matters only when entries carry the post.
    """
    hydrated = float(rules.want if hydrated_posts is None else hydrated_posts)
    authors = hydrated if distinct_authors is None else float(distinct_authors)
    merged = hydrated * celebrities_followed / (celebrities_followed + 1) if merged_posts is None else merged_posts
    return _scalar(_home_read(celebrities_followed, rules, sizes, hydrated, authors, merged))


# ----------------------------------------------------------------------------- populations
@dataclass(frozen=True)
class Population:
    """Who posts and who reads, for expectations: account rows (each standing for
    `account_weight` accounts) with follower counts and posting rates, and readers (each
    standing for `reader_weight` users) with read rates, their own account row and the account
    rows they follow. A generated graph is one row per user; degree_model samples one."""

    name: str
    users: float
    followers: np.ndarray
    post_rate: np.ndarray
    account_weight: np.ndarray
    reader_self: np.ndarray
    reader_rate: np.ndarray
    reader_weight: np.ndarray
    edge_reader: np.ndarray
    edge_account: np.ndarray

    @property
    def mean_following(self) -> float:
        return float((self.account_weight * self.followers).sum() / self.users)

    @property
    def max_followers(self) -> int:
        return int(self.followers.max())


def population(graph: graphs.Graph | Population) -> Population:
    if isinstance(graph, Population):
        return graph
    n = graph.n
    degrees = np.array([len(f) for f in graph.following])
    edge_account = (np.concatenate([np.asarray(f, dtype=np.int64) for f in graph.following])
                    if graph.edges else np.empty(0, np.int64))
    return Population(
        name=graph.spec.preset, users=float(n), followers=np.array(graph.followers_count, dtype=float),
        post_rate=np.array(graph.post_weight), account_weight=np.ones(n), reader_self=np.arange(n),
        reader_rate=np.array(graph.read_weight), reader_weight=np.ones(n),
        edge_reader=np.repeat(np.arange(n), degrees), edge_account=edge_account)


def degree_model(preset_name: str, users: int, *, accounts: int = 200_000, readers: int = 20_000,
                 seed: int = 7) -> Population:
    """The preset's degree distributions at `users` users, sampled, for expectations at a scale
    that cannot be generated edge by edge (150M users, ~7B follows).

    Accounts: the head of bench.graph.follower_profile exactly (every account above the
    structural cut-off, one row each: at 150M users ~4,300 rows), and `accounts` rows for the
    body at evenly spaced quantiles of its power law (at most one row per account), each standing
    for (users - head) / accounts accounts. Posting rates: the preset's lognormal, coupled to follower count as in
    bench.graph.posting_weights (re-solved at this scale for the fan-out per post).
    Readers: `readers` users, each standing for users / readers; a reader's own account is a
    random account, their following count a quantile of the following power law, and the
    accounts they follow are drawn in proportion to followers (a random follow lands on an
    account in proportion to its follower count; a configuration model: no reciprocity, in- and
    out-degree independent). Everything is deterministic from `seed`.
    """
    p = graphs.PRESETS[preset_name]
    rng = np.random.default_rng(seed)
    mean = p["mean_following"]
    head, x0 = graphs.follower_profile(users, mean, p["follower_exponent"], p["top_account_share"],
                                       p["reference_users"])
    accounts = min(accounts, users - len(head))
    body_share = 1.0 - len(head) / users
    q = len(head) / users + body_share * (np.arange(accounts) + 0.5) / accounts
    body = x0 * q ** (-1.0 / (p["follower_exponent"] - 1.0))
    followers = np.concatenate([head, body])
    weight = np.concatenate([np.ones(len(head)), np.full(accounts, (users - len(head)) / accounts)])
    noise = rng.standard_normal(len(followers))
    post_rate = _weighted_posting(followers, weight, p, noise)

    out_degree = rng.permutation(graphs.following_counts(readers, mean, p["following_exponent"]))
    out_degree = np.minimum(out_degree, len(followers) - 1)
    reader_self = rng.choice(len(followers), size=readers, p=weight / weight.sum())
    cdf = np.cumsum(weight * followers)
    cdf /= cdf[-1]
    edge_reader = np.repeat(np.arange(readers), out_degree)
    edge_account = np.minimum(np.searchsorted(cdf, rng.random(len(edge_reader)), side="right"), len(cdf) - 1)
    # A head row is one account: a reader follows it once. Body rows stand for many accounts.
    keys = edge_reader * len(followers) + edge_account
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(len(keys), dtype=bool)
    keep[first] = True
    keep |= weight[edge_account] > 1
    reader_rate = graphs.reading_weights(p["reading_sigma"], rng.standard_normal(readers))
    return Population(
        name=f"{preset_name}@{users:,}", users=float(users), followers=followers, post_rate=post_rate,
        account_weight=weight, reader_self=reader_self, reader_rate=reader_rate,
        reader_weight=np.full(readers, users / readers), edge_reader=edge_reader[keep],
        edge_account=edge_account[keep])


def _weighted_posting(followers: np.ndarray, weight: np.ndarray, p: dict, noise: np.ndarray) -> np.ndarray:
    """bench.graph.posting_weights for weighted rows: mean 1 over accounts, beta solved on the rows."""
    log_followers = np.log1p(followers)

    def rates(beta: float) -> np.ndarray:
        logw = beta * log_followers + p["posting_sigma"] * noise
        w = np.exp(logw - logw.max())
        return w / ((w * weight).sum() / weight.sum())

    if p["followers_per_post"] is None:
        return rates(0.0)
    lo, hi = -2.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        w = rates(mid) * weight
        lo, hi = (mid, hi) if (w * followers).sum() / w.sum() < p["followers_per_post"] else (lo, mid)
    return rates((lo + hi) / 2)


# ------------------------------------------------------------------------------ expectations
@dataclass(frozen=True)
class _ReaderState:
    """Per reader, for one set of merged accounts: where a home read's candidates come from."""

    celebrities: np.ndarray  # celebrity sources: followed celebrities
    total_rate: np.ndarray  # posting rate of everything in the reader's home timeline
    timeline_rate: np.ndarray  # of the part fanned out into the materialized timeline
    celebrity_max: np.ndarray  # of the most active celebrity source
    top_rate: np.ndarray  # of the most active source (the materialized timeline counts as one)
    hydrated: np.ndarray
    merged: np.ndarray
    authors: np.ndarray


def _reader_state(pop: Population, merged: np.ndarray, rules: ProductRules) -> _ReaderState:
    """The first round of service/reading.py:_paginate, in expectation. Every source returns
    `want` ids; the merge is complete down to the highest last id of a full source, and the
    round hydrates only the newest `want` of that complete prefix. Among the newest `want`
    posts of everything the reader follows, a source of posting rate r contributes
    want * r / total_rate (posts assumed evenly spaced in time), so an author of rate r
    appears among them with probability 1 - exp(-want * r / total_rate). The reader's own
    posts are always in the materialized timeline (store/tweets.py:TweetStore.put_new writes
    each with its author's entry), a celebrity's too."""
    readers = len(pop.reader_self)
    rate = pop.post_rate[pop.edge_account]
    is_merged = merged[pop.edge_account]
    own_rate = pop.post_rate[pop.reader_self]
    timeline = np.bincount(pop.edge_reader, rate * ~is_merged, readers) + own_rate
    total = np.bincount(pop.edge_reader, rate, readers) + own_rate
    celebrity_max = np.zeros(readers)
    np.maximum.at(celebrity_max, pop.edge_reader[is_merged], rate[is_merged])
    top = np.maximum(timeline, celebrity_max)
    safe_total = np.where(total > 0, total, 1.0)
    want = rules.want
    seen = 1.0 - np.exp(-want * rate / safe_total[pop.edge_reader])
    authors = np.bincount(pop.edge_reader, seen, readers) + 1.0 - np.exp(-want * own_rate / safe_total)
    return _ReaderState(
        celebrities=np.bincount(pop.edge_reader, is_merged, readers).astype(float),
        total_rate=total, timeline_rate=timeline, celebrity_max=celebrity_max, top_rate=top,
        hydrated=want * (total > 0), merged=want * (total - timeline) / safe_total, authors=authors)


def _expected(pop: Population, merged: np.ndarray, rules: ProductRules,
              sizes: ItemSizes) -> tuple[dict[str, OpCounts], _ReaderState]:
    post = _mean(_post(pop.followers, merged, rules, sizes), pop.account_weight * pop.post_rate)
    state = _reader_state(pop, merged, rules)
    read = _home_read(state.celebrities, rules, sizes, state.hydrated, state.authors, state.merged)
    return {"post": post, "home_read": _mean(read, _read_weights(pop))}, state


def _read_weights(pop: Population) -> np.ndarray:
    return pop.reader_weight * pop.reader_rate


def expected_counts(graph: graphs.Graph | Population, threshold: int, rules: ProductRules,
                    sizes: ItemSizes) -> dict[str, OpCounts]:
    """{"post", "home_read"}: expected counts of one post (authors drawn by posting rate) and
    one home read (readers drawn by read rate), an account being a celebrity iff its
    followers_count >= threshold. Accepts a generated Graph or a Population (degree_model)."""
    pop = population(graph)
    return _expected(pop, pop.followers >= threshold, rules, sizes)[0]


# ---------------------------------------------------------------------------------- money
def _op_cost(c: OpCounts, prices: Prices) -> float:
    """USD of one operation: DynamoDB units, SQS requests, Lambda requests, one HTTP API request."""
    return (c.write_units * prices.dynamodb_write_request_unit + c.read_units * prices.dynamodb_read_request_unit
            + c.sqs_requests * prices.sqs_standard_request + c.invocations * prices.lambda_request
            + prices.http_api_request)


def cost_per_million_ops(counts: dict[str, OpCounts], prices: Prices, reads_per_post: float = 50.0) -> float:
    """USD per million operations at Twitter's mix: `reads_per_post` home reads per post
    (300K home reads/s against 6K posts/s: Krikorian via High Scalability 2013-07-08).
    DynamoDB request units, SQS requests, Lambda requests and one HTTP API request per
    operation (first-tier price). Lambda duration and storage are not per-operation counts:
    project() bills them."""
    post, read = _op_cost(counts["post"], prices), _op_cost(counts["home_read"], prices)
    return (post + reads_per_post * read) / (1.0 + reads_per_post) * 1e6


def sweep(graph: graphs.Graph | Population, thresholds: list[int], rules: ProductRules, sizes: ItemSizes,
          prices: Prices, reads_per_post: float = 50.0) -> list[dict]:
    """Expected cost at each threshold. tail_* is the biggest account's post (a celebrity's
    post writes only its own rows); largest_fanout_* is the biggest account still fanned out."""
    pop = population(graph)
    biggest = int(np.argmax(pop.followers))
    rows = []
    for threshold in thresholds:
        merged = pop.followers >= threshold
        counts, state = _expected(pop, merged, rules, sizes)
        pushed = pop.followers[~merged]
        largest = float(pushed.max()) if len(pushed) else 0.0
        tail = post_counts(int(pop.followers[biggest]), bool(merged[biggest]), rules, sizes)
        rows.append({
            "threshold": int(threshold),
            "celebrities": float(pop.account_weight[merged].sum()),
            "celebrities_per_home_read": float(np.average(state.celebrities, weights=_read_weights(pop))),
            "write_units_per_post": counts["post"].write_units,
            "read_units_per_home_read": counts["home_read"].read_units,
            "cost_per_million_ops_usd": cost_per_million_ops(counts, prices, reads_per_post),
            "tail_followers": int(pop.followers[biggest]),
            "tail_write_requests": tail.write_requests,
            "largest_fanout_followers": int(largest),
            "largest_fanout_write_requests": post_counts(int(largest), False, rules, sizes).write_requests,
        })
    return rows


# --------------------------------------------------------------------------- threshold rule
def fanout_seconds(followers: int, rules: ProductRules, sizes: ItemSizes,
                   call_latency_s: float = CALL_LATENCY_S) -> float:
    """Predicted time from a post's INSERT to its last timeline entry: both event sources'
    batching windows, then the calls on the critical path (fanout_dispatch's pages and sends one
    after another, then the first worker invocation, which holds the largest batch), each
    call_latency_s."""
    c = post_counts(followers, False, rules, sizes)
    return rules.stream_batching_window_s + rules.queue_batching_window_s + c.fanout_round_trips * call_latency_s


CELEBRITY_SHARE = 1e-4  # the most-followed 1 in 10,000 accounts are merged at read


def threshold_rule(graph_or_degree_stats: graphs.Graph | Population, rules: ProductRules, sizes: ItemSizes,
                   prices: Prices, reads_per_post: float = 50.0) -> int:
    """CelebrityThreshold = the follower count of the account ranked max(1, ceil(N / 10,000))
    by followers: the most-followed 0.01% of accounts (at least the biggest) are merged at read.

    Why. The threshold decides the tail, not the bill: pushing a post costs one entry per
    follower, merging an account costs every follower's reads a Query, and which is cheaper
    depends on how often the account posts against how often its followers read
    (rate_aware_analysis), not on its follower count. What the follower count decides is the
    burst of one post. So the rule merges just the head of the follower distribution, the
    accounts whose single post is a burst, and leaves every other account on the cheaper push
    path: at Twitter's 150M users (twitter-2013) it gives ~12,000 followers (the template's
    default is 10,000), where one post's fan-out is already hundreds of BatchWriteItems; in a
    benchmark-sized graph it merges the biggest account. Prices and reads_per_post do not
    enter: they are accepted so every rule is called alike.
    """
    pop = population(graph_or_degree_stats)
    order = np.argsort(-pop.followers, kind="stable")
    accounts_so_far = np.cumsum(pop.account_weight[order])
    rank = max(1.0, math.ceil(CELEBRITY_SHARE * pop.users))
    return max(1, int(pop.followers[order][min(int(np.searchsorted(accounts_so_far, rank)), len(order) - 1)]))


# --------------------------------------------------------------------------------- at scale
@dataclass(frozen=True)
class ScalePreset:
    name: str
    users: int
    posts_per_s: float
    home_reads_per_s: float
    graph_preset: str  # bench.graph preset whose shape degree_model scales up
    follows_per_s: float | None = None  # not published; follows are not projected
    source: str = ""


SCALE_PRESETS = {
    # Krikorian, "Timelines at Scale" (QCon SF 2012): 150M active users, 300K home-timeline reads/s;
    # "6000 requests per second are spent on writes" (High Scalability, 2013-07-08; Kleppmann's DDIA
    # quotes the same talk as 4.6K tweets/s on average, 12K at peak).
    "twitter-2013": ScalePreset(
        "twitter-2013", 150_000_000, 6_000.0, 300_000.0, "twitter-2013",
        source="Krikorian, Timelines at Scale (QCon SF 2012), via High Scalability 2013-07-08"),
}


def project(per_op: dict[str, OpCounts], preset: ScalePreset, prices: Prices, sizes: ItemSizes,
            rules: ProductRules, *, post_history_days: float = 365.0,
            call_latency_s: float = CALL_LATENCY_S) -> dict:
    """Per-operation counts times the preset's rates: DynamoDB units and requests per second,
    SQS requests, Lambda invocations and GB-seconds, API requests, stored GB, and a monthly bill
    on demand and with provisioned capacity.

    Assumptions: Lambda duration = (AWS calls waited on x call_latency_s + HANDLER_OVERHEAD_S
    per invocation) x 512 MB; storage counts 100 bytes of overhead per item and index entry,
    full timelines (users x TimelineMax entries), `post_history_days` of posts with their
    ByAuthor entries, both directions of every follow, a profile and a handle claim per user,
    and a day of idempotency records (service/posting.py IDEMPOTENCY_WINDOW_SECONDS); provisioned
    capacity is the average rate over PROVISIONED_UTILISATION (auto scaling's default 70%
    target), taken to follow the daily curve (Twitter's peak was ~2.6x its average: 12K vs
    4.6K tweets/s); the HTTP API's second price tier applies past 300M requests a month."""
    post, read = per_op["post"], per_op["home_read"]
    posts, reads = preset.posts_per_s, preset.home_reads_per_s

    def per_s(name: str) -> float:
        return getattr(post, name) * posts + getattr(read, name) * reads

    busy_s = per_s("lambda_busy_calls") * call_latency_s + per_s("invocations") * HANDLER_OVERHEAD_S
    rates = {
        "posts_per_s": posts, "home_reads_per_s": reads,
        "dynamodb_write_units_per_s": per_s("write_units"), "dynamodb_read_units_per_s": per_s("read_units"),
        "dynamodb_write_requests_per_s": per_s("write_requests"),
        "dynamodb_read_requests_per_s": per_s("read_requests"),
        "sqs_messages_per_s": per_s("sqs_messages"), "sqs_requests_per_s": per_s("sqs_requests"),
        "lambda_invocations_per_s": per_s("invocations"), "lambda_gb_seconds_per_s": busy_s * LAMBDA_MEMORY_GB,
        "api_requests_per_s": posts + reads,
    }
    gb = 1e-9
    entry = sizes.timeline_entry + (sizes.post if rules.entries_carry_post else 0)
    mean_following = graphs.PRESETS[preset.graph_preset]["mean_following"]
    handle_claim = 42  # pk 2+24 ("HANDLE#" + handle), user_id 7+11 (store/tables.py:HandleClaimModel)
    storage = {
        "timelines": preset.users * rules.timeline_max * (entry + DYNAMODB_ITEM_OVERHEAD) * gb,
        "posts": posts * post_history_days * 86_400
        * (sizes.post + sizes.by_author_entry + 2 * DYNAMODB_ITEM_OVERHEAD) * gb,
        "graph": preset.users * mean_following * (sizes.edge + sizes.follower_edge + 2 * DYNAMODB_ITEM_OVERHEAD) * gb,
        "users": preset.users * (sizes.profile + handle_claim + 2 * DYNAMODB_ITEM_OVERHEAD) * gb,
        "idempotency": posts * 86_400 * (sizes.idempotency_record + DYNAMODB_ITEM_OVERHEAD) * gb,
    }
    storage["total"] = sum(storage.values())
    month = SECONDS_PER_MONTH
    api_month = (posts + reads) * month
    common = {
        "dynamodb_storage": storage["total"] * prices.dynamodb_storage_gb_month,
        "dynamodb_streams": posts * month * prices.dynamodb_streams_read_by_lambda,
        "sqs": rates["sqs_requests_per_s"] * month * prices.sqs_standard_request,
        "lambda_requests": rates["lambda_invocations_per_s"] * month * prices.lambda_request,
        "lambda_compute": rates["lambda_gb_seconds_per_s"] * month * prices.lambda_arm64_gb_second,
        "api_gateway": (min(api_month, 300e6) * prices.http_api_request
                        + max(0.0, api_month - 300e6) * prices.http_api_request_over_300m),
    }
    on_demand = {"dynamodb_writes": rates["dynamodb_write_units_per_s"] * month * prices.dynamodb_write_request_unit,
                 "dynamodb_reads": rates["dynamodb_read_units_per_s"] * month * prices.dynamodb_read_request_unit,
                 **common}
    on_demand["total"] = sum(on_demand.values())
    provisioned = {
        "dynamodb_writes": rates["dynamodb_write_units_per_s"] / PROVISIONED_UTILISATION * HOURS_PER_MONTH
        * prices.dynamodb_wcu_hour,
        "dynamodb_reads": rates["dynamodb_read_units_per_s"] / PROVISIONED_UTILISATION * HOURS_PER_MONTH
        * prices.dynamodb_rcu_hour,
        **common}
    provisioned["total"] = sum(provisioned.values())
    return {"preset": preset.name, "users": preset.users, "rates": rates, "storage_gb": storage,
            "monthly_usd": on_demand, "monthly_usd_provisioned": provisioned, "prices_as_of": AS_OF}


# ------------------------------------------------------------------------ beyond a follower count
def _merge_cost_per_follower(pop: Population, merged: np.ndarray, rules: ProductRules, sizes: ItemSizes,
                             prices: Prices, post_rates: np.ndarray) -> np.ndarray:
    """For an unmerged account posting at each of `post_rates`: the extra read cost that merging
    it adds to one of its followers' home reads, times that follower's relative read rate,
    averaged over follow edges (a follower is taken to be the reader of a random follow edge). Merging adds one ByAuthor
    Query and moves the account's posts out of the materialized timeline, so the merged round
    hydrates want * total / top instead of want * total / top_before posts (_reader_state)."""
    state = _reader_state(pop, merged, rules)
    u = pop.edge_reader
    w = pop.reader_weight[u] * pop.reader_rate[u]
    want = rules.want
    extra_query = float(_read_units(want * sizes.by_author_entry))
    post_units, author_units = float(_read_units(sizes.post)), float(_read_units(sizes.profile))
    authors_per_post = state.authors[u] / np.maximum(state.hydrated[u], 1e-12)
    out = np.empty(len(post_rates))
    for i, p in enumerate(post_rates):
        total = np.maximum(state.total_rate[u], p)
        timeline = np.maximum(state.timeline_rate[u], p)
        before = want * total / np.maximum(timeline, state.celebrity_max[u])
        after = want * total / np.maximum.reduce([timeline - p, state.celebrity_max[u], np.full(len(u), p)])
        extra = (after - before) * (post_units + authors_per_post * author_units) + extra_query
        out[i] = float((w * extra).sum() / pop.reader_weight[u].sum())
    return out * prices.dynamodb_read_request_unit


def _rate_aware(pop: Population, rules: ProductRules, sizes: ItemSizes, prices: Prices,
                reads_per_post: float) -> dict:
    threshold = threshold_rule(pop, rules, sizes, prices, reads_per_post)
    plain = pop.followers >= threshold
    # Rates per platform post: account v posts post_rate[v] * per_post_rate, reader u reads
    # reader_rate[u] * per_read_rate, so that reads / posts = reads_per_post.
    per_post_rate = 1.0 / float((pop.account_weight * pop.post_rate).sum())
    per_read_rate = reads_per_post / float((pop.reader_weight * pop.reader_rate).sum())
    pushed = _op_cost(_post(pop.followers, False, rules, sizes), prices)
    push_saving = pop.post_rate * per_post_rate * (pushed - _op_cost(post_counts(0, True, rules, sizes), prices))
    # The merge cost at each account's posting rate, from a log-spaced grid of rates.
    grid = np.geomspace(pop.post_rate.min(), pop.post_rate.max(), 48)
    per_follower = _merge_cost_per_follower(pop, plain, rules, sizes, prices, grid)
    at_rate = np.interp(np.log(pop.post_rate), np.log(grid), per_follower)
    # its followers' reads (the account's own posts stay in its own timeline, merged or not)
    merge_cost = pop.followers * at_rate * per_read_rate
    aware = plain | (push_saving > merge_cost)
    counts = {name: _expected(pop, mask, rules, sizes)[0] for name, mask in (("plain", plain), ("aware", aware))}
    cost = {name: cost_per_million_ops(c, prices, reads_per_post) for name, c in counts.items()}
    gain = (cost["plain"] - cost["aware"]) / cost["plain"]
    return {
        "population": pop.name, "threshold": threshold,
        "celebrities_plain": float(pop.account_weight[plain].sum()),
        "celebrities_rate_aware": float(pop.account_weight[aware].sum()),
        "largest_fanout_plain": float(pop.followers[~plain].max(initial=0.0)),
        "largest_fanout_rate_aware": float(pop.followers[~aware].max(initial=0.0)),
        "cost_per_million_ops_plain_usd": cost["plain"],
        "cost_per_million_ops_rate_aware_usd": cost["aware"],
        "relative_gain": gain,
        "rate_aware_beats_plain_by_more_than_10pct": bool(gain > 0.10),
    }


def rate_aware_analysis(graph: graphs.Graph | Population, rules: ProductRules, sizes: ItemSizes, prices: Prices,
                        reads_per_post: float = 50.0) -> dict:
    """Beyond a follower count: does merging by rates, not only by follower count, pay?

    An account v's fan-out costs posts_per_s(v) x followers x (entry writes, trims, SQS,
    Lambda); merging it costs, for each follower u, reads_per_s(u) x (one more ByAuthor Query and
    the extra posts and authors the merged round hydrates). Both grow with the follower count,
    so the count alone decides neither; it decides the tail. (a) is the plain threshold rule
    (threshold_rule); (b) merges, besides, every account whose push costs more than its merge
    at its own posting rate and its followers' read rates (marginal costs against plan (a)'s
    timelines). (b) merges a superset of (a), so its largest fan-out is no larger. Evaluated
    on `graph` with `rules`, and on the twitter-2013 scale (degree_model at 150M users,
    timelines at the cap)."""
    scale = SCALE_PRESETS["twitter-2013"]
    results = {
        "graph": _rate_aware(population(graph), rules, sizes, prices, reads_per_post),
        "twitter_scale": _rate_aware(degree_model(scale.graph_preset, scale.users), replace(rules, steady_state=True),
                                     sizes, prices, reads_per_post),
    }
    verdicts = [f"{r['population']}: (b) "
                f"{'beats' if r['rate_aware_beats_plain_by_more_than_10pct'] else 'does not beat'}"
                f" (a) by more than 10% ({r['relative_gain']:+.1%}: ${r['cost_per_million_ops_plain_usd']:.2f}"
                f" -> ${r['cost_per_million_ops_rate_aware_usd']:.2f} per million operations)"
                for r in results.values()]
    results["conclusion"] = "; ".join(verdicts)
    return results


# ---------------------------------------------------------------------------- cutting the bill
def cut_the_bill(per_op: dict[str, OpCounts], preset: ScalePreset, prices: Prices, sizes: ItemSizes,
                 rules: ProductRules, *, population_: Population | None = None, threshold: int | None = None,
                 cache_hit_rate: float = 0.9, other_thresholds: Sequence[int] = (10_000, 1_000_000)) -> list[dict]:
    """Ways to a smaller monthly bill, each with the bill before and after (on demand unless
    the option is provisioning itself) and the saving.

    * Provisioned capacity at the average rate over 70% utilisation (see project).
    * A cache of hot posts (ElastiCache Serverless) in front of the posts' BatchGetItem:
      `cache_hit_rate` of hydrated posts are served by it (assumption: a home read pages the
      newest posts of the accounts followed, and the cache holds the last day of posts); every
      hydrated post is a cache read and every miss a cache write, 1 ECPU per KB.
    * Timeline entries that carry the post itself: a home read no longer hydrates fanned-out
      posts (only the celebrity posts merged from ByAuthor); entries grow by a post, so fan-out
      and trims write and read bigger items and timelines take more storage.
    * Other thresholds.

    The first two are computed from `per_op`; the last two change what per_op would be, so they
    are evaluated with the model on `population_` (default: degree_model at the preset's size)
    at `threshold` (default: threshold_rule) and applied to the bill of `per_op` as the model's
    relative change.
    """
    base = project(per_op, preset, prices, sizes, rules)
    before = base["monthly_usd"]["total"]

    def row(option: str, assumption: str, after: float, before_usd: float = before) -> dict:
        return {"option": option, "assumption": assumption, "monthly_usd_before": before_usd,
                "monthly_usd_after": after, "saving_pct": 100.0 * (before_usd - after) / before_usd}

    rows = [row("provisioned capacity", f"DynamoDB provisioned at the average rate / {PROVISIONED_UTILISATION:.0%}"
                " utilisation, following the daily curve", base["monthly_usd_provisioned"]["total"])]

    hydrated_per_s = per_op["home_read"].posts_hydrated * preset.home_reads_per_s
    kb = math.ceil(sizes.post / 1024)
    saved = hydrated_per_s * cache_hit_rate * float(_read_units(sizes.post)) * prices.dynamodb_read_request_unit
    ecpu_per_s = hydrated_per_s * (1.0 + (1.0 - cache_hit_rate)) * kb
    cached_gb = preset.posts_per_s * 86_400 * sizes.post * 1e-9
    cache = (ecpu_per_s * SECONDS_PER_MONTH * prices.elasticache_serverless_ecpu
             + cached_gb * HOURS_PER_MONTH * prices.elasticache_serverless_gb_hour)
    rows.append(row("cache hot posts", f"{cache_hit_rate:.0%} of hydrated posts hit a cache holding a day of posts",
                    before - saved * SECONDS_PER_MONTH + cache))

    pop = population_ if population_ is not None else degree_model(preset.graph_preset, preset.users)
    at = threshold_rule(pop, rules, sizes, prices) if threshold is None else threshold

    def model_bill(t: int, r: ProductRules, s: ItemSizes) -> float:
        return project(expected_counts(pop, t, r, s), preset, prices, s, r)["monthly_usd"]["total"]

    reference = model_bill(at, rules, sizes)
    carried = replace(rules, entries_carry_post=True)
    rows.append(row("entries carry the post", "timeline entries hold the post (+"
                    f"{sizes.post} B each): no hydration of fanned-out posts",
                    before * model_bill(at, carried, sizes) / reference))
    for t in other_thresholds:
        rows.append(row(f"threshold {t:,}", f"instead of {at:,}", before * model_bill(t, rules, sizes) / reference))
    return rows


# -------------------------------------------------------------------------------------- CLI
def measured_sizes(measured: dict[str, float]) -> tuple[ItemSizes, list[str]]:
    """ItemSizes with the fields a benchmark measured (mean bytes, keyed by ItemSizes field
    names, rounded); other keys, and sizes of tables the run left empty (0), are ignored."""
    known = {f.name for f in fields(ItemSizes)}
    used = {k: round(v) for k, v in measured.items() if k in known and v}
    return replace(ItemSizes(), **used), sorted(used)


def _sizes_from_results(path: Path) -> tuple[ItemSizes, list[str]]:
    """measured_sizes of a results JSON's "item_sizes" object (or "sizes")."""
    data = json.loads(path.read_text())
    return measured_sizes(data.get("item_sizes") or data.get("sizes") or {})


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """Plain text: the first column left-aligned, numbers right-aligned, then `text_columns - 1`
    more left-aligned columns at the end."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    last_numbers = len(header) - (text_columns - 1)
    lines = ["  ".join(str(c).rjust(w) if 0 < i < last_numbers else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def projection(preset: ScalePreset, sizes: ItemSizes) -> dict:
    """Push, pull and hybrid (threshold_rule) at the preset's scale, timelines at the cap: the
    thresholds, per-operation counts, projected rates and bills, and the bill-cutting options.
    Keys starting with "_" hold objects for capacity_main's table, not JSON."""
    rules, prices = ProductRules(steady_state=True), ON_DEMAND_US_EAST_1
    pop = degree_model(preset.graph_preset, preset.users)
    strategies = {"push": pop.max_followers + 1, "pull": 1, "hybrid": threshold_rule(pop, rules, sizes, prices)}
    per_op = {name: expected_counts(pop, t, rules, sizes) for name, t in strategies.items()}
    projected = {name: project(c, preset, prices, sizes, rules) for name, c in per_op.items()}
    options = cut_the_bill(per_op["hybrid"], preset, prices, sizes, rules, population_=pop,
                           threshold=strategies["hybrid"])
    return {"preset": preset.name, "users": preset.users, "posts_per_s": preset.posts_per_s,
            "home_reads_per_s": preset.home_reads_per_s, "prices_as_of": AS_OF, "thresholds": strategies,
            "per_op": {n: {k: c.as_dict() for k, c in ops.items()} for n, ops in per_op.items()},
            "cost_per_million_ops_usd": {n: cost_per_million_ops(ops, prices) for n, ops in per_op.items()},
            "projected": projected, "cut_the_bill": options, "_per_op": per_op, "_population": pop}


def capacity_main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench capacity --preset twitter-2013 [--users N --posts-per-s X --reads-per-s Y]
    [--results bench/results/latest.json]`: push, pull and hybrid projected to the preset's scale,
    per-operation counts from the model on the preset's degree distribution (degree_model), with
    timelines at the cap; --results takes measured item sizes from a benchmark results file."""
    args = list(argv or [])
    if args[:1] == ["capacity"]:
        args = args[1:]
    parser = argparse.ArgumentParser(prog="python -m bench capacity",
                                     description="project push, pull and hybrid to a target scale")
    parser.add_argument("--preset", default="twitter-2013", choices=sorted(SCALE_PRESETS))
    parser.add_argument("--users", type=int)
    parser.add_argument("--posts-per-s", type=float)
    parser.add_argument("--reads-per-s", type=float)
    parser.add_argument("--results", type=Path, help="a results JSON whose item_sizes replace the defaults")
    opts = parser.parse_args(args)
    preset = SCALE_PRESETS[opts.preset]
    preset = replace(preset, users=opts.users or preset.users,
                     posts_per_s=opts.posts_per_s or preset.posts_per_s,
                     home_reads_per_s=opts.reads_per_s or preset.home_reads_per_s)
    sizes, measured = _sizes_from_results(opts.results) if opts.results else (ItemSizes(), [])
    source = f"measured ({', '.join(measured)}) from {opts.results}" if measured else "model defaults"
    print(capacity_report(preset, projection(preset, sizes), source))
    return 0


def capacity_report(preset: ScalePreset, scale: dict, sizes_source: str) -> str:
    """The projection (see `projection`) as the plain-text tables `python -m bench capacity` prints."""
    prices = ON_DEMAND_US_EAST_1
    strategies, per_op, projected = scale["thresholds"], scale["_per_op"], scale["projected"]
    out = [f"{preset.name}: {preset.users:,} users, {preset.posts_per_s:,.0f} posts/s, "
           f"{preset.home_reads_per_s:,.0f} home reads/s ({preset.source})",
           f"prices: AWS on-demand us-east-1 as of {AS_OF}; item sizes: {sizes_source}",
           f"hybrid threshold (threshold_rule): {strategies['hybrid']:,} followers\n"]

    def fmt(value: float) -> str:
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"

    lines = [("CelebrityThreshold", lambda n: f"{strategies[n]:,}"),
             ("write units / post", lambda n: fmt(per_op[n]["post"].write_units)),
             ("read units / home read", lambda n: fmt(per_op[n]["home_read"].read_units)),
             ("cost per million ops (USD)", lambda n: fmt(cost_per_million_ops(per_op[n], prices)))]
    lines += [(key.replace("_", " "), lambda n, k=key: fmt(projected[n]["rates"][k]))
              for key in projected["push"]["rates"]]
    lines += [("storage GB", lambda n: fmt(projected[n]["storage_gb"]["total"]))]
    lines += [(f"USD/month {key.replace('_', ' ')}", lambda n, k=key: fmt(projected[n]["monthly_usd"][k]))
              for key in projected["push"]["monthly_usd"]]
    lines += [("USD/month total, provisioned", lambda n: fmt(projected[n]["monthly_usd_provisioned"]["total"]))]
    out.append(_table(["", *strategies], [(label, *(value(n) for n in strategies)) for label, value in lines]))
    out.append("\nCutting the hybrid's bill:")
    out.append(_table(["option", "before", "after", "saving", "assumption"],
                      [(o["option"], fmt(o["monthly_usd_before"]), fmt(o["monthly_usd_after"]),
                        f"{o['saving_pct']:.1f}%", o["assumption"]) for o in scale["cut_the_bill"]],
                      text_columns=2))
    return "\n".join(out)
