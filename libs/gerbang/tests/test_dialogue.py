"""The conversation layer (`gerbang.dialogue`, `gerbang.routing.decide`, `gerbang.offline`):
pure, table-driven, and the scenarios of tests/fixtures/nlu/scenarios.yaml offline.

The scenarios run with the real understanding (the trained classifier): what a citizen
would get.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gerbang import dialogue, words
from gerbang.dialogue import (
    DialogueSettings,
    LastTopic,
    OpenTicket,
    details_of,
    load_scenarios,
)
from gerbang.faq.answers import compose
from gerbang.messages import InboundKind, InboundMessage, Intent, Service, Understanding
from gerbang.offices import OfficeRegistry, default_offices_dir, load_registry
from gerbang.offline import OfflineLine, reply_text
from gerbang.routing import DialogueView, decide
from gerbang.understanding import IntentMatcher

SCENARIOS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "nlu" / "scenarios.yaml"
SETTINGS = DialogueSettings()


@pytest.fixture(scope="module")
def registry() -> OfficeRegistry:
    return load_registry(default_offices_dir())


@pytest.fixture(scope="module")
def matcher(registry: OfficeRegistry) -> IntentMatcher:
    return IntentMatcher.from_registry(registry)["jakpus"]


def u(intent: Intent, confidence: float = 0.9, **fields: Any) -> Understanding:
    return Understanding(intent=intent, confidence=confidence, **fields)


def message(text: str | None = "x", reply_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        message_id="wamid.1",
        timestamp=dt.datetime.now(dt.UTC),
        kind=InboundKind.INTERACTIVE if reply_id else InboundKind.TEXT,
        text=text,
        reply_id=reply_id,
    )


FEES = LastTopic(Intent.FAQ_FEES, {}, 1000.0)


# --- follow-ups ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("situation", "topic", "understanding", "intent", "details"),
    [
        ("flagged follow-up takes the topic", FEES,
         u(Intent.FALLBACK, 0.2, followup=True, validity_years=10), Intent.FAQ_FEES,
         {"validity_years": 10}),
        ("low confidence with details is a follow-up", FEES,
         u(Intent.FALLBACK, 0.3, passport_kind="e_paspor"), Intent.FAQ_FEES,
         {"passport_kind": "e_paspor"}),
        ("a child, asked after fees, is the age group", FEES,
         u(Intent.FAQ_REQUIREMENTS, 0.48, subtopic="minor"), Intent.FAQ_FEES,
         {"age_group": "minor"}),
        ("a child, asked after requirements, is the subtopic",
         LastTopic(Intent.FAQ_REQUIREMENTS, {}, 1000.0),
         u(Intent.FALLBACK, 0.2, followup=True, age_group="minor"), Intent.FAQ_REQUIREMENTS,
         {"subtopic": "minor", "age_group": "minor"}),
        ("details merge, the new win",
         LastTopic(Intent.FAQ_FEES, {"passport_kind": "e_paspor", "validity_years": 10}, 1000.0),
         u(Intent.FALLBACK, 0.2, followup=True, validity_years=5), Intent.FAQ_FEES,
         {"passport_kind": "e_paspor", "validity_years": 5}),
        ("a confident new topic is not a follow-up", FEES,
         u(Intent.FAQ_PAYMENT, 0.72), Intent.FAQ_PAYMENT, {}),
        ("no details, no follow-up", FEES, u(Intent.FALLBACK, 0.2), Intent.FALLBACK, {}),
        ("the same topic again keeps the details",
         LastTopic(Intent.FAQ_FEES, {"passport_kind": "e_paspor"}, 1000.0),
         u(Intent.FAQ_FEES, 0.9, validity_years=10), Intent.FAQ_FEES,
         {"passport_kind": "e_paspor", "validity_years": 10}),
        ("feedback is never a follow-up", FEES,
         u(Intent.FEEDBACK_COMPLAINT, 0.5, age_group="elderly"), Intent.FEEDBACK_COMPLAINT,
         {"age_group": "elderly"}),
        ("a short question of another topic keeps the details that apply to it",
         LastTopic(Intent.FAQ_LOST_DAMAGED, {"subtopic": "lost"}, 1000.0),
         u(Intent.FAQ_FEES, 0.99, normalized="biayanya"), Intent.FAQ_FEES,
         {"subtopic": "lost"}),
        ("a child's requirements, then the fee: the child's fee",
         LastTopic(Intent.FAQ_REQUIREMENTS, {"subtopic": "minor"}, 1000.0),
         u(Intent.FAQ_FEES, 0.99, normalized="biayanya berapa"), Intent.FAQ_FEES,
         {"age_group": "minor"}),
        ("a long question of another topic says what it means by itself",
         LastTopic(Intent.FAQ_LOST_DAMAGED, {"subtopic": "lost"}, 1000.0),
         u(Intent.FAQ_FEES, 0.99, normalized="berapa biaya bikin paspor baru untuk kerja"),
         Intent.FAQ_FEES, {}),
        ("a detail that does not apply to the new topic stays behind",
         LastTopic(Intent.FAQ_LOST_DAMAGED, {"subtopic": "lost"}, 1000.0),
         u(Intent.FAQ_PAYMENT, 0.99, normalized="bayarnya gimana"), Intent.FAQ_PAYMENT, {}),
        ("a child named after another variant: the child's requirements",
         LastTopic(Intent.FAQ_REQUIREMENTS, {"subtopic": "umrah"}, 1000.0),
         u(Intent.OUT_OF_DOMAIN, 0.8, followup=True, age_group="minor"),
         Intent.FAQ_REQUIREMENTS, {"subtopic": "minor", "age_group": "minor"}),
        ("out of the domain naming nothing else, mid-conversation: not understood",
         LastTopic(Intent.FAQ_REQUIREMENTS, {"subtopic": "renewal"}, 1000.0),
         u(Intent.OUT_OF_DOMAIN, 0.9, normalized="kemaren hilang di bandara"),
         Intent.FALLBACK, {}),
        ("out of the domain naming nothing else, a topic likely enough: that topic, read "
         "against the last one (the damaged passport's fee)",
         LastTopic(Intent.FAQ_LOST_DAMAGED, {"subtopic": "damaged"}, 1000.0),
         u(Intent.OUT_OF_DOMAIN, 0.68, normalized="dendanya berapa",
           alternatives=((Intent.FAQ_FEES, 0.19), (Intent.FAQ_LOST_DAMAGED, 0.005))),
         Intent.FAQ_FEES, {"subtopic": "damaged"}),
        ("out of the domain naming another service stands",
         LastTopic(Intent.FAQ_FEES, {}, 1000.0),
         u(Intent.OUT_OF_DOMAIN, 0.9, other_domain=True, normalized="ongkir jne ke bandung"),
         Intent.OUT_OF_DOMAIN, {}),
        ("documents asked after collecting: collecting's",
         LastTopic(Intent.FAQ_PICKUP, {}, 1000.0),
         u(Intent.FAQ_REQUIREMENTS, 0.8, normalized="what does he need to bring"),
         Intent.FAQ_PICKUP, {}),
        ("documents asked after a lost passport: the lost passport's",
         LastTopic(Intent.FAQ_LOST_DAMAGED, {"subtopic": "lost"}, 1000.0),
         u(Intent.FAQ_REQUIREMENTS, 0.9, normalized="syarat apa saja"),
         Intent.FAQ_LOST_DAMAGED, {"subtopic": "lost"}),
        ("a child's documents after collecting: the child's requirements",
         LastTopic(Intent.FAQ_PICKUP, {}, 1000.0),
         u(Intent.FAQ_REQUIREMENTS, 0.9, subtopic="minor", normalized="syarat anak"),
         Intent.FAQ_REQUIREMENTS, {"subtopic": "minor"}),
        ("out of the domain with no conversation stands", None,
         u(Intent.OUT_OF_DOMAIN, 0.9, normalized="kemaren hilang di bandara"),
         Intent.OUT_OF_DOMAIN, {}),
        ("what happened to one message is not inherited by the next of its topic",
         LastTopic(Intent.FAQ_PAYMENT, {"subtopic": "unconfirmed"}, 1000.0),
         u(Intent.FAQ_PAYMENT, 0.99, normalized="cara bayar gimana"), Intent.FAQ_PAYMENT, {}),
        ("no topic, nothing to follow", None,
         u(Intent.FALLBACK, 0.2, followup=True, validity_years=10), Intent.FALLBACK,
         {"validity_years": 10}),
    ],
)  # fmt: skip
def test_followups_resolve_against_the_last_topic(
    situation: str,
    topic: LastTopic | None,
    understanding: Understanding,
    intent: Intent,
    details: dict[str, Any],
) -> None:
    resolved = dialogue.resolve_followup(understanding, topic, SETTINGS)
    assert (resolved.intent, details_of(resolved)) == (intent, details), situation


def test_an_old_topic_is_forgotten() -> None:
    assert dialogue.live_topic(FEES, FEES.at + SETTINGS.context_s + 1, SETTINGS) is None
    assert dialogue.live_topic(FEES, FEES.at + 10, SETTINGS) == FEES


# --- what a message is in the conversation ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("kalo diwakilin keluarga bisa ga", True),
        ("kantor buka jam berapa", True),
        ("syaratnya apa aja?", True),
        ("can my family pick it up", True),
        ("what documents do I need", True),
        ("kejadiannya td jam 10 di loket 2", False),
        ("antri dari subuh, nomor antrean dilewati terus", False),
        ("it happened around 10am this morning", False),
        ("she was wearing a blue uniform", False),
    ],
)
def test_questions_and_statements(text: str, asks: bool, matcher: IntentMatcher) -> None:
    assert dialogue.asks_question(text, matcher.understand(text)) is asks


@pytest.mark.parametrize(
    ("text", "thanks"),
    [("makasih ya", True), ("ok thanks", True), ("terima kasih banyak kak", True),
     ("makasih, tapi petugasnya tetap kasar", False), ("loket 2", False)],
)  # fmt: skip
def test_only_thanks(text: str, thanks: bool, matcher: IntentMatcher) -> None:
    said = dialogue.closing(text, matcher.understand(text), after_answer=False)
    assert (said == "thanks") is thanks


@pytest.mark.parametrize(
    ("text", "after_answer", "closing"),
    [("terima kasih ya", False, "thanks"), ("ok makasih bnyk kak", True, "thanks"),
     ("oke siap", True, "ack"), ("sip kak", True, "ack"), ("noted, thanks", True, "thanks"),
     ("oke siap", False, None), ("ok syaratnya apa", True, None),
     ("makasih, tapi petugasnya kasar", True, None)],
)  # fmt: skip
def test_a_closing_is_told_from_a_new_start(
    text: str, after_answer: bool, closing: str | None, matcher: IntentMatcher
) -> None:
    assert dialogue.closing(text, matcher.understand(text), after_answer=after_answer) == closing


@pytest.mark.parametrize(
    ("text", "expecting_status", "asks"),
    [("gatau nomornya dimana", True, True), ("lupa no permohonannya kak", False, True),
     ("nomor permohonan itu apa ya", False, True), ("ga punya nomor permohonan", False, True),
     ("where do i find the application number?", False, True),
     ("i don't know my number", True, True),
     ("nomornya dimana ya", False, False),  # no prompt waits, nothing says "application"
     ("nomor permohonan 2345678901234567", True, False),  # an answer, not a question
     ("apakah nomor 081299887766 resmi?", False, False),
     ("kalo diwakilin keluarga bisa ga", True, False)],
)  # fmt: skip
def test_a_question_about_the_application_number(
    text: str, expecting_status: bool, asks: bool, matcher: IntentMatcher
) -> None:
    understanding = matcher.understand(text)
    assert (
        dialogue.asks_for_the_number(text, understanding, expecting_status=expecting_status) is asks
    )


def test_a_bare_yes_or_no_in_the_word_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="quote it"):
        words._all_strings({"filler": ["ok", True]}, "dialogue_words.yaml")
    with pytest.raises(ValueError, match="quote it"):
        words._all_strings({"answers": {True: ["ya"]}}, "dialogue_words.yaml")
    assert "no" in dialogue._words().number and "yes" in dialogue._words().filler
    assert words.is_yes("yes") and words.is_no("no")


TICKET = OpenTicket("JKP-2026-000007", "complaint", 1000.0)


@pytest.mark.parametrize(
    ("text", "understanding", "adds"),
    [
        ("kejadiannya td jam 10 di loket 2", u(Intent.FAQ_HOURS_LOCATION, 0.45), True),
        ("petugasnya pakai baju batik", u(Intent.FALLBACK, 0.1), True),
        ("kantor buka jam berapa?", u(Intent.FAQ_HOURS_LOCATION, 0.9), False),
        ("makasih ya", u(Intent.FEEDBACK_APPRECIATION, 0.84), False),
        ("oke siap", u(Intent.FALLBACK, 0.3), False),  # an acknowledgement, not detail
        ("menu", u(Intent.MENU, 1.0), False),
        ("batal", u(Intent.FALLBACK, 0.1, cancel=True), False),
        ("saran saya buka hari sabtu", u(Intent.FEEDBACK_SUGGESTION, 0.9), False),
        ("mau lapor penipu 0812", u(Intent.FEEDBACK_SCAM_REPORT, 0.9), False),
    ],
)
def test_what_adds_to_a_ticket(text: str, understanding: Understanding, adds: bool) -> None:
    assert dialogue.adds_to_ticket(text, understanding, TICKET) is adds
    assert dialogue.adds_to_ticket(text, understanding, None) is False


def test_the_ticket_window_closes() -> None:
    assert dialogue.live_ticket(TICKET, TICKET.at + SETTINGS.ticket_s + 1, SETTINGS) is None


@pytest.mark.parametrize(
    ("expecting", "context", "text", "understanding", "fits"),
    [
        (Service.STATUS, {"asks": 1}, "2345678901234567", u(Intent.STATUS, 0.9), True),
        (Service.STATUS, {"asks": 1}, "kalo diwakilin keluarga bisa ga",
         u(Intent.FAQ_PICKUP, 0.7), False),
        (Service.STATUS, {"asks": 1}, "hmm", u(Intent.FALLBACK, 0.1), True),
        (Service.STATUS, {"asks": 2}, "wkwk", u(Intent.FALLBACK, 0.1), False),
        (Service.STATUS, {"asks": 1}, "batal", u(Intent.FALLBACK, 0.1, cancel=True), True),
        (Service.FEEDBACK, {"offer": "complaint"}, "antri dari subuh, dilewati terus",
         u(Intent.FAQ_REGISTRATION, 0.71), True),
        (Service.FEEDBACK, {"offer": "complaint"}, "berapa biaya paspor?",
         u(Intent.FAQ_FEES, 0.87), False),
        (Service.FEEDBACK, {"kind": "complaint"}, "menu", u(Intent.MENU, 1.0), False),
        (Service.FAQ, {}, "berapa biaya paspor", u(Intent.FAQ_FEES, 0.85), True),
        (Service.ROUTER, {"handoff_offer": "fallbacks"}, "syarat paspor",
         u(Intent.FAQ_REQUIREMENTS, 0.6), False),
        (Service.STATUS, {"asks": 1}, "biaya paspor berapa", u(Intent.FAQ_FEES, 0.85), False),
    ],
)  # fmt: skip
def test_a_prompt_keeps_its_answers_and_lets_questions_go(
    expecting: Service,
    context: dict[str, Any],
    text: str,
    understanding: Understanding,
    fits: bool,
) -> None:
    assert dialogue.fits_expectation(expecting, context, text, understanding, SETTINGS) is fits


@pytest.mark.parametrize(
    ("text", "understanding", "choice"),
    [
        ("yg pertama", u(Intent.FALLBACK, 0.0), Intent.FAQ_FEES),
        ("yang kedua aja", u(Intent.FALLBACK, 0.0), Intent.FAQ_PAYMENT),
        ("2", u(Intent.FAQ_FEES, 1.0), Intent.FAQ_PAYMENT),
        ("the first one", u(Intent.FALLBACK, 0.0), Intent.FAQ_FEES),
        ("cara bayarnya", u(Intent.FAQ_PAYMENT, 0.8), Intent.FAQ_PAYMENT),
        ("syarat paspor anak", u(Intent.FAQ_REQUIREMENTS, 0.9), None),
    ],
)
def test_clarify_is_answered_by_ordinal_or_topic(
    text: str, understanding: Understanding, choice: Intent | None
) -> None:
    options = [Intent.FAQ_FEES, Intent.FAQ_PAYMENT]
    assert dialogue.clarify_choice(text, understanding, options) is choice


# --- routing with the conversation ------------------------------------------------------


def test_a_detail_after_a_ticket_goes_to_the_ticket() -> None:
    view = DialogueView(None, TICKET, TICKET.at + 30, SETTINGS)
    text = "kejadiannya td jam 10 di loket 2"
    route = decide(
        message(text), u(Intent.FAQ_HOURS_LOCATION, 0.45), expecting=None, context=None,
        conversation=view,
    )  # fmt: skip
    assert (route.service, route.expected, route.appends_to) == (Service.FEEDBACK, True, TICKET)
    assert route.context == {dialogue.APPEND_KEY: TICKET.ticket, "kind": "complaint"}
    later = DialogueView(None, TICKET, TICKET.at + SETTINGS.ticket_s + 1, SETTINGS)
    route = decide(
        message(text), u(Intent.FAQ_HOURS_LOCATION, 0.45), expecting=None, context=None,
        conversation=later,
    )  # fmt: skip
    assert route.service is Service.FAQ and route.appends_to is None


def test_the_clarify_question_takes_a_typed_choice_or_lets_go() -> None:
    context = {dialogue.CLARIFY_KEY: ["faq:fees", "faq:payment"]}
    chosen = decide(message("yg kedua"), u(Intent.FALLBACK, 0.0), expecting=Service.FAQ,
                    context=context)  # fmt: skip
    assert (chosen.intent, chosen.expected) == (Intent.FAQ_PAYMENT, False)
    assert chosen.understanding is not None and chosen.understanding.intent is Intent.FAQ_PAYMENT
    other = decide(message("jam buka"), u(Intent.FAQ_HOURS_LOCATION, 0.9), expecting=Service.FAQ,
                   context=context)  # fmt: skip
    assert (other.intent, other.left_expectation) == (Intent.FAQ_HOURS_LOCATION, True)


# --- the FAQ's side: leads, out of domain, clarify --------------------------------------


@pytest.mark.parametrize(
    ("understanding", "first_line"),
    [
        (
            u(Intent.FAQ_FEES, passport_kind="e_paspor", validity_years=10),
            "e-paspor masa berlaku 10",
        ),
        (u(Intent.FAQ_FEES, validity_years=10), "masa berlaku 10 tahun"),
        (u(Intent.FAQ_FEES, age_group="minor"), "paspor anak"),
        (u(Intent.FAQ_FEES, passport_kind="biasa"), "paspor biasa"),
        (u(Intent.FAQ_REQUIREMENTS, age_group="minor"), "anak"),
        (u(Intent.FAQ_LOST_DAMAGED, subtopic="damaged"), "rusak"),
        (u(Intent.FAQ_LOST_DAMAGED, subtopic="lost"), "hilang"),
        (u(Intent.FAQ_PAYMENT, subtopic="unconfirmed"), "sudah bayar, tetapi status belum"),
    ],
)
def test_the_answer_leads_with_the_variant_asked(
    registry: OfficeRegistry, understanding: Understanding, first_line: str
) -> None:
    [content] = compose(registry, registry.get("jakpus"), understanding)
    text = reply_text(content)
    assert first_line in text.split("\n", 1)[0].lower()
    if understanding.intent is Intent.FAQ_FEES:  # then the whole table
        assert "Rp350.000" in text and "Rp950.000" in text
    if understanding.intent is Intent.FAQ_PAYMENT:  # then the ways to pay
        assert "Indomaret" in text and "BPN" in text


@pytest.mark.parametrize("lang", ["id", "en"])
def test_out_of_domain_is_said_honestly_with_the_menu(registry: OfficeRegistry, lang: str) -> None:
    [content] = compose(registry, registry.get("jakpus"), u(Intent.OUT_OF_DOMAIN, language=lang))
    assert content.type == "list"
    assert ("hanya melayani informasi paspor" if lang == "id" else "only handles passport") in (
        content.body
    )


def test_clarify_offers_the_two_likeliest_topics_as_buttons(registry: OfficeRegistry) -> None:
    understanding = u(
        Intent.FALLBACK, 0.3,
        alternatives=((Intent.FAQ_FEES, 0.3), (Intent.MENU, 0.2), (Intent.FAQ_PAYMENT, 0.2)),
    )  # fmt: skip
    [content] = compose(registry, registry.get("jakpus"), understanding)
    assert content.type == "buttons"
    assert [b.id for b in content.buttons] == ["faq:fees", "faq:payment"]
    assert "Maksud Anda: *Biaya paspor* / *Cara pembayaran*?" in content.body


# --- the scenarios, offline ---------------------------------------------------------------

ALL = load_scenarios(str(SCENARIOS))


def test_there_are_enough_scenarios_of_every_class() -> None:
    for name in dialogue.SCENARIO_CLASSES:
        langs = [s["lang"] for s in ALL if s["class"] == name]
        assert "id" in langs and "en" in langs, name
    assert len(ALL) >= 40


@pytest.mark.parametrize("scenario", ALL, ids=[s["name"] for s in ALL])
def test_scenario_offline(
    scenario: dict[str, Any], registry: OfficeRegistry, matcher: IntentMatcher
) -> None:
    """Every scenario passes offline with the real understanding (`make eval` counts them)."""
    line = OfflineLine(registry, scenario.get("office", "jakpus"), matcher=matcher)
    problems = dialogue.play_scenario(line, scenario)
    assert not problems, problems


def test_evaluate_reports_counts_and_failures(tmp_path: Path) -> None:
    bad = tmp_path / "one.yaml"
    bad.write_text(
        "scenarios:\n- name: wrong\n  class: followup\n  lang: id\n  turns:\n"
        "  - say: berapa biaya paspor\n    expect: {intent: 'faq:payment'}\n",
        encoding="utf-8",
    )
    report = dialogue.evaluate(str(bad))
    assert (report["scenarios"], report["passed"]) == (1, 0)
    assert report["failures"][0]["problems"] == ["turn 1: intent faq:fees != faq:payment"]


def test_a_ticket_detail_is_appended_and_told(registry: OfficeRegistry) -> None:
    clock = [1_000.0]
    line = OfflineLine(registry, "jakpus", clock=lambda: clock[0])
    first = line.send("petugas loket kasar banget tadi, bentak-bentak pemohon lansia")
    [record] = first.records
    clock[0] += 60
    second = line.send("kejadiannya td jam 10 di loket 2")
    assert [a.ticket for a in second.addenda] == [record.ticket]
    assert f"laporan *{record.ticket}*" in reply_text(second.replies[0].content)
    clock[0] += SETTINGS.ticket_s + 1  # past the window: a detail is no longer appended
    third = line.send("oh iya, loket 3 juga sama")
    assert not third.addenda


@pytest.mark.parametrize(
    ("text", "remembered", "language"),
    [("10 years?", "en", "en"), ("and for kids?", "en", "en"), ("ok", "en", "en"),
     ("yg 10 tahun", "en", "id"), ("biayanya?", "id", "id"), ("how much is it", "id", "en"),
     ("visa jepang", "en", "id"), ("thx a lot", "en", "en"), ("ok makasih", "en", "en"),
     ("thanks so much", "id", "id"), ("terima kasih banyak", None, "id")],
)  # fmt: skip
def test_a_short_follow_up_keeps_the_conversation_language(
    text: str, remembered: str, language: str, matcher: IntentMatcher
) -> None:
    """An English conversation's "10 years?" is answered in English; a message in the other
    language with words of its own switches."""
    understood = matcher.understand(text)
    assert dialogue.conversation_language(understood, remembered, text) == language  # type: ignore[arg-type]
