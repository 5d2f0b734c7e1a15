"""The sender against real Redis and the fake Graph API (a real HTTP server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gerbang.bus import Reject
from gerbang.messages import (
    Intent,
    ServiceRequest,
    TemplateContent,
    TextContent,
)
from gerbang.offices import load_registry
from gerbang.settings import ServiceSettings
from gerbang_gateway.graph import GraphClient, graph_session
from gerbang_gateway.redis_state import SPREAD_MS, RateLimiter, SentLog, Sessions
from gerbang_gateway.sender import Sender
from gerbang_gateway.settings import GatewaySettings
from tests.support.fake_graph import FakeGraphServer
from tests.support.whatsapp import inbound_text

pytestmark = pytest.mark.integration
TEMPLATE = TemplateContent(name="status_paspor_update", body_parameters=["A1", "siap diambil"])


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as server:
        yield server


@pytest_asyncio.fixture
async def sender(
    settings: ServiceSettings, redis_db: Redis, graph: FakeGraphServer
) -> AsyncIterator[Sender]:
    graph.clear()
    gateway = GatewaySettings(
        redis_url=settings.redis_url,
        topic_prefix=settings.topic_prefix,
        offices_dir=settings.offices_dir,
        graph_base_url=graph.url,
        send_backoff_base_s=0.05,
        send_backoff_cap_s=0.5,
        send_max_attempts=4,
    )
    async with graph_session(timeout_s=5, max_connections=8) as http:
        yield Sender(
            gateway,
            load_registry(settings.offices_dir),
            GraphClient(graph.url, gateway.graph_api_version, http),
            Sessions(redis_db, settings.topic_prefix, gateway.session_ttl_s),
            SentLog(redis_db, settings.topic_prefix, gateway.dedupe_ttl_s),
            RateLimiter(redis_db, settings.topic_prefix),
        )


def request(wa_id: str, n: int = 1, hours_ago: float = 0.0) -> ServiceRequest:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    inbound = inbound_text(wa_id, f"wamid.s{wa_id}{n}", at, "halo")
    return ServiceRequest(inbound=inbound, intent=Intent.FAQ_FEES)


async def open_window(sender: Sender, wa_id: str, hours_ago: float = 0.0) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    await sender.sessions.record_inbound(
        "jakpus", wa_id, at=at, language="id", clear_expectation=False
    )


async def test_a_reply_is_sent_once_even_if_delivered_twice(
    sender: Sender, graph: FakeGraphServer
) -> None:
    await open_window(sender, "6281100001")
    reply = request("6281100001").reply(TextContent(body="Biaya paspor …"))
    await sender.handle(reply)
    await sender.handle(reply)
    sent = graph.sent(to="6281100001")
    assert len(sent) == 1
    assert sent[0]["payload"]["biz_opaque_callback_data"] == reply.idempotency_key


async def test_outside_the_window_the_template_is_sent(
    sender: Sender, graph: FakeGraphServer
) -> None:
    await open_window(sender, "6281100002", hours_ago=30)
    reply = request("6281100002", hours_ago=30).reply(
        TextContent(body="Paspor Anda siap diambil"), template=TEMPLATE
    )
    await sender.handle(reply)
    [record] = graph.sent(to="6281100002")
    assert record["payload"]["type"] == "template"
    assert record["payload"]["template"]["name"] == "status_paspor_update"


async def test_outside_the_window_without_template_is_dead_lettered(sender: Sender) -> None:
    await open_window(sender, "6281100003", hours_ago=30)
    reply = request("6281100003", hours_ago=30).reply(TextContent(body="halo"))
    with pytest.raises(Reject, match="24-hour window"):
        await sender.handle(reply)
    # The claim was released: a later re-drive may still send it.
    assert (await sender.sent.claim(reply.idempotency_key, time.time() + 1)).free


async def test_meta_saying_window_closed_switches_to_the_template(
    sender: Sender, graph: FakeGraphServer
) -> None:
    await open_window(sender, "6281100004")
    graph.fail(131047, count=1, to="6281100004")
    reply = request("6281100004").reply(TextContent(body="Status berubah"), template=TEMPLATE)
    await sender.handle(reply)
    [record] = graph.sent(to="6281100004")
    assert record["payload"]["type"] == "template"


async def test_retryable_errors_are_retried_and_permanent_ones_rejected(
    sender: Sender, graph: FakeGraphServer
) -> None:
    await open_window(sender, "6281100005")
    graph.fail(131000, count=2, to="6281100005")
    await sender.handle(request("6281100005").reply(TextContent(body="akhirnya")))
    assert len(graph.sent(to="6281100005")) == 1
    await open_window(sender, "6281100006")
    graph.fail(131026, count=1, to="6281100006")
    with pytest.raises(Reject, match="refused"):
        await sender.handle(request("6281100006").reply(TextContent(body="tidak terkirim")))
    graph.fail(2, count=10, to="6281100006")  # 503 for longer than send_max_attempts
    with pytest.raises(Reject, match="gave up after 4 attempts"):
        await sender.handle(request("6281100006", n=2).reply(TextContent(body="nanti")))


async def test_directive_is_stored_before_sending(sender: Sender) -> None:
    from gerbang.messages import Expectation, Service

    await open_window(sender, "6281100007")
    reply = request("6281100007").reply(
        TextContent(body="Kirim nomor permohonan"),
        expect=Expectation(service=Service.STATUS, context={"step": "ask"}, ttl_seconds=600),
    )
    await sender.handle(reply)
    session = await sender.sessions.load("jakpus", "6281100007")
    assert session.expecting(time.time()) is Service.STATUS
    assert session.expect_context == {"step": "ask"}


async def test_rate_limit_is_shared_per_number(redis_db: Redis, settings: ServiceSettings) -> None:
    limiter = RateLimiter(redis_db, settings.topic_prefix)
    started = time.monotonic()
    for _ in range(12):
        await limiter.acquire("100000000000009", per_second=5)
    # 12 sends at 5/s need at least two second boundaries.
    assert time.monotonic() - started >= 1.0
    other = time.monotonic()
    await limiter.acquire("100000000000010", per_second=5)
    assert time.monotonic() - other < 0.5, "another number's budget is independent"


async def test_every_office_number_keeps_its_own_budget(
    redis_db: Redis, settings: ServiceSettings
) -> None:
    """All 151 numbers send at their cap (here 2/s) one after another: none waits for
    another's budget; a number over its cap waits for the next second."""
    from gerbang.offices import default_offices_dir, load_registry

    numbers = [o.whatsapp.phone_number_id for o in load_registry(default_offices_dir())]
    assert len(set(numbers)) == 151
    limiter = RateLimiter(redis_db, settings.topic_prefix)
    second = int(time.time()) + 200  # a moment of the test's choosing

    async def reserve(number: str) -> int:
        (moment,) = await limiter._script(keys=[limiter.stem(number)], args=[second * 1000, 5, 2])
        return int(moment)

    windows = [await reserve(number) // 1000 for number in numbers for _ in range(2)]
    assert set(windows) == {second}, "every number sends its cap in the same second"
    assert await reserve(numbers[0]) // 1000 == second + 1, "a number over its cap waits"


async def test_a_window_that_closed_before_the_send_is_not_used(
    redis_db: Redis, settings: ServiceSettings
) -> None:
    """A slot reserved with the claim, for a second that has passed by the time the send
    comes to it, is not spent now (it would add to this second's own sends): the send
    reserves again, in a second with room."""
    limiter = RateLimiter(redis_db, settings.topic_prefix)
    number = "100000000000011"
    stale = int(time.time()) - 3
    await limiter.wait_for(number, 2, stale * 1000)
    second = int(time.time())
    counts = [await redis_db.get(f"{limiter.stem(number)}:{s}") for s in (second - 1, second)]
    assert sum(int(c) for c in counts if c is not None) == 1, "one slot reserved anew"
    # The stale window's own count was never touched: the send did not count in it.
    assert await redis_db.get(f"{limiter.stem(number)}:{stale}") is None


async def test_a_full_window_spreads_its_sends(redis_db: Redis, settings: ServiceSettings) -> None:
    """A window's sends leave paced over its first SPREAD_MS, never before the reservation
    was made, so none is left at the window's very end; the next window's start the same."""
    limiter = RateLimiter(redis_db, settings.topic_prefix)
    stem = limiter.stem("100000000000012")
    second = int(time.time()) + 100  # a moment of the test's choosing: nothing else there
    at = [(await limiter._script(keys=[stem], args=[second * 1000, 5, 4]))[0] for _ in range(8)]
    step = SPREAD_MS // 4
    assert at == [second * 1000 + k * step for k in range(4)] + [
        (second + 1) * 1000 + k * step for k in range(4)
    ]
    (later,) = await limiter._script(keys=[stem], args=[(second + 2) * 1000 + 500, 5, 4])
    assert later == (second + 2) * 1000 + 500, "a slot's moment never lies before now"


async def test_a_send_held_up_late_into_its_window_reserves_again(
    redis_db: Redis, settings: ServiceSettings
) -> None:
    """A send whose moment passed long ago, now near the end of its full window, does not go
    (it could reach Meta in the next second, on top of that second's sends): it takes a
    place in the next window."""
    limiter = RateLimiter(redis_db, settings.topic_prefix)
    number = "100000000000013"
    now = time.time()
    second = int(now) + 1
    await asyncio.sleep(second + 0.9 - now)
    await redis_db.set(f"{limiter.stem(number)}:{second}", 3)  # the window is full
    waited = await limiter.wait_for(number, 3, second * 1000)
    assert waited > 0
    assert await redis_db.get(f"{limiter.stem(number)}:{second + 1}") == "1"


async def test_only_the_expecting_service_ends_its_wait(sender: Sender) -> None:
    """A status prompt waits for the answer; a FAQ reply meanwhile leaves that wait alone,
    and the status service's own final reply ends it."""
    from gerbang.messages import Expectation, Service

    wa_id = "6281100008"
    await open_window(sender, wa_id)
    ask = request(wa_id, n=1).reply(
        TextContent(body="Kirim nomor permohonan"),
        expect=Expectation(service=Service.STATUS, context={"step": "ask"}, ttl_seconds=600),
        service=Service.STATUS,
    )
    await sender.handle(ask)
    faq = request(wa_id, n=2).reply(TextContent(body="Biaya paspor …"), service=Service.FAQ)
    await sender.handle(faq)
    session = await sender.sessions.load("jakpus", wa_id)
    assert session.expecting(time.time()) is Service.STATUS
    done = request(wa_id, n=3).reply(TextContent(body="Status: dicetak"), service=Service.STATUS)
    await sender.handle(done)
    session = await sender.sessions.load("jakpus", wa_id)
    assert session.expecting(time.time()) is None


async def test_replies_in_flight_together_start_in_one_call_and_each_is_sent_once(
    sender: Sender, graph: FakeGraphServer
) -> None:
    from gerbang.messages import Expectation, Service

    wa_ids = [f"62811000{20 + i}" for i in range(5)]
    for wa_id in wa_ids:
        await open_window(sender, wa_id)
    replies = [
        request(wa_id).reply(
            TextContent(body="Kirim nomor permohonan"),
            expect=Expectation(service=Service.STATUS, context={"n": i}, ttl_seconds=600),
        )
        for i, wa_id in enumerate(wa_ids)
    ]
    await sender.handle(replies[0])  # sent already: the batch must skip it
    batches: list[int] = []
    flush = sender.starts._calls._flush

    async def counted(batch: list[Any]) -> Any:
        batches.append(len(batch))
        return await flush(batch)

    sender.starts._calls._flush = counted
    # Every reply at once, and one of them delivered twice (a redelivery racing itself).
    await asyncio.gather(*(sender.handle(reply) for reply in [*replies, replies[1]]))
    assert max(batches) > 1  # the claims, directives and slots of several replies in one call
    for i, wa_id in enumerate(wa_ids):
        assert len(graph.sent(to=wa_id)) == 1
        session = await sender.sessions.load("jakpus", wa_id)
        assert session.expecting(time.time()) is Service.STATUS
        assert session.expect_context == {"n": i}
