"""parse_webhook over the recorded bodies in tests/fixtures/whatsapp, plus edge and property tests.

Table-driven like nyaruka/courier's Meta handler tests: each fixture names what must come out
of it (messages, delivery events, unrouted payloads, ignored reasons).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gerbang.bus import encode
from gerbang.messages import (
    DeliveryEvent,
    DeliveryStatus,
    GraphError,
    InboundKind,
    InboundMessage,
    UnroutedPayload,
)
from gerbang.offices import OfficeRegistry, load_registry
from gerbang_gateway.webhook import (
    REASON_ERRORS,
    REASON_TOO_LARGE,
    REASON_UNKNOWN_NUMBER,
    MalformedWebhook,
    ParsedWebhook,
    dedupe_key,
    keep_aside_oversized,
    parse_webhook,
)

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "whatsapp"
REGISTRY: OfficeRegistry = load_registry(REPO / "offices")
RECEIVED_AT = dt.datetime(2025, 10, 9, 9, 0, tzinfo=dt.UTC)

JAKPUS, BOGOR, BATAM = "100000000000001", "100000000000002", "100000000000003"
UNKNOWN_NUMBER = "109999999999999"
BUDI, SITI, ANDI, ANDRE, DEWI, RUDI = (
    "6281234567890",
    "6285712345678",
    "6281398765432",
    "6282112345678",
    "6281511122233",
    "6281277788899",
)


def fixture_bytes(name: str) -> bytes:
    """A recorded body exactly as Meta would post it."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def parse(body: bytes) -> ParsedWebhook:
    return parse_webhook(body, REGISTRY, received_at=RECEIVED_AT)


def parse_fixture(name: str) -> ParsedWebhook:
    return parse(fixture_bytes(name))


def envelope(*values: dict[str, Any], field_name: str = "messages") -> bytes:
    """A one-entry webhook whose changes carry `values`."""
    changes = [{"field": field_name, "value": value} for value in values]
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": changes}],
    }
    return json.dumps(document).encode()


def value(phone_number_id: str = JAKPUS, **parts: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "628118539333", "phone_number_id": phone_number_id},
        **parts,
    }


