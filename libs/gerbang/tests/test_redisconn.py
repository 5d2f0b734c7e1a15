"""The services' Redis connections pack commands with hiredis: the same bytes as redis-py."""

from __future__ import annotations

import pytest
from redis.asyncio import Connection
from redis.exceptions import DataError

from gerbang.redisconn import connect_redis
from gerbang.settings import ServiceSettings

COMMANDS = [
    ("SET", "gerbang:sess:jakpus:6281234567890", "é€ ✓", "EX", 600),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", 1796315893.322047, 0.1, 1e20, -3, b"\x00\xff"),
    ("CONFIG GET", "maxmemory"),
    ("ZADD", "z", 12345678901234567890, "m", 1.0, "n", float("inf"), "o"),
    ("HSET", "h", *[f"field{i}" for i in range(300)]),  # past redis-py's chunking cutoff
]


@pytest.fixture
def connection() -> Connection:
    redis = connect_redis(ServiceSettings(redis_url="redis://127.0.0.1:1/0"))
    made = redis.connection_pool.make_connection()
    assert isinstance(made, Connection)
    return made


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_packed_like_redis_py(connection: Connection, command: tuple[object, ...]) -> None:
    assert b"".join(connection.pack_command(*command)) == b"".join(
        Connection().pack_command(*command)
    )


@pytest.mark.parametrize("value", [None, True])
def test_refused_like_redis_py(connection: Connection, value: object) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", value)
    with pytest.raises(DataError):
        connection.pack_command("SET", "k", value)


def test_packs_with_hiredis(connection: Connection) -> None:
    assert type(connection).__name__ == "HiredisConnection"
