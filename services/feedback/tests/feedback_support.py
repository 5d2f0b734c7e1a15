"""Helpers of the feedback service's integration tests (imported by the test modules)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from gerbang.bus import Producer, Publish
from gerbang.messages import (
    Conversation,
    InboundKind,
    InboundMessage,
    Intent,
    ServiceRequest,
    Topic,
)
from gerbang.offices import OfficeRegistry, load_registry
from gerbang_feedback.main import Worker
from gerbang_feedback.rebuild import ensure_view
from gerbang_feedback.settings import FeedbackSettings

REPO = Path(__file__).resolve().parents[3]
REDIS_PORT = int(os.environ.get("GERBANG_REDIS_PORT", "6379"))
REDIS_DB = 4  # the feedback service's test database
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}"
REGISTRY = load_registry(REPO / "offices")


@contextlib.asynccontextmanager
async def running_worker(
    settings: FeedbackSettings,
    registry: OfficeRegistry,
    redis: Redis,
    *,
    producer: Producer | None = None,
    requests_handler: Callable[[ServiceRequest], Awaitable[Sequence[Publish]]] | None = None,
) -> AsyncIterator[Worker]:
    """The feedback worker in-process: view ensured, both consumers running.

    Leaving the block stops the consumers WITHOUT committing anything in flight, as a killed
    process would (the bus commits only after a batch's outputs are produced).
    """
    worker = Worker.build(settings, registry, redis)
    if producer is not None:
        worker.producer = producer
        worker.requests.producer = producer
        worker.recorded.producer = producer
    if requests_handler is not None:
        worker.requests.handler = requests_handler
    await worker.producer.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        await ensure_view(settings, worker.view, worker.updater)
        for consumer in (worker.requests, worker.recorded):
            await consumer.start()
            tasks.append(asyncio.create_task(consumer.run()))
        yield worker
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in (worker.requests, worker.recorded):
            await consumer.stop()
        await worker.producer.stop()


def feedback_request(
    message_id: str,
    text: str | None,
    *,
    office: str = "jakpus",
    wa_id: str = "6281234567890",
    intent: Intent = Intent.FEEDBACK_SUGGESTION,
    reply_id: str | None = None,
    expected_kind: str | None = None,
    language: str = "id",
    received_at: dt.datetime | None = None,
) -> ServiceRequest:
    """A request as the router hands it to the feedback service."""
    inbound = InboundMessage(
        office=office,
        phone_number_id=REGISTRY.get(office).whatsapp.phone_number_id,
        wa_id=wa_id,
        message_id=message_id,
        timestamp=dt.datetime.now(dt.UTC),
        received_at=received_at or dt.datetime.now(dt.UTC),
        kind=InboundKind.INTERACTIVE if reply_id else InboundKind.TEXT,
        text=text,
        reply_id=reply_id,
    )
    conversation = Conversation(
        language=language,  # type: ignore[arg-type]
        expected=expected_kind is not None,
        context={"kind": expected_kind} if expected_kind else {},
    )
    return ServiceRequest(inbound=inbound, intent=intent, conversation=conversation)


async def send_requests(settings: FeedbackSettings, *requests: ServiceRequest) -> None:
    """Publish requests to feedback.requests (as the router does)."""
    producer = Producer(settings, "test-router")
    await producer.start()
    try:
        await producer.publish_many(
            [Publish(Topic.FEEDBACK_REQUESTS, request.key, request) for request in requests]
        )
    finally:
        await producer.stop()


async def committed(settings: FeedbackSettings, group: str, topic: str) -> int:
    """Sum of a consumer group's committed offsets on a topic (0 if nothing committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.group(group))
    finally:
        await admin.close()
    name = settings.topic(topic)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == name and meta.offset > 0)
