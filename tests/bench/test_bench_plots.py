"""bench.plots: one results dict in, readable PNG files out; absent sections are skipped."""

from __future__ import annotations

import copy
import random
import struct
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from bench.plots import plot_all

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_FILES = ["read_latency_vs_celebrities.png", "write_units_vs_followers.png", "delivery_lag_cdf.png",
             "read_latency_vs_table_size.png", "threshold_sweep.png"]
WITHOUT_SWEEP_OR_TABLE_SIZE = ALL_FILES[:3]


def strategy(threshold: int, read_base: float, per_celebrity: float, lag_median: float, seed: int) -> dict:
    rng = random.Random(seed)
    return {
        "threshold": threshold,
        "home_read_p50_ms": read_base, "home_read_p99_ms": read_base * 2.5,
        "read_latency_by_celebrities": [
            {"celebrities": c, "p50_ms": read_base + per_celebrity * c, "p99_ms": 2.5 * (read_base + per_celebrity * c),
             "n": 40 if c < 4 else 2}
            for c in range(6)],
        "delivery_lag_ms": [rng.lognormvariate(0, 0.6) * lag_median for _ in range(200)],
        "delivery_lag_celebrity_ms": [rng.lognormvariate(0, 0.3) * 5 for _ in range(30)] if threshold < 10**6 else [],
        "lag_by_stage_p50_ms": {"stream": 0.4 * lag_median, "dispatch": 0.1 * lag_median, "queue": 0.25 * lag_median,
                                "worker": 0.15 * lag_median, "visible": 0.1 * lag_median},
    }


def posts(name: str, threshold: int) -> list[dict]:
    rows = []
    for followers in (0, 3, 12, 40, 90, 300, 1_000, 5_000, 20_000):
        fanned_out = name == "push" or (name != "pull" and followers < threshold)
        rows.append({"strategy": name, "followers": followers, "write_requests": 2 + (followers if fanned_out else 0),
                     "write_units": 3.0 + (followers if fanned_out else 0), "celebrity": followers >= threshold})
    return rows


@pytest.fixture
def results() -> dict:
    thresholds = {"push": 10**6, "pull": 0, "hybrid": 60, "hybrid-rate": 250}
    sweep = [{"threshold": t, "measured": t in (1, 60, 1_000, 20_000),
              "write_units_per_post": 3.0 + min(t, 500) / 10, "read_units_per_home_read": 40.0 / (1 + t / 100),
              "cost_per_million_ops_usd": 1.2 + abs(t - 60) / 4000 + 0.5 / (1 + t / 20),
              "tail_write_requests": min(t, 20_000) if t > 20_000 // 2 else 3, "tail_visible_s": 0.0 if t < 20_000 else 4.5}
             for t in (1, 10, 30, 60, 100, 300, 1_000, 5_000, 20_000, 50_000)]
    return {
        "profile": "quick", "created_at": "2026-11-26T21:30:00Z",
        "machine": {"cpus": 2, "python": "3.11.7", "platform": "Linux-6.8.0-x86_64-with-glibc2.39"},
        "strategies": {
            "push": strategy(thresholds["push"], 8.0, 0.2, 600.0, seed=1),
            "pull": strategy(thresholds["pull"], 14.0, 6.0, 20.0, seed=2),
            "hybrid": strategy(thresholds["hybrid"], 9.0, 2.0, 300.0, seed=3),
            "hybrid-rate": strategy(thresholds["hybrid-rate"], 9.5, 2.2, 350.0, seed=4),
        },
        "posts_by_followers": [row for name, t in thresholds.items() for row in posts(name, t)],
        "table_size": [{"entries": n, "read_p50_ms": 8.0 + i * 0.1, "index_query_p50_ms": 2.0, "table_query_p50_ms": 1.9}
                       for i, n in enumerate((1_000, 10_000, 100_000, 1_000_000))],
        "sweep": sweep,
        "hybrid_threshold": 60,
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    try:
        from PIL import Image
    except ImportError:
        assert data[12:16] == b"IHDR"
        return struct.unpack(">II", data[16:24])
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def assert_readable_pngs(paths: list[Path]) -> None:
    for path in paths:
        width, height = png_size(path)
        assert 1000 <= width <= 1400, (path.name, width)
        assert 500 <= height <= 1000, (path.name, height)
        assert path.stat().st_size > 20_000, f"{path.name} looks empty ({path.stat().st_size} bytes)"


def test_given_full_results_when_plotting_then_all_five_pngs_are_written_and_readable(results, tmp_path):
    written = plot_all(results, tmp_path)

    assert [p.name for p in written] == ALL_FILES
    assert all(p.parent == tmp_path and p.is_file() for p in written)
    assert_readable_pngs(written)


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_given_no_sweep_or_table_size_when_plotting_then_only_the_other_three_are_written(results, tmp_path, how):
    partial = copy.deepcopy(results)
    for key in ("sweep", "table_size"):
        if how == "missing":
            del partial[key]
        else:
            partial[key] = []

    written = plot_all(partial, tmp_path)

    assert written == [tmp_path / name for name in WITHOUT_SWEEP_OR_TABLE_SIZE]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(WITHOUT_SWEEP_OR_TABLE_SIZE)
    assert_readable_pngs(written)


def test_given_only_the_three_base_strategies_and_no_optional_fields_when_plotting_then_nothing_fails(
        results, tmp_path):
    minimal = copy.deepcopy(results)
    del minimal["strategies"]["hybrid-rate"], minimal["hybrid_threshold"], minimal["machine"]
    for s in minimal["strategies"].values():
        s["delivery_lag_celebrity_ms"] = []
        del s["lag_by_stage_p50_ms"]
    for row in minimal["table_size"]:
        del row["index_query_p50_ms"], row["table_query_p50_ms"]

    written = plot_all(minimal, tmp_path)

    assert [p.name for p in written] == ALL_FILES
    assert_readable_pngs(written)
