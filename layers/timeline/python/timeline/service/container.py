"""Wires services to stores, once per execution environment (cold start)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from timeline.cursors import CursorCodec
from timeline.service.accounts import Accounts, AuthLimits
from timeline.service.celebrity_copies import CelebrityCopies
from timeline.service.engagement import CountsCache, Engagement
from timeline.service.fanout import FanoutApplier, FanoutPlanner
from timeline.service.graph_changes import ChangePlanner
from timeline.service.media import MediaLibrary, MediaProcessor, MediaUpkeep
from timeline.service.posting import Posting
from timeline.service.reading import Reader
from timeline.service.social import Social
from timeline.service.timeline_sync import TimelineSync
from timeline.settings import Settings
from timeline.store import secrets
from timeline.store.aws import build_stores
from timeline.store.fanout_queue import FanoutQueue


@dataclass(frozen=True)
class Services:
    settings: Settings
    accounts: Accounts
    social: Social
    posting: Posting
    reader: Reader
    engagement: Engagement
    planner: FanoutPlanner
    changes: ChangePlanner
    applier: TimelineSync
    fanout: FanoutApplier  # the worker's entries removed and timelines trimmed (TimelineSync uses it too)
    copies: CelebrityCopies  # the worker's celebrity copies (TimelineSync uses it too)
    media: MediaLibrary
    media_processor: MediaProcessor
    media_upkeep: MediaUpkeep
    queue: FanoutQueue


def build_services(settings: Settings) -> Services:
    stores = build_stores(settings)
    cursors = CursorCodec(functools.partial(secrets.cursor_key, settings.cursor_secret_arn))
    media = MediaLibrary(settings, stores.media)
    fanout = FanoutApplier(settings, stores.timelines, stores.graph, stores.tweets, stores.users)
    copies = CelebrityCopies(stores.users, stores.tweets, stores.copies)
    engagement = Engagement(stores.tweets, stores.graph, stores.engagement, settings.action_rate_limit_per_minute,
                            CountsCache(settings.counts_cache_seconds))
    return Services(
        settings=settings,
        accounts=Accounts(stores.users, stores.identity, AuthLimits.from_settings(settings)),
        social=Social(stores.users, stores.graph, cursors, settings.action_rate_limit_per_minute,
                      settings.max_following),
        posting=Posting(stores.tweets, stores.graph, media, settings.timeline_ttl_seconds,
                        settings.post_rate_limit_per_minute, settings.action_rate_limit_per_minute),
        reader=Reader(settings, stores.users, stores.tweets, stores.graph, stores.timelines, cursors, stores.copies,
                      engagement),
        engagement=engagement,
        planner=FanoutPlanner(settings, stores.graph, stores.users, stores.queue),
        changes=ChangePlanner(settings, stores.users, stores.queue),
        applier=TimelineSync(settings, stores.users, stores.tweets, stores.graph, stores.timelines, stores.queue,
                             fanout, copies),
        fanout=fanout,
        copies=copies,
        media=media,
        media_processor=MediaProcessor(settings, stores.media),
        media_upkeep=MediaUpkeep(stores.media),
        queue=stores.queue,
    )
