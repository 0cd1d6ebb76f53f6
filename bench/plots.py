"""PNG plots of one benchmark results dict (the JSON the benchmark writes).

`plot_all(results, out_dir)` writes one file per plot below and returns the paths written; a plot
whose data is absent or empty is skipped. Each strategy keeps one colour in every plot, and each
figure carries a caption with the profile, the machine and the run's timestamp.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

DPI = 100  # figure sizes below are in inches: 12 in -> 1200 px
STRATEGY_ORDER = ("push", "pull", "hybrid", "hybrid-rate")
COLOURS = {"push": "#0072B2", "pull": "#E69F00", "hybrid": "#009E73", "hybrid-rate": "#CC79A7"}
SPARE_COLOURS = ("#D55E00", "#56B4E9", "#7F7F7F", "#000000")
TARGET_LAG_MS = 1000.0


def plot_all(results: dict, out_dir: Path) -> list[Path]:
    """Write every plot whose data is present into out_dir; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {
        "read_latency_vs_celebrities.png": plot_read_latency_vs_celebrities,
        "write_units_vs_followers.png": plot_write_units_vs_followers,
        "delivery_lag_cdf.png": plot_delivery_lag_cdf,
        "read_latency_vs_table_size.png": plot_read_latency_vs_table_size,
        "threshold_sweep.png": plot_threshold_sweep,
    }
    written = []
    for name, plot in plots.items():
        fig = plot(results)
        if fig is None:
            continue
        _caption(fig, results)
        path = out_dir / name
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    hot = results.get("hot_keys")
    if hot:
        written.append(plot_hot_keys(hot["before"], hot["after"], out_dir / "hot_keys.png"))
    return written


# --- the plots: each returns a Figure, or None when its data is absent ---------------------------

def plot_read_latency_vs_celebrities(results: dict):
    """Home read p50 (solid) and p99 (dashed, lighter) vs followed celebrities, per strategy."""
    series = [(name, sorted(s.get("read_latency_by_celebrities") or [], key=lambda r: r["celebrities"]))
              for name, s in _strategies(results)]
    series = [(name, rows) for name, rows in series if rows]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(12, 6.5))
    for name, rows in series:
        xs, enough = [r["celebrities"] for r in rows], [r.get("n", 0) >= 3 for r in rows]
        _line_with_points(ax, xs, [r["p50_ms"] for r in rows], enough, _colour(name), f"{name} p50", lw=2.2)
        _line_with_points(ax, xs, [r["p99_ms"] for r in rows], enough, _colour(name), f"{name} p99",
                          lw=1.5, ls="--", alpha=0.5, ms=6)
    ax.set_xlabel("celebrities followed by the reader (count)")
    ax.set_ylabel("home timeline read latency (ms)")
    ax.set_title("Home read latency vs followed celebrities (solid p50, dashed p99)")
    ax.set_ylim(bottom=0)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    hollow_key = Line2D([], [], ls="", marker="o", color="grey", markerfacecolor="white", label="fewer than 3 reads")
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], hollow_key], ncol=2, loc="upper left")
    return fig


def plot_write_units_vs_followers(results: dict):
    """Write units per post vs the author's follower count, with each strategy's threshold."""
    posts = results.get("posts_by_followers") or []
    if not posts:
        return None
    fig, ax = plt.subplots(figsize=(12, 6.5))
    names = _ordered({p["strategy"] for p in posts})
    for i, name in enumerate(names):  # shrinking markers, so strategies with equal costs show as rings
        mine = [p for p in posts if p["strategy"] == name]
        for celebrity, marker, size in ((False, "o", 110), (True, "*", 300)):
            chosen = [p for p in mine if bool(p.get("celebrity")) is celebrity]
            if chosen:
                ax.scatter([p["followers"] for p in chosen], [p["write_units"] for p in chosen],
                           s=size * 0.7 ** i, marker=marker, color=_colour(name), edgecolors="black", linewidths=0.5,
                           label=f"{name}{' (celebrity author)' if celebrity else ''}")
    followers = [p["followers"] for p in posts]
    strategies = dict(_strategies(results))
    for name in names:
        threshold = (strategies.get(name) or {}).get("threshold")
        if threshold is not None and min(followers) <= threshold <= max(followers):
            ax.axvline(threshold, color=_colour(name), ls="--", lw=1.5, label=f"{name} threshold = {threshold:,}")
    _log_scale(ax, "x", followers)
    units = [p["write_units"] for p in posts]
    if min(units) > 0 and max(units) / min(units) > 20:
        _log_scale(ax, "y", units)
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("author's followers (count, log scale)")
    ax.set_ylabel("write units consumed per post (WCU)")
    ax.set_title("Write cost per post vs author's followers (fan-out stops at the threshold)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left")
    return fig


