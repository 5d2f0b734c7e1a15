"""Parsing Meta's WhatsApp webhook POSTs into Gerbang's messages (pure: no I/O, no clock).

One POST can batch many updates (reference/whatsapp-cloud-api.md §1.3): every entry, change,
message and status is read. The split follows nyaruka/courier's Meta handler:

- A body that is not a WhatsApp webhook at all (not JSON, not an object, `object` is not
  `whatsapp_business_account`, `entry` not a list) *fails*: `MalformedWebhook` (→ 400).
- Anything else is accepted (→ 200 once stored) and sorted into `ParsedWebhook`:
  citizens' `messages` (→ whatsapp.inbound), delivery `events` (statuses: every one marks
  the status log, and those with more than routine news go to whatsapp.events: see
  `gerbang_gateway.api._needs_record`),
  `unrouted` payloads kept for ops (→ whatsapp.unrouted: an unknown phone_number_id, a part
  shaped wrongly, out-of-band `errors`), and `ignored` reasons to log (other webhook fields
  such as message_template_status_update). Answering 4xx/5xx to a well-formed envelope would
  only make Meta redeliver it for 7 days (§1.4), so nothing in it is ever lost or fatal.

Size: `keep_aside_oversized` moves what Kafka could never take (a message over the inbound
limit, any record over `kafka_max_message_bytes`) to `unrouted`, trimmed, with the reason: a
size error is the payload's fault, and answering 503 would make Meta redeliver it for a week.

Deduplication across deliveries (Meta retries, and sends to every subscribed app) is the
endpoint's job, by `dedupe_key`; a wamid repeated inside one payload is dropped here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError

from gerbang.bus import encode
from gerbang.messages import (
    DeliveryEvent,
    DeliveryStatus,
    GraphError,
    InboundKind,
    InboundMessage,
    Location,
    Media,
    UnroutedPayload,
)
from gerbang.offices import OfficeRegistry, UnknownOffice

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"

REASON_UNKNOWN_NUMBER = "unknown phone_number_id"
REASON_ERRORS = "errors"
REASON_TOO_LARGE = "too large for the bus"
EXCERPT_CHARS = 2000
"""How much of an oversized text or payload is kept aside (enough for ops to see what it was)."""

# Latest instant a datetime can hold (9999-12-31T23:59:59Z); beyond it fromtimestamp overflows.
_MAX_UNIX_SECONDS = 253_402_300_799
_DIGITS = re.compile(r"[0-9]{1,12}")
# A lone UTF-16 surrogate (an unpaired `\ud83d` escape) cannot be encoded as UTF-8: it would
# make the message unpublishable later, so it becomes U+FFFD here.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_KNOWN_STATUSES = frozenset(status.value for status in DeliveryStatus)
_MEDIA_KINDS = {
    "image": InboundKind.IMAGE,
    "document": InboundKind.DOCUMENT,
    "video": InboundKind.VIDEO,
    "sticker": InboundKind.STICKER,
    "audio": InboundKind.AUDIO,
}


class MalformedWebhook(Exception):
    """The body is not a WhatsApp webhook envelope (the endpoint answers 400).

    `where` names the offending part (`body`, `object`, `entry`); `reason` says what is wrong.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class ParsedWebhook:
    """Everything one webhook POST carried, sorted by where it goes.

    - `messages`: citizens' messages, in payload order (→ whatsapp.inbound).
    - `events`: statuses of our messages, in payload order (→ the status log; failures and
      the like also → whatsapp.events).
    - `unrouted`: what was accepted but belongs to no office or could not be read, with the
      received JSON and a reason (→ whatsapp.unrouted).
    - `ignored`: reasons to log for what needs no processing (other webhook fields, an empty
      change, a wamid repeated within this payload).
    - `phone_number_ids`: every `metadata.phone_number_id` of a `messages` change, whether
      an office has it or not.
    """

    messages: list[InboundMessage] = field(default_factory=list)
    events: list[DeliveryEvent] = field(default_factory=list)
    unrouted: list[UnroutedPayload] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    phone_number_ids: set[str] = field(default_factory=set)


def dedupe_key(item: InboundMessage | DeliveryEvent) -> str:
    """Key under which a redelivered webhook item is recognised (reference §1.4).

    Inbound messages by wamid; statuses by (wamid, status), since one message has several.
    """
    if isinstance(item, InboundMessage):
        return f"in:{item.message_id}"
    return f"ev:{item.message_id}:{item.status}"


