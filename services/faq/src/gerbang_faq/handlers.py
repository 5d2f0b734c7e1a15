"""The FAQ worker's handler: a `ServiceRequest` in, the office's answer out (thin)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from prometheus_client import Counter
from redis.asyncio import Redis

from gerbang.bus import Publish
from gerbang.faq.answers import respond
from gerbang.messages import Intent, ServiceRequest, Topic, Understanding
from gerbang.offices import OfficeRegistry
from gerbang.phone import mask_numbers_in_text

log = logging.getLogger(__name__)

FAQ_ANSWERS = Counter("gerbang_faq_answers_total", "FAQ answers by intent", ["office", "intent"])
FAQ_MISSES = Counter("gerbang_faq_misses_total", "Questions the FAQ could not answer", ["office"])

MISSES_KEPT = 500


class MissLog:
    """Questions the FAQ could not answer, per office, numbers masked (for /ops)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def list_key(self, office: str) -> str:
        """Redis list of the latest misses of an office (newest first)."""
        return f"{self.prefix}gerbang:faq:misses:{office}"

    def count_key(self, office: str) -> str:
        """Redis counter of all misses of an office."""
        return f"{self.prefix}gerbang:faq:miss_count:{office}"

    async def record(self, office: str, text: str, message_id: str, at: float) -> None:
        """Keep the (masked) question; idempotent per message id."""
        if not await self.redis.set(
            f"{self.prefix}gerbang:faq:miss_seen:{message_id}", 1, nx=True, ex=7 * 86400
        ):
            return
        entry = f'{{"at": {at:.0f}, "text": {_json_str(mask_numbers_in_text(text)[:500])}}}'
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.list_key(office), entry)
            pipe.ltrim(self.list_key(office), 0, MISSES_KEPT - 1)
            pipe.incr(self.count_key(office))
            await pipe.execute()


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class FaqHandler:
    """Answers faq.requests from the office's knowledge base."""

    def __init__(self, registry: OfficeRegistry, misses: MissLog) -> None:
        self.registry = registry
        self.misses = misses

    async def handle(self, request: ServiceRequest) -> Sequence[Publish]:
        """Compose the answer; remember questions we could not answer."""
        office = self.registry.get(request.office)
        text = request.inbound.text or ""
        # The router read the text once, against the conversation (a follow-up's topic and
        # details merged); that reading travels on the request. A tap or a request routed
        # without text has none: the intent alone answers it.
        understanding = (
            request.understanding
            or Understanding(intent=request.intent, confidence=request.confidence)
        ).model_copy(update={"intent": request.intent, "language": request.language})
        if request.intent in (Intent.FALLBACK, Intent.OUT_OF_DOMAIN) and text.strip():
            FAQ_MISSES.labels(office.code).inc()
            await self.misses.record(office.code, text, request.inbound.message_id, time.time())
        FAQ_ANSWERS.labels(office.code, request.intent.value).inc()
        replies = respond(self.registry, office, request, understanding)
        return [Publish(Topic.OUTBOUND, reply.key, reply) for reply in replies]
