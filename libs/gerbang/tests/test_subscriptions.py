"""Opt-in and opt-out words for office announcements (pure): slang, typos, shouting, and
the messages that merely mention the words."""

from __future__ import annotations

import pytest

from gerbang.offices import load_registry
from gerbang.subscriptions import (
    NO_BUTTON_ID,
    STOP_BUTTON_ID,
    TEMPLATE_PARAMETER_LIMIT,
    YES_BUTTON_ID,
    Action,
    Request,
    announcement_template,
    decide,
    subscription_request,
)
from libs.gerbang.tests.test_cli import ask_lines
from tests.conftest import REPO

STOP = [
    "stop",
    "STOP!!",
    "Stop ya kak",
    "stopp",
    "berhenti",
    "berhentiii",
    "berhnti",
    "berhenti langganan",
    "berhenti berlangganan",
    "brenti",
    "gak mau lagi info",
    "ga mau terima info lagi",
    "nggak usah kirim pengumuman lagi",
    "jangan kirim info lagi dong",
    "tidak mau langganan",
    "batal langganan",
    "unsubscribe",
    "unsubcribe",
    "UNSUB",
    "opt out",
    "please stop sending me messages",
    "no more messages",
    "don't send me announcements anymore",
]
START = [
    "langganan info",
    "Langganan",
    "langgnan info dong",
    "mau berlangganan pengumuman",
    "saya mau langganan info kantor",
    "subscribe",
    "subcribe",
    "I want to subscribe",
    "subscribe to announcements please",
]
NEITHER = [
    "syarat paspor apa aja",
    "stop calo di kantor imigrasi, saya diminta bayar 2 juta",
    "berhenti kerja di luar negeri, paspor saya hilang",
    "tidak",
    "gak mau",
    "ya",
    "info",
    "kirim info dong",
    "menu",
    "batal",
    "berapa biaya paspor langganan",
    "",
]


@pytest.mark.parametrize("text", STOP)
def test_opt_out_is_recognised(text: str) -> None:
    assert subscription_request(text) is Request.STOP


@pytest.mark.parametrize("text", START)
def test_opt_in_is_recognised(text: str) -> None:
    assert subscription_request(text) is Request.START


@pytest.mark.parametrize("text", NEITHER)
def test_other_messages_are_left_to_the_bot(text: str) -> None:
    assert subscription_request(text) is None


def test_the_broadcast_template_names_the_office_and_fits_one_parameter() -> None:
    office = load_registry(REPO / "offices").get("jakpus")
    long_text = "Kantor tutup.\n" + "x" * 3000
    template = announcement_template(office, long_text, "en")
    assert template.name == "pengumuman_kantor" and template.language == "en"
    assert template.body_parameters[0] == office.short_name
    assert len(template.body_parameters[1]) == TEMPLATE_PARAMETER_LIMIT
    assert "\n" not in template.body_parameters[1]


@pytest.mark.parametrize(
    ("text", "reply_id", "offered", "action"),
    [
        ("langganan info", None, False, Action.OFFER),
        ("ya", None, True, Action.SUBSCRIBE),
        ("iya boleh", None, True, Action.SUBSCRIBE),
        ("ya", None, False, None),  # a "ya" to some other prompt
        ("gak usah", None, True, Action.DECLINE),
        ("Ya, langganan", YES_BUTTON_ID, False, Action.SUBSCRIBE),
        ("Tidak, terima kasih", NO_BUTTON_ID, False, Action.DECLINE),
        ("Berhenti langganan", STOP_BUTTON_ID, False, Action.UNSUBSCRIBE),
        ("stop", None, True, Action.UNSUBSCRIBE),
        ("berapa biaya paspor", None, True, None),  # leaves the question, asks the bot
        ("Biaya paspor", "faq:fees", True, None),  # another tap
    ],
)
def test_the_step_answers_the_question_typed_or_tapped(
    text: str, reply_id: str | None, offered: bool, action: Action | None
) -> None:
    assert decide(text, reply_id, offered=offered) is action


def test_gerbang_ask_answers_subscriptions_as_the_router_does(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    question, confirmed, fees, stopped = ask_lines(
        capsys, monkeypatch, "langganan info dong", "iya", "berapa biaya paspor", "STOP!!"
    )
    assert "pengumuman resmi" in question["reply"] and "[Ya, langganan]" in question["reply"]
    assert "Anda akan menerima pengumuman" in confirmed["reply"]
    assert fees["topic"] == "fees"
    assert "tidak akan menerima pengumuman" in stopped["reply"]
