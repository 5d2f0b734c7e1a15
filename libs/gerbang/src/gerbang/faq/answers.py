"""The answer composer: from what a message asks (`Understanding`) to the replies to send.

Pure: takes the office registry, the office and the matcher's `Understanding`, returns
WhatsApp reply contents (`gerbang.messages`). The FAQ worker, the router's menu reply and
`gerbang ask` all call it.
"""

from __future__ import annotations

from collections.abc import Mapping

from gerbang.faq.content import TEXT_LIMIT, render
from gerbang.faq.menu import build_menu
from gerbang.messages import Intent, ListContent, ReplyContent, TextContent
from gerbang.offices import Lang, Office, OfficeRegistry, UnknownOffice
from gerbang.phone import display, normalize_msisdn
from gerbang.understanding import Understanding

# The knowledge-base topic of each FAQ intent (its `Intent.topic`), and the narrower topics
# a subtopic selects.
_SUBTOPICS: Mapping[Intent, Mapping[str, str]] = {
    Intent.FAQ_REQUIREMENTS: {
        "minor": "requirements.minor",
        "renewal": "requirements.renewal",
        "work_abroad": "requirements.work_abroad",
        "umrah": "requirements.umrah",
        "name_mismatch": "requirements.name_mismatch",
    },
    Intent.FAQ_LOST_DAMAGED: {"lost": "lost", "damaged": "damaged"},
}

# At most this many numbers are checked per message (one reply; a list of 20 numbers is
# not a citizen's question).
MAX_NUMBERS_CHECKED = 5

_NO_FAKE_SOURCE: Mapping[Lang, str] = {
    "id": "Tercatat dalam daftar nomor palsu nasional kami.",
    "en": "Listed in our national register of fake numbers.",
}


class NotAnFaqIntent(ValueError):
    """The intent is answered by another service (status, feedback), not by the FAQ."""


