"""Creates Gerbang's topics with their partition counts and policies (re-runnable)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from gerbang.messages import Topic
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)


class TopicError(RuntimeError):
    """The broker refused to create a topic (other than: it exists already)."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic as Gerbang needs it."""

    name: str
    partitions: int
    config: dict[str, str]
    replication_factor: int = 1


def topic_specs(settings: ServiceSettings) -> list[TopicSpec]:
    """Every topic and dead-letter topic, with partitions and config."""
    n = settings.topic_partitions
    replicas = settings.topic_replication_factor
    common: dict[str, str] = {}
    if settings.topic_min_insync_replicas is not None:
        common["min.insync.replicas"] = str(settings.topic_min_insync_replicas)
    specs = []
    for topic in Topic:
        # Each topic takes exactly the records the producers may send (max_request_size),
        # whatever the broker's default: the two sizes cannot drift apart.
        size = {"max.message.bytes": str(settings.kafka_max_message_bytes)}
        config: dict[str, str] = common | size
        if topic in (Topic.STATUS_UPDATES, Topic.CONTENT_PUBLISHED, Topic.SUBSCRIPTIONS):
            # Sources of truth kept whole: the latest record per application (status), per
            # scope:topic (content, its history inside the record), per office:wa_id (who
            # opted in to announcements), forever.
            config |= {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
        elif topic in (Topic.FEEDBACK_RECORDED, Topic.OPS_AUDIT):
            config |= {"retention.ms": "-1"}  # logs of record: never expire
        elif topic is Topic.INBOX_MESSAGES:
            # Conversations with office staff are kept for the retention setting, then gone.
            config |= {"retention.ms": str(settings.conversation_retention_days * 86_400_000)}
        specs.append(TopicSpec(settings.topic(topic.value), n, config, replicas))
        specs.append(
            TopicSpec(
                settings.topic(topic.dlq), 1, common | {"retention.ms": "-1"} | size, replicas
            )
        )
    return specs


async def wait_for_kafka(settings: ServiceSettings, timeout: float = 60.0) -> None:
    """Wait until the brokers answer metadata requests, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except KafkaConnectionError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka at {settings.kafka_bootstrap} not reachable") from None
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def ensure_topics(settings: ServiceSettings) -> list[str]:
    """Create missing topics; returns the names created (existing ones are left alone)."""
    await wait_for_kafka(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [spec for spec in topic_specs(settings) if spec.name not in existing]
        created = []
        for spec in wanted:
            try:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            spec.name,
                            spec.partitions,
                            spec.replication_factor,
                            topic_configs=spec.config,
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                continue
            # aiokafka reports per-topic errors in the response instead of raising them: a
            # topic another caller created a moment ago (list_topics did not show it yet) is
            # not ours, and any other error (a bad config) must not pass for success.
            for _, code, message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    break
                if code:
                    raise TopicError(f"cannot create topic {spec.name}: {message} (code {code})")
            else:
                created.append(spec.name)
        # Creation is acknowledged before the metadata shows it: return once every topic is
        # listed, so a consumer subscribing (or delete_topics listing) right after sees them.
        deadline = time.monotonic() + 30
        while not set(created) <= set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise TopicError(f"created topics not listed after 30 s: {sorted(created)}")
            await asyncio.sleep(0.1)
        return created
    finally:
        await admin.close()


async def delete_topics(settings: ServiceSettings) -> list[str]:
    """Delete every topic under `settings.topic_prefix` (a test's or a benchmark's own);
    returns the names. Refuses an empty prefix: code never deletes the real topics."""
    prefix = settings.topic_prefix
    if not prefix:
        raise ValueError("delete_topics needs a topic_prefix; the unprefixed topics are kept")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def prefixed_topics(settings: ServiceSettings) -> AsyncIterator[ServiceSettings]:
    """The topics of `settings.topic_prefix` for the duration of a block (tests): created on
    entry, deleted on exit."""
    await ensure_topics(settings)
    try:
        yield settings
    finally:
        await delete_topics(settings)
