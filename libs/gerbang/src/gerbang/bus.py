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
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gerbang import metrics
from gerbang.kafka_uvloop import patch_connection_send
from gerbang.logs import bind
from gerbang.messages import DeadLetter
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)
patch_connection_send()  # before any client connects (see gerbang.kafka_uvloop)

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
        self._produced: dict[str, Any] = {}  # topic → its PRODUCED counter
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
            counter = self._produced.get(message.topic)
            if counter is None:  # label lookups cost more than the count itself
                counter = self._produced[message.topic] = metrics.PRODUCED.labels(
                    self.service, message.topic
                )
            counter.inc()

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
        # Bounded well under the rebalance timeout: a member still settling when the group
        # completes is thrown out, and its rejoin starts another rebalance (the minute-long
        # stalls of a replica kill came from such chains).
        settle_s = min(self.consumer.drain_timeout_s, self.consumer.rebalance_timeout_s / 4)
        await self.consumer._settle(set(revoked), timeout=settle_s)

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
        self._consumed: dict[str, Any] = {}  # outcome → its CONSUMED counter
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(service, topic)
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
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=1_000,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms,
        )
        self.rebalance_timeout_s = settings.kafka_rebalance_timeout_ms / 1000
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
        counter = self._consumed.get(outcome.outcome)
        if counter is None:
            counter = self._consumed[outcome.outcome] = metrics.CONSUMED.labels(
                self.service, self.topic, outcome.outcome
            )
        counter.inc()

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
                self._handler_seconds.observe(time.perf_counter() - started)
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


_LOG_NAMES = ("office", "message_id", "wa_id")
_log_names_of: dict[type[BaseModel], tuple[tuple[str, ...], bool]] = {}


def _log_names(model: type[BaseModel]) -> tuple[tuple[str, ...], bool]:
    """Which of the log fields a model has, and whether it carries an `inbound`: looked up
    once per model (a pydantic model's `getattr` of a missing name raises inside, per record)."""
    names = _log_names_of.get(model)
    if names is None:
        has = [n for n in (*_LOG_NAMES, "inbound") if n in model.model_fields or hasattr(model, n)]
        names = _log_names_of[model] = (tuple(n for n in has if n != "inbound"), "inbound" in has)
    return names


def _log_fields(message: BaseModel) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    names, has_inbound = _log_names(type(message))
    for name in names:
        value = getattr(message, name, None)
        if isinstance(value, str):
            fields[name] = value
    inbound = getattr(message, "inbound", None) if has_inbound else None
    if inbound is not None:
        fields.update(office=inbound.office, message_id=inbound.message_id, wa_id=inbound.wa_id)
    return fields


def _backoff(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 16)))


# --- reading a topic outside a handler: replays and followers ------------------------------
#
# `Consumer` is for work that produces output and must dead-letter what fails. Two other
# reads exist, and they go through here too, so that no service writes a consume loop:
# - `replay`: rebuild a view (Redis) from a whole log, from the beginning up to where it ends
#   now, without a group and without committing (status.updates, feedback.recorded);
# - `follow`: keep something (the dead-letter index) up to date from topics in a group, with
#   offsets committed only after each batch is applied, and nowhere further to dead-letter;
# - `tail`: keep a whole compacted topic in every process's memory (content.published): read
#   from the beginning, then follow, without a group.


class ReplayTimeout(Unavailable):
    """A replay did not reach the end of its topic in time (the caller retries later)."""


@dataclass(frozen=True, slots=True)
class Replayed(Generic[M]):
    """One record of a replay or a follower, decoded into the model when it can be.

    `value` is None for a tombstone (`raw` is None too) and for a record that does not
    decode (`error` says why, `raw` holds the bytes): the reader decides what each means.
    """

    topic: str
    """The logical topic name (without the deployment's prefix)."""
    partition: int
    offset: int
    key: str | None
    value: M | None
    raw: bytes | None
    error: ValidationError | None = None


ApplyBatch = Callable[[list[Replayed[M]]], Awaitable[None]]

_FOLLOWER_PAUSES: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, RedisError, OSError)


def _decoded(
    model: type[M], topics: dict[str, str], records: list[ConsumerRecord[Any, Any]]
) -> list[Replayed[M]]:
    batch = []
    for record in records:
        value: M | None = None
        error: ValidationError | None = None
        if record.value is not None:
            try:
                value = model.model_validate_json(record.value)
            except ValidationError as exc:
                error = exc
        batch.append(
            Replayed(
                topic=topics[record.topic],
                partition=record.partition,
                offset=record.offset,
                key=record.key.decode("utf-8", errors="replace") if record.key else None,
                value=value,
                raw=record.value,
                error=error,
            )
        )
    return batch