def answer_topic(understanding: Understanding) -> str:
    """The knowledge-base topic that answers this understanding.

    `menu` → "greeting" (the menu's body), `fallback` → "fallback", `faq:<topic>` → the topic
    narrowed by the subtopic (`requirements` + "minor" → "requirements.minor"; `lost_damaged`
    + "lost" → "lost"; an unknown subtopic keeps the general topic). Raises `NotAnFaqIntent`
    for status and feedback intents.
    """
    intent = understanding.intent
    if intent is Intent.MENU:
        return "greeting"
    if intent is Intent.FALLBACK or intent is Intent.OUT_OF_DOMAIN:
        return "fallback"  # out of domain: the menu, until it has its own text
    if not intent.value.startswith("faq:"):
        raise NotAnFaqIntent(f"intent {intent.value!r} is answered by the {intent.service} service")
    narrower = _SUBTOPICS.get(intent, {})
    return narrower.get(understanding.subtopic or "", intent.topic)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` cut into pieces of at most `limit` characters, at paragraph or line breaks."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        # A single paragraph longer than the limit is cut at a line break, else hard.
        while len(paragraph) > limit:
            cut = paragraph.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip("\n")
        current = paragraph
    if current:
        pieces.append(current)
    return pieces


def text_replies(text: str) -> list[ReplyContent]:
    """Text messages for `text`, split to fit WhatsApp's 4096-character limit."""
    return [TextContent(body=piece) for piece in split_text(text)]


def menu_reply(
    registry: OfficeRegistry, office: Office, lang: Lang, *, body_topic: str = "greeting"
) -> ListContent:
    """The office menu (interactive list) whose body is the knowledge base's `body_topic` text.

    The router sends this for `menu`; the composer sends it with `body_topic="fallback"` when
    the message was not understood.
    """
    return build_menu(office, lang, body=render(registry, office, body_topic, lang))


def non_text_reply(registry: OfficeRegistry, office: Office, lang: Lang) -> list[ReplyContent]:
    """The answer to an image, voice note, sticker …: we can read only text."""
    return text_replies(render(registry, office, "non_text", lang))


def _normalised_keys(numbers: Mapping[str, object]) -> dict[str, str]:
    # National data may write numbers in any format; compare on wa_id digits.
    return {normalize_msisdn(raw) or raw: raw for raw in numbers}


def number_verdict(registry: OfficeRegistry, office: Office, number: str, lang: Lang) -> str:
    """Whether `number` (any format) is official, a known fake, an official hotline, or unknown.

    The verdict is written for a citizen of `office`; an official number names the office
    that owns it and its service.
    """
    digits = normalize_msisdn(number)
    shown = display(digits) if digits else number.strip()
    national = registry.national
    if digits and digits in national.known_fake_numbers:
        sources = _normalised_keys(national.known_fake_sources)
        source = national.known_fake_sources.get(sources.get(digits, ""), _NO_FAKE_SOURCE[lang])
        return render(
            registry, office, "number_fake", lang, extra={"number": shown, "fake_source": source}
        )
    owner = registry.by_display_number(digits) if digits else None
    if owner is not None:
        return render(registry, owner, "number_official", lang, extra={"number": shown})
    hotlines = _normalised_keys(national.other_official_numbers)
    if digits and digits in hotlines:
        purpose = national.other_official_numbers[hotlines[digits]].get(lang)
        return render(
            registry,
            office,
            "number_hotline",
            lang,
            extra={"number": shown, "hotline_purpose": purpose},
        )
    return render(registry, office, "number_unknown", lang, extra={"number": shown})


def check_numbers(
    registry: OfficeRegistry, office: Office, numbers: tuple[str, ...] | list[str], lang: Lang
) -> str:
    """One text with a verdict per distinct number (at most `MAX_NUMBERS_CHECKED`)."""
    distinct: dict[str, str] = {}
    for number in numbers:
        distinct.setdefault(normalize_msisdn(number) or number, number)
    verdicts = [
        number_verdict(registry, office, number, lang)
        for number in list(distinct.values())[:MAX_NUMBERS_CHECKED]
    ]
    return "\n\n".join(verdicts)


def _other_office(registry: OfficeRegistry, office: Office, code: str | None) -> Office | None:
    if not code or code == office.code:
        return None
    try:
        return registry.get(code)
    except UnknownOffice:
        # The matcher only names offices it knows; a stale code is simply not mentioned.
        return None


def compose(
    registry: OfficeRegistry, office: Office, understanding: Understanding
) -> list[ReplyContent]:
    """The replies to send for `understanding` at `office`, in `understanding.language`.

    - `menu` → the menu list (body: the `greeting` text);
    - `fallback` → the menu list whose body is the `fallback` text (one message);
    - `faq:*` → the topic's answer (narrowed by `subtopic`); `faq:official_channels` with
      phone numbers → a verdict per number instead of the general answer;
    - scam signals → the scam warning is added (unless the answer is already the general
      official-channels warning);
    - another office named → that office's service and number are added (and office hours
      and address are that office's).
    Every text fits WhatsApp's limits (long texts are split). Raises `NotAnFaqIntent` for
    status and feedback intents.
    """
    lang = understanding.language
    intent = understanding.intent
    topic = answer_topic(understanding)
    other = _other_office(registry, office, understanding.other_office)

    replies: list[ReplyContent] = []
    if intent in (Intent.MENU, Intent.FALLBACK, Intent.OUT_OF_DOMAIN):
        replies.append(menu_reply(registry, office, lang, body_topic=topic))
    elif intent is Intent.FAQ_OFFICIAL_CHANNELS and understanding.phone_numbers:
        replies += text_replies(check_numbers(registry, office, understanding.phone_numbers, lang))
    else:
        # Hours and address belong to a place: asked about another office, show that one's.
        answering = other if other is not None and topic == "hours_location" else office
        replies += text_replies(render(registry, answering, topic, lang))

    warned_already = topic == "official_channels" and not understanding.phone_numbers
    if understanding.scam_signals and not warned_already:
        replies += text_replies(render(registry, office, "scam_warning", lang))
    if other is not None:
        replies += text_replies(render(registry, other, "other_office", lang))
    return replies
