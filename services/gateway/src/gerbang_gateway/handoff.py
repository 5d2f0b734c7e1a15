"""Conversations held for office staff: the router's decision (pure) and its Redis state.

A conversation is *held* when the citizen asks for a person (intent `handoff`, the offer's
button, or "ya" to an offer). While held, the router forwards every message to the office's
inbox (`inbox.messages`, key `office:wa_id`) instead of the bot, and answers nothing (the
citizen got one "Pesan Anda sudah diteruskan ke petugas…" when it began). "menu" or
"batal" from the citizen, staff closing it in `/ops`, or `handoff_idle_s` without a message
from either side gives it back to the bot, and the citizen is told.

The offer comes after two fallbacks in a row (the router's own reply instead of a third
"I did not understand") and after an urgent complaint (the feedback worker's reply). An
offer is an expectation of the router (`gerbang.handoff.offer_expectation`), so a typed
"ya"/"mau" answers it like the button does.

Redis (prefixed like every gateway key):
    gerbang:handoff:<office>:<wa_id>   hash: held, reason, since, last_at, holder, claimed_at,
                                       trigger (wamid that started it), released_by, fallbacks
    gerbang:handoff:held:<office>      sorted set wa_id → since (the waiting list, oldest first)
    gerbang:handoff:active             sorted set office:wa_id → last activity (idle sweep)

Redelivery (a router that died after producing, before committing) runs a message again:
the hash remembers which message started or ended the hold (`trigger`, `released_by`), so
the second run produces the same messages with the same idempotency keys instead of, say,
forwarding the "ya" that started it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang import handoff as texts
from gerbang import metrics
from gerbang.bus import UNAVAILABLE_ERRORS, Producer, Publish
from gerbang.faq.answers import menu_reply
from gerbang.messages import (
    HandoffReason,
    InboundKind,
    InboundMessage,
    InboxCitizenMessage,
    InboxHeld,
    InboxReleased,
    Intent,
    OutboundReply,
    ReleaseReason,
    Service,
    ServiceRequest,
    Topic,
    Understanding,
)
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.words import is_no, is_release, is_yes

log = logging.getLogger(__name__)

FALLBACKS_BEFORE_OFFER = 2
SWEEP_ERRORS: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, RedisError)


class Action(StrEnum):
    """What the router does with a message, as far as handoff is concerned."""

    HOLD = "hold"
    """Start holding: tell the citizen once, open the inbox entry."""
    FORWARD = "forward"
    """Held: the message goes to the inbox, the bot stays silent."""
    RELEASE = "release"
    """The citizen asked for the bot back ("menu", "batal")."""
    IDLE_RELEASE = "idle_release"
    """Held but idle past the timeout: release, then the bot answers this message."""
    DECLINE = "decline"
    """The citizen said no to an offer: the menu."""


@dataclass(frozen=True)
class HandoffState:
    """A conversation's handoff state (empty: not held)."""

    held: bool = False
    reason: str | None = None
    since: float = 0.0
    last_at: float = 0.0
    holder: str | None = None
    claimed_at: float = 0.0
    trigger: str | None = None
    released_by: str | None = None
    fallbacks: int = 0

    @classmethod
    def from_hash(cls, raw: dict[str, Any]) -> HandoffState:
        """From the Redis hash."""
        return cls(
            held=raw.get("held") == "1",
            reason=raw.get("reason") or None,
            since=float(raw.get("since") or 0),
            last_at=float(raw.get("last_at") or 0),
            holder=raw.get("holder") or None,
            claimed_at=float(raw.get("claimed_at") or 0),
            trigger=raw.get("trigger") or None,
            released_by=raw.get("released_by") or None,
            fallbacks=int(raw.get("fallbacks") or 0),
        )


@dataclass(frozen=True)
class Step:
    """The handoff decision for one message."""

    action: Action
    reason: HandoffReason = HandoffReason.ASKED


def offered_reason(context: dict[str, Any] | None) -> HandoffReason | None:
    """The reason of an offer the router is waiting on, if its expectation is one."""
    value = (context or {}).get(texts.OFFER_CONTEXT)
    try:
        return HandoffReason(value) if value else None
    except ValueError:
        return None


