"""`gerbang ask` for status messages (`gerbang.offline_turns`): the step the worker would take,
without Kafka or Redis. Offline there are no applications, so a full query gets the neutral
not-found answer, exactly as an unknown number would."""

from __future__ import annotations

from gerbang.messages import OutboundReply, ServiceRequest
from gerbang.offices import OfficeRegistry
from gerbang_status.conversation import converse


def turn(registry: OfficeRegistry, request: ServiceRequest) -> list[OutboundReply]:
    """One step of the status conversation offline (`gerbang.offline_turns`): the worker's
    replies and directive, over no applications."""
    office = registry.get(request.office)
    inbound = request.inbound
    answer = converse(
        inbound.text,
        office=office,
        registry=registry,
        records={},
        lang=request.language,
        reply_id=inbound.reply_id,
        context=request.conversation.context,
        expected=request.conversation.expected,
    )
    last = len(answer.contents) - 1
    return [
        request.reply(content, part=i, expect=answer.expect if i == last else None)
        for i, content in enumerate(answer.contents)
    ]
