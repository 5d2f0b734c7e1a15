"""The catalogue of what citizens read, and the one way to render a text of it.

FAQ answers are topics of `offices/_national/faq.yaml` (rendered by `gerbang.faq.content`);
every other citizen-facing text — menus, prompts, confirmations, stage names, errors — is an
entry of `offices/_national/texts.yaml`, an id with Bahasa Indonesia and English:

    status.neutral:
      id: Maaf, kami tidak dapat menampilkan status …
      en: Sorry, we cannot show a status …
      limit: 20        # optional: WhatsApp's limit where it is shown (a button title)
      about: …         # optional: where citizens read it (shown to staff in /ops)

An office overrides any entry in `offices/<code>/texts.yaml` (same shape, without `limit`),
and staff override both in `/ops` ("Teks" entries, published on `content.published`).
Services never write a citizen-facing sentence in Python: they call `render_text`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from gerbang.faq.content import (
    PLACEHOLDERS,
    TEXT_LIMIT,
    TOPICS,
    FaqContentError,
    office_values,
    placeholders_in,
)
from gerbang.offices import LANGS, Lang, Office, OfficeRegistry

# Placeholders a catalogue text may use besides the office's own (`PLACEHOLDERS`); the caller
# passes them to `render_text`. The values are realistic samples, long where the real value
# can be long, used to check that every rendered text fits WhatsApp's limits.
TEXT_VALUES: Mapping[str, str] = {
    "application_no": "1234567890123",
    "ticket": "JKP-2026-000123",
    "when": "03-12-2026 15:30 WIB",
    "other_office_name": "Kantor Imigrasi Kelas I Khusus TPI Jakarta Selatan",
    "other_service_name": "SIGAP",
    "other_number": "+62 811-8539-333",
    "stage": "Foto, sidik jari, dan wawancara selesai",
    "next_step": "x" * 900,
    "note": "x" * 500,
    "status": "x" * 1500,
    "kind": "laporan penipuan",
    "hours_line": "Senin–Kamis 08.00–16.00 WIB; Jumat 08.00–16.30 WIB; Sabtu 08.00–12.00 WIB",
    "day": "hari ini",
    "weekday": "Rabu",
    "time": "08.00",
    "last": "10",
}


class TextError(FaqContentError):
    """A catalogue text is missing, or a placeholder it uses has no value."""


def render_text(
    registry: OfficeRegistry, office: Office, text_id: str, lang: Lang, /, **values: str
) -> str:
    """The catalogue text `text_id` for `office` in `lang`, placeholders filled.

    Looked up as FAQ answers are: the office's published text, its `texts.yaml`, the national
    published text, the national `texts.yaml`. `values` fill the text's own placeholders
    (`TEXT_VALUES`); the office's (`{short_name}` …) are filled from its data, unless given.
    """
    entry = registry.catalogue_text(office, text_id)
    if entry is None:
        raise TextError(f"no text {text_id!r} in offices/_national/texts.yaml")
    template = entry.get(lang)
    used = _placeholders(template)
    if not used:
        return template
    if used & PLACEHOLDERS - values.keys():
        values = office_values(registry, office, lang) | values
    missing = used - values.keys()
    if missing:
        raise TextError(f"text {text_id!r} needs value(s) for {', '.join(sorted(missing))}")
    return template.format_map(values)


def is_text(registry: OfficeRegistry, topic: str) -> bool:
    """Whether an editor topic is a catalogue text (else an FAQ answer or the announcement)."""
    return topic in registry.national.texts


@functools.lru_cache(maxsize=4096)
def _placeholders(template: str) -> frozenset[str]:
    # Templates are few (the catalogue and what staff publish) and read on every reply.
    return frozenset(placeholders_in(template))


def text_placeholders(registry: OfficeRegistry, text_id: str) -> frozenset[str]:
    """The placeholders a text may use: those of the national text (what the code passes)."""
    entry = registry.national.texts.get(text_id)
    return frozenset(placeholders_in(entry.id)) if entry else frozenset()


def text_limit(registry: OfficeRegistry, text_id: str) -> int:
    """How long the rendered text may be (the national entry's `limit`, else 4,096)."""
    entry = registry.national.texts.get(text_id)
    return (entry.limit if entry and entry.limit else None) or TEXT_LIMIT


def sample_values(text_id: str, registry: OfficeRegistry) -> dict[str, str]:
    """Realistic values for a text's own placeholders (validation, previews)."""
    return {
        name: TEXT_VALUES[name]
        for name in text_placeholders(registry, text_id)
        if name in TEXT_VALUES
    }


def validate_texts(registry: OfficeRegistry) -> list[str]:
    """Problems of the catalogue; empty when every office can render every text.

    Checks: no id is also an FAQ topic; national texts use only known placeholders; office
    overrides name national ids, set no `limit`, and use only the national text's
    placeholders (or the office's own); every text, rendered for every office with sample
    values, fits its limit.
    (Both languages, and the same placeholders in each, are checked when the files load.)
    """
    problems: list[str] = []
    national = registry.national.texts
    known = PLACEHOLDERS | TEXT_VALUES.keys()
    for text_id, entry in national.items():
        if text_id in TOPICS:
            problems.append(f"_national/texts.yaml: {text_id!r} is an FAQ topic's name")
        unknown = placeholders_in(entry.id) - known
        if unknown:
            problems.append(
                f"_national/texts.yaml: {text_id!r} uses unknown placeholder(s) "
                f"{', '.join(sorted(unknown))}"
            )
    for office in registry:
        for text_id, entry in office.texts.items():
            where = f"{office.code}/texts.yaml: {text_id!r}"
            if text_id not in national:
                problems.append(f"{where} is not a text of _national/texts.yaml")
                continue
            if entry.limit is not None:
                problems.append(f"{where} sets limit (only the national catalogue does)")
            allowed = PLACEHOLDERS | text_placeholders(registry, text_id)
            extra = placeholders_in(entry.id) - allowed
            if extra:
                problems.append(f"{where} uses placeholder(s) the code does not pass: "
                                f"{', '.join(sorted(extra))}")  # fmt: skip
    if problems:
        return problems
    for text_id in national:
        per_office = bool(text_placeholders(registry, text_id) & PLACEHOLDERS)
        offices = [
            office
            for office in registry
            if per_office or text_id in office.texts or office is next(iter(registry))
        ]
        for office in offices:
            problems += _render_problems(registry, office, text_id)
    return problems


def _render_problems(registry: OfficeRegistry, office: Office, text_id: str) -> list[str]:
    found = (limit_problem(registry, office, text_id, lang) for lang in LANGS)
    return [f"{office.code}: {problem}" for problem in found if problem]


def limit_problem(registry: OfficeRegistry, office: Office, text_id: str, lang: Lang) -> str | None:
    """Why a text cannot be sent at `office` in `lang` (it does not render, or it is over its
    limit once sample values fill it), or None."""
    try:
        rendered = render_text(registry, office, text_id, lang, **sample_values(text_id, registry))
    except FaqContentError as exc:
        return str(exc)
    limit = text_limit(registry, text_id)
    if len(rendered) > limit:
        return (
            f"text {text_id!r} ({lang}) is {len(rendered):,} characters; "
            f"at most {limit:,} where it is shown"
        )
    return None
