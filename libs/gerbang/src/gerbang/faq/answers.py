"""The answer composer: from what a message asks (`Understanding`) to the replies to send.

Pure: takes the office registry, the office and the matcher's `Understanding`, returns
WhatsApp reply contents (`gerbang.messages`). The FAQ worker, the router's menu reply and
`gerbang ask` all call it.
"""

from __future__ import annotations

from collections.abc import Mapping

from gerbang import texts as catalogue
from gerbang.faq.content import TEXT_LIMIT, render
from gerbang.faq.menu import build_menu, row_title
from gerbang.messages import (
    Button,
    ButtonsContent,
    Expectation,
    Intent,
    ListContent,
    OutboundReply,
    ReplyContent,
    Service,
    ServiceRequest,
    TextContent,
)
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
    # Visas and stay permits: no topic of this line, but where to go instead of "not
    # understood" (in the menu's body, as the fallback).
    Intent.FALLBACK: {"visa_stay": "visa_stay"},
    Intent.OUT_OF_DOMAIN: {"visa_stay": "visa_stay"},
}

# At most this many numbers are checked per message (one reply; a list of 20 numbers is
# not a citizen's question).
MAX_NUMBERS_CHECKED = 5


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
    if intent is Intent.FALLBACK:
        return _SUBTOPICS[intent].get(understanding.subtopic or "", "fallback")
    if intent is Intent.OUT_OF_DOMAIN:
        return _SUBTOPICS[intent].get(understanding.subtopic or "", "out_of_domain")
    if intent is Intent.FAQ_OFFICE_TOPIC:
        return understanding.office_topic or "fallback"
    if not intent.value.startswith("faq:"):
        raise NotAnFaqIntent(f"intent {intent.value!r} is answered by the {intent.service} service")
    narrower = _SUBTOPICS.get(intent, {})
    subtopic = understanding.subtopic
    if (
        subtopic is None
        and intent is Intent.FAQ_REQUIREMENTS
        and understanding.age_group == "minor"
    ):
        subtopic = "minor"  # "syarat buat anak": the child's requirements are the answer
    return narrower.get(subtopic or "", intent.topic)


def lead_variant(understanding: Understanding) -> str | None:
    """The lead line of the answer for the variant asked about (`fees.e_paspor_10`, …,
    `payment.unconfirmed`), or None when the question names no variant."""
    if understanding.intent is Intent.FAQ_PAYMENT:
        return "payment.unconfirmed" if understanding.subtopic == "unconfirmed" else None
    if understanding.intent is not Intent.FAQ_FEES:
        return None
    if understanding.subtopic in ("lost", "damaged"):
        return f"fees.{understanding.subtopic}"
    if understanding.age_group == "minor":
        return "fees.minor"
    kind, years = understanding.passport_kind, understanding.validity_years
    if kind and years:
        return f"fees.{kind}_{years}"
    if kind:
        return f"fees.{kind}"
    if years:
        return f"fees.validity_{years}"
    return None


CLARIFY_TTL_SECONDS = 600
_CLARIFIABLE = frozenset(
    intent for intent in Intent if intent.value.startswith("faq:") or intent is Intent.STATUS
)
BUTTON_TITLE_LIMIT = 20


CLARIFY_MIN = 0.1
"""An alternative is offered only this likely: "soal paspor kak" (unclear, no topic near)
gets the menu, not two buttons at 1%."""


def clarify_options(understanding: Understanding) -> list[Intent]:
    """The two likeliest topics to offer when the message was not understood well enough
    (`fallback` with alternatives), or [] when there are not two to offer."""
    if understanding.intent is not Intent.FALLBACK or understanding.subtopic == "visa_stay":
        return []
    options: list[Intent] = []
    for intent, probability in understanding.alternatives:
        if intent in _CLARIFIABLE and intent not in options and probability >= CLARIFY_MIN:
            options.append(intent)
    return options[:2] if len(options) >= 2 else []


def _option_title(registry: OfficeRegistry, office: Office, intent: Intent, lang: Lang) -> str:
    title = row_title(registry, office, intent.value, lang)
    return title if len(title) <= BUTTON_TITLE_LIMIT else title[: BUTTON_TITLE_LIMIT - 1] + "…"


