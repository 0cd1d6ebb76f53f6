"""The architecture picture in README.md: docs/architecture.png, drawn from the lists below.

Regenerate it after changing the lists, from any folder (no network, no graphviz: only
matplotlib, which the project's .venv has; `.venv/bin/python` if it is not active):

    python docs/architecture.py          # writes docs/architecture.png (a palette PNG, about 80 KB)
    python docs/architecture.py --svg    # and docs/architecture.svg

The picture is data: NODES are boxes placed by their centre (x, y) in inches on a 17 x 10.4 inch
canvas (origin bottom left), each in one of the LANES; EDGES join two nodes and are coloured by
the flow they belong to (FLOWS). To move a box, change its x/y: straight edges follow it (a
horizontal edge is drawn wherever the two boxes overlap vertically, a vertical one where they
overlap horizontally; `shift` moves such an edge sideways, to draw two in parallel). An edge may
instead name the sides it leaves and enters (`src_side`, `dst_side`: l, r, t, b) and where on
them (`src_off`, `dst_off`: inches from the side's centre), pass through `via` points (an
orthogonal route around other boxes), and place its label (`label_at`: the fraction of the way
along its longest segment; `label_dx`/`label_dy` nudge it). A box taller than 2 inches (the API
function) has its text at the top. Look at the PNG after every change: nothing checks overlaps.

Names are template.yaml's logical ids; keep them in step with the template.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import itertools

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath

OUT = Path(__file__).resolve().parent / "architecture.png"
WIDTH, HEIGHT = 17.0, 10.4  # inches
DPI = 94  # 17 in -> 1598 px
FONT = 9.0

# ---------------------------------------------------------------------------------------- style

# service -> (border and tag colour, fill, tag); AWS's own category colours, lightened for the fills
SERVICES = {
    "client": ("#545B64", "#F4F5F7", "client"),
    "apigw": ("#7D4CDB", "#F3EEFD", "API Gateway"),
    "cognito": ("#C7254E", "#FCEEF2", "Cognito"),
    "lambda": ("#D86613", "#FFF3E8", "Lambda"),
    "dynamodb": ("#2E5BBA", "#EDF2FC", "DynamoDB"),
    "s3": ("#3F8624", "#EEF6EA", "S3"),
    "sqs": ("#B0084D", "#FBEAF1", "SQS"),
    "dlq": ("#B0084D", "#FFFFFF", "SQS"),
    "secrets": ("#C7254E", "#FCEEF2", "Secrets Manager"),
    "cloudwatch": ("#B0084D", "#FBEAF1", "CloudWatch"),
    "note": ("#6B7280", "#FFFDF3", ""),
    "group": ("#9AA5B1", "none", ""),  # a dashed frame around boxes, drawn behind the edges
}

# flow -> (colour, line style, legend text)
FLOWS = {
    "request": ("#37474F", "-", "request / auth"),
    "write": ("#1565C0", "-", "write path"),
    "read": ("#2E7D32", "-", "home read, read-time merge"),
    "fanout": ("#E8710A", "-", "fan-out (streams, queue, worker)"),
    "media": ("#8E24AA", "-", "media"),
    "support": ("#90A4AE", "-", "support reads and writes"),
    "failure": ("#C62828", (0, (4, 2.5)), "failures (DLQs, on-failure destination)"),
}

# name, x from, x to (inches); drawn as alternating bands with the name on top
LANES = [
    ("Clients", 0.15, 2.27),
    ("Edge", 2.27, 5.05),
    ("Compute", 5.05, 7.85),
    ("Data", 7.85, 11.25),
    ("Async pipeline", 11.25, 16.85),
]
LANE_TOP, LANE_BOTTOM = 9.55, 0.95


# ---------------------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Node:
    id: str
    title: str
    detail: str  # smaller lines under the title; "\n" splits them
    service: str  # a key of SERVICES
    x: float  # centre, inches
    y: float
    w: float = 1.95
    h: float = 0.62


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    flow: str  # a key of FLOWS
    label: str = ""  # "\n" splits lines
    src_side: str = ""  # l, r, t, b; "" = chosen from the boxes' positions
    dst_side: str = ""
    src_off: float = 0.0  # inches along the side, from its centre (+ is up / right): explicit sides
    dst_off: float = 0.0  # or boxes that do not overlap (a diagonal)
    shift: float = 0.0  # a straight edge between overlapping boxes, moved up / right (parallel edges)
    via: tuple[tuple[float, float], ...] = ()
    label_at: float = 0.5
    label_dx: float = 0.0
    label_dy: float = 0.0


# lane columns: the x of each column's boxes
X_CLIENT, X_EDGE, X_API, X_DATA, X_ASYNC, X_SIDE = 1.1, 3.6, 6.3, 9.65, 12.975, 15.55

NODES = [
    # clients
    Node("Clients", "", "", "group", X_CLIENT, 8.225, w=1.8, h=1.85),  # both clients: the media edges leave it
    Node("WebClient", "web client", "web/, served at / locally", "client", X_CLIENT, 8.7, w=1.6),
    Node("Curl", "curl, scripts", "any HTTP client", "client", X_CLIENT, 7.75, w=1.6),
    # edge
    Node("HttpApi", "HttpApi", "HTTP API, routes /v1/*\nthrottling, CORS", "apigw", X_EDGE, 8.25, w=1.9, h=0.95),
    Node("UserPool", "UserPool", "+ UserPoolClient\nsign-up, tokens, JWKS", "cognito", X_EDGE, 6.35, w=1.9, h=0.9),
    # compute: one tall box, so each table gets a straight arrow
    Node("ApiFunction", "ApiFunction", "functions/api\npowertools resolver\nevery /v1 route\n\n"
         "post: the post and the\nauthor's own entry in\none transaction\n\nfollow: both edges and\n"
         "both counters in one\ntransaction\n\nhome read: timeline +\ncelebrities' newest\n"
         "posts, merged by id,\nthen hydrated", "lambda",
         X_API, 5.8, w=1.5, h=6.4),
    # data
    Node("UsersTable", "UsersTable", "profiles, celebrity flag", "dynamodb", X_DATA, 8.7),
    Node("GraphTable", "GraphTable", "follow, block, mute edges", "dynamodb", X_DATA, 7.9),
    Node("TweetsTable", "TweetsTable", "GSIs ByAuthor, ByRepostOf", "dynamodb", X_DATA, 7.05, h=0.72),
    Node("TimelinesTable", "TimelinesTable", "capped near TimelineMax", "dynamodb", X_DATA, 6.0, h=0.72),
    Node("IdempotencyTable", "IdempotencyTable", "POST /v1/tweets retries", "dynamodb", X_DATA, 5.05, h=0.56),
    Node("RateLimitsTable", "RateLimitsTable", "posts, sign-ins per minute", "dynamodb", X_DATA, 4.35, h=0.56),
    Node("CursorSecret", "CursorSecret", "HMAC key for cursors", "secrets", X_DATA, 3.65, h=0.56),
    Node("MediaTable", "MediaTable", "pending, ready, rejected", "dynamodb", X_DATA, 2.85),
    Node("MediaBucket", "MediaBucket", "private: uploads/,\noriginals/, variants/", "s3", X_DATA, 1.75, h=0.8),
    # async pipeline
    Node("FanoutDispatchFunction", "FanoutDispatchFunction", "functions/fanout_dispatch\nfollower pages; skips celebrities",
         "lambda", X_ASYNC, 7.9, w=2.25, h=0.9),
    Node("FanoutQueue", "FanoutQueue", "bounded, idempotent messages", "sqs", X_ASYNC, 6.95, w=2.25, h=0.6),
    Node("FanoutWorkerFunction", "FanoutWorkerFunction", "functions/fanout_worker\nadd, remove, trim entries",
         "lambda", X_ASYNC, 6.0, w=2.25, h=0.9),
    Node("DispatchFailureQueue", "DispatchFailureQueue", "stream batches that\nkept failing", "dlq", X_SIDE, 8.75,
         w=2.2, h=0.72),
    Node("FanoutDeadLetterQueue", "FanoutDeadLetterQueue", "after 5 receives", "dlq", X_SIDE, 6.95, w=2.2, h=0.6),
    Node("Celebrities", "celebrities", "followers >= CelebrityThreshold:\nno fan-out; ApiFunction merges\n"
         "their posts from ByAuthor", "note", X_SIDE, 5.55, w=2.2, h=1.0),
    Node("Observability", "alarms, Dashboard", "7 alarms: both DLQs, dispatch\nfailures and iterator age,\n"
         "API errors, 500s, p99 latency", "cloudwatch", X_SIDE, 4.05, w=2.2, h=1.0),
    Node("MediaProcessorFunction", "MediaProcessorFunction", "functions/media_processor\nPillow checks, WebP preview",
         "lambda", X_ASYNC, 2.85, w=2.25, h=0.9),
    Node("MediaQueue", "MediaQueue", "S3 notifications", "sqs", X_ASYNC, 1.75, w=2.25, h=0.6),
    Node("MediaDeadLetterQueue", "MediaDeadLetterQueue", "after 5 receives", "dlq", X_SIDE, 1.75, w=2.2, h=0.6),
]

EDGES = [
    # request path
    Edge("WebClient", "HttpApi", "request", "HTTPS\nBearer JWT", label_dy=-0.32),
    Edge("Curl", "HttpApi", "request"),
    Edge("UserPool", "HttpApi", "request", "JWT authorizer\nCognitoJwt"),
    Edge("HttpApi", "ApiFunction", "request", "invoke"),
    Edge("ApiFunction", "UserPool", "request", "sign-up,\nsign-in"),
    # write path: follow (edges and counters) and post (post and the author's own entry), one transaction each
    Edge("ApiFunction", "UsersTable", "write", "follow: counters"),
    Edge("ApiFunction", "GraphTable", "write", "follow: edges"),
    Edge("ApiFunction", "TweetsTable", "write", "write path: post", shift=0.17),
    Edge("ApiFunction", "TimelinesTable", "write", "own entry, same txn", shift=0.17),
    # home read and the read-time merge
    Edge("TweetsTable", "ApiFunction", "read", "read-time merge", shift=-0.17),
    Edge("TimelinesTable", "ApiFunction", "read", "home read", shift=-0.17),
    # support
    Edge("ApiFunction", "IdempotencyTable", "support", "idempotency"),
    Edge("ApiFunction", "RateLimitsTable", "support", "rate limits"),
    Edge("CursorSecret", "ApiFunction", "support", "cursor key"),
    # fan-out: three table streams -> dispatch -> queue -> worker -> timelines
    Edge("UsersTable", "FanoutDispatchFunction", "fanout", "stream", dst_off=0.25, label_at=0.45),
    Edge("GraphTable", "FanoutDispatchFunction", "fanout", "stream", label_at=0.45),
    Edge("TweetsTable", "FanoutDispatchFunction", "fanout", "stream", dst_off=-0.25, label_at=0.45),
    Edge("FanoutDispatchFunction", "FanoutQueue", "fanout", "fan-out", label_dx=0.38),
    Edge("FanoutQueue", "FanoutWorkerFunction", "fanout", "batches of 10", label_dx=0.6),
    Edge("FanoutWorkerFunction", "TimelinesTable", "fanout", "fan-out:\npush entries"),
    Edge("FanoutDispatchFunction", "DispatchFailureQueue", "failure", src_side="t", dst_side="l", src_off=0.6,
         via=((X_ASYNC + 0.6, 8.75),)),
    Edge("FanoutQueue", "FanoutDeadLetterQueue", "failure"),
    # media: presigned POST straight to S3, S3 -> MediaQueue -> processor -> originals/, variants/
    Edge("Clients", "MediaBucket", "media", "media: presigned POST to uploads/", src_side="b", dst_side="l",
         src_off=0.35, dst_off=0.15, via=((X_CLIENT + 0.35, 1.9),), label_at=0.45),
    Edge("MediaBucket", "Clients", "media", "presigned GET URLs of originals/, variants/", src_side="l",
         dst_side="b", src_off=-0.2, dst_off=-0.35, via=((X_CLIENT - 0.35, 1.55),)),
    Edge("ApiFunction", "MediaTable", "media", "POST /v1/media:\npending upload"),
    Edge("MediaBucket", "MediaQueue", "media", "ObjectCreated\nuploads/*"),
    Edge("MediaQueue", "MediaProcessorFunction", "media", "batches of 5", label_dx=0.55),
    Edge("MediaProcessorFunction", "MediaTable", "media", "ready or\nrejected"),
    Edge("MediaProcessorFunction", "MediaBucket", "media", "originals/,\nvariants/", src_off=-0.3, dst_off=0.2,
         label_at=0.55),
    Edge("MediaQueue", "MediaDeadLetterQueue", "failure"),
]

TITLE = "Serverless home timelines: hybrid fan-out on AWS"
SUBTITLE = ("Names are template.yaml's logical ids. Ordinary authors' posts are pushed to followers' "
            "timelines; celebrities' posts are merged when a timeline is read.")


# ---------------------------------------------------------------------------------------- drawing

def _box(node: Node) -> tuple[float, float, float, float]:
    return node.x - node.w / 2, node.x + node.w / 2, node.y - node.h / 2, node.y + node.h / 2


def _anchor(node: Node, side: str, off: float) -> tuple[float, float]:
    left, right, bottom, top = _box(node)
    return {
        "l": (left, node.y + off), "r": (right, node.y + off),
        "b": (node.x + off, bottom), "t": (node.x + off, top),
    }[side]


def _sides(a: Node, b: Node) -> tuple[str, str, float | None]:
    """The sides an edge without explicit sides leaves and enters, and the coordinate it runs
    along: straight across the overlap of the two boxes when they overlap vertically (a
    horizontal edge) or horizontally (a vertical one); None when they do not overlap."""
    al, ar, ab, at = _box(a)
    bl, br, bb, bt = _box(b)
    low, high = max(ab, bb), min(at, bt)
    if low < high:  # side by side
        return ("r", "l", (low + high) / 2) if a.x < b.x else ("l", "r", (low + high) / 2)
    low, high = max(al, bl), min(ar, br)
    if low < high:  # one above the other
        return ("b", "t", (low + high) / 2) if a.y > b.y else ("t", "b", (low + high) / 2)
    return ("r", "l", None) if a.x < b.x else ("l", "r", None)


def _points(edge: Edge, nodes: dict[str, Node]) -> list[tuple[float, float]]:
    a, b = nodes[edge.src], nodes[edge.dst]
    src_side, dst_side, at = _sides(a, b)
    if edge.src_side or edge.dst_side or at is None:
        # sides as given (or as the boxes' positions say), offsets from the sides' centres
        start = _anchor(a, edge.src_side or src_side, edge.src_off)
        end = _anchor(b, edge.dst_side or dst_side, edge.dst_off)
        return [start, *edge.via, end]
    at += edge.shift  # straight across the boxes' overlap
    if src_side in "lr":
        return [_anchor(a, src_side, at - a.y), *edge.via, _anchor(b, dst_side, at - b.y)]
    return [_anchor(a, src_side, at - a.x), *edge.via, _anchor(b, dst_side, at - b.x)]


def _label_position(points: list[tuple[float, float]], edge: Edge) -> tuple[float, float]:
    segments = list(itertools.pairwise(points))
    (x0, y0), (x1, y1) = max(segments, key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
    t = edge.label_at
    return x0 + (x1 - x0) * t + edge.label_dx, y0 + (y1 - y0) * t + edge.label_dy


def draw(out: Path = OUT, svg: bool = False) -> list[Path]:
    nodes = {n.id: n for n in NODES}
    fig = plt.figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, HEIGHT)
    ax.axis("off")

    ax.text(0.25, HEIGHT - 0.32, TITLE, fontsize=FONT + 6, fontweight="bold", color="#1F2933", va="center")
    ax.text(0.25, HEIGHT - 0.68, SUBTITLE, fontsize=FONT + 0.5, color="#52606D", va="center")

    for i, (name, x0, x1) in enumerate(LANES):
        ax.add_patch(Rectangle((x0, LANE_BOTTOM), x1 - x0, LANE_TOP - LANE_BOTTOM,
                               facecolor="#F7F8FA" if i % 2 == 0 else "#FFFFFF", edgecolor="#E4E7EB", lw=0.8,
                               zorder=0))
        ax.text((x0 + x1) / 2, LANE_TOP - 0.2, name.upper(), ha="center", va="center", fontsize=FONT,
                fontweight="bold", color="#7B8794", zorder=1)

    for node in NODES:
        if node.service == "group":
            left, _, bottom, _ = _box(node)
            border, fill, _ = SERVICES[node.service]
            ax.add_patch(FancyBboxPatch((left, bottom), node.w, node.h, boxstyle="round,pad=0,rounding_size=0.1",
                                        facecolor=fill, edgecolor=border, lw=1.0, linestyle=(0, (2, 2)), zorder=1))

    for edge in EDGES:
        colour, style, _ = FLOWS[edge.flow]
        points = _points(edge, nodes)
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
        width = 1.2 if edge.flow == "support" else 1.6
        ax.add_patch(FancyArrowPatch(path=MplPath(points, codes), arrowstyle="-|>", mutation_scale=11,
                                     color=colour, lw=width, linestyle=style, joinstyle="miter",
                                     shrinkA=0, shrinkB=1, zorder=2))
        if edge.label:
            lx, ly = _label_position(points, edge)
            ax.text(lx, ly, edge.label, ha="center", va="center", fontsize=FONT - 1, color=colour,
                    fontweight="bold" if edge.flow in ("write", "read", "fanout", "media") else "normal",
                    bbox={"boxstyle": "round,pad=0.18", "facecolor": "white", "edgecolor": "none", "alpha": 0.95},
                    zorder=4)

    for node in NODES:
        if node.service == "group":
            continue
        border, fill, tag = SERVICES[node.service]
        left, _, bottom, _ = _box(node)
        dashed = node.service in ("dlq", "note")
        ax.add_patch(FancyBboxPatch((left, bottom), node.w, node.h, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=fill, edgecolor=border, lw=1.4 if not dashed else 1.1,
                                    linestyle=(0, (3, 2)) if dashed else "-", zorder=3))
        lines = node.detail.split("\n") if node.detail else []
        tall = node.h > 2  # the tall api box: text at its top
        top_y = node.y + node.h / 2 - 0.22 if tall else node.y + (len(lines) * 0.165) / 2 + 0.02
        ax.text(node.x, top_y, node.title, ha="center", va="center", fontsize=FONT + 0.5, fontweight="bold",
                color="#1F2933", zorder=5)
        for i, line in enumerate(lines):
            ax.text(node.x, top_y - 0.2 - i * 0.165, line, ha="center", va="center", fontsize=FONT - 1,
                    color="#3E4C59", zorder=5)
        if tag:
            ax.text(left + node.w - 0.05, node.y - node.h / 2 + 0.04, tag, ha="right", va="bottom",
                    fontsize=FONT - 2.5, color=border, zorder=5)

    # legend: one line per flow, along the bottom, each entry as wide as its text
    renderer = fig.canvas.get_renderer()
    x = 0.3
    for colour, style, text in FLOWS.values():
        ax.plot([x, x + 0.45], [0.5, 0.5], color=colour, lw=2, linestyle=style, solid_capstyle="butt")
        label = ax.text(x + 0.55, 0.5, text, va="center", fontsize=FONT - 0.5, color="#3E4C59")
        x += 0.55 + label.get_window_extent(renderer).width / DPI + 0.45

    ax.text(WIDTH - 0.25, 0.15, "generated by docs/architecture.py", ha="right", va="bottom",
            fontsize=FONT - 2, color="#9AA5B1")

    out.parent.mkdir(parents=True, exist_ok=True)
    _save_png(fig, out)
    written = [out]
    if svg:
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: small, searchable
            fig.savefig(out.with_suffix(".svg"), facecolor="white")
        written.append(out.with_suffix(".svg"))
    plt.close(fig)
    return written


def _save_png(fig, out: Path) -> None:
    """A palette PNG (flat colours: a quarter of the size of the RGBA one, no visible loss)."""
    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=192, dither=Image.Dither.NONE).save(out, optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw docs/architecture.png from the lists in this file.")
    parser.add_argument("--svg", action="store_true", help="also write docs/architecture.svg")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the PNG")
    args = parser.parse_args(argv)
    for path in draw(args.out, svg=args.svg):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
