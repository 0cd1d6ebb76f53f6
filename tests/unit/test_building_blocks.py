"""Ids, cursors, character counting and batch-write retries: the pieces the flows rely on."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "timeline" / "python"))

from timeline import ids
from timeline.cursors import CursorCodec
from timeline.errors import InvalidInput
from timeline.store.batching import BatchWriter, UnprocessedItemsError
from timeline.text import check_post_text, count_characters


# ------------------------------------------------------------------ ids
def test_given_ids_minted_later_then_they_sort_later():
    gen = ids.IdGenerator(generator_id=7)
    minted = [gen.next_id() for _ in range(10_000)]
    assert minted == sorted(minted) and len(set(minted)) == len(minted)
    assert all(0 < i < 2 ** 63 for i in minted)


def test_given_many_threads_minting_then_no_id_repeats():
    gen, out = ids.IdGenerator(), []
    lock = threading.Lock()

    def mint():
        mine = [gen.next_id() for _ in range(2000)]
        with lock:
            out.extend(mine)
    threads = [threading.Thread(target=mint) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 16_000


def test_given_the_clock_steps_back_then_ids_still_increase():
    now = [1_800_000_000.0]
    gen = ids.IdGenerator(generator_id=1, clock=lambda: now[0])
    first = gen.next_id()
    now[0] -= 5
    assert gen.next_id() > first


def test_given_an_id_then_its_timestamp_is_when_it_was_minted():
    gen = ids.IdGenerator(clock=lambda: 1_800_000_000.123)
    assert ids.timestamp_ms(gen.next_id()) == 1_800_000_000_123


# ------------------------------------------------------------------ cursors
def test_given_a_cursor_then_it_round_trips_only_for_its_reader_and_scope():
    codec = CursorCodec(lambda: b"k" * 32)
    cursor = codec.encode(reader=1, scope="home", position="42")
    assert codec.decode(cursor, reader=1, scope="home") == "42"
    for reader, scope in ((2, "home"), (1, "user:1")):
        with pytest.raises(InvalidInput):
            codec.decode(cursor, reader=reader, scope=scope)


def test_given_a_cursor_signed_with_another_key_then_it_is_refused():
    theirs = CursorCodec(lambda: b"other-key").encode(reader=1, scope="home", position="42")
    with pytest.raises(InvalidInput):
        CursorCodec(lambda: b"our-key").decode(theirs, reader=1, scope="home")


# ------------------------------------------------------------------ text
@pytest.mark.parametrize("text, expected", [
    ("hello", 5),
    ("\U0001F44D\U0001F3FF", 1),                 # thumbs up, dark skin tone
    ("\U0001F469\u200D\U0001F4BB", 1),           # woman technologist (ZWJ sequence)
    ("\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", 1),  # Scotland flag
    ("a\u0300\u0301\u0302", 1),                  # stacked combining marks
    ("\u0928\u092E\u0938\u094D\u0924\u0947", 3),  # Devanagari namaste: 3 clusters
    ("\r\n", 1),
])
def test_given_text_then_characters_are_counted_as_a_reader_sees_them(text, expected):
    assert count_characters(text) == expected


def test_given_crlf_then_it_is_normalized_to_lf():
    assert check_post_text("a\r\nb") == "a\nb"


# ------------------------------------------------------------------ batch writes
class ThrottlingDynamoDB:
    """A stand-in for the DynamoDB client that leaves items unprocessed a few times, as a
    throttled table does (moto never does, so this is the one place a fake is needed)."""

    def __init__(self, refusals: int, processes_one: bool = True):
        self.refusals, self.calls, self.processes_one = refusals, [], processes_one

    def batch_write_item(self, RequestItems):
        (table, requests), = RequestItems.items()
        self.calls.append(len(requests))
        if self.refusals:
            self.refusals -= 1
            return {"UnprocessedItems": {table: requests[1:] if self.processes_one else requests}}
        return {"UnprocessedItems": {}}


class FakeModel:
    class Meta:
        table_name = "t"

    def __init__(self, n):
        self.n = n

    def serialize(self, null_check=True):
        return {"pk": {"N": str(self.n)}}


def test_given_unprocessed_items_then_they_are_retried_with_growing_backoff():
    client, sleeps = ThrottlingDynamoDB(refusals=3), []
    BatchWriter(client, sleep=sleeps.append, base_delay=0.1, concurrency=1).put(
        FakeModel, [FakeModel(n) for n in range(30)])
    # 25 sent, 24 of them left unprocessed and resent, then 23, 22; then the last 5
    assert client.calls == [25, 24, 23, 22, 5]
    assert len(sleeps) == 3 and all(0 <= s <= 0.1 * 2 ** (i + 1) for i, s in enumerate(sleeps))


def test_given_items_never_processed_then_the_writer_gives_up_loudly():
    client = ThrottlingDynamoDB(refusals=100, processes_one=False)
    with pytest.raises(UnprocessedItemsError):
        BatchWriter(client, sleep=lambda s: None, max_attempts=4).put(FakeModel, [FakeModel(1), FakeModel(2)])


class SlowDynamoDB:
    """Records how many batches are in flight at once."""

    def __init__(self):
        self.lock, self.in_flight, self.peak, self.batches = threading.Lock(), 0, 0, []

    def batch_write_item(self, RequestItems):
        (_table, requests), = RequestItems.items()
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.batches.append(sorted(int(r["PutRequest"]["Item"]["pk"]["N"]) for r in requests))
        time.sleep(0.02)
        with self.lock:
            self.in_flight -= 1
        return {"UnprocessedItems": {}}


def test_given_a_fan_out_of_200_owners_then_its_eight_batches_are_written_four_at_a_time():
    client = SlowDynamoDB()
    BatchWriter(client, concurrency=4).put(FakeModel, [FakeModel(n) for n in range(200)])
    assert sorted(n for batch in client.batches for n in batch) == list(range(200))
    assert len(client.batches) == 8 and all(len(b) == 25 for b in client.batches)
    assert client.peak == 4


def test_given_one_batch_of_several_fails_then_the_others_are_still_written_and_the_error_surfaces():
    class OneBadBatch(SlowDynamoDB):
        def batch_write_item(self, RequestItems):
            (_, requests), = RequestItems.items()
            if requests[0]["PutRequest"]["Item"]["pk"]["N"] == "25":
                raise RuntimeError("throttled for good")
            return super().batch_write_item(RequestItems)

    client = OneBadBatch()
    with pytest.raises(RuntimeError):
        BatchWriter(client, concurrency=4).put(FakeModel, [FakeModel(n) for n in range(100)])
    assert sorted(b[0] for b in client.batches) == [0, 50, 75]
