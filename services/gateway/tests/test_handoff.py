"""Handoff decisions and texts (pure): when a conversation is held, forwarded, released."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang import handoff as texts
from gerbang.messages import (
    HandoffReason,
    InboundKind,
    InboundMessage,
    Intent,
    ReleaseReason,
    Understanding,
)
from gerbang_gateway.handoff import Action, HandoffState, decide, fallbacks_after, offered_reason
from tests.support.whatsapp import REGISTRY

JAKPUS = REGISTRY.get("jakpus")
BATAM = REGISTRY.get("batam")
NOW = 1_000_000.0
IDLE = 1800.0


def _message(text: str = "", reply_id: str | None = None, mid: str = "wamid.1") -> InboundMessage:
    return InboundMessage(
        office="jakpus",
        phone_number_id=JAKPUS.whatsapp.phone_number_id,
        wa_id="6281234567890",
        message_id=mid,
        timestamp=dt.datetime.now(dt.UTC),
        kind=InboundKind.INTERACTIVE if reply_id else InboundKind.TEXT,
        text=text,
        reply_id=reply_id,
    )


def _understood(intent: Intent) -> Understanding:
    return Understanding(intent=intent, confidence=0.9, language="id")


HELD = HandoffState(held=True, reason="asked", since=NOW - 60, last_at=NOW - 10, trigger="wamid.0")


A, R, N, U, M, NEW = Action, HandoffReason, Intent, _understood, _message, HandoffState()
YES, NO = texts.ACCEPT_BUTTON_ID, texts.DECLINE_BUTTON_ID


@pytest.mark.parametrize(
    ("message", "understanding", "state", "offered", "expected"),
    [
        (M("saya mau bicara dengan petugas"), U(N.HANDOFF), NEW, None, (A.HOLD, R.ASKED)),
        (M("Ya, ke petugas", YES), None, NEW, R.FALLBACKS, (A.HOLD, R.FALLBACKS)),
        (M("ya"), U(N.MENU), NEW, R.URGENT_COMPLAINT, (A.HOLD, R.URGENT_COMPLAINT)),
        (M("mau kak"), U(N.MENU), NEW, R.FALLBACKS, (A.HOLD, R.FALLBACKS)),
        (M("gak usah"), U(N.FALLBACK), NEW, R.FALLBACKS, (A.DECLINE, R.ASKED)),
        (M("ya"), U(N.MENU), NEW, None, None),  # no offer: the bot
        (M("syarat paspor"), U(N.FAQ_REQUIREMENTS), NEW, None, None),
        (M("syarat paspor"), U(N.FAQ_REQUIREMENTS), HELD, None, (A.FORWARD, R.ASKED)),
        (M("halo"), U(N.MENU), HELD, None, (A.FORWARD, R.ASKED)),
        (M("menu"), U(N.MENU), HELD, None, (A.RELEASE, R.ASKED)),
        (M("batal aja"), U(N.FALLBACK), HELD, None, (A.RELEASE, R.ASKED)),
        (M("x", NO), None, HELD, None, (A.RELEASE, R.ASKED)),
        # Redelivered: the message that started the hold is the hold again, not forwarded.
        (M("ya", mid="wamid.0"), U(N.MENU), HELD, None, (A.HOLD, R.ASKED)),
        (M("menu", mid="w9"), None, HandoffState(released_by="w9"), None, (A.RELEASE, R.ASKED)),
    ],
)  # fmt: skip
def test_decide(
    message: InboundMessage,
    understanding: Understanding | None,
    state: HandoffState,
    offered: HandoffReason | None,
    expected: tuple[Action, HandoffReason] | None,
) -> None:
    step = decide(message, understanding, state, offered=offered, now=NOW, idle_s=IDLE)
    assert (None if step is None else (step.action, step.reason)) == expected


def test_idle_hold_is_released_and_the_bot_answers() -> None:
    idle = HandoffState(held=True, reason="asked", since=NOW - 4000, last_at=NOW - IDLE - 1)
    step = decide(_message("syarat"), None, idle, offered=None, now=NOW, idle_s=IDLE)
    assert step is not None and step.action is Action.IDLE_RELEASE


def test_two_fallbacks_in_a_row_make_an_offer() -> None:
    assert fallbacks_after(Intent.FALLBACK, HandoffState()) == (False, 1)
    assert fallbacks_after(Intent.FALLBACK, HandoffState(fallbacks=1)) == (True, 0)
    assert fallbacks_after(Intent.FAQ_FEES, HandoffState(fallbacks=1)) == (False, 0)


def test_offer_expects_its_answer() -> None:
    expectation = texts.offer_expectation(HandoffReason.FALLBACKS)
    assert offered_reason(expectation.context) is HandoffReason.FALLBACKS
    assert offered_reason({"kind": "complaint"}) is None
    buttons = texts.offer(REGISTRY, JAKPUS, "id", HandoffReason.FALLBACKS)
    assert [b.id for b in buttons.buttons] == [texts.ACCEPT_BUTTON_ID, texts.DECLINE_BUTTON_ID]
    assert "petugas Kanim Jakarta Pusat" in buttons.body and "*ya*" in buttons.body


@pytest.mark.parametrize(
    ("days", "weekdays"),
    [("Senin–Jumat", {0, 1, 2, 3, 4}), ("Senin-Kamis", {0, 1, 2, 3}), ("Jumat", {4}),
     ("Sabtu s/d Minggu", {5, 6}), ("Senin, Rabu", {0, 2}), ("setiap hari kerja", set())],
)  # fmt: skip
def test_parse_days(days: str, weekdays: set[int]) -> None:
    assert texts.parse_days(days) == weekdays


WIB = texts.WIB


def test_held_notice_says_when_staff_answer() -> None:
    tuesday_10 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=WIB)
    friday_16 = dt.datetime(2026, 12, 4, 16, 10, tzinfo=WIB)  # jakpus closes 16.00
    batam_friday = dt.datetime(2026, 12, 4, 16, 10, tzinfo=WIB)  # batam: Friday until 16.30
    assert texts.on_duty(JAKPUS, tuesday_10) and not texts.on_duty(JAKPUS, friday_16)
    assert texts.on_duty(BATAM, batam_friday)
    now = texts.held_notice(REGISTRY, JAKPUS, "id", tuesday_10).body
    assert now.startswith("Pesan Anda sudah diteruskan ke petugas Kanim Jakarta Pusat.")
    assert "sedang bertugas" in now and "*menu*" in now
    later = texts.held_notice(REGISTRY, JAKPUS, "id", friday_16).body
    assert "di luar jam layanan" in later and "Senin pukul 08.00 WIB" in later
    english = texts.held_notice(REGISTRY, JAKPUS, "en", friday_16).body
    assert "outside office hours" in english and "back on Monday at 08.00 WIB" in english
    night = dt.datetime(2026, 12, 1, 22, 0, tzinfo=WIB)  # Tuesday night
    assert (
        "kembali bertugas besok pukul 08.00 WIB"
        in texts.held_notice(REGISTRY, JAKPUS, "id", night).body
    )
    dawn = dt.datetime(2026, 12, 2, 6, 0, tzinfo=WIB)
    assert "back today at 08.00 WIB" in texts.held_notice(REGISTRY, JAKPUS, "en", dawn).body
    assert texts.next_opening(JAKPUS, friday_16) == dt.datetime(2026, 12, 7, 8, 0, tzinfo=WIB)


@pytest.mark.parametrize("reason", list(ReleaseReason))
def test_release_notices_in_both_languages(reason: ReleaseReason) -> None:
    assert "*menu*" in texts.released_notice(REGISTRY, JAKPUS, "id", reason).body
    assert "*menu*" in texts.released_notice(REGISTRY, JAKPUS, "en", reason).body


def test_staff_template_flattens_lines() -> None:
    template = texts.staff_template(JAKPUS, "Halo Bapak.\n\nPaspor sudah jadi.")
    assert template.name == texts.STAFF_TEMPLATE
    assert template.body_parameters == ["Kanim Jakarta Pusat", "Halo Bapak. / Paspor sudah jadi."]