def text_message(body: str = "Halo", wamid: str = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYAA==") -> dict:
    return {
        "from": BUDI,
        "id": wamid,
        "timestamp": "1760000000",
        "type": "text",
        "text": {"body": body},
    }


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """What one InboundMessage must say: (office, wa_id, kind, text, reply_id)."""

    office: str
    wa_id: str
    kind: InboundKind
    text: str | None = None
    reply_id: str | None = None


@dataclass(frozen=True)
class Case:
    fixture: str
    messages: list[Msg] = field(default_factory=list)
    events: list[tuple[str, str, DeliveryStatus]] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    phone_number_ids: set[str] = field(default_factory=set)


K = InboundKind
CASES = [
    Case(
        "text",
        [Msg("jakpus", BUDI, K.TEXT, "Halo, apa syarat buat paspor baru?")],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "text_non_ascii",
        [
            Msg(
                "jakpus",
                ANDRE,
                K.TEXT,
                "Terima kasih 🙏 paspor saya sudah jadi, pelayanannya cepat sekali. "
                "Sukses terus SIGAP! 😊",
            )
        ],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "interactive_button_reply",
        [Msg("bogor", SITI, K.INTERACTIVE, "Keluhan", "feedback:complaint")],
        phone_number_ids={BOGOR},
    ),
    Case(
        "interactive_list_reply",
        [Msg("jakpus", BUDI, K.INTERACTIVE, "Syarat paspor baru", "faq:requirements")],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "button_template_reply",
        [Msg("jakpus", ANDI, K.BUTTON, "Lihat status", "status_detail")],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "image_with_caption",
        [Msg("jakpus", DEWI, K.IMAGE, "Ini bukti transfer biaya paspor, sudah benar belum?")],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "document",
        [Msg("bogor", RUDI, K.DOCUMENT, "Surat keterangan hilang dari kepolisian")],
        phone_number_ids={BOGOR},
    ),
    Case(
        "video",
        [Msg("bogor", SITI, K.VIDEO, "Antrean di depan loket pagi ini")],
        phone_number_ids={BOGOR},
    ),
    Case("audio_voice", [Msg("batam", ANDI, K.AUDIO)], phone_number_ids={BATAM}),
    Case("location", [Msg("batam", RUDI, K.LOCATION)], phone_number_ids={BATAM}),
    Case("reaction", [Msg("jakpus", BUDI, K.REACTION, "👍")], phone_number_ids={JAKPUS}),
    Case("sticker", [Msg("bogor", SITI, K.STICKER)], phone_number_ids={BOGOR}),
    Case(
        "contacts",
        [Msg("jakpus", DEWI, K.CONTACTS, "Admin Paspor Cepat: +62 812-9999-0000")],
        phone_number_ids={JAKPUS},
    ),
    Case("unsupported", [Msg("jakpus", ANDI, K.UNSUPPORTED)], phone_number_ids={JAKPUS}),
    Case(
        "status_sent",
        events=[("jakpus", BUDI, DeliveryStatus.SENT)],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "status_delivered",
        events=[("jakpus", BUDI, DeliveryStatus.DELIVERED)],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "status_read",
        events=[("jakpus", BUDI, DeliveryStatus.READ)],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "status_failed_131047",
        events=[("jakpus", ANDI, DeliveryStatus.FAILED)],
        phone_number_ids={JAKPUS},
    ),
    Case(
        "batched",
        [
            Msg("jakpus", BUDI, K.TEXT, "brp biaya paspor 10 thn?"),
            Msg("jakpus", ANDRE, K.TEXT, "Kapan bisa ambil paspor? 🙏"),
            Msg("bogor", SITI, K.INTERACTIVE, "Cek status paspor", "status"),
        ],
        events=[
            ("jakpus", DEWI, DeliveryStatus.DELIVERED),
            ("jakpus", BUDI, DeliveryStatus.READ),
            ("bogor", RUDI, DeliveryStatus.SENT),
        ],
        phone_number_ids={JAKPUS, BOGOR},
    ),
    Case(
        "unknown_phone_number_id",
        unrouted=[REASON_UNKNOWN_NUMBER],
        phone_number_ids={UNKNOWN_NUMBER},
    ),
    Case("template_status_update", ignored=["field 'message_template_status_update'"]),
    Case("errors_only", unrouted=[REASON_ERRORS], phone_number_ids={JAKPUS}),
    Case(
        "partly_malformed",
        [Msg("bogor", SITI, K.TEXT, "Permisi, mau tanya jam buka kantor")],
        unrouted=["malformed value.messages[1].timestamp: missing or not unix seconds"],
        phone_number_ids={BOGOR},
    ),
]


def test_every_fixture_has_a_case() -> None:
    """A fixture added without a row would silently go untested."""
    on_disk = {path.stem for path in FIXTURES.glob("*.json")}
    assert on_disk == {case.fixture for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.fixture)
def test_fixture(case: Case) -> None:
    parsed = parse_fixture(case.fixture)

    got_messages = [Msg(m.office, m.wa_id, m.kind, m.text, m.reply_id) for m in parsed.messages]
    assert got_messages == case.messages
    assert [(e.office, e.wa_id, e.status) for e in parsed.events] == case.events
    assert [u.reason for u in parsed.unrouted] == case.unrouted
    assert parsed.ignored == case.ignored
    assert parsed.phone_number_ids == case.phone_number_ids
    for message in parsed.messages:
        office = REGISTRY.get(message.office)
        assert message.phone_number_id == office.whatsapp.phone_number_id
        assert message.message_id.startswith("wamid.")
        assert message.received_at == RECEIVED_AT
        assert message.timestamp.tzinfo is not None


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.fixture)
def test_everything_parsed_can_be_published(case: Case) -> None:
    """What parse_webhook returns goes to Kafka as JSON: it must survive the round trip."""
    parsed = parse_fixture(case.fixture)
    _assert_publishable(parsed)


def _assert_publishable(parsed: ParsedWebhook) -> None:
    for message in parsed.messages:
        assert InboundMessage.model_validate_json(message.model_dump_json()) == message
    for event in parsed.events:
        assert DeliveryEvent.model_validate_json(event.model_dump_json()) == event
    for unrouted in parsed.unrouted:
        assert UnroutedPayload.model_validate_json(unrouted.model_dump_json()) == unrouted


# --- details of single fixtures --------------------------------------------------------------


