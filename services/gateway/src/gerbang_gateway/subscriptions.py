"""Announcement subscriptions in the router, and their Redis view.

The router's step (`SubscriptionStep.before_routing`) runs before the handoff and the bot:
- "stop", "berhenti", "gak mau lagi info" (or the button), at any time: opted out at once in
  Redis (a broadcast in progress skips the citizen from then on) and confirmed;
- "langganan info", "subscribe": the question "receive announcements?" with two buttons,
  an expectation of the router, so a typed *ya* / *tidak* answers it like a tap;
- *ya* (or the button): opted in and confirmed.
Each change is also a `SubscriptionChanged` on `announcements.subscriptions` (compacted,
key `office:wa_id`): the source of truth. Redis is its view, which the broadcaster rebuilds
from the topic whenever the view's marker is missing (Redis flushed or lost).

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

from gerbang import handoff as yes_no
from gerbang import subscriptions as texts
from gerbang.bus import Publish, Replayed, replay
from gerbang.messages import (
    InboundMessage,
    OutboundReply,
    ReplyContent,
    Service,
    SubscriptionChanged,
    Topic,
)
from gerbang.offices import Lang, OfficeRegistry
from gerbang.settings import ServiceSettings
from gerbang.subscriptions import Request, subscription_request

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

    async def language(self, office: str, wa_id: str) -> Lang | None:
        """The subscriber's language, or None if the citizen is not subscribed."""
        value = await self.redis.hget(self._key(office), wa_id)
        return None if value is None else ("en" if value == "en" else "id")

    async def subscribers(self, office: str) -> dict[str, Lang]:
        """Every subscriber of the office with their language."""
        raw = await self.redis.hgetall(self._key(office))
        return {wa_id: ("en" if lang == "en" else "id") for wa_id, lang in raw.items()}

    async def count(self, office: str) -> int:
        """How many citizens subscribed to the office's announcements."""
        return int(await self.redis.hlen(self._key(office)))

    async def ensure_built(self, settings: ServiceSettings, client_id: str) -> int | None:
        """Rebuild the view from the topic if it was never built or Redis lost it; returns
        the records replayed (None: the view was there)."""
        if await self.redis.exists(self._built_key):
            return None

        async def apply_batch(batch: list[Replayed[SubscriptionChanged]]) -> None:
            for record in batch:
                if record.value is not None:
                    await self.apply(record.value)

        read = await replay(
            settings, Topic.SUBSCRIPTIONS, SubscriptionChanged, apply_batch, client_id=client_id
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
        office = self.registry.get(message.office)
        text = message.text or ""
        offered = bool((expect_context or {}).get(texts.OFFER_CONTEXT))
        if message.reply_id == texts.STOP_BUTTON_ID:
            request: Request | None = Request.STOP
        elif message.reply_id == texts.YES_BUTTON_ID or (offered and yes_no.is_yes(text)):
            return await self._change(
                message, True, language, texts.subscribed_notice(office, language)
            )
        elif message.reply_id == texts.NO_BUTTON_ID or (offered and yes_no.is_no(text)):
            return [_reply(message, texts.declined_notice(language), language)]
        elif message.reply_id:
            return None
        else:
            request = subscription_request(text)
        if request is Request.STOP:
            return await self._change(
                message, False, language, texts.unsubscribed_notice(office, language)
            )
        if request is Request.START:
            return [
                _reply(
                    message,
                    texts.offer(office, language),
                    language,
                    expect=texts.offer_expectation(),
                )
            ]
        return None

    async def _change(
        self, message: InboundMessage, subscribed: bool, language: Lang, notice: ReplyContent
    ) -> list[Publish]:
        change = SubscriptionChanged(
            office=message.office,
            wa_id=message.wa_id,
            subscribed=subscribed,
            language=language,
            message_id=message.message_id,
            at=message.received_at,
        )
        # Redis first: an opt-out takes effect for a broadcast in progress at once.
        await self.store.apply(change)
        log.info("announcements " + ("subscribed" if subscribed else "unsubscribed"))
        return [Publish(Topic.SUBSCRIPTIONS, change.key, change), _reply(message, notice, language)]


def _reply(
    message: InboundMessage, content: ReplyContent, language: Lang, *, expect: Any = None
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
