"""The router's session keeps the dialogue context in Redis: the topic the router answered,
the ticket the sender's reply confirmed (`Sessions`, real Redis)."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from gerbang.dialogue import LastTopic, OpenTicket
from gerbang.messages import (
    Expectation,
    Intent,
    OutboundReply,
    Service,
    TextContent,
    TicketRef,
)
from gerbang_gateway.redis_state import Sessions

pytestmark = pytest.mark.integration


def reply(
    ticket: TicketRef | None,
    *,
    service: Service = Service.FEEDBACK,
    expect: Expectation | None = None,
    language: str | None = None,
) -> OutboundReply:
    return OutboundReply(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        idempotency_key="reply:wamid.x:0",
        in_reply_to="wamid.x",
        intent=Intent.FEEDBACK_COMPLAINT,
        service=service,
        content=TextContent(body="Nomor tiket: JKP-2026-000001"),
        ticket=ticket,
        expect=expect,
        language=language,  # type: ignore[arg-type]
    )


async def test_topic_and_ticket_live_in_the_session(redis_db: Redis) -> None:
    sessions = Sessions(redis_db, "t.", 3600)
    now = dt.datetime.now(dt.UTC)
    topic = LastTopic(Intent.FAQ_FEES, {"validity_years": 10}, now.timestamp())
    await sessions.record_inbound(
        "jakpus", "6281234567890", at=now, language="id", clear_expectation=False, topic=topic
    )
    assert (await sessions.load("jakpus", "6281234567890")).topic == topic
    # A message answered as no topic keeps the last one.
    await sessions.record_inbound(
        "jakpus", "6281234567890", at=now, language=None, clear_expectation=False
    )
    assert (await sessions.load("jakpus", "6281234567890")).topic == topic

    await sessions.apply_reply(reply(TicketRef(ticket="JKP-2026-000001", kind="complaint")), 50.0)
    session = await sessions.load("jakpus", "6281234567890")
    assert session.ticket == OpenTicket("JKP-2026-000001", "complaint", 50.0)
    await sessions.apply_reply(reply(None), 60.0)  # a reply naming no ticket leaves it
    assert (await sessions.load("jakpus", "6281234567890")).ticket == session.ticket
    await sessions.record_inbound(
        "jakpus", "6281234567890", at=now, language=None, clear_expectation=False,
        clear_ticket=True,
    )  # fmt: skip
    assert (await sessions.load("jakpus", "6281234567890")).ticket is None


async def test_expectations_are_set_and_cleared_by_who_set_them(redis_db: Redis) -> None:
    """The sender's `apply_reply` and the router's `record_inbound` (one script each): an
    expectation is set by a reply that asks, cleared by the same service's final reply but
    not by another's, and by the router once a message answered it."""
    sessions = Sessions(redis_db, "t.", 3600)
    wa_id, now = "6281234567890", dt.datetime.now(dt.UTC)
    asks = Expectation(service=Service.STATUS, context={"step": "number"}, ttl_seconds=600)
    before = await sessions.apply_reply(reply(None, service=Service.STATUS, expect=asks), 100.0)
    assert before.expect_service is None  # the conversation as it was
    session = await sessions.load("jakpus", wa_id)
    assert session.expect_service is Service.STATUS
    assert session.expect_context == {"step": "number"} and session.expect_until == 700.0
    await sessions.apply_reply(reply(None, service=Service.FAQ, language="en"), 110.0)
    session = await sessions.load("jakpus", wa_id)
    assert session.expect_service is Service.STATUS and session.language == "en"
    before = await sessions.apply_reply(reply(None, service=Service.STATUS), 120.0)
    assert before.expect_service is Service.STATUS
    assert (await sessions.load("jakpus", wa_id)).expect_service is None
    await sessions.apply_reply(reply(None, service=Service.STATUS, expect=asks), 130.0)
    for seen in (1, 2):
        await sessions.record_inbound(
            "jakpus", wa_id, at=now, language="id", clear_expectation=seen == 2
        )
        session = await sessions.load("jakpus", wa_id)
        assert session.messages_seen == seen and session.language == "id"
        assert session.last_inbound_at == now.timestamp()
        assert (session.expect_service is None) is (seen == 2)
    assert 3500 < await redis_db.ttl(sessions.key("jakpus", wa_id)) <= 3600
