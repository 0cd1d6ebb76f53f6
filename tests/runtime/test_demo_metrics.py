"""`timeline metrics` counts the demo's posts (issue 26). The demo loader writes its posts as
rows (infra.console.demo_loader), never through the API, so PostsCreated (the API's count)
never sees them; the tweets stream brings each to fanout_dispatch, whose PostsDispatched
counts it. `timeline metrics` shows both lines: the API's posts, and every post dispatched."""

from __future__ import annotations

import pytest

from infra.console import seed as demo
from infra.console.demo_loader import DemoLoader
from infra.console.live_metrics import snapshot

pytestmark = pytest.mark.stack(CelebrityThreshold="9")


class NoQueues:
    def get_queue_attributes(self, **_kwargs):
        raise AssertionError("no queue expected")


def test_given_the_demo_loaded_as_rows_when_timeline_metrics_reads_the_logs_then_its_posts_are_dispatched_posts(
        h, capsys, tmp_path):
    plan = demo.plan(12, 20, threshold=9, seed=3, reactions=6, pictures=0, mean_following=3)
    loader = DemoLoader(h.stack, None)
    loader.write_accounts(plan)
    h.drain()
    capsys.readouterr()
    # When the demo's posts, replies and reposts are written and the pipeline carries them
    loader.write_posts(plan)
    h.drain()
    # (the functions' output, as the local stack writes it to its log folder)
    (tmp_path / "FanoutDispatchFunction.log").write_text(capsys.readouterr().out)
    snap = snapshot(tmp_path, {}, window_s=600, sqs=NoQueues())
    # Then every one of them is a post dispatched, and none is counted as made through the API
    assert snap["posts_dispatched"] == len(plan.posts) + len(plan.reactions) > 0
    assert snap["posts"] == 0
    assert snap["metrics"]["PostsDispatched"]["sum"] == snap["posts_dispatched"]
