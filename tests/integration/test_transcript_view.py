"""The transcript view's one-script write (`ops/inbox.py` `_ADD_SCRIPT`) against the real
Redis: entries of a batch stored together, the newest `KEEP_ENTRIES` kept, entries past
retention dropped, an expiry set once and only ever lengthened (held conversations)."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from gerbang.topics import Topic
from gerbang_gateway.ops.inbox import KEEP_ENTRIES, RECENT_DAYS, TranscriptView
from tests.support.whatsapp import inbound_text

pytestmark = pytest.mark.integration

WA_ID = "6281200000001"


def _inbound(n: int, at: float) -> tuple[str, Any]:
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    message = inbound_text(WA_ID, f"wamid.T{n:05d}", when, f"pesan {n}")
    return Topic.INBOUND, SimpleNamespace(value=message.model_dump_json().encode())


async def test_a_batch_keeps_the_newest_entries_and_sets_one_expiry(redis_db: Redis) -> None:
    view = TranscriptView(redis_db, "t.", b"k" * 64, retention_days=30)
    now = time.time()
    batch = [_inbound(n, now - 1000 + n) for n in range(KEEP_ENTRIES + 20)]
    await view.apply_records(batch)  # type: ignore[arg-type]
    entries = await view.transcript("jakpus", WA_ID)
    assert len(entries) == KEEP_ENTRIES
    assert entries[0]["text"] == "pesan 20" and entries[-1]["text"] == f"pesan {KEEP_ENTRIES + 19}"
    order, hashed = view._keys("jakpus", WA_ID)
    assert await redis_db.hlen(hashed) == KEEP_ENTRIES  # trimmed from both keys alike
    recent = RECENT_DAYS * 86400
    for key in (order, hashed):
        assert recent - 60 < await redis_db.ttl(key) <= recent
    # A longer expiry is never shortened by a later, shorter one.
    await redis_db.expire(order, 20 * 86400)
    await redis_db.expire(hashed, 20 * 86400)
    await view.apply_records([_inbound(999, now)])  # type: ignore[arg-type]
    for key in (order, hashed):
        assert await redis_db.ttl(key) > recent
    assert (await view.last("jakpus", WA_ID) or {}).get("text") == "pesan 999"


async def test_entries_past_retention_are_dropped(redis_db: Redis) -> None:
    view = TranscriptView(redis_db, "t.", b"k" * 64, retention_days=1)
    now = time.time()
    await view.apply_records([_inbound(1, now - 600), _inbound(2, now - 300)])  # type: ignore[arg-type]
    order, hashed = view._keys("jakpus", WA_ID)
    # An entry that has aged past retention since it was stored goes with the next write.
    await redis_db.zadd(order, {"wamid.T00001": now - 2 * 86400})
    await view.apply_records([_inbound(3, now)])  # type: ignore[arg-type]
    texts = [entry["text"] for entry in await view.transcript("jakpus", WA_ID)]
    assert texts == ["pesan 2", "pesan 3"]
    assert await redis_db.zscore(order, "wamid.T00001") is None
    assert await redis_db.hget(hashed, "wamid.T00001") is None