def test_text_fields() -> None:
    (message,) = parse_fixture("text").messages
    raw = fixture_json("text")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message.message_id == raw["id"]
    assert message.timestamp == dt.datetime(2025, 10, 9, 8, 53, 20, tzinfo=dt.UTC)
    assert message.profile_name == "Budi Santoso"
    assert message.forwarded is False
    assert message.context_message_id is None
    assert message.media is None and message.location is None
    assert message.key == f"jakpus:{BUDI}"


def test_non_ascii_profile_name_is_decoded() -> None:
    (message,) = parse_fixture("text_non_ascii").messages
    assert message.profile_name == "André Siregar 🇮🇩"


@pytest.mark.parametrize(
    "name", ["interactive_button_reply", "interactive_list_reply", "button_template_reply"]
)
def test_replies_name_the_message_they_answer(name: str) -> None:
    (message,) = parse_fixture(name).messages
    raw = fixture_json(name)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message.context_message_id == raw["context"]["id"]
    assert message.context_message_id.startswith("wamid.")


def test_image_media() -> None:
    (message,) = parse_fixture("image_with_caption").messages
    assert message.media is not None
    assert message.media.media_id == "1475873623457621"
    assert message.media.mime_type == "image/jpeg"
    assert message.media.caption == message.text
    assert message.media.voice is None


def test_document_keeps_filename() -> None:
    (message,) = parse_fixture("document").messages
    assert message.media is not None
    assert message.media.filename == "surat_kehilangan_paspor.pdf"
    assert message.media.mime_type == "application/pdf"


def test_voice_note() -> None:
    (message,) = parse_fixture("audio_voice").messages
    assert message.media is not None
    assert message.media.voice is True
    assert message.media.mime_type == "audio/ogg; codecs=opus"
    assert message.text is None


def test_sticker_media() -> None:
    (message,) = parse_fixture("sticker").messages
    assert message.media is not None
    assert message.media.media_id == "7719283746501928"
    assert message.media.mime_type == "image/webp"


def test_location() -> None:
    (message,) = parse_fixture("location").messages
    assert message.location is not None
    assert (message.location.latitude, message.location.longitude) == (1.1301, 104.0529)
    assert message.location.name == "Mega Mall Batam Centre"


