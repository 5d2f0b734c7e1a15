"""Wiring of the feedback service: `python -m gerbang_feedback worker|api`."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from redis.asyncio import Redis

from gerbang.bus import Consumer, Producer
from gerbang.logs import setup_logging
from gerbang.messages import FeedbackEvent, ServiceRequest, Topic
from gerbang.offices import OfficeRegistry, load_registry
from gerbang.publishing.view import live_content
from gerbang.redisconn import connect_redis
from gerbang.service import run_main, run_worker
from gerbang_feedback.api import create_app
from gerbang_feedback.handlers import FeedbackHandler, ViewUpdater
from gerbang_feedback.rebuild import maintain_view
from gerbang_feedback.settings import FeedbackSettings
from gerbang_feedback.view import FeedbackView

SERVICE = "feedback"
VIEW_GROUP = "feedback-view"


@dataclass
class Worker:
    """The worker's parts: two consumers on one producer, and the view they share."""

    settings: FeedbackSettings
    registry: OfficeRegistry
    view: FeedbackView
    producer: Producer
    handler: FeedbackHandler
    updater: ViewUpdater
    requests: Consumer[ServiceRequest]
    recorded: Consumer[FeedbackEvent]

    @classmethod
    def build(cls, settings: FeedbackSettings, registry: OfficeRegistry, redis: Redis) -> Worker:
        """Wire the worker (nothing is started)."""
        view = FeedbackView(redis, settings.topic_prefix)
        producer = Producer(settings, SERVICE)
        handler = FeedbackHandler(registry, view, prompt_ttl_seconds=settings.prompt_ttl_seconds)
        updater = ViewUpdater(view, retention_days=settings.retention_days)
        requests = Consumer(
            settings, producer, service=SERVICE, topic=Topic.FEEDBACK_REQUESTS,
            model=ServiceRequest, handler=handler.handle,
        )  # fmt: skip
        recorded = Consumer(
            settings, producer, service=SERVICE, topic=Topic.FEEDBACK_RECORDED,
            model=FeedbackEvent, handler=updater.handle, group=VIEW_GROUP,
        )  # fmt: skip
        return cls(settings, registry, view, producer, handler, updater, requests, recorded)

    async def maintain(self) -> None:
        """Background job: rebuild the view if Redis lost it; apply retention."""
        await maintain_view(
            self.settings, self.view, self.updater, self.registry,
            retention_days=self.settings.retention_days,
            check_interval=self.settings.view_check_interval_seconds,
            retention_interval=self.settings.retention_interval_seconds,
        )  # fmt: skip


async def run_feedback_worker(settings: FeedbackSettings) -> None:
    """Consume feedback.requests and feedback.recorded until SIGTERM."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings)
    worker = Worker.build(settings, registry, redis)

    async def ready() -> bool:
        return bool(await redis.ping()) and await worker.view.is_ready()

    try:
        # Texts published in /ops (content.published) apply live over the catalogue's YAML.
        async with live_content(settings, registry, SERVICE):
            await run_worker(
                settings, service=SERVICE, producer=worker.producer,
                consumers=[worker.requests, worker.recorded],
                health_port=settings.health_port or None, extra_ready=ready,
                background=[worker.maintain],
            )  # fmt: skip
    finally:
        await redis.aclose()


def build_api(settings: FeedbackSettings) -> FastAPI:
    """The API app with its own Redis client and producer, started by its lifespan."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings)
    producer = Producer(settings, f"{SERVICE}-api")

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()
            await redis.aclose()

    view = FeedbackView(redis, settings.topic_prefix)
    return create_app(settings, registry, view, producer, lifespan=lifespan)


async def run_api(settings: FeedbackSettings) -> None:
    """Serve the feedback API until SIGTERM."""
    config = uvicorn.Config(
        build_api(settings), host=settings.api_host, port=settings.api_port,
        log_config=None, access_log=False,
    )  # fmt: skip
    await uvicorn.Server(config).serve()


def main(argv: list[str] | None = None) -> None:
    """Entry point: `python -m gerbang_feedback worker` or `python -m gerbang_feedback api`."""
    parser = argparse.ArgumentParser(prog="gerbang_feedback", description=__doc__)
    parser.add_argument("role", choices=["worker", "api"], help="what to run")
    args = parser.parse_args(argv)
    settings = FeedbackSettings()
    setup_logging(f"{SERVICE}-{args.role}" if args.role == "api" else SERVICE,
                  settings.log_level, settings.log_format)  # fmt: skip
    if args.role == "worker":
        run_main(run_feedback_worker(settings))
    else:
        run_main(run_api(settings))
