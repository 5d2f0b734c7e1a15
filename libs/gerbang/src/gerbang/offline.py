"""One citizen's conversation with an office, offline: the router's rules, in memory.

`OfflineLine` keeps what the router keeps in Redis (language, the expectation a reply left,
the last topic, the ticket just recorded), decides each message with `gerbang.routing.decide`
(the router's own function), and has it answered by the FAQ composer and by the services'
offline turns (`gerbang.offline_turns` entry points: the status and feedback workers' steps
without Kafka and Redis; the library never imports a service). Replies' directives are then
applied as the sender applies them. `gerbang ask` and `gerbang.dialogue.evaluate` use it.

What it leaves out: the handoff to office staff (a request for a person is answered with a
note), and records (feedback tickets are numbered in memory, applications are not known,
announcement subscriptions are answered as the router answers them but kept nowhere).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gerbang import dialogue, subscriptions
from gerbang.dialogue import DialogueSettings, LastTopic, OpenTicket
from gerbang.faq.answers import respond, router_replies
from gerbang.messages import (
    Conversation,
    FeedbackAddendum,
    FeedbackRecord,
    InboundKind,
    InboundMessage,
    Intent,
    OutboundReply,
    Service,
    ServiceRequest,
    TextContent,
    Understanding,
)
from gerbang.offices import Lang, OfficeRegistry
from gerbang.routing import DialogueView, Route, decide
from gerbang.understanding.classify import IntentMatcher

OfflineTurn = Callable[[OfficeRegistry, ServiceRequest], list[Any]]
"""A service's offline step: the request in, what its worker would publish out (replies,
feedback records and addenda)."""


def offline_turns() -> dict[str, OfflineTurn]:
    """The services' offline steps (`gerbang.offline_turns` entry points), by service."""
    return {
        entry.name: entry.load()
        for entry in importlib.metadata.entry_points(group="gerbang.offline_turns")
    }


@dataclass
class TurnResult:
    """What one message got."""

    text: str
    route: Route
    replies: list[OutboundReply]
    records: list[FeedbackRecord] = field(default_factory=list)
    addenda: list[FeedbackAddendum] = field(default_factory=list)

    @property
    def intent(self) -> Intent:
        """The intent answered: the first reply's, else the route's."""
        for reply in self.replies:
            if reply.intent is not None:
                return reply.intent
        return self.route.intent

    @property
    def understanding(self) -> Any:
        """The understanding as answered (follow-ups resolved)."""
        return self.route.understanding


@dataclass
class _State:
    language: Lang | None = None
    expect_service: Service | None = None
    expect_context: dict[str, Any] | None = None
    expect_until: float = 0.0
    topic: LastTopic | None = None
    ticket: OpenTicket | None = None
    messages_seen: int = 0


