"""The composer: from an `Understanding` to replies that fit WhatsApp's limits."""

from __future__ import annotations

import pytest

from gerbang.faq.answers import (
    MAX_NUMBERS_CHECKED,
    NotAnFaqIntent,
    answer_topic,
    check_numbers,
    compose,
    menu_reply,
    non_text_reply,
    number_verdict,
    split_text,
)
from gerbang.faq.content import NATIONAL_WEBSITE, render
from gerbang.messages import (
    MENU_ROWS,
    ButtonsContent,
    Intent,
    ListContent,
    ReplyContent,
    TextContent,
)
from gerbang.offices import LANGS, Lang, Office, OfficeRegistry
from gerbang.understanding import Understanding

FAQ_INTENTS = [intent for intent in Intent if intent.value.startswith("faq:")]
SUBTOPICS = [
    (Intent.FAQ_REQUIREMENTS, None, "requirements"),
    (Intent.FAQ_REQUIREMENTS, "minor", "requirements.minor"),
    (Intent.FAQ_REQUIREMENTS, "renewal", "requirements.renewal"),
    (Intent.FAQ_REQUIREMENTS, "work_abroad", "requirements.work_abroad"),
    (Intent.FAQ_REQUIREMENTS, "umrah", "requirements.umrah"),
    (Intent.FAQ_REQUIREMENTS, "name_mismatch", "requirements.name_mismatch"),
    (Intent.FAQ_REQUIREMENTS, "something_new", "requirements"),
    (Intent.FAQ_LOST_DAMAGED, None, "lost_damaged"),
    (Intent.FAQ_LOST_DAMAGED, "lost", "lost"),
    (Intent.FAQ_LOST_DAMAGED, "damaged", "damaged"),
    (Intent.FAQ_FEES, "minor", "fees"),
    (Intent.MENU, None, "greeting"),
    (Intent.FALLBACK, None, "fallback"),
]


def understood(intent: Intent, lang: Lang = "id", **fields: object) -> Understanding:
    """An Understanding as the matcher would return it."""
    return Understanding(intent=intent, confidence=0.9, language=lang, **fields)  # type: ignore[arg-type]


def assert_within_limits(replies: list[ReplyContent]) -> None:
    """Each reply re-validates against the contract (the models enforce WhatsApp's limits)."""
    assert replies
    for reply in replies:
        type(reply).model_validate(reply.model_dump())
        if isinstance(reply, TextContent):
            assert len(reply.body) <= 4096
        elif isinstance(reply, ListContent):
            assert sum(len(s.rows) for s in reply.sections) <= 10
        elif isinstance(reply, ButtonsContent):
            assert len(reply.body) <= 1024


def bodies(replies: list[ReplyContent]) -> str:
    """All visible text of the replies, for substring checks."""
    return "\n\n".join(reply.body for reply in replies if hasattr(reply, "body"))


@pytest.mark.parametrize(("intent", "subtopic", "topic"), SUBTOPICS)
def test_answer_topic(intent: Intent, subtopic: str | None, topic: str) -> None:
    assert answer_topic(understood(intent, subtopic=subtopic)) == topic


@pytest.mark.parametrize(
    "intent",
    [
        Intent.STATUS,
        Intent.FEEDBACK_COMPLAINT,
        Intent.FEEDBACK_APPRECIATION,
        Intent.FEEDBACK_SUGGESTION,
    ],
)
def test_other_services_intents_are_refused(
    registry: OfficeRegistry, jakpus: Office, intent: Intent
) -> None:
    with pytest.raises(NotAnFaqIntent):
        compose(registry, jakpus, understood(intent))


@pytest.mark.parametrize(("intent", "subtopic", "topic"), SUBTOPICS[:-2])
@pytest.mark.parametrize("lang", LANGS)
def test_faq_answer_is_the_topic_text(
    registry: OfficeRegistry,
    jakpus: Office,
    intent: Intent,
    subtopic: str | None,
    topic: str,
    lang: Lang,
) -> None:
    replies = compose(registry, jakpus, understood(intent, lang, subtopic=subtopic))
    assert replies == [TextContent(body=render(registry, jakpus, topic, lang))]


@pytest.mark.parametrize("intent", [*FAQ_INTENTS, Intent.MENU, Intent.FALLBACK])
@pytest.mark.parametrize("lang", LANGS)
def test_every_reply_fits_the_limits_everywhere(
    registry: OfficeRegistry, intent: Intent, lang: Lang
) -> None:
    for office in registry:
        worst_case = understood(
            intent,
            lang,
            scam_signals=("calo", "personal_account"),
            other_office=next(o.code for o in registry if o.code != office.code),
        )
        replies = compose(registry, office, worst_case)
        assert_within_limits(replies)
        assert len(replies) <= 3, "the pair rate limit favours few messages per answer"


