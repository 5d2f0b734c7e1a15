"""Dead letters for ops: index every `<topic>.dlq` per office, and re-drive on request.

A background task of the API process reads every dead-letter topic (consumer group
`<prefix>gerbang.ops-dlq`) and indexes each letter in Redis under its office, so an office
sees its own letters and national ops sees all. Re-driving republishes the letter's
original payload, with its original key, to its source topic and marks the letter.

This reader does not use `gerbang.bus.Consumer`: that consumes one topic and dead-letters
its own failures, and a dead-letter reader has nowhere further to put a letter. It keeps
the bus's rule all the same: offsets are committed only after the letters are indexed.

Keys (prefixed with the topic prefix):
    gerbang:ops:dlq:letter:<id>   JSON of one letter (+ office, redriven_at), `LETTER_TTL_S`
    gerbang:ops:dlq:index:<office> sorted set of letter ids by failure time (capped)
The id is `<dlq topic>:<partition>:<offset>`, so indexing a letter twice is harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.bus import Producer
from gerbang.messages import DeadLetter, Topic
from gerbang.phone import mask_numbers_in_text
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)

NATIONAL_BUCKET = "national"
"""Where letters go whose key names no office (e.g. status.updates, keyed by application)."""
LETTER_TTL_S = 30 * 24 * 3600
INDEX_CAP = 1000


def letter_office(key: str | None, offices: Iterable[str]) -> str:
    """The office a letter belongs to: the part of its key before ':' if that is an office."""
    if key and ":" in key:
        candidate = key.split(":", 1)[0]
        if candidate in set(offices):
            return candidate
    return NATIONAL_BUCKET


@dataclass(frozen=True)
class LetterView:
    """A dead letter as the dashboard lists it (phone numbers masked)."""

    id: str
    office: str
    source_topic: str
    key: str
    error_type: str
    error: str
    service: str
    failed_at: str
    preview: str
    redriven_at: str | None
    complete: bool
    size: int | None

    @classmethod
    def from_stored(cls, letter_id: str, stored: dict[str, Any]) -> LetterView:
        """Build from the JSON kept in Redis."""
        return cls(
            id=letter_id,
            office=stored["office"],
            source_topic=stored["source_topic"],
            key=mask_numbers_in_text(stored.get("key") or ""),
            error_type=stored.get("error_type", ""),
            error=mask_numbers_in_text(stored.get("error", ""))[:300],
            service=stored.get("service", ""),
            failed_at=stored.get("failed_at", ""),
            preview=mask_numbers_in_text(stored.get("value", ""))[:300],
            redriven_at=stored.get("redriven_at"),
            complete=bool(stored.get("value_complete", True)),
            size=stored.get("value_bytes"),
        )


class LetterNotFound(LookupError):
    """No such letter (or not this office's)."""


class NotRedrivable(Exception):
    """The letter carries only an excerpt of its original (too large, or not UTF-8): the
    original is on its source topic at the letter's partition and offset."""


class DeadLetterStore:
    """The Redis index of dead letters."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def letter_key(self, letter_id: str) -> str:
        """JSON of one letter."""
        return f"{self.prefix}gerbang:ops:dlq:letter:{letter_id}"

    def index_key(self, office: str) -> str:
        """Sorted set of an office's letter ids."""
        return f"{self.prefix}gerbang:ops:dlq:index:{office}"

    async def add(self, letter_id: str, office: str, letter: DeadLetter) -> None:
        """Index a letter (idempotent; keeps a re-drive mark already set)."""
        stored = {**letter.model_dump(mode="json"), "office": office}
        key = self.letter_key(letter_id)
        previous = await self.redis.get(key)
        if previous is not None:
            stored["redriven_at"] = json.loads(previous).get("redriven_at")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(stored), ex=LETTER_TTL_S)
            pipe.zadd(self.index_key(office), {letter_id: letter.failed_at.timestamp()})
            pipe.zremrangebyrank(self.index_key(office), 0, -INDEX_CAP - 1)
            await pipe.execute()

    async def list(self, offices: Iterable[str], limit: int = 100) -> list[LetterView]:
        """The newest letters of these offices (newest first)."""
        ids: list[tuple[str, float]] = []
        for office in offices:
            newest = await self.redis.zrevrange(
                self.index_key(office), 0, limit - 1, withscores=True
            )
            ids += [(str(pair[0]), float(pair[1])) for pair in newest]
        ids.sort(key=lambda pair: pair[1], reverse=True)
        chosen = [letter_id for letter_id, _ in ids[:limit]]
        if not chosen:
            return []
        raws = await self.redis.mget([self.letter_key(i) for i in chosen])
        return [
            LetterView.from_stored(letter_id, json.loads(raw))
            for letter_id, raw in zip(chosen, raws, strict=True)
            if raw is not None
        ]

    async def count(self, offices: Iterable[str]) -> int:
        """How many letters these offices have in the index."""
        return sum([await self.redis.zcard(self.index_key(office)) for office in offices])

    async def get(self, letter_id: str) -> dict[str, Any]:
        """The stored letter, or `LetterNotFound`."""
        raw = await self.redis.get(self.letter_key(letter_id))
        if raw is None:
            raise LetterNotFound(letter_id)
        stored: dict[str, Any] = json.loads(raw)
        return stored

    async def mark_redriven(self, letter_id: str, at: dt.datetime) -> None:
        """Remember that a letter was re-driven."""
        stored = await self.get(letter_id)
        stored["redriven_at"] = at.isoformat(timespec="seconds")
        await self.redis.set(self.letter_key(letter_id), json.dumps(stored), ex=LETTER_TTL_S)


