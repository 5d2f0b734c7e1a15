"""Redis adapters of the status service: the application view, lockout counters, opt-ins.

Keys (all under `<topic_prefix>gerbang:status:`, so a test prefix isolates them):
    app:<no>                hash: version, office, stage, record (ApplicationRecord JSON)
    view:ready              marker: the view is complete up to the time it was rebuilt
    view:rebuilding         lock while one process rebuilds the view from the topic
    fail:wa:<wa_id>         failed lookups of a wa_id in the current window
    fail:app:<no>           failed lookups of an application number in the current window
    lock:wa:<wa_id>         lock of a wa_id (TTL = time left)
    lock:app:<no>           lock of an application number
    offer:<office>:<wa_id>:<no>   a lookup offered 'notify me' (value: version|stage)
    optin:<no>              hash: wa_id, office, lang, notified_version, notified_stage
    write:<no>              short lock held by the API while it publishes a new version

The view is derived from `status.updates` (compacted): when the marker is missing — Redis
flushed or never built — `StatusView.ensure_ready` replays the topic from the beginning
before any lookup is answered. Writes are compare-and-set on the version, so the replay, the
live consumer and the API can write the same application in any order and the newest wins.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from redis.asyncio import Redis

from gerbang.bus import Unavailable
from gerbang.messages import ApplicationRecord, Stage, Topic
from gerbang.offices import Lang
from gerbang_status.lockout import LockoutPolicy, LockScope, LockState
from gerbang_status.notify import OptInRecord
from gerbang_status.settings import StatusSettings

log = logging.getLogger(__name__)

# Set the hash only if its version field is absent or lower (returns 1 if written).
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and tonumber(current) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3))
return 1
"""

# Same, but only on an existing hash (an opt-in that was not withdrawn meanwhile).
_UPDATE_IF_NEWER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and tonumber(current) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3))
return 1
"""


async def open_whole_topic(
    settings: StatusSettings, topic: str, client_id: str, timeout_s: float = 30.0
) -> AIOKafkaConsumer:
    """A started consumer (no group) on every partition of `topic`, at the beginning."""
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"gerbang-{client_id}",
    )
    await consumer.start()
    try:
        # Without a group the consumer assigns itself every partition once metadata is in.
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise Unavailable(f"topic {settings.topic(topic)} has no partitions")
            await asyncio.sleep(0.05)
        await consumer.seek_to_beginning(*consumer.assignment())
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def _record_args(record: ApplicationRecord) -> list[Any]:
    return [
        "version", record.version,
        "record", record.model_dump_json(exclude_none=True),
        "office", record.office,
        "stage", record.stage.value,
    ]  # fmt: skip


class Keys:
    """Key names, one place."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{prefix}gerbang:status:"

    def app(self, application_no: str) -> str:
        """The view of one application."""
        return f"{self.base}app:{application_no}"

    @property
    def ready(self) -> str:
        """The view's completeness marker."""
        return f"{self.base}view:ready"

    @property
    def rebuilding(self) -> str:
        """The rebuild lock."""
        return f"{self.base}view:rebuilding"

    def fail(self, scope: LockScope, subject: str) -> str:
        """Failure counter of a wa_id or an application."""
        return f"{self.base}fail:{'wa' if scope is LockScope.WA_ID else 'app'}:{subject}"

    def lock(self, wa_id: str) -> str:
        """Lock of a wa_id."""
        return f"{self.base}lock:wa:{wa_id}"

    def guard(self, application_no: str) -> str:
        """An application guarded after guesses from many phones (see `lockout`)."""
        return f"{self.base}guard:app:{application_no}"

    def turn(self, application_no: str) -> str:
        """The shared turn of a guarded application (taken for `guarded_retry_seconds`)."""
        return f"{self.base}turn:app:{application_no}"

    def offer(self, office: str, wa_id: str, application_no: str) -> str:
        """An opt-in offer made to a wa_id after a successful lookup."""
        return f"{self.base}offer:{office}:{wa_id}:{application_no}"

    def optin(self, application_no: str) -> str:
        """The opt-in of an application."""
        return f"{self.base}optin:{application_no}"

    def write(self, application_no: str) -> str:
        """The API's write lock of an application."""
        return f"{self.base}write:{application_no}"


