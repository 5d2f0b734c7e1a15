"""Reading what applicants type: application numbers and dates of birth (pure, no I/O).

Application numbers
    The default format is 6–20 letters or digits with at least one digit (an application
    *number*), e.g. `1234567890123` or `JKT2024000123`. People type them with spaces or
    dashes (`1234-5678-9012`, `jkt 2024 000123`): those separators are dropped and letters are
    upper-cased, so every spelling normalises to one key (`normalize_application_no`). The
    pattern is applied to the normalised form; an office (or a deployment) can replace it
    with `ApplicationNoFormat(pattern)` — e.g. `^\\d{13}$` for thirteen digits only.

Dates of birth
    Indonesian order only (day, month, year): `12-05-1990`, `12/5/90`, `12.05.1990`,
    `12 Mei 1990`, `12 mei 90`, `12-Mei-1990`, `12 May 1990`, `May 12, 1990` (English order
    with a month name), ISO `1990-05-12`, and, when the whole message is the date,
    `12 05 1990` and `12051990` (ddmmyyyy, the format the 2017 WhatsApp queue used).
    Month names and abbreviations in Bahasa Indonesia and English (`Agustus`, `Agt`, `Ags`,
    `Aug`, `Okt`, `Oct`, `Des`, `Dec` …). A two-digit year is the latest year ending in those
    digits that is not in the future (`90` → 1990, `05` → 2005). Impossible dates
    (`31-02-1990`), dates in the future and years before 1900 are rejected: `None`.
    `12/5/90` is 12 May, never December 5: Indonesians write the day first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from gerbang.understanding.signals import (
    MONTHS,
    FoundDate,
    application_no_candidates,
    find_dates,
    parse_date_of_birth,
    resolve_two_digit_year,
    whole_date,
)

DEFAULT_APPLICATION_NO_PATTERN = r"^(?=[A-Z]*\d)[A-Z0-9]{6,20}$"
"""Default application-number format, applied after normalisation (see module docstring)."""

_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class ApplicationNoFormat:
    """An application-number format: a regex over the normalised (upper-case, unseparated) form."""

    pattern: str = DEFAULT_APPLICATION_NO_PATTERN
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def normalize(self, raw: str) -> str | None:
        """The canonical application number, or None if `raw` is not one."""
        candidate = _SEPARATORS.sub("", raw.strip()).upper()
        if not candidate or not candidate.isascii() or not candidate.isalnum():
            return None
        return candidate if self._compiled.fullmatch(candidate) else None


DEFAULT_FORMAT = ApplicationNoFormat()


def normalize_application_no(raw: str, fmt: ApplicationNoFormat = DEFAULT_FORMAT) -> str | None:
    """`' 1234-5678 9012 '` → `'123456789012'`; None if it does not fit the format."""
    return fmt.normalize(raw)


# --- dates: gerbang.understanding.signals reads them (one reader for every service) ---

__all__ = [
    "MONTHS",
    "ApplicationNoFormat",
    "FoundDate",
    "LookupInput",
    "extract_lookup",
    "find_dates",
    "normalize_application_no",
    "parse_date_of_birth",
    "resolve_two_digit_year",
]


# --- both from one message ----------------------------------------------------------------


@dataclass(frozen=True)
class LookupInput:
    """What one message gave us: an application number and/or a date of birth."""

    application_no: str | None = None
    date_of_birth: dt.date | None = None
    invalid_date: bool = False
    """Something looked like a date but is not a possible date of birth (31-02, future)."""


def extract_lookup(
    text: str,
    today: dt.date | None = None,
    fmt: ApplicationNoFormat = DEFAULT_FORMAT,
    *,
    expecting_date: bool = False,
) -> LookupInput:
    """Application number and date of birth from one free-text message.

    `"no permohonan 1234567890123 lahir 12-05-1990"` → both. Dates are taken out first so
    that `12-05-1990` never becomes application number `12051990`. When only a date of
    birth is missing (`expecting_date`), a whole message like `12051990` is read as a date.
    Never raises, whatever the text.
    """
    today = today or dt.date.today()
    text = text[:1000]
    if expecting_date:
        shaped, whole = whole_date(text, today)
        if shaped:
            return LookupInput(date_of_birth=whole, invalid_date=whole is None)
    dates = find_dates(text, today)
    valid = [d for d in dates if d.date is not None]
    date_of_birth = valid[0].date if valid else None
    # Blank out every date-looking span so its digits do not join an application number.
    masked = list(text)
    for found in dates:
        masked[found.start : found.end] = [","] * (found.end - found.start)
    application_no = None
    for candidate in application_no_candidates("".join(masked)):
        application_no = fmt.normalize(candidate)
        if application_no:
            break
    return LookupInput(
        application_no=application_no,
        date_of_birth=date_of_birth,
        invalid_date=bool(dates) and date_of_birth is None,
    )
