"""An office's own labelled examples, as a nearest-neighbour overlay over the classifier.

Office staff attach unanswered questions to a topic, or create a topic with a few example
questions, in `/ops` (`gerbang.publishing`). Those examples belong to one office: another
office's routing must not move. So they are not folded into the shared classifier (one model
for every office; a refit costs seconds of CPU in every router at each publish, and one new
example among 1,500 barely moves a regularised logistic regression). Instead each office that
has examples gets a small index, built in milliseconds when its examples change:

- every example is normalised as a message is (`normalize.analyze`: slang, typos, greetings
  stripped) and turned into the classifier's own character n-grams (2–5, within words),
  weighted by sublinear tf × the classifier's idf (learnt on the labelled data: common
  fragments such as "an " weigh little, topic words much; unseen n-grams get the highest
  idf) and L2-normalised;
- a message is turned into the same vector; its cosine with each example is one sparse dot
  product; the nearest example decides its topic when the similarity reaches
  `SIMILARITY_THRESHOLD`, so paraphrases and typos of an example route there (character
  n-grams absorb "pasport"/"paspor", the normaliser "brp"/"berapa").

`SIMILARITY_THRESHOLD` is calibrated on the labelled data (`calibrate`, printed by
`make eval`): with the train split as the "examples" and dev as the messages, the share of
messages whose nearest example has the right intent, per similarity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gerbang.understanding.model import LinearModel, char_wb_ngrams, distinct
from gerbang.understanding.normalize import Analysis, analyze

SIMILARITY_THRESHOLD = 0.55
"""The nearest office example decides the topic at or above this cosine, unless the
classifier is sure (`CLASSIFIER_SURE`) of another intent: then it takes `OVERRIDE_THRESHOLD`.
Calibrated on the labelled data (`calibrate`; `make eval`'s `examples_calibration`: train as
the examples, dev as the messages, the rule as the matcher applies it): of the dev messages
their nearest example decides, 90.4% get the right intent (55% of all dev messages are
decided so). That is 1,500 examples of 17 intents crowding each other; an office has tens.
Measured on the held-out test split with an office's examples live: 15 misrouted dev
messages attached to their topics leave its accuracy at 90.1%; all 167 FAQ messages of dev
attached as examples move it to 89.7% (two messages pulled to an example's topic)."""

CLASSIFIER_SURE = 0.6
OVERRIDE_THRESHOLD = 0.75
"""An example overrides a classifier at least `CLASSIFIER_SURE` of another intent (menu,
fallback and out-of-domain included) only this close: a new office topic near an existing
one ("paspor di MPP hari sabtu" beside the office hours) is reached by close paraphrases
(0.75–1.0 in the tests), not by every hours question; "cara daftar nikah di KUA" stays out
of the domain though "cara daftar paspor" is an example."""

EXAMPLE_CONFIDENCE = 0.9
"""The confidence reported when an office example decides (the calibrated precision, rounded
down): high enough that the dialogue reads it as a clear topic, not an elliptical follow-up."""


def decides(similarity: float, same_intent: bool, classifier_confidence: float) -> bool:
    """Whether the nearest example (at `similarity`) decides over the classifier's reading
    (`same_intent`: the classifier reads the example's intent too). A classifier sure of
    something else (menu, out-of-domain and fallback included) yields only to a close
    paraphrase: an office's examples must not pull "cara daftar nikah di KUA" to registration."""
    if similarity < SIMILARITY_THRESHOLD:
        return False
    if same_intent or classifier_confidence < CLASSIFIER_SURE:
        return True
    return similarity >= OVERRIDE_THRESHOLD


_WORD_CACHE_SIZE = 50_000
_UNSEEN_KEPT = 200_000
"""Ids given to n-grams the labelled data never had, before they are forgotten (the table
would otherwise grow with every new word a router ever reads)."""


@dataclass(frozen=True, slots=True)
class ExampleMatch:
    """The office example nearest to a message, at or above the threshold."""

    topic: str
    similarity: float
    example: str


class Vectoriser:
    """Text → L2-normalised char n-gram TF-IDF with the classifier's idf, as numpy arrays
    (sorted n-gram ids, weights): the same arithmetic as the classifier's character block
    (`model.LinearModel.probabilities`), over the canonical tokens alone."""

    def __init__(self, model: LinearModel) -> None:
        self._vocabulary = model.char_vocabulary
        self._ids: dict[str, int] = dict(model.char_vocabulary)
        self._known = len(self._ids)
        self.epoch = 0
        """Changes when the unseen n-grams are forgotten: indexes built before are stale."""
        idf = model.idf[: self._known]
        # An n-gram the labelled data never had is as rare as can be: the largest idf.
        self._unseen = float(idf.max()) if self._known else 1.0
        self._idf = np.asarray(idf, dtype=np.float64)
        """The idf of every id, unseen n-grams' included (grown as they appear)."""
        self._words: dict[str, np.ndarray] = {}

    def forget_unseen(self) -> bool:
        """Forget the unseen n-grams' ids once there are too many (True: forgotten; every
        index built before must be rebuilt)."""
        if len(self._ids) - self._known <= _UNSEEN_KEPT:
            return False
        self._ids = dict(self._vocabulary)
        self._words.clear()
        self.epoch += 1
        return True

    def _grams(self, word: str) -> np.ndarray:
        """The n-gram ids of a word (cached; an unseen n-gram gets a new id)."""
        ids = self._words.get(word)
        if ids is None:
            table = self._ids
            ids = np.fromiter(
                (table.setdefault(gram, len(table)) for gram in char_wb_ngrams(word)),
                dtype=np.intp,
            )
            if len(table) > self._idf.size:  # new n-grams: the highest idf
                grown = np.full(len(table) + 1024, self._unseen)
                grown[: self._idf.size] = self._idf
                self._idf = grown
            if len(self._words) > _WORD_CACHE_SIZE:
                self._words.clear()
            self._words[word] = ids
        return ids

    def vector(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(sorted distinct n-gram ids, their normalised weights); empty arrays for none."""
        if not tokens:
            return _EMPTY_IDS, _EMPTY_WEIGHTS
        cache = self._words
        found = np.concatenate(
            [cache.get(word) if word in cache else self._grams(word) for word in tokens]
        )
        if not found.size:
            return _EMPTY_IDS, _EMPTY_WEIGHTS
        ids, tf = distinct(found)
        weights = self._idf[ids]
        if tf is not None:
            weights = weights * tf
        weights /= math.sqrt(float(np.dot(weights, weights)))
        return ids, weights


_EMPTY_IDS = np.empty(0, dtype=np.intp)
_EMPTY_WEIGHTS = np.empty(0, dtype=np.float64)


class ExampleIndex:
    """One office's examples, ready for nearest-neighbour lookups."""

    def __init__(self, pairs: Iterable[tuple[str, str]], vectoriser: Vectoriser) -> None:
        """`pairs`: (example message, topic)."""
        self.vectoriser = vectoriser
        self.topics: list[str] = []
        self.examples: list[str] = []
        vectors = []
        for text, topic in pairs:
            ids, weights = vectoriser.vector(analyze(text).tokens)
            if not ids.size:
                continue
            vectors.append((ids, weights))
            self.topics.append(topic)
            self.examples.append(text)
        # The n-grams of the examples (sorted ids) and, per n-gram, its weight in each
        # example: a message gathers the rows of the n-grams it shares, one small product.
        self.ids = np.unique(np.concatenate([ids for ids, _ in vectors])) if vectors else _EMPTY_IDS
        self.rows = np.zeros((self.ids.size, len(vectors)), dtype=np.float64)
        for column, (ids, weights) in enumerate(vectors):
            self.rows[np.searchsorted(self.ids, ids), column] = weights

    def __len__(self) -> int:
        return len(self.topics)

    def nearest(
        self, analysis: Analysis, threshold: float = SIMILARITY_THRESHOLD
    ) -> ExampleMatch | None:
        """The nearest example when its cosine with the message reaches `threshold`."""
        if not self.topics or not analysis.tokens:
            return None
        ids, weights = self.vectoriser.vector(analysis.tokens)
        if not ids.size:
            return None
        at = np.searchsorted(self.ids, ids)
        np.minimum(at, self.ids.size - 1, out=at)
        shared = self.ids[at] == ids
        if not shared.any():
            return None
        scores = weights[shared] @ self.rows[at[shared]]
        best = int(scores.argmax())
        similarity = float(scores[best])
        if similarity < threshold:
            return None
        return ExampleMatch(self.topics[best], round(similarity, 4), self.examples[best])


def calibrate(
    model: LinearModel,
    prepare: Callable[[Analysis], str],
    examples: Sequence[tuple[str, str]],
    messages: Sequence[tuple[str, str]],
) -> dict[str, float]:
    """The rule (`decides`) on labelled data: `examples` and `messages` are (text, intent);
    of the messages the nearest example decides, the share with the right intent
    (`precision`), and the share of all messages it decides (`coverage`)."""
    index = ExampleIndex(examples, Vectoriser(model))
    decided = right = 0
    for text, label in messages:
        analysis = analyze(text)
        match = index.nearest(analysis, threshold=0.0)
        if match is None:
            continue
        intent, confidence = model.ranked(prepare(analysis))[0]
        if decides(match.similarity, intent.value == match.topic, confidence):
            decided += 1
            right += match.topic == label
    return {
        "threshold": SIMILARITY_THRESHOLD,
        "override_threshold": OVERRIDE_THRESHOLD,
        "precision": round(right / decided, 4) if decided else 0.0,
        "coverage": round(decided / len(messages), 4) if messages else 0.0,
    }
