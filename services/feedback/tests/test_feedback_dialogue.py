"""The feedback conversation's part in issue 9: the kinds offered expect a typed answer, a
scam report is a record, a detail is appended to the ticket just recorded (flow pure; the
handler and the view over real Redis)."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from gerbang.dialogue import APPEND_KEY, OFFER_KEY
from gerbang.messages import (
    Conversation,
    FeedbackAddendum,
    FeedbackKind,
    FeedbackRecord,
    InboundKind,
    InboundMessage,
    Intent,
    OutboundReply,
    Service,
    ServiceRequest,
    TextContent,
    Understanding,
)
from gerbang.offices import OfficeRegistry
from gerbang_feedback import flow
from gerbang_feedback.handlers import FeedbackHandler, ViewUpdater
from gerbang_feedback.view import FeedbackView


def request(
    text: str,
    *,
    intent: Intent = Intent.FEEDBACK_COMPLAINT,
    context: dict[str, object] | None = None,
    numbers: tuple[str, ...] = (),
    message_id: str = "wamid.dialogue.1",
) -> ServiceRequest:
    inbound = InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        message_id=message_id,
        timestamp=dt.datetime.now(dt.UTC),
        kind=InboundKind.TEXT,
        text=text,
    )
    return ServiceRequest(
        inbound=inbound,
        intent=intent,
        understanding=Understanding(intent=intent, confidence=0.9, phone_numbers=numbers),
        conversation=Conversation(expected=context is not None, context=context or {}),
    )


def test_announced_complaint_offers_kinds_with_the_hint() -> None:
    assert flow.decide(request("mau komplain")) == flow.OfferChoices(hint=FeedbackKind.COMPLAINT)


def test_a_typed_answer_to_the_kinds_is_recorded_as_the_hinted_kind() -> None:
    step = flow.decide(
        request("antri dari subuh, nomor antrean dilewati terus", context={OFFER_KEY: "complaint"})
    )
    assert isinstance(step, flow.Record)
    assert step.classification.kind is FeedbackKind.COMPLAINT


def test_a_cancel_to_the_kinds_records_nothing() -> None:
    assert flow.decide(request("batal", context={OFFER_KEY: "complaint"})) == flow.Cancel()


def test_a_detail_for_the_ticket_is_an_append() -> None:
    step = flow.decide(request("di loket 2", context={APPEND_KEY: "JKP-2026-000009"}))
    assert step == flow.Append("JKP-2026-000009", "di loket 2")


def test_a_scam_report_is_urgent_and_flagged() -> None:
    step = flow.decide(
        request("mau lapor penipu ngaku imigrasi 081299887766", intent=Intent.FEEDBACK_SCAM_REPORT)
    )
    assert isinstance(step, flow.Record)
    assert step.classification.kind is FeedbackKind.SCAM_REPORT
    assert step.classification.urgent and "scam_report" in step.classification.flags


@pytest.mark.asyncio
@pytest.mark.integration
async def test_record_then_detail_then_view(registry: OfficeRegistry, redis_db: Redis) -> None:
    """A scam report is recorded with the number and checked; a detail goes to its ticket
    and into the view once, however often it is delivered."""
    view = FeedbackView(redis_db)
    await view.mark_ready()
    handler = FeedbackHandler(registry, view)
    updater = ViewUpdater(view, retention_days=365)
    text = "mau lapor nomor penipu yg ngaku imigrasi, nomornya 081299887766"
    out = await handler.handle(
        request(text, intent=Intent.FEEDBACK_SCAM_REPORT, numbers=("6281299887766",))
    )
    [record] = [p.value for p in out if isinstance(p.value, FeedbackRecord)]
    replies = [p.value for p in out if isinstance(p.value, OutboundReply)]
    assert record.kind is FeedbackKind.SCAM_REPORT and record.urgent
    assert record.reported_numbers == ["6281299887766"]
    assert replies[0].ticket is not None and replies[0].ticket.ticket == record.ticket
    check = replies[1].content
    assert isinstance(check, TextContent) and "+62 812-9988-7766" in check.body
    await updater.apply(record)

    detail = request(
        "dia chat saya kemarin sore",
        context={APPEND_KEY: record.ticket, "kind": "scam_report"},
        message_id="wamid.dialogue.2",
    )
    out = await handler.handle(detail)
    [addendum] = [p.value for p in out if isinstance(p.value, FeedbackAddendum)]
    [told] = [p.value for p in out if isinstance(p.value, OutboundReply)]
    assert isinstance(told.content, TextContent)
    assert f"laporan *{record.ticket}*" in told.content.body
    assert told.ticket is not None and told.service is Service.FEEDBACK
    assert await updater.apply(addendum) is True
    assert await updater.apply(addendum) is False  # redelivered: applied once
    entry = await view.get(record.ticket)
    assert entry is not None
    assert entry.text.startswith(text) and entry.text.count("dia chat saya kemarin sore") == 1
