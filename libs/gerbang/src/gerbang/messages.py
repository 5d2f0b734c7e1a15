"""Every Kafka payload of Gerbang, in one place: the contract between services.

Each model carries `schema_version`. Keys are `office:wa_id` (one conversation is processed
in order) except `status.updates`, keyed by application number. Replies are built with
`ServiceRequest.reply(...)` so that office, citizen and idempotency key cannot be lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag, model_validator

from gerbang.offices import Lang, LocalizedText

SCHEMA_VERSION = 1


def utcnow() -> dt.datetime:
    """Timezone-aware now (UTC); every timestamp in a message is aware."""
    return dt.datetime.now(dt.UTC)


class Topic(StrEnum):
    """Kafka topics (without the deployment's optional prefix)."""

    INBOUND = "whatsapp.inbound"
    OUTBOUND = "whatsapp.outbound"
    EVENTS = "whatsapp.events"
    UNROUTED = "whatsapp.unrouted"
    FAQ_REQUESTS = "faq.requests"
    STATUS_REQUESTS = "status.requests"
    FEEDBACK_REQUESTS = "feedback.requests"
    STATUS_UPDATES = "status.updates"
    FEEDBACK_RECORDED = "feedback.recorded"
    INBOX_MESSAGES = "inbox.messages"
    OPS_AUDIT = "ops.audit"
    CONTENT_PUBLISHED = "content.published"
    SUBSCRIPTIONS = "announcements.subscriptions"

    @property
    def dlq(self) -> str:
        """The dead-letter topic of this topic."""
        return f"{self.value}.dlq"


class Service(StrEnum):
    """Services a conversation can be routed to."""

    ROUTER = "router"
    FAQ = "faq"
    STATUS = "status"
    FEEDBACK = "feedback"


class Intent(StrEnum):
    """The routing contract (ARCHITECTURE.md): `service:topic`."""

    MENU = "menu"
    FAQ_REQUIREMENTS = "faq:requirements"
    FAQ_FEES = "faq:fees"
    FAQ_PAYMENT = "faq:payment"
    FAQ_PICKUP = "faq:pickup"
    FAQ_REGISTRATION = "faq:registration"
    FAQ_HOURS_LOCATION = "faq:hours_location"
    FAQ_LOST_DAMAGED = "faq:lost_damaged"
    FAQ_OFFICIAL_CHANNELS = "faq:official_channels"
    STATUS = "status"
    FEEDBACK_APPRECIATION = "feedback:appreciation"
    FEEDBACK_COMPLAINT = "feedback:complaint"
    FEEDBACK_SUGGESTION = "feedback:suggestion"
    FEEDBACK_SCAM_REPORT = "feedback:scam_report"
    """The citizen reports a fraudster (a number, an account): recorded, and the check given."""
    FALLBACK = "fallback"
    """In the domain but unclear: the menu (or the two likeliest topics) is offered."""
    OUT_OF_DOMAIN = "out_of_domain"
    """About something this line does not handle (parcel postage, driving licences): said so."""
    HANDOFF = "handoff"
    """The citizen asks for a person (office staff)."""
    FAQ_OFFICE_TOPIC = "faq:office_topic"
    """A topic one office created in `/ops` (`Understanding.office_topic` names it): only that
    office's published examples lead here, never the classifier."""

    @property
    def service(self) -> Service:
        """Which service answers this intent (menu and handoff are answered by the router)."""
        head = self.value.split(":", 1)[0]
        if head in {"menu", "handoff"}:
            return Service.ROUTER
        if head in {"fallback", "out_of_domain"}:
            return Service.FAQ
        return Service(head)

    @property
    def topic(self) -> str:
        """The part after `service:` ('' for menu, status, fallback)."""
        return self.value.split(":", 1)[1] if ":" in self.value else ""


# The office menu (an interactive list, ≤ 10 rows). A list reply carries the row id; a
# numeric reply ("1", "2") picks the row at that position. The "feedback" row asks the
# feedback service to offer the three kinds (appreciation, complaint, suggestion) as buttons.
MENU_ROWS: tuple[tuple[str, Intent], ...] = (
    ("faq:requirements", Intent.FAQ_REQUIREMENTS),
    ("faq:fees", Intent.FAQ_FEES),
    ("faq:payment", Intent.FAQ_PAYMENT),
    ("status", Intent.STATUS),
    ("faq:pickup", Intent.FAQ_PICKUP),
    ("faq:lost_damaged", Intent.FAQ_LOST_DAMAGED),
    ("faq:registration", Intent.FAQ_REGISTRATION),
    ("faq:hours_location", Intent.FAQ_HOURS_LOCATION),
    ("faq:official_channels", Intent.FAQ_OFFICIAL_CHANNELS),
    ("feedback", Intent.FEEDBACK_SUGGESTION),
)
MENU_FEEDBACK_ROW = "feedback"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = SCHEMA_VERSION


# --- whatsapp.inbound ---------------------------------------------------------------------


class InboundKind(StrEnum):
    """Kinds of citizen message the gateway understands (others arrive as UNSUPPORTED)."""

    TEXT = "text"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VIDEO = "video"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"


class Media(BaseModel):
    """A media attachment (we keep Meta's id, never download in the gateway)."""

    model_config = ConfigDict(frozen=True)

    media_id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None


class Location(BaseModel):
    """A shared location."""

    model_config = ConfigDict(frozen=True)

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class InboundMessage(_Message):
    """A citizen's message to an office's number (topic whatsapp.inbound)."""

    office: str
    phone_number_id: str
    wa_id: str = Field(description="The citizen's WhatsApp id (digits)")
    message_id: str = Field(description="Meta's wamid, unique per message")
    timestamp: dt.datetime = Field(description="When the citizen sent it (Meta's timestamp)")
    received_at: dt.datetime = Field(default_factory=utcnow, description="When we acked it")
    kind: InboundKind
    text: str | None = Field(default=None, description="Body, caption, or chosen button title")
    reply_id: str | None = Field(default=None, description="id of the chosen list row/button")
    profile_name: str | None = None
    forwarded: bool = False
    media: Media | None = None
    location: Location | None = None
    context_message_id: str | None = Field(
        default=None, description="wamid of our message this one answers (buttons, lists)"
    )

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


def conversation_key(office: str, wa_id: str) -> str:
    """`office:wa_id`, the key of every conversation-scoped topic."""
    return f"{office}:{wa_id}"


# --- conversation state handed between router and services ---------------------------------


class Expectation(BaseModel):
    """A service's directive: 'send me this conversation's next message, with this context'."""

    model_config = ConfigDict(frozen=True)

    service: Service
    context: dict[str, Any] = Field(default_factory=dict, description="Opaque to the router")
    ttl_seconds: int = Field(default=600, ge=1, le=86_400)


class Conversation(BaseModel):
    """What the router knows of the conversation when it hands a message to a service."""

    model_config = ConfigDict(frozen=True)

    language: Lang = "id"
    context: dict[str, Any] = Field(
        default_factory=dict, description="The context this service asked to get back"
    )
    expected: bool = Field(default=False, description="True if this service asked for it")
    last_inbound_at: dt.datetime | None = None
    messages_seen: int = 0


# --- understanding (made once, in the router; travels on ServiceRequest) --------------------


class Understanding(BaseModel):
    """What a citizen's message means, read once by the router (ARCHITECTURE.md).

    Services read these fields and never re-derive them from the text. Signals (numbers,
    dates, scam cues, cancel, urgency) are reported whatever the intent; details narrow the
    topic where the answer has variants.
    """

    model_config = ConfigDict(frozen=True)

    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability of `intent`")
    language: Lang = "id"
    language_requested: bool = Field(
        default=False, description="The citizen asked for a language ('english please')"
    )
    normalized: str = Field(default="", description="The normalised text the decision used")
    alternatives: tuple[tuple[Intent, float], ...] = Field(
        default=(), description="Next likeliest intents with their probabilities, best first"
    )
    followup: bool = Field(
        default=False,
        description="Elliptical ('kalo yg 10 taun?'): names no topic, only details; read it "
        "against the conversation's last topic",
    )
    # details: narrow the topic where the content has variants
    subtopic: str | None = Field(
        default=None,
        description="requirements: minor, renewal, work_abroad, umrah, name_mismatch; "
        "lost_damaged: lost, damaged",
    )
    passport_kind: Literal["e_paspor", "biasa"] | None = None
    validity_years: Literal[5, 10] | None = None
    age_group: Literal["minor", "adult", "elderly"] | None = None
    other_office: str | None = Field(default=None, description="Code of another office named")
    office_topic: str | None = Field(
        default=None,
        description="faq:office_topic: the office's own topic (`own.<name>`) its examples matched",
    )
    example_similarity: float | None = Field(
        default=None,
        description="The office example that decided the topic: its similarity (cosine)",
    )
    # signals
    phone_numbers: tuple[str, ...] = Field(
        default=(), description="Phone numbers mentioned, digits with country code"
    )
    application_numbers: tuple[str, ...] = Field(
        default=(), description="Passport application numbers mentioned"
    )
    dates: tuple[dt.date, ...] = Field(default=(), description="Dates mentioned (e.g. birth)")
    amounts: tuple[int, ...] = Field(default=(), description="Rupiah amounts mentioned")
    scam_signals: tuple[str, ...] = Field(
        default=(),
        description="calo, jalur_cepat, orang_dalam, personal_account, whatsapp_registration",
    )
    other_domain: bool = Field(
        default=False,
        description="Set on out-of-domain readings that name a thing this line does not "
        "handle (SIM, parcel, bank, weather…): they stand even in a passport conversation",
    )
    cancel: bool = Field(default=False, description="'batal', 'cancel', 'gak jadi'")
    urgent: bool = Field(default=False, description="Urgency or harm (extortion, emergency)")


# --- *.requests ---------------------------------------------------------------------------


class ServiceRequest(_Message):
    """A citizen message routed to a service (faq.requests, status.requests, feedback.requests)."""

    inbound: InboundMessage
    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0, default=1.0)
    understanding: Understanding | None = Field(
        default=None, description="The router's reading of the text (None for taps and media)"
    )
    conversation: Conversation = Field(default_factory=Conversation)
    routed_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def office(self) -> str:
        """Office code of the conversation."""
        return self.inbound.office

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return self.inbound.key

    @property
    def language(self) -> Lang:
        """The language to answer in."""
        return self.conversation.language

    def reply(
        self,
        content: ReplyContent,
        *,
        part: int = 0,
        expect: Expectation | None = None,
        intent: Intent | None = None,
        service: Service | None = None,
        template: TemplateContent | None = None,
        ticket: TicketRef | None = None,
    ) -> OutboundReply:
        """The answer to this request, keeping the routing fields.

        `part` numbers several replies to the same message (its idempotency key differs).
        """
        return OutboundReply(
            office=self.inbound.office,
            phone_number_id=self.inbound.phone_number_id,
            wa_id=self.inbound.wa_id,
            idempotency_key=f"reply:{self.inbound.message_id}:{part}",
            in_reply_to=self.inbound.message_id,
            intent=intent or self.intent,
            service=service or self.intent.service,
            content=content,
            template_fallback=template,
            expect=expect,
            inbound_received_at=self.inbound.received_at,
            ticket=ticket,
        )


