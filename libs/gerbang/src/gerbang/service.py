"""Running a worker process: producer, consumers, health endpoints, clean shutdown.

Workers expose `/healthz` (process alive), `/readyz` (consumers joined, Redis answers) and
`/metrics` (Prometheus) on a small HTTP port, without pulling a web framework into workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gerbang.bus import Consumer, Producer
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[bool]]
T = TypeVar("T")


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """Run a service process's main coroutine on uvloop (libuv's event loop: less CPU per
    message than asyncio's own; uvicorn uses it for the APIs already), or on asyncio's
    loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def settle_heap() -> None:
    """Once a service has started: collect, then move every object alive now (the offices,
    the classifier, the FAQ content, the imported modules: ≈100,000 objects) out of the
    cyclic garbage collector's reach (`gc.freeze`).

    They live as long as the process, but each full collection under load walked all of
    them again (60–80 ms each on the two-core machine): 9–18% of a worker's CPU at capacity
    went to the collector. Reference counting still frees whatever of them is let go; only
    a reference cycle among them is never collected (start-up state replaced later, such as
    content published in `/ops`, leaks only what it holds in cycles: rare and bounded).

    The youngest generation is also collected after `YOUNG_GC_THRESHOLD` allocations instead
    of Python's 700: a message in flight allocates hundreds of objects that reference
    counting frees on its own, and at 700 every collection found the records in flight
    alive, walked them and promoted them to the older generations, to be walked again."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, older, oldest)


YOUNG_GC_THRESHOLD = 10_000


async def _serve_health(host: str, port: int, ready: ReadyCheck) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            if path.startswith("/metrics"):
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
            elif path.startswith("/healthz"):
                status, ctype, body = "200 OK", "application/json", b'{"status":"ok"}'
            elif path.startswith("/readyz"):
                ok = await ready()
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype, body = "application/json", b'{"ready":%s}' % (b"true" if ok else b"false")
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"not found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def run_worker(
    settings: ServiceSettings,
    *,
    service: str,
    producer: Producer,
    consumers: Sequence[Consumer[Any]],
    health_port: int | None,
    extra_ready: ReadyCheck | None = None,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> None:
    """Start everything, run until SIGTERM/SIGINT, then stop in reverse order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def ready() -> bool:
        if not all(consumer.ready for consumer in consumers):
            return False
        if extra_ready is not None:
            try:
                return await extra_ready()
            except Exception:  # a readiness probe reports, it does not crash
                return False
        return True

    server = await _serve_health(settings.health_host, health_port, ready) if health_port else None
    await producer.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        # Joined together: each start waits for its group's assignment, which after a crash
        # waits out the dead member's session; one after the other would add those waits.
        await asyncio.gather(*(consumer.start() for consumer in consumers))
        for consumer in consumers:
            tasks.append(asyncio.create_task(consumer.run(), name=f"consume:{consumer.topic}"))
        tasks.extend(asyncio.create_task(job()) for job in background)
        settle_heap()
        log.info(
            "started", extra={"topics": [c.topic for c in consumers], "health_port": health_port}
        )
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception():
                raise task.exception()  # type: ignore[misc]
    finally:
        log.info("stopping")
        # Graceful first: stop fetching, let the records in flight finish and commit them
        # (bounded by each consumer's drain timeout); then cancel whatever is left.
        for consumer in consumers:
            try:
                await consumer.stop()
            except Exception:
                log.exception("consumer did not stop cleanly", extra={"topic": consumer.topic})
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await producer.stop()
        if server is not None:
            server.close()
