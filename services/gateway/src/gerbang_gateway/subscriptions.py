"""Announcement subscriptions in the router, and their Redis view.

The router's step (`SubscriptionStep.before_routing`) runs before the handoff and the bot:
- "stop", "berhenti", "gak mau lagi info" (or the button), at any time: opted out at once in
  Redis (a broadcast in progress skips the citizen from then on) and confirmed;
- "langganan info", "subscribe": the question "receive announcements?" with two buttons,
  an expectation of the router, so a typed *ya* / *tidak* answers it like a tap;
- *ya* (or the button): opted in and confirmed.
Each change is also a `SubscriptionChanged` on `announcements.subscriptions` (compacted,
key `office:wa_id`): the source of truth. Redis is its view: the router writes it at once, the
senders follow the topic into it (`SubscriptionStore.follow`), and the broadcaster rebuilds it
from the whole topic whenever the view's marker is missing (Redis flushed or lost).

Redis (prefixed like every gateway key):
    gerbang:subs:<office>       hash wa_id → language of each subscriber
    gerbang:subs:at:<office>    hash wa_id → time of the citizen's latest change (in or out):
                                an older record replayed from the topic never undoes a newer one
    gerbang:subs:built          the view was rebuilt from the topic (absent after a flush)

Non-matching messages cost nothing here: the words are checked in memory, Redis is written
only when a citizen asks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gerbang import subscriptions as texts
from gerbang.bus import Publish, Replayed, follow, replay
from gerbang.messages import (
    Expectation,
    InboundMessage,
    OutboundReply,
    ReplyContent,
    Service,
    SubscriptionChanged,
    Topic,
)
from gerbang.offices import Lang, OfficeRegistry
from gerbang.settings import ServiceSettings
from gerbang.subscriptions import Action

log = logging.getLogger(__name__)

# Apply one change unless a newer one is stored. KEYS: subscribers hash, times hash.
# ARGV: wa_id, '1' subscribed / '' not, language, time (unix seconds). Returns 1 if applied.
_APPLY_SCRIPT = """
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if stored and tonumber(stored) > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
"""


class SubscriptionStore:
    """The Redis view of who subscribed to which office's announcements."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._apply = redis.register_script(_APPLY_SCRIPT)

    def _key(self, office: str) -> str:
        return f"{self.prefix}gerbang:subs:{office}"

    def _at_key(self, office: str) -> str:
        return f"{self.prefix}gerbang:subs:at:{office}"

    @property
    def _built_key(self) -> str:
        return f"{self.prefix}gerbang:subs:built"

    async def apply(self, change: SubscriptionChanged) -> bool:
        """Store a change (False: a newer one of the same citizen is stored already)."""
        applied = await self._apply(
            keys=[self._key(change.office), self._at_key(change.office)],
            args=[
                change.wa_id,
                "1" if change.subscribed else "",
                change.language,
                repr(change.at.timestamp()),
            ],
        )
        return bool(applied)

    async def apply_batch(self, batch: list[Replayed[SubscriptionChanged]]) -> None:
        """Records of the topic (a replay or the follower), in order; junk is skipped."""
        for record in batch:
            if record.value is not None:
                await self.apply(record.value)
            elif record.error is not None:
                log.warning(
                    "undecodable subscription record skipped", extra={"offset": record.offset}
                )

    async def follow(self, settings: ServiceSettings, client_id: str) -> None:
        """Keep the view up to date with the topic until cancelled (consumer group
        `subscriptions-view`: every record once per deployment, whoever produced it)."""
        await follow(
            settings,
            [Topic.SUBSCRIPTIONS],
            SubscriptionChanged,
            self.apply_batch,
            group="subscriptions-view",
            client_id=client_id,
        )

    async def language(self, office: str, wa_id: str) -> Lang | None:
        """The subscriber's language, or None if the citizen is not subscribed."""
        value = await self.redis.hget(self._key(office), wa_id)
        return None if value is None else ("en" if value == "en" else "id")

    async def subscribers(self, office: str) -> dict[str, Lang]:
        """Every subscriber of the office with their language."""
        raw = await self.redis.hgetall(self._key(office))
        return {wa_id: ("en" if code == "en" else "id") for wa_id, code in raw.items()}

    async def count(self, office: str) -> int:
        """How many citizens subscribed to the office's announcements."""
        return int(await self.redis.hlen(self._key(office)))

    async def ensure_built(self, settings: ServiceSettings, client_id: str) -> int | None:
        """Rebuild the view from the topic if it was never built or Redis lost it; returns
        the records replayed (None: the view was there)."""
        if await self.redis.exists(self._built_key):
            return None
        read = await replay(
            settings,
            Topic.SUBSCRIPTIONS,
            SubscriptionChanged,
            self.apply_batch,
            client_id=client_id,
        )
        await self.redis.set(self._built_key, str(time.time()))
        log.info("subscriptions view rebuilt from the topic", extra={"records": read})
        return read


@dataclass(frozen=True)
class SubscriptionStep:
    """The router's subscription step (see the module docstring)."""

    registry: OfficeRegistry
    store: SubscriptionStore

    async def before_routing(
        self,
        message: InboundMessage,
        *,
        expect_context: dict[str, Any] | None,
        language: Lang,
    ) -> list[Publish] | None:
        """What to produce if the message is about announcements (None: route it as usual)."""
        offered = bool((expect_context or {}).get(texts.OFFER_CONTEXT))
        action = texts.decide(message.text or "", message.reply_id, offered=offered)
        if action is None:
            return None
        content, expect = texts.reply_for(
            action, self.registry, self.registry.get(message.office), language
        )
        reply = _reply(message, content, language, expect=expect)
        if action not in (Action.SUBSCRIBE, Action.UNSUBSCRIBE):
            return [reply]
        change = SubscriptionChanged(
            office=message.office,
            wa_id=message.wa_id,
            subscribed=action is Action.SUBSCRIBE,
            language=language,
            message_id=message.message_id,
            at=message.received_at,
        )
        # Redis first: an opt-out takes effect for a broadcast in progress at once.
        await self.store.apply(change)
        log.info("announcements " + action.value)
        return [Publish(Topic.SUBSCRIPTIONS, change.key, change), reply]


def _reply(
    message: InboundMessage,
    content: ReplyContent,
    language: Lang,
    *,
    expect: Expectation | None = None,
) -> Publish:
    reply = OutboundReply(
        office=message.office,
        phone_number_id=message.phone_number_id,
        wa_id=message.wa_id,
        idempotency_key=f"reply:{message.message_id}:0",
        in_reply_to=message.message_id,
        service=Service.ROUTER,
        content=content,
        expect=expect,
        language=language,
        inbound_received_at=message.received_at,
    )
    return Publish(Topic.OUTBOUND, reply.key, reply)
