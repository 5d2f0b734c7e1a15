"""A Redis view that follows Kafka topics, with its read positions kept inside the view.

Gerbang's pattern is "the Kafka log is the record, Redis a view rebuilt from it". A view
that keeps its consumer offsets in Kafka has a gap after Redis loses its data (a flush, a
fresh instance): the group's committed offsets say "done" while the view is empty. Keeping
the positions in the same Redis as the view closes that gap by construction: a flushed
Redis has no positions either, so the follower starts again from the beginning of each
topic and rebuilds the view (`apply` must be idempotent: it can see a record twice when the
process dies between applying it and storing the position).

This is a read-only follower (no consumer group, nothing produced, nothing committed to
Kafka); the request/response consumers stay `gerbang.bus.Consumer`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)

Apply = Callable[[list[tuple[str, "ConsumerRecord[bytes, bytes]"]]], Awaitable[None]]
"""Called with a fetched batch: (logical topic name without prefix, record), each partition's
records in order."""


class LogFollower:
    """Applies every record of `topics` to a Redis view, forever (until cancelled)."""

    def __init__(
        self,
        settings: ServiceSettings,
        redis: Redis,
        *,
        name: str,
        topics: Sequence[str],
        apply: Apply,
        batch: int = 500,
        gather_s: float = 0.0,
    ) -> None:
        """`gather_s`: after applying a batch, wait this long before the next fetch, so that
        what arrives meanwhile is applied as one batch (a view read by people, such as the
        transcripts, does not need each record the millisecond it lands)."""
        self.settings = settings
        self.redis = redis
        self.name = name
        self.topics = {settings.topic(topic): topic for topic in topics}
        self.apply = apply
        self.batch = batch
        self.gather_s = gather_s
        self.positions_key = f"{settings.topic_prefix}gerbang:view:{name}:positions"

    async def _positions(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.positions_key)
        return {str(k): int(v) for k, v in raw.items()}

    async def _seek(self, consumer: AIOKafkaConsumer, tps: Sequence[TopicPartition]) -> None:
        positions = await self._positions()
        fresh = [tp for tp in tps if f"{tp.topic}:{tp.partition}" not in positions]
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        for tp in tps:
            stored = positions.get(f"{tp.topic}:{tp.partition}")
            if stored is not None:
                consumer.seek(tp, stored)
        if fresh:
            log.info(
                "view follows from the beginning",
                extra={"view": self.name, "partitions": len(fresh)},
            )
        # Store every position now, so that a missing key later means "Redis lost the view".
        mapping: dict[FieldT, EncodableT] = {
            f"{tp.topic}:{tp.partition}": await consumer.position(tp) for tp in tps
        }
        if mapping:
            await self.redis.hset(self.positions_key, mapping=mapping)

    async def run(self) -> None:
        """Follow the topics; Kafka or Redis being away is waited out."""
        while True:
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id=f"gerbang-view-{self.name}",
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except (KafkaError, RedisError, OSError) as exc:
                log.warning("view follower paused", extra={"view": self.name, "error": repr(exc)})
                await asyncio.sleep(2)
            finally:
                await asyncio.sleep(0)  # see gerbang_feedback.rebuild: let aiokafka start
                try:
                    await consumer.stop()
                except KafkaError as exc:
                    log.warning("view consumer did not stop cleanly", extra={"error": repr(exc)})

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        tps = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        await self._seek(consumer, tps)
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=self.batch)
            if not batch:
                # A flushed Redis lost the positions (and the view): start over.
                if not await self.redis.exists(self.positions_key):
                    await self._seek(consumer, tps)
                continue
            advanced: dict[FieldT, EncodableT] = {}
            fetched: list[tuple[str, ConsumerRecord[bytes, bytes]]] = []
            for tp, records in batch.items():
                topic = self.topics[tp.topic]
                fetched.extend((topic, record) for record in records)
                advanced[f"{tp.topic}:{tp.partition}"] = records[-1].offset + 1
            await self.apply(fetched)
            await self.redis.hset(self.positions_key, mapping=advanced)
            if self.gather_s:
                await asyncio.sleep(self.gather_s)
