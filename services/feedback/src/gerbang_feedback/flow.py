"""The feedback conversation as a pure function: a routed request in, the next step out.

Steps:
- the menu row "feedback", an unknown `feedback:` button, or a vague "mau kasih masukan"
  → offer the three kinds as buttons;
- a kind button (`feedback:<kind>|choose`) → ask for the message, expecting the answer;
- the expected answer, or a message the router sent us that already says something
  → record it (kind, urgency and flags from `classify`);
- "batal" while we wait → cancelled; a photo without text while we wait → ask for text.
"""

from __future__ import annotations

from dataclasses import dataclass

from gerbang import messages
from gerbang.messages import MENU_FEEDBACK_ROW, FeedbackKind, Intent, ServiceRequest
from gerbang.offices import Lang, NationalConfig, Office
from gerbang_feedback import replies
from gerbang_feedback.classify import Classification, classify, is_cancel
from gerbang_feedback.replies import kind_of_choice


@dataclass(frozen=True, slots=True)
class OfferChoices:
    """Show Apresiasi / Keluhan / Saran."""

    thanked: bool = False
    """The citizen only said thanks ("ok makasih"): answer it before offering the kinds."""


@dataclass(frozen=True, slots=True)
class AskForMessage:
    """The citizen chose a kind: ask them to write it, and expect the answer."""

    kind: FeedbackKind


@dataclass(frozen=True, slots=True)
class AskForText:
    """We waited for a written message and got none (media only): ask again."""

    kind: FeedbackKind


@dataclass(frozen=True, slots=True)
class Cancel:
    """The citizen cancelled while we waited."""


@dataclass(frozen=True, slots=True)
class Record:
    """Record this text as feedback."""

    text: str
    classification: Classification


Step = OfferChoices | AskForMessage | AskForText | Cancel | Record

_INTENT_KIND = {
    Intent.FEEDBACK_APPRECIATION: FeedbackKind.APPRECIATION,
    Intent.FEEDBACK_COMPLAINT: FeedbackKind.COMPLAINT,
    Intent.FEEDBACK_SUGGESTION: FeedbackKind.SUGGESTION,
}


def expected_kind(request: ServiceRequest) -> FeedbackKind | None:
    """The kind the citizen chose, if this message answers our prompt."""
    if not request.conversation.expected:
        return None
    try:
        return FeedbackKind(request.conversation.context.get("kind"))
    except ValueError:
        return None


def decide(request: ServiceRequest) -> Step:
    """What to do with a feedback request."""
    inbound = request.inbound
    if inbound.reply_id == MENU_FEEDBACK_ROW:
        return OfferChoices()
    chosen_button = kind_of_choice(inbound.reply_id)
    if chosen_button is not None:
        return AskForMessage(chosen_button)
    if inbound.reply_id and inbound.reply_id.startswith("feedback"):
        return OfferChoices()  # a button of ours we no longer know: start again

    text = (inbound.text or "").strip()
    chosen = expected_kind(request)
    if chosen is not None:
        if not text:
            return AskForText(chosen)
        if is_cancel(text):
            return Cancel()
        return Record(text, classify(text, chosen=chosen))

    if not text:
        return OfferChoices()
    classification = classify(text, hint=_INTENT_KIND.get(request.intent))
    if classification.vague:
        return OfferChoices(thanked=classification.kind is FeedbackKind.APPRECIATION)
    return Record(text, classification)


def for_step(
    step: Step, office: Office, national: NationalConfig, lang: Lang, *, ticket: str | None = None
) -> messages.ButtonsContent | messages.TextContent:
    """What the citizen reads for a conversation step. A `Record` needs its `ticket`."""
    match step:
        case OfferChoices(thanked):
            return replies.choice_buttons(office, lang, thanked=thanked)
        case AskForMessage(kind):
            return replies.prompt(kind, office, lang)
        case AskForText(kind):
            return replies.text_only(kind, lang)
        case Cancel():
            return replies.cancelled(lang)
        case Record(_, classification):
            if ticket is None:
                raise ValueError("a Record's reply needs its ticket")
            return replies.confirmation(
                ticket=ticket,
                kind=classification.kind,
                urgent=classification.urgent,
                flags=classification.flags,
                office=office,
                national=national,
                lang=lang,
            )
    raise TypeError(f"unknown step {step!r}")
