"""Application numbers and dates of birth as people type them (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbang_status.parsing import (
    ApplicationNoFormat,
    extract_lookup,
    normalize_application_no,
    parse_date_of_birth,
    resolve_two_digit_year,
)

TODAY = dt.date(2025, 11, 25)
MAY_12 = dt.date(1990, 5, 12)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1234567890123", "1234567890123"),
        (" 1234-5678-9012 ", "123456789012"),
        ("1234 5678 9012 3", "1234567890123"),
        ("jkt-2024-000123", "JKT2024000123"),
        ("12345", None),  # too short
        ("123456789012345678901", None),  # too long
        ("PERMOHONAN", None),  # no digit
        ("1234/5678", None),  # slash is not a separator people use in numbers
        ("１２３４５６７", None),  # full-width digits are not ASCII
        ("", None),
    ],
)
def test_application_numbers(typed: str, expected: str | None) -> None:
    assert normalize_application_no(typed) == expected


def test_office_can_override_the_format() -> None:
    thirteen_digits = ApplicationNoFormat(r"^\d{13}$")
    assert thirteen_digits.normalize("1234-5678-90123") == "1234567890123"
    assert thirteen_digits.normalize("JKT2024000123") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12-05-1990", MAY_12),
        ("12/5/90", MAY_12),
        ("12.05.1990", MAY_12),
        ("12 Mei 1990", MAY_12),
        ("12 mei 90", MAY_12),
        ("12-Mei-1990", MAY_12),
        ("1990-05-12", MAY_12),
        ("1990/5/12", MAY_12),
        ("12 May 1990", MAY_12),
        ("May 12, 1990", MAY_12),
        ("12th May 1990", MAY_12),
        ("12 05 1990", MAY_12),
        ("12051990", MAY_12),
        ("1 Agustus 2001", dt.date(2001, 8, 1)),
        ("1 agt 2001", dt.date(2001, 8, 1)),
        ("17 Ags 1945", dt.date(1945, 8, 17)),
        ("5 Okt 1985", dt.date(1985, 10, 5)),
        ("5 Oct 1985", dt.date(1985, 10, 5)),
        ("25 Des 1999", dt.date(1999, 12, 25)),
        ("25 Dec 1999", dt.date(1999, 12, 25)),
        ("3 Nop 1977", dt.date(1977, 11, 3)),
        ("29-02-2000", dt.date(2000, 2, 29)),
        ("1/1/05", dt.date(2005, 1, 1)),
        ("1/1/25", dt.date(2025, 1, 1)),
        ("1/1/26", dt.date(1926, 1, 1)),  # 2026 is in the future
        # rejected
        ("31-02-1990", None),
        ("29-02-1999", None),
        ("12-13-1990", None),
        ("32 Mei 1990", None),
        ("12 Des 2030", None),  # future
        ("01-01-1850", None),
        ("12 Mai 1990", None),  # not a month name
        ("besok", None),
        ("", None),
    ],
)
def test_dates_of_birth(typed: str, expected: dt.date | None) -> None:
    assert parse_date_of_birth(typed, TODAY) == expected


def test_day_comes_first() -> None:
    """Indonesians write the day first: 12/5/90 is 12 May, never December 5."""
    assert parse_date_of_birth("5/12/1990", TODAY) == dt.date(1990, 12, 5)


@pytest.mark.parametrize(
    ("text", "number", "dob"),
    [
        ("no permohonan 1234567890123 lahir 12-05-1990", "1234567890123", MAY_12),
        ("1234567890123 12 Mei 1990", "1234567890123", MAY_12),
        ("tgl lahir 12/5/90 nomor JKT-2024-0001", "JKT20240001", MAY_12),
        ("nomor 1234 5678 9012, lahir 1 Januari 2000", "123456789012", dt.date(2000, 1, 1)),
        ("1234-5678-9012 1990-05-12", "123456789012", MAY_12),
        ("Permohonan: 1234567890123\nTanggal lahir: 12.05.1990", "1234567890123", MAY_12),
        ("cek status", None, None),
        ("12-05-1990", None, MAY_12),
        ("1234567890123", "1234567890123", None),
        ("status 123", None, None),
    ],
)
def test_extract_both_from_one_message(text: str, number: str | None, dob: dt.date | None) -> None:
    found = extract_lookup(text, TODAY)
    assert (found.application_no, found.date_of_birth) == (number, dob)


def test_a_date_never_becomes_an_application_number() -> None:
    assert extract_lookup("lahir 12-05-1990", TODAY).application_no is None


def test_impossible_date_is_flagged() -> None:
    found = extract_lookup("1234567890123 31-02-1990", TODAY)
    assert found.application_no == "1234567890123"
    assert found.date_of_birth is None
    assert found.invalid_date


def test_compact_date_when_only_the_date_is_missing() -> None:
    assert extract_lookup("12051990", TODAY).application_no == "12051990"
    assert extract_lookup("12051990", TODAY, expecting_date=True).date_of_birth == MAY_12


def test_two_digit_years() -> None:
    assert resolve_two_digit_year(90, TODAY) == 1990
    assert resolve_two_digit_year(25, TODAY) == 2025
    assert resolve_two_digit_year(26, TODAY) == 1926
    assert resolve_two_digit_year(0, TODAY) == 2000


# --- properties ---------------------------------------------------------------------------

ID_MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember"]  # fmt: skip
ID_ABBR = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agt", "Sep", "Okt", "Nov", "Des"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]  # fmt: skip
EN_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

FOUR_DIGIT_FORMATS = [
    lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    lambda d: f"{d.day}/{d.month}/{d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{d.year}-{d.month:02d}-{d.day:02d}",
    lambda d: f"{d.day} {ID_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {ID_MONTHS[d.month - 1].lower()} {d.year}",
    lambda d: f"{d.day} {ID_ABBR[d.month - 1]} {d.year}",
    lambda d: f"{d.day}-{ID_ABBR[d.month - 1]}-{d.year}",
    lambda d: f"{d.day} {EN_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {EN_ABBR[d.month - 1]} {d.year}",
    lambda d: f"{EN_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d} {d.month:02d} {d.year}",
    lambda d: f"{d.day:02d}{d.month:02d}{d.year}",
]
TWO_DIGIT_FORMATS = [
    lambda d: f"{d.day}/{d.month}/{d.year % 100:02d}",
    lambda d: f"{d.day:02d}-{d.month:02d}-{d.year % 100:02d}",
    lambda d: f"{d.day} {ID_MONTHS[d.month - 1].lower()} {d.year % 100:02d}",
    lambda d: f"{d.day} {EN_ABBR[d.month - 1]} {d.year % 100:02d}",
]
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
# Two-digit years can only mean the last hundred years.
recent_births = st.dates(min_value=dt.date(TODAY.year - 99, 1, 1), max_value=TODAY)


@given(births, st.sampled_from(FOUR_DIGIT_FORMATS))
def test_every_format_round_trips(date: dt.date, fmt: object) -> None:
    assert parse_date_of_birth(fmt(date), TODAY) == date  # type: ignore[operator]


@given(recent_births, st.sampled_from(TWO_DIGIT_FORMATS))
def test_two_digit_years_round_trip(date: dt.date, fmt: object) -> None:
    assert parse_date_of_birth(fmt(date), TODAY) == date  # type: ignore[operator]


@given(
    births,
    st.sampled_from(FOUR_DIGIT_FORMATS[:11]),
    st.from_regex(r"[1-9][0-9]{5,18}", fullmatch=True),
)
def test_pair_in_one_message_round_trips(date: dt.date, fmt: object, number: str) -> None:
    text = f"no permohonan {number} tgl lahir {fmt(date)}"  # type: ignore[operator]
    found = extract_lookup(text, TODAY)
    assert found.application_no == number
    assert found.date_of_birth == date


@given(
    st.from_regex(r"[A-Za-z0-9]{6,20}", fullmatch=True).filter(
        lambda s: any(c.isdigit() for c in s)
    )
)
def test_application_numbers_round_trip_with_separators(number: str) -> None:
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    dashed = "-".join(number[i : i + 3] for i in range(0, len(number), 3))
    for typed in (number, spaced, dashed, number.lower()):
        assert normalize_application_no(typed) == number.upper()


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    found = extract_lookup(text, TODAY)
    parse_date_of_birth(text, TODAY)
    if found.application_no is not None:
        assert normalize_application_no(found.application_no) == found.application_no
    if found.date_of_birth is not None:
        assert dt.date(1900, 1, 1) <= found.date_of_birth <= TODAY