# --- whatsapp.outbound --------------------------------------------------------------------


class TextContent(BaseModel):
    """A plain text message (WhatsApp: body ≤ 4096 characters)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["text"] = "text"
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class ListRow(BaseModel):
    """A row of an interactive list (title ≤ 24, description ≤ 72)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(BaseModel):
    """A section of an interactive list (title ≤ 24)."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(min_length=1, max_length=24)
    rows: list[ListRow] = Field(min_length=1, max_length=10)


class ListContent(BaseModel):
    """An interactive list: ≤ 10 rows across all sections, button label ≤ 20."""

    model_config = ConfigDict(frozen=True)

    type: Literal["list"] = "list"
    header: str | None = Field(default=None, max_length=60)
    body: str = Field(min_length=1, max_length=4096)
    footer: str | None = Field(default=None, max_length=60)
    button: str = Field(min_length=1, max_length=20)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _row_limit(self) -> ListContent:
        rows = sum(len(section.rows) for section in self.sections)
        if rows > 10:
            raise ValueError(f"WhatsApp lists hold at most 10 rows in all; this has {rows}")
        return self


class Button(BaseModel):
    """A reply button (id ≤ 256, title ≤ 20)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ButtonsContent(BaseModel):
    """Reply buttons: 1–3 buttons with unique titles, body ≤ 1024."""

    model_config = ConfigDict(frozen=True)

    type: Literal["buttons"] = "buttons"
    header: str | None = Field(default=None, max_length=60)
    body: str = Field(min_length=1, max_length=1024)
    footer: str | None = Field(default=None, max_length=60)
    buttons: list[Button] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _unique_titles(self) -> ButtonsContent:
        titles = [button.title for button in self.buttons]
        if len(set(titles)) != len(titles):
            raise ValueError("button titles must be unique")
        return self


