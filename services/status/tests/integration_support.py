"""Helpers of the status integration tests: the real Kafka and Redis, the worker in-process.

Each test gets a random topic prefix (fresh topics and groups) and Redis database 3,
flushed before and after. The worker's consumers run as asyncio tasks through gerbang.bus,
exactly as `python -m gerbang_status worker` runs them; the API runs over ASGITransport.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from gerbang.bus import Producer, open_whole_topic
from gerbang.messages import (
    ApplicationRecord,
    Conversation,
    InboundKind,
    InboundMessage,
    Intent,
    OutboundReply,
    ServiceRequest,
    Topic,
)
from gerbang.offices import OfficeRegistry, dev_token
from gerbang_status.api import create_app
from gerbang_status.settings import StatusSettings
from gerbang_status.worker import WorkerParts, build

REDIS_DB = 3


def api_headers(office: str) -> dict[str, str]:
    """The development API key of an office."""
    return {"X-API-Key": dev_token(office, "STATUS_API_KEY")}


async def eventually(check: Callable[[], Any], wait_s: float = 20.0, interval: float = 0.05) -> Any:
    """Poll a sync or async check until truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + wait_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {wait_s}s (last: {last!r})")


class TopicReader:
    """Reads a topic from the beginning in the background, decoding into a model."""

    def __init__(self, settings: StatusSettings, topic: str, model: type[Any]) -> None:
        self.settings = settings
        self.topic = topic
        self.model = model
        self.items: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Assign every partition from offset 0 and start reading."""
        consumer = await open_whole_topic(self.settings, self.topic, "test-reader")
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for records in batch.values():
                self.items.extend(self.model.model_validate_json(r.value) for r in records)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Citizen:
    """A citizen writing to an office's number; plays the router's part with the context."""

    office: str
    wa_id: str
    producer: Producer
    outbound: TopicReader
    registry: OfficeRegistry
    language: str = "id"
    context: dict[str, Any] = field(default_factory=dict)
    expected: bool = False

    def request(self, text: str | None, reply_id: str | None = None) -> ServiceRequest:
        """The ServiceRequest the router would publish for this message."""
        office = self.registry.get(self.office)
        inbound = InboundMessage(
            office=self.office, phone_number_id=office.whatsapp.phone_number_id,
            wa_id=self.wa_id, message_id=f"wamid.{uuid.uuid4().hex}",
            timestamp=dt.datetime.now(dt.UTC),
            kind=InboundKind.INTERACTIVE if reply_id else InboundKind.TEXT,
            text=text, reply_id=reply_id,
        )  # fmt: skip
        return ServiceRequest(
            inbound=inbound, intent=Intent.STATUS,
            conversation=Conversation(
                language=self.language, context=self.context, expected=self.expected
            ),
        )  # fmt: skip

    async def send(self, text: str | None, reply_id: str | None = None) -> ServiceRequest:
        """Publish a message to status.requests (without waiting for the answer)."""
        request = self.request(text, reply_id)
        await self.producer.publish(Topic.STATUS_REQUESTS, request.key, request)
        return request

    async def replies_to(
        self, request: ServiceRequest, wait_s: float = 20.0
    ) -> list[OutboundReply]:
        """The replies to one request (waits for at least one)."""
        wamid = request.inbound.message_id

        def mine() -> list[OutboundReply]:
            return [r for r in self.outbound.items if r.in_reply_to == wamid]

        replies: list[OutboundReply] = await eventually(mine, wait_s)
        last = replies[-1]
        self.context = dict(last.expect.context) if last.expect else {}
        self.expected = last.expect is not None
        return replies

    async def say(self, text: str | None, reply_id: str | None = None) -> str:
        """Send and return the text of the answer (bodies joined)."""
        replies = await self.replies_to(await self.send(text, reply_id))
        return "\n\n".join(getattr(r.content, "body", "") for r in replies)

    async def last_reply(self, text: str | None, reply_id: str | None = None) -> OutboundReply:
        """Send and return the (last) reply object."""
        return (await self.replies_to(await self.send(text, reply_id)))[-1]


@contextlib.asynccontextmanager
async def running_worker(
    settings: StatusSettings, registry: OfficeRegistry, redis: Any, *, view_group: str | None = None
) -> AsyncIterator[WorkerParts]:
    """The status worker's consumers and view check as asyncio tasks."""
    parts = build(settings, registry, redis, view_group=view_group or "status.view")
    await parts.producer.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        for consumer in parts.consumers:
            await consumer.start()
            tasks.append(asyncio.create_task(consumer.run()))
        tasks.append(asyncio.create_task(parts.keep_view_ready(0.2)))
        yield parts
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in parts.consumers:
            await consumer.stop()
        await parts.producer.stop()


@contextlib.asynccontextmanager
async def api_client(
    settings: StatusSettings, registry: OfficeRegistry
) -> AsyncIterator[httpx.AsyncClient]:
    """The back-office API in-process (its lifespan runs: producer and Redis connected)."""
    app = create_app(settings, registry)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as client:
            yield client


async def create(
    client: httpx.AsyncClient,
    office: str,
    application_no: str,
    stage: str = "in_process",
    date_of_birth: str = "1990-05-12",
    **extra: Any,
) -> dict[str, Any]:
    """Create or update an application through the API; asserts success."""
    body = {"application_no": application_no, "stage": stage, "date_of_birth": date_of_birth,
            "applicant_name": "Siti Rahayu", **extra}  # fmt: skip
    response = await client.post("/v1/applications", json=body, headers=api_headers(office))
    assert response.status_code in (200, 201), response.text
    payload: dict[str, Any] = response.json()
    return payload


async def updates_on_topic(settings: StatusSettings) -> list[ApplicationRecord]:
    """Every record on status.updates right now."""
    reader = TopicReader(settings, Topic.STATUS_UPDATES, ApplicationRecord)
    await reader.start()
    consumer = reader._consumer
    assert consumer is not None
    ends = await consumer.end_offsets(list(consumer.assignment()))
    total = sum(ends.values())
    try:
        await eventually(lambda: len(reader.items) >= total, wait_s=10)
    finally:
        await reader.stop()
    return reader.items


Waiter = Callable[[], Awaitable[Any]]


async def group_caught_up(settings: StatusSettings, group: str, topic: str) -> None:
    """Wait until a consumer group has committed the current end of a topic."""
    consumer = await open_whole_topic(settings, topic, "test-ends")
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:

        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(settings.group(group))
            return all(
                offsets.get(tp) is not None and offsets[tp].offset >= end
                for tp, end in ends.items()
                if end > 0
            )

        await eventually(committed, wait_s=30, interval=0.2)
    finally:
        await admin.close()
