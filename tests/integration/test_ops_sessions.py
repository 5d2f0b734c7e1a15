"""Staff sessions and sign-in throttling against the real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gerbang_gateway.ops.access import (
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    OpsSessions,
    SignInThrottle,
)
from gerbang_gateway.ops.staff import StaffDirectory, load_staff
from tests.support.whatsapp import REGISTRY

pytestmark = pytest.mark.integration

STAFF = load_staff(None, {o.code for o in REGISTRY}, development=True)


async def test_session_round_trip_sign_out_and_removed_account(redis_db: Redis) -> None:
    sessions = OpsSessions(redis_db, "t.", STAFF, 3600)
    account = STAFF.get("jakpus.agent")
    assert account is not None
    cookie, session = await sessions.create(account)
    loaded = await sessions.load(cookie)
    assert loaded == session and loaded.viewer.username == "jakpus.agent"
    assert cookie not in str(await redis_db.keys("*"))  # only a digest of the id is stored
    assert await sessions.load("forged") is None and await sessions.load(None) is None
    # An account removed from the staff file: its sessions end.
    without = OpsSessions(redis_db, "t.", StaffDirectory([a for a in STAFF if a != account]), 60)
    assert await without.load(cookie) is None
    await sessions.end(cookie)
    assert await sessions.load(cookie) is None


async def test_sessions_expire(redis_db: Redis) -> None:
    sessions = OpsSessions(redis_db, "t.", STAFF, 3600)
    account = STAFF.get("bogor.agent")
    assert account is not None
    await sessions.create(account)
    [key] = await redis_db.keys("t.gerbang:ops:session:*")
    assert 3500 < await redis_db.ttl(key) <= 3600


async def test_failures_lock_the_account_even_for_the_right_password(redis_db: Redis) -> None:
    throttle = SignInThrottle(redis_db, "t.")
    for _ in range(ACCOUNT_FAILURES - 1):
        await throttle.failed("jakpus.agent", "10.0.0.1", "jakpus")
    assert await throttle.locked("jakpus.agent", "10.0.0.1") is None
    await throttle.failed("jakpus.agent", "10.0.0.1", "jakpus")
    lock = await throttle.locked("jakpus.agent", "10.0.0.9")  # another address: still locked
    assert lock is not None and lock.scope == "account" and 800 < lock.seconds <= 900
    assert await throttle.locked("bogor.agent", "10.0.0.9") is None
    await throttle.count("jakpus", "locked")
    assert await throttle.today(["jakpus"]) == {"failed": ACCOUNT_FAILURES, "locked": 1}
    assert await throttle.today(["bogor"]) == {"failed": 0, "locked": 0}


async def test_one_address_trying_many_names_is_locked(redis_db: Redis) -> None:
    throttle = SignInThrottle(redis_db, "t.")
    for i in range(ADDRESS_FAILURES):
        await throttle.failed(f"guess{i}", "10.9.9.9", "*")
    lock = await throttle.locked("jakpus.lead", "10.9.9.9")
    assert lock is not None and lock.scope == "address"
    assert await throttle.locked("jakpus.lead", "10.1.1.1") is None
