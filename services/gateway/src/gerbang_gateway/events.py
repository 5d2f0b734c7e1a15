"""Delivery events (`whatsapp.events`): Meta's status webhooks for the replies we sent.

Counted per office and status; failures are counted by Graph error code, because errors may
arrive only asynchronously (reference: whatsapp-cloud-api.md §1.6, "watch both").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gerbang import metrics
from gerbang.bus import Publish
from gerbang.messages import DeliveryEvent, DeliveryStatus

log = logging.getLogger(__name__)


async def record_event(event: DeliveryEvent) -> Sequence[Publish]:
    """Count a delivery status; log failures with their error codes."""
    metrics.DELIVERY_EVENTS.labels(event.office, str(event.status)).inc()
    if event.status == DeliveryStatus.FAILED:
        for error in event.errors or []:
            metrics.SEND_FAILURES.labels(event.office, str(error.code), "webhook").inc()
        log.warning(
            "message delivery failed",
            extra={"wamid": event.message_id, "codes": [e.code for e in event.errors]},
        )
    return []
