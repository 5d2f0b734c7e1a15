"""Announcements and subscriptions for broadcast tests: records produced straight onto their
topics (the sources of truth), as /ops publishing and the router would produce them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from deploy.local.stack import Stack
from gerbang.bus import Producer
from gerbang.messages import (
    ContentKind,
    ContentRecord,
    ContentState,
    ContentVersion,
    SubscriptionChanged,
    Topic,
)
from gerbang.offices import LocalizedText
from gerbang.settings import ServiceSettings
from tests.support.aio import run_sync


def produce(stack: Stack, records: list[tuple[Topic, str, Any]]) -> None:
    """Produce (topic, key, model) records on the stack's topics (acknowledged by all)."""

    async def go() -> None:
        settings = ServiceSettings(
            kafka_bootstrap=stack.kafka_bootstrap, topic_prefix=stack.topic_prefix
        )
        producer = Producer(settings, "test")
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.publish(topic, key, value)
        finally:
            await producer.stop()

    run_sync(go())


def announcement(
    code: str, text_id: str, text_en: str, *, number: int = 1
) -> tuple[Topic, str, Any]:
    """An announcement of `code` published and valid from an hour ago for two days (empty
    texts: withdrawn)."""
    now = dt.datetime.now(dt.UTC)
    version = ContentVersion(
        version_id=f"{code}-test-v{number}",
        number=number,
        text=LocalizedText(id=text_id, en=text_en) if text_id else None,
        author=f"{code}.lead",
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=2),
        state=ContentState.PUBLISHED,
        published_by=f"{code}.lead",
        published_at=now,
    )
    record = ContentRecord(
        scope=code, topic="announcement", kind=ContentKind.ANNOUNCEMENT, versions=[version]
    )
    return Topic.CONTENT_PUBLISHED, record.key, record


def subscription(
    code: str, wa_id: str, subscribed: bool, at: dt.datetime
) -> tuple[Topic, str, Any]:
    """A citizen's opt-in (or opt-out) record, as the router produces it."""
    change = SubscriptionChanged(
        office=code,
        wa_id=wa_id,
        subscribed=subscribed,
        message_id=f"wamid.seed.{wa_id}.{int(subscribed)}",
        at=at,
    )
    return Topic.SUBSCRIPTIONS, change.key, change
