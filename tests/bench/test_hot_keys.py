"""The per-key load model (bench/hot_keys.py, issue 23): where the capacity model's units land.

No AWS here: every figure is bench.model's arithmetic put on the keys that concentrate it, at
the twitter-2013 preset (150M users, 300K home reads/s, the largest account at 31M followers).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bench import hot_keys as hk
from bench import model
from bench.prices import ON_DEMAND_US_EAST_1 as PRICES

TWITTER = model.SCALE_PRESETS["twitter-2013"]
RULES, SIZES = model.ProductRules(steady_state=True), model.ItemSizes()
FIELDS = {"key", "table", "peak_rcu_per_s", "peak_wcu_per_s", "limit_rcu_per_s", "limit_wcu_per_s",
          "share_of_limit", "note"}


@pytest.fixture(scope="module")
def after() -> hk.Design:
    return hk.after_design(TWITTER, SIZES, RULES)


@pytest.fixture(scope="module")
def before_rows() -> dict[str, dict]:
    return {r["key"]: r for r in hk.hot_key_table(TWITTER, SIZES, RULES, hk.BEFORE)}


@pytest.fixture(scope="module")
def after_rows(after) -> dict[str, dict]:
    return {r["key"]: r for r in hk.hot_key_table(TWITTER, SIZES, RULES, after)}


# ------------------------------------------------------------------------------ before
def test_given_twitter_2013_then_the_largest_account_has_31m_followers_and_a_fifth_of_reads_merge_it():
    ctx = hk.context(TWITTER, SIZES, RULES)
    assert ctx.largest_followers == pytest.approx(31e6, rel=1e-6)
    assert ctx.merges_per_s == pytest.approx(300_000 * 31 / 150, rel=1e-6)  # 62,000/s


def test_given_todays_design_when_the_31m_account_is_merged_then_its_three_keys_are_over_the_limit(before_rows):
    for key in (hk.KEY_BY_AUTHOR, hk.KEY_NEWEST_POST, hk.KEY_PROFILE):
        # 62,000 merges/s, each 0.5 RCU on the key: 31,000 RCU/s against 3,000
        assert before_rows[key]["peak_rcu_per_s"] == pytest.approx(31_000, rel=1e-6)
        assert before_rows[key]["share_of_limit"] > 1.0
    assert hk.KEY_COPY_SHARD not in before_rows  # no copies today


# ------------------------------------------------------------------------------- after
def test_given_the_after_design_then_k_is_shards_needed_and_every_read_path_key_is_within_half(after, after_rows):
    assert after.celebrity_copy_shards == hk.shards_needed(TWITTER, SIZES, RULES) == 128
    read_path = [r for r in after_rows.values() if r["key"] in hk.READ_PATH_KEYS]
    assert {r["key"] for r in read_path} == hk.READ_PATH_KEYS
    assert all(r["share_of_limit"] <= hk.TARGET_SHARE for r in read_path), read_path


def test_given_half_as_many_shards_then_a_copy_shard_is_over_the_target(after):
    # K is the smallest power of two that fits: K / 2 does not.
    halved = replace(after, celebrity_copy_shards=after.celebrity_copy_shards // 2)
    rows = {r["key"]: r for r in hk.hot_key_table(TWITTER, SIZES, RULES, halved)}
    assert rows[hk.KEY_COPY_SHARD]["share_of_limit"] > hk.TARGET_SHARE


def test_given_a_bigger_largest_account_then_shards_needed_never_falls():
    followers = [1e5, 1e6, 3e6, 1e7, 3.1e7, 6e7, 1e8]
    needed = [hk.shards_needed(TWITTER, SIZES, RULES, largest_followers=f) for f in followers]
    assert needed == sorted(needed)
    assert needed[0] < needed[-1]
    assert all(k & (k - 1) == 0 for k in needed)  # powers of two


def test_given_a_follow_storm_then_the_counter_item_takes_a_transaction_per_follow_before_and_one_update_per_batch_after(
        before_rows, after_rows):
    before, after = before_rows[hk.KEY_COUNTER], after_rows[hk.KEY_COUNTER]
    assert before["peak_wcu_per_s"] == pytest.approx(5_000 * 2)  # 5,000 follows/s, 2 WCU each on the profile
    batch, window = hk.template_graph_stream_batching()
    # the template's GraphStream BatchSize (1,000 since issue 26: a viral post's likes) and window
    assert (batch, window) == (1000, 1.0)
    partitions = hk.graph_follower_shards() + 1
    # one UpdateItem per partition (a stream shard each) per window, of a profile with a mark per partition
    size = SIZES.profile + partitions * hk.TALLY_MARK_BYTES
    assert after["peak_wcu_per_s"] == pytest.approx(partitions / window * math.ceil(size / 1024))
    assert after["share_of_limit"] <= hk.TARGET_SHARE < before["share_of_limit"]


def test_given_the_follow_storm_then_the_followee_graph_partition_takes_it_all_before_and_one_fth_per_shard_after(
        before_rows, after_rows):
    before, after = before_rows[hk.KEY_GRAPH], after_rows[hk.KEY_GRAPH]
    assert before["peak_wcu_per_s"] == pytest.approx(5_000 * 4)  # edge put + tombstone delete, both transactional
    assert "split-for-heat" in before["note"] and "item collection" in before["note"]
    shards = hk.graph_follower_shards()
    assert shards == 64
    assert after["peak_wcu_per_s"] == pytest.approx(5_000 * 4 / shards)
    assert after["share_of_limit"] <= hk.TARGET_SHARE < before["share_of_limit"]


# ----------------------------------------------------------------------------- the table
def test_given_either_design_then_every_row_has_exactly_the_required_fields(before_rows, after_rows):
    for r in [*before_rows.values(), *after_rows.values()]:
        assert set(r) == FIELDS
        assert r["limit_rcu_per_s"] == 3000 and r["limit_wcu_per_s"] == 1000
        assert r["share_of_limit"] == pytest.approx(max(r["peak_rcu_per_s"] / 3000, r["peak_wcu_per_s"] / 1000))
        assert r["note"]


def test_given_an_extra_row_function_then_the_table_carries_its_row():
    def trends(ctx: hk.Context) -> list[dict]:
        return [hk.row("trends counter", "TrendsTable", 0.0, ctx.preset.posts_per_s, "every post counts once")]

    rows = hk.hot_key_table(TWITTER, SIZES, RULES, hk.BEFORE, rows=[*hk.ROW_FUNCTIONS, trends])
    assert rows[-1]["key"] == "trends counter" and rows[-1]["share_of_limit"] == pytest.approx(6.0)


def test_given_a_heavier_follower_then_their_timeline_write_rate_grows_with_the_follow_count():
    def wcu(following: int) -> float:
        scenario = replace(hk.SCENARIO, heavy_following=following)
        rows = hk.hot_key_table(TWITTER, SIZES, RULES, hk.BEFORE, scenario=scenario)
        return next(r for r in rows if r["key"] == hk.KEY_HEAVY)["peak_wcu_per_s"]

    small, cap = wcu(500), wcu(5_000)
    assert 0 < small < cap
    assert cap == pytest.approx(10 * small)


# ------------------------------------------------------------------------ table rates, quotas
def test_given_todays_design_then_the_per_table_rates_add_up_to_the_models_projection():
    ctx = hk.context(TWITTER, SIZES, RULES)
    rates = hk.table_rates(ctx)
    projected = model.project(model.expected_counts(ctx.population, ctx.threshold, ctx.rules, SIZES),
                              TWITTER, PRICES, SIZES, ctx.rules)["rates"]
    modelled = ("TimelinesTable", "TweetsTable", "TweetsTable/ByAuthor", "UsersTable", "GraphTable", "IdempotencyTable")
    sign_in_reads = hk.sign_ins_per_s(ctx) * (0.5 + 0.5)  # the handle claim and the profile, not in the model
    assert sum(rates[t]["rcu"] for t in modelled) - sign_in_reads == pytest.approx(
        projected["dynamodb_read_units_per_s"], rel=1e-9)
    assert sum(rates[t]["wcu"] for t in modelled) == pytest.approx(projected["dynamodb_write_units_per_s"], rel=1e-9)
    assert "CelebrityCopiesTable" not in rates


def test_given_twitter_2013_then_the_quota_table_flags_lambda_concurrency_and_api_gateway(after):
    quotas = {q["name"]: q for q in hk.account_quotas(TWITTER, SIZES, RULES, after)}
    for q in quotas.values():
        assert set(q) == {"name", "default", "needed", "ratio", "adjustable", "note"}
        assert q["ratio"] == pytest.approx(q["needed"] / q["default"])
    assert quotas["Lambda concurrent executions (account, Region)"]["default"] == 1000
    assert quotas["Lambda concurrent executions (account, Region)"]["ratio"] > 1
    assert quotas["API Gateway throttle (account, Region, requests/s)"]["default"] == 10_000
    assert quotas["API Gateway throttle (account, Region, requests/s)"]["ratio"] > 1
    assert quotas["DynamoDB Streams readers per shard"]["ratio"] <= 1


# --------------------------------------------------------------------------- copies, results
def test_given_the_copies_then_their_cost_counts_writes_storage_and_the_home_reads_change(after):
    cost = hk.copies_cost(TWITTER, SIZES, PRICES, after, rules=RULES)
    copy_units = 2.0  # a 278 B copy: 1 WCU to write, 1 to delete by a trim
    assert cost["extra_wcu_per_s"] == pytest.approx(cost["copied_posts_per_s"] * after.celebrity_copy_shards
                                                    * copy_units)
    assert cost["storage_gb"] == pytest.approx(cost["copied_celebrities"] * 128 * 200 * (278 + 100) * 1e-9)
    assert cost["monthly_usd"]["total"] == pytest.approx(sum(v for k, v in cost["monthly_usd"].items()
                                                             if k != "total"))
    # copying only the accounts too hot to merge changes fewer merges, so it moves the reads less
    lean = replace(after, copies_min_followers=hk.copies_min_followers_needed(TWITTER, SIZES, RULES))
    lean_cost = hk.copies_cost(TWITTER, SIZES, PRICES, lean, rules=RULES)
    assert lean_cost["copied_celebrities"] < cost["copied_celebrities"]
    assert abs(lean_cost["read_units_per_home_read_delta"]) < abs(cost["read_units_per_home_read_delta"])


def test_given_a_preset_then_the_report_section_holds_both_tables_the_quotas_and_k():
    section = hk.report_section(TWITTER, SIZES)
    assert set(section) == {"hot_keys", "account_quotas", "celebrity_copy_shards"}
    assert set(section["hot_keys"]) == {"before", "after"}
    assert section["celebrity_copy_shards"] == 128


def test_given_the_cli_then_it_prints_both_tables_and_writes_the_plot(tmp_path, capsys):
    plot = tmp_path / "hot_keys.png"
    assert hk.main(["--preset", "twitter-2013", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "K = 128" in out and "before share" in out and "Lambda concurrent executions" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- a viral post
def test_given_a_viral_post_then_one_counter_would_take_every_like_and_the_design_keeps_each_key_within_half(
        before_rows, after_rows):
    """Given 50,000 likes/s (and 2,500 reposts and replies/s) of one post, when the counts are
    one counter on the post, then that item takes them all (60x its partition); as built,
    the engagement partitions, the counts item, each replica and each thread partition stay
    within half a partition's limit."""
    assert before_rows[hk.KEY_COUNTS]["peak_wcu_per_s"] == pytest.approx(50_000 + 2 * 2 * 2_500)
    assert before_rows[hk.KEY_THREAD]["share_of_limit"] > 1
    for key in (hk.KEY_ENGAGEMENT, hk.KEY_COUNTS, hk.KEY_REPLICA, hk.KEY_THREAD):
        assert after_rows[key]["share_of_limit"] <= hk.TARGET_SHARE, after_rows[key]


def test_given_no_replicas_then_the_counts_item_would_be_read_past_its_limit(after_rows):
    """The replicas are what keep the counts item's reads within its partition: without them
    every api container's read lands on it."""
    preset = model.SCALE_PRESETS["twitter-2013"]
    without = hk.hot_key_table(preset, SIZES, None, replace(hk.after_design(preset), counts_replicas=0))
    counts = next(r for r in without if r["key"] == hk.KEY_COUNTS)
    assert counts["share_of_limit"] > 1 >= after_rows[hk.KEY_COUNTS]["share_of_limit"]
