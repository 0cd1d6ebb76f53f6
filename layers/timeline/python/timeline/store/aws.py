"""Every store object, built once per execution environment from Settings.

boto3 picks the endpoint (real AWS, moto, LocalStack) from the standard environment
(AWS_ENDPOINT_URL and friends): nothing here knows which backend it talks to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from pynamodb.connection import Connection

from timeline.settings import Settings
from timeline.store import tables
from timeline.store.batching import BatchWriter
from timeline.store.celebrity_copies import CopyStore
from timeline.store.engagement import EngagementStore
from timeline.store.fanout_queue import FanoutQueue
from timeline.store.graph import GraphStore
from timeline.store.identity import IdentityProvider
from timeline.store.media import MediaStore
from timeline.store.timelines import TimelineStore
from timeline.store.tweets import TweetStore
from timeline.store.users import UserStore

# Fail fast and let the caller (Lambda retry, SQS redelivery) try again: standard retry
# mode already backs off on throttling.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=32)
# Presigned URLs and forms are SigV4 (required outside us-east-1's legacy endpoints).
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))


@dataclass(frozen=True)
class Stores:
    users: UserStore
    tweets: TweetStore
    graph: GraphStore
    timelines: TimelineStore
    queue: FanoutQueue
    identity: IdentityProvider
    media: MediaStore
    copies: CopyStore
    engagement: EngagementStore


@functools.lru_cache(maxsize=1)
def _sessions() -> tuple[boto3.session.Session, botocore.session.Session]:
    # One session per process, boto3's clients and pynamodb's alike: its loader caches the
    # service models every client needs.
    core = botocore.session.get_session()
    return boto3.session.Session(botocore_session=core), core


def build_stores(settings: Settings) -> Stores:
    session, core = _sessions()
    region = session.region_name or "us-east-1"
    tables.bind(settings, region, core)
    dynamodb = session.client("dynamodb", config=_CONFIG, region_name=region)
    batch = BatchWriter(dynamodb)
    connection = Connection(region=region)
    tables.share_client_session(connection, core)
    return Stores(
        users=UserStore(connection),
        tweets=TweetStore(connection, batch),
        graph=GraphStore(connection, batch),
        timelines=TimelineStore(batch),
        queue=FanoutQueue(session.client("sqs", config=_CONFIG, region_name=region), settings.fanout_queue_url),
        identity=IdentityProvider(session.client("cognito-idp", config=_CONFIG, region_name=region),
                                  settings.user_pool_id, settings.user_pool_client_id),
        media=MediaStore(session.client("s3", config=_S3_CONFIG, region_name=region), settings.media_bucket),
        copies=CopyStore(batch, settings.celebrity_copy_shards),
        engagement=EngagementStore(connection),
    )


@functools.lru_cache(maxsize=4)
def cached_stores(settings: Settings) -> Stores:
    return build_stores(settings)
