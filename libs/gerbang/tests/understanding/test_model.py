"""The exported classifier is sklearn's, and training is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from gerbang.messages import Intent
from gerbang.understanding.classify import prepare
from gerbang.understanding.model import (
    DEV_FILE,
    TRAIN_FILE,
    char_wb_ngrams,
    read_examples,
    train,
    word_ngrams,
)
from gerbang.understanding.normalize import analyze


def _rows(limit: int | None = None) -> list[tuple[str, Intent]]:
    examples = read_examples(TRAIN_FILE)
    return [(prepare(analyze(e.text)), e.intent) for e in examples[:limit]]


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    return train(_rows())


MESSY = [
    "brp biaya pspor skrg min??",
    "PASPOR SAYA HILANG TOLONG 😭😭",
    "kalo yg 10 taun?",
    "ongkir jne ke bandung brp",
    "mau lapor nomor penipu 0812 9988 7766",
    "x",
    "",
    "zzzzzzzzzzzzzzz qqqqq",
    "berapa fee buat passport renewal",
]


def test_exported_probabilities_equal_sklearn(trained) -> None:  # type: ignore[no-untyped-def]
    model, pipeline = trained
    texts = [prepare(analyze(e.text)) for e in read_examples(DEV_FILE)] + MESSY
    expected = pipeline.predict_proba(texts)
    assert [Intent(c) for c in pipeline.named_steps["classifier"].classes_] == list(model.intents)
    for text, row in zip(texts, expected, strict=True):
        np.testing.assert_allclose(model.probabilities(text), row, rtol=1e-9, atol=1e-12)


def test_feature_extraction_equals_sklearn_analyzers(trained) -> None:  # type: ignore[no-untyped-def]
    _, pipeline = trained
    char, word = (v for _, v in pipeline.named_steps["features"].transformer_list)
    for text in [*MESSY, "a  b\tc", " padded  text "]:
        assert char_wb_ngrams(text) == char.build_analyzer()(text)
        assert sorted(word_ngrams(text)) == sorted(word.build_analyzer()(text))


def test_training_is_deterministic_and_order_free() -> None:
    rows = _rows(400)
    first, _ = train(rows)
    second, _ = train(list(reversed(rows)))
    assert first.intents == second.intents
    assert first.char_vocabulary == second.char_vocabulary
    assert first.word_vocabulary == second.word_vocabulary
    np.testing.assert_array_equal(first.coefficients, second.coefficients)
    np.testing.assert_array_equal(first.intercepts, second.intercepts)


def test_data_files_follow_the_guide() -> None:
    """Header, 17 labels, sizes, and no message in both splits."""
    train_rows = read_examples(TRAIN_FILE)
    dev_rows = read_examples(DEV_FILE)
    assert len(train_rows) >= 1150
    assert len(dev_rows) >= 250
    # An office's own topics are learnt from its published examples, never from these files.
    labels = set(Intent) - {Intent.FAQ_OFFICE_TOPIC}
    assert {e.intent for e in train_rows} == labels
    assert {e.intent for e in dev_rows} == labels
    texts = [e.text for e in train_rows]
    assert len(texts) == len(set(texts))
    assert not set(texts) & {e.text for e in dev_rows}
