"""The knowledge base: every office answers every topic, in both languages, within limits."""

from __future__ import annotations

import re

import pytest

from gerbang.faq.content import (
    FAQ_TOPICS,
    TEXT_LIMIT,
    TOPIC_PLACEHOLDERS,
    TOPICS,
    MissingAnswer,
    PlaceholderError,
    UnknownTopic,
    render,
    render_hours,
    sample_extra,
    validate_content,
)
from gerbang.offices import LANGS, FaqAnswer, LocalizedText, Office, OfficeRegistry

# Readability budget: the brief aims for ≤ 1,200 characters per answer.
READABLE_LIMIT = 1200


def _with_national_faq(registry: OfficeRegistry, **answers: FaqAnswer) -> OfficeRegistry:
    national = registry.national.model_copy(update={"faq": {**registry.national.faq, **answers}})
    return OfficeRegistry.build(national, list(registry))


def _answer(id_text: str, en_text: str | None = "English") -> FaqAnswer:
    return FaqAnswer(
        text=LocalizedText(id=id_text, en=en_text),
        source="test",
        verified_on="2026-11-25",  # type: ignore[arg-type]
    )


def test_repository_content_validates(registry: OfficeRegistry) -> None:
    assert validate_content(registry) == []


def test_national_defaults_cover_every_topic(registry: OfficeRegistry) -> None:
    assert set(registry.national.faq) == set(TOPICS)


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_office_renders_every_topic_within_limits(
    registry: OfficeRegistry, topic: str, lang: str
) -> None:
    for office in registry:
        text = render(registry, office, topic, lang, extra=sample_extra(topic))  # type: ignore[arg-type]
        assert 0 < len(text) <= TEXT_LIMIT
        assert "{" not in text and "}" not in text, "a placeholder was left unfilled"
        if topic not in TOPIC_PLACEHOLDERS:
            assert len(text) <= READABLE_LIMIT, f"{office.code} {topic} {lang}: {len(text)} chars"


@pytest.mark.parametrize("topic", FAQ_TOPICS)
@pytest.mark.parametrize("lang", LANGS)
def test_faq_answers_end_with_a_way_to_go_further(
    registry: OfficeRegistry, jakpus: Office, topic: str, lang: str
) -> None:
    closing = render(registry, jakpus, topic, lang).rsplit("\n\n", 1)[-1]
    assert "*menu*" in closing


@pytest.mark.parametrize("topic", FAQ_TOPICS)
def test_faq_answers_cite_the_reference_and_give_examples(
    registry: OfficeRegistry, topic: str
) -> None:
    answer = registry.national.faq[topic]
    assert "paspor-facts.md §" in answer.source
    assert answer.uncertain, "say what is uncertain (or that nothing is)"
    assert 5 <= len(answer.examples) <= 10
    assert len(set(answer.examples)) == len(answer.examples)


@pytest.mark.parametrize(
    "topic", ["requirements.work_abroad", "requirements.umrah", "pickup", "hours_location"]
)
def test_answers_the_reference_does_not_cover_say_so(registry: OfficeRegistry, topic: str) -> None:
    # The reference has no specifics for these: the answer must send people to the office.
    answer = registry.national.faq[topic]
    assert "reference" in (answer.uncertain or "")


@pytest.mark.parametrize("topic", ["requirements.work_abroad", "requirements.umrah"])
def test_no_invented_extra_documents(registry: OfficeRegistry, jakpus: Office, topic: str) -> None:
    text = render(registry, jakpus, topic, "id").lower()
    assert "mohon konfirmasi" in text
    assert "rekomendasi" not in text  # no recommendation letters: not in the reference


