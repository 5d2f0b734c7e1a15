"""The inbox as plain values: privacy, filters, CSV (pure)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from gerbang.messages import FeedbackHandled, FeedbackKind, FeedbackRecord
from gerbang_feedback.inbox import (
    CSV_COLUMNS,
    FeedbackQuery,
    Status,
    entry_from_fields,
    handled_fields,
    public_entry,
    record_fields,
    to_csv,
)

WA = "6281234567890"


def record(
    kind: FeedbackKind, *, urgent: bool = False, flags: tuple[str, ...] = (), text: str = "teks"
) -> FeedbackRecord:
    return FeedbackRecord(
        ticket="JKP-2026-000001",
        office="jakpus",
        wa_id=WA,
        message_id="wamid.1",
        kind=kind,
        urgent=urgent,
        flags=list(flags),
        text=text,
        profile_name="Budi",
        received_at=dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC),
    )


def test_fields_round_trip_with_handling() -> None:
    original = record(FeedbackKind.COMPLAINT, urgent=True, flags=("pungli",))
    fields = record_fields(original)
    entry = entry_from_fields(fields)
    assert (entry.ticket, entry.kind, entry.urgent, entry.flags) == (
        "JKP-2026-000001",
        FeedbackKind.COMPLAINT,
        True,
        ("pungli",),
    )
    assert entry.status is Status.OPEN and entry.received_at == original.received_at
    handled = FeedbackHandled(
        ticket=entry.ticket, office="jakpus", wa_id=WA, handled_by="Sari", note="sudah ditelepon"
    )
    entry = entry_from_fields({**fields, **handled_fields(handled)})
    assert entry.status is Status.HANDLED
    assert (entry.handled_by, entry.note, entry.handled_at) == (
        "Sari",
        "sudah ditelepon",
        handled.handled_at,
    )


def test_number_is_masked_in_lists_always() -> None:
    for rec in (record(FeedbackKind.APPRECIATION), record(FeedbackKind.COMPLAINT, urgent=True)):
        shown = public_entry(entry_from_fields(record_fields(rec)))
        assert shown["phone"] != WA and shown["phone"].endswith("890") and shown["phone_masked"]


def test_full_number_only_on_a_single_record_the_office_must_call_back() -> None:
    def single(rec: FeedbackRecord) -> str:
        return public_entry(entry_from_fields(record_fields(rec)), single=True)["phone"]

    assert single(record(FeedbackKind.COMPLAINT, urgent=True, flags=("pungli",))) == WA
    assert single(record(FeedbackKind.COMPLAINT, flags=("contact_requested",))) == WA
    assert single(record(FeedbackKind.COMPLAINT)) != WA
    assert single(record(FeedbackKind.SUGGESTION, flags=("contact_requested",))) != WA
    assert single(record(FeedbackKind.APPRECIATION)) != WA


def test_date_range_is_whole_days_in_wib() -> None:
    query = FeedbackQuery(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 1))
    low, high = query.score_range()
    start_wib = dt.datetime(2026, 2, 28, 17, 0, tzinfo=dt.UTC).timestamp()
    assert low == start_wib
    assert start_wib + 86_399 < high < start_wib + 86_400
    assert FeedbackQuery().score_range() == (float("-inf"), float("inf"))


def test_csv_has_the_rows_and_neutralises_formulas() -> None:
    rows = [
        public_entry(
            entry_from_fields(record_fields(record(FeedbackKind.COMPLAINT, text='=HYPERLINK("x")')))
        )
    ]
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert len(parsed) == 2
    row = dict(zip(CSV_COLUMNS, parsed[1], strict=True))
    assert row["ticket"] == "JKP-2026-000001"
    assert row["text"] == '\'=HYPERLINK("x")'
    assert row["phone"] == rows[0]["phone"] != WA
