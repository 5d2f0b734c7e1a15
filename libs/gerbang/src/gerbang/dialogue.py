"""The conversation around a message, as pure functions (no Kafka, no Redis).

Citizens write in conversations: "berapa biaya paspor?" then "kalo yg 10 taun?"; "mau
komplain" then the complaint typed instead of tapped; a complaint then "kejadiannya td jam 10
di loket 2". The router (and `gerbang ask`, offline) keeps a little context per conversation
and reads each new message's `Understanding` against it:

- **the last topic** (an FAQ intent and its details, for `context_s`): an elliptical
  follow-up (`understanding.followup`, or a low-confidence message that carries details and
  no topic of its own) is answered as that topic, details merged ("kalo yg 10 taun?" after
  the fees → fees, 10 years);
- **the ticket just recorded** (number, kind, time, for `ticket_s`): a message that adds
  detail to it (no question, no thanks, no new topic) is appended to it;
- **what a prompt expects** (the service's directive, stored by the sender): a typed answer
  that fits goes to the prompt; a message that clearly asks something else leaves it, and a
  second message that does not fit never stays trapped (`fits_expectation`);
- **the clarify question** ("Maksud Anda: Biaya paspor / Cara bayar?"): "yg pertama", "2"
  or the topic typed picks an option (`clarify_choice`).

Nothing here re-reads what a message means: intent, confidence, details and signals come
from `gerbang.understanding`. The only reading of the text itself is the conversational one
(does it ask something, is it only thanks, which option does it point at), with its words
in `dialogue_words.yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from gerbang.faq.answers import CLARIFY_MIN
from gerbang.messages import Intent, Service, Understanding
from gerbang.offices import Lang
from gerbang.words import data as words_data
from gerbang.words import is_no, is_yes
from gerbang.words import tokens as words_of

SHORT_FOLLOWUP_WORDS = 4
"""A question of a new topic this short ("biayanya?", "trus bayarnya gmn") keeps the last
topic's details that apply to it; a longer one says what it means by itself."""
DETAIL_FIELDS: tuple[str, ...] = ("subtopic", "passport_kind", "validity_years", "age_group")
"""The fields of `Understanding` that narrow a topic; a follow-up carries them over."""

CLARIFY_KEY = "clarify"
"""Expectation context key of the clarify question: the offered intents, in order."""
OFFER_KEY = "offer"
"""Expectation context key of the feedback kinds offered as buttons (value: the hinted kind)."""
STATUS_OPTIN_KEY = "optin"
"""Expectation context key of the status service's invitation to be notified."""
APPEND_KEY = "append_to"
"""Request context key: this message adds detail to that ticket."""

_TOPICLESS = frozenset(
    {Intent.MENU, Intent.FALLBACK, Intent.OUT_OF_DOMAIN, Intent.HANDOFF, Intent.FAQ_OFFICE_TOPIC}
)
"""No follow-up is read against these (an office's own topic has no variants)."""


@dataclass(frozen=True)
class DialogueSettings:
    """How long context lives (the router's settings fill it; defaults for offline use)."""

    context_s: float = 900.0
    """The last topic and its details are used for follow-ups this long."""
    ticket_s: float = 300.0
    """A message adding detail within this long after a ticket is appended to it."""
    followup_confidence: float = 0.6
    """Below this, a message with details and no confident topic of its own is a follow-up."""
    switch_confidence: float = 0.8
    """How sure the understanding must be before a message leaves a waiting prompt that it
    does not obviously answer."""


