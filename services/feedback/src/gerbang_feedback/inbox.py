"""The office's feedback inbox as plain values: entries, filters, privacy, CSV (pure).

`FeedbackEntry` is one ticket as the view keeps it (the record plus its handling). What an API
caller sees of it is `public_entry`: the citizen's number is masked unless the office must
call back (an urgent complaint, or a complaint whose author asked to be contacted) and the
caller asked for that single record.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gerbang.messages import (
    FeedbackHandled,
    FeedbackKind,
    FeedbackProgress,
    FeedbackRecord,
    TicketStage,
    utcnow,
)
from gerbang.phone import mask
from gerbang_feedback.classify import CONTACT_REQUESTED
from gerbang_feedback.sla import deadlines, overdue
from gerbang_feedback.tickets import WIB


class Status(StrEnum):
    """Where a ticket is in the office's work."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    HANDLED = "handled"
    """Closed: the office is done with it."""


class FeedbackEntry(BaseModel):
    """One ticket in the view: the record and, once handled, who handled it and when."""

    model_config = ConfigDict(frozen=True)

    ticket: str
    office: str
    wa_id: str
    message_id: str
    kind: FeedbackKind
    urgent: bool
    flags: tuple[str, ...] = ()
    text: str
    profile_name: str | None = None
    received_at: dt.datetime
    recorded_at: dt.datetime
    status: Status = Status.OPEN
    handled_at: dt.datetime | None = None
    handled_by: str | None = None
    note: str | None = None
    progress_by: str | None = None
    answered_at: dt.datetime | None = None
    answer: str | None = None

    @property
    def callback_required(self) -> bool:
        """True if the office must call the citizen back (so it may see the full number)."""
        return self.kind is FeedbackKind.COMPLAINT and (
            self.urgent or CONTACT_REQUESTED in self.flags
        )

    @property
    def score(self) -> float:
        """Sort and range key in the view: when the citizen's message was received."""
        return self.received_at.timestamp()


def record_fields(record: FeedbackRecord) -> dict[str, str]:
    """The Redis hash fields of a new ticket (all strings; status starts open)."""
    return {
        "ticket": record.ticket,
        "office": record.office,
        "wa_id": record.wa_id,
        "message_id": record.message_id,
        "kind": record.kind.value,
        "urgent": "1" if record.urgent else "0",
        "flags": json.dumps(list(record.flags)),
        "text": record.text,
        "reported_numbers": json.dumps(list(record.reported_numbers)),
        "profile_name": record.profile_name or "",
        "received_at": record.received_at.isoformat(),
        "recorded_at": record.recorded_at.isoformat(),
        "status": Status.OPEN.value,
    }


def handled_fields(event: FeedbackHandled) -> dict[str, str]:
    """The Redis hash fields a handling event sets."""
    return {
        "status": Status.HANDLED.value,
        "handled_at": event.handled_at.isoformat(),
        "handled_by": event.handled_by,
        "note": event.note,
    }


def progress_fields(event: FeedbackProgress) -> dict[str, str]:
    """The Redis hash fields a progress event sets (an answer keeps its text and time)."""
    fields = {"status": event.stage.value, "progress_by": event.by}
    if event.stage is TicketStage.ANSWERED:
        fields.update(answered_at=event.at.isoformat(), answer=event.answer)
    return fields


def entry_from_fields(fields: Mapping[str, str]) -> FeedbackEntry:
    """Decode a Redis hash written by `record_fields` / `handled_fields`."""
    return FeedbackEntry(
        ticket=fields["ticket"],
        office=fields["office"],
        wa_id=fields["wa_id"],
        message_id=fields["message_id"],
        kind=FeedbackKind(fields["kind"]),
        urgent=fields.get("urgent") == "1",
        flags=tuple(json.loads(fields.get("flags") or "[]")),
        text=fields["text"],
        profile_name=fields.get("profile_name") or None,
        received_at=dt.datetime.fromisoformat(fields["received_at"]),
        recorded_at=dt.datetime.fromisoformat(fields["recorded_at"]),
        status=Status(fields.get("status") or Status.OPEN.value),
        handled_at=dt.datetime.fromisoformat(fields["handled_at"])
        if fields.get("handled_at")
        else None,
        handled_by=fields.get("handled_by") or None,
        note=fields.get("note") or None,
        progress_by=fields.get("progress_by") or None,
        answered_at=dt.datetime.fromisoformat(fields["answered_at"])
        if fields.get("answered_at")
        else None,
        answer=fields.get("answer") or None,
    )


class FeedbackQuery(BaseModel):
    """Filters and page of a list or CSV request (dates are calendar days in WIB, inclusive)."""

    model_config = ConfigDict(frozen=True)

    office: str | None = None
    kind: FeedbackKind | None = None
    status: Status | None = None
    urgent: bool | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = Field(default=50, ge=1)
    offset: int = Field(default=0, ge=0)

    def score_range(self) -> tuple[float, float]:
        """received_at range in epoch seconds: start of `date_from` to end of `date_to` (WIB)."""
        low = float("-inf")
        high = float("inf")
        if self.date_from is not None:
            low = dt.datetime.combine(self.date_from, dt.time(), WIB).timestamp()
        if self.date_to is not None:
            next_day = self.date_to + dt.timedelta(days=1)
            high = dt.datetime.combine(next_day, dt.time(), WIB).timestamp() - 1e-6
        return low, high


def public_entry(
    entry: FeedbackEntry,
    *,
    single: bool = False,
    sla: Mapping[FeedbackKind, tuple[int, int, int]] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """What an office sees of a ticket; the number in full only on a single callback record.
    With `sla`: its deadlines and which one it missed (`overdue`)."""
    full_number = single and entry.callback_required
    deadline: dict[str, Any] = {}
    if sla is not None and entry.kind in sla:
        days = sla[entry.kind]
        due = deadlines(entry.received_at, days)
        deadline = {
            "due_respond": due.respond.isoformat(),
            "due_finish": due.finish.isoformat(),
            "overdue": overdue(entry.status.value, entry.received_at, days, now or utcnow()),
        }
    return {
        **deadline,
        "answer": entry.answer,
        "answered_at": entry.answered_at.isoformat() if entry.answered_at else None,
        "progress_by": entry.progress_by,
        "ticket": entry.ticket,
        "office": entry.office,
        "kind": entry.kind.value,
        "urgent": entry.urgent,
        "flags": list(entry.flags),
        "status": entry.status.value,
        "received_at": entry.received_at.isoformat(),
        "phone": entry.wa_id if full_number else mask(entry.wa_id),
        "phone_masked": not full_number,
        "callback_required": entry.callback_required,
        "profile_name": entry.profile_name,
        "text": entry.text,
        "handled_at": entry.handled_at.isoformat() if entry.handled_at else None,
        "handled_by": entry.handled_by,
        "note": entry.note,
    }


CSV_COLUMNS = (
    "ticket", "office", "received_at", "kind", "urgent", "flags", "status", "phone",
    "callback_required", "profile_name", "text", "handled_at", "handled_by", "note",
)  # fmt: skip

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    text = str(value)
    # Citizens write the text: a leading "=" would run as a formula in a spreadsheet.
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV (header + one line per ticket) of `public_entry` rows, safe to open in Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()
