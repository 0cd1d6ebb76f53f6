"""AWS on-demand prices, us-east-1: the one table every cost in the benchmark is computed from.

A bill quoted anywhere in bench/ is these prices times counted (or modelled) usage, so
change a price here and every figure follows. AS_OF is when they were taken; the AWS page
named with each price is the authority (and the second source is where we checked it).
Free tiers are left out: at the scales we project they round to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2026-11"


@dataclass(frozen=True)
class Prices:
    # DynamoDB, https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand throughput was cut
    # by 50% from 2024-11-01; checked at https://airbyte.com/data-engineering-resources/dynamodb-pricing,
    # 2025-07: $0.625 per million WRU, $0.125 per million RRU).
    dynamodb_write_request_unit: float  # USD per write request unit (1 KB, standard write)
    dynamodb_read_request_unit: float  # USD per read request unit (4 KB strongly consistent, 2 x 4 KB eventual)
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class; first 25 GB free).
    dynamodb_storage_gb_month: float
    # https://aws.amazon.com/dynamodb/pricing/provisioned/ (checked at
    # https://zeonedge.com/en/blog/dynamodb-cost-optimization-on-demand-provisioned-dax-single-table).
    dynamodb_wcu_hour: float
    dynamodb_rcu_hour: float
    # https://aws.amazon.com/dynamodb/pricing/on-demand/: $0.02 per 100,000 streams read request
    # units; GetRecords calls made by AWS Lambda triggers are free, which is how fanout_dispatch reads.
    dynamodb_streams_read_request_unit: float
    dynamodb_streams_read_by_lambda: float
    # https://aws.amazon.com/sqs/pricing/ (standard queue, 1M to 100B requests a month; each 64 KB
    # chunk of a request's payload is billed as one request; checked at
    # https://cloudburn.io/blog/amazon-sqs-pricing, 2026-03).
    sqs_standard_request: float
    # https://aws.amazon.com/lambda/pricing/ (arm64, first 7.5B GB-seconds a month; checked at
    # https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/lambdas-md/lambda-13-cost.md, 2026-05).
    lambda_request: float
    lambda_arm64_gb_second: float
    # https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs: first 300M requests a month, then
    # the lower rate; metered per 512 KB; checked at https://amnic.com/blogs/aws-api-gateway-pricing).
    http_api_request: float
    http_api_request_over_300m: float
    # https://aws.amazon.com/elasticache/pricing/ (ElastiCache Serverless for Valkey: ECPU = 1 KB
    # read or written; storage metered hourly; checked at
    # https://www.usage.ai/blogs/aws/database-savings-plans/elasticache/serverless-pricing/, 2026-06).
    # Only the "cache hot posts" option of bench.model.cut_the_bill uses these.
    elasticache_serverless_ecpu: float
    elasticache_serverless_gb_hour: float


ON_DEMAND_US_EAST_1 = Prices(
    dynamodb_write_request_unit=0.625e-6,
    dynamodb_read_request_unit=0.125e-6,
    dynamodb_storage_gb_month=0.25,
    dynamodb_wcu_hour=0.00065,
    dynamodb_rcu_hour=0.00013,
    dynamodb_streams_read_request_unit=0.02 / 100_000,
    dynamodb_streams_read_by_lambda=0.0,
    sqs_standard_request=0.40e-6,
    lambda_request=0.20e-6,
    lambda_arm64_gb_second=0.0000133334,
    http_api_request=1.00e-6,
    http_api_request_over_300m=0.90e-6,
    elasticache_serverless_ecpu=0.0023e-6,
    elasticache_serverless_gb_hour=0.084,
)
