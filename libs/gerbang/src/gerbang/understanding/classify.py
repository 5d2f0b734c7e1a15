"""What a citizen's message means, once: `IntentMatcher.understand(text) → Understanding`.

The pipeline, in order:

1. **normalise** (`normalize.analyze`): clean, slang, typos, greetings stripped, language;
2. **signals** (`signals`): phone numbers, application numbers, dates, rupiah amounts, scam
   cues, cancel words, urgency — reported whatever the intent;
3. **rules where rules are right**: a tapped menu row or button id, a bare menu number
   ("3"), a language request ("english please"), a message of greetings only → decided;
4. **the trained classifier** (`model`): character and word TF-IDF with a logistic
   regression, trained from `data/train.tsv` (and the offices' FAQ `examples:`), its
   probabilities calibrated by `TEMPERATURE`; one rule (`_ask`: `ABSTAIN_THRESHOLD`,
   `ASK_MARGIN`, chosen on dev) decides when to ask instead: the intent is FALLBACK and
   `alternatives` holds the two likeliest topics, for "Maksud Anda: … / …?" buttons. A
   phone number to check or an application number can decide what the classifier left open;
5. **the office's own examples** (`examples`): when the office written to has published
   labelled examples (unanswered questions attached to a topic, or a topic of its own), the
   nearest example by character n-gram cosine decides the topic above a calibrated
   similarity; no other office's examples are ever consulted;
6. **details** (`details`): passport kind, validity, age group, subtopic, another office
   named, and whether the message is an elliptical follow-up ("kalo yg 10 taun?").

Word lists live in `data/lexicon.yaml`; labelled messages in `data/*.tsv`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gerbang.messages import MENU_ROWS, Intent, Service, Understanding
from gerbang.offices import OWN_TOPIC_PREFIX
from gerbang.understanding import details
from gerbang.understanding import examples as office_examples
from gerbang.understanding import model as model_module
from gerbang.understanding import normalize as normalize_module
from gerbang.understanding.lexicon import LEXICON_FILE, lexicon
from gerbang.understanding.model import (
    TRAIN_FILE,
    LinearModel,
    data_hash,
    load_or_train,
    read_examples,
)
from gerbang.understanding.normalize import DOMAIN_VOCAB, Analysis, analyze, clean, known_word
from gerbang.understanding.signals import (
    amounts,
    application_numbers,
    extract_phone_numbers,
    find_dates,
    is_cancel,
    is_urgent,
    looks_like_application_no,
    mentions_own_number,
    scam_signals,
)

if TYPE_CHECKING:
    from gerbang.offices import Lang, OfficeRegistry, PublishedContent

__all__ = [
    "ABSTAIN_THRESHOLD",
    "ASK_MARGIN",
    "TEMPERATURE",
    "IntentMatcher",
    "extract_phone_numbers",
    "language_request",
    "looks_like_application_no",
    "prepare",
]

TEMPERATURE = 0.6
"""The classifier's scores are divided by this before the softmax, so that its probabilities
are calibrated: fitted on dev by the negative log-likelihood (`make eval` prints the fit).
Logistic regression on this data is under-confident (dev: NLL 0.246 at 1.0, 0.188 at 0.6;
expected calibration error 0.085 → 0.021), so it is below 1. Re-fitted after the training data
grew to 4,180 messages: 0.6 is still the best (NLL 0.147 at 1.0, 0.113 at 0.5, 0.109 at 0.6,
0.112 at 0.7; calibration error 0.063 → 0.012)."""

ABSTAIN_THRESHOLD = 0.35
ASK_MARGIN = 0.20
"""The one rule for not answering (`_ask`), on calibrated probabilities: the best intent is
trusted when its probability is at least `ABSTAIN_THRESHOLD` and, if the runner-up is
another answerable topic (FAQ or status), it leads it by at least `ASK_MARGIN`. Otherwise the
citizen is asked ("Maksud Anda: … / …?", FALLBACK with the two likeliest topics as
`alternatives`). From the dev sweep `make eval` prints: any threshold 0.20–0.40 gives the
same accuracy; the accuracy-best margin is 0 (94.3%), and 0.20 costs 0.6 point (three
dev messages asked instead of answered) to turn near-ties such as "bayar paspor berapa"
(payment 0.59, fees 0.41) into a question: a question costs the citizen one tap, a confident
wrong answer the conversation. With the grown training data (4,180 messages) every margin
0.05–0.30 and threshold 0.20–0.40 gives the same dev accuracy (97.3%; margin 0: 97.5%, one
message), and "bayar paspor berapa" is a near-tie still (payment 0.55, fees 0.45)."""

# Intents that are answerable topics (offered as alternatives when the classifier abstains).
_NOT_TOPICS = frozenset({Intent.MENU, Intent.FALLBACK, Intent.OUT_OF_DOMAIN})
# A phone number in the message makes it a number check unless it reports or complains.
_NUMBER_CHECK_KEEPS = frozenset(
    {
        Intent.FEEDBACK_SCAM_REPORT,
        Intent.FEEDBACK_COMPLAINT,
        Intent.FEEDBACK_APPRECIATION,
        Intent.FEEDBACK_SUGGESTION,
        Intent.HANDOFF,
        Intent.FAQ_OFFICIAL_CHANNELS,
    }
)

_TOPIC_INTENTS: dict[str, tuple[Intent, str | None]] = {
    "requirements": (Intent.FAQ_REQUIREMENTS, None),
    "requirements.minor": (Intent.FAQ_REQUIREMENTS, "minor"),
    "requirements.renewal": (Intent.FAQ_REQUIREMENTS, "renewal"),
    "requirements.work_abroad": (Intent.FAQ_REQUIREMENTS, "work_abroad"),
    "requirements.umrah": (Intent.FAQ_REQUIREMENTS, "umrah"),
    "requirements.name_mismatch": (Intent.FAQ_REQUIREMENTS, "name_mismatch"),
    "fees": (Intent.FAQ_FEES, None),
    "payment": (Intent.FAQ_PAYMENT, None),
    "pickup": (Intent.FAQ_PICKUP, None),
    "registration": (Intent.FAQ_REGISTRATION, None),
    "hours_location": (Intent.FAQ_HOURS_LOCATION, None),
    "lost": (Intent.FAQ_LOST_DAMAGED, "lost"),
    "damaged": (Intent.FAQ_LOST_DAMAGED, "damaged"),
    "lost_damaged": (Intent.FAQ_LOST_DAMAGED, None),
    "official_channels": (Intent.FAQ_OFFICIAL_CHANNELS, None),
}
"""FAQ answer topics (keys in the offices' FAQ files) and the intent/subtopic they answer."""

classify_file = __file__
"""The model's input depends on `prepare`, the normaliser and the lexicon: all are in its key."""

_DIGIT = re.compile(r"\d")
_MENU_ROW_BY_ID: dict[str, Intent] = dict(MENU_ROWS)
_BARE_CHOICE = re.compile(
    r"^\s*(?:(?:pilih|menu|nomor|no|opsi|option)\.?\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE
)


def prepare(analysis: Analysis) -> str:
    """The classifier's input: the cleaned words as typed, then their canonical forms (the
    characters of both: typos and slang are seen raw and repaired), then marker words: the
    speech acts found (praise, complaint, suggestion, report, …: `speech_acts` in the
    lexicon) and whether any word of the domain occurs (out-of-domain messages have none)."""
    words = lexicon()
    padded = f" {analysis.text} "
    marks = [f"zact{name}z" for name, pattern in words.speech_acts if pattern.search(padded)]
    in_domain = any(
        token in words.domain_words or token in DOMAIN_VOCAB for token in analysis.tokens
    ) or any(root in words.domain_words for root in analysis.stems)
    marks.append("zdomz" if in_domain else "znodomz")
    seen = _seen(analysis)
    if not seen.isdisjoint(words.passport_words):
        marks.append("zpasz")
    if not seen.isdisjoint(words.other_domain_words):
        marks.append("zothz")
    return f"{' '.join(analysis.raw_tokens)} | {' '.join(analysis.tokens)} {' '.join(marks)}"


def _seen(analysis: Analysis) -> set[str]:
    """Every form of the message's words: as typed, canonical, stemmed."""
    return {*analysis.raw_tokens, *analysis.tokens, *analysis.stems}


def names_other_domain(analysis: Analysis) -> bool:
    """The message names something this line does not handle (`other_domain_words`: SIM,
    parcel, bank, weather, …)."""
    return not _seen(analysis).isdisjoint(lexicon().other_domain_words)


def language_request(raw_tokens: tuple[str, ...]) -> Lang | None:
    """The language a short message asks for ("english please", "can you speak english",
    "bahasa indonesia aja"), or None when the message is about something else."""
    words = lexicon()
    if not raw_tokens or len(raw_tokens) > 6:
        return None
    named = {words.language_names[t] for t in raw_tokens if t in words.language_names}
    if len(named) != 1:
        return None
    if not all(t in words.language_names or t in words.language_filler for t in raw_tokens):
        return None
    language = next(iter(named))
    return "en" if language == "en" else "id"


# --- offices named in the text -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OfficeName:
    code: str
    places: tuple[tuple[str, ...], ...]
    """Place names of the office as token sequences ("jakarta pusat", "jakpus")."""
    phrases: tuple[tuple[str, ...], ...]
    """Whole names that identify it alone ("kanim jakarta pusat", "sigap")."""


def _office_name(code: str, names: Iterable[str]) -> _OfficeName:
    generic = lexicon().generic_name_words
    places: set[tuple[str, ...]] = set()
    phrases: set[tuple[str, ...]] = set()
    for name in names:
        tokens = tuple(clean(name))
        if not tokens:
            continue
        place = tuple(token for token in tokens if token not in generic)
        if place and len(place) < len(tokens):
            places.add(place)
            phrases.add(tokens)
        elif place and len(tokens) >= 2:
            phrases.add(tokens)  # a multi-word brand, e.g. "sapa bogor"
    if code not in generic and code.isalpha():
        places.add((code,))
    return _OfficeName(code, tuple(sorted(places)), tuple(sorted(phrases)))


def _contains(tokens: Sequence[str], phrase: Sequence[str], start: int = 0) -> int:
    """Index of `phrase` in `tokens` from `start`, or -1."""
    size = len(phrase)
    for index in range(start, len(tokens) - size + 1):
        if tuple(tokens[index : index + size]) == tuple(phrase):
            return index
    return -1


# --- the matcher ---------------------------------------------------------------------------


def training_data(examples: Mapping[str, Sequence[str]] | None) -> list[tuple[str, Intent]]:
    """(message, intent) pairs: train.tsv and the offices' FAQ examples."""
    pairs = [(example.text, example.intent) for example in read_examples(TRAIN_FILE)]
    for topic, lines in sorted((examples or {}).items()):
        if topic not in _TOPIC_INTENTS:
            raise ValueError(f"unknown FAQ topic {topic!r} in examples")
        pairs.extend((line, _TOPIC_INTENTS[topic][0]) for line in lines)
    return pairs


def _prepared_rows(pairs: list[tuple[str, Intent]]) -> tuple[tuple[str, Intent], ...]:
    return tuple(sorted({(prepare(analyze(text)), intent) for text, intent in pairs}))


class IntentMatcher:
    """Understands citizens' messages (for any office; `office_code` names the one written to).

    Build it once and reuse it: construction loads (or trains) the classifier; `understand`
    is pure and thread-safe.
    """

    def __init__(
        self,
        *,
        examples: Mapping[str, Sequence[str]] | None = None,
        offices: Mapping[str, Sequence[str]] | None = None,
        threshold: float = ABSTAIN_THRESHOLD,
        margin: float = ASK_MARGIN,
        model: LinearModel | None = None,
        published: PublishedContent | None = None,
    ) -> None:
        """`examples`: extra ways to ask, per FAQ topic key ("fees", "requirements.minor",
        "lost", …), added to the training data. `offices`: office code → its names, to
        recognise "kanim bogor". `threshold`, `margin`: when to ask (`_ask`). `model`: an
        already trained classifier (tests). `published`: what staff publish (live), whose
        per-office examples are consulted for the office a message is written to."""
        self.threshold = threshold
        self.margin = margin
        self.published = published
        self._indexes: dict[str, tuple[int, office_examples.ExampleIndex]] = {}
        self._vectoriser: office_examples.Vectoriser | None = None
        if model is None:
            pairs = training_data(examples)
            key = data_hash(
                Path(normalize_module.__file__),
                Path(classify_file),
                Path(model_module.__file__),  # the features and hyperparameters
                LEXICON_FILE,
                extra=sorted(f"{text}\t{intent.value}" for text, intent in pairs),
            )
            model = load_or_train(key, lambda: _prepared_rows(pairs))
        self.model = model
        self._offices = tuple(
            _office_name(code, names) for code, names in sorted((offices or {}).items())
        )
        # Last word of each of an office's names (its place, mostly: "kanim *bogor*") → its
        # code: a message is only checked against the offices it could name.
        self._offices_by_word: dict[str, set[str]] = defaultdict(set)
        for office in self._offices:
            for name in (*office.phrases, *office.places):
                self._offices_by_word[name[-1]].add(office.code)

    @classmethod
    def from_registry(cls, registry: OfficeRegistry) -> dict[str, IntentMatcher]:
        """One matcher for every office (a dict by office code, all the same instance):
        trained with every office's FAQ `examples` and knowing every office's names."""
        offices = {
            office.code: [office.name, office.short_name, office.service_name]
            + ([office.service_long_name] if office.service_long_name else [])
            for office in registry
        }
        examples: dict[str, set[str]] = defaultdict(set)
        for office in registry:
            for topic in _TOPIC_INTENTS:
                answer = registry.faq_answer(office, topic)
                if answer is not None and answer.examples:
                    examples[topic].update(answer.examples)
        matcher = cls(
            examples={topic: sorted(lines) for topic, lines in examples.items()},
            offices=offices,
            published=registry.published,
        )
        return {office.code: matcher for office in registry}

    # --- understanding ------------------------------------------------------------------

    def understand(
        self,
        text: str,
        *,
        reply_id: str | None = None,
        office_code: str | None = None,
        today: dt.date | None = None,
    ) -> Understanding:
        """What `text` asks for. `reply_id`: the id of a chosen list row or button, if any.
        `office_code`: the office written to (an office naming itself is not "another")."""
        text = text or ""
        if reply_id:
            chosen = _MENU_ROW_BY_ID.get(reply_id) or _intent_or_none(reply_id)
            if chosen is not None:
                analysis = analyze(text)
                return Understanding(
                    intent=chosen,
                    confidence=1.0,
                    language=analysis.language,
                    normalized=analysis.text,
                )
        phone_numbers, rest = extract_phone_numbers(text)
        analysis = analyze(rest)
        language = analysis.language
        canonical = analysis.text
        choice = _BARE_CHOICE.match(text)
        if choice and not phone_numbers:
            position = int(choice.group(1))
            if 1 <= position <= len(MENU_ROWS):
                return Understanding(
                    intent=MENU_ROWS[position - 1][1],
                    confidence=1.0,
                    language=language,
                    normalized=canonical,
                )
        requested = language_request(analysis.raw_tokens)
        if requested is not None and not phone_numbers:
            return Understanding(
                intent=Intent.MENU,
                confidence=1.0,
                language=requested,
                normalized=canonical,
                language_requested=True,
            )
        numbers = _DIGIT.search(text) is not None  # most messages have none: skip the readers
        signals = {
            "phone_numbers": phone_numbers,
            "application_numbers": application_numbers(rest, today) if numbers else (),
            "dates": tuple(
                found.date
                for found in find_dates(text[:1000], today or dt.date.today(), past_only=False)
                if found.date is not None
            )
            if numbers
            else (),
            "amounts": amounts(rest) if numbers else (),
            "scam_signals": scam_signals(canonical),
            "cancel": is_cancel(canonical),
            "urgent": is_urgent(canonical),
        }
        if not analysis.tokens and not phone_numbers:
            # Greetings, emoji, nothing: the menu ("???" alone is a puzzled citizen).
            puzzled = "?" in text and not analysis.greeted
            return Understanding(
                intent=Intent.FALLBACK if puzzled else Intent.MENU,
                confidence=1.0,
                language=language,
                normalized=canonical,
                **signals,
            )
        index = self.example_index(office_code) if office_code else None
        match = index.nearest(analysis) if index is not None else None
        vocabulary = self.model.word_vocabulary
        if (
            match is None
            and not phone_numbers
            and not any(known_word(token) or token in vocabulary for token in analysis.raw_tokens)
        ):
            # Nothing but words neither the lexicon nor the training data know ("qwrty
            # zxcvb"): not understood, ask again.
            return Understanding(
                intent=Intent.FALLBACK,
                confidence=0.9,
                language=language,
                normalized=canonical,
                **signals,
            )
        ranked = self.model.ranked(prepare(analysis), TEMPERATURE)
        intent, confidence = ranked[0]
        decided = match is not None and office_examples.decides(
            match.similarity, _example_intent(match.topic)[0] is intent, confidence
        )
        if decided:
            assert match is not None
            intent, confidence = _example_intent(match.topic)[0], office_examples.EXAMPLE_CONFIDENCE
        intent, confidence = self._rules(intent, confidence, analysis, signals)
        if _ask(intent, confidence, ranked, self.threshold, self.margin):
            alternatives = tuple(
                (other, round(p, 4)) for other, p in ranked[:6] if other not in _NOT_TOPICS
            )[:2]
            intent = Intent.FALLBACK
        elif intent is Intent.OUT_OF_DOMAIN:
            # What else it could be: the likeliest topics, offered if the conversation
            # says the message is about the passport after all (`dialogue.resolve_followup`).
            alternatives = tuple(
                (other, round(p, 4)) for other, p in ranked[:6] if other not in _NOT_TOPICS
            )[:2]
        else:
            alternatives = tuple(
                (other, round(p, 4)) for other, p in ranked[:3] if other is not intent
            )[:2]
        found = details.read(analysis, intent)
        if decided and match is not None and intent is _example_intent(match.topic)[0]:
            # The example's topic is what staff chose: its subtopic, or the office's own topic.
            found["subtopic"] = _example_intent(match.topic)[1] or found.get("subtopic")
            found["example_similarity"] = match.similarity
            if intent is Intent.FAQ_OFFICE_TOPIC:
                found["office_topic"] = match.topic
        # Validated: pydantic-core checks the fields in ≈3 µs, faster than `model_construct`
        # (≈6 µs: its defaults are filled in Python, field by field).
        return Understanding(
            intent=intent,
            confidence=round(confidence, 4),
            alternatives=alternatives,
            language=language,
            other_office=self._other_office(analysis.raw_tokens, office_code),
            other_domain=intent is Intent.OUT_OF_DOMAIN and names_other_domain(analysis),
            normalized=canonical,
            **found,
            **signals,
        )

    def example_index(self, office_code: str) -> office_examples.ExampleIndex | None:
        """The office's published examples as a nearest-neighbour index (None: it has none).
        Rebuilt only when the office's examples change (`PublishedContent.generation`)."""
        published = self.published
        if published is None:
            return None
        generation = published.generation(office_code)
        if not generation:
            return None
        if self._vectoriser is None:
            self._vectoriser = office_examples.Vectoriser(self.model)
        elif self._vectoriser.forget_unseen():
            self._indexes.clear()
        cached = self._indexes.get(office_code)
        if cached is not None and cached[0] == generation:
            return cached[1] if len(cached[1]) else None
        pairs = [
            (text, topic)
            for text, topic in published.examples_of(office_code)
            if topic in _TOPIC_INTENTS or topic.startswith(OWN_TOPIC_PREFIX)
        ]
        index = office_examples.ExampleIndex(pairs, self._vectoriser)
        self._indexes[office_code] = (generation, index)
        return index if len(index) else None

    @staticmethod
    def _rules(
        intent: Intent, confidence: float, analysis: Analysis, signals: dict[str, object]
    ) -> tuple[Intent, float]:
        """Numbers decide what the classifier left to chance: a phone number to check is an
        official-channels question, an application number alone asks for its status."""
        if signals["phone_numbers"] and not mentions_own_number(analysis.text):
            if intent not in _NUMBER_CHECK_KEEPS or intent is Intent.FAQ_OFFICIAL_CHANNELS:
                # The number is what the message is about: checked, not asked about.
                return Intent.FAQ_OFFICIAL_CHANNELS, max(confidence, 0.9)
        if signals["scam_signals"] and intent in _NOT_TOPICS:
            # A calo, a "jalur belakang", a personal account we cannot otherwise place: the
            # official channels (with the warning) is the answer that protects the citizen.
            return Intent.FAQ_OFFICIAL_CHANNELS, max(confidence, 0.6)
        if signals["application_numbers"] and not signals["phone_numbers"]:
            if intent in _NOT_TOPICS or confidence < 0.6:
                return Intent.STATUS, max(confidence, 0.9)
        return intent, confidence

    def explain(self, text: str) -> list[tuple[Intent, float]]:
        """The classifier's probability of every intent for `text`, best first (for ops)."""
        _, rest = extract_phone_numbers(text)
        return self.model.ranked(prepare(analyze(rest)), TEMPERATURE)

    def _other_office(self, raw_tokens: Sequence[str], office_code: str | None) -> str | None:
        """The office the message names ("kanim bogor", "imigrasi batam"), if not this one."""
        office_words = lexicon().office_words
        named = set().union(*(self._offices_by_word.get(token, ()) for token in raw_tokens))
        named.discard(office_code or "")
        if not named:  # most messages: no need to walk every office (151 of them)
            return None
        for office in self._offices:
            if office.code not in named:
                continue
            if any(_contains(raw_tokens, phrase) >= 0 for phrase in office.phrases):
                return office.code
            for place in office.places:
                index = _contains(raw_tokens, place)
                while index >= 0:
                    before = raw_tokens[max(0, index - 3) : index]
                    if any(word in office_words for word in before):
                        return office.code
                    index = _contains(raw_tokens, place, index + 1)
        return None


def _example_intent(topic: str) -> tuple[Intent, str | None]:
    """The intent and subtopic an example's topic stands for."""
    if topic.startswith(OWN_TOPIC_PREFIX):
        return Intent.FAQ_OFFICE_TOPIC, None
    return _TOPIC_INTENTS[topic]


def _intent_or_none(value: str) -> Intent | None:
    try:
        return Intent(value)
    except ValueError:
        return None


def _ask(
    intent: Intent,
    confidence: float,
    ranked: list[tuple[Intent, float]],
    threshold: float = ABSTAIN_THRESHOLD,
    margin: float = ASK_MARGIN,
) -> bool:
    """Whether to ask rather than answer `intent` (see `ABSTAIN_THRESHOLD`, `ASK_MARGIN`):
    not likely enough, or an answerable topic with another answerable topic close behind.
    `confidence` may exceed the classifier's (a rule decided); then only the floor applies."""
    if confidence < threshold:
        return True
    if len(ranked) < 2 or ranked[0][0] is not intent:
        return False
    second, p = ranked[1]
    return (
        intent.service in _CLARIFIABLE
        and second.service in _CLARIFIABLE
        and intent not in _NOT_TOPICS
        and second not in _NOT_TOPICS
        and confidence - p < margin
    )


_CLARIFIABLE = frozenset({Service.FAQ, Service.STATUS})
