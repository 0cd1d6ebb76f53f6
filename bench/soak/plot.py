"""The soak over time: home-read and write latency per 10-second bucket, with every kill and
poller restart marked where it struck (soak.png next to soak.json)."""

from __future__ import annotations

from pathlib import Path

from bench.soak.client import quantile

BUCKET_S = 10.0
WRITES = ("post", "reply", "image_post", "repost", "unrepost", "delete", "follow", "follow_without_reposts",
          "switch_reposts", "unfollow", "block", "unblock", "mute", "unmute")


def over_time(series: list[tuple[float, str, float]], events: list[tuple[float, str]], started: float,
              duration_s: float) -> list[dict]:
    """Per 10-second bucket of the load: home reads and writes (count, p50, p99 in ms) and the
    kills and restarts that struck in it."""
    buckets = []
    for n in range(int(duration_s // BUCKET_S) + 1):
        lo, hi = started + n * BUCKET_S, started + (n + 1) * BUCKET_S
        if started + duration_s - lo < BUCKET_S / 2:  # the run's last moments: too few to say much
            break
        row: dict = {"t": n * BUCKET_S}
        for name, kinds in (("home", ("home",)), ("writes", WRITES)):
            values = [s for t, kind, s in series if lo <= t < hi and kind in kinds]
            row[name] = {"count": len(values), "p50_ms": round(quantile(values, 0.5) * 1000, 1) if values else None,
                         "p99_ms": round(quantile(values, 0.99) * 1000, 1) if values else None}
        row["faults"] = [[round(t - started, 1), what] for t, what in events if lo <= t < hi]
        buckets.append(row)
    return buckets


def plot(report: dict, path: Path) -> Path | None:
    """soak.png from the report's `over_time`; None without it."""
    rows = report.get("over_time")
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, marks) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    t = [r["t"] + BUCKET_S / 2 for r in rows]
    for name, colour in (("home", "#0072B2"), ("writes", "#D55E00")):
        for q, style in (("p50_ms", "-"), ("p99_ms", ":")):
            lat.plot(t, [r[name][q] for r in rows], style, color=colour, label=f"{name} {q[:3]}")
    lat.set_yscale("log")
    lat.set_ylabel("latency per 10 s (ms)")
    lat.legend(loc="upper right", ncol=4, fontsize=8)
    lat.grid(alpha=0.3)
    kinds = sorted({what for r in rows for _, what in r["faults"]})
    for y, kind in enumerate(kinds):
        xs = [at for r in rows for at, what in r["faults"] if what == kind]
        marks.plot(xs, [y] * len(xs), "|", markersize=12, color="#000000" if kind == "poller_restart" else "#CC79A7")
    marks.set_yticks(range(len(kinds)), [k.removeprefix("kill_").removesuffix("Function") for k in kinds], fontsize=8)
    marks.set_xlabel("seconds of load")
    marks.set_ylim(-0.5, max(0.5, len(kinds) - 0.5))
    faults = report["faults"]
    fig.suptitle(f"Chaos soak, {report['profile']} profile, seed {report['seed']}: "
                 f"lost {report['lost']}, duplicated {report['duplicated']}, "
                 f"mismatched timelines {report['mismatched_timelines']}, counters off {report['counters_off']}",
                 fontsize=11)
    fig.text(0.01, 0.005, f"{report['measured']}, {report['machine']}; also throttled "
             f"{faults['throttled']['count']}, conflicts {faults['conflicts']['count']}, batches twice "
             f"{faults['duplicate_stream_batches']['count']}, redelivered {faults['redelivered_messages']['count']}, "
             f"half-applied {faults['half_applied_batches']['count']}, answers dropped "
             f"{faults['answers_dropped']['count']} (not shown by time)", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
