"""The benchmark's synthetic Twitter graph (bench/graph.py) and capacity model (bench/model.py).

No AWS here: the graph is numbers and the model is arithmetic over the product's request
rules, so every expected count below is worked out by hand from those rules.
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from bench import graph as graphs
from bench import model
from bench.prices import ON_DEMAND_US_EAST_1 as PRICES

RULES, SIZES = model.ProductRules(), model.ItemSizes()


@pytest.fixture(scope="module")
def kwak() -> graphs.Graph:
    return graphs.generate(graphs.GraphSpec("kwak-2010", 2000, seed=7))


@pytest.fixture(scope="module")
def kwak_fit(kwak) -> dict[str, float]:
    return graphs.fit(kwak)


@pytest.fixture(scope="module")
def twitter_scale() -> model.Population:
    return model.degree_model("twitter-2013", 150_000_000, accounts=50_000, readers=5_000)


# ------------------------------------------------------------------------------------ graph
def test_given_the_same_spec_when_generated_twice_then_the_graphs_are_identical(kwak):
    again = graphs.generate(graphs.GraphSpec("kwak-2010", 2000, seed=7))
    assert again.following == kwak.following
    assert again.followers_count == kwak.followers_count
    assert again.post_weight == kwak.post_weight and again.read_weight == kwak.read_weight


def test_given_another_seed_when_generated_then_the_graph_differs(kwak):
    other = graphs.generate(graphs.GraphSpec("kwak-2010", 2000, seed=8))
    assert other.following != kwak.following


def test_given_a_graph_then_edges_are_sorted_without_self_or_duplicate_follows_and_counts_match(kwak):
    for u, followees in enumerate(kwak.following):
        assert u not in followees
        assert all(a < b for a, b in pairwise(followees))  # sorted, so no duplicates
    counts = np.bincount(np.concatenate([np.asarray(f) for f in kwak.following]), minlength=kwak.n)
    assert kwak.followers_count == counts.tolist()
    assert kwak.edges == sum(kwak.followers_count)
    biggest = int(np.argmax(counts))
    assert all(biggest in kwak.following[v] for v in kwak.followers(biggest))
    assert len(kwak.followers(biggest)) == counts[biggest]


def test_given_2000_users_when_fitted_then_following_and_reciprocity_match_kwak(kwak_fit):
    target = graphs.TARGETS["kwak-2010"]
    assert kwak_fit["mean_following"] == pytest.approx(target["mean_following"], rel=0.01)
    assert kwak_fit["following_exponent"] == pytest.approx(target["following_exponent"], abs=0.1)
    assert kwak_fit["reciprocity"] == pytest.approx(target["reciprocity"], abs=0.03)


def test_given_2000_users_when_fitted_then_the_follower_tail_is_heavier_than_its_power_law(kwak_fit):
    # More accounts above the structural cut-off than the fitted power law predicts there ...
    assert kwak_fit["follower_tail_excess"] > 1.5
    # ... and the biggest account is followed by most users, far above any small-graph threshold.
    assert kwak_fit["top_account_share"] > 0.5


def test_given_twitter_2013_when_generated_then_a_post_reaches_126_followers_on_average():
    graph = graphs.generate(graphs.GraphSpec("twitter-2013", 1000))
    assert graphs.fit(graph)["mean_followers_per_post"] == pytest.approx(126, rel=0.01)
    assert np.mean(graph.post_weight) == pytest.approx(1.0) and np.mean(graph.read_weight) == pytest.approx(1.0)


def test_given_5000_users_when_generated_then_the_mean_following_holds_at_that_size():
    graph = graphs.generate(graphs.GraphSpec("kwak-2010", 5000))
    assert graph.edges == pytest.approx(35.25 * 5000, rel=0.01)


def test_given_a_graph_when_described_then_each_row_shows_fitted_and_target(kwak):
    rows = {name: (fitted, target) for name, fitted, target in graphs.describe(kwak)}
    assert rows["reciprocity"][1] == "0.221"
    assert rows["follower_tail_excess"][1].startswith("> 1")


# ------------------------------------------------------------------------------ post counts
# Worked by hand from the rules (timelines below TimelineMax, so trims read one unit and
# delete nothing; a trim is due for about one timeline write in TimelineMax // 8 = 100).
# API: GetItem profile (1 read, 0.5 unit); one TransactWriteItems (the post, its ByAuthor entry,
# the author's own timeline entry and the Idempotency-Key's claim, each twice): 1 write, 8 units. Dispatch: pages of 200 follower edges, one Query
# each, and one more (empty) Query after a page that stopped at its Limit; ceil(F/200) messages
# (the author's entry is not among them), plus a trim of the author's own timeline one post in
# 100, in one SendMessageBatch (<= 10 messages, one 64 KB chunk), received and deleted by one
# worker batch. Worker: ceil(owners/25) BatchWriteItems per message, so ceil(F/25) in all; F entry
# units; per message a consistent BatchGetItem of the post and a consistent Query of the
# author's unfollow tombstones (1 unit each); F/100 follower trims and the author's 1/100.
@pytest.mark.parametrize("followers, writes, reads, adds", [
    (0, 1 + 0, 1 + 1 + 1 / 100, 0),  # no follower: one empty page, nothing to add
    (24, 1 + 1, 1 + 1 + 2 + 25 / 100, 1),  # 24 owners: one BatchWriteItem
    (25, 1 + 1, 1 + 1 + 2 + 26 / 100, 1),  # 25: still one
    (26, 1 + 2, 1 + 1 + 2 + 27 / 100, 1),  # 26: two
    (199, 1 + 8, 1 + 1 + 2 + 200 / 100, 1),  # 199 owners: eight
    (200, 1 + 8, 1 + 2 + 2 + 201 / 100, 1),  # one message of 200; the full page asks for a second
    (1000, 1 + 40, 1 + 6 + 5 * 2 + 1001 / 100, 5),  # 5 x 200; pages of 200 and one empty
])
def test_given_an_author_below_the_threshold_when_posting_then_requests_follow_the_rules(
        followers, writes, reads, adds):
    counts = model.post_counts(followers, False, RULES, SIZES)
    assert counts.write_requests == writes
    assert counts.read_requests == pytest.approx(reads)
    assert counts.write_units == 8 + followers
    assert counts.sqs_messages == pytest.approx(adds + 1 / 100)
    if adds:
        # one SendMessageBatch, one ReceiveMessage, one DeleteMessageBatch, with or without a trim
        assert counts.sqs_requests == pytest.approx(3)
        assert counts.invocations == pytest.approx(3)  # api, fanout_dispatch, one fanout_worker batch
    else:  # only the author's trim, one post in 100, makes a worker batch
        assert counts.sqs_requests == pytest.approx(3 / 100)
        assert counts.invocations == pytest.approx(2 + 1 / 100)
    assert counts.sequential_round_trips == 2  # GetItem, TransactWriteItems


def test_given_a_post_below_the_threshold_then_read_units_follow_the_rules():
    counts = model.post_counts(24, False, RULES, SIZES)
    # profile 0.5; one page of 24 x 103 B follower edges 0.5; post check 1 and tombstone Query 1
    # (consistent); 25 trims of a short timeline at 0.5 each, one in 100.
    assert counts.read_units == pytest.approx(0.5 + 0.5 + 2 + 25 / 100 * 0.5)


def test_given_a_celebrity_when_posting_then_only_the_api_writes_and_dispatch_reads_the_flag():
    counts = model.post_counts(1_000_000, True, RULES, SIZES)
    assert (counts.write_requests, counts.write_units) == (1, 8)  # one TransactWriteItems (the key claimed in it)
    # the caller's profile (0.5), then dispatch's consistent GetItem of it (1), and a trim of
    # the author's own timeline one post in 100
    assert counts.read_requests == pytest.approx(2 + 1 / 100)
    assert counts.read_units == pytest.approx(0.5 + 1 + 0.5 / 100)
    assert counts.sqs_messages == pytest.approx(1 / 100)
    assert counts.sqs_requests == pytest.approx(3 / 100)
    assert counts.invocations == pytest.approx(2 + 1 / 100)


def test_given_moto_paging_when_followers_fill_pages_exactly_then_no_empty_page_is_counted():
    moto_like = replace(RULES, limit_page_marker=False)
    assert model.post_counts(200, False, moto_like, SIZES).read_requests == pytest.approx(1 + 1 + 2 + 201 / 100)
    assert model.post_counts(0, False, moto_like, SIZES).read_requests == pytest.approx(1 + 1 + 1 / 100)


def test_given_full_timelines_when_posting_then_every_entry_is_later_deleted_by_a_trim():
    full = replace(RULES, steady_state=True)
    fresh, steady = model.post_counts(1000, False, RULES, SIZES), model.post_counts(1000, False, full, SIZES)
    assert steady.write_units - fresh.write_units == pytest.approx(1001)  # one delete per entry, the author's too
    assert steady.write_requests > fresh.write_requests


# ------------------------------------------------------------------------------ home reads
def test_given_no_celebrities_followed_when_reading_home_then_two_queries_and_two_batch_gets():
    counts = model.home_read_counts(0, RULES, SIZES)
    # Consistent "home#" edges Query (1) || timeline Query of 25 + 40 (the dedupe window) x 91 B
    # (2 units of 4 KB, 1); BatchGetItem of 25 posts and of 25 authors plus the reader's own
    # profile, each item rounded to 4 KB (0.5 each); beside them, one consistent BatchGetItem of
    # the reader's like edge and repost claim and the counts item of each of the 25 posts (1 each).
    assert counts.read_requests == 5
    assert counts.read_units == 1 + 1 + 12.5 + 13 + 75
    assert counts.sequential_round_trips == 2
    assert counts.write_requests == 0 and counts.invocations == 1


def test_given_five_celebrities_followed_when_reading_home_then_one_byauthor_query_each():
    counts = model.home_read_counts(5, RULES, SIZES)
    assert counts.read_requests == 5 + 5
    assert counts.read_units == 1 + 1 + 5 * 0.5 + 12.5 + 13 + 75  # 65 index entries of 39 B: one unit each
    assert counts.sequential_round_trips == 3  # edges || timeline, then the five in parallel, then hydration


# ------------------------------------------------------------------------------------ sweep
def test_given_the_sweep_end_points_then_push_merges_nothing_and_pull_merges_every_followee(kwak):
    above_all = max(kwak.followers_count) + 1
    push, pull = model.sweep(kwak, [above_all, 1], RULES, SIZES, PRICES)
    assert push["celebrities"] == 0 and push["celebrities_per_home_read"] == 0
    read_weight = np.array(kwak.read_weight)
    merged_sources = np.array([len(f) for f in kwak.following])  # own posts are in the own timeline
    assert pull["celebrities_per_home_read"] == pytest.approx(np.average(merged_sources, weights=read_weight))
    assert pull["write_units_per_post"] == 8  # the API's writes only: nobody followed has anyone to fan out to
    assert push["tail_followers"] == above_all - 1
    assert push["tail_write_requests"] == model.post_counts(above_all - 1, False, RULES, SIZES).write_requests


def test_given_the_threshold_rule_then_it_falls_between_the_sweep_end_points(kwak, twitter_scale):
    # The most-followed 0.01% of accounts (at least one): in a 2,000-user graph, the biggest.
    on_graph = model.threshold_rule(kwak, RULES, SIZES, PRICES)
    assert 1 < on_graph == max(kwak.followers_count)
    # At Twitter's 150M users: the 15,000th biggest account, about 12,000 followers.
    at_scale = model.threshold_rule(twitter_scale, replace(RULES, steady_state=True), SIZES, PRICES)
    assert 5_000 < at_scale < 30_000
    above = twitter_scale.account_weight[twitter_scale.followers >= at_scale].sum()
    # (sampled rows stand for ~750 accounts each, so the count lands within a row or two)
    assert above == pytest.approx(twitter_scale.users * model.CELEBRITY_SHARE, rel=0.15)


def test_given_the_twitter_2013_degree_model_then_it_has_the_published_shape(twitter_scale):
    assert twitter_scale.mean_following == pytest.approx(graphs.PRESETS["twitter-2013"]["mean_following"], rel=0.02)
    assert twitter_scale.max_followers == pytest.approx(31e6, rel=0.01)  # Lady Gaga, 2013
    weights = twitter_scale.account_weight * twitter_scale.post_rate
    assert np.average(twitter_scale.followers, weights=weights) == pytest.approx(126, rel=0.01)


# ------------------------------------------------------------------------- scale and money
def test_given_per_op_counts_when_projected_then_units_per_second_are_counts_times_rates():
    per_op = {"post": model.OpCounts(write_units=10, read_units=2, sqs_requests=3, invocations=3),
              "home_read": model.OpCounts(read_units=20, invocations=1)}
    preset = model.SCALE_PRESETS["twitter-2013"]
    projected = model.project(per_op, preset, PRICES, SIZES, RULES)
    rates, bill = projected["rates"], projected["monthly_usd"]
    assert rates["dynamodb_write_units_per_s"] == 10 * 6_000
    assert rates["dynamodb_read_units_per_s"] == 2 * 6_000 + 20 * 300_000
    assert rates["sqs_requests_per_s"] == 3 * 6_000
    assert rates["lambda_invocations_per_s"] == 3 * 6_000 + 300_000
    assert bill["dynamodb_writes"] == pytest.approx(60_000 * 730 * 3600 * 0.625e-6)
    assert projected["monthly_usd_provisioned"]["dynamodb_writes"] == pytest.approx(60_000 / 0.7 * 730 * 0.00065)
    assert bill["total"] == pytest.approx(sum(v for k, v in bill.items() if k != "total"))


def test_given_twice_the_reads_per_post_then_the_cost_per_million_ops_moves_towards_the_read():
    counts = {"post": model.OpCounts(write_units=100), "home_read": model.OpCounts(read_units=10)}
    assert model.cost_per_million_ops(counts, PRICES, 1.0) == pytest.approx(
        (100 * 0.625 + 10 * 0.125) / 2 + 1.0 * 2 / 2)
    assert model.cost_per_million_ops(counts, PRICES, 50.0) < model.cost_per_million_ops(counts, PRICES, 1.0)


def test_given_both_scales_when_comparing_rate_aware_merging_then_it_reports_the_gain(kwak):
    result = model.rate_aware_analysis(kwak, RULES, SIZES, PRICES)
    for name in ("graph", "twitter_scale"):
        r = result[name]
        assert r["celebrities_rate_aware"] >= r["celebrities_plain"]
        assert r["largest_fanout_rate_aware"] <= r["largest_fanout_plain"]  # the tail is no larger
        gain = (r["cost_per_million_ops_plain_usd"] - r["cost_per_million_ops_rate_aware_usd"]) \
            / r["cost_per_million_ops_plain_usd"]
        assert r["relative_gain"] == pytest.approx(gain)
        assert r["rate_aware_beats_plain_by_more_than_10pct"] == (gain > 0.10)
    assert "10%" in result["conclusion"]


def test_given_the_hybrid_at_scale_when_cutting_the_bill_then_each_option_has_a_before_and_after(twitter_scale):
    rules = replace(RULES, steady_state=True)
    threshold = model.threshold_rule(twitter_scale, rules, SIZES, PRICES)
    per_op = model.expected_counts(twitter_scale, threshold, rules, SIZES)
    options = model.cut_the_bill(per_op, model.SCALE_PRESETS["twitter-2013"], PRICES, SIZES, rules,
                                 population_=twitter_scale, threshold=threshold)
    by_name = {o["option"]: o for o in options}
    assert {"provisioned capacity", "cache hot posts", "entries carry the post"} <= set(by_name)
    for o in options:
        assert o["saving_pct"] == pytest.approx(100 * (1 - o["monthly_usd_after"] / o["monthly_usd_before"]))
    assert by_name["provisioned capacity"]["saving_pct"] > 0
    assert by_name["entries carry the post"]["saving_pct"] > 0


def test_given_measured_sizes_when_running_capacity_then_it_prints_push_pull_and_hybrid(tmp_path, capsys):
    results = tmp_path / "latest.json"
    results.write_text(json.dumps({"item_sizes": {"post": 300, "unknown": 1}}))
    assert model.capacity_main(["capacity", "--preset", "twitter-2013", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "measured (post)" in out
    header = next(line for line in out.splitlines() if "push" in line and "pull" in line)
    assert "hybrid" in header
    assert "USD/month total" in out


def test_given_a_measured_posts_trim_draw_then_the_model_counts_its_outcome_not_the_expectation():
    # Given a post of an author with 450 followers (three add messages)
    expected = model.post_counts(450, False, RULES, SIZES)
    # When the model is told whether that post's draw queued the author's trim
    trimmed = model.post_counts(450, False, RULES, SIZES, author_trimmed=True)
    untrimmed = model.post_counts(450, False, RULES, SIZES, author_trimmed=False)
    # Then it counts that message exactly, and the expectation lies between the two outcomes
    assert (untrimmed.sqs_messages, trimmed.sqs_messages) == (3.0, 4.0)
    assert untrimmed.sqs_messages < expected.sqs_messages < trimmed.sqs_messages
    assert untrimmed.read_requests < expected.read_requests < trimmed.read_requests
