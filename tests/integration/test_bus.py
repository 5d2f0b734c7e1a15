"""The shared bus against the real broker: commit after produce, DLQ, order, redelivery."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Sequence

import pytest

from gerbang import metrics
from gerbang.bus import Consumer, Producer, Publish, Reject
from gerbang.messages import (
    DeadLetter,
    InboundKind,
    InboundMessage,
    Intent,
    ServiceRequest,
    TextContent,
    Topic,
)
from gerbang.settings import ServiceSettings
from tests.support.kafka import eventually, produce_raw, read_topic

pytestmark = pytest.mark.integration


def inbound(n: int, wa_id: str = "6281200000001", text: str | None = None) -> InboundMessage:
    return InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id=wa_id,
        message_id=f"wamid.test{n}",
        timestamp=dt.datetime.now(dt.UTC),
        kind=InboundKind.TEXT,
        text=text or f"pesan {n}",
    )


def echo(message: InboundMessage) -> list[Publish]:
    request = ServiceRequest(inbound=message, intent=Intent.FALLBACK)
    reply = request.reply(TextContent(body=f"balasan {message.text}"))
    return [Publish(Topic.OUTBOUND, reply.key, reply)]


@contextlib.asynccontextmanager
async def consuming(
    settings: ServiceSettings,
    handler,  # type: ignore[no-untyped-def]
    group: str = "test",
    **options: float,
) -> AsyncIterator[Consumer[InboundMessage]]:
    """A running consumer. Leaving the block kills it like a crash (its run task cancelled),
    unless the test stopped it gracefully (`await consumer.stop()`) inside."""
    producer = Producer(settings, "test")
    await producer.start()
    consumer = Consumer(
        settings,
        producer,
        service="test",
        topic=Topic.INBOUND,
        model=InboundMessage,
        handler=handler,
        group=group,
        **options,  # type: ignore[arg-type]
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await producer.stop()


async def publish_inbound(settings: ServiceSettings, messages: Sequence[InboundMessage]) -> None:
    producer = Producer(settings, "test-feeder")
    await producer.start()
    try:
        await producer.publish_many([Publish(Topic.INBOUND, m.key, m) for m in messages])
    finally:
        await producer.stop()


async def committed(settings: ServiceSettings, group: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.group(group))
        return sum(meta.offset for tp, meta in offsets.items() if meta.offset > 0)
    finally:
        await admin.close()


async def test_outputs_are_produced_and_offsets_committed(settings: ServiceSettings) -> None:
    messages = [inbound(i, wa_id=f"62812000000{i % 4}") for i in range(20)]
    await publish_inbound(settings, messages)

    async def handler(message: InboundMessage) -> list[Publish]:
        return echo(message)

    async with consuming(settings, handler):
        await eventually(lambda: committed(settings, "test"), timeout=20)
        await eventually(lambda: _committed_is(settings, 20), timeout=20)
    replies = await read_topic(settings, Topic.OUTBOUND, expect=20)
    bodies = sorted(json.loads(r.value)["content"]["body"] for r in replies)
    assert bodies == sorted(f"balasan pesan {i}" for i in range(20))


async def _committed_is(settings: ServiceSettings, n: int) -> bool:
    return await committed(settings, "test") == n


async def test_poison_message_goes_to_dlq_and_does_not_block(settings: ServiceSettings) -> None:
    await produce_raw(settings, Topic.INBOUND, b"jakpus:62811", b'{"not": "an inbound message"')
    await publish_inbound(settings, [inbound(1, wa_id="62811")])

    async def handler(message: InboundMessage) -> list[Publish]:
        return echo(message)

    async with consuming(settings, handler):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=1, timeout=20)
    assert [json.loads(r.value)["in_reply_to"] for r in replies] == ["wamid.test1"]
    letters = await read_topic(settings, Topic.INBOUND.dlq, expect=1)
    assert len(letters) == 1
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert letter.source_topic == "whatsapp.inbound"
    assert letter.error_type == "ValidationError"
    assert letter.value == '{"not": "an inbound message"'
    assert letter.key == "jakpus:62811"


async def test_garbage_record_lands_bounded_in_the_dlq_and_the_partition_moves_on(
    settings: ServiceSettings,
) -> None:
    """600 KB of invalid UTF-8 (its copy with U+FFFD once grew to 1.4 MB, over the broker's
    limit, and was retried for ever): the letter carries an excerpt, the length and the hash,
    the records behind it are handled, and the commits pass the poison offset."""
    garbage = bytes([0xFF, 0xFE, 0x80]) * 200_000
    await produce_raw(settings, Topic.INBOUND, b"jakpus:62811", garbage)
    await publish_inbound(settings, [inbound(i, wa_id="62811") for i in range(1, 6)])

    async def handler(message: InboundMessage) -> list[Publish]:
        return echo(message)

    async with consuming(settings, handler):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=5, timeout=30)
        # Poison + 5 messages, all in the key's one partition: committed up to offset 6.
        await eventually(lambda: _committed_is(settings, 6), timeout=20)
    assert [json.loads(r.value)["in_reply_to"] for r in replies] == [
        f"wamid.test{i}" for i in range(1, 6)
    ]
    [record] = await read_topic(settings, Topic.INBOUND.dlq, expect=1)
    assert len(record.value) < 32 * 1024
    letter = DeadLetter.model_validate_json(record.value)
    assert (letter.error_type, letter.key, letter.offset) == ("ValidationError", "jakpus:62811", 0)
    assert letter.value_bytes == len(garbage) == 600_000
    assert letter.value_sha256 == hashlib.sha256(garbage).hexdigest()
    assert letter.value_complete is False
    assert letter.value == "\ufffd" * len(letter.value)  # an excerpt of the bytes, replaced


async def test_an_output_too_large_for_the_broker_dead_letters_its_input(
    settings: ServiceSettings,
) -> None:
    """A size error is the record's fault, not an outage: the input goes to the DLQ (bounded)
    and the conversation goes on; before, the producer's refusal was retried for ever."""
    await publish_inbound(settings, [inbound(1, wa_id="62812", text="besar"), inbound(2, "62812")])

    async def handler(message: InboundMessage) -> list[Publish]:
        if message.text == "besar":  # a 1.1 MB output, over kafka_max_message_bytes (1 MiB)
            big = message.model_copy(update={"text": "x" * 1_100_000})
            return [Publish(Topic.FAQ_REQUESTS, message.key, big)]
        return echo(message)

    async with consuming(settings, handler):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=1, timeout=30)
        await eventually(lambda: _committed_is(settings, 2), timeout=20)
    assert [json.loads(r.value)["in_reply_to"] for r in replies] == ["wamid.test2"]
    [record] = await read_topic(settings, Topic.INBOUND.dlq, expect=1)
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.error_type == "Unproducible" and "MessageSizeTooLarge" in letter.error
    assert letter.value_complete and json.loads(letter.value)["message_id"] == "wamid.test1"
    assert await read_topic(settings, Topic.FAQ_REQUESTS) == []


