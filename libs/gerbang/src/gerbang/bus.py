"""The one way Gerbang talks to Kafka: produce with acks=all, consume with commit-after-produce.

No service writes its own consume loop. `Consumer` owns: decoding into the handler's pydantic
model, calling the handler, producing what it returns (awaiting every ack), and only then
committing the offsets. Order is kept per key (conversation), while different conversations
are handled concurrently and continuously (no batch barrier between them).

Failures:
- a message that does not decode, or whose handler keeps failing `max_attempts` times, goes to
  `<topic>.dlq` with the error and the partition moves on (a poison message never blocks);
- `Unavailable` errors (Kafka, Redis, a dependency down) are not the message's fault: the
  handler is retried with backoff until it succeeds, nothing is dead-lettered or skipped;
- an output the broker can never take (too large for `kafka_max_message_bytes`, or not
  encodable) is the message's fault too: the input is dead-lettered. Dead letters are bounded
  (`DeadLetter.of_record`), and should even a letter be refused for good, the record is
  acknowledged, logged and counted (`gerbang_unproducible_total`): retrying a size error
  forever would stall the partition and redeliver everything after it on every restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)
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


PERMANENT_PRODUCE_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,  # over max_request_size (client) or message.max.bytes (broker)
    RecordListTooLargeError,
    ValueError,  # includes UnicodeEncodeError: the payload cannot even be encoded
    TypeError,
)
"""Produce failures that retrying can never fix: the record's fault, not an outage."""


