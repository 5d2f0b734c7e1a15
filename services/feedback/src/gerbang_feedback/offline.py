"""`gerbang ask` for feedback messages (`gerbang.offline_turns`): the step the worker would
take, without Kafka or Redis. Nothing is kept: tickets are numbered in memory, records and
additions are returned, not produced."""

from __future__ import annotations

import asyncio
from typing import Any

from gerbang.messages import ServiceRequest
from gerbang.offices import Office, OfficeRegistry
from gerbang_feedback.handlers import FeedbackHandler
from gerbang_feedback.tickets import format_ticket


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
