"""The fan-out queue's message shapes: one place that writes and reads them."""

from __future__ import annotations

ADD, REMOVE, CELEBRITY_EDGES = "add", "remove", "celebrity_edges"


def add(tweet_id: int, author_id: int, owners: list[int]) -> dict:
    return {"op": ADD, "tweet_id": str(tweet_id), "author_id": str(author_id), "owners": [str(o) for o in owners]}


def remove(tweet_id: int, owners: list[int]) -> dict:
    return {"op": REMOVE, "tweet_id": str(tweet_id), "owners": [str(o) for o in owners]}


def celebrity_edges(celebrity_id: int, after: str | None) -> dict:
    return {"op": CELEBRITY_EDGES, "celebrity_id": str(celebrity_id), "after": after}
