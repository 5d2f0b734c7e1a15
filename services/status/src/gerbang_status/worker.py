"""Wiring of the status worker: two consumers over one producer and one Redis.

- `status.updates` (group `status.view`) → `StatusWorker.materialise`
- `status.requests` (group `status`)     → `StatusWorker.answer`
- a background check rebuilds the view whenever its marker disappears (Redis flushed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.bus import UNAVAILABLE_ERRORS, Consumer, Producer
from gerbang.messages import ApplicationRecord, ServiceRequest, Topic
from gerbang.offices import OfficeRegistry, load_registry
from gerbang.opsstats import OpsStats
from gerbang.publishing.view import live_content
from gerbang.redisconn import connect_redis
from gerbang.service import run_worker
from gerbang_status.handlers import StatusWorker
from gerbang_status.settings import StatusSettings
from gerbang_status.store import LockoutStore, OptInStore, StatusView

log = logging.getLogger(__name__)


@dataclass
class WorkerParts:
    """Everything the worker runs, built but not started (tests run the parts as tasks)."""

    producer: Producer
    consumers: list[Consumer[Any]]
    worker: StatusWorker
    view: StatusView

    async def keep_view_ready(self, interval_s: float) -> None:
        """Rebuild the view as soon as its marker is gone, not only at the next lookup."""
        while True:
            try:
                await self.view.ensure_ready()
            except (*UNAVAILABLE_ERRORS, RedisError) as exc:
                log.warning("view check failed; will retry", extra={"error": repr(exc)})
            await asyncio.sleep(interval_s)


def build(
    settings: StatusSettings,
    registry: OfficeRegistry,
    redis: Redis,
    *,
    view_group: str = "status.view",
) -> WorkerParts:
    """Build the producer, both consumers and the handlers (`view_group`: the updates group)."""
    producer = Producer(settings, "status")
    view = StatusView(redis, settings)
    worker = StatusWorker(
        registry,
        view,
        LockoutStore(redis, settings.topic_prefix, settings.lockout_policy),
        OptInStore(redis, settings.topic_prefix, settings.optin_offer_ttl_s),
        producer,
        fmt=settings.application_no_format,
        expect_ttl_s=settings.expect_ttl_s,
        stats=OpsStats(redis, settings.topic_prefix),
    )
    updates: Consumer[ApplicationRecord] = Consumer(
        settings, producer, service="status", group=view_group, topic=Topic.STATUS_UPDATES,
        model=ApplicationRecord, handler=worker.materialise,
    )  # fmt: skip
    requests: Consumer[ServiceRequest] = Consumer(
        settings, producer, service="status", topic=Topic.STATUS_REQUESTS,
        model=ServiceRequest, handler=worker.answer,
    )  # fmt: skip
    return WorkerParts(producer, [updates, requests], worker, view)


async def run(settings: StatusSettings) -> None:
    """Run the worker until SIGTERM."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings)
    parts = build(settings, registry, redis)

    async def ready() -> bool:
        return bool(await redis.ping()) and await parts.view.is_ready()

    async def keep_view_ready() -> None:
        await parts.keep_view_ready(settings.view_check_interval_s)

    try:
        # Texts published in /ops (content.published) apply live over the catalogue's YAML.
        async with live_content(settings, registry, "status"):
            await run_worker(
                settings, service="status", producer=parts.producer, consumers=parts.consumers,
                health_port=settings.health_port or None, extra_ready=ready,
                background=[keep_view_ready],
            )  # fmt: skip
    finally:
        if parts.worker.stats is not None:
            await parts.worker.stats.flush()  # the last moment's ops counts
        await redis.aclose()
