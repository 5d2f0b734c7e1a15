"""`gerbang ask` for feedback messages: the reply the worker would send, without Kafka or
Redis. Nothing is recorded, so the ticket shown is a placeholder (`JKP-2026-XXXXXX`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from gerbang.messages import (
    Conversation,
    InboundKind,
    InboundMessage,
    ReplyContent,
    ServiceRequest,
)
from gerbang.offices import Office, OfficeRegistry
from gerbang.understanding import Understanding
from gerbang_feedback import flow
from gerbang_feedback.handlers import FeedbackHandler
from gerbang_feedback.tickets import format_ticket, ticket_year


def reply(
    registry: OfficeRegistry, office: Office, text: str, understanding: Understanding
) -> list[ReplyContent]:
    """The feedback worker's answer to `text`, as a first message of a conversation."""
    now = dt.datetime.now(dt.UTC)
    inbound = InboundMessage(
        office=office.code,
        phone_number_id=office.whatsapp.phone_number_id,
        wa_id="6280000000000",
        message_id="wamid.offline",
        timestamp=now,
        kind=InboundKind.TEXT,
        text=text,
    )
    request = ServiceRequest(
        inbound=inbound,
        intent=understanding.intent,
        confidence=understanding.confidence,
        conversation=Conversation(language=understanding.language),
    )
    step = flow.decide(request)
    ticket = f"{office.ticket_prefix}-{ticket_year(now)}-XXXXXX"
    return [flow.for_step(step, office, registry.national, understanding.language, ticket=ticket)]


class InMemoryTickets:
    """Ticket numbers without Redis (offline): the same format, counted in memory."""

    def __init__(self) -> None:
        self._by_message: dict[str, str] = {}
        self._seq: dict[tuple[str, int], int] = {}

    async def assign_ticket(self, office: Office, year: int, message_id: str) -> tuple[str, bool]:
        """As `FeedbackView.assign_ticket`: one ticket per inbound message."""
        if message_id in self._by_message:
            return self._by_message[message_id], False
        seq = self._seq.get((office.code, year), 0) + 1
        self._seq[(office.code, year)] = seq
        ticket = format_ticket(office.ticket_prefix, year, seq)
        self._by_message[message_id] = ticket
        return ticket, True


_TICKETS = InMemoryTickets()


def turn(registry: OfficeRegistry, request: ServiceRequest) -> list[Any]:
    """One step of the feedback conversation offline (`gerbang.offline_turns`): what the
    worker would publish (the records and addenda, the replies), tickets numbered in memory."""
    handler = FeedbackHandler(registry, _TICKETS)  # type: ignore[arg-type]
    published = asyncio.run(handler.handle(request))
    return [p.value for p in published]