class OfflineLine:
    """One citizen writing to one office, answered as the WhatsApp line would (no Kafka,
    no Redis). `clock` gives unix seconds (tests move time on)."""

    _numbers = itertools.count(1)

    def __init__(
        self,
        registry: OfficeRegistry,
        office_code: str,
        *,
        matcher: IntentMatcher | None = None,
        settings: DialogueSettings | None = None,
        turns: dict[str, OfflineTurn] | None = None,
        clock: Callable[[], float] | None = None,
        wa_id: str = "6280000000001",
    ) -> None:
        self.registry = registry
        self.office = registry.get(office_code)
        self.matcher = matcher or IntentMatcher.from_registry(registry)[self.office.code]
        self.settings = settings or DialogueSettings()
        self.turns = offline_turns() if turns is None else turns
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC).timestamp())
        self.wa_id = wa_id
        self.state = _State()

    def send(self, text: str | None = None, *, reply_id: str | None = None) -> TurnResult:
        """The citizen sends `text` (or taps `reply_id`); returns what they got."""
        now = self.clock()
        state = self.state
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        message = InboundMessage(
            office=self.office.code,
            phone_number_id=self.office.whatsapp.phone_number_id,
            wa_id=self.wa_id,
            message_id=f"wamid.offline.{next(self._numbers)}",
            timestamp=at,
            received_at=at,
            kind=InboundKind.INTERACTIVE if reply_id else InboundKind.TEXT,
            text=text,
            reply_id=reply_id,
        )
        understanding = None
        if text or reply_id:
            understanding = self.matcher.understand(
                text or "", reply_id=reply_id, office_code=self.office.code
            )
        language = dialogue.conversation_language(understanding, state.language, text or "")
        expecting = (
            state.expect_service
            if state.expect_service is not None and now < state.expect_until
            else None
        )
        offered = expecting is Service.ROUTER and bool(
            (state.expect_context or {}).get(subscriptions.OFFER_CONTEXT)
        )
        action = subscriptions.decide(text or "", reply_id, offered=offered)
        if action is not None:  # the router's subscription step (its record is not kept)
            if understanding is not None:
                state.language = language
            state.messages_seen += 1
            state.expect_service, state.expect_context = None, None
            content, expect = subscriptions.reply_for(action, self.registry, self.office, language)
            reply = ServiceRequest(inbound=message, intent=Intent.MENU).reply(
                content, expect=expect, service=Service.ROUTER
            )
            self._apply(reply, now)
            return TurnResult(text or "", Route(Intent.MENU, Service.ROUTER, 1.0), [reply])
        if expecting is Service.ROUTER:  # the handoff offer: not simulated offline
            expecting = None
        route = decide(
            message,
            understanding,
            expecting=expecting,
            context=state.expect_context,
            conversation=DialogueView(state.topic, state.ticket, now, self.settings),
        )
        answered = route.understanding if route.understanding is not None else understanding
        # --- what the router writes (Sessions.record_inbound) ---
        if understanding is not None:
            state.language = language
        state.messages_seen += 1
        if expecting is not None and not route.expected:
            state.expect_service, state.expect_context = None, None
        if not route.ignore:
            state.topic = dialogue.topic_after(route.intent, answered, now) or state.topic
            if route.appends_to is None:
                state.ticket = None
        if route.ignore:
            return TurnResult(text or "", route, [])
        request = ServiceRequest(
            inbound=message,
            intent=route.intent,
            confidence=route.confidence,
            understanding=answered,
            conversation=Conversation(
                language=language,
                context=route.context or {},
                expected=route.expected,
                last_inbound_at=at,
                messages_seen=state.messages_seen,
            ),
        )
        published = self._answer(route, request, language)
        result = TurnResult(
            text or "",
            route,
            [p for p in published if isinstance(p, OutboundReply)],
            [p for p in published if isinstance(p, FeedbackRecord)],
            [p for p in published if isinstance(p, FeedbackAddendum)],
        )
        for reply in result.replies:  # --- what the sender writes (Sessions.apply_reply) ---
            self._apply(reply, now)
        return result

    def _answer(self, route: Route, request: ServiceRequest, language: Lang) -> list[Any]:
        if route.service is Service.ROUTER:
            if route.intent is Intent.HANDOFF:
                note = (
                    "(handoff to office staff: not simulated offline)"
                    if language == "en"
                    else "(diteruskan ke petugas kantor: tidak disimulasikan offline)"
                )
                return [request.reply(TextContent(body=note), service=Service.ROUTER)]
            contents = router_replies(
                self.registry,
                self.office,
                language,
                media=route.reply_to_media,
                closing=route.closing,
            )
            return [
                request.reply(content, part=i, service=Service.ROUTER)
                for i, content in enumerate(contents)
            ]
        if route.service is Service.FAQ:
            # As the FAQ worker: the router's reading travels on the request.
            base = request.understanding or Understanding(
                intent=route.intent, confidence=request.confidence
            )
            understanding = base.model_copy(update={"intent": route.intent, "language": language})
            return list(respond(self.registry, self.office, request, understanding))
        turn = self.turns.get(route.service.value)
        if turn is None:
            note = f"({route.service.value} service is not installed here: no offline answer)"
            return [request.reply(TextContent(body=note))]
        return list(turn(self.registry, request))

    def _apply(self, reply: OutboundReply, now: float) -> None:
        state = self.state
        if reply.expect is not None:
            state.expect_service = reply.expect.service
            state.expect_context = dict(reply.expect.context)
            state.expect_until = now + reply.expect.ttl_seconds
        elif (
            reply.service is not None
            and reply.in_reply_to
            and state.expect_service is (reply.service)
        ):
            state.expect_service, state.expect_context = None, None
        if reply.language:
            state.language = reply.language
        if reply.ticket is not None:
            state.ticket = OpenTicket(reply.ticket.ticket, reply.ticket.kind, now)


def reply_text(content: Any) -> str:
    """A reply as the citizen reads it (lists and buttons flattened)."""
    kind = getattr(content, "type", "")
    if kind == "text":
        return str(content.body)
    if kind == "list":
        rows = [
            f"- {row.title}" + (f": {row.description}" if row.description else "")
            for section in content.sections
            for row in section.rows
        ]
        return "\n".join([content.body, *rows])
    if kind == "buttons":
        buttons = " | ".join(f"[{b.title}]" for b in content.buttons)
        return f"{content.body}\n{buttons}"
    return str(content)
