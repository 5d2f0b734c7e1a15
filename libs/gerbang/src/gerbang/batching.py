"""Gathering small writes for a moment so that many share one round trip.

Under load the services handle hundreds of messages at once, and each used to pay its own
Redis round trip for writes nobody waits for (the webhook's dedupe confirmation, the ops
dashboard's counters). A `Batcher` holds such items for `delay_s` (a few milliseconds) and
hands everything gathered by then to one `flush` call: at 700 messages/s a 20 ms window turns
fourteen round trips into one, at 1 message/s it only delays a write nobody reads at once.

Only for best-effort writes: an item waiting in a batch is lost if the process dies (call
`drain` at shutdown), and `flush` must handle its own errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Items added within `delay_s` of the first one are flushed together, in order."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[None]], delay_s: float) -> None:
        self._flush = flush
        self.delay_s = delay_s
        self._items: list[T] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until done
        self._waiting: asyncio.Task[None] | None = None  # the flush still in its delay

    def add(self, items: Iterable[T]) -> None:
        """Queue items; the first of a batch schedules its flush `delay_s` from now."""
        self._items.extend(items)
        if self._items and not self._scheduled:
            self._scheduled = True
            task = asyncio.create_task(self._later())
            self._waiting = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _later(self) -> None:
        await asyncio.sleep(self.delay_s)
        self._waiting = None  # flushing now: never cancelled from here on
        await self.drain()

    async def drain(self) -> None:
        """Flush what is queued now (at shutdown, or when a reader needs it written)."""
        self._scheduled = False  # what is added from now on goes with the next batch
        if self._waiting is not None:  # its flush would find nothing now: stop it
            self._waiting.cancel()
            self._waiting = None
        items, self._items = self._items, []
        if items:
            await self._flush(items)


R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """Calls whose callers wait for the answer, sharing round trips only when there is a queue.

    `call(item)` returns `flush([item, ...])`'s result for that item. The first call flushes
    at once (no delay: a lone message pays nothing); calls made while a flush is in flight
    wait for it to end and then go together in the next one. Under load (hundreds of records
    in flight in a consumer) one Redis round trip serves a whole batch; at one message a
    second every call is its own flush, as before.

    `flush` gets the items in call order and returns one result per item, in that order; if
    it raises, every caller of that batch gets the exception (and may retry alone).
    """

    def __init__(self, flush: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._flush = flush
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        """The flush's result for `item` (its exception, if the batch failed)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    results = await self._flush([item for item, _ in batch])
                except Exception as exc:  # each caller decides (retry, give up)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled (shutting down): nobody is answered
                    for _, future in [*batch, *self._queued]:
                        if not future.done():
                            future.cancel()
                    self._queued = []
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # its caller may have been cancelled meanwhile
                        future.set_result(result)
        finally:
            self._running = None