class _Shape(Exception):
    """Internal: a part of a change is shaped wrongly; `where` is a path within the change."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def parse_webhook(
    body: bytes, registry: OfficeRegistry, *, received_at: dt.datetime
) -> ParsedWebhook:
    """Parse a webhook POST body (the raw bytes) into messages, events, unrouted and ignored.

    Pure: the same body, registry and `received_at` (aware; stamped on every message) give
    the same result. Raises `MalformedWebhook` only, and only for a broken envelope; a broken
    part of a change lands in `unrouted` with a reason naming the field.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    document = _load(body)
    if not isinstance(document, dict):
        raise MalformedWebhook("body", "not a JSON object")
    if document.get("object") != WHATSAPP_OBJECT:
        raise MalformedWebhook("object", f"expected {WHATSAPP_OBJECT!r}")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("entry", "missing or not a list")

    parser = _Parser(registry, received_at)
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            parser.unroute("malformed entry.changes: missing or not a list", {"entry": entry})
            continue
        for change in changes:
            parser.change(change)
    return parser.parsed


def _load(body: bytes) -> Any:
    """JSON from the raw body; anything that is not UTF-8 JSON is a `MalformedWebhook`."""
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedWebhook("body", "not UTF-8") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError as exc:  # JSONDecodeError, and ints longer than Python allows
        raise MalformedWebhook("body", f"not JSON ({exc})") from None
    except RecursionError:
        raise MalformedWebhook("body", "JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        document = _replace_lone_surrogates(document)
    return document


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259) and Meta never sends them; Python would accept
    # them, and they would not survive publishing (they serialise as null).
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):  # 1e400 overflows to inf: same problem as Infinity
        raise ValueError(f"{literal[:20]} overflows a float")
    return number


def _replace_lone_surrogates(document: Any) -> Any:
    """Replace unpaired surrogates in every string (keys too); iterative, as JSON can be deep."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return _SURROGATE.sub("\ufffd", value)
        if isinstance(value, dict):
            cleaned: dict[str, Any] = {}
            pending.append((value, cleaned))
            return cleaned
        if isinstance(value, list):
            items: list[Any] = []
            pending.append((value, items))
            return items
        return value

    pending: list[tuple[Any, Any]] = []
    root = clean(document)
    while pending:
        source, target = pending.pop()
        if isinstance(source, dict):
            for key, item in source.items():
                target[clean(key)] = clean(item)
        else:
            target.extend(clean(item) for item in source)
    return root


# --- reading fields: every accessor raises _Shape naming the field ------------------------


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _Shape(f"{where}.{key}", "missing or not an object")
    return value


def _string(parent: dict[str, Any], key: str, where: str) -> str:
    """A required, non-empty string."""
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise _Shape(f"{where}.{key}", "missing or not a non-empty string")
    return value


def _optional_string(parent: dict[str, Any], key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Shape(f"{where}.{key}", "not a string")
    return value


def _optional_list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(f"{where}.{key}", "not a list")
    return value


def _timestamp(parent: dict[str, Any], key: str, where: str) -> dt.datetime:
    """Meta's timestamps are unix seconds as a string ("1760000000"); an int is tolerated."""
    raw = parent.get(key)
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        seconds = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        seconds = raw
    else:
        raise _Shape(f"{where}.{key}", "missing or not unix seconds")
    if not 0 <= seconds <= _MAX_UNIX_SECONDS:
        raise _Shape(f"{where}.{key}", "out of range")
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _coordinate(parent: dict[str, Any], key: str, where: str, limit: float) -> float:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Shape(f"{where}.{key}", "missing or not a number")
    number = float(value)
    if not -limit <= number <= limit:
        raise _Shape(f"{where}.{key}", f"not within ±{limit:g}")
    return number


# --- one message's type-specific part -------------------------------------------------------

# What a message type contributes to InboundMessage (kind, text, reply_id, media ...).
_Fields = dict[str, Any]


def _text(message: dict[str, Any], where: str) -> _Fields:
    text = _object(message, "text", where)
    return {"kind": InboundKind.TEXT, "text": _string(text, "body", f"{where}.text")}


def _interactive(message: dict[str, Any], where: str) -> _Fields:
    interactive = _object(message, "interactive", where)
    here = f"{where}.interactive"
    reply_type = _string(interactive, "type", here)
    if reply_type not in ("button_reply", "list_reply"):
        # e.g. nfm_reply (a WhatsApp Flow's answer): nothing the router can act on.
        return {"kind": InboundKind.UNSUPPORTED}
    reply = _object(interactive, reply_type, here)
    return {
        "kind": InboundKind.INTERACTIVE,
        "reply_id": _string(reply, "id", f"{here}.{reply_type}"),
        "text": _optional_string(reply, "title", f"{here}.{reply_type}"),
    }