class TemplateContent(BaseModel):
    """An approved template (the only kind allowed outside the 24-hour window)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["template"] = "template"
    name: str
    language: str = "id"
    body_parameters: list[str] = Field(default_factory=list)


ReplyContent = Annotated[
    TextContent | ListContent | ButtonsContent | TemplateContent, Field(discriminator="type")
]


class TicketRef(BaseModel):
    """A feedback ticket named in a reply (number and kind)."""

    model_config = ConfigDict(frozen=True)

    ticket: str
    kind: str


class OutboundReply(_Message):
    """A message to send to a citizen (topic whatsapp.outbound)."""

    office: str
    phone_number_id: str
    wa_id: str
    idempotency_key: str = Field(description="The sender sends each key at most once")
    in_reply_to: str | None = Field(default=None, description="Inbound wamid this answers")
    intent: Intent | None = None
    service: Service | None = None
    content: ReplyContent
    template_fallback: TemplateContent | None = Field(
        default=None, description="Sent instead of content when outside the 24-hour window"
    )
    expect: Expectation | None = Field(
        default=None, description="Directive for the router: who gets the next message"
    )
    language: Lang | None = Field(
        default=None, description="The conversation's language, remembered by the router"
    )
    inbound_received_at: dt.datetime | None = Field(
        default=None, description="When the message it answers was acked (for latency)"
    )
    sent_by: str | None = Field(
        default=None, description="The staff account that wrote it (office inbox replies)"
    )
    created_at: dt.datetime = Field(default_factory=utcnow)
    ticket: TicketRef | None = Field(
        default=None,
        description="The ticket this reply confirms (recorded or added to): the router keeps "
        "it for a few minutes so that a detail the citizen adds goes to it",
    )
    broadcast: str | None = Field(
        default=None,
        description="The broadcast this send belongs to: sent only while the citizen is "
        "still subscribed to the office's announcements",
    )

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


# --- whatsapp.events ----------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    """Outbound message status reported by Meta."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    PLAYED = "played"