async def test_a_letter_the_broker_refuses_is_acknowledged_and_counted(
    settings: ServiceSettings,
) -> None:
    """The last resort: the DLQ itself refuses the (bounded) letter for its size. The record
    is acknowledged, logged and counted, never retried for ever."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:  # a DLQ that takes nothing over 200 bytes (a letter is larger)
        dlq = ConfigResource(
            ConfigResourceType.TOPIC,
            settings.topic(Topic.INBOUND.dlq),
            configs={"max.message.bytes": "200"},
        )
        await admin.alter_configs([dlq])
    finally:
        await admin.close()
    dropped = metrics.UNPRODUCIBLE.labels("test", Topic.INBOUND)
    before = dropped._value.get()
    await produce_raw(settings, Topic.INBOUND, b"jakpus:62813", b"\xff not json")
    await publish_inbound(settings, [inbound(1, wa_id="62813")])

    async def handler(message: InboundMessage) -> list[Publish]:
        return echo(message)

    async with consuming(settings, handler):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=1, timeout=30)
        await eventually(lambda: _committed_is(settings, 2), timeout=20)
    assert [json.loads(r.value)["in_reply_to"] for r in replies] == ["wamid.test1"]
    assert dropped._value.get() == before + 1
    assert await read_topic(settings, Topic.INBOUND.dlq) == []


async def test_failing_handler_is_retried_then_dead_lettered(settings: ServiceSettings) -> None:
    calls: dict[str, int] = {}

    async def handler(message: InboundMessage) -> list[Publish]:
        calls[message.message_id] = calls.get(message.message_id, 0) + 1
        if message.text == "meledak":
            raise ValueError("handler bug")
        if message.text == "tolak":
            raise Reject("cannot ever be processed")
        return echo(message)

    await publish_inbound(
        settings,
        [inbound(1, text="meledak"), inbound(2, text="tolak"), inbound(3, text="baik")],
    )
    async with consuming(settings, handler):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=1, timeout=20)
        letters = await read_topic(settings, Topic.INBOUND.dlq, expect=2, timeout=20)
    assert [json.loads(r.value)["in_reply_to"] for r in replies] == ["wamid.test3"]
    by_id = {
        json.loads(DeadLetter.model_validate_json(r.value).value)[
            "message_id"
        ]: DeadLetter.model_validate_json(r.value)
        for r in letters
    }
    assert by_id["wamid.test1"].attempts == settings.max_attempts
    assert by_id["wamid.test1"].error == "handler bug"
    assert by_id["wamid.test2"].attempts == 1
    assert calls == {"wamid.test1": settings.max_attempts, "wamid.test2": 1, "wamid.test3": 1}


async def test_one_conversation_is_handled_in_order(settings: ServiceSettings) -> None:
    seen: dict[str, list[int]] = {}

    async def handler(message: InboundMessage) -> list[Publish]:
        # Later messages finish faster: any concurrency within a key would reorder them.
        n = int(message.message_id.removeprefix("wamid.test"))
        await asyncio.sleep(0.02 * (n % 5 == 0))
        seen.setdefault(message.wa_id, []).append(n)
        return []

    messages = [inbound(i, wa_id=f"6281300000{i % 3}") for i in range(60)]
    await publish_inbound(settings, messages)
    async with consuming(settings, handler):
        await eventually(lambda: sum(len(v) for v in seen.values()) == 60, timeout=20)
    for wa_id, order in seen.items():
        assert order == sorted(order), wa_id


async def test_unacknowledged_work_is_redelivered_after_a_crash(settings: ServiceSettings) -> None:
    gate = asyncio.Event()
    first_run: list[str] = []

    async def stuck(message: InboundMessage) -> list[Publish]:
        first_run.append(message.message_id)
        await gate.wait()  # never released: the process "dies" mid-batch
        return echo(message)

    await publish_inbound(settings, [inbound(i, wa_id="6281400000") for i in range(5)])
    async with consuming(settings, stuck, group="crashy"):
        await eventually(lambda: first_run, timeout=20)
    assert await committed(settings, "crashy") == 0

    async def healthy(message: InboundMessage) -> list[Publish]:
        return echo(message)

    async with consuming(settings, healthy, group="crashy"):
        replies = await read_topic(settings, Topic.OUTBOUND, expect=5, timeout=30)
    assert sorted(json.loads(r.value)["in_reply_to"] for r in replies) == [
        f"wamid.test{i}" for i in range(5)
    ]


async def test_a_stuck_conversation_does_not_hold_up_others(settings: ServiceSettings) -> None:
    """No batch barrier: an office waiting out its throughput (here: a gate) does not delay
    another office's messages fetched later, and offsets never pass the unfinished one."""
    gate = asyncio.Event()
    handled: list[str] = []
    waiting: list[str] = []

    async def handler(message: InboundMessage) -> list[Publish]:
        if message.wa_id == "6281500000":
            waiting.append(message.message_id)
            await gate.wait()
        handled.append(message.message_id)
        return echo(message)

    await publish_inbound(settings, [inbound(i, wa_id="6281500000") for i in range(3)])
    async with consuming(settings, handler, group="fair"):
        await eventually(lambda: waiting, timeout=20)  # the slow conversation is in flight
        await publish_inbound(settings, [inbound(10 + i, wa_id=f"628160000{i}") for i in range(5)])
        await eventually(lambda: len(handled) == 5, timeout=20)
        assert all(not m.startswith("wamid.test0") for m in handled)
        assert set(handled) == {f"wamid.test{10 + i}" for i in range(5)}
        assert waiting == ["wamid.test0"], "one conversation stays in order"
        gate.set()
        await eventually(lambda: len(handled) == 8, timeout=20)
        await eventually(lambda: _committed_is_group(settings, "fair", 8), timeout=20)