def plot_delivery_lag_cdf(results: dict):
    """CDF of post-to-home-timeline lag per strategy, and the p50 lag split by pipeline stage."""
    strategies = _strategies(results)
    lags = [(name, key, s.get(key) or []) for name, s in strategies
            for key in ("delivery_lag_ms", "delivery_lag_celebrity_ms")]
    lags = [(name, key, values) for name, key, values in lags if values]
    stages = [(name, s["lag_by_stage_p50_ms"]) for name, s in strategies if s.get("lag_by_stage_p50_ms")]
    if not lags and not stages:
        return None
    panels = [(_lag_cdf, lags, 3), (_stage_bars, stages, 2)]
    panels = [(draw, data, width) for draw, data, width in panels if data]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 6.5), squeeze=False,
                             gridspec_kw={"width_ratios": [width for _, _, width in panels]})
    for ax, (draw, data, _) in zip(axes[0], panels, strict=True):
        draw(ax, data)
    fig.suptitle("Delivery lag: from post accepted to visible in a follower's home timeline", fontsize=13)
    return fig


def plot_read_latency_vs_table_size(results: dict):
    """Read p50 (and index/table query p50) vs timeline table entries: should be flat."""
    rows = sorted(results.get("table_size") or [], key=lambda r: r["entries"])
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(12, 6.5))
    xs = [r["entries"] for r in rows]
    lines = (("read_p50_ms", "home read p50", "black", "-"),
             ("index_query_p50_ms", "index query p50", "#56B4E9", "--"),
             ("table_query_p50_ms", "table query p50", "#D55E00", ":"))
    tops = []
    for key, label, colour, style in lines:
        points = [(x, r[key]) for x, r in zip(xs, rows, strict=True) if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), color=colour, ls=style, lw=2, marker="o", label=label)
            tops.append(max(y for _, y in points))
    _log_scale(ax, "x", xs)
    ax.set_ylim(0, max(tops, default=1) * 1.4 or 1)
    ax.set_xlabel("entries in the home timeline table (count, log scale)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Read latency vs table size (flat = reads don't slow down as the table grows)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left")
    return fig


def plot_threshold_sweep(results: dict):
    """Cost, and the most-followed author's write requests and visibility time, vs the threshold."""
    rows = sorted(results.get("sweep") or [], key=lambda r: r["threshold"])
    if not rows:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8.5), sharex=True)
    colour = _colour("hybrid")
    _measured_and_model(top, rows, "cost_per_million_ops_usd", colour, "o", "cost")
    top.set_ylabel("cost per million operations (USD)")
    top.set_ylim(bottom=0)
    top.set_title("Hybrid threshold sweep (filled = measured, hollow = model fill-in)")

    _measured_and_model(bottom, rows, "tail_write_requests", "#0072B2", "s", "tail post: write requests")
    _log_scale(bottom, "y", [r["tail_write_requests"] for r in rows if r.get("tail_write_requests") is not None])
    bottom.set_ylabel("write requests per post (count, log scale)")
    twin = bottom.twinx()
    _measured_and_model(twin, rows, "tail_visible_s", "#D55E00", "^", "tail post: time to visible")
    twin.set_ylabel("time until visible to all followers (s)")

    rule = results.get("hybrid_threshold")
    if rule is not None:
        for ax in (top, bottom):
            ax.axvline(rule, color="black", ls="--", lw=1.2, label=f"hybrid (rule) = {rule:,}" if ax is top else None)
        top.text(rule, 0.97, " hybrid (rule)", transform=top.get_xaxis_transform(), va="top", fontsize=10)
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="both")
    _log_scale(bottom, "x", [r["threshold"] for r in rows])
    bottom.set_xlabel("celebrity threshold (followers, log scale)")
    top.legend(loc="upper left")
    handles = bottom.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    bottom.legend(handles=handles, loc="upper left")
    return fig


