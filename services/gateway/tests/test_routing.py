"""Routing is a pure function: table-driven over conversation situations."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang.messages import InboundKind, InboundMessage, Intent, Service
from gerbang.understanding import Understanding
from gerbang_gateway.routing import decide, intent_of_reply_id


def message(
    kind: InboundKind = InboundKind.TEXT, text: str | None = "x", reply_id: str | None = None
) -> InboundMessage:
    return InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        message_id="wamid.1",
        timestamp=dt.datetime.now(dt.UTC),
        kind=kind,
        text=text,
        reply_id=reply_id,
    )


def understood(intent: Intent, confidence: float = 0.9) -> Understanding:
    return Understanding(intent=intent, confidence=confidence, language="id")


@pytest.mark.parametrize(
    ("reply_id", "intent"),
    [
        ("faq:fees", Intent.FAQ_FEES),
        ("status", Intent.STATUS),
        ("feedback", Intent.FEEDBACK_SUGGESTION),
        ("status|optin|1234567890", Intent.STATUS),
        ("feedback:complaint|choose", Intent.FEEDBACK_COMPLAINT),
        ("something-else", None),
    ],
)
def test_reply_ids_name_their_intent(reply_id: str, intent: Intent | None) -> None:
    assert intent_of_reply_id(reply_id) == intent


@pytest.mark.parametrize(
    ("situation", "msg", "understanding", "expecting", "service", "intent", "expected"),
    [
        (
            "plain question",
            message(),
            understood(Intent.FAQ_FEES),
            None,
            Service.FAQ,
            Intent.FAQ_FEES,
            False,
        ),
        (
            "greeting gets the menu",
            message(),
            understood(Intent.MENU),
            None,
            Service.ROUTER,
            Intent.MENU,
            False,
        ),
        (
            "answer to the waiting service",
            message(text="1234567890 12-05-1990"),
            understood(Intent.FALLBACK, 0.2),
            Service.STATUS,
            Service.STATUS,
            Intent.STATUS,
            True,
        ),
        (
            "weak other intent stays with the waiting service",
            message(),
            understood(Intent.FAQ_FEES, 0.5),
            Service.FEEDBACK,
            Service.FEEDBACK,
            Intent.FEEDBACK_SUGGESTION,
            True,
        ),
        (
            "strong other intent leaves the waiting service",
            message(),
            understood(Intent.FAQ_HOURS_LOCATION, 0.95),
            Service.STATUS,
            Service.FAQ,
            Intent.FAQ_HOURS_LOCATION,
            False,
        ),
        (
            "menu always leaves",
            message(),
            understood(Intent.MENU, 0.6),
            Service.STATUS,
            Service.ROUTER,
            Intent.MENU,
            False,
        ),
        (
            "tap on a service's button goes back to it with context",
            message(InboundKind.INTERACTIVE, "Ya", "status|optin|ABC123456"),
            None,
            Service.STATUS,
            Service.STATUS,
            Intent.STATUS,
            True,
        ),
        (
            "menu row tap",
            message(InboundKind.INTERACTIVE, "Biaya", "faq:fees"),
            None,
            None,
            Service.FAQ,
            Intent.FAQ_FEES,
            False,
        ),
        (
            "a photo nobody waits for gets the text-only note",
            message(InboundKind.IMAGE, None),
            None,
            None,
            Service.ROUTER,
            Intent.MENU,
            False,
        ),
        (
            "a photo during feedback goes to feedback",
            message(InboundKind.IMAGE, None),
            None,
            Service.FEEDBACK,
            Service.FEEDBACK,
            Intent.FEEDBACK_SUGGESTION,
            True,
        ),
    ],
)
def test_decide(situation, msg, understanding, expecting, service, intent, expected) -> None:  # type: ignore[no-untyped-def]
    context = {"step": "ask_dob"} if expecting else None
    route = decide(msg, understanding, expecting=expecting, context=context)
    assert (route.service, route.intent, route.expected) == (service, intent, expected), situation
    assert route.context == (context if expected else None), situation


@pytest.mark.parametrize(
    ("text", "reading", "after_answer", "closing", "service"),
    [
        ("makasih ya kak", Intent.MENU, False, "thanks", Service.ROUTER),
        ("terima kasih banyak", Intent.FEEDBACK_APPRECIATION, False, "thanks", Service.ROUTER),
        ("oh gitu ya kak", Intent.FALLBACK, True, "ack", Service.ROUTER),
        ("oke siap", Intent.MENU, False, None, Service.ROUTER),  # nothing answered: the menu
        ("petugasnya ramah, makasih", Intent.FEEDBACK_APPRECIATION, True, None, Service.FEEDBACK),
        ("ok syaratnya apa", Intent.FAQ_REQUIREMENTS, True, None, Service.FAQ),
    ],
)
def test_a_closing_gets_a_line_and_no_record(
    text: str, reading: Intent, after_answer: bool, closing: str | None, service: Service
) -> None:
    """Thanks alone is a courtesy, not an appreciation to record; "oke siap" after an answer
    closes the exchange; a first "oke" still gets the menu."""
    from gerbang.dialogue import DialogueSettings, LastTopic
    from gerbang.routing import DialogueView

    topic = LastTopic(Intent.FAQ_FEES, {}, 1000.0) if after_answer else None
    route = decide(
        message(text=text),
        understood(reading).model_copy(update={"normalized": text}),
        expecting=None,
        context=None,
        conversation=DialogueView(topic, None, 1010.0, DialogueSettings()),
    )
    assert (route.closing, route.service) == (closing, service)


@pytest.mark.parametrize(
    ("text", "intent", "service"),
    [("kak mau tanya dong", Intent.MENU, Service.ROUTER),
     ("permisi, boleh nanya soal paspor?", Intent.MENU, Service.ROUTER),
     ("can I ask something", Intent.MENU, Service.ROUTER),
     ("hello, i need help with my passport", Intent.MENU, Service.ROUTER),
     ("halo, butuh bantuan untuk urusan paspor", Intent.MENU, Service.ROUTER),
     ("mau tanya jam buka", Intent.FALLBACK, Service.FAQ),
     ("i need help with my stolen passport", Intent.FALLBACK, Service.FAQ),
     ("asdfgh", Intent.FALLBACK, Service.FAQ)],
)  # fmt: skip
def test_a_preamble_gets_the_welcome_not_we_did_not_understand(
    text: str, intent: Intent, service: Service
) -> None:
    route = decide(
        message(text=text),
        understood(Intent.FALLBACK).model_copy(update={"normalized": text.lower()}),
        expecting=None,
        context=None,
    )
    assert (route.intent, route.service) == (intent, service)


def test_reactions_are_ignored() -> None:
    route = decide(message(InboundKind.REACTION, None), None, expecting=None, context=None)
    assert route.ignore


def test_media_nobody_waits_for_is_flagged() -> None:
    route = decide(message(InboundKind.AUDIO, None), None, expecting=None, context=None)
    assert route.reply_to_media and route.service is Service.ROUTER


def test_a_requested_language_wins_over_what_was_remembered() -> None:
    from gerbang.dialogue import conversation_language as _language
    from gerbang.understanding import Understanding

    asked = Understanding(
        intent=Intent.MENU, confidence=1.0, language="en", normalized="english",
        language_requested=True,
    )  # fmt: skip
    short = Understanding(intent=Intent.MENU, confidence=1.0, language="en", normalized="ok")
    assert _language(asked, remembered="id") == "en"
    assert _language(short, remembered="id") == "id"  # one word says little about language