def test_reaction_points_at_our_message() -> None:
    (message,) = parse_fixture("reaction").messages
    raw = fixture_json("reaction")["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message.context_message_id == raw["reaction"]["message_id"]


def test_forwarded_contact_card() -> None:
    (message,) = parse_fixture("contacts").messages
    assert message.forwarded is True


def test_status_sent_pricing() -> None:
    (event,) = parse_fixture("status_sent").events
    assert event.pricing_category == "service"
    assert event.errors == []
    assert event.timestamp == dt.datetime.fromtimestamp(1760000065, tz=dt.UTC)
    assert event.message_id.startswith("wamid.")


def test_status_failed_carries_graph_error() -> None:
    (event,) = parse_fixture("status_failed_131047").events
    assert event.errors == [
        GraphError(
            code=131047,
            title="Re-engagement message",
            message="Re-engagement message",
            details="More than 24 hours have passed since the recipient last replied to the "
            "sender number.",
        )
    ]


def test_batched_keeps_order_within_and_across_entries() -> None:
    parsed = parse_fixture("batched")
    assert [m.timestamp.timestamp() for m in parsed.messages] == [
        1760005000,
        1760005002,
        1760005004,
    ]
    assert [m.profile_name for m in parsed.messages] == [
        "Budi Santoso",
        "André Siregar 🇮🇩",
        "Siti Rahmawati",
    ]


def test_unknown_number_keeps_the_whole_value() -> None:
    (unrouted,) = parse_fixture("unknown_phone_number_id").unrouted
    raw = fixture_json("unknown_phone_number_id")["entry"][0]["changes"][0]["value"]
    assert unrouted.payload == raw
    assert unrouted.phone_number_id == UNKNOWN_NUMBER
    assert unrouted.display_phone_number == raw["metadata"]["display_phone_number"]
    assert unrouted.received_at == RECEIVED_AT


def test_errors_only_keeps_the_errors_for_ops() -> None:
    (unrouted,) = parse_fixture("errors_only").unrouted
    assert unrouted.payload["errors"][0]["code"] == 130429
    assert unrouted.phone_number_id == JAKPUS


def test_partly_malformed_unroutes_only_the_broken_message() -> None:
    parsed = parse_fixture("partly_malformed")
    (unrouted,) = parsed.unrouted
    (broken,) = unrouted.payload["messages"]
    assert broken["timestamp"] == "kemarin"
    assert unrouted.payload["metadata"]["phone_number_id"] == BOGOR
    assert parsed.messages[0].profile_name == "Siti Rahmawati"


# --- failures: not a WhatsApp webhook at all (→ 400) -------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "body"),
        (b"not json", "body"),
        (b"\xff\xfe{}", "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (b"[]", "body"),
        (b'"whatsapp_business_account"', "body"),
        (b"null", "body"),
        (b'{"object": "whatsapp_business_account", "entry": [], "x": NaN}', "body"),
        (b'{"object": "whatsapp_business_account", "entry": [Infinity]}', "body"),
        (b'{"object": "whatsapp_business_account", "entry": [{"x": -1e400}]}', "body"),
        (b'{"object": "page", "entry": []}', "object"),
        (b'{"entry": []}', "object"),
        (b'{"object": "whatsapp_business_account"}', "entry"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry"),
    ],
    ids=[
        "empty",
        "not-json",
        "not-utf8",
        "too-deep",
        "array",
        "string",
        "null",
        "nan",
        "infinity",
        "float-overflow",
        "other-object",
        "no-object",
        "no-entry",
        "entry-not-list",
    ],
)
def test_malformed_envelope_fails(body: bytes, where: str) -> None:
    with pytest.raises(MalformedWebhook) as raised:
        parse(body)
    assert raised.value.where == where


def test_received_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_webhook(fixture_bytes("text"), REGISTRY, received_at=dt.datetime(2025, 10, 9))


# --- accepted, but not everything is deliverable (→ 200, unrouted or ignored) --------------


def _document(entry: Any) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_document("x"), "malformed entry.changes: missing or not a list"),
        (_document({"id": "1"}), "malformed entry.changes: missing or not a list"),
        (_document({"changes": [7]}), "malformed change: not an object"),
        (
            _document({"changes": [{"field": "messages"}]}),
            "malformed value: missing or not an object",
        ),
        (
            envelope({"messages": []}),
            "malformed value.metadata.phone_number_id: missing or not a string",
        ),
        (
            envelope(value(metadata={"phone_number_id": 100000000000001})),
            "malformed value.metadata.phone_number_id: missing or not a string",
        ),
        (envelope(value(messages={"0": text_message()})), "malformed value.messages: not a list"),
        (envelope(value(messages=["hi"])), "malformed value.messages[0]: not an object"),
        (
            envelope(value(messages=[{**text_message(), "from": ""}])),
            "malformed value.messages[0].from: missing or not a non-empty string",
        ),
        (
            envelope(value(messages=[{**text_message(), "timestamp": "99999999999999"}])),
            "malformed value.messages[0].timestamp: missing or not unix seconds",
        ),
        (
            envelope(value(messages=[{**text_message(), "timestamp": "253402300800"}])),
            "malformed value.messages[0].timestamp: out of range",
        ),
        (
            envelope(value(messages=[{**text_message(), "text": {"body": 5}}])),
            "malformed value.messages[0].text.body: missing or not a non-empty string",
        ),
        (
            envelope(
                value(
                    messages=[
                        {
                            **text_message(),
                            "type": "location",
                            "location": {"latitude": 91.0, "longitude": 0},
                        }
                    ]
                )
            ),
            "malformed value.messages[0].location.latitude: not within ±90",
        ),
        (
            envelope(value(messages=[{**text_message(), "type": "image", "image": {}}])),
            "malformed value.messages[0].image.id: missing or not a non-empty string",
        ),
        (
            envelope(value(statuses=[{"id": "wamid.X", "status": "sent", "timestamp": "1"}])),
            "malformed value.statuses[0].recipient_id: missing or not a non-empty string",
        ),
        (
            envelope(
                value(
                    statuses=[
                        {
                            "id": "wamid.X",
                            "status": "failed",
                            "timestamp": "1760000000",
                            "recipient_id": BUDI,
                            "errors": [{"code": "131047"}],
                        }
                    ]
                )
            ),
            "malformed value.statuses[0].errors[0].code: missing or not an integer",
        ),
    ],
    ids=lambda param: param[:40] if isinstance(param, str) else None,
)
def test_badly_shaped_parts_are_unrouted_not_fatal(body: bytes, reason: str) -> None:
    parsed = parse(body)
    assert parsed.messages == [] and parsed.events == []
    assert [u.reason for u in parsed.unrouted] == [reason]
    _assert_publishable(parsed)