# --- helpers ------------------------------------------------------------------------------------

def _lag_cdf(ax, lags) -> None:
    """Empirical CDF per strategy: non-celebrity authors solid, celebrity authors dotted."""
    for name, key, values in lags:
        shown = sorted(v for v in values if v > 0)  # a log axis has no place for a zero lag
        within = sum(v <= TARGET_LAG_MS for v in values) / len(values)
        who = ", celebrity" if key == "delivery_lag_celebrity_ms" else ""
        label = f"{name}{who} (n={len(values)}, {within:.0%} ≤ 1 s)"
        if len(shown) < len(values):
            label += f", {len(values) - len(shown)} at 0 not shown"
        if shown:
            zeros = len(values) - len(shown)
            ys = [(zeros + i + 1) / len(values) for i in range(len(shown))]
            ax.step(shown, ys, where="post", color=_colour(name), lw=2,
                    ls=":" if key == "delivery_lag_celebrity_ms" else "-", label=label)
    ax.axvline(TARGET_LAG_MS, color="crimson", lw=1.5, label="1 s target")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("delivery lag (ms, log scale)")
    ax.set_ylabel("fraction of posts delivered within lag")
    ax.set_title("Delivery lag CDF (solid: others, dotted: celebrity authors)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=9)


def _stage_bars(ax, stages) -> None:
    """One stacked horizontal bar per strategy: p50 lag of each pipeline stage."""
    stage_names = list(dict.fromkeys(stage for _, by_stage in stages for stage in by_stage))
    palette = plt.get_cmap("viridis")
    totals = [sum(by_stage.values()) for _, by_stage in stages]
    for i, stage in enumerate(stage_names):
        shade = palette(0.15 + 0.75 * i / max(len(stage_names) - 1, 1))
        lefts = [sum(by_stage.get(s, 0) for s in stage_names[:i]) for _, by_stage in stages]
        widths = [by_stage.get(stage, 0) for _, by_stage in stages]
        bars = ax.barh(range(len(stages)), widths, left=lefts, color=shade, edgecolor="white", label=stage)
        dark = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5
        labels = [f"{w:.0f}" if w >= 0.12 * max(totals) else "" for w in widths]
        ax.bar_label(bars, labels=labels, label_type="center", fontsize=8, color="white" if dark else "black")
    for y, total in enumerate(totals):
        ax.text(total, y, f" {total:.0f} ms", va="center", fontsize=9)
    ax.set_yticks(range(len(stages)), [name for name, _ in stages])
    for tick, (name, _) in zip(ax.get_yticklabels(), stages, strict=True):
        tick.set_color(_colour(name))
        tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, max(totals) * 1.25 or 1)
    ax.set_xlabel("p50 lag per stage (ms)")
    ax.set_title("Where the lag goes (p50 per stage)")
    ax.legend(loc="lower right", fontsize=8, title="stage", title_fontsize=8)


def _measured_and_model(ax, rows, key, colour, marker, label) -> None:
    """A line through every sweep point; measured points filled, model fill-in points hollow."""
    points = [r for r in rows if r.get(key) is not None]
    if points:
        _line_with_points(ax, [r["threshold"] for r in points], [r[key] for r in points],
                          [bool(r.get("measured")) for r in points], colour, label, marker=marker, lw=1.5)