@pytest.mark.parametrize("lang", LANGS)
def test_menu_intent_sends_the_menu_list(
    registry: OfficeRegistry, jakpus: Office, lang: Lang
) -> None:
    (reply,) = compose(registry, jakpus, understood(Intent.MENU, lang))
    assert isinstance(reply, ListContent)
    assert [row.id for row in reply.sections[0].rows] == [row_id for row_id, _ in MENU_ROWS]
    assert reply.body == render(registry, jakpus, "greeting", lang)
    assert "SIGAP" in reply.body and "Kanim Jakarta Pusat" in reply.body


def test_fallback_sends_the_menu_with_the_fallback_text(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    (reply,) = compose(registry, jakpus, understood(Intent.FALLBACK))
    assert isinstance(reply, ListContent)
    assert reply.body.startswith("Mohon maaf, kami belum memahami pesan Anda.")
    assert reply == menu_reply(registry, jakpus, "id", body_topic="fallback")


@pytest.mark.parametrize("intent", [Intent.FALLBACK, Intent.OUT_OF_DOMAIN])
@pytest.mark.parametrize("lang", LANGS)
def test_a_visa_question_is_told_where_to_go_not_that_it_was_not_understood(
    registry: OfficeRegistry, intent: Intent, lang: Lang
) -> None:
    """Visas and stay permits are immigration matters this line has no topic for: the menu,
    with a body that says so and where to ask, in every office, within the limits."""
    for office in registry:
        (reply,) = compose(registry, office, understood(intent, lang, subtopic="visa_stay"))
        assert isinstance(reply, ListContent)
        assert reply.body == render(registry, office, "visa_stay", lang)
        assert (office.website or NATIONAL_WEBSITE) in reply.body and "KITAS" in reply.body
        assert_within_limits([reply])


def test_the_words_of_a_visa_question_name_the_visa_subtopic() -> None:
    from gerbang.understanding import IntentMatcher

    matcher = IntentMatcher()
    for text in ("min mau nanya visa ke jepang gmn ya", "saya WNA mau perpanjang KITAS"):
        reading = matcher.understand(text)
        assert (reading.intent, reading.subtopic) == (Intent.FALLBACK, "visa_stay"), text
    asked = matcher.understand("paspor buat apply visa harus berlaku brp lama")
    assert asked.intent is Intent.FAQ_REQUIREMENTS, "a passport question naming a visa stays"


@pytest.mark.parametrize("lang", LANGS)
def test_scam_signals_add_the_warning(registry: OfficeRegistry, jakpus: Office, lang: Lang) -> None:
    replies = compose(
        registry, jakpus, understood(Intent.FAQ_FEES, lang, scam_signals=("jalur_cepat",))
    )
    assert [r.body for r in replies if isinstance(r, TextContent)] == [
        render(registry, jakpus, "fees", lang),
        render(registry, jakpus, "scam_warning", lang),
    ]


def test_scam_warning_not_repeated_after_the_official_channels_answer(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    replies = compose(
        registry, jakpus, understood(Intent.FAQ_OFFICIAL_CHANNELS, scam_signals=("calo",))
    )
    assert replies == [TextContent(body=render(registry, jakpus, "official_channels", "id"))]


def test_scam_warning_text(registry: OfficeRegistry, jakpus: Office) -> None:
    text = render(registry, jakpus, "scam_warning", "id")
    assert "rekening pribadi" in text and "Calo dilarang" in text and "M-Paspor" in text
    assert "lapor.go.id" in text  # the national complaint channels


def test_other_office_is_pointed_to(registry: OfficeRegistry, jakpus: Office) -> None:
    replies = compose(registry, jakpus, understood(Intent.FAQ_PICKUP, other_office="bogor"))
    assert len(replies) == 2
    pointer = bodies(replies[1:])
    assert "SAPA Bogor" in pointer and "+62 811-0000-0002" in pointer
    # The pickup answer itself stays the asking office's.
    assert replies[0] == TextContent(body=render(registry, jakpus, "pickup", "id"))


def test_hours_of_another_office_are_that_offices(registry: OfficeRegistry, jakpus: Office) -> None:
    replies = compose(registry, jakpus, understood(Intent.FAQ_HOURS_LOCATION, other_office="bogor"))
    assert "Kanim Bogor" in replies[0].body  # type: ignore[union-attr]
    assert "Kemayoran" not in bodies(replies)


@pytest.mark.parametrize("code", ["jakpus", "nowhere"])
def test_same_or_unknown_other_office_adds_nothing(
    registry: OfficeRegistry, jakpus: Office, code: str
) -> None:
    replies = compose(registry, jakpus, understood(Intent.FAQ_FEES, other_office=code))
    assert replies == [TextContent(body=render(registry, jakpus, "fees", "id"))]


def test_non_text_reply(registry: OfficeRegistry, jakpus: Office) -> None:
    (reply,) = non_text_reply(registry, jakpus, "id")
    assert isinstance(reply, TextContent)
    assert "hanya dapat membaca pesan teks" in reply.body and "SIGAP" in reply.body


# --- number checks ----------------------------------------------------------------------

FAKE_FORMATS = [
    "081230030440",
    "0812-3003-0440",
    "+62 812-3003-0440",
    "62 812 3003 0440",
    "+6281230030440",
]
SIGAP_FORMATS = [
    "0811-8539-333",
    "08118539333",
    "+62 811-8539-333",
    "628118539333",
    "0811 8539 333",
]
UNKNOWN_FORMATS = ["0812-1111-2222", "+62 812 1111 2222", "6281211112222"]


@pytest.mark.parametrize("number", FAKE_FORMATS)
def test_known_fake_number(registry: OfficeRegistry, jakpus: Office, number: str) -> None:
    text = number_verdict(registry, jakpus, number, "id")
    assert text.startswith("⛔ *+62 812-3003-0440* adalah nomor *palsu*")
    assert "12 Agustus 2024" in text  # its source, from national.yaml
    assert "+62 811-8539-333" in text  # the office's own number instead
    assert "palsu" not in number_verdict(registry, jakpus, SIGAP_FORMATS[0], "id")


@pytest.mark.parametrize("number", SIGAP_FORMATS)
@pytest.mark.parametrize("asking_office", ["jakpus", "batam"])
def test_sigap_number_is_official(
    registry: OfficeRegistry, number: str, asking_office: str
) -> None:
    text = number_verdict(registry, registry.get(asking_office), number, "id")
    assert text.startswith("✅ *+62 811-8539-333* adalah nomor WhatsApp resmi")
    assert "Kantor Imigrasi Kelas I Non TPI Jakarta Pusat" in text and "*SIGAP*" in text


@pytest.mark.parametrize("number", UNKNOWN_FORMATS)
def test_unknown_number(registry: OfficeRegistry, jakpus: Office, number: str) -> None:
    text = number_verdict(registry, jakpus, number, "id")
    assert text.startswith("❓ *+62 812-1111-2222* *tidak ada* dalam daftar nomor resmi")
    assert "belum tentu palsu" in text
    assert "Jangan mendaftar atau membayar apa pun melalui WhatsApp" in text


def test_official_hotline_says_what_it_is_for(registry: OfficeRegistry, jakpus: Office) -> None:
    text = number_verdict(registry, jakpus, "0813-9967-9966", "en")
    assert "suspicious foreign nationals" in text and "Not a passport service" in text
    assert "+62 811-8539-333 (*SIGAP*)" in text


def test_not_a_number_is_unknown(registry: OfficeRegistry, jakpus: Office) -> None:
    assert number_verdict(registry, jakpus, "12", "id").startswith("❓ *12*")


@pytest.mark.parametrize("lang", LANGS)
def test_number_check_replaces_the_general_answer(
    registry: OfficeRegistry, jakpus: Office, lang: Lang
) -> None:
    replies = compose(
        registry,
        jakpus,
        understood(
            Intent.FAQ_OFFICIAL_CHANNELS,
            lang,
            phone_numbers=("6281230030440", "628118539333", "6281211112222", "6281230030440"),
        ),
    )
    (reply,) = replies
    assert isinstance(reply, TextContent)
    verdicts = reply.body.split("\n\n")
    assert [v[0] for v in verdicts if v[:1] in "⛔✅❓"] == ["⛔", "✅", "❓"]  # duplicates once


def test_at_most_a_few_numbers_are_checked(registry: OfficeRegistry, jakpus: Office) -> None:
    numbers = [f"62812111122{i:02d}" for i in range(MAX_NUMBERS_CHECKED + 3)]
    text = check_numbers(registry, jakpus, numbers, "id")
    assert text.count("❓") == MAX_NUMBERS_CHECKED


def test_numbers_outside_official_channels_are_not_checked(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    replies = compose(
        registry, jakpus, understood(Intent.FAQ_FEES, phone_numbers=("6281230030440",))
    )
    assert replies == [TextContent(body=render(registry, jakpus, "fees", "id"))]


# --- splitting ---------------------------------------------------------------------------


def test_split_text_keeps_short_text_whole() -> None:
    assert split_text("a\n\nb") == ["a\n\nb"]


def test_split_text_cuts_at_paragraphs_within_the_limit() -> None:
    paragraphs = ["x" * 30, "y" * 30, "z" * 30]
    pieces = split_text("\n\n".join(paragraphs), limit=70)
    assert pieces == [f"{'x' * 30}\n\n{'y' * 30}", "z" * 30]


def test_split_text_cuts_an_overlong_paragraph() -> None:
    pieces = split_text("a" * 25, limit=10)
    assert pieces == ["a" * 10, "a" * 10, "a" * 5]
    lines = split_text(("line\n" * 40).strip(), limit=23)
    assert all(len(p) <= 23 for p in lines)
    assert sum(p.count("line") for p in lines) == 40  # cut at line breaks, nothing lost
    assert lines[0] == "line\nline\nline\nline"