@pytest.mark.parametrize("message_type", ["unsupported", "unknown", "system", "order"])
def test_other_types_are_unsupported_messages(message_type: str) -> None:
    message = {**text_message(), "type": message_type}
    del message["text"]
    (parsed,) = parse(envelope(value(messages=[message]))).messages
    assert parsed.kind is InboundKind.UNSUPPORTED
    assert parsed.text is None


def test_flow_reply_is_unsupported() -> None:
    message = {
        **text_message(),
        "type": "interactive",
        "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}},
    }
    (parsed,) = parse(envelope(value(messages=[message]))).messages
    assert parsed.kind is InboundKind.UNSUPPORTED


def test_unknown_status_is_kept_as_text() -> None:
    status = {"id": "wamid.X", "status": "deleted", "timestamp": "1760000000", "recipient_id": BUDI}
    (event,) = parse(envelope(value(statuses=[status]))).events
    assert event.status == "deleted"


def test_integer_timestamp_is_tolerated() -> None:
    (message,) = parse(
        envelope(value(messages=[{**text_message(), "timestamp": 1760000000}]))
    ).messages
    assert message.timestamp == dt.datetime(2025, 10, 9, 8, 53, 20, tzinfo=dt.UTC)


def test_lone_surrogate_is_replaced_so_the_message_can_be_published() -> None:
    body = envelope(value(messages=[text_message()])).replace(b'"Halo"', b'"Halo \\ud83d"')
    (message,) = parse(body).messages
    assert message.text == "Halo \ufffd"
    message.model_dump_json()


def test_duplicate_wamid_in_one_payload_is_ignored() -> None:
    body = envelope(value(messages=[text_message("satu"), text_message("dua")]))
    parsed = parse(body)
    assert [m.text for m in parsed.messages] == ["satu"]
    assert parsed.ignored == [f"duplicate message {parsed.messages[0].message_id}"]


def test_same_message_with_several_statuses_is_not_a_duplicate() -> None:
    statuses = [
        {"id": "wamid.X", "status": name, "timestamp": "1760000000", "recipient_id": BUDI}
        for name in ("sent", "delivered", "read", "read")
    ]
    parsed = parse(envelope(value(statuses=statuses)))
    assert [e.status for e in parsed.events] == ["sent", "delivered", "read"]
    assert parsed.ignored == ["duplicate status read wamid.X"]
    assert len({dedupe_key(e) for e in parsed.events}) == 3


def test_empty_messages_change_is_ignored() -> None:
    parsed = parse(envelope(value()))
    assert parsed.ignored == ["messages change without messages, statuses or errors"]
    assert parsed.unrouted == []


def test_errors_next_to_messages_are_kept_without_the_messages() -> None:
    errors = [{"code": 131000, "title": "Something went wrong"}]
    parsed = parse(envelope(value(messages=[text_message()], errors=errors)))
    assert len(parsed.messages) == 1
    (unrouted,) = parsed.unrouted
    assert unrouted.reason == REASON_ERRORS
    assert "messages" not in unrouted.payload and unrouted.payload["errors"] == errors


def test_profile_name_when_wa_id_differs_from_sender() -> None:
    # Meta: wa_id and the sender's number "may not always match"; one contact = the sender.
    contacts = [{"profile": {"name": "Budi"}, "wa_id": "62812345678900"}]
    (message,) = parse(envelope(value(contacts=contacts, messages=[text_message()]))).messages
    assert message.profile_name == "Budi"


def test_dedupe_keys() -> None:
    (message,) = parse_fixture("text").messages
    (event,) = parse_fixture("status_read").events
    assert dedupe_key(message) == f"in:{message.message_id}"
    assert dedupe_key(event) == f"ev:{event.message_id}:read"


# --- properties ------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_malformed(body: bytes) -> None:
    try:
        parse(body)
    except MalformedWebhook:
        pass


@settings(deadline=None)
@given(_json | st.floats())
def test_arbitrary_json_raises_only_malformed(document: Any) -> None:
    try:
        parse(json.dumps(document).encode())
    except MalformedWebhook:
        pass


