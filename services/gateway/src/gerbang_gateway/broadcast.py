"""Broadcasts: an office's live announcement, once, to every citizen who subscribed.

An office lead starts one in `/ops` (`BroadcastStore.create`: the announcement's text is
frozen, the start audited). The broadcaster (`run_broadcasts`, in each sender process)
picks it up, takes its lease, freezes the audience (the subscribers then, from the Redis
view, rebuilt from `announcements.subscriptions` first if Redis lost it) and walks it in
order: for each citizen still subscribed it produces an `OutboundReply` on
`whatsapp.outbound` with the approved template and the idempotency key
`broadcast:<id>:<wa_id>`, paced at `broadcast_share` of the number's throughput with the
sender's own `RateLimiter` (its own key, so the sender's per-number limit still holds the
total). The cursor is stored after the records are acknowledged: a broadcaster killed
mid-way resumes from it and may produce the last few again, which the sender's
exactly-once claims drop. The sender also skips a broadcast send to a citizen who opted out
after it was produced.

An office lead may stop a running broadcast (`BroadcastStore.cancel`, audited): the
broadcaster produces no more (it checks before each batch), and the sender holds back the
sends already queued (`unsubscribed_gate`); a send already made to Meta cannot be taken back.

The report comes from Meta's status webhooks: each send carries its key as
`biz_opaque_callback_data`; the webhook API keeps each citizen's furthest status (sent <
delivered < read; failed) and counts them (`record_statuses`).

Redis (prefixed like every gateway key):
    gerbang:broadcast:<id>             hash: office, phone_number_id, text_id, text_en,
                                       started_by, started_at, state, targeted, cursor, finished_at
    gerbang:broadcast:<id>:audience    list of wa_ids, frozen at the start (in order)
    gerbang:broadcast:<id>:skipped     set of wa_ids that had opted out when their turn came
    gerbang:broadcast:<id>:withheld    set of wa_ids whose send was held back: the broadcast
                                       was stopped (`cancel`) before the sender got to it
    gerbang:broadcast:<id>:status      hash wa_id → furthest status reported by Meta
    gerbang:broadcast:<id>:report      hash status → citizens whose furthest status it is
    gerbang:broadcast:<id>:lease       the broadcaster running it (expires if it dies)
    gerbang:broadcasts:<office>        sorted set id → start time (the office's list)
    gerbang:broadcasts:running         set of ids not finished
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.bus import UNAVAILABLE_ERRORS, Producer
from gerbang.messages import DeliveryEvent, OutboundReply, Topic
from gerbang.offices import Lang, LocalizedText, OfficeRegistry
from gerbang.settings import ServiceSettings
from gerbang.subscriptions import announcement_template
from gerbang_gateway.redis_state import RateLimiter
from gerbang_gateway.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

KEY_PREFIX = "broadcast:"
"""Idempotency keys (and callback data) of broadcast sends: `broadcast:<id>:<wa_id>`."""
BATCH = 20
"""Citizens produced between two cursor writes (at most this many produced again after a crash)."""
LEASE_S = 6
"""A dead broadcaster's broadcast waits this long for another to go on (renewed every third)."""

# Keep a citizen's furthest status. KEYS: broadcast hash, status hash, report hash.
# ARGV: office of the status webhook, wa_id, status. A status from another office's number
# is ignored (the callback data is ours, but one office never writes another's report).
_STATUS_SCRIPT = """
if redis.call('HGET', KEYS[1], 'office') ~= ARGV[1] then return 0 end
local rank = {sent = 1, delivered = 2, read = 3, failed = 4}
local status = ARGV[3]
if status == 'played' then status = 'read' end
local new = rank[status]
if not new then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[2])
if old and rank[old] and rank[old] >= new then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], status)
redis.call('HINCRBY', KEYS[3], status, 1)
if old and rank[old] then redis.call('HINCRBY', KEYS[3], old, -1) end
return 1
"""

# End a running broadcast, once: KEYS: its hash, the running set; ARGV: the new state (done or
# cancelled), the time, who (cancelled only), the id. A broadcast already ended stays as it is
# (a stop just after the last batch does not turn "done" into "cancelled", nor the reverse).
_END_SCRIPT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[2])
if ARGV[1] == 'cancelled' then
  redis.call('HSET', KEYS[1], 'cancelled_by', ARGV[3], 'cancelled_at', ARGV[2])
end
redis.call('SREM', KEYS[2], ARGV[4])
return 1
"""

_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def send_key(broadcast_id: str, wa_id: str) -> str:
    """The idempotency key of one citizen's send of one broadcast."""
    return f"{KEY_PREFIX}{broadcast_id}:{wa_id}"


