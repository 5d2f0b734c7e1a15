"""The status conversation as a pure function (no Kafka, no Redis)."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang.messages import ButtonsContent, Intent, Service, Stage, TextContent, Understanding
from gerbang.offices import OfficeRegistry
from gerbang_status.conversation import (
    OPTIN_PREFIX,
    Ask,
    Cancel,
    GiveUp,
    OptIn,
    Outcome,
    Query,
    converse,
    neutral_text,
    read_turn,
)
from gerbang_status.lockout import LockState

from .conftest import make_record

NOW = dt.datetime(2025, 11, 25, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB
TODAY = NOW.date()
NUMBER = "1234567890123"
DOB = dt.date(1990, 5, 12)


@pytest.fixture
def records() -> dict[str, object]:
    return {
        NUMBER: make_record(NUMBER, "jakpus", Stage.READY_FOR_PICKUP),
        "BGR000111": make_record("BGR000111", "bogor", Stage.PRINTED),
        "7777777777": make_record(
            "7777777777", "jakpus", Stage.NEEDS_ACTION, note="Foto KK kurang jelas, bawa KK asli."
        ),
        "8888888888": make_record("8888888888", "jakpus", Stage.PICKED_UP),
    }


def talk(registry: OfficeRegistry, records: dict[str, object], text: str | None, **kw: object):
    return converse(
        text, office=registry.get("jakpus"), registry=registry, records=records, now=NOW, **kw
    )


def test_cek_status_asks_for_number_and_birth_date(registry, records) -> None:
    reply = talk(registry, records, "cek status")
    assert "nomor permohonan" in reply.text and "tanggal lahir" in reply.text
    assert reply.expect is not None and reply.expect.service is Service.STATUS
    assert reply.outcome is None


def test_two_messages_carry_the_partial_in_the_context(registry, records) -> None:
    first = talk(registry, records, NUMBER, context={"asks": 1}, expected=True)
    assert "tanggal lahir" in first.text
    assert first.expect is not None and first.expect.context["application_no"] == NUMBER
    second = talk(registry, records, "12 mei 90", context=first.expect.context, expected=True)
    assert second.outcome is Outcome.FOUND
    assert "Siap diambil" in second.text


def test_date_first_then_number(registry, records) -> None:
    first = talk(registry, records, "lahir 12/05/1990", expected=True)
    assert first.expect is not None and first.expect.context["date_of_birth"] == "1990-05-12"
    second = talk(registry, records, "1234-5678-90123", context=first.expect.context, expected=True)
    assert second.outcome is Outcome.FOUND


def test_context_is_ignored_unless_we_asked_for_this_message(registry, records) -> None:
    reply = talk(registry, records, "12-05-1990", context={"application_no": NUMBER})
    assert reply.outcome is None  # asks for the number again


def test_found_shows_stage_next_step_and_optin_button(registry, records) -> None:
    reply = talk(registry, records, f"no permohonan {NUMBER} lahir 12-05-1990")
    assert reply.outcome is Outcome.FOUND
    [content] = reply.contents
    assert isinstance(content, ButtonsContent)
    assert content.buttons[0].id == f"{OPTIN_PREFIX}{NUMBER}"
    assert (
        "30 hari" in content.body and "KTP" in content.body and "bukti pembayaran" in content.body
    )
    assert reply.offer_optin == NUMBER


def test_found_in_english(registry, records) -> None:
    reply = talk(registry, records, f"{NUMBER} 12 May 1990", lang="en")
    assert "Ready for pickup" in reply.text and "30 days" in reply.text
    assert reply.contents[0].buttons[0].title == "Notify me"  # type: ignore[union-attr]


def test_needs_action_shows_the_office_note(registry, records) -> None:
    reply = talk(registry, records, "7777777777 12-05-1990")
    assert "Foto KK kurang jelas" in reply.text


def test_final_stage_offers_no_optin(registry, records) -> None:
    reply = talk(registry, records, "8888888888 12-05-1990")
    assert isinstance(reply.contents[0], TextContent)
    assert reply.offer_optin is None


def test_other_office_gets_a_pointer_without_details(registry, records) -> None:
    reply = talk(registry, records, "BGR000111 12-05-1990")
    bogor = registry.get("bogor")
    assert reply.outcome is Outcome.OTHER_OFFICE
    assert bogor.name in reply.text and bogor.service_name in reply.text
    assert "+62 811-0000-0002" in reply.text
    assert "dicetak" not in reply.text.lower() and "Siti" not in reply.text
    assert reply.offer_optin is None


def test_wrong_birth_date_and_unknown_number_answer_the_same(registry, records) -> None:
    wrong_dob = talk(registry, records, f"{NUMBER} 13-05-1990")
    unknown = talk(registry, records, "9999999999999 12-05-1990")
    other_office_wrong_dob = talk(registry, records, "BGR000111 13-05-1990")
    assert wrong_dob.outcome is unknown.outcome is Outcome.NOT_FOUND_OR_MISMATCH
    assert wrong_dob.contents == unknown.contents == other_office_wrong_dob.contents
    assert wrong_dob.text == neutral_text("id", registry.get("jakpus"), registry)
    assert wrong_dob.expect == unknown.expect


def test_locked_says_when_to_try_again(registry, records) -> None:
    reply = talk(registry, records, f"{NUMBER} 12-05-1990", lock=LockState(wa_id_seconds=1800))
    assert reply.outcome is Outcome.LOCKED
    assert "10:30 WIB" in reply.text and "Siap" not in reply.text


def test_invalid_date_is_explained(registry, records) -> None:
    reply = talk(registry, records, f"{NUMBER} 31-02-1990")
    assert "tidak valid" in reply.text
    assert reply.expect is not None and reply.expect.context["application_no"] == NUMBER


def test_cancel_and_give_up(registry, records) -> None:
    assert isinstance(read_turn("batal", None, {}, expected=True, today=TODAY), Cancel)
    for text in ("gak jadi deh", "keluar aja kak", "Cancel!"):  # the lexicon's cancel
        assert isinstance(read_turn(text, None, {}, expected=True, today=TODAY), Cancel), text
    assert not isinstance(read_turn("batal 1234", None, {}, expected=True, today=TODAY), Cancel)
    assert talk(registry, records, "batal", expected=True).expect is None
    assert isinstance(read_turn("hmm", None, {"asks": 2}, expected=True, today=TODAY), GiveUp)
    assert isinstance(read_turn("hmm", None, {"asks": 1}, expected=True, today=TODAY), Ask)


def test_asked_where_the_number_is_says_where_and_keeps_waiting(registry, records) -> None:
    """ "gatau nomornya dimana" is a question, not a failed answer: where to find the number,
    the prompt still waiting, and it does not count towards giving up."""
    step = read_turn("gatau nomornya dimana", None, {"asks": 2}, expected=True, today=TODAY)
    assert step == Ask(None, None, asks=2, where_number=True)
    reply = talk(registry, records, "gatau nomornya dimana", context={"asks": 1}, expected=True)
    assert "tanda terima" in reply.text and "Kanim Jakarta Pusat" in reply.text
    assert reply.expect is not None and reply.expect.service is Service.STATUS
    english = talk(registry, records, "where do I find the application number?", lang="en")
    assert "receipt" in english.text
    # With the date given already, the question keeps it.
    kept = read_turn(
        "lupa no permohonannya", None, {"date_of_birth": "1990-05-12"}, expected=True, today=TODAY
    )
    assert kept == Ask(None, DOB, asks=0, where_number=True)


def test_the_invitation_to_be_notified_expects_a_typed_answer(registry, records) -> None:
    """ "Ingin dikabari …? Tekan Kabari saya" asks a question: "ya" typed is the tap, "gak
    usah" a polite no, and the router keeps only those (and numbers) for the status service."""
    from gerbang import dialogue

    found = talk(registry, records, f"{NUMBER} 12-05-1990")
    assert found.offer_optin == NUMBER
    assert found.expect is not None and found.expect.context == {"optin": NUMBER}
    context = found.expect.context
    assert read_turn("iya mau", None, context, expected=True, today=TODAY) == OptIn(NUMBER)
    assert read_turn("ok kak", None, context, expected=True, today=TODAY) == OptIn(NUMBER)
    declined = talk(registry, records, "gak usah", context=context, expected=True)
    assert "tidak akan mengirim kabar" in declined.text and declined.expect is None
    # Not expected (the invitation expired): "ya" is no opt-in.
    assert not isinstance(read_turn("ya", None, context, expected=False, today=TODAY), OptIn)
    answers = [("ya", True), ("gak usah", True), ("ok", True), ("makasih", False),
               ("jam buka kantor?", False), ("1234567890123 12-05-1990", True)]  # fmt: skip
    for text, fits in answers:
        assert (
            dialogue.fits_expectation(
                Service.STATUS,
                context,
                text,
                Understanding(intent=Intent.MENU, confidence=0.9),
                dialogue.DialogueSettings(),
            )
            is fits
        ), text


def test_read_turn_steps() -> None:
    assert read_turn(f"{NUMBER} 12-05-1990", None, {}, expected=False, today=TODAY) == Query(
        NUMBER, DOB
    )
    assert read_turn(None, f"{OPTIN_PREFIX}{NUMBER}", {}, expected=False, today=TODAY) == OptIn(
        NUMBER
    )


def test_optin_needs_an_application_of_this_office(registry, records) -> None:
    ok = talk(registry, records, "Kabari saya", reply_id=f"{OPTIN_PREFIX}{NUMBER}")
    assert NUMBER in ok.text and "kabar" in ok.text.lower()
    refused = talk(registry, records, "Kabari saya", reply_id=f"{OPTIN_PREFIX}BGR000111")
    assert "cek status" in refused.text
    assert "BGR000111" not in refused.text
