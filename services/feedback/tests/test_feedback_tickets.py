"""Ticket ids: `<prefix>-<year>-<6-digit seq>` (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gerbang_feedback.tickets import (
    InvalidTicket,
    TicketId,
    format_ticket,
    parse_ticket,
    ticket_prefix,
    ticket_year,
)


def test_format() -> None:
    assert format_ticket("JKP", 2026, 123) == "JKP-2026-000123"
    assert format_ticket("BGR", 2027, 1) == "BGR-2027-000001"
    assert format_ticket("JKP", 2026, 1_234_567) == "JKP-2026-1234567"
    assert ticket_prefix("BTM", 2026) == "BTM-2026-"


def test_sequence_starts_at_one() -> None:
    with pytest.raises(ValueError):
        format_ticket("JKP", 2026, 0)


@given(
    st.from_regex(r"[A-Z]{2,5}", fullmatch=True),
    st.integers(2000, 2999),
    st.integers(1, 10**8),
)
def test_parse_inverts_format(prefix: str, year: int, seq: int) -> None:
    assert parse_ticket(format_ticket(prefix, year, seq)) == TicketId(prefix, year, seq)


@pytest.mark.parametrize(
    "bad", ["", "JKP-2026-123", "jkp-26-000123", "JKP2026000123", "X-2026-000001"]
)
def test_parse_rejects_non_tickets(bad: str) -> None:
    with pytest.raises(InvalidTicket):
        parse_ticket(bad)


def test_parse_accepts_lower_case_input() -> None:
    assert str(parse_ticket(" jkp-2026-000123 ")) == "JKP-2026-000123"


def test_year_is_the_year_in_wib() -> None:
    # 31 Dec 2025 18:30 UTC is 1 Jan 2026 01:30 WIB: the office's new year.
    assert ticket_year(dt.datetime(2025, 12, 31, 18, 30, tzinfo=dt.UTC)) == 2026
    assert ticket_year(dt.datetime(2025, 12, 31, 16, 59, tzinfo=dt.UTC)) == 2025
    with pytest.raises(ValueError):
        ticket_year(dt.datetime(2026, 1, 1))