def parse_send_key(key: str) -> tuple[str, str] | None:
    """(broadcast id, wa_id) of a broadcast send's key, or None for any other key."""
    if not key.startswith(KEY_PREFIX):
        return None
    broadcast_id, _, wa_id = key[len(KEY_PREFIX) :].rpartition(":")
    return (broadcast_id, wa_id) if broadcast_id and wa_id else None


@dataclass(frozen=True)
class Report:
    """One broadcast as `/ops` shows it."""

    id: str
    office: str
    state: str
    started_by: str
    started_at: float
    finished_at: float
    text: LocalizedText
    targeted: int
    processed: int
    skipped: int
    sent: int
    delivered: int
    read: int
    failed: int
    withheld: int = 0
    cancelled_by: str = ""
    cancelled_at: float = 0.0

    @property
    def queued(self) -> int:
        """Handed to the sender (processed, not skipped)."""
        return max(0, self.processed - self.skipped)


class BroadcastStore:
    """Broadcasts in Redis: the records, the frozen audiences, the delivery reports."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._status = redis.register_script(_STATUS_SCRIPT)
        self._renew = redis.register_script(_RENEW_SCRIPT)
        self._end = redis.register_script(_END_SCRIPT)

    def _key(self, broadcast_id: str, part: str = "") -> str:
        return f"{self.prefix}gerbang:broadcast:{broadcast_id}" + (f":{part}" if part else "")

    def _office_key(self, office: str) -> str:
        return f"{self.prefix}gerbang:broadcasts:{office}"

    @property
    def _running_key(self) -> str:
        return f"{self.prefix}gerbang:broadcasts:running"

    async def create(
        self, office: str, phone_number_id: str, text: LocalizedText, started_by: str
    ) -> str:
        """A new broadcast of `text` for `office`; the broadcaster picks it up. Returns its id."""
        now = time.time()
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d%H%M%S")
        broadcast_id = f"{office}-{stamp}-{secrets.token_hex(3)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key(broadcast_id),
                mapping={
                    "office": office,
                    "phone_number_id": phone_number_id,
                    "text_id": text.id,
                    "text_en": text.en or text.id,
                    "started_by": started_by,
                    "started_at": repr(now),
                    "state": "running",
                    "cursor": 0,
                },
            )
            pipe.zadd(self._office_key(office), {broadcast_id: now})
            pipe.sadd(self._running_key, broadcast_id)
            await pipe.execute()
        return broadcast_id

    async def running(self) -> list[str]:
        """Ids of the broadcasts not finished."""
        return sorted(await self.redis.smembers(self._running_key))

    async def ids(self, office: str, limit: int = 20) -> list[str]:
        """The office's broadcasts, newest first."""
        return list(await self.redis.zrevrange(self._office_key(office), 0, limit - 1))

    async def report(self, broadcast_id: str) -> Report | None:
        """The broadcast and its delivery report (None: no such broadcast)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key(broadcast_id))
            pipe.scard(self._key(broadcast_id, "skipped"))
            pipe.hgetall(self._key(broadcast_id, "report"))
            pipe.scard(self._key(broadcast_id, "withheld"))
            raw, skipped, counts, withheld = await pipe.execute()
        if not raw:
            return None
        count = {name: int(counts.get(name) or 0) for name in ("sent", "delivered", "read")}
        return Report(
            id=broadcast_id,
            office=raw["office"],
            state=raw.get("state", ""),
            started_by=raw.get("started_by", ""),
            started_at=float(raw.get("started_at") or 0),
            finished_at=float(raw.get("finished_at") or 0),
            text=LocalizedText(id=raw.get("text_id", ""), en=raw.get("text_en") or None),
            targeted=int(raw.get("targeted") or 0),
            processed=int(raw.get("cursor") or 0),
            skipped=int(skipped),
            # Meta's statuses: a delivered message was sent, a read one delivered.
            sent=count["sent"] + count["delivered"] + count["read"],
            delivered=count["delivered"] + count["read"],
            read=count["read"],
            failed=int(counts.get("failed") or 0),
            withheld=int(withheld),
            cancelled_by=raw.get("cancelled_by", ""),
            cancelled_at=float(raw.get("cancelled_at") or 0),
        )

    async def record_statuses(self, events: Sequence[DeliveryEvent]) -> None:
        """Meta's status webhooks of broadcast sends, into their reports (idempotent: a
        redelivered or late status never lowers a citizen's furthest status)."""
        parsed = [
            (event, ids)
            for event in events
            if event.callback_data and (ids := parse_send_key(event.callback_data))
        ]
        if not parsed:
            return
        for event, (broadcast_id, wa_id) in parsed:
            await self._status(
                keys=[
                    self._key(broadcast_id),
                    self._key(broadcast_id, "status"),
                    self._key(broadcast_id, "report"),
                ],
                args=[event.office, wa_id, str(event.status)],
            )

    async def skip(self, broadcast_id: str, wa_id: str) -> None:
        """The citizen had opted out when their turn came."""
        await self.redis.sadd(self._key(broadcast_id, "skipped"), wa_id)

    async def cancel(self, broadcast_id: str, by: str) -> bool:
        """Stop a running broadcast (False: it had already ended, or there is none)."""
        return await self._end_as(broadcast_id, "cancelled", by)

    async def state(self, broadcast_id: str) -> str:
        """running, done, cancelled ("" for no such broadcast)."""
        return str(await self.redis.hget(self._key(broadcast_id), "state") or "")

    async def withhold(self, broadcast_id: str, wa_id: str) -> None:
        """A queued send not made: the broadcast was stopped first."""
        await self.redis.sadd(self._key(broadcast_id, "withheld"), wa_id)

    async def _end_as(self, broadcast_id: str, state: str, by: str = "") -> bool:
        keys = [self._key(broadcast_id), self._running_key]
        return bool(await self._end(keys=keys, args=[state, repr(time.time()), by, broadcast_id]))

    # --- the broadcaster's bookkeeping ---

    async def lease(self, broadcast_id: str, owner: str) -> bool:
        """Take the broadcast for this broadcaster (one at a time runs it)."""
        return bool(
            await self.redis.set(self._key(broadcast_id, "lease"), owner, nx=True, ex=LEASE_S)
        )

    async def renew(self, broadcast_id: str, owner: str) -> bool:
        """Keep the lease; False if it was lost (expired and taken by another)."""
        return bool(
            await self._renew(keys=[self._key(broadcast_id, "lease")], args=[owner, LEASE_S])
        )

    async def release(self, broadcast_id: str, owner: str) -> None:
        """Give the lease back (only if still ours)."""
        if await self.redis.get(self._key(broadcast_id, "lease")) == owner:
            await self.redis.delete(self._key(broadcast_id, "lease"))

    async def raw(self, broadcast_id: str) -> dict[str, str]:
        """The broadcast's hash."""
        return dict(await self.redis.hgetall(self._key(broadcast_id)))

    async def freeze_audience(self, broadcast_id: str, audience: Sequence[str]) -> int:
        """Store the audience (once: a resumed broadcast keeps the first one)."""
        entries = sorted(audience)
        key = self._key(broadcast_id, "audience")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            for start in range(0, len(entries), 1000):
                pipe.rpush(key, *entries[start : start + 1000])
            pipe.hset(self._key(broadcast_id), "targeted", len(entries))
            await pipe.execute()
        return len(entries)

    async def audience(self, broadcast_id: str, start: int, count: int) -> list[str]:
        """`count` citizens of the frozen audience from position `start`."""
        key = self._key(broadcast_id, "audience")
        return [str(wa_id) for wa_id in await self.redis.lrange(key, start, start + count - 1)]

    async def advance(self, broadcast_id: str, cursor: int) -> None:
        """Everyone before `cursor` is produced (or skipped)."""
        await self.redis.hset(self._key(broadcast_id), "cursor", cursor)

    async def finish(self, broadcast_id: str) -> None:
        """Every citizen of the audience is produced (or skipped)."""
        await self._end_as(broadcast_id, "done")