@dataclass(frozen=True)
class LastTopic:
    """The conversation's last answered topic and its details."""

    intent: Intent
    details: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """For the session store."""
        return {"intent": self.intent.value, "details": self.details, "at": self.at}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> LastTopic | None:
        """From the session store (None if absent or unreadable)."""
        if not raw:
            return None
        try:
            return cls(Intent(raw["intent"]), dict(raw.get("details") or {}), float(raw["at"]))
        except (KeyError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class OpenTicket:
    """The ticket just recorded in this conversation."""

    ticket: str
    kind: str
    at: float

    def to_json(self) -> dict[str, Any]:
        """For the session store."""
        return {"ticket": self.ticket, "kind": self.kind, "at": self.at}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> OpenTicket | None:
        """From the session store (None if absent or unreadable)."""
        if not raw:
            return None
        try:
            return cls(str(raw["ticket"]), str(raw["kind"]), float(raw["at"]))
        except (KeyError, ValueError, TypeError):
            return None


# --- words ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    question_words: frozenset[str]
    question_phrases: tuple[tuple[str, ...], ...]
    thanks: frozenset[str]
    filler: frozenset[str]
    acknowledgements: frozenset[str]
    ordinals: tuple[frozenset[str], ...]
    preamble: frozenset[str]
    number: frozenset[str]
    number_of: frozenset[str]
    not_knowing: frozenset[str]


@cache
def _words() -> _Words:
    raw = words_data()
    return _Words(
        question_words=frozenset(raw["question_words"]),
        question_phrases=tuple(tuple(p.split()) for p in raw["question_phrases"]),
        thanks=frozenset(raw["thanks"]),
        filler=frozenset(raw["filler"]),
        acknowledgements=frozenset(raw["acknowledgements"]),
        ordinals=tuple(frozenset(str(w) for w in words) for words in raw["ordinals"]),
        preamble=frozenset(raw["preamble"]),
        number=frozenset(raw["application_number"]["number"]),
        number_of=frozenset(raw["application_number"]["of"]),
        not_knowing=frozenset(raw["application_number"]["unknown"])
        | frozenset(raw["application_number"]["negation"]),
    )


def _tokens(text: str, understanding: Understanding | None) -> list[str]:
    """The words of the normalised text (slang expanded), or of the text if there is none."""
    source = understanding.normalized if understanding and understanding.normalized else text
    return words_of(source)


def asks_question(text: str, understanding: Understanding | None) -> bool:
    """Whether the message asks something ("berapa…", "bisa ga…", "…?"), as opposed to a
    statement that adds detail or answers a prompt."""
    if "?" in text:
        return True
    tokens = _tokens(text, understanding)
    words = _words()
    if any(token in words.question_words for token in tokens):
        return True
    return any(
        tokens[i : i + len(phrase)] == list(phrase)
        for phrase in words.question_phrases
        for i in range(len(tokens) - len(phrase) + 1)
    )


def _said_only(
    text: str, understanding: Understanding | None, allowed: frozenset[str]
) -> set[str] | None:
    """The words said, on the text as written and on the normalised text (which may have
    dropped or expanded some), if one of those readings is made only of `allowed`; else None."""
    readings = [words_of(text), _tokens(text, understanding)]
    if not any(tokens and all(t in allowed for t in tokens) for tokens in readings):
        return None
    return {t for tokens in readings for t in tokens}


def _closing_words(text: str, understanding: Understanding | None) -> set[str] | None:
    """The words said, if they are only thanks, acknowledgements and filler (else None)."""
    words = _words()
    return _said_only(text, understanding, words.thanks | words.acknowledgements | words.filler)


def closing(text: str, understanding: Understanding | None, *, after_answer: bool) -> str | None:
    """A message that only closes the exchange, worth a line rather than the menu again:
    "thanks" ("makasih ya kak", "noted, thanks"), or, after an answer, "ack" ("oke siap",
    "sip"); else None."""
    words = _words()
    said = _closing_words(text, understanding)
    if not said:
        return None
    if said & words.thanks:
        return "thanks"
    return "ack" if after_answer and said & words.acknowledgements else None


def only_preamble(text: str, understanding: Understanding | None) -> bool:
    """ "kak mau tanya dong", "boleh nanya soal paspor?": about to ask, nothing asked yet."""
    words = _words()
    said = _said_only(text, understanding, words.preamble | words.filler | words.thanks)
    return bool(said and said & (words.preamble - words.filler))


def asks_for_the_number(
    text: str, understanding: Understanding | None, *, expecting_status: bool
) -> bool:
    """A question about the application number itself, not the number: "gatau nomornya
    dimana", "lupa no permohonannya", "where do I find the application number". It names
    the number (with "permohonan"/"application", or bare while the status prompt waits) and
    does not know it, has not got it, or asks; it carries no number."""
    if _has_digits(text):
        return False
    words = _words()
    tokens = set(words_of(text)) | set(_tokens(text, understanding))
    if not tokens & words.number or not (expecting_status or tokens & words.number_of):
        return False
    return bool(tokens & words.not_knowing) or asks_question(text, understanding)


def details_of(understanding: Understanding) -> dict[str, Any]:
    """The details a message names (only those set)."""
    return {
        name: getattr(understanding, name)
        for name in DETAIL_FIELDS
        if getattr(understanding, name) is not None
    }


def _merged(base: dict[str, Any], new: dict[str, Any], intent: Intent) -> dict[str, Any]:
    """Details of a follow-up: the new ones win; a subtopic stays with its own topic."""
    merged = {**base, **new}
    # "kalau buat anak?" is read as the child subtopic of requirements; against another
    # topic (fees) it is the age group.
    if merged.get("subtopic") == "minor" and intent is not Intent.FAQ_REQUIREMENTS:
        merged.pop("subtopic")
        merged["age_group"] = "minor"
    if merged.get("age_group") == "minor" and intent is Intent.FAQ_REQUIREMENTS:
        if new.get("age_group") == "minor":  # "anak saya juga ikut" after umrah: the child's
            merged["subtopic"] = "minor"
        else:
            merged.setdefault("subtopic", "minor")
    if intent is not Intent.FAQ_REQUIREMENTS and merged.get("subtopic") in _REQUIREMENT_SUBS:
        merged.pop("subtopic")
    if intent not in (Intent.FAQ_LOST_DAMAGED, Intent.FAQ_FEES) and merged.get("subtopic") in (
        "lost",
        "damaged",
    ):
        merged.pop("subtopic")
    if merged.get("subtopic") in _SITUATIONS and new.get("subtopic") not in _SITUATIONS:
        merged.pop("subtopic")  # what happened to that message, not a variant to keep
    return merged


_REQUIREMENT_SUBS = frozenset({"minor", "renewal", "work_abroad", "umrah", "name_mismatch"})
_BRINGS_DOCUMENTS = frozenset({Intent.FAQ_PICKUP, Intent.FAQ_LOST_DAMAGED})
"""Topics whose answer lists the documents to bring (collecting, replacing a lost passport)."""
OUT_OF_DOMAIN_TOPIC_MIN = CLARIFY_MIN
"""A topic this likely under an out-of-domain reading that names nothing else is taken, in a
passport conversation: as likely as a topic the clarify question offers."""
SHORT_QUESTION_WORDS = 8
"""A question this short that asks only for documents rides on the topic before it."""
_SITUATIONS = frozenset({"unconfirmed"})
"""Subtopics that tell what happened ("paid, but the status has not changed"), said of one
message: a later question of the same topic ("cara bayarnya gimana") does not inherit them."""


def live_topic(topic: LastTopic | None, now: float, settings: DialogueSettings) -> LastTopic | None:
    """The last topic if it is still fresh."""
    if topic is None or now - topic.at > settings.context_s:
        return None
    return topic


def live_ticket(
    ticket: OpenTicket | None, now: float, settings: DialogueSettings
) -> OpenTicket | None:
    """The ticket just recorded, if still within the window for details."""
    if ticket is None or now - ticket.at > settings.ticket_s:
        return None
    return ticket


def resolve_followup(
    understanding: Understanding, topic: LastTopic | None, settings: DialogueSettings
) -> Understanding:
    """The message read against the last topic.

    - `followup` (elliptical: details, no topic), or a low-confidence reading that carries
      details → the last topic, details merged ("kalo yg 10 taun?" after the fees);
    - the same topic again → the details it does not name are carried over;
    - a short question of another topic that names no details of its own ("biayanya?"
      after the lost passport, "trus bayarnya?") → that topic, with the details of the
      last one that apply to it (the lost passport's fee first);
    - a short question for documents with no details ("what does he need to bring",
      "syaratnya apa aja") after collecting or a lost passport → that topic's documents;
    - read as out of the domain but naming nothing else (`other_domain` unset) → its
      likeliest topic when that has ≥ `OUT_OF_DOMAIN_TOPIC_MIN` (then read as above: "dendanya
      brp" after a damaged passport is the damaged passport's fee), else not understood
      (`fallback`) — never "this line only handles passports" in a passport conversation;
    - anything else (a new topic with its own details) is left as it is.
    """
    if topic is None or topic.intent in _TOPICLESS:
        return understanding
    details = details_of(understanding)
    elliptical = understanding.followup or (
        bool(details)
        and understanding.confidence < settings.followup_confidence
        and understanding.intent not in (Intent.MENU, Intent.HANDOFF)
        and understanding.intent.service is not Service.FEEDBACK
        and not understanding.cancel
    )
    if elliptical:
        merged = _merged(topic.details, details, topic.intent)
        return _with(understanding, topic.intent, merged, confidence=understanding.confidence)
    if (
        understanding.intent is Intent.FAQ_REQUIREMENTS
        and topic.intent in _BRINGS_DOCUMENTS
        and not details
        and 0 < len(_tokens("", understanding)) <= SHORT_QUESTION_WORDS
    ):
        # "what does he need to bring", "syaratnya apa aja" after collecting or a lost
        # passport: the documents of that topic, not those of a first passport.
        return _with(understanding, topic.intent, dict(topic.details))
    if understanding.intent is Intent.OUT_OF_DOMAIN and not understanding.other_domain:
        # In a passport conversation, a message that names nothing else ("dendanya brp" after
        # a damaged passport, "kemaren ilang di bandara") is about the passport, not out of
        # the domain: its likeliest topic if that is likely enough (read below against the
        # last topic, like any short question), else not understood (the menu).
        best = next(
            (
                (intent, p)
                for intent, p in understanding.alternatives
                if intent.value.startswith("faq:") and p >= OUT_OF_DOMAIN_TOPIC_MIN
            ),
            None,
        )
        if best is None:
            return understanding.model_copy(update={"intent": Intent.FALLBACK})
        understanding = _with(understanding, best[0], details, confidence=best[1])
    if understanding.intent is topic.intent:
        carried = {k: v for k, v in topic.details.items() if k != "subtopic" or not details}
        return _with(understanding, topic.intent, _merged(carried, details, topic.intent))
    if (
        not details
        and topic.details
        and understanding.intent.value.startswith("faq:")
        and understanding.intent not in _TOPICLESS
        and 0 < len(_tokens("", understanding)) <= SHORT_FOLLOWUP_WORDS
    ):
        carried = _merged(topic.details, {}, understanding.intent)
        if carried:
            return _with(understanding, understanding.intent, carried)
    return understanding


def _with(
    understanding: Understanding,
    intent: Intent,
    details: dict[str, Any],
    *,
    confidence: float | None = None,
) -> Understanding:
    update: dict[str, Any] = {name: details.get(name) for name in DETAIL_FIELDS}
    update["intent"] = intent
    if confidence is not None:
        update["confidence"] = max(confidence, 0.0)
    return understanding.model_copy(update=update)


def topic_after(
    route_intent: Intent, understanding: Understanding | None, now: float
) -> LastTopic | None:
    """The topic to remember after answering `route_intent` (None: keep the previous one)."""
    if not route_intent.value.startswith("faq:") or understanding is None:
        return None
    return LastTopic(route_intent, details_of(understanding), now)


# --- tickets ----------------------------------------------------------------------------


def adds_to_ticket(
    text: str, understanding: Understanding | None, ticket: OpenTicket | None
) -> bool:
    """Whether a message right after a ticket adds detail to it: not a question, not a
    thank-you or an acknowledgement ("oke siap"), not a cancel or a request for the menu or
    a person, not another feedback of a different kind said with confidence, not a scam
    report or a status query."""
    if ticket is None or understanding is None or not text.strip():
        return False
    if understanding.cancel or understanding.intent in (
        Intent.HANDOFF,
        Intent.STATUS,
        Intent.FEEDBACK_SCAM_REPORT,
    ):
        return False
    # A greeting or "menu" said clearly leaves; a statement the classifier can only guess
    # at ("it happened around 10am this morning": menu at 0.27) is detail.
    if understanding.intent is Intent.MENU and understanding.confidence >= 0.5:
        return False
    if asks_question(text, understanding) or closing(text, understanding, after_answer=True):
        return False
    if (
        understanding.intent.service is Service.FEEDBACK
        and understanding.intent.topic != ticket.kind
        and understanding.confidence >= 0.8
    ):
        return False
    return True


# --- prompts ----------------------------------------------------------------------------


def clarify_options(context: dict[str, Any] | None) -> list[Intent]:
    """The intents a clarify question offered (from its expectation context)."""
    options: list[Intent] = []
    for value in (context or {}).get(CLARIFY_KEY) or ():
        try:
            options.append(Intent(value))
        except ValueError:
            continue
    return options


def clarify_choice(
    text: str, understanding: Understanding | None, options: list[Intent]
) -> Intent | None:
    """Which offered option a typed answer picks: an ordinal ("yg pertama", "2", "the
    second one"), or one of the options understood as the message's own intent."""
    if not options:
        return None
    tokens = _tokens(text, understanding)
    words = _words()
    content = [t for t in tokens if t not in words.filler]
    if content and len(content) <= 3:
        for position, ordinal in enumerate(words.ordinals):
            if position < len(options) and any(t in ordinal for t in content):
                return options[position]
    if understanding is not None and understanding.intent in options:
        return understanding.intent
    for alternative, _ in understanding.alternatives if understanding else ():
        if (
            alternative in options
            and understanding is not None
            and (understanding.intent in (Intent.FALLBACK, Intent.OUT_OF_DOMAIN))
        ):
            return alternative
    return None


def fits_expectation(
    expecting: Service,
    context: dict[str, Any] | None,
    text: str,
    understanding: Understanding | None,
    settings: DialogueSettings,
) -> bool:
    """Whether a typed message answers the prompt that waits for it.

    It leaves the prompt when it asks for the menu or a person, or clearly asks something
    else: another topic's question, or another topic said with confidence. A status prompt
    keeps what looks like its answer (numbers, dates, cancel), lets a question go ("kalo
    diwakilin keluarga bisa ga", however unsure its topic), and lets a second message that
    is not an answer go (its context counts the asks already made).
    """
    if understanding is None:
        return True  # media, taps: the service answers them ("text only", …)
    if expecting is Service.ROUTER:
        # The handoff offer: its answers ("ya", "tidak", the button) are taken by the
        # handoff step before routing; anything else is a message of its own.
        return False
    intent = understanding.intent
    if expecting is Service.STATUS and (context or {}).get(STATUS_OPTIN_KEY):
        # The invitation to be notified after a found status: "ya" / "gak usah" answer it,
        # a number starts another lookup; anything else ("makasih") is not trapped.
        return is_yes(text) or is_no(text) or _has_digits(text)
    if intent in (Intent.MENU, Intent.HANDOFF) and not understanding.cancel:
        return False
    if understanding.cancel:
        return True
    same = intent.service is expecting
    other_topic = not same and intent not in (Intent.FALLBACK,)
    if expecting is Service.STATUS:
        if understanding.application_numbers or understanding.dates or _has_digits(text):
            return True
        if same or asks_for_the_number(text, understanding, expecting_status=True):
            return True  # "gatau nomornya dimana": the status service says where to look
        if other_topic:
            return False
        if asks_question(text, understanding):
            return False  # a question is never an application number: it leaves the prompt
        asks = int((context or {}).get("asks") or 0)
        return asks <= 1  # the prompt counts itself: a second non-answer is not trapped
    if expecting is Service.FEEDBACK:
        if same or intent is Intent.FALLBACK:
            return True
        # A complaint is a statement; a question about another topic leaves the prompt.
        if asks_question(text, understanding):
            return False
        return understanding.confidence < 0.95 or intent is Intent.OUT_OF_DOMAIN
    return not (other_topic and understanding.confidence >= settings.switch_confidence)


_DIGITS = re.compile(r"\d{4,}")


def _has_digits(text: str) -> bool:
    return bool(_DIGITS.search(text))


def conversation_language(
    understanding: Understanding | None, remembered: Lang | None, text: str = ""
) -> Lang:
    """The citizen's language: what they asked for or write now if it is clear, else what
    we knew. Thanks and acknowledgements ("thx a lot", "ok makasih") say nothing of it."""
    if understanding is not None and understanding.language_requested:
        return understanding.language
    if remembered and text and _closing_words(text, understanding):
        return remembered
    if understanding is not None and len(understanding.normalized.split()) >= 2:
        return understanding.language
    return remembered or (understanding.language if understanding else "id")


# --- scenarios: multi-turn conversations as data ------------------------------------------

SCENARIO_CLASSES: tuple[str, ...] = (
    "typed_answer",
    "followup",
    "expectation_yields",
    "ticket_detail",
    "out_of_domain",
    "scam_report",
)
"""The six failure classes of issue 9, each scenario tagged with one."""


@dataclass(frozen=True)
class Observed:
    """What one turn got, as a scenario checks it (offline or through the pipeline)."""

    intent: str | None
    records: tuple[str, ...] = ()
    appends: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    reply: str = ""


def load_scenarios(path: str) -> list[dict[str, Any]]:
    """The scenarios of a YAML file (`scenarios:` list of {name, class, lang, office, turns})."""
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    scenarios = raw["scenarios"] if isinstance(raw, dict) else raw
    for scenario in scenarios:
        scenario.setdefault("class", "unclassified")  # the held-out file names none
        if scenario["class"] not in (*SCENARIO_CLASSES, "unclassified"):
            raise ValueError(f"scenario {scenario.get('name')!r}: unknown class")
        for turn in scenario["turns"]:
            if ("say" in turn) == ("tap" in turn):
                raise ValueError(f"scenario {scenario['name']!r}: a turn says or taps")
    return list(scenarios)


def check_turn(expect: dict[str, Any] | None, observed: Observed) -> list[str]:
    """What differs between a turn's `expect` and what it got ([] when it passed).

    `intent`: the intent answered; where more than one answer is right, `intent_in` (one of
    these) or `not_intent` (anything but this, e.g. out of the domain); `records`: the
    ticket kind recorded by this turn (none
    when absent); `appends: true`: added to the previous ticket (not, when absent);
    `details`: a subset of the details answered; `reply_contains`: lowercase substrings.
    """
    expect = expect or {}
    problems: list[str] = []
    if "intent" in expect and observed.intent != expect["intent"]:
        problems.append(f"intent {observed.intent} != {expect['intent']}")
    if "not_intent" in expect and observed.intent == expect["not_intent"]:
        problems.append(f"intent {observed.intent} (must not be)")
    if "intent_in" in expect and observed.intent not in expect["intent_in"]:
        problems.append(f"intent {observed.intent} not in {expect['intent_in']}")
    wanted = expect.get("records")
    wanted_records = () if wanted is None else (wanted,) if isinstance(wanted, str) else wanted
    if tuple(observed.records) != tuple(wanted_records):
        problems.append(f"records {list(observed.records)} != {list(wanted_records)}")
    if bool(expect.get("appends", False)) != observed.appends:
        problems.append(f"appends {observed.appends} != {bool(expect.get('appends', False))}")
    for name, value in (expect.get("details") or {}).items():
        if observed.details.get(name) != value:
            problems.append(f"details.{name} {observed.details.get(name)!r} != {value!r}")
    reply = observed.reply.lower()
    for piece in expect.get("reply_contains") or ():
        if piece.lower() not in reply:
            problems.append(f"reply lacks {piece!r}")
    return problems


def play_scenario(line: Any, scenario: dict[str, Any]) -> list[str]:
    """Play one scenario on an `OfflineLine`, turn by turn: what differed ([] = passed)."""
    from gerbang.offline import reply_text

    problems: list[str] = []
    for number, turn in enumerate(scenario["turns"], 1):
        if "tap" in turn:
            result = line.send(turn.get("title"), reply_id=turn["tap"])
        else:
            result = line.send(turn["say"])
        understanding = result.understanding
        observed = Observed(
            intent=result.intent.value,
            records=tuple(record.kind.value for record in result.records),
            appends=bool(result.addenda),
            details=details_of(understanding) if understanding is not None else {},
            reply="\n".join(reply_text(reply.content) for reply in result.replies),
        )
        problems += [f"turn {number}: {p}" for p in check_turn(turn.get("expect"), observed)]
    return problems


def evaluate(path: str, *, offices_dir: str | None = None) -> dict[str, Any]:
    """Run a scenarios file OFFLINE through the router's rules and the services' steps
    (`gerbang.offline.OfflineLine`): {"scenarios": n, "passed": k, "failures": [...]}."""
    from gerbang.offices import default_offices_dir, load_registry
    from gerbang.offline import OfflineLine
    from gerbang.understanding.classify import IntentMatcher

    registry = load_registry(offices_dir or default_offices_dir())
    matchers = IntentMatcher.from_registry(registry)
    scenarios = load_scenarios(path)
    failures: list[dict[str, Any]] = []
    by_class: dict[str, list[int]] = {}
    for scenario in scenarios:
        office = scenario.get("office", "jakpus")
        problems = play_scenario(OfflineLine(registry, office, matcher=matchers[office]), scenario)
        tally = by_class.setdefault(scenario["class"], [0, 0])
        tally[1] += 1
        if problems:
            failures.append({"name": scenario["name"], "class": scenario["class"],
                             "problems": problems})  # fmt: skip
        else:
            tally[0] += 1
    return {
        "scenarios": len(scenarios),
        "passed": len(scenarios) - len(failures),
        "by_class": {name: {"passed": p, "total": t} for name, (p, t) in by_class.items()},
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m gerbang.dialogue SCENARIOS.yaml`: the offline pass count as one JSON line."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gerbang.dialogue SCENARIOS.yaml", file=sys.stderr)
        return 2
    report = evaluate(args[0])
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["passed"] == report["scenarios"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
