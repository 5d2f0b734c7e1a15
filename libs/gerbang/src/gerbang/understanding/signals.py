"""Signals in a citizen's text, whatever the intent: phone numbers, application numbers,
dates, rupiah amounts, scam cues, cancel words and urgency (pure functions, no I/O).

Dates and application-number candidates were the status service's (`gerbang_status.parsing`
now reads them from here); phone numbers were the matcher's. Word lists and patterns live in
`data/lexicon.yaml`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gerbang.phone import normalize_msisdn
from gerbang.understanding.lexicon import lexicon

_SEPARATORS = re.compile(r"[\s\-]+")
_ALNUM_CHUNK = re.compile(r"[A-Za-z0-9]+")

# --- phone numbers -------------------------------------------------------------------------

# A run of digits with optional single separators (space, dot, dash, brackets), optionally
# starting with + : how people type phone numbers.
_NUMBER_RUN = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s.\-()]{0,2}\d){6,17}(?!\w)")


def _phone_from_run(run: str) -> str | None:
    digits = re.sub(r"\D", "", run)
    stripped = run.lstrip("(")
    international = stripped.startswith(("+", "00"))
    if not (
        international
        or digits.startswith(("0", "62"))
        or (digits.startswith("8") and 9 <= len(digits) <= 12)
    ):
        return None
    number = normalize_msisdn(digits if not international else stripped)
    if number is None or not 10 <= len(number) <= 15:
        return None
    if number.startswith("62") and not 10 <= len(number) <= 14:
        return None
    return number


def extract_phone_numbers(text: str) -> tuple[tuple[str, ...], str]:
    """Phone numbers in free text (any format: +62, 62, 08, 8…, spaces, dashes, dots),
    normalised with `normalize_msisdn`; and the text with them removed.

    A run that is not a phone number as a whole (e.g. "2024 0812 3003 0440") is retried from
    each of its space-separated parts, so a year before a number does not hide it.
    """
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _NUMBER_RUN.finditer(text):
        run = match.group(0)
        starts = [0] + [i + 1 for i, char in enumerate(run) if char == " "]
        for start in starts:
            number = _phone_from_run(run[start:].strip())
            if number is not None:
                if number not in found:
                    found.append(number)
                spans.append((match.start() + start, match.end()))
                break
    if not spans:
        return (), text
    pieces, cursor = [], 0
    for begin, end in spans:
        pieces.append(text[cursor:begin])
        cursor = end
    pieces.append(text[cursor:])
    return tuple(found), " ".join(pieces)


# --- dates (from gerbang_status.parsing: one reader for every service) ---------------------

MONTHS: dict[str, int] = lexicon().months
"""Month names and abbreviations (Bahasa Indonesia and English), from data/lexicon.yaml."""

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


def _build_date(match: re.Match[str], today: dt.date, *, past_only: bool = True) -> dt.date | None:
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
    if (past_only and date > today) or date.year < 1900:
        return None
    return date


@dataclass(frozen=True)
class FoundDate:
    """A date found in text: the date (None if it looked like a date but is impossible)."""

    date: dt.date | None
    start: int
    end: int


def find_dates(text: str, today: dt.date, *, past_only: bool = True) -> list[FoundDate]:
    """Every date-looking span in `text`, in order, non-overlapping (`past_only`: a date after
    `today` is impossible, as a birth date is)."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append(FoundDate(_build_date(match, today, past_only=past_only), start, end))
    return sorted(found, key=lambda f: f.start)


def whole_date(text: str, today: dt.date) -> tuple[bool, dt.date | None]:
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
    return whole_date(text, today or dt.date.today())[1]


def application_no_candidates(text: str) -> list[str]:
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


# --- application numbers -------------------------------------------------------------------


def application_numbers(text: str, today: dt.date | None = None) -> tuple[str, ...]:
    """Application-number-looking tokens in free text, normalised (upper case, separators
    dropped): 8–30 letters/digits with ≥ 5 digits and a letter ("2J0JP1234567"), or 9–20
    digits that are not a phone number. Dates are masked first ("12-05-1990" is a date).
    An office's own format (`gerbang_status.parsing.ApplicationNoFormat`) narrows these."""
    masked = list(text[:1000])
    for found in find_dates(text[:1000], today or dt.date.today(), past_only=False):
        masked[found.start : found.end] = [","] * (found.end - found.start)
    numbers: list[str] = []
    for candidate in application_no_candidates("".join(masked)):
        token = _SEPARATORS.sub("", candidate).upper()
        digits = sum(char.isdigit() for char in token)
        letters = sum(char.isalpha() for char in token)
        if not 8 <= len(token) <= 30 or not token.isascii():
            continue
        if (letters and digits >= 5) or (
            not letters and 9 <= digits <= 20 and _phone_from_run(candidate) is None
        ):
            if token not in numbers:
                numbers.append(token)
    return tuple(numbers)


def looks_like_application_no(text: str) -> bool:
    """Whether the text carries an application-number-looking token."""
    return bool(application_numbers(text))


# --- amounts -------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"(?<![\w.,])(?:rp\.?\s*)?(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d{1,2})?)\s*"
    r"(rb|ribu|rebu|k|jt|juta|jeti)?(?![a-z])",
    re.IGNORECASE,
)


def amounts(text: str) -> tuple[int, ...]:
    """Rupiah amounts: "Rp 350.000", "650rb", "1,5jt", "2 juta", "rp350k" (a bare number
    counts only with "rp" or a multiplier, or when it has thousands separators ≥ 1.000)."""
    multipliers = lexicon().amount_multipliers
    found: list[int] = []
    lowered = text.lower()
    for match in _AMOUNT.finditer(lowered):
        number, unit = match.group(1), (match.group(2) or "").lower()
        has_rp = match.group(0).lstrip().startswith("rp")
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):
            value = float(number.replace(".", "").replace(",", ""))
        else:
            value = float(number.replace(",", "."))
        if unit:
            value *= multipliers[unit]
        elif not has_rp and not re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):
            continue
        if value >= 1000 and int(value) not in found:
            found.append(int(value))
    return tuple(found)


# --- scam cues, cancel, urgency (canonical text) ---------------------------------------------


def scam_signals(canonical_text: str) -> tuple[str, ...]:
    """Scam cues in canonical text: calo, jalur_cepat, orang_dalam, personal_account,
    whatsapp_registration."""
    padded = f" {canonical_text} "
    return tuple(name for name, pattern in lexicon().scam_patterns if pattern.search(padded))


def is_cancel(canonical_text: str) -> bool:
    """The citizen calls off what is going on ("batal", "gak jadi", "cancel")."""
    words = lexicon()
    stripped = canonical_text.strip()
    return stripped in words.cancel_messages or bool(words.cancel_patterns.search(f" {stripped} "))


def is_urgent(canonical_text: str) -> bool:
    """Harm or deadline pressure: extortion, threats, illegal fees, flying tomorrow."""
    return bool(lexicon().urgent_patterns.search(f" {canonical_text} "))


def mentions_own_number(canonical_text: str) -> bool:
    """ "nomor saya …", "hubungi saya": a number given to be called back, not to check."""
    return bool(lexicon().own_number.search(f" {canonical_text} "))