class GraphError(BaseModel):
    """An error object from the Graph API (sync response or status webhook)."""

    model_config = ConfigDict(frozen=True)

    code: int
    title: str | None = None
    message: str | None = None
    details: str | None = None


class DeliveryEvent(_Message):
    """A status webhook for one of our messages (topic whatsapp.events)."""

    office: str
    phone_number_id: str
    wa_id: str = Field(description="recipient_id")
    message_id: str = Field(description="wamid of our outbound message")
    status: DeliveryStatus | str
    timestamp: dt.datetime
    errors: list[GraphError] = Field(default_factory=list)
    pricing_category: str | None = None
    callback_data: str | None = Field(
        default=None,
        description="Meta's echo of the send's `biz_opaque_callback_data`: the reply's "
        "idempotency key, which the sender reconciles a send of unknown outcome with",
    )

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


# --- whatsapp.unrouted and dead letters ---------------------------------------------------


class UnroutedPayload(_Message):
    """A webhook change we accepted (200) but could not route, kept for ops."""

    reason: str
    phone_number_id: str | None = None
    display_phone_number: str | None = None
    payload: dict[str, Any] = Field(description="The webhook `change.value` as received")
    received_at: dt.datetime = Field(default_factory=utcnow)


DEAD_LETTER_EXCERPT_BYTES = 4096
"""How much of the original record a dead letter carries. A letter is a pointer for ops (the
original stays on its topic at `partition`/`offset`), so it stays small whatever the record
was: a copy of a 600 KB garbage record once grew to 1.4 MB (invalid bytes → U+FFFD) and was
itself too large to produce."""
DEAD_LETTER_KEY_CHARS = 512


