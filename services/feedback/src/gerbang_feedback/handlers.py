"""The feedback worker's handlers (thin): decode, call the pure core, encode.

- `FeedbackHandler.handle` (feedback.requests): the conversation step from `flow.decide`; a
  record gets its ticket (idempotent on the inbound message id) and is returned together
  with the citizen's confirmation, so the bus produces both before committing the offset.
- `ViewUpdater.apply` (feedback.recorded): records and handling events into the Redis view.

Exactly once, as the office sees it: the bus is at-least-once (a worker that dies after
producing and before committing produces the record again on restart). The redelivered
message gets the same ticket (`FeedbackView.assign_ticket`), the duplicate record on the log
is a no-op in the view (first write wins per ticket), and the API and the CSV read only the
view; the duplicate confirmation has the same idempotency key, which the sender sends once.
We chose this over Kafka transactions because the shared bus is not transactional and the
ticket counter lives in Redis, outside any Kafka transaction anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from gerbang import handoff
from gerbang.bus import Publish, Reject
from gerbang.faq.answers import check_numbers
from gerbang.faq.content import render
from gerbang.messages import (
    FeedbackAddendum,
    FeedbackEvent,
    FeedbackHandled,
    FeedbackKind,
    FeedbackProgress,
    FeedbackRecord,
    HandoffReason,
    Intent,
    Service,
    ServiceRequest,
    TextContent,
    TicketRef,
    Topic,
    utcnow,
)
from gerbang.offices import Office, OfficeRegistry, UnknownOffice
from gerbang.phone import mask
from gerbang_feedback import flow, replies
from gerbang_feedback.classify import Classification
from gerbang_feedback.metrics import FEEDBACK_RECORDED
from gerbang_feedback.tickets import ticket_year
from gerbang_feedback.view import FeedbackView

log = logging.getLogger(__name__)

MAX_TEXT = 4096
"""WhatsApp's text limit; a record never holds more than the citizen could send."""


