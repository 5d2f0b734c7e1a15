"""Feedback tickets: readable ids unique per office, `<ticket_prefix>-<year>-<6-digit seq>`.

e.g. `JKP-2026-000123`. The sequence restarts every year per office; the year is the year in
Western Indonesia Time (WIB, UTC+7) when the citizen sent the message, so a message sent on
1 January at 00:30 WIB belongs to the new year as the office sees it. Pure: the counter itself
lives in Redis (see `view.TicketBook`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
"""Offices count their year in WIB; a fixed offset avoids a tz database dependency."""

_TICKET = re.compile(r"^(?P<prefix>[A-Z]{2,5})-(?P<year>\d{4})-(?P<seq>\d{6,})$")


class InvalidTicket(ValueError):
    """The text is not a ticket id."""


@dataclass(frozen=True, slots=True)
class TicketId:
    """A parsed ticket id."""

    prefix: str
    year: int
    seq: int

    def __str__(self) -> str:
        return format_ticket(self.prefix, self.year, self.seq)


def ticket_year(at: dt.datetime) -> int:
    """The year (in WIB) a ticket for a message sent at `at` belongs to."""
    if at.tzinfo is None:
        raise ValueError("ticket_year needs an aware datetime")
    return at.astimezone(WIB).year


def ticket_prefix(prefix: str, year: int) -> str:
    """The part before the number: `JKP-2026-` (the counter script appends `%06d`)."""
    return f"{prefix}-{year:04d}-"


def format_ticket(prefix: str, year: int, seq: int) -> str:
    """`JKP-2026-000123`; numbers past 999999 simply grow a digit."""
    if seq < 1:
        raise ValueError("ticket sequence numbers start at 1")
    return f"{ticket_prefix(prefix, year)}{seq:06d}"


def parse_ticket(ticket: str) -> TicketId:
    """The parts of a ticket id, or `InvalidTicket`."""
    match = _TICKET.match(ticket.strip().upper())
    if match is None:
        raise InvalidTicket(f"not a feedback ticket: {ticket!r}")
    return TicketId(match["prefix"], int(match["year"]), int(match["seq"]))
