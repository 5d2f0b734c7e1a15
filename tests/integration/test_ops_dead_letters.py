"""/ops dead letters on the real Redis and broker: a letter that carries only an excerpt of
its original is listed as such and never re-driven (that would publish a truncated record)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gerbang.bus import Producer
from gerbang.messages import DeadLetter, Topic
from gerbang.settings import ServiceSettings
from gerbang_gateway.ops.deadletters import DeadLetterStore, NotRedrivable, redrive
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


def letter(value: bytes, offset: int) -> DeadLetter:
    return DeadLetter.of_record(
        source_topic=Topic.INBOUND.value, partition=0, offset=offset, key=b"jakpus:6281277700001",
        value=value, error_type="ValidationError", error="not an inbound message",
        service="router",
    )  # fmt: skip


async def test_only_complete_letters_are_redriven(
    settings: ServiceSettings, redis_db: Redis
) -> None:
    store = DeadLetterStore(redis_db, settings.topic_prefix)
    await store.add("whatsapp.inbound.dlq:0:1", "jakpus", letter(b"\xff" * 600_000, 1))
    await store.add("whatsapp.inbound.dlq:0:2", "jakpus", letter(b'{"small": "utuh"}', 2))
    listed = {view.id: view for view in await store.list(["jakpus"])}
    assert listed["whatsapp.inbound.dlq:0:1"].complete is False
    assert listed["whatsapp.inbound.dlq:0:1"].size == 600_000
    assert listed["whatsapp.inbound.dlq:0:2"].complete is True

    producer = Producer(settings, "test-ops")
    await producer.start()
    try:
        with pytest.raises(NotRedrivable, match="600000-byte record"):
            await redrive(store, producer, "whatsapp.inbound.dlq:0:1")
        await redrive(store, producer, "whatsapp.inbound.dlq:0:2")
    finally:
        await producer.stop()
    [record] = await read_topic(settings, Topic.INBOUND, expect=1)
    assert record.value == b'{"small": "utuh"}'
