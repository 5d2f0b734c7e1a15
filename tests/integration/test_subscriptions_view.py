"""The subscriptions' Redis view against the real broker and Redis: lost, it is rebuilt from
the compacted topic (the source of truth), and an older record never undoes a newer choice."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from gerbang.bus import Producer
from gerbang.messages import SubscriptionChanged, Topic
from gerbang.settings import ServiceSettings
from gerbang_gateway.subscriptions import SubscriptionStore

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _change(wa_id: str, subscribed: bool, minutes: int, lang: str = "id") -> SubscriptionChanged:
    return SubscriptionChanged(
        office="jakpus",
        wa_id=wa_id,
        subscribed=subscribed,
        language=lang,  # type: ignore[arg-type]
        message_id=f"wamid.{wa_id}.{minutes}",
        at=T0 + dt.timedelta(minutes=minutes),
    )


async def test_a_lost_view_is_rebuilt_from_the_topic_and_newer_choices_win(
    settings: ServiceSettings, redis_db: Redis
) -> None:
    producer = Producer(settings, "test-subscriptions")
    await producer.start()
    try:
        for change in (
            _change("6281100000001", True, 0),
            _change("6281100000002", True, 0, "en"),
            _change("6281100000003", True, 0),
            _change("6281100000003", False, 5),  # opted out later
        ):
            await producer.publish(Topic.SUBSCRIPTIONS, change.key, change)
    finally:
        await producer.stop()
    store = SubscriptionStore(redis_db, settings.topic_prefix)
    # The router wrote a newer opt-out to Redis before its record reached the topic.
    assert await store.apply(_change("6281100000002", False, 10))

    assert await store.ensure_built(settings, "test") == 4
    assert await store.subscribers("jakpus") == {"6281100000001": "id"}
    assert await store.ensure_built(settings, "test") is None  # built: not again

    await redis_db.flushdb()  # Redis lost everything
    assert await store.count("jakpus") == 0
    assert await store.ensure_built(settings, "test") == 4
    assert await store.subscribers("jakpus") == {"6281100000001": "id", "6281100000002": "en"}
    assert await store.language("jakpus", "6281100000003") is None
