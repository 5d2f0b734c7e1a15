"""What is refused before a version is saved or published, each problem naming its field.

Answers (FAQ topics) and catalogue texts (`offices/_national/texts.yaml`, "Teks" in `/ops`)
are edited the same way: a text's topic is its catalogue id. A candidate is tried on a copy
of what is live (`OfficeRegistry.published`), rendered for every office it reaches exactly as
the workers would render it, and checked against WhatsApp's limits; nothing is applied unless
the list of problems is empty.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable

from gerbang.faq.answers import menu_reply
from gerbang.faq.content import (
    FAQ_TOPICS,
    PLACEHOLDERS,
    TEXT_LIMIT,
    TOPICS,
    FaqContentError,
    allowed_placeholders,
    placeholders_in,
    render,
    sample_extra,
)
from gerbang.messages import ButtonsContent, ListContent, ReplyContent, TextContent
from gerbang.offices import (
    LANGS,
    NATIONAL_SCOPE,
    OWN_TOPIC_PREFIX,
    FaqAnswer,
    Notice,
    Office,
    OfficeRegistry,
    OwnTopic,
)
from gerbang.publishing.versions import (
    ANNOUNCEMENT,
    NATIONAL_FACTS,
    Edit,
    examples_target,
    is_own_topic,
)
from gerbang.texts import is_text, limit_problem, text_placeholders
from gerbang.understanding.normalize import analyze

# WhatsApp Cloud API limits (reference: whatsapp-cloud-api.md, "Limits").
BUTTONS_LIMIT = 3
BUTTON_TITLE_LIMIT = 20
BUTTONS_BODY_LIMIT = 1024
LIST_ROWS_LIMIT = 10
ROW_TITLE_LIMIT = 24
LIST_BUTTON_LIMIT = 20
NOTICE_LIMIT = 1000
"""An announcement stands above every answer: kept short so that the answer still fits."""
EXAMPLE_LIMIT = 300
"""An example question (a citizen's message, masked): longer ones are not one question."""
EXAMPLES_PER_TOPIC = 50
"""Examples an office attaches to one topic (the record keeps 30 versions under 1 MiB)."""
OWN_TOPIC_EXAMPLES = (1, 10)
"""An office's own topic comes with a few example questions: at least one, at most ten."""
OWN_TITLE_LIMIT = ROW_TITLE_LIMIT
"""An own topic's title fits a WhatsApp list row (24), where topics are offered."""
_OWN_NAME = re.compile(r"^own\.[a-z][a-z0-9_]{1,29}$")


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a candidate is refused: the field (`text.en`, `source`, …) and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def reply_problems(content: ReplyContent, where: str = "") -> list[Problem]:
    """WhatsApp's limits on one reply (text body, reply buttons, interactive list)."""
    at = f" ({where})" if where else ""
    problems: list[Problem] = []
    if isinstance(content, TextContent) and len(content.body) > TEXT_LIMIT:
        problems.append(
            Problem("body", f"{len(content.body):,} characters{at}; WhatsApp allows 4,096")
        )
    if isinstance(content, ButtonsContent):
        if len(content.buttons) > BUTTONS_LIMIT:
            problems.append(Problem("buttons", f"{len(content.buttons)} buttons{at}; at most 3"))
        if len(content.body) > BUTTONS_BODY_LIMIT:
            problems.append(Problem("body", f"{len(content.body):,} characters{at}; at most 1,024"))
        for i, button in enumerate(content.buttons):
            if len(button.title) > BUTTON_TITLE_LIMIT:
                problems.append(
                    Problem(f"buttons[{i}].title", f"{button.title!r}{at}: at most 20 characters")
                )
    if isinstance(content, ListContent):
        rows = [row for section in content.sections for row in section.rows]
        if len(rows) > LIST_ROWS_LIMIT:
            problems.append(Problem("rows", f"{len(rows)} rows{at}; at most 10"))
        if len(content.body) > TEXT_LIMIT:
            problems.append(Problem("body", f"{len(content.body):,} characters{at}; at most 4,096"))
        if len(content.button) > LIST_BUTTON_LIMIT:
            problems.append(Problem("button", f"{content.button!r}{at}: at most 20 characters"))
        for i, row in enumerate(rows):
            if len(row.title) > ROW_TITLE_LIMIT:
                problems.append(
                    Problem(f"rows[{i}].title", f"{row.title!r}{at}: at most 24 characters")
                )
    return problems


def with_candidate(registry: OfficeRegistry, scope: str, topic: str, edit: Edit) -> OfficeRegistry:
    """The registry as it would be with `edit` live (what is live is not touched)."""
    published = registry.published.copy()
    target = examples_target(topic)
    if target is not None:
        published.set_examples(scope, target, edit.examples if edit.text is None else ())
        return dataclasses.replace(registry, published=published)
    if is_own_topic(topic):
        own = OwnTopic(edit.title, edit.examples) if edit.text and edit.title else None
        published.set_own_topic(scope, topic, own)
    if topic == ANNOUNCEMENT:
        notice = None
        if edit.text is not None and edit.valid_from and edit.valid_until:
            notice = Notice(edit.text, edit.valid_from, edit.valid_until)
        published.set_notice(scope, notice)
    else:
        published.set_answer(scope, topic, candidate_answer(registry, scope, topic, edit))
    return dataclasses.replace(registry, published=published)


def candidate_answer(
    registry: OfficeRegistry,
    scope: str,
    topic: str,
    edit: Edit,
    published_on: dt.date | None = None,
) -> FaqAnswer | None:
    """The answer an edit makes (None: back to the YAML baseline). Source and date fall back
    to the baseline's, then to "published in /ops" on the day."""
    if edit.text is None:
        return None
    baseline = registry.baseline_answer(scope, topic) or registry.national.faq.get(topic)
    return FaqAnswer(
        text=edit.text,
        source=edit.source or (baseline.source if baseline else "published in /ops"),
        verified_on=edit.verified_on
        or (baseline.verified_on if baseline else published_on or dt.date.today()),
        uncertain=baseline.uncertain if baseline else None,
        examples=baseline.examples if baseline else [],
    )


def offices_reached(registry: OfficeRegistry, scope: str, topic: str) -> list[Office]:
    """The offices whose citizens read `scope`'s `topic`: one office, or (national) every
    office without an answer of its own."""
    if scope != NATIONAL_SCOPE:
        return [registry.get(scope)]
    text = is_text(registry, topic)
    return [
        office
        for office in registry
        if topic == ANNOUNCEMENT
        or (
            topic not in (office.texts if text else office.faq)
            and registry.published.answer(office.code, topic) is None
        )
    ]


def check(
    registry: OfficeRegistry,
    scope: str,
    topic: str,
    edit: Edit,
    *,
    now: dt.datetime | None = None,
) -> list[Problem]:
    """Every reason to refuse `edit` of `scope`'s `topic`; empty: it may be saved/published.

    Checks: a known scope and topic; national facts only at the national level, with a
    source and a "verified on" date not in the future; both languages present; placeholders
    known for the topic; and, for every office reached, the rendered texts within WhatsApp's
    limits (the menu too, for the greeting and fallback texts). Announcements: a validity
    period that ends in the future, texts of at most 1,000 characters, and every answer of
    the office still within 4,096 characters with the announcement above it.
    """
    now = now or dt.datetime.now(dt.UTC)
    if examples_target(topic) is not None:
        return _examples_problems(registry, scope, topic, edit)
    if is_own_topic(topic):
        return _own_topic_problems(registry, scope, topic, edit, now)
    problems = _scope_problems(registry, scope, topic)
    if problems:
        return problems
    if topic == ANNOUNCEMENT:
        return _announcement_problems(registry, scope, edit, now)
    if topic in NATIONAL_FACTS:
        if not (edit.source or "").strip():
            problems.append(Problem("source", "a national fact needs its source"))
        if edit.verified_on is None:
            problems.append(Problem("verified_on", "a national fact needs its 'verified on' date"))
        elif edit.verified_on > now.date():
            problems.append(Problem("verified_on", "the 'verified on' date is in the future"))
    text = is_text(registry, topic)
    if edit.text is None:  # back to the YAML baseline: that text passed `offices check`
        baseline = (
            registry.baseline_text(scope, topic) if text else registry.baseline_answer(scope, topic)
        )
        if baseline is None and scope == NATIONAL_SCOPE:
            problems.append(Problem("text", f"{topic!r} has no YAML answer to go back to"))
        return problems
    if text:
        problems += _text_problems(
            edit, PLACEHOLDERS | text_placeholders(registry, topic), same_in_both=True
        )
    else:
        problems += _text_problems(edit, allowed_placeholders(topic))
    if problems:
        return problems
    candidate = with_candidate(registry, scope, topic, edit)
    reached = offices_reached(registry, scope, topic)
    if text:
        return _rendered_text_problems(candidate, reached, topic)
    problems += _rendered_problems(candidate, reached, [topic], now)
    return problems


def _scope_problems(registry: OfficeRegistry, scope: str, topic: str) -> list[Problem]:
    if scope != NATIONAL_SCOPE and scope not in registry.offices:
        return [Problem("office", f"no office {scope!r}")]
    if topic != ANNOUNCEMENT and topic not in TOPICS and not is_text(registry, topic):
        return [Problem("topic", f"unknown topic {topic!r}")]
    if topic == ANNOUNCEMENT and scope == NATIONAL_SCOPE:
        return [Problem("office", "an announcement belongs to one office")]
    if topic in NATIONAL_FACTS and scope != NATIONAL_SCOPE:
        return [
            Problem(
                "topic",
                f"{topic!r} is a national fact, the same for every office: only national staff "
                "change it, in the national answer",
            )
        ]
    return []


def _text_problems(
    edit: Edit, allowed: Iterable[str], *, same_in_both: bool = False
) -> list[Problem]:
    problems: list[Problem] = []
    if edit.text is None:
        return [Problem("text", "both languages are required")]
    used_by_lang: list[set[str]] = []
    for lang in LANGS:
        text = edit.text.id if lang == "id" else edit.text.en
        field = f"text.{lang}"
        if not (text or "").strip():
            problems.append(Problem(field, "required (Bahasa Indonesia and English)"))
            continue
        try:
            used = placeholders_in(text or "")
        except FaqContentError as exc:
            problems.append(Problem(field, str(exc)))
            continue
        used_by_lang.append(used)
        unknown = used - set(allowed)
        if unknown:
            problems.append(
                Problem(
                    field,
                    f"unknown placeholder(s) {', '.join('{' + n + '}' for n in sorted(unknown))}; "
                    f"allowed: {', '.join('{' + n + '}' for n in sorted(allowed))}",
                )
            )
    if same_in_both and not problems and used_by_lang[0] != used_by_lang[1]:
        problems.append(
            Problem("text.en", "Bahasa Indonesia and English must use the same placeholders")
        )
    return problems


def _rendered_text_problems(
    registry: OfficeRegistry, offices: list[Office], text_id: str
) -> list[Problem]:
    """A catalogue text, rendered for every office reached, within its WhatsApp limit."""
    for lang in LANGS:
        for office in offices:
            problem = limit_problem(registry, office, text_id, lang)
            if problem:  # one office is enough to name the problem
                return [Problem(f"text.{lang}", f"{office.code}: {problem}")]
    return []


def _rendered_problems(
    registry: OfficeRegistry, offices: list[Office], topics: list[str], now: dt.datetime
) -> list[Problem]:
    problems: list[Problem] = []
    for lang in LANGS:
        field = f"text.{lang}"
        for office in offices:
            found = None
            for topic in topics:
                try:
                    text = render(registry, office, topic, lang, extra=sample_extra(topic), at=now)
                except FaqContentError as exc:
                    found = Problem(field, f"{office.code}: {exc}")
                    break
                if len(text) > TEXT_LIMIT:
                    found = Problem(
                        field,
                        f"{len(text):,} characters at {office.code} ({topic}) once placeholders "
                        f"are filled; WhatsApp allows {TEXT_LIMIT:,}",
                    )
                    break
                if topic in ("greeting", "fallback"):
                    menu = menu_reply(registry, office, lang, body_topic=topic)
                    limits = reply_problems(menu, f"{office.code} menu")
                    if limits:
                        found = Problem(field, str(limits[0]))
                        break
            if found:  # one office is enough to name the problem
                problems.append(found)
                break
    return problems


def _announcement_problems(
    registry: OfficeRegistry, office: str, edit: Edit, now: dt.datetime
) -> list[Problem]:
    if edit.text is None:  # withdrawing an announcement is always allowed
        return []
    problems = _text_problems(edit, PLACEHOLDERS)
    for lang in LANGS:
        text = (edit.text.id if lang == "id" else edit.text.en) or ""
        if len(text) > NOTICE_LIMIT:
            problems.append(
                Problem(f"text.{lang}", f"{len(text):,} characters; at most {NOTICE_LIMIT:,}")
            )
    if edit.valid_from is None:
        problems.append(Problem("valid_from", "required"))
    if edit.valid_until is None:
        problems.append(Problem("valid_until", "required"))
    elif edit.valid_from and edit.valid_until <= edit.valid_from:
        problems.append(Problem("valid_until", "must be after valid_from"))
    elif edit.valid_until <= now:
        problems.append(Problem("valid_until", "already past"))
    if problems:
        return problems
    assert edit.valid_from is not None
    candidate = with_candidate(registry, office, ANNOUNCEMENT, edit)
    # Rendered at the start of the validity, where it shows, for every answer of the office.
    at = max(edit.valid_from, now)
    return _rendered_problems(candidate, [registry.get(office)], list(FAQ_TOPICS), at)


# --- an office's examples and own topics (closing the loop on unanswered questions) -------


def _office_scope_problems(registry: OfficeRegistry, scope: str) -> list[Problem]:
    if scope == NATIONAL_SCOPE:
        return [Problem("office", "examples and own topics belong to one office")]
    if scope not in registry.offices:
        return [Problem("office", f"no office {scope!r}")]
    return []


def _example_problems(
    registry: OfficeRegistry, office: str, topic: str, examples: tuple[str, ...]
) -> list[Problem]:
    """Each example: a real question (words the normaliser keeps), not too long, not twice,
    and not already an example of another of the office's topics (the office's examples
    must not contradict each other)."""
    problems: list[Problem] = []
    elsewhere = {
        analyze(text).text: other
        for text, other in registry.published.examples_of(office)
        if other != topic
    }
    seen: set[str] = set()
    for i, example in enumerate(examples):
        field = f"examples[{i}]"
        text = example.strip()
        if len(text) > EXAMPLE_LIMIT:
            problems.append(Problem(field, f"{len(text):,} characters; at most {EXAMPLE_LIMIT}"))
            continue
        normalised = analyze(text).text
        if not normalised:
            problems.append(Problem(field, f"{text!r} has no words to learn from"))
        elif normalised in seen:
            problems.append(Problem(field, f"{text!r} is there twice"))
        elif normalised in elsewhere:
            problems.append(
                Problem(field, f"{text!r} is already an example of {elsewhere[normalised]!r}")
            )
        seen.add(normalised)
    return problems


def _examples_problems(
    registry: OfficeRegistry, scope: str, topic: str, edit: Edit
) -> list[Problem]:
    problems = _office_scope_problems(registry, scope)
    if problems:
        return problems
    target = examples_target(topic) or ""
    if target not in FAQ_TOPICS and target not in registry.published.own_topics(scope):
        return [Problem("topic", f"no topic {target!r} at {scope} to attach examples to")]
    if edit.text is not None:
        return [Problem("text", "an examples record has no answer text")]
    if len(edit.examples) > EXAMPLES_PER_TOPIC:
        return [Problem("examples", f"{len(edit.examples)} examples; at most {EXAMPLES_PER_TOPIC}")]
    return _example_problems(registry, scope, target, edit.examples)


def _own_topic_problems(
    registry: OfficeRegistry, scope: str, topic: str, edit: Edit, now: dt.datetime
) -> list[Problem]:
    problems = _office_scope_problems(registry, scope)
    if problems:
        return problems
    if not _OWN_NAME.match(topic):
        return [
            Problem(
                "topic",
                f"{topic!r}: an office topic is named {OWN_TOPIC_PREFIX}<name> (a–z, 0–9, _; 2–30)",
            )
        ]
    if edit.text is None:  # withdrawing the topic is always allowed
        return []
    for lang in LANGS:
        title = (edit.title.get(lang) if edit.title else "") or ""
        if not title.strip():
            problems.append(Problem(f"title.{lang}", "required (Bahasa Indonesia and English)"))
        elif len(title) > OWN_TITLE_LIMIT:
            problems.append(
                Problem(f"title.{lang}", f"{title!r}: at most {OWN_TITLE_LIMIT} characters")
            )
    problems += _text_problems(edit, PLACEHOLDERS)
    low, high = OWN_TOPIC_EXAMPLES
    if not low <= len(edit.examples) <= high:
        problems.append(
            Problem("examples", f"{len(edit.examples)} example questions; {low} to {high}")
        )
    problems += _example_problems(registry, scope, topic, edit.examples)
    if problems:
        return problems
    candidate = with_candidate(registry, scope, topic, edit)
    return _rendered_problems(candidate, [registry.get(scope)], [topic], now)