def decide(
    message: InboundMessage,
    understanding: Understanding | None,
    state: HandoffState,
    *,
    offered: HandoffReason | None,
    now: float,
    idle_s: float,
) -> Step | None:
    """The handoff step for `message`, or None: the bot routes it as usual."""
    text = message.text or ""
    if state.held:
        if message.message_id == state.trigger:  # redelivered: the same hold again
            return Step(Action.HOLD, HandoffReason(state.reason or HandoffReason.ASKED))
        if now - state.last_at > idle_s:
            return Step(Action.IDLE_RELEASE)
        if message.reply_id == texts.DECLINE_BUTTON_ID or (
            message.kind is InboundKind.TEXT and is_release(text)
        ):
            return Step(Action.RELEASE)
        return Step(Action.FORWARD)
    if message.message_id == state.released_by:  # redelivered: the same release again
        return Step(Action.RELEASE)
    if message.reply_id == texts.ACCEPT_BUTTON_ID or (
        understanding is not None and understanding.intent is Intent.HANDOFF
    ):
        return Step(Action.HOLD, offered or HandoffReason.ASKED)
    if offered is not None and message.kind is InboundKind.TEXT:
        if is_yes(text):
            return Step(Action.HOLD, offered)
        if is_no(text):
            return Step(Action.DECLINE)
    return None


def fallbacks_after(intent: Intent, state: HandoffState) -> tuple[bool, int]:
    """(offer now?, the new count of fallbacks in a row) after the bot routed `intent`."""
    if intent is not Intent.FALLBACK:
        return False, 0
    count = state.fallbacks + 1
    if count >= FALLBACKS_BEFORE_OFFER:
        return True, 0
    return False, count


# --- Redis ---------------------------------------------------------------------------------

# KEYS: hash, held set, active set; ARGV: wa_id, office:wa_id, now, reason, trigger.
# Returns 1 if held now, 0 if it already was.
_HOLD = """
if redis.call('HGET', KEYS[1], 'held') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'held', '1', 'reason', ARGV[4], 'since', ARGV[3],
           'last_at', ARGV[3], 'trigger', ARGV[5], 'holder', '', 'claimed_at', '0',
           'released_by', '', 'fallbacks', '0')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1
"""

# KEYS: hash, held set, active set; ARGV: wa_id, office:wa_id, since (must match), by.
# Exactly one caller releases a given hold: 1 for it, 0 for everyone else.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'held') ~= '1' then return 0 end
if redis.call('HGET', KEYS[1], 'since') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'held', '0', 'holder', '', 'released_by', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""