async def test_stop_commits_what_finished(settings: ServiceSettings) -> None:
    await publish_inbound(settings, [inbound(i, wa_id=f"628170000{i}") for i in range(4)])
    handled: list[str] = []

    async def handler(message: InboundMessage) -> list[Publish]:
        handled.append(message.message_id)
        return echo(message)

    async with consuming(settings, handler, group="graceful", commit_interval_s=3600) as consumer:
        await eventually(lambda: len(handled) == 4, timeout=20)
        assert await committed(settings, "graceful") == 0  # the interval has not come yet
        await consumer.stop()  # graceful: commits what finished
        assert await committed(settings, "graceful") == 4


async def _committed_is_group(settings: ServiceSettings, group: str, n: int) -> bool:
    return await committed(settings, group) == n


async def test_a_rebalance_loses_nothing(settings: ServiceSettings) -> None:
    """A second replica joins mid-stream: the first finishes and commits what it holds for
    the partitions it gives up, every message is handled, and the group ends fully
    committed. (At-least-once: a message may be handled twice; downstream keys dedupe.)"""
    handled: list[str] = []

    async def handler(message: InboundMessage) -> list[Publish]:
        await asyncio.sleep(0.01)
        handled.append(message.message_id)
        return []

    total = 300
    messages = [inbound(i, wa_id=f"62818{i % 40:05d}") for i in range(total)]
    await publish_inbound(settings, messages[:150])
    async with consuming(settings, handler, group="scale"):
        await eventually(lambda: len(handled) >= 20, timeout=20)
        async with consuming(settings, handler, group="scale"):
            await publish_inbound(settings, messages[150:])
            await eventually(lambda: len(set(handled)) == total, timeout=60)
            await eventually(lambda: _committed_is_group(settings, "scale", total), timeout=30)
    assert set(handled) == {m.message_id for m in messages}