class DeadLetter(_Message):
    """A message that could not be processed, with the error (topic `<topic>.dlq`).

    Bounded: `value` is the original payload when it is valid UTF-8 of at most
    `DEAD_LETTER_EXCERPT_BYTES` (then `value_complete` and it can be re-driven as it is),
    otherwise an excerpt of its first bytes; `value_bytes` and `value_sha256` describe the
    whole original either way. Build one with `DeadLetter.of_record`.
    """

    schema_version: int = 2
    source_topic: str
    partition: int
    offset: int
    key: str | None
    value: str = Field(
        description="The original payload if complete, else its first bytes "
        "(UTF-8, invalid bytes replaced)"
    )
    value_bytes: int | None = Field(
        default=None, ge=0, description="Length of the original payload in bytes"
    )
    value_sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the original payload's bytes"
    )
    value_complete: bool = Field(
        default=True, description="True if `value` is the whole original, byte for byte"
    )
    error_type: str
    error: str
    service: str
    attempts: int = 1
    failed_at: dt.datetime = Field(default_factory=utcnow)

    @classmethod
    def of_record(
        cls,
        *,
        source_topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        error_type: str,
        error: str,
        service: str,
        attempts: int = 1,
    ) -> DeadLetter:
        """The bounded letter for a raw record (whatever its bytes and size)."""
        raw = value or b""
        try:
            text = raw.decode("utf-8") if len(raw) <= DEAD_LETTER_EXCERPT_BYTES else None
        except UnicodeDecodeError:
            text = None
        excerpt = raw[:DEAD_LETTER_EXCERPT_BYTES].decode("utf-8", errors="replace")
        key_text = key.decode("utf-8", errors="replace")[:DEAD_LETTER_KEY_CHARS] if key else None
        return cls(
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key_text,
            value=text if text is not None else excerpt,
            value_bytes=len(raw),
            value_sha256=hashlib.sha256(raw).hexdigest(),
            value_complete=text is not None,
            error_type=error_type,
            error=error[:2000],
            service=service,
            attempts=attempts,
        )


# --- status.updates (compacted, key = application_no) --------------------------------------


class Stage(StrEnum):
    """Stages of a passport application."""

    SUBMITTED = "submitted"
    PAID = "paid"
    BIOMETRICS = "biometrics"
    IN_PROCESS = "in_process"
    APPROVED = "approved"
    PRINTED = "printed"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    NEEDS_ACTION = "needs_action"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class ApplicationRecord(_Message):
    """The current state of one passport application (topic status.updates, compacted)."""

    application_no: str
    office: str
    stage: Stage
    date_of_birth: dt.date
    applicant_name: str
    wa_id: str | None = Field(default=None, description="Number to notify, if the office has it")
    note: str | None = Field(default=None, description="Why action is needed, shown to applicant")
    version: int = Field(default=1, ge=1, description="Increases with every change")
    updated_at: dt.datetime = Field(default_factory=utcnow)
    updated_by: str | None = None


# --- feedback.recorded --------------------------------------------------------------------


class FeedbackKind(StrEnum):
    """Kinds of feedback an office receives."""

    APPRECIATION = "appreciation"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    SCAM_REPORT = "scam_report"
    """A fraudster reported (a number posing as the office, a broker): always urgent."""


class FeedbackRecord(_Message):
    """One piece of feedback, the log of record (topic feedback.recorded)."""

    ticket: str
    office: str
    wa_id: str
    message_id: str = Field(description="Inbound wamid: one record per inbound message")
    kind: FeedbackKind
    urgent: bool = False
    flags: list[str] = Field(default_factory=list)
    text: str
    profile_name: str | None = None
    received_at: dt.datetime
    recorded_at: dt.datetime = Field(default_factory=utcnow)
    reported_numbers: list[str] = Field(
        default_factory=list, description="Scam reports: the numbers reported (wa_id digits)"
    )

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


class FeedbackAddendum(_Message):
    """The citizen added detail to a ticket right after it was recorded (topic
    feedback.recorded, keyed like the record so it follows it). One per inbound message."""

    event: Literal["addendum"] = "addendum"
    ticket: str
    office: str
    wa_id: str
    message_id: str = Field(description="Inbound wamid of the added message")
    text: str
    received_at: dt.datetime
    recorded_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Kafka key: the conversation of the record."""
        return conversation_key(self.office, self.wa_id)


class FeedbackHandled(_Message):
    """An office marked a feedback record handled (topic feedback.recorded, after the record).

    Keyed like the record (`office:wa_id`), so it lands in the record's partition after it and
    a view rebuilt from the topic sees record and handling in order.
    """

    event: Literal["handled"] = "handled"
    ticket: str
    office: str
    wa_id: str
    handled_by: str = Field(min_length=1, max_length=200, description="Who handled it")
    note: str = Field(default="", max_length=4000, description="What the office did")
    handled_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Kafka key: the conversation of the record."""
        return conversation_key(self.office, self.wa_id)


