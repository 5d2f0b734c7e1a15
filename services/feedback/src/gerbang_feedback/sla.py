"""Service-level deadlines of a ticket, in working days (pure).

Complaints follow the national public-complaint deadlines (Permenpan RB 62/2018 on SP4N-LAPOR!
handling, as the issue states them): respond within 3 working days, follow up within 5, finish
within 10. The numbers are settings per kind (`GERBANG_SLA_WORKING_DAYS`). Working days are
Monday to Friday in WIB; public holidays are not modelled (a deadline may fall on one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gerbang.messages import FeedbackKind
from gerbang_feedback.tickets import WIB


@dataclass(frozen=True)
class Deadlines:
    """When a ticket must be responded to, followed up and finished."""

    respond: dt.datetime
    follow_up: dt.datetime
    finish: dt.datetime


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """`start` plus `days` working days (Mon–Fri, WIB), at the end of that day."""
    day = start.astimezone(WIB).date()
    added = 0
    while added < days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return dt.datetime.combine(day, dt.time(23, 59, 59), WIB)


def deadlines(received_at: dt.datetime, days: tuple[int, int, int]) -> Deadlines:
    """The three deadlines of a ticket received at `received_at`."""
    respond, follow_up, finish = days
    return Deadlines(
        add_working_days(received_at, respond),
        add_working_days(received_at, follow_up),
        add_working_days(received_at, finish),
    )


def overdue(
    status: str, received_at: dt.datetime, days: tuple[int, int, int], now: dt.datetime
) -> str | None:
    """Which deadline a ticket has missed: "respond" (not answered yet), "finish" (not
    closed yet), or None."""
    if status == "handled":
        return None
    due = deadlines(received_at, days)
    if status in ("open", "in_progress") and now > due.respond:
        return "respond"
    if now > due.finish:
        return "finish"
    return None


DEFAULT_SLA: dict[FeedbackKind, tuple[int, int, int]] = {
    FeedbackKind.COMPLAINT: (3, 5, 10),
    FeedbackKind.SCAM_REPORT: (3, 5, 10),
    FeedbackKind.SUGGESTION: (5, 10, 14),
    FeedbackKind.APPRECIATION: (5, 10, 14),
}
