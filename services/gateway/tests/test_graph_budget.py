"""A Graph connection budget per office: one office's stalled number does not stall the
others' replies (issue 12). The fake Graph API runs as a real server; in front of it, a small
proxy holds every call of one office's number, as Meta holding its answers would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from gerbang.messages import TextContent
from gerbang_gateway.graph import GraphClient, build_payload, graph_session
from tests.support.fake_graph import FakeGraphServer

SLOW, FAST = "100000000000001", "100000000000002"  # jakpus's and bogor's numbers
TOKEN = "EAAG-test-token"


class HoldingProxy:
    """Forwards to the fake Graph API; calls for `held_number` wait until `release()`."""

    def __init__(self, upstream: str, held_number: str) -> None:
        self.upstream = upstream
        self.held_number = held_number
        self.held = 0
        self.most_held = 0
        self._released = asyncio.Event()
        self._changed = asyncio.Condition()
        self.url = ""

    async def wait_held(self, count: int) -> None:
        """Until `count` calls are held (bounded: a test must not hang)."""

        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: self.held >= count)

        await asyncio.wait_for(reached(), timeout=30)

    def release(self) -> None:
        self._released.set()

    async def handle(self, request: web.Request) -> web.Response:
        if f"/{self.held_number}/" in request.path:
            async with self._changed:
                self.held += 1
                self.most_held = max(self.most_held, self.held)
                self._changed.notify_all()
            try:
                await self._released.wait()
            finally:
                self.held -= 1
        body = await request.read()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.upstream}{request.path}", data=body, headers=dict(request.headers)
            ) as answer,
        ):
            return web.Response(
                status=answer.status, body=await answer.read(), content_type="application/json"
            )


@contextlib.asynccontextmanager
async def holding_proxy(upstream: str, held_number: str) -> AsyncIterator[HoldingProxy]:
    proxy = HoldingProxy(upstream, held_number)
    app = web.Application()
    app.router.add_post("/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        proxy.release()
        await runner.cleanup()


def reply(n: int) -> dict[str, object]:
    return build_payload(f"62812000{n:05d}", TextContent(body=f"Balasan {n}"))


async def test_a_stalled_office_holds_only_its_budget_and_others_flow(
    fake_graph: FakeGraphServer,
) -> None:
    async with (
        holding_proxy(fake_graph.url, SLOW) as proxy,
        graph_session(timeout_s=60.0, max_connections=4) as http,
    ):
        graph = GraphClient(proxy.url, "v25.0", http, connections_per_number=2)
        stalled = [asyncio.create_task(graph.send(SLOW, TOKEN, reply(n))) for n in range(6)]
        await proxy.wait_held(2)  # the stalled office's budget is in use ...
        # ... and the other office's replies go out meanwhile, on the rest of the pool.
        flowing = await asyncio.wait_for(
            asyncio.gather(*(graph.send(FAST, TOKEN, reply(n)) for n in range(10))), timeout=30
        )
        assert len(set(flowing)) == 10 and all(w.startswith("wamid.") for w in flowing)
        assert len(fake_graph.sent(phone_number_id=FAST)) == 10
        assert not any(task.done() for task in stalled)
        assert proxy.most_held == 2  # never more than its budget, though 6 were waiting
        proxy.release()
        await asyncio.wait_for(asyncio.gather(*stalled), timeout=30)
    assert len(fake_graph.sent(phone_number_id=SLOW)) == 6


async def test_without_a_budget_one_stalled_number_takes_the_whole_pool(
    fake_graph: FakeGraphServer,
) -> None:
    """The failure the budget prevents (and the proof the test above can fail)."""
    async with (
        holding_proxy(fake_graph.url, SLOW) as proxy,
        graph_session(timeout_s=60.0, max_connections=4) as http,
    ):
        graph = GraphClient(proxy.url, "v25.0", http)
        stalled = [asyncio.create_task(graph.send(SLOW, TOKEN, reply(n))) for n in range(6)]
        await proxy.wait_held(4)
        other = asyncio.create_task(graph.send(FAST, TOKEN, reply(99)))
        done, _ = await asyncio.wait([other], timeout=1.0)
        assert not done and fake_graph.sent(phone_number_id=FAST) == []
        proxy.release()
        await asyncio.wait_for(asyncio.gather(*stalled, other), timeout=30)
