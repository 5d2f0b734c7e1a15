"""Keeping the Redis view whole: rebuild from `feedback.recorded`, and retention.

The view consumer group only sees what comes after its committed offsets, so when Redis lost
the view (flushed, replaced, a fresh instance) the group alone would never fill it again. The
worker therefore checks the `view:ready` marker: if it is missing, it reads the whole log
from the beginning up to the end offsets it saw at the start and applies every event
(idempotently), then sets the marker. Ticket numbers are not handed out meanwhile
(`ViewNotReady`: the requests wait and are retried), so a flushed counter never reuses a
number that is already on the log.

The read is the bus's `replay`: a bounded read of the topic without a consumer group; nothing
is produced and no offset is committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from gerbang.bus import UNAVAILABLE_ERRORS, Replayed, replay
from gerbang.messages import FeedbackEvent, Topic, utcnow
from gerbang.offices import OfficeRegistry
from gerbang.settings import ServiceSettings
from gerbang_feedback.handlers import ViewUpdater
from gerbang_feedback.metrics import FEEDBACK_PURGED
from gerbang_feedback.view import FeedbackView

log = logging.getLogger(__name__)


async def rebuild_view(
    settings: ServiceSettings, view: FeedbackView, updater: ViewUpdater, *, max_seconds: float = 600
) -> int:
    """Apply the whole feedback.recorded log to the view, then mark it ready (events applied)."""
    applied = 0

    async def apply(batch: list[Replayed[FeedbackEvent]]) -> None:
        nonlocal applied
        for record in batch:
            if record.value is None:
                log.error(
                    "undecodable event on the log skipped in rebuild",
                    extra={"partition": record.partition, "offset": record.offset,
                           "error": str(record.error)[:500]},
                )  # fmt: skip
                continue
            await updater.apply(record.value)
            applied += 1

    await replay(
        settings,
        Topic.FEEDBACK_RECORDED,
        FeedbackEvent,
        apply,
        client_id="feedback-rebuild",
        timeout_s=max_seconds,
    )
    await view.mark_ready()
    log.info("feedback view rebuilt from the log", extra={"events": applied})
    return applied


async def ensure_view(settings: ServiceSettings, view: FeedbackView, updater: ViewUpdater) -> bool:
    """Rebuild the view if Redis does not have it. True if a rebuild ran."""
    if await view.is_ready():
        return False
    log.warning("feedback view missing in Redis; rebuilding from feedback.recorded")
    await rebuild_view(settings, view, updater)
    return True


async def purge_expired(
    view: FeedbackView,
    registry: OfficeRegistry,
    retention_days: int,
    now: dt.datetime | None = None,
) -> int:
    """Remove tickets older than the retention from the view (the log keeps them)."""
    cutoff = ((now or utcnow()) - dt.timedelta(days=retention_days)).timestamp()
    total = 0
    for office in registry:
        removed = await view.purge_before(office.code, cutoff)
        if removed:
            FEEDBACK_PURGED.labels(office.code).inc(removed)
            log.info(
                "expired feedback removed from the view",
                extra={"office": office.code, "removed": removed},
            )
        total += removed
    return total


async def maintain_view(
    settings: ServiceSettings,
    view: FeedbackView,
    updater: ViewUpdater,
    registry: OfficeRegistry,
    *,
    retention_days: int,
    check_interval: float,
    retention_interval: float,
) -> None:
    """Background job of the worker: keep the view present and within retention, forever."""
    last_purge = float("-inf")
    while True:
        try:
            await ensure_view(settings, view, updater)
            if time.monotonic() - last_purge >= retention_interval:
                await purge_expired(view, registry, retention_days)
                last_purge = time.monotonic()
        except UNAVAILABLE_ERRORS as exc:
            # Redis or Kafka is down: the consumers wait for it too; try again next round.
            log.warning("view maintenance postponed", extra={"error": repr(exc)})
        await asyncio.sleep(check_interval)
