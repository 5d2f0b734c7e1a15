"""`gerbang ask` for feedback messages: the reply the worker would send, without Kafka or
Redis. Nothing is recorded, so the ticket shown is a placeholder (`JKP-2026-XXXXXX`)."""

from __future__ import annotations

import datetime as dt

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
from gerbang_feedback.tickets import ticket_year


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
