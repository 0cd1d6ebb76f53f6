"""The emulator's ceiling: what one raw DynamoDB call costs, measured from a separate process
the way a function worker calls it (boto3 over HTTP to the emulator), so the product's
figures can be quoted as ratios of it.

    python -m bench.ceiling --endpoint URL --timelines T --owner ID --tweets T --author ID [--writes N]

prints JSON: raw_query_p50_ms (a timeline page Query, the product's own shape),
raw_index_query_p50_ms (a ByAuthor page), raw_parallel_pair_p50_ms (two of those Queries in
parallel: does the emulator overlap them?), raw_batch_write_items_per_s (25-item
BatchWriteItem of timeline entries, one client, back to back; the items are deleted after).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

REPEAT = 60
# The product's calls are metered (ReturnConsumedCapacity, see infra.runtime.functions._Meter), so the
# emulator computes capacity for them; the raw calls ask for it too, to cost the same work.
METERED = {"ReturnConsumedCapacity": "INDEXES"}


def _p50(fn, repeat: int = REPEAT) -> float:
    fn()  # warm the connection
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(endpoint: str, timelines: str, owner: int, tweets: str, author: int, writes: int) -> dict:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       config=Config(retries={"mode": "standard"}))
    page = dict(TableName=timelines, KeyConditionExpression="owner_id = :o", ScanIndexForward=False, Limit=25,
                ExpressionAttributeValues={":o": {"N": str(owner)}}, ProjectionExpression="tweet_id, author_id",
                **METERED)
    by_author = dict(TableName=tweets, IndexName="ByAuthor", KeyConditionExpression="author_id = :a",
                     ScanIndexForward=False, Limit=25, ExpressionAttributeValues={":a": {"N": str(author)}},
                     **METERED)
    pool = ThreadPoolExecutor(2)
    result = {"raw_query_p50_ms": _p50(lambda: ddb.query(**page)),
              "raw_index_query_p50_ms": _p50(lambda: ddb.query(**by_author)),
              # Two Queries issued together, as the home read's first round does: on AWS they
              # overlap; an emulator that serves one request at a time takes twice as long.
              "raw_parallel_pair_p50_ms": _p50(lambda: list(pool.map(lambda q: ddb.query(**q), (page, page))))}
    if writes:
        scratch_owner = 9_000_000_000_000_000_000
        batches = [[{"PutRequest": {"Item": {
            "owner_id": {"N": str(scratch_owner + b)}, "tweet_id": {"N": str(10**17 + i)},
            "author_id": {"N": str(10**17)}, "expires_at": {"N": str(int(time.time()) + 86400)}}}}
            for i in range(25)] for b in range(max(1, writes // 25))]
        started = time.perf_counter()
        for batch in batches:
            ddb.batch_write_item(RequestItems={timelines: batch}, **METERED)
        elapsed = time.perf_counter() - started
        result["raw_batch_write_items_per_s"] = 25 * len(batches) / elapsed
        for batch in batches:
            ddb.batch_write_item(RequestItems={timelines: [{"DeleteRequest": {"Key": {
                k: r["PutRequest"]["Item"][k] for k in ("owner_id", "tweet_id")}}} for r in batch]})
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--timelines", required=True)
    parser.add_argument("--owner", type=int, required=True)
    parser.add_argument("--tweets", required=True)
    parser.add_argument("--author", type=int, required=True)
    parser.add_argument("--writes", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(measure(args.endpoint, args.timelines, args.owner, args.tweets, args.author, args.writes)))


if __name__ == "__main__":
    main()
