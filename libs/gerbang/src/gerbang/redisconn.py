"""The one way Gerbang services connect to Redis.

A bounded, *blocking* connection pool: a burst of concurrent handlers (the bus runs up to
`max_concurrency` conversations at once) waits a moment for a free connection instead of
failing. redis-py 6+ caps a plain pool at 100 connections and raises `MaxConnectionsError`
(a `ConnectionError`, so the bus would treat a busy pool as "Redis is down" and back off);
the first `make bench` run lost most of its throughput to exactly that in the sender.
Short socket timeouts keep a dead Redis an error (503 / retry), never a hang.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.driver_info import DriverInfo
from redis.exceptions import DataError

from gerbang.settings import ServiceSettings

_DRIVER_INFO = DriverInfo()
"""What every connection tells Redis (CLIENT SETINFO), made once: redis-py otherwise reads
its own version from the package metadata for each new connection (≈7 ms of CPU each, and
a busy pool opens dozens of them under load)."""


class _HiredisPacking(AbstractConnection):
    """Commands packed by hiredis (C), as redis-py's synchronous client already does.

    The asyncio connection packs in Python, joining its growing buffer again for every
    argument: the per-batch script calls (dozens to hundreds of arguments each) spent
    ≈340 µs packing 180 arguments, ≈9% of the router's CPU at capacity; hiredis packs the
    same bytes in ≈35 µs."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py: a command name with spaces ("CONFIG GET") is sent as separate words.
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:  # what redis-py's own encoder raises for None, a bool, …
            raise DataError(str(exc)) from exc


_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _with_hiredis_packing(kind: type[AbstractConnection]) -> type[AbstractConnection]:
    """`kind` (TCP, TLS or Unix socket, as the URL chose) packing with hiredis."""
    packed = _PACKING.get(kind)
    if packed is None:
        packed = _PACKING[kind] = type(f"Hiredis{kind.__name__}", (_HiredisPacking, kind), {})
    return packed


def connect_redis(
    settings: ServiceSettings,
    *,
    socket_timeout: float = 5.0,
    pool_timeout: float = 10.0,
    health_check_interval: int = 15,
) -> Redis:
    """A Redis client (str in, str out) for `settings.redis_url`, on a pool of at most
    `settings.redis_max_connections`."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=pool_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=health_check_interval,
        decode_responses=True,
        driver_info=_DRIVER_INFO,
    )
    pool.connection_class = _with_hiredis_packing(pool.connection_class)
    return Redis.from_pool(pool)
