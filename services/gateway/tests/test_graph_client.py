"""GraphClient against the fake Graph API running as a real server (a subprocess)."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gerbang.messages import TemplateContent, TextContent
from gerbang_gateway.graph import (
    GraphClient,
    OutcomeUnknown,
    OutsideWindowError,
    PairRateLimited,
    PermanentSendError,
    RetryableSendError,
    build_payload,
    graph_session,
)
from tests.support.fake_graph import FakeGraphServer

NUMBER = "100000000000001"
TOKEN = "EAAG-secret-token-that-must-not-leak"
WA_ID = "6281234567890"
TEXT = build_payload(WA_ID, TextContent(body="Berkas Anda sedang diproses."))
TEMPLATE = build_payload(WA_ID, TemplateContent(name="status_update", body_parameters=["A1"]))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with graph_session(timeout_s=5.0, max_connections=8) as session:
        yield session


@pytest.fixture
def graph(fake_graph: FakeGraphServer, http: aiohttp.ClientSession) -> GraphClient:
    return GraphClient(fake_graph.url, "v25.0", http)


async def test_send_returns_the_wamid_and_the_fake_records_it(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    wamid = await graph.send(NUMBER, TOKEN, TEXT)
    assert wamid.startswith("wamid.")
    [record] = fake_graph.sent()
    assert record["wamid"] == wamid
    assert record["phone_number_id"] == NUMBER
    assert record["to"] == "+6281234567890"
    assert record["payload"] == TEXT
    assert record["api_version"] == "v25.0"


async def test_throughput_limit_is_retryable_with_retry_after(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail(130429, count=1, retry_after=2)
    with pytest.raises(RetryableSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert type(caught.value) is RetryableSendError
    assert (caught.value.code, caught.value.http_status) == (130429, 400)
    assert caught.value.retry_after == 2.0
    assert fake_graph.sent() == []


async def test_throughput_limit_as_http_429(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail(130429, http_status=429, count=1)
    with pytest.raises(RetryableSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (
        130429,
        429,
        None,
    )


async def test_pair_rate_limit(graph: GraphClient, fake_graph: FakeGraphServer) -> None:
    fake_graph.fail(131056, count=1, to=WA_ID)
    with pytest.raises(PairRateLimited) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert caught.value.code == 131056
    # Another citizen is not affected.
    other = build_payload("6289999999999", TextContent(body="Halo"))
    assert (await graph.send(NUMBER, TOKEN, other)).startswith("wamid.")


async def test_outside_window_refuses_text_but_a_template_passes(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail(131047, seconds=60)
    with pytest.raises(OutsideWindowError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert not isinstance(caught.value, RetryableSendError)
    wamid = await graph.send(NUMBER, TOKEN, TEMPLATE)
    assert [r["wamid"] for r in fake_graph.sent()] == [wamid]
    assert fake_graph.sent()[0]["payload"]["type"] == "template"


async def test_undeliverable_is_permanent(graph: GraphClient, fake_graph: FakeGraphServer) -> None:
    fake_graph.fail(131026, count=1, details="Receiver is incapable of receiving this message")
    with pytest.raises(PermanentSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert caught.value.code == 131026
    assert caught.value.details == "Receiver is incapable of receiving this message"


async def test_invalid_payload_is_permanent_error_100(graph: GraphClient) -> None:
    too_long = TEXT | {"text": {"body": "x" * 4097}}
    with pytest.raises(PermanentSendError) as caught:
        await graph.send(NUMBER, TOKEN, too_long)
    assert (caught.value.code, caught.value.http_status) == (100, 400)
    assert "too long" in (caught.value.details or "")


@pytest.mark.parametrize(("code", "http_status"), [(131000, 500), (2, 503), (131057, 500)])
async def test_meta_transient_errors_are_retryable(
    graph: GraphClient, fake_graph: FakeGraphServer, code: int, http_status: int
) -> None:
    fake_graph.fail(code, count=1)
    with pytest.raises(RetryableSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert (caught.value.code, caught.value.http_status) == (code, http_status)


async def test_html_500_is_retryable(graph: GraphClient, fake_graph: FakeGraphServer) -> None:
    fake_graph.fail(None, http_status=500, count=1, retry_after=1.5)
    with pytest.raises(RetryableSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    assert (caught.value.code, caught.value.http_status) == (None, 500)
    assert caught.value.retry_after == 1.5


async def test_count_fails_n_times_then_succeeds(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail(130429, count=3)
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(await graph.send(NUMBER, TOKEN, TEXT))
        except RetryableSendError as error:
            outcomes.append(error.code)
    assert outcomes[:3] == [130429, 130429, 130429]
    assert all(str(o).startswith("wamid.") for o in outcomes[3:])
    stats = fake_graph.stats()
    assert (stats["sent"], stats["failed"]) == (2, 3)


async def test_connection_refused_is_retryable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GraphClient(f"http://127.0.0.1:{port}", "v25.0", http)
    with pytest.raises(RetryableSendError) as caught:
        await client.send(NUMBER, TOKEN, TEXT)
    assert caught.value.code is None
    assert caught.value.__cause__ is None  # the request (with its token) is not chained
    # Never connected: Meta surely has nothing, so this is not an unknown outcome.
    assert not isinstance(caught.value, OutcomeUnknown)


async def test_timeout_is_an_unknown_outcome() -> None:
    # The request went out and no answer came: Meta may have accepted it.
    with FakeGraphServer(latency_ms=500) as slow:
        async with graph_session(timeout_s=0.1, max_connections=2) as http:
            client = GraphClient(slow.url, "v25.0", http)
            with pytest.raises(OutcomeUnknown, match="timeout"):
                await client.send(NUMBER, TOKEN, TEXT)


async def test_token_never_appears_in_errors_or_logs(
    graph: GraphClient, fake_graph: FakeGraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Even if Meta echoed the token back, it is scrubbed.
    fake_graph.fail(190, count=1, message=f"Invalid token {TOKEN}", details=f"token={TOKEN}")
    with pytest.raises(PermanentSendError) as caught:
        await graph.send(NUMBER, TOKEN, TEXT)
    error = caught.value
    assert caught.value.code == 190
    for text in (
        str(error),
        repr(error),
        error.message,
        error.details or "",
        *map(str, error.args),
    ):
        assert TOKEN not in text
    assert "***" in error.message
    assert TOKEN not in caplog.text
    assert "6281234567890" not in caplog.text  # the citizen's number is masked too


async def test_empty_token_is_refused_before_sending(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    with pytest.raises(PermanentSendError, match="no access token"):
        await graph.send(NUMBER, "", TEXT)
    assert fake_graph.stats()["failed"] == 0


async def test_mark_read_with_typing_indicator(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    await graph.mark_read(NUMBER, TOKEN, "wamid.INBOUND1", typing=True)
    [read] = fake_graph.reads()
    assert (read["message_id"], read["typing"], read["phone_number_id"]) == (
        "wamid.INBOUND1", True, NUMBER,
    )  # fmt: skip
    assert fake_graph.sent() == []


async def test_wait_for_sent_and_incremental_polling(
    graph: GraphClient, fake_graph: FakeGraphServer
) -> None:
    await graph.send(NUMBER, TOKEN, TEXT)
    first = fake_graph.wait_for_sent(1, timeout=2)
    await graph.send(NUMBER, TOKEN, TEMPLATE)
    newer = fake_graph.sent(since=first[-1]["index"] + 1)
    assert [r["payload"]["type"] for r in newer] == ["template"]
    with pytest.raises(TimeoutError):
        fake_graph.wait_for_sent(3, timeout=0.2)
