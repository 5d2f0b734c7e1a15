"""Fixtures of the status tests: the real office registry and records to look up."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from gerbang.messages import ApplicationRecord, Stage
from gerbang.offices import OfficeRegistry, load_registry

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def registry() -> OfficeRegistry:
    """The repository's offices (jakpus = SIGAP, bogor, batam)."""
    return load_registry(REPO / "offices")


def make_record(
    application_no: str = "1234567890123",
    office: str = "jakpus",
    stage: Stage = Stage.IN_PROCESS,
    date_of_birth: dt.date = dt.date(1990, 5, 12),
    version: int = 1,
    note: str | None = None,
) -> ApplicationRecord:
    """A record as the back-office API would publish it."""
    return ApplicationRecord(
        application_no=application_no,
        office=office,
        stage=stage,
        date_of_birth=date_of_birth,
        applicant_name="Siti Rahayu",
        version=version,
        note=note,
    )


# --- integration fixtures (real Kafka and Redis) -------------------------------------------

import os  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402

import pytest_asyncio  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

if str(REPO) not in sys.path:  # tests.support (fake Graph API) lives at the repository root
    sys.path.insert(0, str(REPO))

KAFKA = os.environ.get("GERBANG_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_PORT = int(os.environ.get("GERBANG_REDIS_PORT", "6379"))


@pytest_asyncio.fixture
async def status_settings():  # type: ignore[no-untyped-def]
    """StatusSettings with a fresh topic prefix (topics created) and Redis db 3."""
    from gerbang.topics import prefixed_topics, wait_for_kafka
    from gerbang_status.settings import StatusSettings

    settings = StatusSettings(
        kafka_bootstrap=KAFKA,
        redis_url=f"redis://127.0.0.1:{REDIS_PORT}/3",
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        topic_partitions=2,
        offices_dir=REPO / "offices",
        view_check_interval_s=0.2,
    )
    try:
        await wait_for_kafka(settings, timeout=30)
    except TimeoutError:
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make infra-up`")
    async with prefixed_topics(settings):
        yield settings


@pytest_asyncio.fixture
async def redis3() -> AsyncIterator[Redis]:
    """Redis database 3 (the status tests' own), flushed before and after."""
    client = Redis.from_url(f"redis://127.0.0.1:{REDIS_PORT}/3", decode_responses=True)
    try:
        await asyncio.wait_for(client.ping(), 10)
    except (TimeoutError, OSError) as exc:
        pytest.fail(f"Redis is not reachable on port {REDIS_PORT}: run `make infra-up` ({exc})")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
