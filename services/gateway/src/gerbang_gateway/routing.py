"""Routing as a pure function: where a citizen's message goes, given the conversation.

Rules, in order:
1. A reaction needs no answer.
2. A tapped list row or button routes by its id: menu rows (`MENU_ROWS`) map to their
   intent; other ids start with an intent value (`status|optin`, `feedback:complaint|...`)
   and go to that intent's service, which gets its context back.
3. A service waiting for this conversation's answer (its directive, not expired) gets the
   message, unless the message clearly asks for something else (the menu, or another
   service's topic with high confidence).
4. Otherwise the matcher's intent decides; the menu is answered by the router itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gerbang.messages import MENU_ROWS, InboundKind, InboundMessage, Intent, Service
from gerbang.understanding import Understanding

MENU_BY_ROW = dict(MENU_ROWS)
SWITCH_CONFIDENCE = 0.8
"""How sure the matcher must be before a message leaves a service that waits for an answer."""

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
) -> Route:
    """Where `message` goes. `understanding` is the matcher's reading of its text (if any)."""
    if message.kind is InboundKind.REACTION:
        return Route(Intent.FALLBACK, Service.ROUTER, 1.0, ignore=True)

    if message.reply_id:
        intent = intent_of_reply_id(message.reply_id)
        if intent is not None:
            same = expecting is not None and intent.service is expecting
            return Route(
                intent, intent.service, 1.0, expected=same, context=context if same else None
            )

    if expecting is not None:
        leaves = understanding is not None and (
            understanding.intent is Intent.MENU
            or (
                understanding.intent.service is not expecting
                and understanding.intent is not Intent.FALLBACK
                and understanding.confidence >= SWITCH_CONFIDENCE
            )
        )
        if not leaves:
            intent = (
                understanding.intent
                if understanding is not None and understanding.intent.service is expecting
                else _default_intent(expecting)
            )
            return Route(intent, expecting, 1.0, expected=True, context=context)

    if message.kind not in TEXT_KINDS and not (message.text or "").strip():
        return Route(Intent.MENU, Service.ROUTER, 1.0, reply_to_media=True)

    if understanding is None:
        return Route(Intent.MENU, Service.ROUTER, 1.0)
    return Route(understanding.intent, understanding.intent.service, understanding.confidence)


def _default_intent(service: Service) -> Intent:
    return {
        Service.STATUS: Intent.STATUS,
        Service.FEEDBACK: Intent.FEEDBACK_SUGGESTION,
        Service.FAQ: Intent.FALLBACK,
        Service.ROUTER: Intent.MENU,
    }[service]