class Broadcaster:
    """Runs the broadcasts (one sender process or several: a lease per broadcast)."""

    def __init__(
        self,
        settings: ServiceSettings,
        registry: OfficeRegistry,
        store: BroadcastStore,
        subscriptions: SubscriptionStore,
        limiter: RateLimiter,
        producer: Producer,
        *,
        share: float,
        poll_s: float,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.subscriptions = subscriptions
        self.limiter = limiter
        self.producer = producer
        self.share = share
        self.poll_s = poll_s
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(4)}"
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def pace(self, office: str) -> int:
        """Messages per second a broadcast of this office may produce."""
        return max(1, int(self.registry.get(office).whatsapp.throughput_mps * self.share))

    async def run(self) -> None:
        """Look for broadcasts to run until cancelled."""
        try:
            while True:
                try:
                    # The subscribers' view, rebuilt from the topic if Redis lost it (one
                    # EXISTS per poll otherwise): /ops counts and the next audience need it.
                    await self.subscriptions.ensure_built(self.settings, "broadcaster")
                    for broadcast_id in await self.store.running():
                        task = self._tasks.get(broadcast_id)
                        if (task is None or task.done()) and await self.store.lease(
                            broadcast_id, self.owner
                        ):
                            self._tasks[broadcast_id] = asyncio.create_task(
                                self._run_one(broadcast_id), name=f"broadcast-{broadcast_id}"
                            )
                except (RedisError, *UNAVAILABLE_ERRORS) as exc:
                    log.warning("broadcasts not read", extra={"error": repr(exc)})
                await asyncio.sleep(self.poll_s)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run_one(self, broadcast_id: str) -> None:
        try:
            await self._walk(broadcast_id)
        except (RedisError, *UNAVAILABLE_ERRORS) as exc:
            # Picked up again (from the cursor) once the lease expires.
            log.warning("broadcast paused", extra={"broadcast": broadcast_id, "error": repr(exc)})
        except Exception:
            # Kept in the running set: retried from the cursor once the lease expires.
            log.exception("broadcast failed; retried later", extra={"broadcast": broadcast_id})
        finally:
            try:
                await self.store.release(broadcast_id, self.owner)
            except RedisError:
                pass  # the lease expires by itself

    async def _walk(self, broadcast_id: str) -> None:
        raw = await self.store.raw(broadcast_id)
        office = self.registry.get(raw["office"])
        if "targeted" not in raw:
            await self.subscriptions.ensure_built(self.settings, "broadcaster")
            audience = await self.subscriptions.subscribers(office.code)
            targeted = await self.store.freeze_audience(broadcast_id, list(audience))
            log.info("broadcast started", extra={"broadcast": broadcast_id, "targeted": targeted})
        else:
            targeted = int(raw["targeted"])
        texts: dict[Lang, str] = {"id": raw["text_id"], "en": raw.get("text_en") or raw["text_id"]}
        cursor = int(raw.get("cursor") or 0)
        pace = self.pace(office.code)
        renewed = time.monotonic()
        while cursor < targeted:
            if await self.store.state(broadcast_id) != "running":  # stopped in /ops
                log.info("broadcast stopped", extra={"broadcast": broadcast_id, "at": cursor})
                return
            for wa_id in await self.store.audience(broadcast_id, cursor, BATCH):
                if time.monotonic() - renewed > LEASE_S / 3:
                    if not await self.store.renew(broadcast_id, self.owner):
                        log.warning("broadcast lease lost; another broadcaster goes on")
                        return
                    renewed = time.monotonic()
                now_lang = await self.subscriptions.language(office.code, wa_id)
                if now_lang is None:  # opted out since the start
                    await self.store.skip(broadcast_id, wa_id)
                    continue
                # The broadcast's own share of the number, with the sender's limiter class
                # on a key of its own; the sender's per-number limit still holds the total.
                await self.limiter.acquire(f"broadcast:{office.whatsapp.phone_number_id}", pace)
                template = announcement_template(office, texts[now_lang], now_lang)
                reply = OutboundReply(
                    office=office.code,
                    phone_number_id=office.whatsapp.phone_number_id,
                    wa_id=wa_id,
                    idempotency_key=send_key(broadcast_id, wa_id),
                    content=template,
                    template_fallback=template,  # the same, inside the 24-hour window or not
                    broadcast=broadcast_id,
                )
                await self.producer.publish(Topic.OUTBOUND, reply.key, reply)
            cursor = min(targeted, cursor + BATCH)
            await self.store.advance(broadcast_id, cursor)
        await self.store.finish(broadcast_id)
        log.info("broadcast produced", extra={"broadcast": broadcast_id, "targeted": targeted})


def unsubscribed_gate(
    subscriptions: SubscriptionStore, store: BroadcastStore
) -> Callable[[OutboundReply], Awaitable[bool]]:
    """The sender's check before a broadcast send: the broadcast not stopped (else recorded
    as withheld) and the citizen still subscribed (else recorded as skipped)?"""

    async def still_subscribed(reply: OutboundReply) -> bool:
        if reply.broadcast is None:
            return True
        if await store.state(reply.broadcast) == "cancelled":
            await store.withhold(reply.broadcast, reply.wa_id)
            return False
        if await subscriptions.language(reply.office, reply.wa_id) is not None:
            return True
        await store.skip(reply.broadcast, reply.wa_id)
        return False

    return still_subscribed
