"""Topic administration against the real broker: create is re-runnable, delete is scoped."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from gerbang.settings import ServiceSettings
from gerbang.topics import delete_topics, ensure_topics, topic_specs

pytestmark = pytest.mark.integration


async def listed(settings: ServiceSettings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_create_twice_then_delete_only_that_prefix(settings: ServiceSettings) -> None:
    mine = settings.model_copy(update={"topic_prefix": f"tdel{uuid.uuid4().hex[:8]}."})
    created = await ensure_topics(mine)
    assert sorted(created) == sorted(spec.name for spec in topic_specs(mine))
    assert await ensure_topics(mine) == []  # re-runnable: nothing new the second time
    deleted = await delete_topics(mine)
    assert sorted(deleted) == sorted(created)
    # Kafka deletes asynchronously: the metadata may list a deleted topic for a moment.
    for _ in range(50):
        remaining = await listed(settings)
        if not {name for name in remaining if name.startswith(mine.topic_prefix)}:
            break
        await asyncio.sleep(0.2)
    assert not {name for name in remaining if name.startswith(mine.topic_prefix)}
    # Another prefix's topics (this test's own fixture) are untouched.
    assert {spec.name for spec in topic_specs(settings)} <= remaining


async def test_the_real_topics_are_never_deleted() -> None:
    with pytest.raises(ValueError, match="topic_prefix"):
        await delete_topics(ServiceSettings(topic_prefix=""))