def test_pickup_by_representative_is_left_to_the_office(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    text = render(registry, jakpus, "pickup", "id")
    assert "diwakilkan" in text and "tanyakan langsung" in text
    assert "surat kuasa" not in text.lower()  # the reference says nothing about it


def test_office_override_wins(registry: OfficeRegistry, bogor: Office, jakpus: Office) -> None:
    assert "hours_location" in bogor.faq
    assert "(contoh)" in render(registry, bogor, "hours_location", "id")
    assert "(example)" in render(registry, bogor, "hours_location", "en")
    assert "(contoh)" not in render(registry, jakpus, "hours_location", "id")
    # Topics Bogor does not override come from the national defaults.
    national = registry.national.faq["fees"]
    assert render(registry, bogor, "fees", "id") == national.text.id.replace(
        "{official_app}", "M-Paspor"
    ).replace("{verified_on}", national.verified_on.strftime("%d-%m-%Y"))


def test_a_national_fact_shows_when_it_was_last_checked(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    checked = registry.national.faq["fees"].verified_on.strftime("%d-%m-%Y")
    assert f"_Terakhir diperiksa: {checked}_" in render(registry, jakpus, "fees", "id")
    assert f"_Last checked: {checked}_" in render(registry, jakpus, "fees", "en")
    assert "{verified_on}" not in render(registry, jakpus, "payment", "id")


def test_hours_and_address_come_from_the_office(registry: OfficeRegistry) -> None:
    batam = registry.get("batam")
    text = render(registry, batam, "hours_location", "id")
    assert "Batam Centre" in text
    assert "• Senin–Kamis: 07.30–16.00" in text
    assert "• Jumat: 07.30–16.30 (Istirahat salat Jumat 11.30–13.00)" in text
    assert "• Monday–Thursday: 07:30–16:00" in render(registry, batam, "hours_location", "en")


def test_render_hours_formats_each_language(jakpus: Office) -> None:
    assert render_hours(jakpus.hours, "id").startswith("• Senin–Jumat: 08.00–16.00")
    assert render_hours(jakpus.hours, "en").startswith("• Monday–Friday: 08:00–16:00")


@pytest.mark.parametrize(
    ("hours_verified", "address_verified", "expected_id"),
    [
        (False, False, "Jam layanan dan alamat ini belum terverifikasi"),
        (False, True, "Jam layanan ini belum terverifikasi"),
        (True, False, "Alamat ini belum terverifikasi"),
        (True, True, None),
    ],
)
def test_unverified_hours_or_address_ask_to_confirm(
    registry: OfficeRegistry,
    jakpus: Office,
    hours_verified: bool,
    address_verified: bool,
    expected_id: str | None,
) -> None:
    office = jakpus.model_copy(
        update={"hours_verified": hours_verified, "address_verified": address_verified}
    )
    text = render(registry, office, "hours_location", "id")
    if expected_id is None:
        assert "terverifikasi" not in text
    else:
        assert expected_id in text
        assert "mohon konfirmasi ke Kanim Jakarta Pusat" in text
        # The note sits above the closing line, which stays last.
        assert text.endswith("Ketik *menu* untuk topik lain.")


def test_unverified_note_only_on_answers_showing_hours_or_address(
    registry: OfficeRegistry, jakpus: Office
) -> None:
    assert not jakpus.hours_verified
    assert "terverifikasi" not in render(registry, jakpus, "fees", "id")


def test_unknown_topic_is_an_error(registry: OfficeRegistry, jakpus: Office) -> None:
    with pytest.raises(UnknownTopic):
        render(registry, jakpus, "visa", "id")


def test_missing_answer_is_an_error(registry: OfficeRegistry, jakpus: Office) -> None:
    faq = {k: v for k, v in registry.national.faq.items() if k != "fees"}
    national = registry.national.model_copy(update={"faq": faq})
    broken = OfficeRegistry.build(national, list(registry))
    with pytest.raises(MissingAnswer, match="fees"):
        render(broken, broken.get("jakpus"), "fees", "id")
    assert any("no answer for topic 'fees'" in p for p in validate_content(broken))


def test_unknown_placeholder_is_an_error(registry: OfficeRegistry) -> None:
    broken = _with_national_faq(registry, fees=_answer("Biaya di {kantor}"))
    with pytest.raises(PlaceholderError, match="kantor"):
        render(broken, broken.get("jakpus"), "fees", "id")
    problems = validate_content(broken)
    assert len(problems) == len(list(broken))  # one per office, Indonesian text
    assert all("kantor" in problem for problem in problems)


def test_topic_placeholder_needs_its_value(registry: OfficeRegistry, jakpus: Office) -> None:
    with pytest.raises(PlaceholderError, match="number"):
        render(registry, jakpus, "number_unknown", "id")


def test_placeholder_of_another_topic_is_refused(registry: OfficeRegistry) -> None:
    broken = _with_national_faq(registry, fees=_answer("Nomor {number}"))
    with pytest.raises(PlaceholderError):
        render(broken, broken.get("jakpus"), "fees", "id", extra={"number": "1"})


def test_validate_reports_missing_english_and_overlong_text(registry: OfficeRegistry) -> None:
    broken = _with_national_faq(
        registry,
        fees=_answer("x" * (TEXT_LIMIT + 1)),
        payment=_answer("Bayar", en_text=None),
    )
    problems = validate_content(broken)
    assert any("'fees' (id) is 4097 characters" in p for p in problems)
    assert any("'payment' has no English text" in p for p in problems)


def test_validate_reports_override_of_unknown_topic(registry: OfficeRegistry) -> None:
    bogor = registry.get("bogor")
    typo = bogor.model_copy(update={"faq": {**bogor.faq, "hours_locaton": _answer("x")}})
    others = [office for office in registry if office.code != "bogor"]
    broken = OfficeRegistry.build(registry.national, [*others, typo])
    assert "bogor/faq.yaml: unknown topic 'hours_locaton'" in validate_content(broken)


def test_no_whatsapp_markup_is_left_unbalanced(registry: OfficeRegistry, jakpus: Office) -> None:
    for topic in TOPICS:
        for lang in LANGS:
            text = render(registry, jakpus, topic, lang, extra=sample_extra(topic))  # type: ignore[arg-type]
            for line in text.splitlines():
                # "*bold*" pairs per line; a lone "*" shows literally in WhatsApp.
                assert len(re.findall(r"\*", line)) % 2 == 0, f"{topic} {lang}: {line!r}"


# What the answers tell citizens to type, and the topic it must lead to.
HINTS = {
    "syarat anak": "requirements.minor",
    "perpanjang paspor": "requirements.renewal",
    "biaya": "fees",
    "cara bayar": "payment",
    "paspor hilang": "lost",
    "paspor rusak": "damaged",
    "cek nomor": "official_channels",
    "child passport": "requirements.minor",
    "renew passport": "requirements.renewal",
    "fees": "fees",
    "how to pay": "payment",
    "lost passport": "lost",
    "damaged passport": "damaged",
    "check number": "official_channels",
}


def test_every_typing_hint_is_an_example_of_its_topic(registry: OfficeRegistry) -> None:
    # "Ketik *biaya*" only helps if the matcher knows "biaya" means fees: the examples feed it.
    hints: set[str] = set()
    for topic in TOPICS:
        answer = registry.national.faq[topic]
        for text in (answer.text.id, answer.text.en or ""):
            for sentence in re.findall(r"(?:Ketik|Type) [^.\n]*", text):
                hints |= set(re.findall(r"\*([^*]+)\*", sentence))
    hints -= {"menu", "status"}  # answered by the router and the status service
    assert hints == set(HINTS)
    for hint, topic in HINTS.items():
        examples = [example.lower() for example in registry.national.faq[topic].examples]
        assert any(hint in example for example in examples), f"{hint!r} not in {topic} examples"


def test_office_values_follow_a_changed_office(registry: OfficeRegistry, jakpus: Office) -> None:
    """The placeholder values are made once per office; an office changed (a new object,
    as a reload makes) gets its own, and the caller may change the dict it was given."""
    from gerbang.faq.content import office_values

    first = office_values(registry, jakpus, "id")
    first["short_name"] = "changed by the caller"
    assert office_values(registry, jakpus, "id")["short_name"] == jakpus.short_name
    renamed = jakpus.model_copy(update={"short_name": "Kanim Contoh"})
    assert office_values(registry, renamed, "id")["short_name"] == "Kanim Contoh"
    assert office_values(registry, jakpus, "en")["hours"] == render_hours(jakpus.hours, "en")
