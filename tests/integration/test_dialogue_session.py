"""The router's session keeps the dialogue context in Redis: the topic the router answered,
the ticket the sender's reply confirmed (`Sessions`, real Redis)."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from gerbang.dialogue import LastTopic, OpenTicket
from gerbang.messages import Intent, OutboundReply, Service, TextContent, TicketRef
from gerbang_gateway.redis_state import Sessions

pytestmark = pytest.mark.integration


def reply(ticket: TicketRef | None) -> OutboundReply:
    return OutboundReply(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id="6281234567890",
        idempotency_key="reply:wamid.x:0",
        in_reply_to="wamid.x",
        intent=Intent.FEEDBACK_COMPLAINT,
        service=Service.FEEDBACK,
        content=TextContent(body="Nomor tiket: JKP-2026-000001"),
        ticket=ticket,
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
