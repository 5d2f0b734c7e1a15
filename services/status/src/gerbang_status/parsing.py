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

DEFAULT_APPLICATION_NO_PATTERN = r"^(?=[A-Z]*\d)[A-Z0-9]{6,20}$"
"""Default application-number format, applied after normalisation (see module docstring)."""

_SEPARATORS = re.compile(r"[\s\-]+")
_ALNUM_CHUNK = re.compile(r"[A-Za-z0-9]+")


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


# --- dates --------------------------------------------------------------------------------

MONTHS: dict[str, int] = {
    # Bahasa Indonesia, full and common abbreviations
    "januari": 1, "jan": 1,
    "februari": 2, "pebruari": 2, "feb": 2, "peb": 2,
    "maret": 3, "mar": 3, "mrt": 3,
    "april": 4, "apr": 4,
    "mei": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "agst": 8, "agus": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "nop": 11, "nopember": 11,
    "desember": 12, "des": 12,
    # English
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7,
    "august": 8, "aug": 8, "october": 10, "oct": 10, "december": 12, "dec": 12,
}  # fmt: skip

# Longest names first so that "agustus" wins over "agu" in the alternation.
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<y>\d{4}|\d{2})"

# Each pattern finds a date inside free text; `(?<![\w])` / `(?![\w])` keep it from biting
# into longer numbers (an application number must not yield a date).
_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # ISO: 1990-05-12, 1990/5/12, 1990.05.12
    re.compile(r"(?<![\w.\-/])(?P<y>\d{4})([\-/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?![\w]|[\-/.]\d)"),
    # 12-05-1990, 12/5/90, 12.05.1990
    re.compile(
        r"(?<![\w.\-/])(?P<d>\d{1,2})([\-/.])(?P<m>\d{1,2})\2(?P<y>\d{4}|\d{2})(?![\w]|[\-/.]\d)"
    ),
    # 12 Mei 1990, 12-mei-90, 12 May 1990, 12th May, 1990
    re.compile(
        rf"(?<![\w])(?:{_DAY})[\s\-/.]*(?P<mn>{_MONTH_ALT})\.?[\s\-/.,]*{_YEAR}(?![\w])",
        re.IGNORECASE,
    ),
    # May 12, 1990 / Mei 12 1990
    re.compile(
        rf"(?<![\w])(?P<mn>{_MONTH_ALT})\.?[\s\-/.]*{_DAY},?[\s\-/.]+{_YEAR}(?![\w])",
        re.IGNORECASE,
    ),
)

# Only when the whole message is the date: "12 05 1990", "12051990".
_WHOLE_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^(?P<d>\d{1,2})\s+(?P<m>\d{1,2})\s+(?P<y>\d{4}|\d{2})$"),
    re.compile(r"^(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4})$"),
)


def resolve_two_digit_year(yy: int, today: dt.date) -> int:
    """The latest year ending in `yy` that is not after `today` (a birth is in the past)."""
    year = today.year - today.year % 100 + yy
    return year if year <= today.year else year - 100


def _build_date(match: re.Match[str], today: dt.date) -> dt.date | None:
    parts = match.groupdict()
    raw_year = parts["y"]
    year = int(raw_year)
    if len(raw_year) == 2:
        year = resolve_two_digit_year(year, today)
    month = MONTHS[parts["mn"].lower()] if parts.get("mn") else int(parts["m"])
    try:
        date = dt.date(year, month, int(parts["d"]))
    except ValueError:
        return None
    if date > today or date.year < 1900:
        return None
    return date


@dataclass(frozen=True)
class FoundDate:
    """A date found in text: the date (None if it looked like a date but is impossible)."""

    date: dt.date | None
    start: int
    end: int


def find_dates(text: str, today: dt.date) -> list[FoundDate]:
    """Every date-looking span in `text`, in order, non-overlapping."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append(FoundDate(_build_date(match, today), start, end))
    return sorted(found, key=lambda f: f.start)


def _whole_date(text: str, today: dt.date) -> tuple[bool, dt.date | None]:
    """(the whole text is shaped like a date, the date if it is a possible one)."""
    stripped = text.strip().rstrip(".")
    if len(stripped) > 40:
        return False, None
    for pattern in _WHOLE_DATE_PATTERNS:
        match = pattern.match(stripped)
        if match:
            return True, _build_date(match, today)
    dates = find_dates(stripped, today)
    if len(dates) == 1 and dates[0].start == 0 and dates[0].end == len(stripped):
        return True, dates[0].date
    return False, None


def parse_date_of_birth(text: str, today: dt.date | None = None) -> dt.date | None:
    """The date of birth typed as a whole message, in any supported form; None otherwise."""
    return _whole_date(text, today or dt.date.today())[1]


# --- both from one message ----------------------------------------------------------------


@dataclass(frozen=True)
class LookupInput:
    """What one message gave us: an application number and/or a date of birth."""

    application_no: str | None = None
    date_of_birth: dt.date | None = None
    invalid_date: bool = False
    """Something looked like a date but is not a possible date of birth (31-02, future)."""


def _application_no_candidates(text: str) -> list[str]:
    """Runs of letter/digit chunks joined by spaces or dashes, longest first per run.

    A run is broken by anything else (a comma, a word without digits joined by a space),
    so `no 1234 5678 9012 lahir` gives `1234 5678 9012`. Letters-only words join a run only
    through a dash (`JKT-2024-0001`), never through a space (`permohonan 1234`).
    """
    chunks = list(_ALNUM_CHUNK.finditer(text))
    runs: list[list[re.Match[str]]] = []
    for chunk in chunks:
        has_digit = any(c.isdigit() for c in chunk.group())
        if runs:
            previous = runs[-1][-1]
            gap = text[previous.end() : chunk.start()]
            joined = bool(gap) and len(gap) <= 3 and not _SEPARATORS.sub("", gap)
            prev_digit = any(c.isdigit() for c in previous.group())
            if joined and (
                (has_digit and prev_digit) or ("-" in gap and (has_digit or prev_digit))
            ):
                runs[-1].append(chunk)
                continue
        runs.append([chunk])
    candidates: list[str] = []
    for run in runs:
        if not any(any(c.isdigit() for c in m.group()) for m in run):
            continue
        candidates.append("".join(m.group() for m in run))
        if len(run) > 1:
            candidates.extend(m.group() for m in run)
    return candidates


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
        shaped, whole = _whole_date(text, today)
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
    for candidate in _application_no_candidates("".join(masked)):
        application_no = fmt.normalize(candidate)
        if application_no:
            break
    return LookupInput(
        application_no=application_no,
        date_of_birth=date_of_birth,
        invalid_date=bool(dates) and date_of_birth is None,
    )