_TYPES = [
    "text",
    "interactive",
    "button",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "location",
    "reaction",
    "contacts",
    "unsupported",
]
_FIELD_NAMES = [
    "body", "type", "button_reply", "list_reply", "id", "title", "payload", "text", "caption",
    "mime_type", "sha256", "filename", "voice", "latitude", "longitude", "name", "address",
    "emoji", "message_id", "formatted_name", "phones", "phone", "forwarded", "code",
    "error_data", "details", "category",
]  # fmt: skip
# JSON shaped like WhatsApp's: the right keys, anything as values.
_node = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES), children, max_size=5)
    ),
    max_leaves=15,
)


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the valid shape, sometimes any JSON: reaches deep fields, and breaks them."""
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda ok: valid if ok else _node
    )


_string = _mostly(st.text(max_size=12))
_coordinates = st.floats(min_value=-200, max_value=200)
_reply = st.fixed_dictionaries({"id": _string}, optional={"title": _string})
_media = st.fixed_dictionaries(
    {"id": _mostly(st.from_regex(r"[0-9]{16}", fullmatch=True))},
    optional={
        "caption": _string,
        "mime_type": _string,
        "sha256": _string,
        "filename": _string,
        "voice": _mostly(st.booleans()),
    },
)
_BODIES: dict[str, st.SearchStrategy[Any]] = {
    "text": st.fixed_dictionaries({"body": _string}),
    "interactive": st.fixed_dictionaries(
        {"type": _mostly(st.sampled_from(["button_reply", "list_reply", "nfm_reply"]))},
        optional={"button_reply": _mostly(_reply), "list_reply": _mostly(_reply)},
    ),
    "button": st.fixed_dictionaries({}, optional={"text": _string, "payload": _string}),
    "location": st.fixed_dictionaries(
        {"latitude": _mostly(_coordinates), "longitude": _mostly(_coordinates)},
        optional={"name": _string, "address": _string},
    ),
    "reaction": st.fixed_dictionaries({}, optional={"message_id": _string, "emoji": _string}),
    "contacts": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "name": _mostly(st.fixed_dictionaries({"formatted_name": _string})),
                "phones": _mostly(st.lists(st.fixed_dictionaries({}, optional={"phone": _string}))),
            },
        ),
        max_size=2,
    ),
    **{kind: _media for kind in ("image", "document", "audio", "video", "sticker")},
}


def _message_of(message_type: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "from": _mostly(st.just(BUDI)),
            "id": _mostly(st.sampled_from(["wamid.A", "wamid.B", "wamid.C"])),
            "timestamp": _mostly(st.integers(-5, 10**13).map(str)),
            "type": st.just(message_type),
            message_type: _mostly(_BODIES.get(message_type, _node)),
        },
        optional={
            "context": _mostly(
                st.fixed_dictionaries(
                    {}, optional={"id": _string, "forwarded": _mostly(st.booleans())}
                )
            ),
            "errors": _node,
        },
    )


_message = _mostly(st.sampled_from(_TYPES).flatmap(_message_of))

_error = st.fixed_dictionaries(
    {"code": _mostly(st.integers(0, 200_000))},
    optional={
        "title": _string,
        "message": _string,
        "error_data": _mostly(st.fixed_dictionaries({"details": _string})),
    },
)
_status = _mostly(
    st.fixed_dictionaries(
        {
            "id": _mostly(st.sampled_from(["wamid.A", "wamid.B"])),
            "status": _mostly(st.sampled_from(["sent", "delivered", "read", "failed", "new"])),
            "timestamp": _mostly(st.just("1760000000")),
            "recipient_id": _mostly(st.just(BUDI)),
        },
        optional={
            "errors": _mostly(st.lists(_error, max_size=2)),
            "pricing": _mostly(st.fixed_dictionaries({"category": _string})),
        },
    )
)
_value = st.fixed_dictionaries(
    {
        # Always valid here: broken metadata has its own example tests above.
        "metadata": st.fixed_dictionaries(
            {"phone_number_id": st.sampled_from([JAKPUS, BOGOR, BATAM, UNKNOWN_NUMBER])}
        )
    },
    optional={
        "contacts": _mostly(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "wa_id": _mostly(st.just(BUDI)),
                        "profile": st.fixed_dictionaries({"name": _string}),
                    }
                ),
                max_size=2,
            )
        ),
        "messages": _mostly(st.lists(_message, max_size=3)),
        "statuses": _mostly(st.lists(_status, max_size=3)),
        "errors": _node,
    },
)
_change = st.fixed_dictionaries({"field": _mostly(st.just("messages")), "value": _mostly(_value)})
_entry = _mostly(
    st.fixed_dictionaries(
        {"id": st.text(max_size=5), "changes": _mostly(st.lists(_change, max_size=3))}
    )
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_entry, max_size=3), st.booleans())
def test_any_whatsapp_shaped_payload_is_accepted_and_publishable(
    entries: list[Any], ascii_only: bool
) -> None:
    body = json.dumps(
        {"object": "whatsapp_business_account", "entry": entries}, ensure_ascii=ascii_only
    ).encode("utf-8", "surrogatepass")
    try:
        parsed = parse(body)
    except MalformedWebhook as exc:
        # The envelope is valid, so only undecodable text (a lone surrogate written raw) may fail.
        assert exc.where == "body" and not ascii_only
        return
    _assert_publishable(parsed)
    assert {m.office for m in parsed.messages + parsed.events} <= {"jakpus", "bogor", "batam"}


@settings(deadline=None)
@given(
    body=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
    wa_id=st.from_regex(r"62[0-9]{8,12}", fullmatch=True),
    wamid=st.from_regex(r"wamid\.[A-Za-z0-9+/]{20,60}={0,2}", fullmatch=True),
    office=st.sampled_from(["jakpus", "bogor", "batam"]),
    seconds=st.integers(min_value=0, max_value=2**32),
    ascii_only=st.booleans(),
)
def test_valid_text_payload_round_trips(
    body: str, wa_id: str, wamid: str, office: str, seconds: int, ascii_only: bool
) -> None:
    phone_number_id = REGISTRY.get(office).whatsapp.phone_number_id
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(seconds),
        "type": "text",
        "text": {"body": body},
    }
    document = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": value(
                            phone_number_id,
                            contacts=[{"profile": {"name": "Warga"}, "wa_id": wa_id}],
                            messages=[message],
                        ),
                    }
                ],
            }
        ],
    }
    parsed = parse(json.dumps(document, ensure_ascii=ascii_only).encode())
    (inbound,) = parsed.messages
    assert (inbound.text, inbound.wa_id, inbound.message_id) == (body, wa_id, wamid)
    assert inbound.office == office
    assert inbound.timestamp.timestamp() == seconds
    assert parsed.events == [] and parsed.unrouted == [] and parsed.ignored == []


# --- size: what Kafka could never take is kept aside ----------------------------------------


def test_oversized_parts_are_kept_aside_trimmed_and_the_rest_goes_on() -> None:
    huge = "a" * 300_000
    statuses = fixture_json("status_failed_131047")["entry"][0]["changes"][0]["value"]
    statuses["statuses"][0]["errors"][0]["message"] = "e" * 300_000
    body = envelope(
        value(messages=[text_message(huge, "wamid.huge"), text_message("halo", "wamid.ok")]),
        value(UNKNOWN_NUMBER, messages=[text_message(huge, "wamid.stray")]),
        statuses,
    )
    parsed = parse(body)
    assert len(parsed.messages) == 2 and len(parsed.events) == 1 and len(parsed.unrouted) == 1
    kept = keep_aside_oversized(parsed, message_limit=100_000, record_limit=200_000)
    assert [m.message_id for m in kept.messages] == ["wamid.ok"]
    assert kept.events == []
    assert [u.reason for u in kept.unrouted] == [REASON_TOO_LARGE] * 3
    message, event, stray = kept.unrouted
    assert (
        message.payload["message_id"] == "wamid.huge" and message.payload["text_chars"] == 300_000
    )
    assert message.payload["text_excerpt"] == huge[:2000] and message.phone_number_id == JAKPUS
    assert event.payload["record_bytes"] > 200_000 and len(event.payload["sha256"]) == 64
    assert stray.phone_number_id == UNKNOWN_NUMBER
    for item in kept.unrouted:
        assert len(encode(item)) < 10_000
    # Within the limits nothing changes.
    assert keep_aside_oversized(parsed, message_limit=10**6, record_limit=10**6) == parsed
