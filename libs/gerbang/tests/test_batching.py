"""`Batcher`: writes added in the same moment share one flush; later ones get their own."""

from __future__ import annotations

import asyncio

from gerbang.batching import Batcher


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
