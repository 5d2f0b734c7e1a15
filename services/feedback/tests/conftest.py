"""Fixtures of the feedback service's tests.

Integration tests use the real Kafka broker and Redis (`make infra-up`): a fresh topic prefix
per test and Redis database 4, flushed before and after. The worker runs in-process on the
shared bus, exactly as `python -m gerbang_feedback worker` wires it.
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

from tests.support.aio import run_sync

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
for path in (REPO, HERE):  # tests.support (shared helpers) and feedback_support
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from feedback_support import REDIS_PORT, REDIS_URL  # noqa: E402

from gerbang.offices import OfficeRegistry, load_registry  # noqa: E402
from gerbang.topics import prefixed_topics, wait_for_kafka  # noqa: E402
from gerbang_feedback.settings import FeedbackSettings  # noqa: E402

KAFKA = os.environ.get("GERBANG_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


@pytest.fixture(scope="session")
def registry() -> OfficeRegistry:
    """The repository's offices."""
    return load_registry(REPO / "offices")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker `make infra-up` started (fails with a hint if it is not there)."""
    try:
        run_sync(wait_for_kafka(FeedbackSettings(kafka_bootstrap=KAFKA), timeout=60))
    except TimeoutError:
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make infra-up`")
    return KAFKA


@pytest_asyncio.fixture
async def redis_db() -> AsyncIterator[Redis]:
    """Redis database 4, flushed before and after the test."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await asyncio.wait_for(client.ping(), 10)
    except (TimeoutError, OSError) as exc:
        pytest.fail(f"Redis is not reachable on port {REDIS_PORT}: run `make infra-up` ({exc})")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest_asyncio.fixture
async def settings(kafka_bootstrap: str, redis_db: Redis) -> AsyncIterator[FeedbackSettings]:
    """Settings with a fresh topic prefix (topics created, then deleted) on Redis db 4."""
    result = FeedbackSettings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=REDIS_URL,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        topic_partitions=3,
        offices_dir=REPO / "offices",
        environment="development",
    )
    async with prefixed_topics(result):
        yield result
