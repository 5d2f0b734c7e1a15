"""End to end with the gateway's sender and the fake Graph API: the 24-hour window.

The status worker and the sender run in-process on the real broker and Redis; the fake
Graph API runs as a real HTTP server (tests/support/fake_graph.py). An opted-in applicant
who wrote within 24 hours gets the stage change as text; one whose last message is older
gets the office's approved template instead. A replayed notification is not sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator

import pytest

from gerbang.bus import Consumer, Producer
from gerbang.messages import OutboundReply, Topic
from gerbang.offices import OfficeRegistry
from gerbang_gateway.graph import GraphClient, graph_session
from gerbang_gateway.redis_state import RateLimiter, SentLog, Sessions
from gerbang_gateway.sender import Sender
from gerbang_gateway.settings import GatewaySettings
from gerbang_status.settings import StatusSettings
from tests.support.fake_graph import FakeGraphServer

from .integration_support import (
    Citizen,
    TopicReader,
    api_client,
    create,
    eventually,
    group_caught_up,
    running_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def graph() -> object:
    with FakeGraphServer() as server:
        yield server


@contextlib.asynccontextmanager
async def running_sender(
    settings: StatusSettings, registry: OfficeRegistry, graph_url: str
) -> AsyncIterator[Sessions]:
    """The gateway's sender consuming whatsapp.outbound, as `gerbang_gateway sender` runs it."""
    gateway = GatewaySettings(
        kafka_bootstrap=settings.kafka_bootstrap, redis_url=settings.redis_url,
        topic_prefix=settings.topic_prefix, offices_dir=settings.offices_dir,
        graph_base_url=graph_url, send_backoff_base_s=0.05,
    )  # fmt: skip
    from gerbang.redisconn import connect_redis

    redis = connect_redis(gateway)
    sessions = Sessions(redis, gateway.topic_prefix, gateway.session_ttl_s)
    async with graph_session(timeout_s=5.0, max_connections=8) as http:
        sender = Sender(
            gateway, registry, GraphClient(gateway.graph_base_url, gateway.graph_api_version, http),
            sessions, SentLog(redis, gateway.topic_prefix, gateway.dedupe_ttl_s),
            RateLimiter(redis, gateway.topic_prefix),
        )  # fmt: skip
        producer = Producer(gateway, "sender")
        consumer = Consumer(
            gateway, producer, service="sender", topic=Topic.OUTBOUND, model=OutboundReply,
            handler=sender.handle,
        )  # fmt: skip
        await producer.start()
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        try:
            yield sessions
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()
            await producer.stop()
            await redis.aclose()


async def test_notification_is_text_within_24h_and_template_after(
    status_settings, registry, redis3, graph
) -> None:
    graph.clear()
    office = registry.get("jakpus")
    recent = f"62857{random.randrange(10**8):08d}"
    quiet = f"62858{random.randrange(10**8):08d}"
    outbound = TopicReader(status_settings, Topic.OUTBOUND, OutboundReply)
    await outbound.start()
    producer = Producer(status_settings, "test-router")
    await producer.start()
    try:
        async with running_worker(status_settings, registry, redis3), \
                api_client(status_settings, registry) as client, \
                running_sender(status_settings, registry, graph.url) as sessions:  # fmt: skip
            numbers = {recent: "1000000000001", quiet: "1000000000002"}
            now = dt.datetime.now(dt.UTC)
            for wa_id, number in numbers.items():
                await create(client, "jakpus", number, stage="printed")
                # What the router records for every inbound message: opens the window.
                await sessions.record_inbound("jakpus", wa_id, at=now, language="id",
                                              clear_expectation=False)  # fmt: skip
                applicant = Citizen("jakpus", wa_id, producer, outbound, registry)
                found = await applicant.last_reply(f"{number} 12-05-1990")
                button = found.content.buttons[0]
                confirmed = await applicant.say(button.title, reply_id=button.id)
                assert "mengirim kabar" in confirmed
                # The lookup answer and the opt-in confirmation reached the Graph API.
                await asyncio.to_thread(graph.wait_for_sent, 2, to=wa_id, timeout=20)

            # The quiet applicant's last message is now 25 hours old.
            await sessions.record_inbound("jakpus", quiet, at=now - dt.timedelta(hours=25),
                                          language="id", clear_expectation=False)  # fmt: skip
            for number in numbers.values():
                await create(client, "jakpus", number, stage="ready_for_pickup")

            text_send = (await asyncio.to_thread(graph.wait_for_sent, 3, to=recent, timeout=20))[-1]
            assert text_send["payload"]["type"] == "text"
            assert "Siap diambil" in text_send["payload"]["text"]["body"]
            template_send = (await asyncio.to_thread(graph.wait_for_sent, 3, to=quiet, timeout=20))[
                -1
            ]
            assert template_send["phone_number_id"] == office.whatsapp.phone_number_id
            payload = template_send["payload"]
            assert payload["type"] == "template"
            assert payload["template"]["name"] == "status_paspor_update"
            parameters = payload["template"]["components"][0]["parameters"]
            assert [p["text"] for p in parameters] == ["1000000000002", "Siap diambil"]

            # A replayed notification (same idempotency key) is not sent again.
            [again] = [r for r in outbound.items if r.idempotency_key == "status:1000000000002:v2"]
            await producer.publish(Topic.OUTBOUND, again.key, again)
            await eventually(
                lambda: [r for r in outbound.items if r.idempotency_key == again.idempotency_key][
                    1:
                ]
            )
            await group_caught_up(status_settings, "sender", Topic.OUTBOUND)
            assert len(graph.sent(to=quiet)) == 3
            assert len(graph.sent(to=recent)) == 3
    finally:
        await producer.stop()
        await outbound.stop()
