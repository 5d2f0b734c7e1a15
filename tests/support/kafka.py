"""Test helpers that read and write the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from gerbang.settings import ServiceSettings


async def read_topic(
    settings: ServiceSettings, topic: str, *, expect: int = 0, timeout: float = 10.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic (prefix applied), from the beginning.

    Reads until `expect` records arrived (then a short grace to catch extras) or `timeout`.
    """
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        grace_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
            if expect and len(records) >= expect and grace_until is None:
                grace_until = time.monotonic() + 0.5
            if grace_until is not None and time.monotonic() > grace_until:
                break
            if not expect and not batch and await _at_end(consumer):
                break
    finally:
        await consumer.stop()
    return records


async def _at_end(consumer: AIOKafkaConsumer) -> bool:
    assignment = consumer.assignment()
    if not assignment:
        return False
    ends = await consumer.end_offsets(list(assignment))
    for tp in assignment:
        if await consumer.position(tp) < ends[tp]:
            return False
    return True


async def produce_raw(
    settings: ServiceSettings, topic: str, key: bytes | None, value: bytes
) -> None:
    """Write raw bytes to a topic (for poison-message tests)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), value, key=key)
    finally:
        await producer.stop()


async def eventually(check, timeout: float = 15.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async or sync check until it returns a truthy value, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
