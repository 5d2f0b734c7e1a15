"""Details that narrow a topic where the answer has variants (pure functions).

Passport kind ("e-paspor"), validity ("10 tahun", not "anak umur 10 tahun"), age group,
the subtopic of requirements and lost/damaged, and whether the message is an elliptical
follow-up ("kalo yg 10 taun?", "what about kids") that names no topic of its own. The
patterns are in `data/lexicon.yaml`.
"""

from __future__ import annotations

import re

from gerbang.messages import Intent
from gerbang.understanding.lexicon import lexicon
from gerbang.understanding.normalize import Analysis

_NUMBER_WORDS = {"lima": 5, "five": 5, "sepuluh": 10, "ten": 10}
_AGE = re.compile(
    r"\b(?:umur|usia|berumur|berusia|aged?)(?:nya)?(?: \w+){0,3}? (\d{1,3})\b"
    r"|\b(\d{1,3}) (?:years?|yrs?|tahun) old\b"
    r"|\b([2-9]\d|1[7-9]|1\d\d) (?:tahun|thn|th|taun|years?|yrs?)\b"
)
"""An age: after "umur"/"usia" (a few words may come between: "umur ibu saya 67"), before
"years old", or any number of years from 17 up ("ibu saya sudah 67 tahun"; 5 and 10 years
are a passport's validity, not an age)."""
_FOLLOWUP_MAX_WORDS = 8


def passport_kind(padded: str) -> str | None:
    """'e_paspor' or 'biasa' if the message names one (both or neither: None)."""
    kinds = [name for name, pattern in lexicon().passport_kind if pattern.search(padded)]
    return kinds[0] if len(kinds) == 1 else None


def validity_years(padded: str) -> int | None:
    """5 or 10 when the message names a passport's validity (an age is not a validity)."""
    words = lexicon()
    for match in words.validity.finditer(padded):
        if words.age_before.search(padded[: match.start()]) or words.age_after.search(
            padded[match.end() :]
        ):
            continue
        number = match.group(1)
        value = int(number) if number.isdigit() else _NUMBER_WORDS[number]
        if value in (5, 10):
            return value
    return None


def age_group(padded: str) -> str | None:
    """'minor', 'elderly' or 'adult' from words ("anak", "lansia") or an age ("umur 7")."""
    match = _AGE.search(padded)
    if match:
        age = int(next(group for group in match.groups() if group))
        return "minor" if age < 17 else "elderly" if age >= 60 else "adult"
    for name, pattern in lexicon().age_group:
        if pattern.search(padded):
            return name
    return None


def subtopic(padded: str, intent: Intent) -> str | None:
    """The variant of the answer asked about (requirements: minor, renewal, …; lost or
    damaged). "hilang atau rusak" names both: the general answer covers them."""
    rules = lexicon().subtopics.get(intent.value)
    if not rules:
        return None
    hits = [name for name, pattern in rules if pattern.search(padded)]
    if intent is Intent.FAQ_LOST_DAMAGED and len(hits) > 1:
        return None
    return hits[0] if hits else None


def is_followup(analysis: Analysis, padded: str, has_details: bool) -> bool:
    """A short message that names no topic but a variant or a follow-up form."""
    words = lexicon()
    tokens = analysis.tokens
    if not tokens or len(tokens) > _FOLLOWUP_MAX_WORDS:
        return False
    if any(t in words.topic_words for t in tokens) or any(
        s in words.topic_words for s in analysis.stems
    ):
        return False
    return has_details or bool(words.followup_forms.search(padded))


def read(analysis: Analysis, intent: Intent) -> dict[str, object]:
    """Every detail of the message, as `Understanding` fields."""
    padded = f" {analysis.text} "
    kind = passport_kind(padded)
    years = validity_years(padded)
    age = age_group(padded)
    return {
        "passport_kind": kind,
        "validity_years": years,
        "age_group": age,
        "subtopic": subtopic(padded, intent),
        "followup": is_followup(analysis, padded, any(v is not None for v in (kind, years, age))),
    }
