"""Shared fixtures: the real Kafka broker and Redis that `make test` starts.

Each test module gets its own topic prefix (fresh topics) and Redis database, so tests do not
see each other's messages; fixtures wait for readiness with timeouts, never with sleeps.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from gerbang.settings import ServiceSettings  # noqa: E402
from gerbang.topics import prefixed_topics, wait_for_kafka  # noqa: E402
from tests.support.aio import run_sync  # noqa: E402

KAFKA = os.environ.get("GERBANG_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_PORT = int(os.environ.get("GERBANG_REDIS_PORT", "6379"))


def new_prefix() -> str:
    """A fresh topic prefix: every topic and group of a test lives under it."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker `make test` started (fails with a hint if it is not there)."""
    settings = ServiceSettings(kafka_bootstrap=KAFKA)
    try:
        run_sync(wait_for_kafka(settings, timeout=60))
    except TimeoutError:
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make infra-up` (make test does)")
    return KAFKA


@pytest_asyncio.fixture
async def settings(kafka_bootstrap: str) -> AsyncIterator[ServiceSettings]:
    """Settings with a fresh topic prefix and its topics created (deleted afterwards)."""
    prefix = new_prefix()
    result = ServiceSettings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=f"redis://127.0.0.1:{REDIS_PORT}/1",
        topic_prefix=prefix,
        topic_partitions=3,
        offices_dir=REPO / "offices",
    )
    async with prefixed_topics(result):
        yield result


@pytest_asyncio.fixture
async def redis_db() -> AsyncIterator[Redis]:
    """Redis database 1, flushed before and after the test."""
    client = Redis.from_url(f"redis://127.0.0.1:{REDIS_PORT}/1", decode_responses=True)
    try:
        await asyncio.wait_for(client.ping(), 10)
    except (TimeoutError, OSError) as exc:
        pytest.fail(f"Redis is not reachable on port {REDIS_PORT}: run `make infra-up` ({exc})")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
