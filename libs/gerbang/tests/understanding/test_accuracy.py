"""The accuracy gate, on the held-out TEST split only (`tests/fixtures/nlu/test.tsv`).

The test split is written by someone who never saw the model and is never used for tuning
(train.tsv trains, dev.tsv chooses the threshold and the model: their numbers are in
`make eval`, not here). Targets of issue 9: intent accuracy ≥ 97%, out-of-domain messages
answered as out-of-domain ≥ 90% (`TARGET_*`). Accuracy is NOT met yet (2026-12-03, after
issue 9's third data round: 96.9% accuracy, 95.2% out-of-domain recall on the 487 held-out
messages; 95.9% / 93.5% after the second, 92.8% / 93.5% before it), so this gate holds the
floor that is reached, a little
below the measured numbers, and `make eval` reports the numbers against the targets. Raise the
floor as the model improves; never lower it to let a change pass.
"""

from __future__ import annotations

import pytest

from gerbang.understanding.evaluate import held_out_path, intent_report
from gerbang.understanding.model import read_examples

TARGET_ACCURACY = 0.97
TARGET_OUT_OF_DOMAIN_RECALL = 0.90
MINIMUM_ACCURACY = 0.96
MINIMUM_OUT_OF_DOMAIN_RECALL = 0.93


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    path = held_out_path()
    assert path.is_file(), f"{path} is missing: the held-out split is part of the repository"
    return intent_report(read_examples(path))


def test_test_split_intent_accuracy(report: dict[str, object]) -> None:
    print(f"\ntest split: {report['messages']} messages, accuracy {report['accuracy']:.1%}")
    assert report["accuracy"] >= MINIMUM_ACCURACY, report["errors"]


def test_test_split_out_of_domain_recall(report: dict[str, object]) -> None:
    assert report["out_of_domain_recall"] >= MINIMUM_OUT_OF_DOMAIN_RECALL