async def redrive(store: DeadLetterStore, producer: Producer, letter_id: str) -> dict[str, Any]:
    """Republish a letter's original payload to its source topic with its original key.

    Only a complete letter can be re-driven (`NotRedrivable` otherwise): republishing an
    excerpt would put a truncated record on the topic."""
    stored = await store.get(letter_id)
    if not stored.get("value_complete", True):
        raise NotRedrivable(
            f"letter {letter_id} holds only an excerpt of a {stored.get('value_bytes')}-byte "
            f"record; the original is on {stored['source_topic']} partition "
            f"{stored.get('partition')} offset {stored.get('offset')}"
        )
    key = stored.get("key")
    await producer.publish_raw(
        stored["source_topic"],
        key.encode("utf-8") if key else None,
        str(stored["value"]).encode("utf-8"),
    )
    await store.mark_redriven(letter_id, dt.datetime.now(dt.UTC))
    log.info(
        "dead letter re-driven",
        extra={
            "letter": letter_id,
            "topic": stored["source_topic"],
            "office": stored.get("office"),
        },
    )
    return stored


async def index_dead_letters(
    settings: ServiceSettings, store: DeadLetterStore, offices: Iterable[str]
) -> None:
    """Consume every `<topic>.dlq` and index its letters until cancelled.

    Kafka or Redis being away is waited out (the letters stay in Kafka until indexed).
    """
    codes = frozenset(offices)
    topics = {settings.topic(topic.dlq): topic.dlq for topic in Topic}
    while True:
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.group("ops-dlq"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="gerbang-ops-dlq",
        )
        try:
            await consumer.start()
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=200)
                for tp, records in batch.items():
                    for record in records:
                        await _index_one(store, codes, topics[tp.topic], record)
                if batch:
                    await consumer.commit()
        except (KafkaError, RedisError, OSError) as exc:
            log.warning("dead-letter indexer paused", extra={"error": repr(exc)})
            await asyncio.sleep(2)
        finally:
            try:
                await consumer.stop()
            except KafkaError as exc:
                log.warning("dead-letter consumer did not stop cleanly", extra={"error": repr(exc)})


async def _index_one(
    store: DeadLetterStore, offices: frozenset[str], dlq: str, record: Any
) -> None:
    letter_id = f"{dlq}:{record.partition}:{record.offset}"
    try:
        letter = DeadLetter.model_validate_json(record.value)
    except ValidationError as exc:
        # Someone wrote something else to a DLQ: keep it visible (bounded, like every letter).
        letter = DeadLetter.of_record(
            source_topic=dlq.removesuffix(".dlq"),
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            error_type="UnreadableDeadLetter",
            error=str(exc)[:500],
            service="unknown",
        )
    await store.add(letter_id, letter_office(letter.key, offices), letter)
