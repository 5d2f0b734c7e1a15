"""Stopping a broadcast (/ops "Hentikan siaran") against the real broker and Redis: the
broadcaster produces no further batch, the sender holds back what was already queued, and
a stopped broadcast stays stopped (a late finish does not turn it into "done")."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from redis.asyncio import Redis

from gerbang.bus import Producer
from gerbang.messages import OutboundReply, SubscriptionChanged, TextContent
from gerbang.offices import LocalizedText, default_offices_dir, load_registry
from gerbang.settings import ServiceSettings
from gerbang_gateway.broadcast import BATCH, Broadcaster, BroadcastStore, unsubscribed_gate
from gerbang_gateway.redis_state import RateLimiter
from gerbang_gateway.subscriptions import SubscriptionStore

pytestmark = pytest.mark.integration
AUDIENCE = 2 * BATCH + 5


async def _subscribe(store: SubscriptionStore, count: int) -> list[str]:
    wa_ids = [f"62811000{i:05d}" for i in range(count)]
    for wa_id in wa_ids:
        await store.apply(
            SubscriptionChanged(
                office="jakpus", wa_id=wa_id, subscribed=True, language="id",
                message_id=f"wamid.sub.{wa_id}", at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    return wa_ids


async def test_a_stopped_broadcast_produces_no_further_batch_and_holds_back_the_queued(
    settings: ServiceSettings, redis_db: Redis
) -> None:
    registry = load_registry(default_offices_dir())
    jakpus = registry.get("jakpus")
    subscriptions = SubscriptionStore(redis_db, settings.topic_prefix)
    wa_ids = await _subscribe(subscriptions, AUDIENCE)
    await redis_db.set(subscriptions._built_key, "1")  # the view is there: no replay
    store = BroadcastStore(redis_db, settings.topic_prefix)
    broadcast_id = await store.create(
        "jakpus", jakpus.whatsapp.phone_number_id, LocalizedText(id="Tutup Jumat."), "jakpus.lead"
    )
    producer = Producer(settings, "test-broadcast-stop")
    await producer.start()
    try:
        # Ten a second: a batch takes two seconds, time enough to stop it after the first.
        share = 10 / jakpus.whatsapp.throughput_mps
        broadcaster = Broadcaster(
            settings, registry, store, subscriptions, RateLimiter(redis_db, settings.topic_prefix),
            producer, share=share, poll_s=0.2,
        )  # fmt: skip
        walking = asyncio.create_task(broadcaster._walk(broadcast_id))
        while int((await store.raw(broadcast_id)).get("cursor") or 0) < BATCH:
            assert not walking.done(), "the walk ended before a batch was produced"
            await asyncio.sleep(0.02)
        assert await store.cancel(broadcast_id, "jakpus.lead")
        await asyncio.wait_for(walking, timeout=30)
    finally:
        await producer.stop()

    raw = await store.raw(broadcast_id)
    assert raw["state"] == "cancelled" and raw["cancelled_by"] == "jakpus.lead"
    assert BATCH <= int(raw["cursor"]) <= 2 * BATCH < AUDIENCE, "no batch after the stop"
    assert broadcast_id not in await store.running()
    await store.finish(broadcast_id)  # a late finish (another broadcaster) changes nothing
    assert await store.state(broadcast_id) == "cancelled"
    assert not await store.cancel(broadcast_id, "jakpus.lead"), "stopped once"

    # A send already queued is held back by the sender, and counted as such.
    gate = unsubscribed_gate(subscriptions, store)
    queued = OutboundReply(
        office="jakpus", phone_number_id=jakpus.whatsapp.phone_number_id, wa_id=wa_ids[0],
        idempotency_key=f"broadcast:{broadcast_id}:{wa_ids[0]}",
        content=TextContent(body="Tutup Jumat."), broadcast=broadcast_id,
    )  # fmt: skip
    assert not await gate(queued)
    report = await store.report(broadcast_id)
    assert report is not None and report.withheld == 1 and report.cancelled_by == "jakpus.lead"

    # A running broadcast's send to a subscriber goes; a finished one cannot be stopped.
    other = await store.create(
        "jakpus", jakpus.whatsapp.phone_number_id, LocalizedText(id="Buka Sabtu."), "jakpus.lead"
    )
    assert await gate(queued.model_copy(update={"broadcast": other}))
    await store.finish(other)
    assert not await store.cancel(other, "jakpus.lead")
    assert await store.state(other) == "done"