class FeedbackHandler:
    """Answers feedback.requests: offers the kinds, prompts, records with a ticket."""

    def __init__(
        self, registry: OfficeRegistry, view: FeedbackView, *, prompt_ttl_seconds: int = 900
    ) -> None:
        self.registry = registry
        self.view = view
        self.prompt_ttl_seconds = prompt_ttl_seconds

    async def handle(self, request: ServiceRequest) -> Sequence[Publish]:
        """One conversation step; a record and its confirmation are produced together."""
        try:
            office = self.registry.get(request.office)
        except UnknownOffice as exc:
            raise Reject(str(exc)) from exc
        lang = request.language
        step = flow.decide(request)
        match step:
            case flow.AskForMessage(kind) | flow.AskForText(kind):
                reply = request.reply(
                    flow.for_step(step, office, self.registry, lang),
                    expect=replies.prompt_expectation(kind, self.prompt_ttl_seconds),
                    intent=Intent(f"feedback:{kind.value}"),
                )
            case flow.OfferChoices(thanked, hint):
                # The kinds as buttons, and the typed answer expected too (issue 9: a
                # complaint typed instead of tapped is recorded, not lost to the matcher).
                # After a mere "makasih" the buttons are only an offer: nothing is expected.
                reply = request.reply(
                    flow.for_step(step, office, self.registry, lang),
                    expect=None
                    if thanked
                    else replies.offer_expectation(hint, self.prompt_ttl_seconds),
                )
            case flow.Append(ticket, text):
                inbound = request.inbound
                addendum = FeedbackAddendum(
                    ticket=ticket,
                    office=office.code,
                    wa_id=inbound.wa_id,
                    message_id=inbound.message_id,
                    text=text[:MAX_TEXT],
                    received_at=inbound.received_at,
                )
                kind = str(request.conversation.context.get("kind") or "complaint")
                log.info("feedback detail added", extra={"ticket": ticket})
                reply = request.reply(
                    flow.for_step(step, office, self.registry, lang),
                    ticket=TicketRef(ticket=ticket, kind=kind),
                )
                return [
                    Publish(Topic.FEEDBACK_RECORDED, addendum.key, addendum),
                    Publish(Topic.OUTBOUND, reply.key, reply),
                ]
            case flow.Record(text, classification):
                return await self._record(request, office, text, classification)
            case _:
                reply = request.reply(flow.for_step(step, office, self.registry, lang))
        return [Publish(Topic.OUTBOUND, reply.key, reply)]

    async def _record(
        self,
        request: ServiceRequest,
        office: Office,
        text: str,
        classification: Classification,
    ) -> list[Publish]:
        """A record with its ticket, and the citizen's confirmation (and what follows it)."""
        lang = request.language
        inbound = request.inbound
        ticket, new = await self.view.assign_ticket(
            office, ticket_year(inbound.received_at), inbound.message_id
        )
        scam = classification.kind is FeedbackKind.SCAM_REPORT
        reported = list(request.understanding.phone_numbers) if request.understanding else []
        record = FeedbackRecord(
            ticket=ticket,
            office=office.code,
            wa_id=inbound.wa_id,
            message_id=inbound.message_id,
            kind=classification.kind,
            urgent=classification.urgent,
            flags=list(classification.flags),
            text=text[:MAX_TEXT],
            profile_name=inbound.profile_name,
            received_at=inbound.received_at,
            reported_numbers=reported if scam else [],
        )
        if new:
            FEEDBACK_RECORDED.labels(
                office.code, record.kind.value, str(record.urgent).lower()
            ).inc()
        log.info(
            "feedback recorded",
            extra={"ticket": ticket, "kind": record.kind.value, "urgent": record.urgent,
                   "flags": record.flags, "new_ticket": new,
                   "reported": [mask(n) for n in record.reported_numbers]},
        )  # fmt: skip
        step = flow.Record(text, classification)
        reply = request.reply(
            flow.for_step(step, office, self.registry, lang, ticket=ticket),
            intent=Intent(f"feedback:{record.kind.value}"),
            ticket=TicketRef(ticket=ticket, kind=record.kind.value),
        )
        publishes = [
            Publish(Topic.FEEDBACK_RECORDED, record.key, record),
            Publish(Topic.OUTBOUND, reply.key, reply),
        ]
        if scam:
            # The citizen gets the check too: the reported number's verdict, else the warning.
            check = (
                check_numbers(self.registry, office, record.reported_numbers, lang)
                if record.reported_numbers
                else render(self.registry, office, "scam_warning", lang)
            )
            extra = request.reply(TextContent(body=check[:4096]), part=1, intent=request.intent)
            publishes.append(Publish(Topic.OUTBOUND, extra.key, extra))
        if record.urgent and record.kind is FeedbackKind.COMPLAINT:
            # An urgent complaint: offer a person (the router expects the "ya").
            offer = request.reply(
                handoff.offer(self.registry, office, lang, HandoffReason.URGENT_COMPLAINT),
                part=1,
                intent=Intent.HANDOFF,
                service=Service.ROUTER,
                expect=handoff.offer_expectation(HandoffReason.URGENT_COMPLAINT),
            )
            publishes.append(Publish(Topic.OUTBOUND, offer.key, offer))
        return publishes


class ViewUpdater:
    """Applies feedback.recorded to the Redis view (idempotent; nothing to produce)."""

    def __init__(
        self,
        view: FeedbackView,
        *,
        retention_days: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.view = view
        self.retention = dt.timedelta(days=retention_days)
        self.clock = clock

    async def apply(self, event: FeedbackEvent | FeedbackRecord | FeedbackHandled) -> bool:
        """Apply one event; True if it changed the view."""
        payload = event.root if isinstance(event, FeedbackEvent) else event
        if isinstance(payload, FeedbackRecord):
            if payload.received_at < self.clock() - self.retention:
                # Past the view's retention: kept on the log only, but its number stays used.
                await self.view.keep_sequence(payload)
                return False
            return await self.view.apply_record(payload)
        if isinstance(payload, FeedbackProgress):
            return await self.view.apply_progress(payload)
        if isinstance(payload, FeedbackAddendum):
            return await self.view.apply_addendum(payload)
        return await self.view.apply_handled(payload)

    async def handle(self, event: FeedbackEvent) -> Sequence[Publish]:
        """Bus handler for feedback.recorded."""
        await self.apply(event)
        return []