def _button(message: dict[str, Any], where: str) -> _Fields:
    # A quick-reply button of a template message (legacy type "button", not "interactive").
    button = _object(message, "button", where)
    return {
        "kind": InboundKind.BUTTON,
        "text": _optional_string(button, "text", f"{where}.button"),
        "reply_id": _optional_string(button, "payload", f"{where}.button"),
    }


def _media(message: dict[str, Any], where: str, media_type: str) -> _Fields:
    media = _object(message, media_type, where)
    here = f"{where}.{media_type}"
    voice = media.get("voice")
    if voice is not None and not isinstance(voice, bool):
        raise _Shape(f"{here}.voice", "not a boolean")
    caption = _optional_string(media, "caption", here)
    return {
        "kind": _MEDIA_KINDS[media_type],
        "text": caption,
        "media": Media(
            media_id=_string(media, "id", here),
            mime_type=_optional_string(media, "mime_type", here),
            sha256=_optional_string(media, "sha256", here),
            caption=caption,
            filename=_optional_string(media, "filename", here),
            voice=voice if media_type == "audio" else None,
        ),
    }


def _location(message: dict[str, Any], where: str) -> _Fields:
    location = _object(message, "location", where)
    here = f"{where}.location"
    return {
        "kind": InboundKind.LOCATION,
        "location": Location(
            latitude=_coordinate(location, "latitude", here, 90.0),
            longitude=_coordinate(location, "longitude", here, 180.0),
            name=_optional_string(location, "name", here),
            address=_optional_string(location, "address", here),
        ),
    }


def _reaction(message: dict[str, Any], where: str) -> _Fields:
    # The reacted-to message (ours) plays the part of the context; no emoji = reaction removed.
    reaction = _object(message, "reaction", where)
    here = f"{where}.reaction"
    return {
        "kind": InboundKind.REACTION,
        "text": _optional_string(reaction, "emoji", here) or None,
        "context_message_id": _optional_string(reaction, "message_id", here),
    }


def _contacts(message: dict[str, Any], where: str) -> _Fields:
    # Shared contact cards, as "Name: +62..., +62..." lines: a citizen may share a number to
    # ask whether it is really the office's (the anti-scam check reads the text).
    lines = []
    for index, card in enumerate(_optional_list(message, "contacts", where)):
        here = f"{where}.contacts[{index}]"
        if not isinstance(card, dict):
            raise _Shape(here, "not an object")
        name = card.get("name")
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        numbers = []
        for position, phone in enumerate(_optional_list(card, "phones", here)):
            if not isinstance(phone, dict):
                raise _Shape(f"{here}.phones[{position}]", "not an object")
            number = _optional_string(phone, "phone", f"{here}.phones[{position}]")
            if number:
                numbers.append(number)
        label = formatted if isinstance(formatted, str) and formatted else None
        line = ", ".join(numbers)
        if label:
            line = f"{label}: {line}" if line else label
        if line:
            lines.append(line)
    return {"kind": InboundKind.CONTACTS, "text": "\n".join(lines) or None}


_TYPES: dict[str, Callable[[dict[str, Any], str], _Fields]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _button,
    "location": _location,
    "reaction": _reaction,
    "contacts": _contacts,
    **{media_type: partial(_media, media_type=media_type) for media_type in _MEDIA_KINDS},
}


# --- the walk over changes ------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    """The office a change belongs to, and the number it came in on."""

    office: str
    phone_number_id: str
    display: str | None


