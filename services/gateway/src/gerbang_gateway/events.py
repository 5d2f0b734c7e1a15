"""Delivery events (`whatsapp.events`): Meta's status webhooks that need a reader.

The webhook API counts every status (`gerbang_delivery_events_total`) and puts only those
that are more than routine on the topic: failures, statuses with errors, statuses Meta adds
later. Failures are counted here by Graph error code, because errors may arrive only
asynchronously (reference: whatsapp-cloud-api.md §1.6, "watch both").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gerbang import metrics
from gerbang.bus import Publish
from gerbang.messages import DeliveryEvent, DeliveryStatus

log = logging.getLogger(__name__)


async def record_event(event: DeliveryEvent) -> Sequence[Publish]:
    """Count a failure by its error codes and log it (the webhook API counted the status)."""
    if event.status == DeliveryStatus.FAILED:
        for error in event.errors or []:
            metrics.SEND_FAILURES.labels(event.office, str(error.code), "webhook").inc()
        log.warning(
            "message delivery failed",
            extra={"wamid": event.message_id, "codes": [e.code for e in event.errors]},
        )
    return []
