"""Ticket deadlines in working days (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang_feedback.sla import add_working_days, deadlines, overdue
from gerbang_feedback.tickets import WIB

FRIDAY = dt.datetime(2026, 12, 4, 15, 0, tzinfo=WIB)


def test_working_days_skip_the_weekend() -> None:
    assert add_working_days(FRIDAY, 1).date() == dt.date(2026, 12, 7)  # Monday
    assert add_working_days(FRIDAY, 3).date() == dt.date(2026, 12, 9)
    due = deadlines(FRIDAY, (3, 5, 10))
    assert (due.respond.date(), due.follow_up.date(), due.finish.date()) == (
        dt.date(2026, 12, 9), dt.date(2026, 12, 11), dt.date(2026, 12, 18),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "now", "expected"),
    [
        ("open", dt.datetime(2026, 12, 9, 23, 0, tzinfo=WIB), None),
        ("open", dt.datetime(2026, 12, 10, 0, 1, tzinfo=WIB), "respond"),
        ("in_progress", dt.datetime(2026, 12, 10, 9, 0, tzinfo=WIB), "respond"),
        ("answered", dt.datetime(2026, 12, 10, 9, 0, tzinfo=WIB), None),
        ("answered", dt.datetime(2026, 12, 19, 9, 0, tzinfo=WIB), "finish"),
        ("handled", dt.datetime(2027, 1, 30, 9, 0, tzinfo=WIB), None),
    ],
)
def test_overdue(status: str, now: dt.datetime, expected: str | None) -> None:
    assert overdue(status, FRIDAY, (3, 5, 10), now) == expected