class _Parser:
    """Accumulates one payload's ParsedWebhook; one instance per parse_webhook call."""

    def __init__(self, registry: OfficeRegistry, received_at: dt.datetime) -> None:
        self.registry = registry
        self.received_at = received_at
        self.parsed = ParsedWebhook()
        self._seen: set[str] = set()

    def unroute(
        self,
        reason: str,
        payload: dict[str, Any],
        phone_number_id: str | None = None,
        display_phone_number: str | None = None,
    ) -> None:
        self.parsed.unrouted.append(
            UnroutedPayload(
                reason=reason,
                phone_number_id=phone_number_id,
                display_phone_number=display_phone_number,
                payload=payload,
                received_at=self.received_at,
            )
        )

    def change(self, change: Any) -> None:
        if not isinstance(change, dict):
            self.unroute("malformed change: not an object", {"change": change})
            return
        field_name = change.get("field")
        if field_name != MESSAGES_FIELD:
            # account_update, message_template_status_update, phone_number_quality_update ...
            self.parsed.ignored.append(f"field {field_name!r}")
            return
        value = change.get("value")
        if not isinstance(value, dict):
            self.unroute("malformed value: missing or not an object", {"value": value})
            return
        metadata = value.get("metadata")
        phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if not isinstance(phone_number_id, str) or not phone_number_id:
            self.unroute("malformed value.metadata.phone_number_id: missing or not a string", value)
            return
        self.parsed.phone_number_ids.add(phone_number_id)
        display = metadata.get("display_phone_number") if isinstance(metadata, dict) else None
        display = display if isinstance(display, str) else None
        try:
            office = self.registry.by_phone_number_id(phone_number_id).code
        except UnknownOffice:
            self.unroute(REASON_UNKNOWN_NUMBER, value, phone_number_id, display)
            return
        route = _Route(office, phone_number_id, display)
        try:
            messages = _optional_list(value, "messages", "value")
            statuses = _optional_list(value, "statuses", "value")
        except _Shape as problem:
            self.unroute(f"malformed {problem}", value, phone_number_id, display)
            return
        profiles = _profile_names(value.get("contacts"))
        for index, message in enumerate(messages):
            where = f"value.messages[{index}]"
            try:
                inbound = self._message(message, where, route, profiles)
            except _Shape as problem:
                self._unroute_part(problem, value, "messages", message, route)
                continue
            if self._first_time(dedupe_key(inbound)):
                self.parsed.messages.append(inbound)
            else:
                self.parsed.ignored.append(f"duplicate message {inbound.message_id}")
        for index, status in enumerate(statuses):
            where = f"value.statuses[{index}]"
            try:
                event = self._event(status, where, route)
            except _Shape as problem:
                self._unroute_part(problem, value, "statuses", status, route)
                continue
            if self._first_time(dedupe_key(event)):
                self.parsed.events.append(event)
            else:
                self.parsed.ignored.append(f"duplicate status {event.status} {event.message_id}")
        if value.get("errors"):
            # Out-of-band errors (e.g. 130429) are nobody's conversation, but ops must see them.
            rest = {k: v for k, v in value.items() if k not in ("messages", "statuses")}
            self.unroute(REASON_ERRORS, rest, phone_number_id, display)
        elif not messages and not statuses:
            self.parsed.ignored.append("messages change without messages, statuses or errors")

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _unroute_part(
        self, problem: _Shape, value: dict[str, Any], key: str, item: Any, route: _Route
    ) -> None:
        # Keep only the broken item (with the change's metadata and contacts): the rest of the
        # change was delivered, and ops should not see it twice.
        payload = {k: v for k, v in value.items() if k not in ("messages", "statuses", "errors")}
        payload[key] = [item]
        self.unroute(f"malformed {problem}", payload, route.phone_number_id, route.display)

    def _message(
        self, message: Any, where: str, route: _Route, profiles: dict[str, str]
    ) -> InboundMessage:
        if not isinstance(message, dict):
            raise _Shape(where, "not an object")
        wa_id = _string(message, "from", where)
        message_type = _string(message, "type", where)
        context = message.get("context")
        context = context if isinstance(context, dict) else {}
        reader = _TYPES.get(message_type)
        # Anything else ("unsupported", "unknown", "system", "order" ...) still reaches the
        # router, which answers politely that it cannot read this kind of message.
        fields = reader(message, where) if reader else {"kind": InboundKind.UNSUPPORTED}
        context_id = context.get("id")
        fields.setdefault("context_message_id", context_id if isinstance(context_id, str) else None)
        try:
            return InboundMessage(
                office=route.office,
                phone_number_id=route.phone_number_id,
                wa_id=wa_id,
                message_id=_string(message, "id", where),
                timestamp=_timestamp(message, "timestamp", where),
                received_at=self.received_at,
                profile_name=profiles.get(wa_id) or _sole_profile(profiles),
                forwarded=context.get("forwarded") is True
                or context.get("frequently_forwarded") is True,
                **fields,
            )
        except ValidationError as exc:
            raise _Shape(where, f"invalid ({exc.error_count()} error(s))") from None

    def _event(self, status: Any, where: str, route: _Route) -> DeliveryEvent:
        if not isinstance(status, dict):
            raise _Shape(where, "not an object")
        name = _string(status, "status", where)
        pricing = status.get("pricing")
        category = (
            _optional_string(pricing, "category", f"{where}.pricing")
            if isinstance(pricing, dict)
            else None
        )
        try:
            return DeliveryEvent(
                office=route.office,
                phone_number_id=route.phone_number_id,
                wa_id=_string(status, "recipient_id", where),
                message_id=_string(status, "id", where),
                # A status Meta adds later is kept as text rather than lost.
                status=DeliveryStatus(name) if name in _KNOWN_STATUSES else name,
                timestamp=_timestamp(status, "timestamp", where),
                errors=_graph_errors(status, where),
                pricing_category=category,
                callback_data=_optional_string(status, "biz_opaque_callback_data", where),
            )
        except ValidationError as exc:
            raise _Shape(where, f"invalid ({exc.error_count()} error(s))") from None


