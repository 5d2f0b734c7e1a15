"""The feedback conversation as a pure function: a routed request in, the next step out.

Steps:
- the menu row "feedback", an unknown `feedback:` button, or a vague "mau kasih masukan"
  → offer the three kinds as buttons;
- a kind button (`feedback:<kind>|choose`) → ask for the message, expecting the answer;
- the expected answer, or a message the router sent us that already says something
  → record it (kind, urgency and flags from `classify`);
- "batal" while we wait → cancelled; a photo without text while we wait → ask for text;
- the kinds offered as buttons and a message typed instead of a tap → recorded, of the kind
  the first message hinted at unless the text says otherwise;
- a scam report (`feedback:scam_report`) → recorded, urgent and flagged, with the numbers;
- a detail the router found to belong to the ticket just recorded (`append_to`) → appended.
"""

from __future__ import annotations

from dataclasses import dataclass

from gerbang import messages
from gerbang.dialogue import APPEND_KEY, OFFER_KEY
from gerbang.messages import MENU_FEEDBACK_ROW, FeedbackKind, Intent, ServiceRequest
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang_feedback import replies
from gerbang_feedback.classify import Classification, classify, is_cancel
from gerbang_feedback.replies import kind_of_choice


@dataclass(frozen=True, slots=True)
class OfferChoices:
    """Show Apresiasi / Keluhan / Saran."""

    thanked: bool = False
    """The citizen only said thanks ("ok makasih"): answer it before offering the kinds."""
    hint: FeedbackKind | None = None
    """The kind the citizen's words announced ("mau komplain"): a typed answer is that kind
    unless its text says otherwise."""


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


@dataclass(frozen=True, slots=True)
class Append:
    """Add this text to the ticket just recorded."""

    ticket: str
    text: str


SCAM_REPORT_FLAG = "scam_report"


Step = OfferChoices | AskForMessage | AskForText | Cancel | Record | Append

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
    context = request.conversation.context if request.conversation.expected else {}
    if context.get(APPEND_KEY) and text:
        return Append(str(context[APPEND_KEY]), text)
    if request.intent is Intent.FEEDBACK_SCAM_REPORT and text:
        return Record(text, scam_report(text))
    if OFFER_KEY in context and text:
        if is_cancel(text):
            return Cancel()
        hint = _kind_or_none(context.get(OFFER_KEY))
        classification = classify(text, hint=hint)
        if not classification.vague:
            return Record(text, classification)
    chosen = expected_kind(request)
    if chosen is not None:
        if not text:
            return AskForText(chosen)
        if is_cancel(text):
            return Cancel()
        return Record(text, classify(text, chosen=chosen))

    if not text:
        return OfferChoices()
    hint = _INTENT_KIND.get(request.intent)
    classification = classify(text, hint=hint)
    if classification.vague:
        thanked = classification.kind is FeedbackKind.APPRECIATION
        return OfferChoices(thanked=thanked, hint=None if thanked else hint)
    return Record(text, classification)


def _kind_or_none(value: object) -> FeedbackKind | None:
    try:
        return FeedbackKind(str(value)) if value else None
    except ValueError:
        return None


def scam_report(text: str) -> Classification:
    """A scam report: always urgent, flagged (with the text's own flags, e.g. impersonation)."""
    found = classify(text)
    flags = (SCAM_REPORT_FLAG, *(flag for flag in found.flags if flag != SCAM_REPORT_FLAG))
    return Classification(
        kind=FeedbackKind.SCAM_REPORT,
        urgent=True,
        flags=flags,
        confident=True,
        vague=False,
        normalized=found.normalized,
    )


def for_step(
    step: Step, office: Office, registry: OfficeRegistry, lang: Lang, *, ticket: str | None = None
) -> messages.ButtonsContent | messages.TextContent:
    """What the citizen reads for a conversation step. A `Record` needs its `ticket`."""
    match step:
        case Append(ticket_no, _):
            return replies.appended(ticket_no, lang, office, registry)
        case OfferChoices(thanked, _):
            return replies.choice_buttons(office, lang, registry, thanked=thanked)
        case AskForMessage(kind):
            return replies.prompt(kind, office, lang, registry)
        case AskForText(kind):
            return replies.text_only(kind, lang, office, registry)
        case Cancel():
            return replies.cancelled(lang, office, registry)
        case Record(_, classification):
            if ticket is None:
                raise ValueError("a Record's reply needs its ticket")
            return replies.confirmation(
                ticket=ticket,
                kind=classification.kind,
                urgent=classification.urgent,
                flags=classification.flags,
                office=office,
                registry=registry,
                lang=lang,
            )
    raise TypeError(f"unknown step {step!r}")
