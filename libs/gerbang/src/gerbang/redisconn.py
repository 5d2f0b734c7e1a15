"""The one way Gerbang services connect to Redis.

A bounded, *blocking* connection pool: a burst of concurrent handlers (the bus runs up to
`max_concurrency` conversations at once) waits a moment for a free connection instead of
failing. redis-py 6+ caps a plain pool at 100 connections and raises `MaxConnectionsError`
(a `ConnectionError`, so the bus would treat a busy pool as "Redis is down" and back off);
the first `make bench` run lost most of its throughput to exactly that in the sender.
Short socket timeouts keep a dead Redis an error (503 / retry), never a hang.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.driver_info import DriverInfo

from gerbang.settings import ServiceSettings

_DRIVER_INFO = DriverInfo()
"""What every connection tells Redis (CLIENT SETINFO), made once: redis-py otherwise reads
its own version from the package metadata for each new connection (≈7 ms of CPU each, and
a busy pool opens dozens of them under load)."""


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
    return Redis.from_pool(pool)