def _graph_errors(status: dict[str, Any], where: str) -> list[GraphError]:
    errors = []
    for index, error in enumerate(_optional_list(status, "errors", where)):
        here = f"{where}.errors[{index}]"
        if not isinstance(error, dict):
            raise _Shape(here, "not an object")
        code = error.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise _Shape(f"{here}.code", "missing or not an integer")
        error_data = error.get("error_data")
        details = (
            _optional_string(error_data, "details", f"{here}.error_data")
            if isinstance(error_data, dict)
            else None
        )
        errors.append(
            GraphError(
                code=code,
                title=_optional_string(error, "title", here),
                message=_optional_string(error, "message", here),
                details=details,
            )
        )
    return errors


def _profile_names(contacts: Any) -> dict[str, str]:
    """`wa_id → profile.name` from `value.contacts`; a broken entry just has no name."""
    names: dict[str, str] = {}
    if not isinstance(contacts, list):
        return names
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        wa_id, profile = contact.get("wa_id"), contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(wa_id, str) and isinstance(name, str) and name:
            names[wa_id] = name
    return names


def _sole_profile(profiles: dict[str, str]) -> str | None:
    # Meta warns that wa_id and the sender's number may not match (§1.3); with one contact
    # in the change, that contact is the sender.
    return next(iter(profiles.values())) if len(profiles) == 1 else None


# --- size: what Kafka could never take --------------------------------------------------------


def keep_aside_oversized(
    parsed: ParsedWebhook, *, message_limit: int, record_limit: int
) -> ParsedWebhook:
    """`parsed` with every item too large for the bus kept aside, trimmed (pure).

    - a citizen message whose record exceeds `message_limit` (the router wraps it in a larger
      `ServiceRequest`, so it gets less than a whole record) goes to `unrouted` as an excerpt
      with its sizes and hash, and is not routed;
    - a status event over `record_limit` likewise;
    - an unrouted payload over `record_limit` keeps an excerpt of its JSON instead.
    The reason is one fixed text (it labels a metric); the sizes are in the payload.
    """
    kept = ParsedWebhook(
        ignored=list(parsed.ignored), phone_number_ids=set(parsed.phone_number_ids)
    )
    for message in parsed.messages:
        size = len(encode(message))
        if size <= message_limit:
            kept.messages.append(message)
            continue
        text = message.text or ""
        kept.unrouted.append(
            UnroutedPayload(
                reason=REASON_TOO_LARGE,
                phone_number_id=message.phone_number_id,
                payload={
                    "office": message.office,
                    "message_id": message.message_id,
                    "wa_id": message.wa_id,
                    "kind": message.kind.value,
                    "record_bytes": size,
                    "limit_bytes": message_limit,
                    "text_chars": len(text),
                    "text_sha256": _sha256(text.encode("utf-8", errors="replace")),
                    "text_excerpt": text[:EXCERPT_CHARS],
                },
                received_at=message.received_at,
            )
        )
    for event in parsed.events:
        if len(encode(event)) <= record_limit:
            kept.events.append(event)
        else:
            kept.unrouted.append(_trimmed(event, event.phone_number_id, record_limit))
    for item in parsed.unrouted:
        if len(encode(item)) <= record_limit:
            kept.unrouted.append(item)
        else:
            kept.unrouted.append(
                _trimmed(item, item.phone_number_id, record_limit, item.display_phone_number)
            )
    return kept


def _trimmed(
    item: BaseModel, phone_number_id: str | None, limit: int, display: str | None = None
) -> UnroutedPayload:
    raw = encode(item)
    return UnroutedPayload(
        reason=REASON_TOO_LARGE,
        phone_number_id=phone_number_id,
        display_phone_number=display,
        payload={
            "record_bytes": len(raw),
            "limit_bytes": limit,
            "sha256": _sha256(raw),
            "excerpt": raw[: EXCERPT_CHARS * 2].decode("utf-8", errors="replace"),
        },
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
