"""/ops's feedback proxy against the real feedback API and its Redis view: another office's
ticket is refused exactly like a ticket that does not exist (issue 12)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gerbang.bus import Producer
from gerbang.messages import FeedbackKind, FeedbackRecord
from gerbang.offices import load_registry
from gerbang.settings import ServiceSettings
from gerbang_feedback.api import create_app
from gerbang_feedback.settings import FeedbackSettings
from gerbang_feedback.view import FeedbackView
from gerbang_gateway.ops.feedback import FeedbackClient, NotThisOffice
from gerbang_gateway.settings import DEV_FEEDBACK_API_KEY

pytestmark = pytest.mark.integration


def record(office: str, ticket: str, wa_id: str) -> FeedbackRecord:
    return FeedbackRecord(
        ticket=ticket, office=office, wa_id=wa_id, message_id=f"wamid.{ticket}",
        kind=FeedbackKind.COMPLAINT, text="antrean lama sekali",
        received_at=dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC),
    )  # fmt: skip


@pytest_asyncio.fixture
async def proxy(settings: ServiceSettings, redis_db: Redis) -> AsyncIterator[FeedbackClient]:
    """The /ops FeedbackClient talking to the feedback API (in-process, real Redis view)."""
    feedback_settings = FeedbackSettings(
        kafka_bootstrap=settings.kafka_bootstrap, redis_url=settings.redis_url,
        topic_prefix=settings.topic_prefix, offices_dir=settings.offices_dir,
    )  # fmt: skip
    view = FeedbackView(redis_db, settings.topic_prefix)
    await view.apply_record(record("jakpus", "JKP-2026-000001", "6281200000001"))
    await view.apply_record(record("bogor", "BGR-2026-000001", "6285700000002"))
    producer = Producer(feedback_settings, "feedback-api")
    await producer.start()
    registry = load_registry(settings.offices_dir)
    app = create_app(feedback_settings, registry, view, producer)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://feedback"
        ) as http:
            yield FeedbackClient(http, "http://feedback", DEV_FEEDBACK_API_KEY)
    finally:
        await producer.stop()


async def test_another_offices_ticket_is_refused_like_a_missing_one(
    proxy: FeedbackClient, redis_db: Redis, settings: ServiceSettings
) -> None:
    for ticket in ("BGR-2026-000001", "JKP-2026-000999"):
        with pytest.raises(NotThisOffice):
            await proxy.mark_handled("jakpus", ticket, "ditangani", "ops:jakpus")
    # Its own ticket is handled; bogor's stays open.
    await proxy.mark_handled("jakpus", "JKP-2026-000001", "ditangani", "ops:jakpus")
    assert [item.ticket for item in await proxy.open_items("jakpus")] == []
    assert [item.ticket for item in await proxy.open_items("bogor")] == ["BGR-2026-000001"]
