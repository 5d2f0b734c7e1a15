"""The gateway's Redis state: webhook dedupe, conversation sessions, send idempotency, rate limits.

Keys (all prefixed with the deployment's topic prefix):
    gerbang:seen:<wamid>             webhook dedupe ("pending" while producing, then "done")
    gerbang:conv:<office>:<wa_id>    conversation session (hash): language, expectation,
                                     last inbound, and the dialogue context (`topic`: the last
                                     topic and its details; `ticket`: the ticket just recorded)
    gerbang:sent:<idempotency_key>   reply sent ("sending:<deadline>" while calling Meta or
                                     while its outcome is unknown, then the wamid)
    gerbang:status:<callback_data>   a status webhook came for the send with this callback data
    gerbang:rl:<phone_number_id>:<s> messages sent by a number in second <s>
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.batching import Batcher, Coalescer
from gerbang.dialogue import LastTopic, OpenTicket
from gerbang.messages import OutboundReply, Service
from gerbang.offices import Lang

log = logging.getLogger(__name__)


# Several keys set at once with one TTL: KEYS the keys, ARGV[1] the TTL (seconds),
# ARGV[i + 1] the value of KEYS[i]. One command however many keys (a pipeline packs and
# parses one command per key in redis-py).
_SET_MANY_SCRIPT = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
"""