class TicketStage(StrEnum):
    """Where a ticket is between open and closed ("handled" is closed)."""

    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"


class FeedbackProgress(_Message):
    """A ticket moved on: staff took it up, or answered the citizen (topic feedback.recorded,
    keyed like the record so it follows it). An answer's text went to the citizen as the
    `OutboundReply` with idempotency key `reply_key`."""

    event: Literal["progress"] = "progress"
    ticket: str
    office: str
    wa_id: str
    stage: TicketStage
    by: str = Field(min_length=1, max_length=200, description="Staff account")
    answer: str = Field(default="", max_length=4000, description="What the citizen was told")
    reply_key: str | None = Field(default=None, description="Idempotency key of the answer")
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Kafka key: the conversation of the record."""
        return conversation_key(self.office, self.wa_id)


def _feedback_event_tag(value: Any) -> str:
    # FeedbackRecord predates the `event` field: anything without it is a record.
    if isinstance(value, dict):
        return str(value.get("event", "recorded"))
    return str(getattr(value, "event", "recorded"))


_FeedbackEventUnion = Annotated[
    Annotated[FeedbackRecord, Tag("recorded")]
    | Annotated[FeedbackHandled, Tag("handled")]
    | Annotated[FeedbackProgress, Tag("progress")]
    | Annotated[FeedbackAddendum, Tag("addendum")],
    Discriminator(_feedback_event_tag),
]


class FeedbackEvent(RootModel[_FeedbackEventUnion]):
    """Anything on feedback.recorded: a `FeedbackRecord`, `FeedbackHandled`,
    `FeedbackProgress` or `FeedbackAddendum` (decode only)."""


# --- inbox.messages (key office:wa_id): conversations held for office staff ----------------


class HandoffReason(StrEnum):
    """Why a conversation was handed to office staff."""

    ASKED = "asked"
    """The citizen asked for a person."""
    FALLBACKS = "fallbacks"
    """The bot failed to understand twice in a row and the citizen accepted the offer."""
    URGENT_COMPLAINT = "urgent_complaint"
    """An urgent complaint, and the citizen accepted the offer."""


class ReleaseReason(StrEnum):
    """Why a held conversation went back to the bot."""

    CITIZEN = "citizen"
    STAFF = "staff"
    IDLE = "idle"


class InboxHeld(_Message):
    """A conversation is now held for office staff: the bot stays silent."""

    event: Literal["held"] = "held"
    office: str
    wa_id: str
    reason: HandoffReason
    since: dt.datetime = Field(default_factory=utcnow)
    profile_name: str | None = None

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


class InboxCitizenMessage(_Message):
    """A citizen's message forwarded to the office inbox instead of the bot."""

    event: Literal["citizen"] = "citizen"
    office: str
    wa_id: str
    inbound: InboundMessage

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


class InboxClaimed(_Message):
    """A staff member took the conversation (exactly one holder at a time)."""

    event: Literal["claimed"] = "claimed"
    office: str
    wa_id: str
    by: str = Field(min_length=1, max_length=200, description="Staff account")
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


class InboxReleased(_Message):
    """The conversation went back to the bot (citizen, staff or idle timeout)."""

    event: Literal["released"] = "released"
    office: str
    wa_id: str
    reason: ReleaseReason
    by: str | None = Field(default=None, description="Staff account that closed it")
    held_since: dt.datetime | None = None
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)


_InboxEventUnion = Annotated[
    InboxHeld | InboxCitizenMessage | InboxClaimed | InboxReleased, Field(discriminator="event")
]


class InboxEvent(RootModel[_InboxEventUnion]):
    """Anything on inbox.messages (decode only)."""


# --- ops.audit (key office): who did what in /ops ------------------------------------------


class StaffAction(_Message):
    """One staff action in `/ops`, the audit log of record (topic ops.audit, key = office).

    Sign-ins, claims, replies, closes, handled and answered tickets: who, when, on what.
    """

    action: str = Field(pattern=r"^[a-z_.]{2,40}$", description="e.g. sign_in, claim, reply")
    actor: str = Field(
        min_length=1, max_length=200, description="Staff account (or the name tried)"
    )
    office: str = Field(description="The actor's office, or '*' for national staff")
    target_office: str | None = Field(default=None, description="The office acted on")
    target: str | None = Field(
        default=None, max_length=200, description="Ticket, or masked conversation"
    )
    outcome: str = Field(default="ok", max_length=40, description="ok, refused, locked, …")
    detail: str = Field(default="", max_length=500)
    address: str | None = Field(default=None, max_length=64, description="Client address")
    action_id: str = Field(description="Unique id: the view stores each action once")
    at: dt.datetime = Field(default_factory=utcnow)