def clarify_reply(
    registry: OfficeRegistry, office: Office, options: list[Intent], lang: Lang
) -> ButtonsContent:
    """ "Maksud Anda: Biaya paspor / Cara pembayaran?" with one button per option (the
    button id is the option's intent, so a tap routes straight to it)."""
    titles = [row_title(registry, office, option.value, lang) for option in options]
    body = render(
        registry, office, "clarify", lang, extra={"first": titles[0], "second": titles[1]}
    )
    return ButtonsContent(
        body=body[:1024],
        buttons=[
            Button(id=option.value, title=_option_title(registry, office, option, lang))
            for option in options
        ],
    )


def clarify_expectation(options: list[Intent]) -> Expectation:
    """The directive of the clarify question: a typed "yg pertama" or topic answers it."""
    from gerbang.dialogue import CLARIFY_KEY

    return Expectation(
        service=Service.FAQ,
        context={CLARIFY_KEY: [option.value for option in options]},
        ttl_seconds=CLARIFY_TTL_SECONDS,
    )


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
    return build_menu(registry, office, lang, body=render(registry, office, body_topic, lang))


def router_replies(
    registry: OfficeRegistry, office: Office, lang: Lang, *, media: bool, closing: str | None
) -> list[ReplyContent]:
    """What the router answers itself: the 'text only' note for media, a line for a closing
    (`closing`: "thanks" or "ack", see `gerbang.dialogue.closing`), else the menu."""
    if media:
        return non_text_reply(registry, office, lang)
    if closing is not None:
        text_id = {"thanks": "router.thanks", "ack": "router.ack"}[closing]
        return text_replies(catalogue.render_text(registry, office, text_id, lang))
    return [menu_reply(registry, office, lang)]


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
        source = national.known_fake_sources.get(sources.get(digits, ""))
        if source is None:
            source = catalogue.render_text(registry, office, "number.listed_fake", lang)
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
    - `fallback` → the menu list whose body is the `fallback` text (one message), or, when
      the understanding has two likely topics, the clarify question with them as buttons;
    - `out_of_domain` → the menu list whose body says honestly what this line is for;
    - `faq:fees` with a variant asked (e-paspor, 10 years, a child) → its line first, then
      the table; `faq:payment` "paid, but the status has not changed" → that line first;
      `faq:requirements` for a child → the child's requirements;
    - `faq:office_topic` → the office's own topic (`office_topic`), published in `/ops`;
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
    if intent is Intent.FAQ_OFFICE_TOPIC and registry.published.answer(office.code, topic) is None:
        # An office topic this worker does not know (withdrawn a moment ago, or not applied
        # here yet): the menu, as for a message not understood.
        intent, topic = Intent.FALLBACK, "fallback"

    replies: list[ReplyContent] = []
    options = clarify_options(understanding)
    if options:
        replies.append(clarify_reply(registry, office, options, lang))
    elif intent in (Intent.MENU, Intent.FALLBACK, Intent.OUT_OF_DOMAIN):
        replies.append(menu_reply(registry, office, lang, body_topic=topic))
    elif intent is Intent.FAQ_OFFICIAL_CHANNELS and understanding.phone_numbers:
        replies += text_replies(check_numbers(registry, office, understanding.phone_numbers, lang))
    elif (variant := lead_variant(understanding)) is not None:
        lead = render(registry, office, variant, lang)
        replies += text_replies(f"{lead}\n\n{render(registry, office, topic, lang)}")
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


def respond(
    registry: OfficeRegistry,
    office: Office,
    request: ServiceRequest,
    understanding: Understanding,
) -> list[OutboundReply]:
    """The FAQ's replies to a request (the worker and `gerbang ask` both use it): the
    composed answer; a clarify question carries its directive (the typed answer comes back)."""
    contents = compose(registry, office, understanding)
    options = clarify_options(understanding)
    last = len(contents) - 1
    return [
        request.reply(
            content,
            part=i,
            expect=clarify_expectation(options) if options and i == last else None,
        )
        for i, content in enumerate(contents)
    ]