# Webhook dedupe claims of every webhook in flight: KEYS the message ids' keys, ARGV[1] the
# claim's TTL. Returns 1 per key claimed now, 0 per key somebody holds already.
_CLAIM_MANY_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, 'pending', 'NX', 'EX', ARGV[1]) then out[i] = 1 else out[i] = 0 end
end
return out
"""


class Dedupe:
    """Drops Meta's redelivered webhooks by message id, without ever losing one.

    A message id is *claimed* ("pending", short TTL) before producing and *confirmed*
    ("done", 7 days) after Kafka acked it; if producing fails the claim is released, so the
    redelivery is processed. A concurrent duplicate that meets "pending" is asked to retry.

    One round trip per webhook: the claim is the webhook's own (its answer depends on it);
    confirmations are gathered from every webhook answered in the same moment and written
    together (`confirm_soon`), since the webhook's answer no longer depends on them.
    """

    PENDING_TTL_S = 60
    CONFIRM_DELAY_S = 0.002
    """How long a confirmation waits for others to share its round trip."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._confirmations = Batcher(self._confirm_batch, self.CONFIRM_DELAY_S)
        self._confirming: set[str] = set()  # produced, "done" not yet written
        self._claim_many = redis.register_script(_CLAIM_MANY_SCRIPT)
        self._set_many = redis.register_script(_SET_MANY_SCRIPT)
        # The claims of every webhook in flight, in one call (`Coalescer`).
        self._claims: Coalescer[tuple[str, ...], list[bool]] = Coalescer(self._claim_batch)

    def _key(self, message_id: str) -> str:
        return f"{self.prefix}gerbang:seen:{message_id}"

    async def claim(self, ids: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """Split ids into (claimed now, already done, pending elsewhere)."""
        if not ids:
            return [], [], []
        claimed_flags = await self._claims.call(tuple(ids))
        claimed = [i for i, ok in zip(ids, claimed_flags, strict=True) if ok]
        others = [i for i, ok in zip(ids, claimed_flags, strict=True) if not ok]
        done: list[str] = []
        pending: list[str] = []
        if others:
            values = await self.redis.mget([self._key(i) for i in others])
            for message_id, value in zip(others, values, strict=True):
                # Still "pending" in Redis but produced by this process: its "done" is on
                # the way (`confirm_soon`), so it is a duplicate, not a concurrent delivery.
                finished = value == "done" or message_id in self._confirming
                (done if finished else pending).append(message_id)
        return claimed, done, pending

    async def _claim_batch(self, batch: list[tuple[str, ...]]) -> list[list[bool]]:
        keys = [self._key(message_id) for ids in batch for message_id in ids]
        flags = [
            bool(flag) for flag in await self._claim_many(keys=keys, args=[self.PENDING_TTL_S])
        ]
        results, at = [], 0
        for ids in batch:
            results.append(flags[at : at + len(ids)])
            at += len(ids)
        return results

    async def confirm(self, ids: Sequence[str]) -> None:
        """Mark ids as processed for `ttl_s` (now, in one round trip)."""
        if not ids:
            return
        keys = [self._key(message_id) for message_id in ids]
        await self._set_many(keys=keys, args=[self.ttl_s, *(["done"] * len(keys))])

    def confirm_soon(self, ids: Sequence[str]) -> None:
        """`confirm`, batched with the other confirmations of the next few milliseconds.

        Best effort, like a failed `confirm`: a lost confirmation leaves the claim to expire
        (`PENDING_TTL_S`), after which a redelivery is produced again.
        """
        self._confirming.update(ids)
        self._confirmations.add(ids)

    async def _confirm_batch(self, ids: list[str]) -> None:
        try:
            await self.confirm(ids)
        except RedisError as exc:
            log.warning("could not confirm dedupe keys", extra={"error": repr(exc)})
        finally:
            self._confirming.difference_update(ids)

    async def flush(self) -> None:
        """Write the confirmations gathered so far (at shutdown)."""
        await self._confirmations.drain()

    async def release(self, ids: Sequence[str]) -> None:
        """Forget claims whose messages did not reach Kafka (Meta will deliver again)."""
        if ids:
            await self.redis.delete(*[self._key(i) for i in ids])


@dataclass(frozen=True)
class Session:
    """A conversation's state as the router keeps it."""

    language: Lang | None = None
    expect_service: Service | None = None
    expect_context: dict[str, Any] | None = None
    expect_until: float = 0.0
    last_inbound_at: float = 0.0
    messages_seen: int = 0
    topic: LastTopic | None = None
    ticket: OpenTicket | None = None

    def expecting(self, now: float) -> Service | None:
        """The service waiting for this conversation's next message, if still waiting."""
        if self.expect_service is not None and now < self.expect_until:
            return self.expect_service
        return None

    def within_window(self, now: float, hours: int = 24) -> bool:
        """Whether free-form messages may be sent (the citizen wrote in the last 24 h)."""
        return self.last_inbound_at > 0 and now - self.last_inbound_at < hours * 3600


class Sessions:
    """Conversation state in Redis (one hash per office:wa_id)."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._apply_reply = redis.register_script(_APPLY_REPLY_SCRIPT)
        self._record_inbound = redis.register_script(_RECORD_INBOUND_SCRIPT)
        self._hgetall_many = redis.register_script(_HGETALL_MANY_SCRIPT)
        # The router's read and write of each message, shared by the messages in flight.
        self._reads: Coalescer[tuple[str, ...], list[dict[str, str]]] = Coalescer(self._read_batch)
        self._writes: Coalescer[tuple[str, list[str | int]], None] = Coalescer(self._write_batch)

    def key(self, office: str, wa_id: str) -> str:
        """The conversation hash's key."""
        return f"{self.prefix}gerbang:conv:{office}:{wa_id}"

    async def load(self, office: str, wa_id: str) -> Session:
        """The session, or an empty one."""
        session, _ = await self.load_with(office, wa_id)
        return session

    async def load_with(
        self, office: str, wa_id: str, *hashes: str
    ) -> tuple[Session, list[dict[str, str]]]:
        """The session, and the other hashes named (the router's handoff state), in one
        round trip shared with the other reads in flight (`Coalescer`)."""
        found = await self._reads.call((self.key(office, wa_id), *hashes))
        return _session(found[0]), found[1:]

    async def _read_batch(self, batch: list[tuple[str, ...]]) -> list[list[dict[str, str]]]:
        keys = [key for keys in batch for key in keys]
        flat = await self._hgetall_many(keys=keys)
        found = [dict(zip(pairs[0::2], pairs[1::2], strict=True)) for pairs in flat]
        results, at = [], 0
        for keys in batch:
            results.append(found[at : at + len(keys)])
            at += len(keys)
        return results

    async def record_inbound(
        self,
        office: str,
        wa_id: str,
        *,
        at: dt.datetime,
        language: Lang | None,
        clear_expectation: bool,
        topic: LastTopic | None = None,
        clear_ticket: bool = False,
    ) -> None:
        """Remember the citizen's latest message (opens the 24-hour window), and the topic
        it was answered as (None: keep the last one); `clear_ticket` once a message went
        elsewhere than the ticket just recorded. One script call, shared with the other
        messages' writes in flight (`Coalescer`); returns once this one is stored."""
        args: list[str | int] = [
            repr(at.timestamp()),
            language or "",
            "1" if clear_expectation else "",
            self.ttl_s,
            json.dumps(topic.to_json()) if topic is not None else "",
            "1" if clear_ticket else "",
        ]
        await self._writes.call((self.key(office, wa_id), args))

    async def _write_batch(self, batch: list[tuple[str, list[str | int]]]) -> list[None]:
        keys = [key for key, _ in batch]
        await self._record_inbound(keys=keys, args=[arg for _, args in batch for arg in args])
        return [None] * len(batch)

    async def apply_reply(self, reply: OutboundReply, now: float) -> Session:
        """Store the reply's directive (who gets the next message, with what context) and
        return the conversation as it was: one round trip (`_APPLY_REPLY_SCRIPT`).

        Called by the sender *before* the reply goes out, so the citizen cannot answer
        before the router knows what the answer is for. (A first attempt does it in
        `SendStarts`, together with the claim and the rate-limit slot.)
        """
        before = await self._apply_reply(
            keys=[self.key(reply.office, reply.wa_id)], args=self.reply_args(reply, now)
        )
        return session_of_pairs(before)

    def reply_args(self, reply: OutboundReply, now: float) -> list[str | int]:
        """The arguments of the Lua `apply_reply` (see `_APPLY_REPLY_FN`)."""
        done_service = (
            reply.service.value
            if reply.expect is None and reply.service is not None and reply.in_reply_to
            else ""
        )
        return [
            reply.expect.service.value if reply.expect else "",
            json.dumps(reply.expect.context) if reply.expect else "",
            repr(now + reply.expect.ttl_seconds) if reply.expect else "",
            done_service,
            reply.language or "",
            self.ttl_s,
            json.dumps(OpenTicket(reply.ticket.ticket, reply.ticket.kind, now).to_json())
            if reply.ticket
            else "",
        ]


# The router's write for each citizen message, for every message in flight at once.
# KEYS[i]: a conversation hash; ARGV[6i-5..6i] its message's time (unix seconds), language
# ('' to keep), '1' to clear the expectation, TTL, the topic answered (JSON, '' to keep),
# '1' to forget the ticket just recorded.
_RECORD_INBOUND_SCRIPT = """
for i, conv in ipairs(KEYS) do
  local a = 6 * (i - 1)
  local set = {'last_inbound_at', ARGV[a + 1]}
  if ARGV[a + 2] ~= '' then set[#set + 1] = 'language'; set[#set + 1] = ARGV[a + 2] end
  if ARGV[a + 5] ~= '' then set[#set + 1] = 'topic'; set[#set + 1] = ARGV[a + 5] end
  redis.call('HSET', conv, unpack(set))
  redis.call('HINCRBY', conv, 'messages_seen', 1)
  local gone = {}
  if ARGV[a + 3] ~= '' then
    gone = {'expect_service', 'expect_context', 'expect_until'}
  end
  if ARGV[a + 6] ~= '' then gone[#gone + 1] = 'ticket' end
  if #gone > 0 then redis.call('HDEL', conv, unpack(gone)) end
  redis.call('EXPIRE', conv, ARGV[a + 4])
end
return #KEYS
"""

# Several hashes read at once (the router's conversation and handoff state, for every
# message in flight): one HGETALL answer per key, in order.
_HGETALL_MANY_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
"""

# The sender's write before a reply goes out, and the read it needs, in one atomic call.
# `conv`: the conversation hash. `a`: expect service, its context (JSON) and deadline (all
# '' when the reply expects nothing); the replying service if it is done with the conversation
# (then its expectation is cleared, only if it was the one expecting); language; TTL; the
# ticket the reply confirms (JSON with the time, '' for none). Returns the hash as it was
# before (HGETALL). A Lua function, so that `_START_SENDS_SCRIPT` runs the very same steps.
_APPLY_REPLY_FN = """
local function apply_reply(conv, a)
  local before = redis.call('HGETALL', conv)
  local set = {}
  if a[1] ~= '' then
    set = {'expect_service', a[1], 'expect_context', a[2], 'expect_until', a[3]}
  elseif a[4] ~= '' then
    for f = 1, #before, 2 do
      if before[f] == 'expect_service' then
        if before[f + 1] == a[4] then
          redis.call('HDEL', conv, 'expect_service', 'expect_context', 'expect_until')
        end
        break
      end
    end
  end
  if a[5] ~= '' then set[#set + 1] = 'language'; set[#set + 1] = a[5] end
  if a[7] ~= '' then set[#set + 1] = 'ticket'; set[#set + 1] = a[7] end
  if #set > 0 then redis.call('HSET', conv, unpack(set)) end
  redis.call('EXPIRE', conv, a[6])
  return before
end
"""
_APPLY_REPLY_SCRIPT = _APPLY_REPLY_FN + "return apply_reply(KEYS[1], ARGV)"


def session_of_pairs(pairs: Sequence[str]) -> Session:
    """A session from an HGETALL answered inside a script (a flat list of field, value)."""
    return _session(dict(zip(pairs[0::2], pairs[1::2], strict=True)))


def _session(raw: dict[str, str]) -> Session:
    """A session from its Redis hash (empty: a new conversation)."""
    if not raw:
        return Session()
    context = raw.get("expect_context")
    service = raw.get("expect_service")
    return Session(
        language=raw.get("language") if raw.get("language") in ("id", "en") else None,  # type: ignore[arg-type]
        expect_service=Service(service) if service else None,
        expect_context=json.loads(context) if context else None,
        expect_until=float(raw.get("expect_until") or 0),
        last_inbound_at=float(raw.get("last_inbound_at") or 0),
        messages_seen=int(raw.get("messages_seen") or 0),
        topic=LastTopic.from_json(_json_or_none(raw.get("topic"))),
        ticket=OpenTicket.from_json(_json_or_none(raw.get("ticket"))),
    )


def _json_or_none(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


_TAKE_OVER_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Claim:
    """What `SentLog.claim` found: free (ours now), sent (`wamid`), or pending: a send in
    progress or of unknown outcome, not to be repeated before `deadline` (unix seconds)."""

    wamid: str | None = None
    pending: str | None = None
    """The raw claim value (what a take-over must still find there)."""
    deadline: float = 0.0

    @property
    def free(self) -> bool:
        """We hold the claim and may send."""
        return self.wamid is None and self.pending is None


SENDING = "sending"


def sending_value(deadline: float) -> str:
    """A claim's value while its send is in progress: `sending:<deadline>`."""
    return f"{SENDING}:{deadline:.3f}"


def parse_claim(value: str) -> Claim:
    """Read a stored claim value (pure): a wamid, or `sending[:<deadline>]`."""
    if value == SENDING or value.startswith(SENDING + ":"):
        _, _, deadline = value.partition(":")
        try:
            return Claim(pending=value, deadline=float(deadline))
        except ValueError:  # an old-style bare "sending": no deadline known, wait one bound
            return Claim(pending=value, deadline=0.0)
    return Claim(wamid=value)


class SentLog:
    """Send idempotency: each reply key reaches the Graph API once.

    `sending:<deadline>` while a send is in flight or its outcome is unknown (the sender died,
    the call timed out after Meta may have accepted it); the wamid once Meta accepted it.
    A sender meeting `sending:` does not send again: it reconciles with Meta's status webhook
    (`StatusLog`) and only takes the claim over (compare-and-set) once `deadline` passed
    without a status. `deadline` is set before every Graph call to the call's timeout plus
    the time Meta's status may take, so it bounds how long a conversation waits.
    """

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        # A claim of unknown outcome lives as long as a sent mark: however late its record is
        # redelivered, it is reconciled, never taken for a reply not yet sent.
        self.claim_ttl_s = ttl_s
        self._take_over = redis.register_script(_TAKE_OVER_SCRIPT)
        self._confirm_many = redis.register_script(_SET_MANY_SCRIPT)
        self._confirms: Coalescer[tuple[str, str], None] = Coalescer(self._confirm_batch)

    def key(self, idempotency_key: str) -> str:
        """The reply's claim key."""
        return f"{self.prefix}gerbang:sent:{idempotency_key}"

    async def claim(self, idempotency_key: str, deadline: float) -> Claim:
        """Claim the key for a send (`Claim.free`), or say who has it."""
        key = self.key(idempotency_key)
        value = sending_value(deadline)
        if await self.redis.set(key, value, nx=True, ex=self.claim_ttl_s):
            return Claim()
        current = await self.redis.get(key)
        if current is None:  # released in between: try again
            return await self.claim(idempotency_key, deadline)
        return parse_claim(str(current))

    async def peek(self, idempotency_key: str) -> Claim | None:
        """The claim as it stands (None: nobody holds it)."""
        current = await self.redis.get(self.key(idempotency_key))
        return None if current is None else parse_claim(str(current))

    async def extend(self, idempotency_key: str, deadline: float) -> str:
        """Move our claim's deadline (before a Graph call); returns the new value."""
        value = sending_value(deadline)
        await self.redis.set(self.key(idempotency_key), value, ex=self.claim_ttl_s)
        return value

    async def take_over(self, idempotency_key: str, seen: str, deadline: float) -> bool:
        """Take a pending claim whose deadline passed, if it still reads `seen`."""
        keys = [self.key(idempotency_key)]
        args: list[str | int] = [seen, sending_value(deadline), self.claim_ttl_s]
        return bool(await self._take_over(keys=keys, args=args))

    async def confirm(self, idempotency_key: str, wamid: str) -> None:
        """Remember the reply as sent. The write shares its round trip with the other
        confirmations in flight (a `Coalescer`); it returns once this one is stored."""
        await self._confirms.call((idempotency_key, wamid))

    async def _confirm_batch(self, sent: list[tuple[str, str]]) -> list[None]:
        keys = [self.key(idempotency_key) for idempotency_key, _ in sent]
        await self._confirm_many(keys=keys, args=[self.ttl_s, *(wamid for _, wamid in sent)])
        return [None] * len(sent)

    async def release(self, idempotency_key: str) -> None:
        """Give the claim back (Meta surely did not get the message; a later attempt sends)."""
        await self.redis.delete(self.key(idempotency_key))


class StatusLog:
    """Meta's status webhooks seen, by the `biz_opaque_callback_data` of the send.

    Written by the webhook API as a status webhook arrives (before it answers 200, so the
    mark does not wait behind Kafka or a sender's restart); read by the sender when a send's
    outcome is unknown: any status for the callback (`failed` included) means Meta accepted
    that send, and sending it again would be a second message, not a retry.
    """

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._set_many = redis.register_script(_SET_MANY_SCRIPT)
        # The status webhooks in flight write together (`Coalescer`); each waits for its own.
        self._records: Coalescer[tuple[tuple[str, str], ...], None] = Coalescer(self._record_batch)

    def _key(self, callback_data: str) -> str:
        return f"{self.prefix}gerbang:status:{callback_data}"

    async def record(self, seen: Sequence[tuple[str, str]]) -> None:
        """Statuses arrived for these (callback data, wamid): Meta has those messages.
        Returns once they are stored."""
        if seen:
            await self._records.call(tuple(seen))

    async def _record_batch(self, batch: list[tuple[tuple[str, str], ...]]) -> list[None]:
        seen = [pair for pairs in batch for pair in pairs]
        keys = [self._key(callback_data) for callback_data, _ in seen]
        await self._set_many(keys=keys, args=[self.ttl_s, *(wamid for _, wamid in seen)])
        return [None] * len(batch)

    async def seen(self, callback_data: str) -> str | None:
        """The wamid Meta reported for this callback, if a status arrived."""
        value = await self.redis.get(self._key(callback_data))
        return None if value is None else str(value)


# Reserve the first one-second window, from now on, that still has room for this number, and
# the moment inside it that the send may go. One call per send and no polling: waiters do not
# stampede Redis at every second boundary. `stem` is the number's key stem (windows are
# `<stem>:<unix second>`, one hash tag so a cluster keeps them on one slot); `now_ms` (unix
# milliseconds), `limit`, how far ahead to look (seconds). The n-th send of a window goes at
# (n - 1) * SPREAD_MS / limit into it, never before `now_ms`: a full window's sends are
# spread over its first SPREAD_MS instead of leaving together at its start, so a send that
# the network or a busy event loop holds up for a moment (up to ≈250 ms: under a load of 6 on
# two cores, 800 ms left too little and one second of 40 reached 41) still reaches Meta inside
# its own second. Returns the
# unix millisecond reserved, or -1 if every window within the look-ahead is full.
SPREAD_MS = 700
_RESERVE_FN = f"""
local function reserve(stem, now_ms, limit, ahead)
  local now = math.floor(now_ms / 1000)
  for i = 0, ahead do
    local key = stem .. ':' .. (now + i)
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('EXPIRE', key, ahead + 5) end
    if n <= limit then
      return math.max(now_ms, (now + i) * 1000 + math.floor((n - 1) * {SPREAD_MS} / limit))
    end
  end
  return -1
end
"""
# Every reservation asked for while the previous call was out, in call order: KEYS[i] a
# number's stem, ARGV[1] now (unix ms), ARGV[2] the look-ahead, ARGV[2 + i] that number's
# limit. Returns the moment reserved for each (unix ms; -1: none within the look-ahead).
_RATE_SCRIPT = (
    _RESERVE_FN
    + """
local out = {}
for i = 1, #KEYS do
  out[i] = reserve(KEYS[i], tonumber(ARGV[1]), tonumber(ARGV[2 + i]), tonumber(ARGV[2]))
end
return out
"""
)


class RateLimiter:
    """Messages per second per business number, shared by every sender replica (Redis).

    Meta counts throughput per phone number (80 mps by default, reference §1.6): each send
    reserves a place in the first one-second window with room, then sleeps until that
    window opens. Windows are per number, so one office's burst never spends another's
    budget, and a reservation is one Redis call however long the queue. The reservations of
    concurrent sends share that call (a `Coalescer`: one round trip per batch under load,
    nothing added for a send alone): at capacity every send in flight across a second
    boundary reserves again at once, and each used to pay its own round trip.
    """

    LOOK_AHEAD_S = 30
    # A send this late for its moment, and this far into its window, reserves again.
    HELD_UP_S = 0.05
    LATEST_S = SPREAD_MS / 1000 + 0.05

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_RATE_SCRIPT)
        self._calls: Coalescer[tuple[str, int], int] = Coalescer(self._reserve_batch)

    def stem(self, phone_number_id: str) -> str:
        """The key stem of the number's windows."""
        return f"{self.prefix}gerbang:rl:{{{phone_number_id}}}"

    async def acquire(self, phone_number_id: str, per_second: int) -> float:
        """Wait for a slot; returns the seconds waited."""
        window = await self._reserve(phone_number_id, per_second)
        return await self.wait_for(phone_number_id, per_second, window)

    async def _reserve(self, phone_number_id: str, per_second: int) -> int:
        return await self._calls.call((self.stem(phone_number_id), per_second))

    async def _reserve_batch(self, batch: list[tuple[str, int]]) -> list[int]:
        args = [int(time.time() * 1000), self.LOOK_AHEAD_S, *(limit for _, limit in batch)]
        found = await self._script(keys=[stem for stem, _ in batch], args=args)
        return [int(moment) for moment in found]

    async def wait_for(self, phone_number_id: str, per_second: int, at_ms: int) -> float:
        """Sleep until the reserved moment `at_ms` (unix milliseconds); returns the seconds
        waited. -1 (a queue longer than the look-ahead): wait, then reserve again.

        A send held up since its reservation (made early, with the claim; a slow Redis, a
        loaded machine) still goes if its window has time left. Held up past LATEST_S into
        its window, or past the window itself, it reserves again: sent now, it could reach
        Meta in the next second on top of that second's own sends."""
        waited = 0.0
        while True:
            while at_ms < 0:
                await asyncio.sleep(self.LOOK_AHEAD_S)
                waited += self.LOOK_AHEAD_S
                at_ms = await self._reserve(phone_number_id, per_second)
            now = time.time()
            at = at_ms / 1000
            if now < at:
                await asyncio.sleep(at - now)
                waited += at - now
                now = max(time.time(), at)  # a sleep's end may read a hair early
            window = at_ms // 1000
            held_up = now - at > self.HELD_UP_S
            if int(now) == window and not (held_up and now - window >= self.LATEST_S):
                return waited
            at_ms = await self._reserve(phone_number_id, per_second)


# The first round trip of each reply's first attempt, for every reply in flight at once:
# claim the idempotency key (SET NX) and, only where the claim is ours, apply the reply's
# directive to its conversation and reserve a rate-limit slot: exactly the steps the sender
# otherwise takes one call at a time (`SentLog.claim`, `Sessions.apply_reply`,
# `RateLimiter.acquire`), in the same order, in one atomic call. Per reply i, KEYS[3i-2] its
# sent key, KEYS[3i-1] its conversation, KEYS[3i] its number's rate stem (one Redis node: the
# keys of a batch are in different slots, as the rate windows already are). ARGV[1] the claim
# TTL, ARGV[2] now (unix millisecond), ARGV[3] the look-ahead; then 9 per reply: the claim value,
# the number's limit, the 7 `apply_reply` arguments. Returns per reply {1, the conversation
# before, the reserved moment (unix ms)} or {0, the claim's current value}.
_START_SENDS_SCRIPT = (
    _APPLY_REPLY_FN
    + _RESERVE_FN
    + """
local out = {}
local now = tonumber(ARGV[2])
local ahead = tonumber(ARGV[3])
for i = 1, #KEYS / 3 do
  local base = 3 + (i - 1) * 9
  if redis.call('SET', KEYS[3 * i - 2], ARGV[base + 1], 'NX', 'EX', ARGV[1]) then
    local a = {}
    for j = 1, 7 do a[j] = ARGV[base + 2 + j] end
    local before = apply_reply(KEYS[3 * i - 1], a)
    out[i] = {1, before, reserve(KEYS[3 * i], now, tonumber(ARGV[base + 2]), ahead)}
  else
    out[i] = {0, redis.call('GET', KEYS[3 * i - 2]) or ''}
  end
end
return out
"""
)


@dataclass(frozen=True)
class SendStart:
    """What a reply's first round trip found: the claim, and where it is ours (`claim.free`),
    the conversation before the reply's directive and the rate-limit moment reserved (ms)."""

    claim: Claim
    session: Session | None = None
    at_ms: int = -1


class SendStarts:
    """The sender's first step for each reply, in one Redis call shared by every reply in
    flight (`_START_SENDS_SCRIPT` through a `Coalescer`): a reply alone pays one round trip
    instead of three, and under load a batch of them pays one together."""

    def __init__(self, sessions: Sessions, sent: SentLog, limiter: RateLimiter) -> None:
        self.sessions = sessions
        self.sent = sent
        self.limiter = limiter
        self._script = sent.redis.register_script(_START_SENDS_SCRIPT)
        self._calls: Coalescer[tuple[OutboundReply, float, int], SendStart] = Coalescer(self._flush)

    async def start(self, reply: OutboundReply, deadline: float, per_second: int) -> SendStart:
        """Claim `reply` with `deadline` (see `SentLog.claim`); if ours, also apply its
        directive and reserve a slot of `per_second` for its number."""
        return await self._calls.call((reply, deadline, per_second))

    async def _flush(self, batch: list[tuple[OutboundReply, float, int]]) -> list[SendStart]:
        now = time.time()
        keys: list[str] = []
        args: list[str | int] = [self.sent.claim_ttl_s, int(now * 1000), self.limiter.LOOK_AHEAD_S]
        for reply, deadline, per_second in batch:
            keys += [
                self.sent.key(reply.idempotency_key),
                self.sessions.key(reply.office, reply.wa_id),
                self.limiter.stem(reply.phone_number_id),
            ]
            args += [sending_value(deadline), per_second, *self.sessions.reply_args(reply, now)]
        found = await self._script(keys=keys, args=args)
        return [
            SendStart(Claim(), session_of_pairs(item[1]), int(item[2]))
            if int(item[0])
            else SendStart(parse_claim(str(item[1])) if item[1] else Claim(pending=""))
            for item in found
        ]
