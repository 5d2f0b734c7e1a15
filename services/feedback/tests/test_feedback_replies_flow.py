"""Replies within WhatsApp limits, and the conversation steps (pure)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from gerbang.messages import (
    ButtonsContent,
    Conversation,
    FeedbackKind,
    InboundKind,
    InboundMessage,
    Intent,
    Service,
    ServiceRequest,
    TextContent,
)
from gerbang.offices import Lang, OfficeRegistry, default_offices_dir, load_registry
from gerbang_feedback import flow, replies
from gerbang_feedback.classify import CONTACT_REQUESTED, PUNGLI


@pytest.fixture(scope="module")
def registry() -> OfficeRegistry:
    return load_registry(default_offices_dir())


LANGS: list[Lang] = ["id", "en"]


@pytest.mark.parametrize("lang", LANGS)
def test_choice_buttons(registry: OfficeRegistry, lang: Lang) -> None:
    for office in registry:
        content = replies.choice_buttons(office, lang, registry)
        assert isinstance(content, ButtonsContent)
        ids = [b.id for b in content.buttons]
        assert ids == [
            f"feedback:{kind}|choose" for kind in ("appreciation", "complaint", "suggestion")
        ]
        assert all(len(b.title) <= 20 for b in content.buttons)
        assert len(content.body) <= 1024
        assert office.short_name in content.body
    titles = [
        b.title for b in replies.choice_buttons(registry.get("jakpus"), "id", registry).buttons
    ]
    assert titles == ["Apresiasi", "Keluhan", "Saran"]


@pytest.mark.parametrize(("kind", "lang"), list(itertools.product(FeedbackKind, LANGS)))
def test_prompt_and_its_expectation(
    registry: OfficeRegistry, kind: FeedbackKind, lang: Lang
) -> None:
    content = replies.prompt(kind, registry.get("jakpus"), lang, registry)
    assert 0 < len(content.body) <= 4096
    assert ("batal" if lang == "id" else "cancel") in content.body
    expect = replies.prompt_expectation(kind)
    assert expect.service is Service.FEEDBACK
    assert expect.context == {"kind": kind.value}


@pytest.mark.parametrize(
    ("kind", "urgent", "flags", "lang"),
    [
        (FeedbackKind.APPRECIATION, False, (), "id"),
        (FeedbackKind.SUGGESTION, False, (), "en"),
        (FeedbackKind.COMPLAINT, False, (), "id"),
        (FeedbackKind.COMPLAINT, False, (CONTACT_REQUESTED,), "en"),
        (FeedbackKind.COMPLAINT, True, (PUNGLI,), "id"),
        (FeedbackKind.COMPLAINT, True, (PUNGLI,), "en"),
    ],
)
def test_confirmation(
    registry: OfficeRegistry, kind: FeedbackKind, urgent: bool, flags: tuple[str, ...], lang: Lang
) -> None:
    office = registry.get("jakpus")
    content = replies.confirmation(
        ticket="JKP-2026-000123",
        kind=kind,
        urgent=urgent,
        flags=flags,
        office=office,
        registry=registry,
        lang=lang,
    )
    assert isinstance(content, TextContent)
    assert len(content.body) <= 4096
    assert "JKP-2026-000123" in content.body
    channels = registry.national.complaint_channels.get(lang)
    assert (channels in content.body) is urgent
    assert ("lapor.go.id" in content.body) is urgent
    follow_up = "menindaklanjuti" if lang == "id" else "follow up"
    assert (follow_up in content.body) is (kind is FeedbackKind.COMPLAINT)
    contact = "menghubungi Anda" if lang == "id" else "contact you"
    assert (contact in content.body) is (CONTACT_REQUESTED in flags or urgent)


def test_kind_of_choice() -> None:
    assert replies.kind_of_choice("feedback:complaint|choose") is FeedbackKind.COMPLAINT
    assert replies.kind_of_choice("feedback:nonsense|choose") is None
    assert replies.kind_of_choice("status|optin|X") is None
    assert replies.kind_of_choice(None) is None


# --- flow ---------------------------------------------------------------------------------


def request(
    text: str | None = None,
    *,
    reply_id: str | None = None,
    intent: Intent = Intent.FEEDBACK_SUGGESTION,
    expected_kind: str | None = None,
    kind: InboundKind = InboundKind.TEXT,
) -> ServiceRequest:
    inbound = InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        message_id="wamid.flow",
        timestamp=dt.datetime.now(dt.UTC),
        kind=kind,
        text=text,
        reply_id=reply_id,
    )
    conversation = (
        Conversation(expected=True, context={"kind": expected_kind})
        if expected_kind
        else Conversation()
    )
    return ServiceRequest(inbound=inbound, intent=intent, conversation=conversation)


def test_menu_row_offers_the_three_kinds() -> None:
    assert flow.decide(request("Saran & keluhan", reply_id="feedback")) == flow.OfferChoices()


def test_a_vague_message_offers_the_three_kinds() -> None:
    # The words' kind travels with the offer: a message typed instead of a tap is that kind.
    assert flow.decide(request("mau kasih masukan")) == flow.OfferChoices(
        hint=FeedbackKind.SUGGESTION
    )


@pytest.mark.parametrize("text", ["ok makasih", "terima kasih min", "thanks", "makasih kak"])
def test_plain_thanks_is_answered_not_ticketed(registry: OfficeRegistry, text: str) -> None:
    step = flow.decide(request(text, intent=Intent.FEEDBACK_APPRECIATION))
    assert step == flow.OfferChoices(thanked=True)
    office = registry.get("jakpus")
    said = replies.choice_buttons(office, "id", registry, thanked=True)
    assert said.body.startswith("Sama-sama") and "menu" in said.body
    assert replies.choice_buttons(office, "en", registry, thanked=True).body.startswith(
        "You're welcome"
    )


def test_thanks_with_substance_is_recorded() -> None:
    step = flow.decide(
        request(
            "terima kasih, petugas loket 3 sangat membantu", intent=Intent.FEEDBACK_APPRECIATION
        )
    )
    assert isinstance(step, flow.Record)
    assert step.classification.kind is FeedbackKind.APPRECIATION


def test_a_choice_asks_for_the_message() -> None:
    step = flow.decide(
        request("Keluhan", reply_id="feedback:complaint|choose", intent=Intent.FEEDBACK_COMPLAINT)
    )
    assert step == flow.AskForMessage(FeedbackKind.COMPLAINT)


def test_the_expected_message_is_recorded_with_the_chosen_kind() -> None:
    step = flow.decide(request("ruang tunggu panas", expected_kind="suggestion"))
    assert isinstance(step, flow.Record)
    assert step.classification.kind is FeedbackKind.SUGGESTION
    assert step.text == "ruang tunggu panas"


def test_even_a_short_expected_message_is_recorded() -> None:
    step = flow.decide(request("bagus", expected_kind="appreciation"))
    assert isinstance(step, flow.Record)


def test_cancel_and_media_while_waiting() -> None:
    assert flow.decide(request("batal", expected_kind="complaint")) == flow.Cancel()
    media = request(None, expected_kind="complaint", kind=InboundKind.IMAGE)
    assert flow.decide(media) == flow.AskForText(FeedbackKind.COMPLAINT)


def test_a_clear_unprompted_message_is_recorded_at_once() -> None:
    step = flow.decide(
        request("ada oknum ngaku petugas imigrasi minta transfer", intent=Intent.FEEDBACK_COMPLAINT)
    )
    assert isinstance(step, flow.Record)
    assert step.classification.urgent


def test_a_short_urgent_report_is_recorded_not_offered() -> None:
    assert isinstance(flow.decide(request("ada pungli")), flow.Record)
