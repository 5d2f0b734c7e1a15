"""What the feedback service says to citizens, in Bahasa Indonesia and English (pure).

The sentences are catalogue texts (`offices/_national/texts.yaml`: `feedback.*`,
`feedback_kind.*`, `feedback_prompt.*`, `feedback_thanks.*`); this module picks and joins them.
Every function returns a WhatsApp reply content that already passed the Cloud API limits
(`gerbang.messages` validates: buttons ≤ 3 with titles ≤ 20, body ≤ 1024; text ≤ 4096).
Facts used: the official complaint channels (`offices/_national/national.yaml`), the official
app (M-Paspor) and that fees are paid as PNBP with a billing code (paspor-facts.md 2.5, 2.8).
No promise of a response time is made: the reference has none, offices decide.
"""

from __future__ import annotations

from gerbang.dialogue import OFFER_KEY
from gerbang.messages import (
    Button,
    ButtonsContent,
    Expectation,
    FeedbackKind,
    Service,
    TextContent,
)
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.texts import render_text
from gerbang_feedback.classify import CONTACT_REQUESTED

CHOOSE_SUFFIX = "|choose"
PROMPT_TTL_SECONDS = 900
"""How long the prompt waits for the citizen's message (the router keeps the directive)."""

KIND_ORDER = (FeedbackKind.APPRECIATION, FeedbackKind.COMPLAINT, FeedbackKind.SUGGESTION)

# The catalogue texts chosen by kind (the test of the catalogue needs every id it uses).
KIND_TEXT_IDS: tuple[str, ...] = tuple(
    f"{family}.{kind.value}"
    for family in ("feedback_kind", "feedback_prompt", "feedback_thanks")
    for kind in FeedbackKind
)


def choice_id(kind: FeedbackKind) -> str:
    """Button id of a kind: `feedback:<kind>|choose` (starts with the intent, so it routes back)."""
    return f"feedback:{kind.value}{CHOOSE_SUFFIX}"


def kind_of_choice(reply_id: str | None) -> FeedbackKind | None:
    """The kind a tapped button chose, or None if the id is not one of our choice buttons."""
    if not reply_id or not reply_id.startswith("feedback:") or not reply_id.endswith(CHOOSE_SUFFIX):
        return None
    value = reply_id[len("feedback:") : -len(CHOOSE_SUFFIX)]
    try:
        return FeedbackKind(value)
    except ValueError:
        return None


def kind_title(kind: FeedbackKind, lang: Lang, office: Office, registry: OfficeRegistry) -> str:
    """The kind's name as the citizen sees it (button title)."""
    return render_text(registry, office, f"feedback_kind.{kind.value}", lang)


def choice_buttons(
    office: Office, lang: Lang, registry: OfficeRegistry, *, thanked: bool = False
) -> ButtonsContent:
    """The three reply buttons: Apresiasi / Keluhan / Saran. `thanked`: the citizen only
    said thanks, so the answer is "you're welcome" first, and the buttons an offer."""
    body = render_text(
        registry, office, "feedback.offer_thanked" if thanked else "feedback.offer", lang
    )
    buttons = [
        Button(id=choice_id(kind), title=kind_title(kind, lang, office, registry))
        for kind in KIND_ORDER
    ]
    footer = render_text(registry, office, "feedback.offer_footer", lang)
    return ButtonsContent(body=body, footer=footer, buttons=buttons)


def prompt(kind: FeedbackKind, office: Office, lang: Lang, registry: OfficeRegistry) -> TextContent:
    """'Please write your message' for the chosen kind."""
    ask = render_text(registry, office, f"feedback_prompt.{kind.value}", lang)
    cancel = render_text(registry, office, "feedback.cancel_hint", lang)
    return TextContent(body=f"{ask}\n\n{cancel}")


def offer_expectation(
    hint: FeedbackKind | None, ttl_seconds: int = PROMPT_TTL_SECONDS
) -> Expectation:
    """The directive of the kind buttons: a message typed instead of a tap comes back to us
    (recorded as the `hint`ed kind unless its text says otherwise)."""
    return Expectation(
        service=Service.FEEDBACK,
        context={OFFER_KEY: hint.value if hint else ""},
        ttl_seconds=ttl_seconds,
    )


def appended(ticket: str, lang: Lang, office: Office, registry: OfficeRegistry) -> TextContent:
    """The citizen's detail was added to the ticket just recorded."""
    return TextContent(body=render_text(registry, office, "feedback.appended", lang, ticket=ticket))


def prompt_expectation(kind: FeedbackKind, ttl_seconds: int = PROMPT_TTL_SECONDS) -> Expectation:
    """The directive that brings the citizen's next message back to us, with the chosen kind."""
    return Expectation(
        service=Service.FEEDBACK, context={"kind": kind.value}, ttl_seconds=ttl_seconds
    )


def confirmation(
    *,
    ticket: str,
    kind: FeedbackKind,
    urgent: bool,
    flags: tuple[str, ...] | list[str],
    office: Office,
    registry: OfficeRegistry,
    lang: Lang,
) -> TextContent:
    """The receipt: the ticket and what happens next (and, if urgent, the official channels)."""

    def say(text_id: str, **values: str) -> str:
        return render_text(registry, office, text_id, lang, **values)

    parts = [say(f"feedback_thanks.{kind.value}"), say("feedback.ticket", ticket=ticket)]
    if kind is FeedbackKind.COMPLAINT:
        follow_up = say("feedback.complaint_next")
        if CONTACT_REQUESTED in flags or urgent:
            follow_up += " " + say("feedback.complaint_contact")
        parts.append(follow_up)
    if urgent:
        parts.append(say("feedback.urgent"))
    return TextContent(body="\n\n".join(parts))


def cancelled(lang: Lang, office: Office, registry: OfficeRegistry) -> TextContent:
    """The citizen cancelled: nothing was recorded."""
    return TextContent(body=render_text(registry, office, "feedback.cancelled", lang))


def text_only(
    kind: FeedbackKind, lang: Lang, office: Office, registry: OfficeRegistry
) -> TextContent:
    """We were waiting for the message but got a photo/voice note without text."""
    title = kind_title(kind, lang, office, registry).lower()
    return TextContent(body=render_text(registry, office, "feedback.text_only", lang, kind=title))


def ticket_answer_header(ticket: str, office: Office, registry: OfficeRegistry) -> str:
    """The first line of an office's answer to a ticket (the citizen knows which one). In
    Indonesian: the ticket does not keep the citizen's language."""
    return render_text(registry, office, "feedback.ticket_answer", "id", ticket=ticket)
