"""Accuracy of the matcher on realistic citizen messages (tests/fixtures/nlu/*.tsv).

`messages.tsv` is the tuning set; `heldout.tsv` was written before the matcher and is never
tuned on. Both numbers are printed (run with -s); the union must stay at or above 95%.
Optional per-line checks in the note ([lang=en subtopic=minor ...]) are scored the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gerbang.messages import Intent
from gerbang.understanding import IntentMatcher, Understanding
from gerbang.understanding.bench import fixture_dir

MINIMUM_ACCURACY = 0.95
_TAGS = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class Case:
    """One labelled message."""

    text: str
    intent: Intent
    note: str
    checks: dict[str, str]


def load_cases(path: Path) -> list[Case]:
    """Cases of one TSV file (comment lines start with #; the first other line is a header)."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("text\t"):
            continue
        text, intent, note = line.split("\t")
        tags = _TAGS.search(note)
        checks = dict(item.split("=", 1) for item in tags.group(1).split()) if tags else {}
        cases.append(Case(text, Intent(intent), note, checks))
    return cases


def attribute(understanding: Understanding, name: str) -> str:
    """An attribute of the result as written in the fixtures' notes."""
    values = {
        "lang": understanding.language,
        "subtopic": understanding.subtopic or "",
        "other_office": understanding.other_office or "",
        "scam": ",".join(understanding.scam_signals),
        "phone": ",".join(understanding.phone_numbers),
    }
    return values[name]


TUNING = load_cases(fixture_dir() / "messages.tsv")
HELDOUT = load_cases(fixture_dir() / "heldout.tsv")


def test_fixture_sizes() -> None:
    assert len(TUNING) + len(HELDOUT) >= 220
    assert len(HELDOUT) >= 70
    assert not {case.text for case in TUNING} & {case.text for case in HELDOUT}


def _score(matcher: IntentMatcher, cases: list[Case]) -> tuple[int, int, list[str]]:
    right = checked = 0
    wrong: list[str] = []
    for case in cases:
        result = matcher.understand(case.text, office_code="jakpus")
        if result.intent is case.intent:
            right += 1
        else:
            wrong.append(f"{case.text!r}: expected {case.intent}, got {result.intent}")
        for name, expected in case.checks.items():
            checked += 1
            if attribute(result, name) != expected:
                wrong.append(
                    f"{case.text!r}: {name} expected {expected!r}, got {attribute(result, name)!r}"
                )
    return right, checked, wrong


def test_intent_accuracy(matcher: IntentMatcher) -> None:
    right_tuning, _, wrong_tuning = _score(matcher, TUNING)
    right_heldout, _, wrong_heldout = _score(matcher, HELDOUT)
    total = len(TUNING) + len(HELDOUT)
    union = (right_tuning + right_heldout) / total
    print(
        f"\nNLU intent accuracy: tuning {right_tuning}/{len(TUNING)} "
        f"= {right_tuning / len(TUNING):.1%}, held-out {right_heldout}/{len(HELDOUT)} "
        f"= {right_heldout / len(HELDOUT):.1%}, all {union:.1%}"
    )
    for line in wrong_tuning + wrong_heldout:
        print("  miss:", line)
    assert union >= MINIMUM_ACCURACY


@pytest.mark.parametrize("cases", [TUNING, HELDOUT], ids=["tuning", "heldout"])
def test_attribute_accuracy(matcher: IntentMatcher, cases: list[Case]) -> None:
    """Language, subtopic, other office, scam signals and phone numbers noted per line."""
    wrong = []
    checked = 0
    for case in cases:
        result = matcher.understand(case.text, office_code="jakpus")
        for name, expected in case.checks.items():
            checked += 1
            if attribute(result, name) != expected:
                wrong.append((case.text, name, expected, attribute(result, name)))
    assert checked >= 20
    assert len(wrong) <= 0.05 * checked, wrong
