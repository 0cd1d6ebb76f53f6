"""infra.runtime.pollers.DeliveryFaults: the share of stream batches delivered twice and of queue
messages left to come back, drawn from a seeded generator and counted (the chaos soak's)."""

from __future__ import annotations

import pytest

from infra.runtime.pollers import DeliveryFaults


def test_given_shares_then_each_kind_strikes_that_share_of_draws_counted_and_replayable():
    faults = DeliveryFaults(duplicate_stream_batches=0.3, redeliver_messages=0.0, seed=5)
    hits = [faults.strikes("duplicate_stream_batches") for _ in range(1000)]
    assert 250 <= sum(hits) <= 350
    assert not any(faults.strikes("redelivered_messages") for _ in range(100))
    assert faults.injected == {"duplicate_stream_batches": sum(hits), "redelivered_messages": 0}
    again = DeliveryFaults(duplicate_stream_batches=0.3, seed=5)
    assert [again.strikes("duplicate_stream_batches") for _ in range(1000)] == hits


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_given_a_share_outside_0_to_1_then_it_is_refused(share):
    with pytest.raises(ValueError):
        DeliveryFaults(duplicate_stream_batches=share)
