"""The one way Gerbang talks to Kafka: produce with acks=all, consume with commit-after-produce.

No service writes its own consume loop. `Consumer` owns: decoding into the handler's pydantic
model, calling the handler, producing what it returns (awaiting every ack), and only then
committing the offsets. Per-partition order is kept per key (conversation), while different
conversations are handled concurrently.

Failures:
- a message that does not decode, or whose handler keeps failing `max_attempts` times, goes to
  `<topic>.dlq` with the error and the partition moves on (a poison message never blocks);
- `Unavailable` errors (Kafka, Redis, a dependency down) are not the message's fault: the
  handler is retried with backoff until it succeeds, nothing is dead-lettered or skipped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gerbang import metrics
from gerbang.logs import bind
from gerbang.messages import DeadLetter
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class Unavailable(Exception):
    """A dependency (Kafka, Redis, an HTTP service) is down: retry later, the message is fine."""


class Reject(Exception):
    """The message cannot be processed, ever: dead-letter it now, without retries."""


UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    Unavailable,
    KafkaError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True, slots=True)
class Publish:
    """A message a handler wants produced: logical topic name, key, payload."""

    topic: str
    key: str | None
    value: BaseModel


def encode(value: BaseModel) -> bytes:
    """The wire form of every Gerbang message: compact JSON."""
    return value.model_dump_json(exclude_none=True).encode("utf-8")


class Producer:
    """An idempotent acks=all producer; `publish` returns once the broker has the message."""

    def __init__(self, settings: ServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=10_000,
            client_id=f"gerbang-{service}",
        )

    async def start(self) -> None:
        """Connect to the brokers."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def publish_many(self, messages: Sequence[Publish]) -> None:
        """Produce every message and wait for every ack (raises if any failed)."""
        if not messages:
            return
        futures = [
            await self._producer.send(
                self.settings.topic(message.topic),
                encode(message.value),
                key=message.key.encode("utf-8") if message.key is not None else None,
            )
            for message in messages
        ]
        await asyncio.gather(*futures)
        for message in messages:
            metrics.PRODUCED.labels(self.service, message.topic).inc()

    async def publish(self, topic: str, key: str | None, value: BaseModel) -> None:
        """Produce one message and wait for its ack."""
        await self.publish_many([Publish(topic, key, value)])

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce already-encoded bytes (re-driving dead letters) and wait for the ack."""
        future = await self._producer.send(self.settings.topic(topic), value, key=key)
        await future


Handler = Callable[[M], Awaitable[Sequence[Publish]]]


@dataclass
class _Outcome:
    publishes: list[Publish]
    outcome: str


class Consumer(Generic[M]):
    """Consumes one topic in a consumer group and runs a typed handler over each message."""

    def __init__(
        self,
        settings: ServiceSettings,
        producer: Producer,
        *,
        service: str,
        topic: str,
        model: type[M],
        handler: Handler[M],
        group: str | None = None,
        max_batch: int = 500,
        max_concurrency: int = 200,
        max_poll_interval_ms: int = 600_000,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.service = service
        self.topic = topic
        self.model = model
        self.handler = handler
        self.group = settings.group(group or service)
        self.max_batch = max_batch
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._consumer = AIOKafkaConsumer(
            settings.topic(topic),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"gerbang-{service}",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_interval_ms=max_poll_interval_ms,
        )
        self._stopping = asyncio.Event()
        self.ready = False

    async def start(self) -> None:
        """Join the group."""
        await self._consumer.start()

    async def stop(self) -> None:
        """Leave the group (uncommitted messages are redelivered to the next member)."""
        self._stopping.set()
        await self._consumer.stop()

    async def run(self) -> None:
        """Consume until stopped."""
        self.ready = True
        lag_at = 0.0
        while not self._stopping.is_set():
            batch = await self._consumer.getmany(timeout_ms=500, max_records=self.max_batch)
            if batch:
                await self._handle_batch(batch)
            if time.monotonic() - lag_at > 5:
                lag_at = time.monotonic()
                self._report_lag()

    def _report_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            last = self._consumer.last_stable_offset(tp) or highwater
            try:
                position = self._consumer._subscription.assignment[tp].position
            except (KeyError, AttributeError):
                continue
            if position is not None:
                metrics.CONSUMER_LAG.labels(self.service, self.topic, tp.partition).set(
                    max(0, min(highwater, last) - position)
                )

    async def _handle_batch(
        self, batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]
    ) -> None:
        # Within a partition, records of one key (one conversation) run in order; different
        # keys run concurrently. Offsets are committed only after every output is acked.
        chains: dict[tuple[int, bytes | None], list[ConsumerRecord[Any, Any]]] = defaultdict(list)
        for tp, records in batch.items():
            for record in records:
                chains[(tp.partition, record.key)].append(record)
        await asyncio.gather(*(self._run_chain(chain) for chain in chains.values()))
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        await self._consumer.commit(offsets)

    async def _run_chain(self, chain: list[ConsumerRecord[Any, Any]]) -> None:
        async with self._semaphore:
            for record in chain:
                outcome = await self._process(record)
                await self._publish_until_done(outcome.publishes, record)
                metrics.CONSUMED.labels(self.service, self.topic, outcome.outcome).inc()

    async def _publish_until_done(
        self, publishes: list[Publish], record: ConsumerRecord[Any, Any]
    ) -> None:
        attempt = 0
        while True:
            try:
                await self.producer.publish_many(publishes)
                return
            except KafkaError as exc:
                attempt += 1
                delay = _backoff(attempt)
                log.warning(
                    "producing output failed, retrying",
                    extra={
                        "topic": self.topic,
                        "offset": record.offset,
                        "error": repr(exc),
                        "retry_in_s": round(delay, 2),
                    },
                )
                await asyncio.sleep(delay)

    async def _process(self, record: ConsumerRecord[Any, Any]) -> _Outcome:
        started = time.perf_counter()
        try:
            message = self.model.model_validate_json(record.value)
        except ValidationError as exc:
            return self._dead_letter(record, exc, attempts=1)
        failures = 0
        infra_attempt = 0
        with bind(topic=self.topic, **_log_fields(message)):
            while True:
                try:
                    publishes = list(await self.handler(message))
                except UNAVAILABLE_ERRORS as exc:
                    infra_attempt += 1
                    metrics.INFRA_RETRIES.labels(self.service, self.topic).inc()
                    delay = _backoff(infra_attempt)
                    log.warning(
                        "dependency unavailable, will retry",
                        extra={"error": repr(exc), "retry_in_s": round(delay, 2)},
                    )
                    await asyncio.sleep(delay)
                    continue
                except Reject as exc:
                    return self._dead_letter(record, exc, attempts=failures + 1)
                except Exception as exc:  # the message's fault: retry a little, then DLQ
                    failures += 1
                    if failures >= self.settings.max_attempts:
                        log.exception(
                            "handler failed; dead-lettering", extra={"offset": record.offset}
                        )
                        return self._dead_letter(record, exc, attempts=failures)
                    await asyncio.sleep(0.05 * failures)
                    continue
                metrics.HANDLER_SECONDS.labels(self.service, self.topic).observe(
                    time.perf_counter() - started
                )
                return _Outcome(publishes, "ok")

    def _dead_letter(
        self, record: ConsumerRecord[Any, Any], exc: BaseException, attempts: int
    ) -> _Outcome:
        raw = record.value.decode("utf-8", errors="replace") if record.value else ""
        key = record.key.decode("utf-8", errors="replace") if record.key else None
        letter = DeadLetter(
            source_topic=self.topic,
            partition=record.partition,
            offset=record.offset,
            key=key,
            value=raw,
            error_type=type(exc).__name__,
            error=str(exc)[:2000],
            service=self.service,
            attempts=attempts,
        )
        log.error(
            "message dead-lettered",
            extra={
                "topic": self.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": letter.error_type,
            },
        )
        metrics.DEAD_LETTERS.labels(self.service, self.topic).inc()
        return _Outcome([Publish(f"{self.topic}.dlq", key, letter)], "dead_letter")


def _log_fields(message: BaseModel) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("office", "message_id", "wa_id"):
        value = getattr(message, name, None)
        if isinstance(value, str):
            fields[name] = value
    inbound = getattr(message, "inbound", None)
    if inbound is not None:
        fields.update(office=inbound.office, message_id=inbound.message_id, wa_id=inbound.wa_id)
    return fields


def _backoff(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 16)))
