"""The router worker: `whatsapp.inbound` → a service's requests topic, or the menu itself.

Owns conversation state (Redis): language, the service expecting the next message and its
context, the last inbound time (24-hour window), and the dialogue context (the last topic
and its details, the ticket just recorded: `gerbang.dialogue`). Thin: the decision is
`gerbang.routing.decide`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from gerbang import dialogue, metrics
from gerbang.bus import Publish
from gerbang.dialogue import DialogueSettings
from gerbang.faq.answers import router_replies
from gerbang.messages import (
    Conversation,
    InboundMessage,
    Service,
    ServiceRequest,
    Topic,
)
from gerbang.offices import OfficeRegistry
from gerbang.opsstats import OpsStats
from gerbang.understanding import Understanding
from gerbang.understanding.classify import IntentMatcher
from gerbang_gateway.handoff import Before, Handoff, HandoffState
from gerbang_gateway.redis_state import Sessions
from gerbang_gateway.routing import DialogueView, decide
from gerbang_gateway.subscriptions import SubscriptionStep

log = logging.getLogger(__name__)

REQUEST_TOPICS = {
    Service.FAQ: Topic.FAQ_REQUESTS,
    Service.STATUS: Topic.STATUS_REQUESTS,
    Service.FEEDBACK: Topic.FEEDBACK_REQUESTS,
}


class Router:
    """Routes each inbound message; one instance per process."""

    def __init__(
        self,
        registry: OfficeRegistry,
        sessions: Sessions,
        matchers: Mapping[str, IntentMatcher],
        stats: OpsStats | None = None,
        handoff: Handoff | None = None,
        dialogue: DialogueSettings | None = None,
        subscriptions: SubscriptionStep | None = None,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.matchers = matchers
        self.stats = stats
        self.handoff = handoff
        self.dialogue = dialogue or DialogueSettings()
        self.subscriptions = subscriptions

    async def handle(self, message: InboundMessage) -> Sequence[Publish]:
        """Decide where the message goes; remember the conversation."""
        office = self.registry.get(message.office)
        held: HandoffState | None = None
        if self.handoff is None:
            session = await self.sessions.load(message.office, message.wa_id)
        else:  # the conversation and its handoff state in one round trip
            session, (raw,) = await self.sessions.load_with(
                message.office,
                message.wa_id,
                self.handoff.store.key(message.office, message.wa_id),
            )
            held = HandoffState.from_hash(raw)
        now = time.time()
        expecting = session.expecting(now)
        understanding: Understanding | None = None
        if message.text or message.reply_id:
            understanding = self.matchers[message.office].understand(
                message.text or "", reply_id=message.reply_id, office_code=message.office
            )
        language = dialogue.conversation_language(
            understanding, session.language, message.text or ""
        )
        offer_context = session.expect_context if expecting is Service.ROUTER else None
        # Announcements (gerbang_gateway.subscriptions): "stop" is honoured at any time, held
        # conversation or not; then the handoff to office staff (gerbang_gateway.handoff): a
        # held conversation goes to the office inbox and bypasses the bot entirely.
        answered_early: Sequence[Publish] | None = None
        if self.subscriptions is not None and (message.text or message.reply_id):
            answered_early = await self.subscriptions.before_routing(
                message, expect_context=offer_context, language=language
            )
        notices: list[Publish] = []
        before: Before | None = None
        if answered_early is None and self.handoff is not None:
            before = await self.handoff.before_routing(
                message,
                understanding,
                expect_context=offer_context,
                language=language,
                now=now,
                state=held,
            )
            notices = before.publishes
            if before.done:
                answered_early = notices
        if answered_early is not None:
            await self.sessions.record_inbound(
                message.office,
                message.wa_id,
                at=message.received_at,
                language=language if understanding is not None else None,
                clear_expectation=expecting is not None,
            )
            return answered_early
        # --- end of handoff ---
        route = decide(
            message,
            understanding,
            expecting=expecting,
            context=session.expect_context,
            conversation=DialogueView(session.topic, session.ticket, now, self.dialogue),
        )
        answered = route.understanding if route.understanding is not None else understanding
        await self.sessions.record_inbound(
            message.office,
            message.wa_id,
            at=message.received_at,
            language=language if understanding is not None else None,
            clear_expectation=expecting is not None and not route.expected,
            topic=None if route.ignore else dialogue.topic_after(route.intent, answered, now),
            clear_ticket=session.ticket is not None
            and route.appends_to is None
            and not route.ignore,
        )
        if route.ignore:
            return notices
        metrics.INTENTS.labels(message.office, route.intent.value).inc()
        if self.stats is not None:  # per-office history for /ops
            await self.stats.record_routed(message.office, route.intent.value, message.received_at)
        log.info(
            "routed",
            extra={
                "intent": route.intent.value,
                "service": route.service.value,
                "confidence": round(route.confidence, 3),
                "expected": route.expected,
                "followup": answered is not None
                and understanding is not None
                and answered.intent is not understanding.intent,
                "appends_to": route.appends_to.ticket if route.appends_to else None,
                "left_expectation": route.left_expectation,
            },
        )
        conversation = Conversation(
            language=language,
            context=route.context or {},
            expected=route.expected,
            last_inbound_at=message.received_at,
            messages_seen=session.messages_seen + 1,
        )
        request = ServiceRequest(
            inbound=message,
            intent=route.intent,
            confidence=route.confidence,
            understanding=answered,
            conversation=conversation,
        )
        if self.handoff is not None and before is not None:  # a 2nd fallback: offer a person
            offer = await self.handoff.after_routing(message, route.intent, language, before.state)
            if offer:
                return [*notices, *offer]
        if route.service is Service.ROUTER:
            contents = router_replies(
                self.registry,
                office,
                language,
                media=route.reply_to_media,
                closing=route.closing,
            )
            replies = [
                request.reply(content, part=i, service=Service.ROUTER)
                for i, content in enumerate(contents)
            ]
            return [*notices, *(Publish(Topic.OUTBOUND, reply.key, reply) for reply in replies)]
        return [*notices, Publish(REQUEST_TOPICS[route.service], request.key, request)]
