"""Wiring of the FAQ worker: `python -m gerbang_faq`."""

from __future__ import annotations

from pydantic import Field

from gerbang.bus import Consumer, Producer
from gerbang.logs import setup_logging
from gerbang.messages import ServiceRequest, Topic
from gerbang.offices import load_registry
from gerbang.profiling import maybe_profile
from gerbang.publishing.view import live_content
from gerbang.redisconn import connect_redis
from gerbang.service import run_main, run_worker
from gerbang.settings import ServiceSettings
from gerbang_faq.handlers import FaqHandler, MissLog


class FaqSettings(ServiceSettings):
    """Settings of the FAQ worker."""

    health_port: int = Field(default=9103, ge=0, le=65535, description="/healthz, /metrics port")


async def run(settings: FaqSettings) -> None:
    """Consume faq.requests until stopped."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings, socket_timeout=2.0)
    handler = FaqHandler(registry, MissLog(redis, settings.topic_prefix))
    producer = Producer(settings, "faq")
    consumer = Consumer(
        settings,
        producer,
        service="faq",
        topic=Topic.FAQ_REQUESTS,
        model=ServiceRequest,
        handler=handler.handle,
    )
    try:
        # Answers published in /ops (content.published) apply live over the YAML.
        async with live_content(settings, registry, "faq"):
            await run_worker(
                settings,
                service="faq",
                producer=producer,
                consumers=[consumer],
                health_port=settings.health_port or None,
                extra_ready=redis.ping,
            )
    finally:
        await redis.aclose()


def main() -> None:
    """Entry point."""
    settings = FaqSettings()
    setup_logging("faq", settings.log_level, settings.log_format)
    with maybe_profile("faq"):
        run_main(run(settings))
