"""`Batcher` and `Coalescer`: writes of one moment share one flush; later ones get their own."""

from __future__ import annotations

import asyncio

from gerbang.batching import Batcher, Coalescer


async def test_items_of_one_moment_share_one_flush_and_later_ones_get_the_next() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> None:
        flushed.append(items)

    batcher: Batcher[int] = Batcher(flush, delay_s=0.01)
    batcher.add([1, 2])
    batcher.add([3])
    await asyncio.sleep(0.05)
    assert flushed == [[1, 2, 3]]
    batcher.add([4])
    await asyncio.sleep(0.05)
    assert flushed == [[1, 2, 3], [4]]


async def test_drain_writes_what_waits_at_once() -> None:
    flushed: list[list[str]] = []

    async def flush(items: list[str]) -> None:
        flushed.append(items)

    batcher: Batcher[str] = Batcher(flush, delay_s=60)
    batcher.add(["a"])
    await batcher.drain()
    assert flushed == [["a"]]
    batcher.add(["b"])  # a new batch is scheduled after a drain
    await batcher.drain()
    assert flushed == [["a"], ["b"]]


async def test_coalescer_calls_made_during_a_flush_share_the_next_one() -> None:
    flushed: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        if len(flushed) == 1:
            await gate.wait()  # the first round trip is still out
        return [item * 10 for item in items]

    coalescer: Coalescer[int, int] = Coalescer(flush)
    first = asyncio.create_task(coalescer.call(1))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(coalescer.call(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.01)
    assert flushed == [[1]]  # nobody waited for company
    gate.set()
    assert await first == 10
    assert [await task for task in later] == [20, 30, 40]
    assert flushed == [[1], [2, 3, 4]]
    assert await coalescer.call(5) == 50  # idle again: a call of its own
    assert flushed[-1] == [5]


async def test_coalescer_a_failed_flush_fails_each_of_its_callers_only() -> None:
    calls = 0

    async def flush(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("redis away")
        return items

    coalescer: Coalescer[str, str] = Coalescer(flush)
    results = await asyncio.gather(coalescer.call("a"), coalescer.call("b"), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    assert await coalescer.call("c") == "c"  # the next batch is not affected
