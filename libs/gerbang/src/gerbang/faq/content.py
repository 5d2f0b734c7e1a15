"""The knowledge base: which topics exist, and how an answer is rendered for an office.

Answers live in `offices/_national/faq.yaml` (national defaults) and `offices/<code>/faq.yaml`
(an office's overrides), loaded and validated by `gerbang.offices`. This module only picks the
right answer and fills its placeholders from the office's data; it does no I/O.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from functools import lru_cache

# The module, not its names: gerbang.texts imports this module (looked up when called).
from gerbang import texts as catalogue
from gerbang.offices import (
    LANGS,
    OWN_TOPIC_PREFIX,
    FaqAnswer,
    Lang,
    Office,
    OfficeRegistry,
    OpeningHours,
)
from gerbang.phone import display

# The answers citizens can ask for (the contract with the matcher's `Understanding`).
FAQ_TOPICS: tuple[str, ...] = (
    "requirements",
    "requirements.minor",
    "requirements.renewal",
    "requirements.work_abroad",
    "requirements.umrah",
    "requirements.name_mismatch",
    "fees",
    "payment",
    "pickup",
    "registration",
    "hours_location",
    "lost",
    "damaged",
    "lost_damaged",
    "official_channels",
)

# Texts the composer needs around the answers (fallback, warnings, number checks, greeting).
SERVICE_TOPICS: tuple[str, ...] = (
    "fallback",
    "scam_warning",
    "number_official",
    "number_fake",
    "number_hotline",
    "number_unknown",
    "other_office",
    "non_text",
    "greeting",
    "out_of_domain",
    "visa_stay",
    "clarify",
)

# Lead lines of an answer, one per variant the citizen may ask about (`lead_variant`): the
# asked variant first, then the whole answer (the fee table, the ways to pay).
LEAD_TOPICS: tuple[str, ...] = (
    "fees.e_paspor_10",
    "fees.e_paspor_5",
    "fees.biasa_10",
    "fees.biasa_5",
    "fees.e_paspor",
    "fees.biasa",
    "fees.validity_10",
    "fees.validity_5",
    "fees.minor",
    "fees.lost",
    "fees.damaged",
    "payment.unconfirmed",
)

TOPICS: tuple[str, ...] = FAQ_TOPICS + SERVICE_TOPICS + LEAD_TOPICS


def is_answer_topic(topic: str) -> bool:
    """A topic citizens ask about: one of `FAQ_TOPICS`, or an office's own topic (a published
    answer of that office only)."""
    return topic in FAQ_TOPICS or topic.startswith(OWN_TOPIC_PREFIX)


# Placeholders every text may use, filled from the office and national data.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "office_name",
        "short_name",
        "service_name",
        "display_number",
        "address",
        "hours",
        "official_app",
        "website",
        "complaint_channels",
    }
)

# Placeholders only some topics get, supplied by the caller through `render(extra=...)`.
TOPIC_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "number_official": frozenset({"number"}),
    "number_fake": frozenset({"number", "fake_source"}),
    "number_hotline": frozenset({"number", "hotline_purpose"}),
    "number_unknown": frozenset({"number"}),
    "clarify": frozenset({"first", "second"}),
}

# WhatsApp's limit for a text body; longer texts are refused by the Cloud API.
TEXT_LIMIT = 4096

# Used where an office has no website of its own: the Directorate General's site.
NATIONAL_WEBSITE = "https://www.imigrasi.go.id"

# Appended (before the closing line) to answers that show hours or address the office has
# not yet confirmed from an official source: the citizen is asked to check before visiting
# (catalogue texts, by what is unverified: hours, address).
_UNVERIFIED: Mapping[tuple[bool, bool], str] = {
    (True, True): "note.unverified_hours_address",
    (True, False): "note.unverified_hours",
    (False, True): "note.unverified_address",
}
# Appended to answers that show the WhatsApp number of an office whose data is example data
# (`example: true`: generated offices, development offices): their numbers are invented
# (catalogue text `note.example_data`).
_SHOWS_NUMBER = frozenset({"display_number"})
_SHOWS_OWN_NUMBER_TOPICS = frozenset({"number_official"})


class FaqContentError(Exception):
    """The knowledge base cannot answer: unknown topic, missing answer or bad placeholder."""


class UnknownTopic(FaqContentError):
    """The topic is not one of `TOPICS`."""


class MissingAnswer(FaqContentError):
    """Neither the office nor the national defaults have an answer for the topic."""


class PlaceholderError(FaqContentError):
    """A text uses a placeholder that does not exist, or a required value is missing."""


def answer_for(registry: OfficeRegistry, office: Office, topic: str) -> FaqAnswer:
    """The answer for `topic` at `office`: the office's override, else the national default
    (an office's own topic: its published answer)."""
    if topic not in TOPICS and not topic.startswith(OWN_TOPIC_PREFIX):
        raise UnknownTopic(f"unknown FAQ topic {topic!r}; known: {', '.join(TOPICS)}")
    answer = registry.faq_answer(office, topic)
    if answer is None:
        raise MissingAnswer(
            f"no answer for topic {topic!r}: add it to offices/_national/faq.yaml "
            f"or offices/{office.code}/faq.yaml"
        )
    return answer


def placeholders_in(text: str) -> set[str]:
    """Names of the `{placeholders}` a text uses. Format specs and attribute access are refused."""
    return set(_placeholders(text))


@lru_cache(maxsize=4096)
def _placeholders(text: str) -> frozenset[str]:
    # Every answer rendered asks this of its template: the same few hundred texts, parsed
    # once each (a refused text raises every time: exceptions are not cached).
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # an unmatched "{" or "}"
        raise PlaceholderError(f"broken placeholder syntax: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise PlaceholderError(
                f"placeholder {{{name}}} must be a plain name like {{short_name}}"
            )
        names.add(name)
    return frozenset(names)


# Placeholders every answer may use besides the office's: `{verified_on}`, the day its facts
# were last checked (set with a national fact's publication in /ops, or in the YAML).
ANSWER_PLACEHOLDERS: frozenset[str] = frozenset({"verified_on"})


def allowed_placeholders(topic: str) -> frozenset[str]:
    """The placeholders a text of `topic` may use."""
    return PLACEHOLDERS | ANSWER_PLACEHOLDERS | TOPIC_PLACEHOLDERS.get(topic, frozenset())


def format_date(value: dt.date) -> str:
    """`25-11-2026`: day-month-year, as Indonesian readers write it (both languages)."""
    return f"{value:%d-%m-%Y}"


def format_time(value: dt.time, lang: Lang) -> str:
    """`08.00` in Indonesian style, `08:00` in English."""
    text = f"{value:%H:%M}"
    return text.replace(":", ".") if lang == "id" else text


def render_hours(hours: list[OpeningHours], lang: Lang) -> str:
    """The office's opening hours as bullet lines in `lang`."""
    lines = []
    for slot in hours:
        line = (
            f"• {slot.days.get(lang)}: "
            f"{format_time(slot.open, lang)}–{format_time(slot.close, lang)}"
        )
        if slot.note is not None:
            line += f" ({slot.note.get(lang).rstrip('.')})"
        lines.append(line)
    return "\n".join(lines)


def office_values(registry: OfficeRegistry, office: Office, lang: Lang) -> dict[str, str]:
    """The values of the common placeholders for `office` in `lang` (a new dict each time).

    Made once per office, national settings and language: every answer rendered needs
    them, and the hours and the display number were formatted again for each message. The
    office and the national settings are frozen; new ones (a reload) are new entries."""
    national = registry.national
    key = (id(office), id(national), lang)
    made = _OFFICE_VALUES.get(key)
    if made is None or made[0] is not office or made[1] is not national:
        if len(_OFFICE_VALUES) >= _OFFICE_VALUES_MAX:
            _OFFICE_VALUES.clear()
        made = _OFFICE_VALUES[key] = (office, national, _office_values(registry, office, lang))
    return dict(made[2])


_OFFICE_VALUES: dict[tuple[int, int, str], tuple[Office, object, dict[str, str]]] = {}
"""Keyed by identity; each entry holds its office and national settings, so that an id is
never reused while its entry exists."""
_OFFICE_VALUES_MAX = 2048


def _office_values(registry: OfficeRegistry, office: Office, lang: Lang) -> dict[str, str]:
    return {
        "office_name": office.name,
        "short_name": office.short_name,
        "service_name": office.service_name,
        "display_number": display(office.display_number),
        "address": office.address.get(lang),
        "hours": render_hours(office.hours, lang),
        "official_app": registry.national.official_app,
        "website": office.website or NATIONAL_WEBSITE,
        "complaint_channels": registry.national.complaint_channels.get(lang),
    }


def _unverified_note(
    registry: OfficeRegistry, office: Office, used: set[str], lang: Lang
) -> str | None:
    key = (
        "hours" in used and not office.hours_verified,
        "address" in used and not office.address_verified,
    )
    text_id = _UNVERIFIED.get(key)
    return catalogue.render_text(registry, office, text_id, lang) if text_id else None


def _insert_before_closing(text: str, note: str) -> str:
    # Answers end with a short "what next" paragraph; the note belongs just above it.
    body, separator, closing = text.rpartition("\n\n")
    if not separator:
        return f"{text}\n\n{note}"
    return f"{body}\n\n{note}\n\n{closing}"


def render(
    registry: OfficeRegistry,
    office: Office,
    topic: str,
    lang: Lang,
    *,
    extra: Mapping[str, str] | None = None,
    at: dt.datetime | None = None,
) -> str:
    """The text of `topic` for `office` in `lang`, placeholders filled.

    The office's override wins over the national default. `extra` supplies the topic-specific
    placeholders (`TOPIC_PLACEHOLDERS`, e.g. the `number` being checked). Raises
    `UnknownTopic`, `MissingAnswer`, or `PlaceholderError` for an unknown or unfilled
    placeholder. Hours and address the office has not verified get a polite note asking the
    citizen to confirm with the office. An FAQ answer starts with the office's announcement
    while it is valid at `at` (now by default).
    """
    answer = answer_for(registry, office, topic)
    template = answer.text.get(lang)
    used = placeholders_in(template)
    unknown = used - allowed_placeholders(topic)
    if unknown:
        allowed = ", ".join(sorted(allowed_placeholders(topic)))
        raise PlaceholderError(
            f"topic {topic!r} ({office.code}, {lang}) uses unknown placeholder(s) "
            f"{', '.join(sorted(unknown))}; allowed: {allowed}"
        )
    values = office_values(registry, office, lang)
    values["verified_on"] = format_date(answer.verified_on)
    values.update(extra or {})
    missing = used - values.keys()
    if missing:
        raise PlaceholderError(
            f"topic {topic!r} needs value(s) for {', '.join(sorted(missing))} (pass extra=...)"
        )
    text = template.format_map(values).strip()
    note = _unverified_note(registry, office, used, lang)
    if office.example and (used & _SHOWS_NUMBER or topic in _SHOWS_OWN_NUMBER_TOPICS):
        example = catalogue.render_text(
            registry, office, "note.example_data", lang, website=NATIONAL_WEBSITE
        )
        note = f"{note}\n{example}" if note else example
    text = _insert_before_closing(text, note) if note else text
    if is_answer_topic(topic):
        notice = registry.published.notice(office.code, at or dt.datetime.now(dt.UTC))
        if notice is not None:
            text = f"{render_notice(notice.text.get(lang), values)}\n\n{text}"
    return text


def render_notice(template: str, values: Mapping[str, str]) -> str:
    """An announcement as it stands above the answers (placeholders filled)."""
    return f"📢 {template.format_map(values).strip()}"


def sample_extra(topic: str) -> dict[str, str]:
    """Realistic values for a topic's extra placeholders (for validation and tests)."""
    samples = {
        "number": display("6281230030440"),
        "fake_source": "x" * 300,  # long enough to catch a text that barely fits
        "hotline_purpose": "x" * 300,
        "first": "Biaya paspor",
        "second": "Cara pembayaran",
        "verified_on": "25-11-2026",
    }
    names = ANSWER_PLACEHOLDERS | TOPIC_PLACEHOLDERS.get(topic, frozenset())
    return {name: samples[name] for name in names}


def validate_content(registry: OfficeRegistry) -> list[str]:
    """Problems in the knowledge base; an empty list means every office can answer everything.

    Checks, for every office: each topic of `TOPICS` renders in Indonesian and English (an
    English text is present), uses only known placeholders, and fits WhatsApp's 4096-character
    limit; and the office's overrides name only known topics. Then the texts catalogue
    (`gerbang.texts.validate_texts`).
    """
    problems: list[str] = []
    for topic in registry.national.faq:
        if topic not in TOPICS:
            problems.append(f"_national/faq.yaml: unknown topic {topic!r}")
    for office in registry:
        for topic in office.faq:
            if topic not in TOPICS:
                problems.append(f"{office.code}/faq.yaml: unknown topic {topic!r}")
        for topic in TOPICS:
            answer = registry.faq_answer(office, topic)
            if answer is None:
                problems.append(f"{office.code}: no answer for topic {topic!r}")
                continue
            if not answer.text.en:
                problems.append(f"{office.code}: topic {topic!r} has no English text")
            for lang in LANGS:
                try:
                    text = render(registry, office, topic, lang, extra=sample_extra(topic))
                except FaqContentError as exc:
                    problems.append(f"{office.code}: {exc}")
                    continue
                if len(text) > TEXT_LIMIT:
                    problems.append(
                        f"{office.code}: topic {topic!r} ({lang}) is {len(text)} characters; "
                        f"WhatsApp allows {TEXT_LIMIT}"
                    )
    return problems + catalogue.validate_texts(registry)