async def test_work_abandoned_on_revoke_is_done_again_after(settings: ServiceSettings) -> None:
    """A conversation stuck when its partition is revoked is given up (not committed) and,
    when the partition comes back, handled again in order: nothing lost, nothing stuck."""
    gate = asyncio.Event()
    attempts: dict[str, int] = {}
    handled: list[str] = []

    async def handler(message: InboundMessage) -> list[Publish]:
        attempts[message.message_id] = attempts.get(message.message_id, 0) + 1
        if message.message_id == "wamid.test0" and attempts[message.message_id] == 1:
            await gate.wait()  # stuck the first time only
        handled.append(message.message_id)
        return []

    stuck = [inbound(i, wa_id="6281900000") for i in range(3)]
    others = [inbound(10 + i, wa_id=f"628191000{i:02d}") for i in range(20)]
    await publish_inbound(settings, stuck + others)
    async with consuming(settings, handler, group="revoke", drain_timeout_s=0.3):
        await eventually(lambda: attempts.get("wamid.test0") == 1, timeout=20)
        async with consuming(settings, handler, group="revoke"):  # a second member joins
            await eventually(lambda: len(set(handled)) >= 20, timeout=30)
        # It left again: everything is back with the first member.
        await eventually(lambda: len(set(handled)) == 23, timeout=30)
        await eventually(lambda: _committed_is_group(settings, "revoke", 23), timeout=30)
    order = [m for m in handled if m in {"wamid.test0", "wamid.test1", "wamid.test2"}]
    assert order[:3] == ["wamid.test0", "wamid.test1", "wamid.test2"], order
    assert attempts["wamid.test0"] >= 2
