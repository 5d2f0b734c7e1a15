"""`gerbang ask` for status messages: the reply the worker would send, without Kafka or
Redis. Offline there are no applications, so a full query gets the neutral not-found
answer, exactly as an unknown number would."""

from __future__ import annotations

from gerbang.messages import ReplyContent
from gerbang.offices import Office, OfficeRegistry
from gerbang.understanding import Understanding
from gerbang_status.conversation import converse


def reply(
    registry: OfficeRegistry, office: Office, text: str, understanding: Understanding
) -> list[ReplyContent]:
    """The status worker's answer to `text`, as a first message of a conversation."""
    answer = converse(
        text, office=office, registry=registry, records={}, lang=understanding.language
    )
    return list(answer.contents)