# KEYS: hash; ARGV: username, now. Returns {1, username} if the caller holds it now (or
# already did), {0, holder} if someone else does, {0, ''} if the conversation is not held.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'held') ~= '1' then return {0, ''} end
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= '' and holder ~= ARGV[1] then return {0, holder} end
if holder ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'claimed_at', ARGV[2], 'last_at', ARGV[2])
end
return {1, ARGV[1]}
"""


class HandoffStore:
    """The handoff state in Redis, shared by the router, the idle sweep and `/ops`."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._hold = redis.register_script(_HOLD)
        self._release = redis.register_script(_RELEASE)
        self._claim = redis.register_script(_CLAIM)

    def key(self, office: str, wa_id: str) -> str:
        """The conversation's handoff hash."""
        return f"{self.prefix}gerbang:handoff:{office}:{wa_id}"

    def held_key(self, office: str) -> str:
        """The office's waiting list (wa_id by since)."""
        return f"{self.prefix}gerbang:handoff:held:{office}"

    @property
    def active_key(self) -> str:
        """Every held conversation by last activity (for the idle sweep)."""
        return f"{self.prefix}gerbang:handoff:active"

    async def load(self, office: str, wa_id: str) -> HandoffState:
        """The state (empty if never held)."""
        raw: dict[str, Any] = await self.redis.hgetall(self.key(office, wa_id))  # type: ignore[assignment]
        return HandoffState.from_hash(raw)

    async def hold(
        self, office: str, wa_id: str, reason: HandoffReason, now: float, trigger: str
    ) -> bool:
        """Start holding; False if it already was held."""
        key = self.key(office, wa_id)
        held = await self._hold(
            keys=[key, self.held_key(office), self.active_key],
            args=[wa_id, f"{office}:{wa_id}", repr(now), reason.value, trigger],
        )
        await self.redis.expire(key, self.ttl_s)
        return bool(held)

    async def touch(self, office: str, wa_id: str, now: float) -> None:
        """Activity in a held conversation (postpones the idle timeout)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(office, wa_id), "last_at", repr(now))
            pipe.zadd(self.active_key, {f"{office}:{wa_id}": now}, xx=True)
            await pipe.execute()

    async def release(self, office: str, wa_id: str, since: float, by: str) -> bool:
        """End the hold that began at `since`; True for the one caller that ended it."""
        released = await self._release(
            keys=[self.key(office, wa_id), self.held_key(office), self.active_key],
            args=[wa_id, f"{office}:{wa_id}", repr(since), by],
        )
        return bool(released)

    async def claim(self, office: str, wa_id: str, username: str, now: float) -> tuple[bool, str]:
        """Take the conversation: (True, me) or (False, who holds it / '' if not held)."""
        ok, holder = await self._claim(keys=[self.key(office, wa_id)], args=[username, repr(now)])
        return bool(ok), str(holder)

    async def set_fallbacks(self, office: str, wa_id: str, count: int) -> None:
        """Remember the fallbacks in a row."""
        key = self.key(office, wa_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "fallbacks", count)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def waiting(self, office: str) -> list[tuple[str, HandoffState]]:
        """The office's held conversations, oldest first."""
        wa_ids = [str(w) for w in await self.redis.zrange(self.held_key(office), 0, 499)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for wa_id in wa_ids:
                pipe.hgetall(self.key(office, wa_id))
            hashes = await pipe.execute()
        return [
            (wa_id, state)
            for wa_id, raw in zip(wa_ids, hashes, strict=True)
            if (state := HandoffState.from_hash(raw)).held
        ]

    async def idle(self, before: float, limit: int = 200) -> list[tuple[str, str]]:
        """(office, wa_id) of held conversations without activity since `before`."""
        members = await self.redis.zrangebyscore(
            self.active_key, "-inf", f"({before}", start=0, num=limit
        )
        return [tuple(str(m).split(":", 1)) for m in members]  # type: ignore[misc]


# --- the router's step and the replies ------------------------------------------------------


def _reply(message: InboundMessage, content: Any, part: int, intent: Intent) -> Publish:
    reply = ServiceRequest(inbound=message, intent=intent).reply(
        content, part=part, service=Service.ROUTER
    )
    return Publish(Topic.OUTBOUND, reply.key, reply)


def release_publishes(
    registry: OfficeRegistry,
    office: Office,
    wa_id: str,
    lang: Lang,
    reason: ReleaseReason,
    *,
    since: float,
    by: str | None = None,
    idempotency_key: str,
) -> list[Publish]:
    """The inbox event and the citizen's notice when a hold ends (the same for every caller
    that ends the same hold: the notice's idempotency key names the hold)."""
    event = InboxReleased(
        office=office.code,
        wa_id=wa_id,
        reason=reason,
        by=by,
        held_since=dt.datetime.fromtimestamp(since, dt.UTC),
    )
    notice = OutboundReply(
        office=office.code,
        phone_number_id=office.whatsapp.phone_number_id,
        wa_id=wa_id,
        idempotency_key=idempotency_key,
        intent=Intent.HANDOFF,
        service=Service.ROUTER,
        content=texts.released_notice(registry, office, lang, reason),
        language=lang,
    )
    return [
        Publish(Topic.INBOX_MESSAGES, event.key, event),
        Publish(Topic.OUTBOUND, notice.key, notice),
    ]


def hold_key(office: str, wa_id: str, since: float) -> str:
    """Names one hold of a conversation (idempotency keys of its release notice)."""
    return f"handoff:{office}:{wa_id}:{int(since * 1000)}"


@dataclass(frozen=True)
class Before:
    """The handoff step's outcome before the bot decides."""

    done: bool
    """The bot must not see the message (held, forwarded, released, declined)."""
    publishes: list[Publish]
    """What to produce (with `done` False: an idle release's notice, before the bot's answer)."""
    state: HandoffState
    """The handoff state as read (handed back to `after_routing`)."""


class Handoff:
    """The router's handoff step: runs before the bot decides, and after it (the offer)."""

    def __init__(self, registry: OfficeRegistry, store: HandoffStore, idle_s: float) -> None:
        self.registry = registry
        self.store = store
        self.idle_s = idle_s

    async def before_routing(
        self,
        message: InboundMessage,
        understanding: Understanding | None,
        *,
        expect_context: dict[str, Any] | None,
        language: Lang,
        now: float,
        state: HandoffState | None = None,
    ) -> Before:
        """What the router does before its own decision (see `Before`). `state`: the
        conversation's handoff state if the caller read it already (read here otherwise)."""
        if state is None:
            state = await self.store.load(message.office, message.wa_id)
        step = decide(
            message,
            understanding,
            state,
            offered=offered_reason(expect_context),
            now=now,
            idle_s=self.idle_s,
        )
        if step is None:
            return Before(False, [], state)
        office = self.registry.get(message.office)
        if step.action is Action.FORWARD:
            await self.store.touch(message.office, message.wa_id, now)
            event = InboxCitizenMessage(office=office.code, wa_id=message.wa_id, inbound=message)
            return Before(True, [Publish(Topic.INBOX_MESSAGES, event.key, event)], state)
        if step.action is Action.HOLD:
            await self.store.hold(office.code, message.wa_id, step.reason, now, message.message_id)
            state = await self.store.load(office.code, message.wa_id)
            held = InboxHeld(
                office=office.code,
                wa_id=message.wa_id,
                reason=step.reason,
                since=dt.datetime.fromtimestamp(state.since, dt.UTC),
                profile_name=message.profile_name,
            )
            log.info("conversation held for staff", extra={"reason": step.reason.value})
            metrics.HANDOFFS.labels(office.code, step.reason.value).inc()
            notice = texts.held_notice(
                self.registry, office, language, dt.datetime.fromtimestamp(now, dt.UTC)
            )
            publishes = [
                Publish(Topic.INBOX_MESSAGES, held.key, held),
                _reply(message, notice, 0, Intent.HANDOFF),
            ]
            return Before(True, publishes, state)
        if step.action is Action.DECLINE:
            menu = menu_reply(self.registry, office, language)
            return Before(True, [_reply(message, menu, 0, Intent.MENU)], state)
        # RELEASE / IDLE_RELEASE: whoever ends this hold first sends the notice (same key).
        reason = ReleaseReason.IDLE if step.action is Action.IDLE_RELEASE else ReleaseReason.CITIZEN
        if state.held and await self.store.release(
            office.code, message.wa_id, state.since, message.message_id
        ):
            metrics.HANDOFF_RELEASES.labels(office.code, reason.value).inc()
        publishes = release_publishes(
            self.registry,
            office,
            message.wa_id,
            language,
            reason,
            since=state.since,
            idempotency_key=f"{hold_key(office.code, message.wa_id, state.since)}:released",
        )
        if step.action is Action.IDLE_RELEASE:
            return Before(False, publishes, state)
        back = _reply(message, menu_reply(self.registry, office, language), 1, Intent.MENU)
        return Before(True, [*publishes, back], state)

    async def after_routing(
        self, message: InboundMessage, intent: Intent, language: Lang, state: HandoffState
    ) -> list[Publish]:
        """After the bot's decision: the second fallback in a row becomes an offer (`state`:
        what `before_routing` read)."""
        offer, count = fallbacks_after(intent, state)
        if count != state.fallbacks or offer:
            await self.store.set_fallbacks(message.office, message.wa_id, count)
        if not offer:
            return []
        office = self.registry.get(message.office)
        request = ServiceRequest(inbound=message, intent=Intent.HANDOFF)
        reply = request.reply(
            texts.offer(self.registry, office, language, HandoffReason.FALLBACKS),
            service=Service.ROUTER,
            expect=texts.offer_expectation(HandoffReason.FALLBACKS),
        )
        return [Publish(Topic.OUTBOUND, reply.key, reply)]


async def sweep_idle(
    registry: OfficeRegistry,
    store: HandoffStore,
    producer: Producer,
    *,
    idle_s: float,
    interval_s: float,
    language_of: Any,
) -> None:
    """Background job of the router: release conversations idle past the timeout (the
    citizen is told). Several routers may sweep: the notice's idempotency key names the
    hold, and the release itself is atomic."""
    while True:
        try:
            now = time.time()
            for office_code, wa_id in await store.idle(now - idle_s):
                state = await store.load(office_code, wa_id)
                if not state.held or now - state.last_at <= idle_s:
                    continue
                office = registry.get(office_code)
                lang = await language_of(office_code, wa_id)
                # The notice first, then the release: a crash in between sends it again
                # under the same key (the sender sends it once).
                await producer.publish_many(
                    release_publishes(
                        registry,
                        office,
                        wa_id,
                        lang,
                        ReleaseReason.IDLE,
                        since=state.since,
                        idempotency_key=f"{hold_key(office_code, wa_id, state.since)}:released",
                    )
                )
                if await store.release(office_code, wa_id, state.since, "idle"):
                    metrics.HANDOFF_RELEASES.labels(office_code, ReleaseReason.IDLE.value).inc()
                log.info("held conversation released (idle)", extra={"office": office_code})
        except SWEEP_ERRORS as exc:  # Redis or Kafka away: the next round tries again
            log.warning("idle sweep postponed", extra={"error": repr(exc)})
        await asyncio.sleep(interval_s)
