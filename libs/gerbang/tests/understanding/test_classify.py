"""The intent matcher's decisions: shortcuts, numbers, scam signals, offices, properties."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbang.messages import MENU_ROWS, Intent
from gerbang.offices import FaqAnswer, LocalizedText, OfficeRegistry
from gerbang.understanding import IntentMatcher
from gerbang.understanding.bench import bench
from gerbang.understanding.classify import (
    extract_phone_numbers,
    looks_like_application_no,
    names_other_domain,
)
from gerbang.understanding.normalize import analyze


@pytest.mark.parametrize(("row_id", "intent"), MENU_ROWS)
def test_menu_reply_id_wins_with_full_confidence(
    matcher: IntentMatcher, row_id: str, intent: Intent
) -> None:
    result = matcher.understand("Biaya", reply_id=row_id)
    assert (result.intent, result.confidence) == (intent, 1.0)


def test_unknown_reply_id_falls_back_to_the_text(matcher: IntentMatcher) -> None:
    result = matcher.understand("syarat paspor anak", reply_id="some-service-button")
    assert result.intent is Intent.FAQ_REQUIREMENTS


@pytest.mark.parametrize("position", range(1, len(MENU_ROWS) + 1))
def test_bare_number_picks_menu_row(matcher: IntentMatcher, position: int) -> None:
    for text in (str(position), f" {position}. ", f"pilih {position}"):
        result = matcher.understand(text)
        assert result.intent is MENU_ROWS[position - 1][1], text
        assert result.confidence == 1.0


@pytest.mark.parametrize("text", ["0", "11", "99"])
def test_number_outside_the_menu_is_not_a_row(matcher: IntentMatcher, text: str) -> None:
    assert matcher.understand(text).intent in {Intent.FALLBACK, Intent.MENU}


@pytest.mark.parametrize(
    "text",
    ["halo", "P", "menu", "Assalamualaikum min", "selamat sore kak", "🙏", ""],
)
def test_greetings_and_preambles_get_the_menu(matcher: IntentMatcher, text: str) -> None:
    assert matcher.understand(text).intent is Intent.MENU


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("cek nomor 081230030440", ("6281230030440",)),
        ("0812-3003-0440 resmi?", ("6281230030440",)),
        ("+62 812 3003 0440", ("6281230030440",)),
        ("62 812.3003.0440", ("6281230030440",)),
        ("+62-811-8539-333", ("628118539333",)),
        ("(0811) 8539 333", ("628118539333",)),
        ("0062 811 8539 333", ("628118539333",)),
        ("812 3003 0440", ("6281230030440",)),
        ("tahun 2024 0812 3003 0440", ("6281230030440",)),
        ("dua nomor: 08118539333 dan +6281399679966", ("628118539333", "6281399679966")),
        ("+60 12-345 6789", ("60123456789",)),
        ("kode billing 820241234567890", ()),
        ("paspor 10 tahun rp 650.000", ()),
        ("tanggal 17-12-2024", ()),
    ],
)
def test_phone_numbers_in_every_format(text: str, numbers: tuple[str, ...]) -> None:
    found, rest = extract_phone_numbers(text)
    assert found == numbers
    for number in numbers:
        assert number[-4:] not in rest.replace(" ", "").replace("-", "").replace(".", "")


def test_number_check_is_official_channels_with_numbers(matcher: IntentMatcher) -> None:
    result = matcher.understand("min ini nomor 0812-3003-0440 beneran imigrasi?")
    assert result.intent is Intent.FAQ_OFFICIAL_CHANNELS
    assert result.phone_numbers == ("6281230030440",)
    assert "0440" not in result.normalized  # numbers never reach logs through `normalized`


def test_own_number_in_a_complaint_is_not_a_number_check(matcher: IntentMatcher) -> None:
    result = matcher.understand("petugas kasar sekali, hubungi saya di 081234567890")
    assert result.intent is Intent.FEEDBACK_COMPLAINT
    assert result.phone_numbers == ("6281234567890",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2J0JP1234567", True),
        ("JKP-2024-000123", True),
        ("123456789012", True),
        ("081230030440", False),
        ("paspor 10 tahun", False),
        ("e-paspor", False),
    ],
)
def test_application_number_shape(text: str, expected: bool) -> None:
    assert looks_like_application_no(text) is expected


@pytest.mark.parametrize(
    ("text", "signals", "intent"),
    [
        ("ada calo nawarin bikin paspor, resmi gak?", ("calo",), Intent.FAQ_OFFICIAL_CHANNELS),
        ("bisa lewat jalur belakang biar cepet?", ("jalur_cepat",), Intent.FAQ_OFFICIAL_CHANNELS),
        ("katanya ada ordal, aman ga", ("orang_dalam",), Intent.FAQ_OFFICIAL_CHANNELS),
        (
            "disuruh transfer ke rekening atas nama pribadi, benar?",
            ("personal_account",),
            Intent.FAQ_OFFICIAL_CHANNELS,
        ),
        # "is WhatsApp registration real?" is official channels (data/LABELS.md).
        (
            "bisa daftar paspor via whatsapp?",
            ("whatsapp_registration",),
            Intent.FAQ_OFFICIAL_CHANNELS,
        ),
        ("biaya paspor berapa", (), Intent.FAQ_FEES),
        ("bayar lewat transfer bank bisa?", (), Intent.FAQ_PAYMENT),
    ],
)
def test_scam_signals(
    matcher: IntentMatcher, text: str, signals: tuple[str, ...], intent: Intent
) -> None:
    result = matcher.understand(text)
    assert result.scam_signals == signals
    assert result.intent is intent


@pytest.mark.parametrize(
    ("text", "intent", "subtopic"),
    [
        ("syarat paspor untuk balita", Intent.FAQ_REQUIREMENTS, "minor"),
        ("syarat perpanjang paspor", Intent.FAQ_REQUIREMENTS, "renewal"),
        ("paspor untuk jadi PMI syaratnya", Intent.FAQ_REQUIREMENTS, "work_abroad"),
        ("dokumen paspor haji", Intent.FAQ_REQUIREMENTS, "umrah"),
        ("nama di akta beda dengan ktp", Intent.FAQ_REQUIREMENTS, "name_mismatch"),
        ("syarat paspor", Intent.FAQ_REQUIREMENTS, None),
        ("paspor saya hilang", Intent.FAQ_LOST_DAMAGED, "lost"),
        ("paspor sobek", Intent.FAQ_LOST_DAMAGED, "damaged"),
        ("biaya paspor anak", Intent.FAQ_FEES, None),
    ],
)
def test_subtopics(matcher: IntentMatcher, text: str, intent: Intent, subtopic: str | None) -> None:
    result = matcher.understand(text)
    assert (result.intent, result.subtopic) == (intent, subtopic)


@pytest.mark.parametrize(
    ("text", "office_code", "other"),
    [
        ("kanim bogor buka jam berapa", "jakpus", "bogor"),
        ("imigrasi batam alamatnya dimana", "jakpus", "batam"),
        ("Kantor Imigrasi Kelas I Non TPI Jakarta Pusat dimana", "bogor", "jakpus"),
        ("daftar di kanim jakpus", "bogor", "jakpus"),
        ("kanim bogor buka jam berapa", "bogor", None),  # the office written to
        ("saya tinggal di bogor, syarat paspor apa", "jakpus", None),  # a place, not an office
    ],
)
def test_other_office(
    matcher: IntentMatcher, text: str, office_code: str, other: str | None
) -> None:
    assert matcher.understand(text, office_code=office_code).other_office == other


@pytest.mark.parametrize("text", ["kak mau tny", "mau nanya soal paspor dong", "???"])
def test_a_question_without_a_topic_is_a_fallback(matcher: IntentMatcher, text: str) -> None:
    """LABELS.md: "tanya dong" is about passports but too vague to route."""
    assert matcher.understand(text).intent is Intent.FALLBACK


def test_office_examples_extend_the_training_data(registry: OfficeRegistry) -> None:
    jakpus = registry.get("jakpus")
    answer = FaqAnswer(
        text=LocalizedText(id="Jawaban."),
        source="test",
        verified_on=dt.date(2025, 1, 1),
        examples=["gimana kalau mau urus SPLP", "urus splp di mana", "splp hilang paspor"],
    )
    with_examples = OfficeRegistry.build(
        registry.national,
        [jakpus.model_copy(update={"faq": {"lost": answer}})]
        + [office for office in registry if office.code != "jakpus"],
    )
    plain = IntentMatcher.from_registry(registry)["jakpus"]
    extended = IntentMatcher.from_registry(with_examples)["jakpus"]
    text = "mau urus splp"
    assert plain.understand(text).intent is not Intent.FAQ_LOST_DAMAGED
    assert extended.understand(text).intent is Intent.FAQ_LOST_DAMAGED
    assert set(IntentMatcher.from_registry(registry)) == {office.code for office in registry}


def test_unknown_example_topic_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown FAQ topic"):
        IntentMatcher(examples={"visa": ["cara bikin visa"]})


def test_threshold_sends_weak_matches_to_fallback() -> None:
    strict = IntentMatcher(threshold=1.0)
    assert strict.understand("biaya").intent is Intent.FALLBACK
    assert strict.understand("2").intent is Intent.FAQ_FEES  # menu choices are not guesses


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), reply_id=st.none() | st.text(max_size=30))
def test_understand_never_raises(matcher: IntentMatcher, text: str, reply_id: str | None) -> None:
    result = matcher.understand(text, reply_id=reply_id, office_code="jakpus")
    assert isinstance(result.intent, Intent)
    assert 0.0 <= result.confidence <= 1.0
    assert result.language in ("id", "en")


_CHAT = st.lists(
    st.sampled_from(
        "paspor syarat brp biaya bayar ambil hilang rusak jam buka alamat status cek nomor "
        "resmi calo terima kasih kecewa saran 0812-3003-0440 +62 811 kanim bogor anak ? ! "
        "min kak halo 3 10 how much passport lost my".split()
    ),
    max_size=15,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=_CHAT)
def test_understand_on_chat_like_text(matcher: IntentMatcher, text: str) -> None:
    result = matcher.understand(text)
    assert 0.0 <= result.confidence <= 1.0
    assert all(number.isdigit() for number in result.phone_numbers)


def test_bench_reports_throughput() -> None:
    """`make bench` reads `messages_per_second`; the speed target itself lives in the bench."""
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    result = bench(seconds=0.1)
    assert result["messages"] > 0
    assert result["messages_per_second"] > 0
    assert result["heap_settled"] is True
    # settled as the router's heap is, for the measurement only
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() <= frozen


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("english please", "en"),
        ("English", "en"),
        ("Can you speak English?", "en"),
        ("in english pls", "en"),
        ("bahasa inggris aja min", "en"),
        ("bahasa indonesia aja", "id"),
        ("pakai bahasa indonesia dong", "id"),
    ],
)
def test_asking_for_a_language_switches_it_and_shows_the_menu(
    matcher: IntentMatcher, text: str, language: str
) -> None:
    result = matcher.understand(text)
    assert (result.intent, result.language, result.language_requested) == (
        Intent.MENU,
        language,
        True,
    )


@pytest.mark.parametrize(
    "text", ["paspor indonesia", "english passport fee", "bahasa", "indonesia english", "halo"]
)
def test_messages_about_other_things_are_not_language_requests(
    matcher: IntentMatcher, text: str
) -> None:
    assert not matcher.understand(text).language_requested


def test_two_topics_nearly_tied_are_asked_not_guessed() -> None:
    from gerbang.understanding.classify import _ask

    fees, payment, ood = Intent.FAQ_FEES, Intent.FAQ_PAYMENT, Intent.OUT_OF_DOMAIN
    assert _ask(fees, 0.55, [(fees, 0.55), (payment, 0.40), (ood, 0.05)], 0.35, 0.2)
    assert not _ask(fees, 0.55, [(fees, 0.55), (payment, 0.3), (ood, 0.1)], 0.35, 0.2)  # lead
    assert _ask(fees, 0.3, [(fees, 0.3), (ood, 0.2)], 0.35, 0.2)  # not likely enough
    assert not _ask(fees, 0.45, [(fees, 0.45), (ood, 0.44)], 0.35, 0.2)  # no second topic
    assert not _ask(
        Intent.FEEDBACK_COMPLAINT,
        0.5,
        [(Intent.FEEDBACK_COMPLAINT, 0.5), (payment, 0.45)],
        0.35,
        0.2,
    )  # feedback is not offered as a clarify button


@pytest.mark.parametrize(
    ("text", "names"),
    [("berapa ongkir jne ke bandung", True), ("is it going to rain today", True),
     ("cara perpanjang sim a", True), ("kemaren ilang di bandara", False),
     ("mine already expired last year", False)],
)  # fmt: skip
def test_out_of_domain_readings_say_whether_they_name_another_service(
    matcher: IntentMatcher, text: str, names: bool
) -> None:
    """`other_domain` keeps "this line only handles passports" for messages that name what
    they are about; one that names nothing else is read against the conversation."""
    understanding = matcher.understand(text)
    assert names_other_domain(analyze(text)) is names
    if understanding.intent is Intent.OUT_OF_DOMAIN:
        assert understanding.other_domain is names
        assert all(
            not i.value.startswith(("menu", "fallback")) for i, _ in understanding.alternatives
        )
    else:
        assert understanding.other_domain is False
