"""Back-office changes to applications, as pure functions (the API is the thin edge).

A change names an application and the fields to set. Rules:
- `application_no` and `stage` are required; `date_of_birth` and `applicant_name` are
  required for a new application and kept from the current record when omitted;
- `wa_id` and `note`: omitted → kept; given empty → cleared;
- `office`, if given, must be the office of the API key; an existing application of another
  office cannot be changed (`ForbiddenOffice`);
- a change that changes nothing publishes nothing (`apply_change` returns None).

Bulk uploads are CSV with a header row (`,` `;` or tab) or JSON lines, one application each.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gerbang.messages import ApplicationRecord, Stage
from gerbang.phone import normalize_msisdn
from gerbang_status.parsing import ApplicationNoFormat, parse_date_of_birth

FIELDS = ("application_no", "office", "stage", "date_of_birth", "applicant_name", "wa_id", "note")
REQUIRED_COLUMNS = ("application_no", "stage")
NAME_MAX = 200
NOTE_MAX = 500


class ChangeError(ValueError):
    """A change cannot be applied; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field}: {message}")
        self.field = field


class ForbiddenOffice(PermissionError):
    """The change touches an application of another office."""


class BulkFormatError(ValueError):
    """The upload as a whole cannot be read (no header, missing columns, not UTF-8)."""


@dataclass(frozen=True)
class Change:
    """A validated change of one application (`None` for keep, `''` for clear)."""

    application_no: str
    stage: Stage
    office: str | None = None
    date_of_birth: dt.date | None = None
    applicant_name: str | None = None
    wa_id: str | None = None
    note: str | None = None


def _text(row: Mapping[str, Any], field: str) -> str | None:
    value = row.get(field)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ChangeError(field, "must be text")
    return str(value).strip()


def parse_change(row: Mapping[str, Any], fmt: ApplicationNoFormat, today: dt.date) -> Change:
    """Validate one row (JSON object or CSV row); raises `ChangeError` naming the field."""
    unknown = sorted(set(row) - set(FIELDS) - {"schema_version"})
    if unknown:
        raise ChangeError(unknown[0], f"unknown field (allowed: {', '.join(FIELDS)})")
    raw_no = _text(row, "application_no")
    if not raw_no:
        raise ChangeError("application_no", "is required")
    application_no = fmt.normalize(raw_no)
    if application_no is None:
        raise ChangeError("application_no", f"{raw_no!r} does not match {fmt.pattern}")
    raw_stage = _text(row, "stage")
    if not raw_stage:
        raise ChangeError("stage", "is required")
    try:
        stage = Stage(raw_stage.lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise ChangeError(
            "stage", f"{raw_stage!r} is not one of {', '.join(s.value for s in Stage)}"
        ) from None
    office = _text(row, "office") or None
    raw_dob = _text(row, "date_of_birth")
    date_of_birth = None
    if raw_dob:
        date_of_birth = parse_date_of_birth(raw_dob, today)
        if date_of_birth is None:
            raise ChangeError(
                "date_of_birth", f"{raw_dob!r} is not a past date (use YYYY-MM-DD or DD-MM-YYYY)"
            )
    name = _text(row, "applicant_name") or None
    if name is not None and len(name) > NAME_MAX:
        raise ChangeError("applicant_name", f"longer than {NAME_MAX} characters")
    raw_wa = _text(row, "wa_id")
    wa_id = raw_wa
    if raw_wa:
        wa_id = normalize_msisdn(raw_wa)
        if wa_id is None:
            raise ChangeError("wa_id", f"{raw_wa!r} is not a phone number")
    note = _text(row, "note")
    if note is not None and len(note) > NOTE_MAX:
        raise ChangeError("note", f"longer than {NOTE_MAX} characters")
    return Change(application_no, stage, office, date_of_birth, name, wa_id, note)


def apply_change(
    current: ApplicationRecord | None,
    change: Change,
    *,
    office: str,
    updated_by: str,
    now: dt.datetime,
) -> ApplicationRecord | None:
    """The next version of the application, or None if nothing changes.

    Raises `ForbiddenOffice` (another office's application, or `office` ≠ the key's office)
    and `ChangeError` (a new application without date of birth or name).
    """
    if change.office is not None and change.office != office:
        raise ForbiddenOffice(f"the key is for office {office!r}, not {change.office!r}")
    if current is not None and current.office != office:
        raise ForbiddenOffice(f"application {change.application_no} belongs to another office")
    date_of_birth = change.date_of_birth or (current.date_of_birth if current else None)
    if date_of_birth is None:
        raise ChangeError("date_of_birth", "is required for a new application")
    name = change.applicant_name or (current.applicant_name if current else None)
    if name is None:
        raise ChangeError("applicant_name", "is required for a new application")

    def kept(new: str | None, old: str | None) -> str | None:
        if new is None:
            return old
        return new or None  # '' clears

    fields = {
        "stage": change.stage,
        "date_of_birth": date_of_birth,
        "applicant_name": name,
        "wa_id": kept(change.wa_id, current.wa_id if current else None),
        "note": kept(change.note, current.note if current else None),
    }
    if current is not None and all(getattr(current, k) == v for k, v in fields.items()):
        return None
    return ApplicationRecord(
        application_no=change.application_no,
        office=office,
        version=current.version + 1 if current else 1,
        updated_at=now,
        updated_by=updated_by,
        **fields,
    )


def read_bulk(body: bytes, content_type: str | None) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Rows of an upload: (row number, row) or (row number, error text) for unreadable rows.

    CSV rows are numbered like a spreadsheet (the header is row 1); JSON lines by line.
    Raises `BulkFormatError` when the upload as a whole is unreadable.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkFormatError("the upload is not UTF-8 text") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    is_jsonl = kind in {
        "application/x-ndjson",
        "application/jsonl",
        "application/json-lines",
        "application/jsonlines",
        "application/x-jsonlines",
    }
    if not is_jsonl and kind != "text/csv":
        is_jsonl = text.lstrip().startswith("{")
    return _read_jsonl(text) if is_jsonl else _read_csv(text)


def _read_jsonl(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON: {exc.msg}"
            continue
        if not isinstance(row, dict):
            yield number, "each line must be a JSON object"
            continue
        yield number, row


def _read_csv(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise BulkFormatError("the CSV is empty; the first row must be the header")
    header_line = lines[0]
    delimiter = max(",;\t", key=header_line.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise BulkFormatError(
            f"CSV header lacks column(s) {', '.join(missing)}; header is row 1, e.g. "
            "application_no,stage,date_of_birth,applicant_name,wa_id,note"
        )
    unknown = [column for column in header if column not in FIELDS]
    if unknown:
        raise BulkFormatError(
            f"CSV header has unknown column(s) {', '.join(unknown)} (allowed: {', '.join(FIELDS)})"
        )
    reader.fieldnames = header
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, "more cells than header columns"
            continue
        if not any((value or "").strip() for value in row.values()):
            continue
        yield number, {k: v for k, v in row.items() if v is not None}
