"""Phone numbers: normalising Indonesian numbers and masking them for logs.

WhatsApp identifies a citizen by `wa_id` (digits with country code, no `+`). People type
numbers as `0812-3003-0440`, `+62 812 3003 0440`, `62812...`: all normalise to the same digits.
"""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D+")


def normalize_msisdn(raw: str, default_country: str = "62") -> str | None:
    """Digits with country code (WhatsApp's wa_id form), or None if it is not a phone number.

    `08123...` (national trunk prefix) becomes `628123...`; `+62`/`62`/`0062` are kept.
    """
    digits = _NON_DIGITS.sub("", raw)
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = default_country + digits[1:]
    elif digits.startswith("8") and 9 <= len(digits) <= 12:
        # "812..." typed without the trunk zero: an Indonesian mobile number.
        digits = default_country + digits
    if not 8 <= len(digits) <= 15:
        return None
    return digits


def mask(number: str | None) -> str:
    """Mask a phone number for logs and lists: keep country code and the last 3 digits."""
    if not number:
        return ""
    digits = _NON_DIGITS.sub("", number)
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 5) + digits[-3:]


_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(?:\+?\d[\d\s.\-()]{6,}\d)")


def mask_numbers_in_text(text: str) -> str:
    """Mask every phone-number-like run of digits in free text (for logs and FAQ-miss lists)."""

    def _mask(match: re.Match[str]) -> str:
        digits = _NON_DIGITS.sub("", match.group(0))
        if len(digits) < 8:
            return match.group(0)
        return mask(digits)

    return _NUMBER_IN_TEXT.sub(_mask, text)


def display(number: str) -> str:
    """A wa_id shown the way Indonesians write it: `+62 811-8539-333`."""
    digits = _NON_DIGITS.sub("", number)
    if digits.startswith("62") and len(digits) >= 10:
        rest = digits[2:]
        groups = [rest[:3], rest[3:7], rest[7:]]
        return "+62 " + "-".join(g for g in groups if g)
    return "+" + digits