async def open_whole_topic(
    settings: ServiceSettings, topic: str, client_id: str, timeout_s: float = 30.0
) -> AIOKafkaConsumer:
    """A started consumer without a group on every partition of `topic`, at the beginning."""
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        # Also the reset policy: a "latest" reset racing the seek would skip the log.
        auto_offset_reset="earliest",
        client_id=f"gerbang-{client_id}",
    )
    await consumer.start()
    try:
        # Without a group the consumer assigns itself every partition once metadata is in.
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise Unavailable(f"topic {settings.topic(topic)} has no partitions")
            await asyncio.sleep(0.05)
        await consumer.seek_to_beginning(*consumer.assignment())
    except BaseException:
        await _stop_quietly(consumer)
        raise
    return consumer


async def replay(
    settings: ServiceSettings,
    topic: str,
    model: type[M],
    apply: ApplyBatch[M],
    *,
    client_id: str,
    timeout_s: float = 600.0,
    max_batch: int = 1000,
) -> int:
    """Hand every record of `topic`, from the beginning to the end offsets it has when the
    replay starts, to `apply` in batches (per partition in order). Nothing is committed and
    no group is joined; what arrives meanwhile is the live consumer's. Returns the number of
    records read; `ReplayTimeout` if the end is not reached within `timeout_s`."""
    consumer = await open_whole_topic(settings, topic, client_id)
    names = {settings.topic(topic): topic}
    read = 0
    try:
        partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise ReplayTimeout(f"replaying {settings.topic(topic)} took over {timeout_s}s")
            fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=max_batch)
            records = [
                record
                for tp, batch in fetched.items()
                for record in batch
                if record.offset < ends[tp]  # newer than the snapshot: the live consumer's
            ]
            if records:
                await apply(_decoded(model, names, records))
                read += len(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await _stop_quietly(consumer)
    return read


async def follow(
    settings: ServiceSettings,
    topics: Sequence[str],
    model: type[M],
    apply: ApplyBatch[M],
    *,
    group: str,
    client_id: str,
    pause_s: float = 2.0,
) -> None:
    """Consume `topics` in consumer group `group` until cancelled, handing each fetched
    batch to `apply` and committing its offsets only after `apply` returned. A dependency
    being away (Kafka, Redis: `UNAVAILABLE_ERRORS`) is waited out and the batch read again,
    so nothing is skipped. For readers with nowhere to dead-letter (the dead letters)."""
    names = {settings.topic(topic): topic for topic in topics}
    while True:
        consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.group(group),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"gerbang-{client_id}",
        )
        try:
            await consumer.start()
            while True:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=200)
                records = [record for batch in fetched.values() for record in batch]
                if records:
                    await apply(_decoded(model, names, records))
                    await consumer.commit()
        except _FOLLOWER_PAUSES as exc:
            log.warning(
                "follower paused; will reconnect", extra={"group": group, "error": repr(exc)}
            )
            await asyncio.sleep(pause_s)
        finally:
            await _stop_quietly(consumer)


async def tail(
    settings: ServiceSettings,
    topic: str,
    model: type[M],
    apply: ApplyBatch[M],
    *,
    client_id: str,
    caught_up: asyncio.Event | None = None,
    pause_s: float = 2.0,
) -> None:
    """Hand every record of `topic` to `apply`, from the beginning and then as they arrive,
    until cancelled; no group, nothing committed: each process keeps the whole topic (an
    in-memory view of a compacted topic). `caught_up` is set once the records that existed at
    the start have been applied. After Kafka went away the read starts again from the
    beginning, so `apply` must be idempotent (a compacted record is the whole state of its
    key: applying it twice is applying it once)."""
    names = {settings.topic(topic): topic}
    while True:
        consumer: AIOKafkaConsumer | None = None
        try:
            consumer = await open_whole_topic(settings, topic, client_id)
            ends = await consumer.end_offsets(list(consumer.assignment()))
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=500)
                records = [record for batch in fetched.values() for record in batch]
                if records:
                    await apply(_decoded(model, names, records))
                if caught_up is not None and not caught_up.is_set():
                    positions = [await consumer.position(tp) for tp in ends]
                    if all(p >= ends[tp] for p, tp in zip(positions, ends, strict=True)):
                        caught_up.set()
        except _FOLLOWER_PAUSES as exc:
            log.warning("tail paused; will read again", extra={"topic": topic, "error": repr(exc)})
            await asyncio.sleep(pause_s)
        finally:
            if consumer is not None:
                await _stop_quietly(consumer)


async def _stop_quietly(consumer: AIOKafkaConsumer) -> None:
    # aiokafka's group-less coordinator starts a task at `start`; stopping before that task
    # ever ran raises CancelledError and would hide the real error. Let it run once.
    await asyncio.sleep(0)
    try:
        await consumer.stop()
    except KafkaError as exc:
        log.warning("consumer did not stop cleanly", extra={"error": repr(exc)})
