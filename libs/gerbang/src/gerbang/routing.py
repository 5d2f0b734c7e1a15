"""Routing as a pure function: where a citizen's message goes, given the conversation.

Rules, in order:
1. A reaction needs no answer.
2. A tapped list row or button routes by its id: menu rows (`MENU_ROWS`) map to their
   intent; other ids start with an intent value (`status|optin`, `feedback:complaint|...`,
   the clarify buttons' `faq:fees`) and go to that intent's service, which gets its context
   back.
3. The clarify question waits for its answer: "yg pertama", "2" or one of the offered topics
   typed picks that topic (`gerbang.dialogue.clarify_choice`); anything else leaves it.
4. A service waiting for this conversation's answer (its directive, not expired) gets the
   message when it fits the prompt (`gerbang.dialogue.fits_expectation`); a message that
   clearly asks something else leaves it and is routed as if nothing waited.
5. A message that adds detail to the ticket just recorded goes to the feedback service to
   be appended (`gerbang.dialogue.adds_to_ticket`).
6. A preamble alone ("kak mau tanya dong") gets the welcome and the menu, not "we did not
   understand". Thanks alone, or an acknowledgement after an answer ("oke siap"), closes
   the exchange: the router answers it with a line (`gerbang.dialogue.closing`), not the
   menu, and no appreciation is recorded for a bare "makasih".
7. Otherwise the understanding decides, read against the last topic: an elliptical
   follow-up becomes that topic with the details merged (`gerbang.dialogue.resolve_followup`).
   The menu is answered by the router itself.

Used by the gateway's router and by `gerbang ask` (offline), so both follow the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gerbang import dialogue
from gerbang.dialogue import DialogueSettings, LastTopic, OpenTicket
from gerbang.messages import MENU_ROWS, InboundKind, InboundMessage, Intent, Service, Understanding

MENU_BY_ROW = dict(MENU_ROWS)
SWITCH_CONFIDENCE = 0.8
"""How sure the matcher must be before a message leaves a service that waits for an answer."""

_CLOSABLE = frozenset({Intent.MENU, Intent.FALLBACK, Intent.FEEDBACK_APPRECIATION})
"""Readings a closing may carry: only words of thanks or acknowledgement are checked after."""

TEXT_KINDS = {InboundKind.TEXT, InboundKind.INTERACTIVE, InboundKind.BUTTON}


@dataclass(frozen=True)
class Route:
    """The router's decision for one message."""

    intent: Intent
    service: Service
    confidence: float
    expected: bool = False
    """True when the message answers the service that asked for it."""
    context: dict[str, Any] | None = None
    reply_to_media: bool = False
    """A non-text message nobody waits for: answered with a polite 'text only' and the menu."""
    ignore: bool = False
    understanding: Understanding | None = None
    """The understanding as answered: a follow-up carries its topic and merged details."""
    appends_to: OpenTicket | None = None
    """The message adds detail to this ticket (routed to feedback with `append_to`)."""
    left_expectation: bool = False
    """A service waited for an answer and this message was not one."""
    closing: str | None = None
    """The message only closes the exchange ("thanks", "ack": `gerbang.dialogue.closing`):
    the router answers it with a line, not the menu."""


@dataclass(frozen=True)
class DialogueView:
    """The conversation context the router keeps (`gerbang.dialogue`), as of this message."""

    topic: LastTopic | None = None
    ticket: OpenTicket | None = None
    now: float = 0.0
    settings: DialogueSettings = field(default_factory=DialogueSettings)


def intent_of_reply_id(reply_id: str) -> Intent | None:
    """The intent a tapped row or button stands for, if its id names one."""
    if reply_id in MENU_BY_ROW:
        return MENU_BY_ROW[reply_id]
    head = reply_id.split("|", 1)[0]
    try:
        return Intent(head)
    except ValueError:
        return None


def decide(
    message: InboundMessage,
    understanding: Understanding | None,
    *,
    expecting: Service | None,
    context: dict[str, Any] | None,
    conversation: DialogueView | None = None,
) -> Route:
    """Where `message` goes. `understanding` is the matcher's reading of its text (if any);
    `conversation` the context kept for follow-ups and tickets (none: the message alone)."""
    view = conversation or DialogueView()
    settings = view.settings
    text = message.text or ""
    if message.kind is InboundKind.REACTION:
        return Route(Intent.FALLBACK, Service.ROUTER, 1.0, ignore=True)

    if message.reply_id:
        intent = intent_of_reply_id(message.reply_id)
        if intent is not None:
            same = expecting is not None and intent.service is expecting
            return Route(
                intent,
                intent.service,
                1.0,
                expected=same,
                context=context if same else None,
                understanding=understanding,
            )

    left = False
    if expecting is not None:
        options = dialogue.clarify_options(context) if expecting is Service.FAQ else []
        if options:
            choice = dialogue.clarify_choice(text, understanding, options)
            if choice is not None:
                chosen = (
                    understanding.model_copy(update={"intent": choice, "confidence": 1.0})
                    if understanding is not None
                    else None
                )
                return Route(choice, choice.service, 1.0, understanding=chosen)
            left = True
        elif dialogue.fits_expectation(expecting, context, text, understanding, settings):
            intent = (
                understanding.intent
                if understanding is not None and understanding.intent.service is expecting
                else _default_intent(expecting)
            )
            return Route(
                intent, expecting, 1.0, expected=True, context=context, understanding=understanding
            )
        else:
            left = True

    if message.kind not in TEXT_KINDS and not text.strip():
        return Route(Intent.MENU, Service.ROUTER, 1.0, reply_to_media=True, left_expectation=left)

    if understanding is None:
        return Route(Intent.MENU, Service.ROUTER, 1.0, left_expectation=left)

    ticket = dialogue.live_ticket(view.ticket, view.now, settings)
    if ticket is not None and dialogue.adds_to_ticket(text, understanding, ticket):
        try:
            intent = Intent(f"feedback:{ticket.kind}")
        except ValueError:
            intent = Intent.FEEDBACK_COMPLAINT
        return Route(
            intent,
            Service.FEEDBACK,
            1.0,
            expected=True,
            context={dialogue.APPEND_KEY: ticket.ticket, "kind": ticket.kind},
            understanding=understanding,
            appends_to=ticket,
            left_expectation=left,
        )

    topic = dialogue.live_topic(view.topic, view.now, settings)
    # "kak mau tanya dong": the welcome and the menu, not "we did not understand"; "makasih",
    # or "oke siap" after an answer: a line.
    preamble = understanding.intent is Intent.FALLBACK and dialogue.only_preamble(
        text, understanding
    )
    closing = (
        dialogue.closing(text, understanding, after_answer=topic is not None or ticket is not None)
        if understanding.intent in _CLOSABLE and not preamble
        else None
    )
    if preamble or closing is not None:
        return Route(
            Intent.MENU,
            Service.ROUTER,
            understanding.confidence,
            understanding=understanding,
            left_expectation=left,
            closing=closing,
        )
    resolved = dialogue.resolve_followup(understanding, topic, settings)
    return Route(
        resolved.intent,
        resolved.intent.service,
        resolved.confidence,
        understanding=resolved,
        left_expectation=left,
    )


def _default_intent(service: Service) -> Intent:
    return {
        Service.STATUS: Intent.STATUS,
        Service.FEEDBACK: Intent.FEEDBACK_SUGGESTION,
        Service.FAQ: Intent.FALLBACK,
        Service.ROUTER: Intent.MENU,
    }[service]