class StatusView:
    """The materialised view of `status.updates` in Redis."""

    def __init__(self, redis: Redis, settings: StatusSettings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.topic_prefix)
        self._set_if_newer = redis.register_script(_SET_IF_NEWER)
        self._local = asyncio.Lock()

    async def get(self, application_no: str) -> ApplicationRecord | None:
        """The current record of an application, or None."""
        raw = await self.redis.hget(self.keys.app(application_no), "record")
        return ApplicationRecord.model_validate_json(raw) if raw else None

    async def put(self, record: ApplicationRecord, client: Any = None) -> bool:
        """Store `record` unless the view already has this or a newer version."""
        written = await self._set_if_newer(
            keys=[self.keys.app(record.application_no)],
            args=_record_args(record),
            client=client,
        )
        return bool(written)

    async def get_many(self, numbers: list[str]) -> dict[str, ApplicationRecord | None]:
        """Current records of several applications, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hget(self.keys.app(number), "record")
            raws = await pipe.execute()
        return {
            number: ApplicationRecord.model_validate_json(raw) if raw else None
            for number, raw in zip(numbers, raws, strict=True)
        }

    async def put_many(self, records: list[ApplicationRecord]) -> None:
        """`put` for several records, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for record in records:
                # With a pipeline as client, the script call only queues (evalsha on execute).
                await self._set_if_newer(
                    keys=[self.keys.app(record.application_no)],
                    args=_record_args(record),
                    client=pipe,
                )
            await pipe.execute()

    async def delete(self, application_no: str) -> None:
        """Forget an application (a tombstone on the topic)."""
        await self.redis.delete(self.keys.app(application_no))

    async def is_ready(self) -> bool:
        """True if the view has been built (the marker exists)."""
        return bool(await self.redis.exists(self.keys.ready))

    async def ensure_ready(self) -> None:
        """Rebuild the view from the topic if the marker is missing; wait if another does.

        Raises `Unavailable` if another process holds the rebuild lock for too long (the
        message is retried, so lookups are never answered from a half-built view).
        """
        if await self.is_ready():
            return
        async with self._local:
            if await self.is_ready():
                return
            token = secrets.token_hex(8)
            timeout = self.settings.rebuild_timeout_s
            if not await self.redis.set(self.keys.rebuilding, token, nx=True, ex=int(timeout) + 1):
                await self._wait_for_other(wait_s=timeout)
                return
            try:
                started = time.perf_counter()
                applied = await self.rebuild()
                await self.redis.set(self.keys.ready, str(int(time.time())))
                log.info(
                    "status view rebuilt from status.updates",
                    extra={"records": applied, "seconds": round(time.perf_counter() - started, 3)},
                )
            finally:
                if await self.redis.get(self.keys.rebuilding) == token:
                    await self.redis.delete(self.keys.rebuilding)

    async def _wait_for_other(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if await self.is_ready():
                return
            if not await self.redis.exists(self.keys.rebuilding):
                raise Unavailable("view rebuild by another process ended without the marker")
            await asyncio.sleep(0.2)
        raise Unavailable("view is being rebuilt by another process")

    async def rebuild(self) -> int:
        """Replay `status.updates` from the beginning to its current end into the view."""
        consumer = await open_whole_topic(self.settings, Topic.STATUS_UPDATES, "status-rebuild")
        try:
            tps = sorted(consumer.assignment())
            end = await consumer.end_offsets(tps)
            deadline = time.monotonic() + self.settings.rebuild_timeout_s
            pending = {tp for tp in tps if await consumer.position(tp) < end[tp]}
            applied = 0
            while pending:
                if time.monotonic() > deadline:
                    raise Unavailable("view rebuild took too long")
                batch = await consumer.getmany(*pending, timeout_ms=500, max_records=2000)
                async with self.redis.pipeline(transaction=False) as pipe:
                    for records in batch.values():
                        for message in records:
                            applied += await self._queue_apply(pipe, message.key, message.value)
                    await pipe.execute()
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
            return applied
        finally:
            await consumer.stop()

    async def _queue_apply(self, pipe: Any, key: bytes | None, value: bytes | None) -> int:
        if value is None:  # tombstone: the application was deleted
            if key:
                pipe.delete(self.keys.app(key.decode("utf-8", errors="replace")))
            return 1
        try:
            record = ApplicationRecord.model_validate_json(value)
        except ValidationError:
            # The live consumer dead-letters it; the view simply does not have it.
            log.warning("undecodable record on status.updates skipped during rebuild")
            return 0
        await self._set_if_newer(
            keys=[self.keys.app(record.application_no)],
            args=_record_args(record),
            client=pipe,
        )
        return 1


class LockoutStore:
    """Failure counters and locks in Redis, applying a `LockoutPolicy`."""

    def __init__(self, redis: Redis, prefix: str, policy: LockoutPolicy) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.policy = policy

    async def state(self, wa_id: str, application_no: str) -> tuple[int, bool]:
        """Seconds left on the wa_id's lock, and whether the application is guarded."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.ttl(self.keys.lock(wa_id))
            pipe.exists(self.keys.guard(application_no))
            wa_ttl, guarded = await pipe.execute()
        return max(int(wa_ttl), 0), bool(guarded)

    async def take_turn(self, application_no: str) -> LockState:
        """Take the guarded application's shared turn: a clear `LockState` if taken, else
        the seconds until the turn is free again."""
        key = self.keys.turn(application_no)
        seconds = self.policy.guarded_retry_seconds
        if await self.redis.set(key, "1", ex=seconds, nx=True):
            return LockState()
        return LockState(application_seconds=max(int(await self.redis.ttl(key)), 1))

    async def record_failure(
        self, wa_id: str, application_no: str, *, count_application: bool = True
    ) -> list[LockScope]:
        """Count a failed lookup; returns the scopes this failure locked (wa_id) or guarded
        (application). `count_application=False` for the number on file."""
        subjects = {LockScope.WA_ID: wa_id}
        if count_application:
            subjects[LockScope.APPLICATION] = application_no
        async with self.redis.pipeline(transaction=True) as pipe:
            for scope, subject in subjects.items():
                key = self.keys.fail(scope, subject)
                pipe.incr(key)
                # Fixed window: the first failure starts it; later ones do not extend it.
                pipe.expire(key, self.policy.window_seconds, nx=True)
            results = await pipe.execute()
        counts = dict(zip(subjects, results[0::2], strict=True))
        reached = []
        for scope, subject in subjects.items():
            if self.policy.locks_after_failure(scope, int(counts[scope])):
                key = (
                    self.keys.lock(subject)
                    if scope is LockScope.WA_ID
                    else self.keys.guard(subject)
                )
                if await self.redis.set(key, "1", ex=self.policy.lock_seconds, nx=True):
                    reached.append(scope)
        return reached


class OptInStore:
    """Who wants to hear about an application's stage changes."""

    def __init__(self, redis: Redis, prefix: str, offer_ttl_s: int) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.offer_ttl_s = offer_ttl_s
        self._update_if_newer = redis.register_script(_UPDATE_IF_NEWER)

    async def offer(self, office: str, wa_id: str, record: ApplicationRecord) -> None:
        """Remember that a lookup showed this application to this wa_id (and which version)."""
        await self.redis.set(
            self.keys.offer(office, wa_id, record.application_no),
            f"{record.version}|{record.stage.value}",
            ex=self.offer_ttl_s,
        )

    async def accept(self, office: str, wa_id: str, application_no: str, lang: Lang) -> bool:
        """Store the opt-in if a lookup offered it to this wa_id at this office."""
        offered = await self.redis.get(self.keys.offer(office, wa_id, application_no))
        if not offered:
            return False
        version_text, stage = str(offered).split("|", 1)
        current = await self.get(application_no)
        if (
            current is not None
            and current.wa_id == wa_id
            and current.notified_version >= int(version_text)
        ):
            return True  # tapped again: do not rewind what was already notified
        await self.redis.hset(
            self.keys.optin(application_no),
            mapping={
                "wa_id": wa_id, "office": office, "lang": lang,
                "notified_version": version_text, "notified_stage": stage,
            },
        )  # fmt: skip
        return True

    async def get(self, application_no: str) -> OptInRecord | None:
        """The opt-in of an application, if any."""
        fields = await self.redis.hgetall(self.keys.optin(application_no))
        if not fields:
            return None
        lang: Lang = "en" if fields.get("lang") == "en" else "id"
        return OptInRecord(
            application_no=application_no,
            office=str(fields["office"]),
            wa_id=str(fields["wa_id"]),
            lang=lang,
            notified_version=int(fields["notified_version"]),
            notified_stage=Stage(fields["notified_stage"]),
        )

    async def advance(self, optin: OptInRecord) -> None:
        """Record the last version considered (never moves back)."""
        await self._update_if_newer(
            keys=[self.keys.optin(optin.application_no)],
            args=["notified_version", optin.notified_version,
                  "notified_stage", optin.notified_stage.value],
        )  # fmt: skip