def _line_with_points(ax, xs, ys, filled, colour, label, marker="o", ms=8, **line) -> None:
    """A labelled line whose points are filled where `filled` and hollow elsewhere."""
    ax.plot(xs, ys, color=colour, label=label, marker=marker, ms=ms, markevery=[], **line)  # marker: legend only
    alpha = line.get("alpha", 1.0)
    for solid in (True, False):
        chosen = [(x, y) for x, y, f in zip(xs, ys, filled, strict=True) if f is solid]
        if chosen:
            ax.plot(*zip(*chosen, strict=True), ls="", marker=marker, ms=ms, color=colour, alpha=alpha,
                    markerfacecolor=colour if solid else "white")


def _log_scale(ax, axis: str, values) -> None:
    """Log scale, or symlog (linear below 1) when a value is zero or negative."""
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    if values and min(values) > 0:
        setter("log")
    else:
        setter("symlog", linthresh=1)
        (ax.set_xlim if axis == "x" else ax.set_ylim)(min(values, default=0) - 0.5, None)  # no empty negative half


def _strategies(results: dict) -> list[tuple[str, dict]]:
    strategies = results.get("strategies") or {}
    return [(name, strategies[name] or {}) for name in _ordered(strategies)]


def _ordered(names) -> list[str]:
    known = [n for n in STRATEGY_ORDER if n in names]
    return known + sorted(n for n in names if n not in STRATEGY_ORDER)


def _colour(name: str) -> str:
    if name in COLOURS:
        return COLOURS[name]
    return SPARE_COLOURS[sum(map(ord, name)) % len(SPARE_COLOURS)]  # stable across plots and runs


def _caption(fig, results: dict) -> None:
    """Lay the figure out leaving a strip at the bottom, and write profile, machine and run time in it."""
    machine = results.get("machine") or {}
    text = (f"profile: {results.get('profile', '?')}  ·  {machine.get('cpus', '?')} CPUs, "
            f"Python {machine.get('python', '?')}, {machine.get('platform', '?')}  ·  "
            f"run {results.get('created_at', '?')}")
    fig.tight_layout(rect=(0, 0.035, 1, 1))
    fig.text(0.01, 0.012, text, fontsize=8, color="dimgrey", ha="left", va="bottom")


# --- hot keys (bench.hot_keys): not part of plot_all, whose plots read a results dict ----------

def plot_hot_keys(rows_before: list[dict], rows_after: list[dict], path: Path) -> Path:
    """Horizontal bars of each key class's share of its partition's limit, before and after
    (log scale), with the 0.5 target and the 1.0 limit; a class one design lacks has no bar
    there. Writes a PNG to `path` and returns it."""
    before = {r["key"]: r["share_of_limit"] for r in rows_before}
    after = {r["key"]: r["share_of_limit"] for r in rows_after}
    keys = list(dict.fromkeys([r["key"] for r in rows_after] + [r["key"] for r in rows_before]))
    shown = [v for v in [*before.values(), *after.values()] if v > 0]
    floor = min(shown, default=1e-3) / 2  # a log axis has no place for 0: such bars start and end here
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(keys) + 2.0))
    height = 0.38
    for offset, (label, shares, colour) in enumerate((("before", before, "#D55E00"), ("after", after, "#009E73"))):
        ys = [i + (offset - 0.5) * height for i, key in enumerate(keys) if key in shares]
        widths = [max(shares[key], floor) for key in keys if key in shares]
        bars = ax.barh(ys, [w - floor for w in widths], left=floor, height=height, color=colour, label=label)
        ax.bar_label(bars, labels=[f" {shares[k]:.2g}" for k in keys if k in shares], fontsize=8)
    ax.axvline(0.5, color="black", ls="--", lw=1.2, label="target (0.5)")
    ax.axvline(1.0, color="crimson", lw=1.5, label="partition limit (1.0)")
    ax.set_xscale("log")
    ax.set_xlim(floor, max(shown, default=1.0) * 4)
    ax.set_yticks(range(len(keys)), keys)
    ax.invert_yaxis()
    ax.set_xlabel("peak load / one partition's limit (max of RCU/3,000 and WCU/1,000; log scale)")
    ax.set_title("Hot keys: share of a partition's limit per key class, before and after")
    ax.grid(alpha=0.3, which="both", axis="x")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.text(0.01, 0.01, "model output (bench.hot_keys), not a measurement", fontsize=8, color="dimgrey")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
