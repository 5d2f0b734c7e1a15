"""The word lists of `data/lexicon.yaml`, loaded once and compiled (the only place they live)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicon.yaml"


def _any(patterns: str | list[str]) -> re.Pattern[str]:
    if isinstance(patterns, str):
        patterns = [patterns]
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


@dataclass(frozen=True)
class Lexicon:
    """Compiled word lists (see the comments in `data/lexicon.yaml`)."""

    scam_patterns: tuple[tuple[str, re.Pattern[str]], ...]
    own_number: re.Pattern[str]
    cancel_messages: frozenset[str]
    cancel_patterns: re.Pattern[str]
    urgent_patterns: re.Pattern[str]
    passport_kind: tuple[tuple[str, re.Pattern[str]], ...]
    validity: re.Pattern[str]
    age_before: re.Pattern[str]
    age_after: re.Pattern[str]
    age_group: tuple[tuple[str, re.Pattern[str]], ...]
    subtopics: dict[str, tuple[tuple[str, re.Pattern[str]], ...]]
    followup_forms: re.Pattern[str]
    topic_words: frozenset[str]
    office_words: frozenset[str]
    generic_name_words: frozenset[str]
    language_names: dict[str, str]
    language_filler: frozenset[str]
    months: dict[str, int]
    amount_multipliers: dict[str, int]
    speech_acts: tuple[tuple[str, re.Pattern[str]], ...]
    domain_words: frozenset[str]
    passport_words: frozenset[str]
    other_domain_words: frozenset[str]


@lru_cache(maxsize=1)
def lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    """The lexicon, read and compiled once per process."""
    with path.open(encoding="utf-8") as handle:
        raw: dict[str, Any] = yaml.safe_load(handle)

    def named(mapping: dict[str, Any]) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((name, _any(patterns)) for name, patterns in mapping.items())

    return Lexicon(
        scam_patterns=named(raw["scam_patterns"]),
        own_number=_any(raw["own_number"]),
        cancel_messages=frozenset(raw["cancel_messages"]),
        cancel_patterns=_any(raw["cancel_patterns"]),
        urgent_patterns=_any(raw["urgent_patterns"]),
        passport_kind=named(raw["passport_kind"]),
        validity=_any(raw["validity"]),
        age_before=_any(raw["age_before"]),
        age_after=_any(raw["age_after"]),
        age_group=named(raw["age_group"]),
        subtopics={intent: named(rules) for intent, rules in raw["subtopics"].items()},
        followup_forms=_any(raw["followup_forms"]),
        topic_words=frozenset(raw["topic_words"].split()),
        office_words=frozenset(raw["office_words"].split()),
        generic_name_words=frozenset(raw["generic_name_words"].split()),
        language_names=dict(raw["language_names"]),
        language_filler=frozenset(raw["language_filler"].split()),
        months={str(name): int(month) for name, month in raw["months"].items()},
        amount_multipliers={str(k): int(v) for k, v in raw["amount_multipliers"].items()},
        speech_acts=named(raw["speech_acts"]),
        domain_words=frozenset(raw["domain_words"].split()) | frozenset(raw["topic_words"].split()),
        passport_words=frozenset(raw["passport_words"].split()),
        other_domain_words=frozenset(raw["other_domain_words"].split()),
    )