class Unproducible(Exception):
    """An output the broker will never accept (see `PERMANENT_PRODUCE_ERRORS`)."""


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
            # The largest record we produce; the broker's message.max.bytes is set from the
            # same number (deploy/local/infra.sh, deploy/docker-compose.yml).
            max_request_size=settings.kafka_max_message_bytes,
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


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Finishes (or gives up) the work of partitions taken away, and commits it, before the
    group hands them to another member: fewer redeliveries after a rebalance."""

    def __init__(self, consumer: Consumer[Any]) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.consumer._settle(set(revoked), timeout=self.consumer.drain_timeout_s)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class Consumer(Generic[M]):
    """Consumes one topic in a consumer group and runs a typed handler over each message.

    Records flow continuously: each runs as soon as it is fetched, after the previous record
    of its key (one conversation stays in order) and within `max_concurrency` records in
    flight. There is no batch barrier, so a slow conversation (an office waiting out its
    Graph API throughput, a retry backing off) never holds up another office's messages.
    A partition's offset is committed up to the first record not yet finished: nothing is
    committed before its output is acknowledged, and a crash redelivers the unfinished rest.
    """

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
        commit_interval_s: float = 0.5,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.service = service
        self.topic = topic
        self.model = model
        self.handler = handler
        self.group = settings.group(group or service)
        self.max_batch = max_batch
        self.commit_interval_s = commit_interval_s
        self.drain_timeout_s = drain_timeout_s
        self._slots = asyncio.Semaphore(max_concurrency)
        # Per partition, the records in flight in offset order; per key, the last one.
        self._inflight: dict[TopicPartition, deque[tuple[int, asyncio.Task[None]]]] = {}
        self._tails: dict[tuple[int, bytes | None], asyncio.Task[None]] = {}
        self._uncommitted: dict[TopicPartition, int] = {}  # finished, not yet committed
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"gerbang-{service}",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_interval_ms=max_poll_interval_ms,
        )
        self._consumer.subscribe([settings.topic(topic)], listener=_Rebalance(self))
        self._stopping = asyncio.Event()
        self._stopped_fetching = asyncio.Event()
        self.ready = False

    async def start(self) -> None:
        """Join the group."""
        await self._consumer.start()

    async def stop(self) -> None:
        """Stop fetching, let the records in flight finish (up to `drain_timeout_s`), commit
        what finished and leave the group; what did not finish is redelivered to the next
        member."""
        self._stopping.set()
        if self.ready:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped_fetching.wait(), timeout=5)
        with contextlib.suppress(KafkaError):
            await self._settle(set(self._inflight), timeout=self.drain_timeout_s)
        await self._consumer.stop()

    async def run(self) -> None:
        """Consume until stopped. Cancelled (a crash, as far as Kafka can tell): the records
        in flight are abandoned uncommitted and will be redelivered."""
        self.ready = True
        lag_at = committed_at = 0.0
        try:
            while not self._stopping.is_set():
                batch = await self._consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                for tp, records in batch.items():
                    for record in records:
                        await self._slots.acquire()
                        self._spawn(tp, record)
                now = time.monotonic()
                if now - committed_at >= self.commit_interval_s:
                    committed_at = now
                    try:
                        await self._commit_finished()
                    except KafkaError as exc:
                        # A rebalance or a broker moment: the offsets are kept and the next
                        # commit carries them (or the work is redelivered: at-least-once).
                        log.warning("commit failed; will retry", extra={"error": repr(exc)})
                if now - lag_at > 5:
                    lag_at = now
                    self._report_lag()
            await self._commit_finished()
        except asyncio.CancelledError:
            for queue in self._inflight.values():
                for _, task in queue:
                    task.cancel()
            raise
        finally:
            self._stopped_fetching.set()

    def _spawn(self, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        key = (tp.partition, record.key)
        task = asyncio.create_task(self._run_record(record, self._tails.get(key)))
        self._tails[key] = task
        self._inflight.setdefault(tp, deque()).append((record.offset, task))
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: tuple[int, bytes | None], task: asyncio.Task[None]) -> None:
        self._slots.release()
        if self._tails.get(key) is task:
            del self._tails[key]
        if not task.cancelled() and task.exception() is not None:
            # A bug, not the message's fault (those are dead-lettered): the partition's
            # commits stop here, so nothing after it is lost; a restart redelivers.
            log.error(
                "record task failed; partition commits halted",
                exc_info=task.exception(),
                extra={"topic": self.topic, "partition": key[0]},
            )

    async def _run_record(
        self, record: ConsumerRecord[Any, Any], previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:  # the conversation's earlier message goes first
            # Finished, failed or cancelled alike: a cancelled one was abandoned with its
            # partition (revoked, or the process stopping, which cancels this one too), and
            # this record is then its redelivery or a later one, fetched again in order.
            await asyncio.wait([previous])
        outcome = await self._process(record)
        try:
            await self._publish_until_done(outcome.publishes, record)
        except Unproducible as exc:
            if outcome.outcome != "dead_letter":
                log.error(
                    "output cannot be produced; dead-lettering the input",
                    extra={"topic": self.topic, "offset": record.offset, "error": str(exc)},
                )
                outcome = self._dead_letter(record, exc, attempts=1)
                try:
                    await self._publish_until_done(outcome.publishes, record)
                except Unproducible as again:
                    self._drop(record, again)
                    outcome = _Outcome([], "dropped")
            else:
                self._drop(record, exc)
                outcome = _Outcome([], "dropped")
        metrics.CONSUMED.labels(self.service, self.topic, outcome.outcome).inc()

    def _drop(self, record: ConsumerRecord[Any, Any], exc: Unproducible) -> None:
        """Even the (bounded) dead letter was refused for good: acknowledge, log, count.

        The original stays on its topic at this offset for whoever needs it."""
        log.error(
            "record acknowledged without output: even its dead letter cannot be produced",
            extra={
                "topic": self.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": str(exc),
            },
        )
        metrics.UNPRODUCIBLE.labels(self.service, self.topic).inc()

    def _finished_offsets(
        self, partitions: set[TopicPartition] | None = None
    ) -> dict[TopicPartition, int]:
        """Per partition, the offset after the last record finished with all before it
        (including finished work an earlier commit attempt did not get through)."""
        for tp, queue in self._inflight.items():
            if partitions is not None and tp not in partitions:
                continue
            while queue and _succeeded(queue[0][1]):
                offset, _ = queue.popleft()
                self._uncommitted[tp] = offset + 1
        return {
            tp: offset
            for tp, offset in self._uncommitted.items()
            if partitions is None or tp in partitions
        }

    async def _commit_finished(self, partitions: set[TopicPartition] | None = None) -> None:
        offsets = self._finished_offsets(partitions)
        if offsets:
            await self._consumer.commit(offsets)
            for tp, offset in offsets.items():
                if self._uncommitted.get(tp) == offset:
                    del self._uncommitted[tp]

    async def _settle(self, partitions: set[TopicPartition], *, timeout: float) -> None:
        """Wait for the records in flight of `partitions`, commit the finished ones, abandon
        (cancel) the rest: the partitions are leaving this member."""
        tasks = [task for tp in partitions for _, task in self._inflight.get(tp, ())]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        try:
            await self._commit_finished(partitions)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on already: the unfinished work is redelivered elsewhere.
            log.warning("commit on revoke failed", extra={"error": repr(exc)})
        for tp in partitions:
            self._uncommitted.pop(tp, None)
        abandoned = [task for tp in partitions for _, task in self._inflight.pop(tp, deque())]
        for task in abandoned:
            task.cancel()
        if abandoned:  # let them unwind, so a re-assigned partition starts from a clean slate
            await asyncio.wait(abandoned, timeout=5)

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

    async def _publish_until_done(
        self, publishes: list[Publish], record: ConsumerRecord[Any, Any]
    ) -> None:
        attempt = 0
        while True:
            try:
                await self.producer.publish_many(publishes)
                return
            except PERMANENT_PRODUCE_ERRORS as exc:
                raise Unproducible(f"{type(exc).__name__}: {exc}"[:1000]) from exc
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
        letter = DeadLetter.of_record(
            source_topic=self.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            error_type=type(exc).__name__,
            error=str(exc),
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
        return _Outcome([Publish(f"{self.topic}.dlq", letter.key, letter)], "dead_letter")


def _succeeded(task: asyncio.Task[None]) -> bool:
    """Finished with its output produced (not cancelled, no exception)."""
    return task.done() and not task.cancelled() and task.exception() is None


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