# --- content.published (compacted, key scope:topic): what staff publish in /ops -----------

CONTENT_HISTORY_KEPT = 30
"""Versions a content record keeps (newest first); older ones stay in `ops.audit`."""


class ContentKind(StrEnum):
    """What a content record holds."""

    ANSWER = "answer"  # an FAQ answer (a topic of `gerbang.faq.content.TOPICS`)
    ANNOUNCEMENT = "announcement"  # an office notice shown above its answers while valid
    EXAMPLES = "examples"  # an office's labelled examples of one topic (`examples.<topic>`)
    OFFICE_TOPIC = "office_topic"  # a topic one office created: title, answer, examples


class ContentState(StrEnum):
    """Where a version stands."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ROLLED_BACK = "rolled_back"


class ContentVersion(BaseModel):
    """One version of an answer or announcement, as staff wrote it in `/ops` (or imported)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version_id: str = Field(min_length=1, max_length=64, description="Unique id of the version")
    number: int = Field(ge=1, description="1, 2, 3 … per record")
    text: LocalizedText | None = Field(
        default=None, description="Both languages; None: the answer goes back to the YAML baseline"
    )
    author: str = Field(min_length=1, max_length=200, description="Staff account, or 'import'")
    at: dt.datetime = Field(default_factory=utcnow, description="When it was written")
    reason: str = Field(default="", max_length=500, description="Why it changed")
    source: str | None = Field(default=None, max_length=1000, description="National facts")
    verified_on: dt.date | None = Field(default=None, description="National facts: checked on")
    valid_from: dt.datetime | None = Field(default=None, description="Announcements")
    valid_until: dt.datetime | None = Field(default=None, description="Announcements")
    state: ContentState
    published_by: str | None = Field(default=None, max_length=200)
    published_at: dt.datetime | None = None
    restores: int | None = Field(
        default=None, ge=0, description="A rollback: the version number restored (0: baseline)"
    )
    title: LocalizedText | None = Field(default=None, description="An office's own topic")
    examples: tuple[str, ...] = Field(
        default=(),
        max_length=50,
        description="Examples records and office topics: messages that ask this topic",
    )


class ContentRecord(_Message):
    """Everything about one answer or announcement of one scope: the latest record per key is
    the whole state (the topic is compacted), its `versions` the history, newest first.

    Key `scope:topic`: `jakpus:hours_location`, `national:fees`, `bogor:announcement`."""

    scope: str = Field(min_length=1, max_length=32, description="An office code, or 'national'")
    topic: str = Field(min_length=1, max_length=64)
    kind: ContentKind = ContentKind.ANSWER
    versions: list[ContentVersion] = Field(min_length=1, max_length=CONTENT_HISTORY_KEPT)

    @property
    def key(self) -> str:
        """The Kafka key."""
        return f"{self.scope}:{self.topic}"

    @property
    def live(self) -> ContentVersion | None:
        """The version citizens read (None: never published, the YAML baseline answers)."""
        return next((v for v in self.versions if v.state is ContentState.PUBLISHED), None)

    @property
    def draft(self) -> ContentVersion | None:
        """The draft waiting to be published, if it is newer than what is live."""
        for version in self.versions:
            if version.state is ContentState.DRAFT:
                return version
            if version.state is ContentState.PUBLISHED:
                return None
        return None


# --- announcements.subscriptions (compacted, key office:wa_id) -------------------------------


class SubscriptionChanged(_Message):
    """A citizen opted in to (or out of) an office's announcements: the latest record per
    conversation is the citizen's choice (the topic is compacted and is the source of truth;
    the Redis view the broadcasts read is rebuilt from it)."""

    office: str
    wa_id: str
    subscribed: bool
    language: Lang = "id"
    message_id: str = Field(description="The citizen's message that made the choice")
    at: dt.datetime = Field(default_factory=utcnow, description="When it was made")

    @property
    def key(self) -> str:
        """Kafka key: the conversation."""
        return conversation_key(self.office, self.wa_id)
