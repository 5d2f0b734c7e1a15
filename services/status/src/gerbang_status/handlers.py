"""The status worker's handlers (thin): decode → pure core → Redis/Kafka → replies.

- `materialise` consumes `status.updates`: writes the view (newest version wins) and sends
  the one notification a stage change owes an opted-in applicant.
- `answer` consumes `status.requests`: the conversation (`conversation.py`), with the
  lockout counters and the view in Redis.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from prometheus_client import Counter

from gerbang.bus import Producer, Publish, Reject
from gerbang.logs import bind
from gerbang.messages import ApplicationRecord, ServiceRequest, Topic, utcnow
from gerbang.offices import OfficeRegistry, UnknownOffice
from gerbang.opsstats import OpsStats
from gerbang_status.conversation import (
    WIB,
    LookupResult,
    OptIn,
    Outcome,
    Query,
    classify,
    read_turn,
    respond,
)
from gerbang_status.lockout import (
    LockScope,
    LockState,
    counts_for_application,
    is_number_on_file,
    needs_turn,
)
from gerbang_status.notify import advance, notification, should_notify
from gerbang_status.parsing import ApplicationNoFormat
from gerbang_status.store import LockoutStore, OptInStore, StatusView

log = logging.getLogger(__name__)

LOOKUPS = Counter(
    "gerbang_status_lookups_total", "Status lookups by outcome", ["office", "outcome"]
)
LOCKOUTS = Counter(
    "gerbang_status_lockouts_total",
    "Locks (scope wa_id) and guards (scope application) set after too many failed lookups",
    ["office", "scope"],
)
NOTIFICATIONS = Counter(
    "gerbang_status_notifications_total", "Stage-change notifications sent", ["office"]
)
OPTINS = Counter("gerbang_status_optins_total", "Opt-in taps by result", ["office", "accepted"])


class StatusWorker:
    """Both handlers of the status worker, over the shared Redis adapters."""

    def __init__(
        self,
        registry: OfficeRegistry,
        view: StatusView,
        lockout: LockoutStore,
        optins: OptInStore,
        producer: Producer,
        *,
        fmt: ApplicationNoFormat,
        expect_ttl_s: int = 600,
        stats: OpsStats | None = None,
    ) -> None:
        self.registry = registry
        self.view = view
        self.lockout = lockout
        self.optins = optins
        self.producer = producer
        self.fmt = fmt
        self.expect_ttl_s = expect_ttl_s
        self.stats = stats

    async def materialise(self, record: ApplicationRecord) -> Sequence[Publish]:
        """Apply one update to the view; notify the opted-in applicant of a stage change.

        The notification is published here (acked) *before* the opt-in remembers the
        version, so a crash in between re-sends the same idempotency key, which the sender
        drops: at least once on Kafka, exactly once for the citizen.
        """
        with bind(office=record.office, application_no=record.application_no):
            await self.view.put(record)
            optin = await self.optins.get(record.application_no)
            if optin is None or record.version <= optin.notified_version:
                return []
            if should_notify(optin, record):
                try:
                    office = self.registry.get(record.office)
                except UnknownOffice:
                    raise Reject(f"update for unknown office {record.office!r}") from None
                reply = notification(optin, record, office, self.registry)
                await self.producer.publish(Topic.OUTBOUND, reply.key, reply)
                NOTIFICATIONS.labels(office.code).inc()
                log.info(
                    "stage change notified",
                    extra={"version": record.version, "stage": record.stage.value},
                )
            await self.optins.advance(advance(optin, record))
            return []

    async def answer(self, request: ServiceRequest) -> Sequence[Publish]:
        """Answer one message of the status conversation."""
        try:
            office = self.registry.get(request.office)
        except UnknownOffice:
            raise Reject(f"request for unknown office {request.office!r}") from None
        now = utcnow()
        inbound = request.inbound
        step = read_turn(
            inbound.text,
            inbound.reply_id,
            request.conversation.context,
            expected=request.conversation.expected,
            today=now.astimezone(WIB).date(),
            fmt=self.fmt,
            understanding=request.understanding,
        )
        result = None
        accepted = False
        record = None
        if isinstance(step, Query):
            result, record = await self._lookup(office.code, inbound.wa_id, step, now)
        elif isinstance(step, OptIn):
            accepted = await self.optins.accept(
                office.code, inbound.wa_id, step.application_no, request.language
            )
            OPTINS.labels(office.code, str(accepted).lower()).inc()
        reply = respond(
            step, lang=request.language, office=office, registry=self.registry, now=now,
            result=result, optin_accepted=accepted, expect_ttl=self.expect_ttl_s,
        )  # fmt: skip
        if reply.offer_optin and record is not None:
            await self.optins.offer(office.code, inbound.wa_id, record)
        last = len(reply.contents) - 1
        replies = [
            request.reply(content, part=i, expect=reply.expect if i == last else None)
            for i, content in enumerate(reply.contents)
        ]
        return [Publish(Topic.OUTBOUND, r.key, r) for r in replies]

    async def _count(self, office: str, outcome: Outcome) -> None:
        LOOKUPS.labels(office, outcome.value).inc()
        if self.stats is not None:  # per-office counts for /ops
            await self.stats.record_lookup(office, outcome.value)

    async def _lookup(
        self, office: str, wa_id: str, query: Query, now: dt.datetime
    ) -> tuple[LookupResult, ApplicationRecord | None]:
        # A locked wa_id gets no lookup at all.
        wa_locked_s, guarded = await self.lockout.state(wa_id, query.application_no)
        if wa_locked_s:
            return await self._locked(office, LockState(wa_id_seconds=wa_locked_s))
        await self.view.ensure_ready()
        record = await self.view.get(query.application_no)
        # The owner's number (WhatsApp authenticates the wa_id) passes a guard; for anyone
        # else this is False whether or not the application exists, so it reveals nothing.
        on_file = is_number_on_file(record.wa_id if record else None, wa_id)
        if needs_turn(guarded=guarded, on_file=on_file):
            turn = await self.lockout.take_turn(query.application_no)
            if turn.locked:
                return await self._locked(office, turn)
        outcome = classify(record, office, query.date_of_birth)
        await self._count(office, outcome)
        if outcome is not Outcome.NOT_FOUND_OR_MISMATCH:
            return LookupResult(outcome, record), record
        reached = await self.lockout.record_failure(
            wa_id, query.application_no, count_application=counts_for_application(on_file=on_file)
        )
        for scope in reached:
            LOCKOUTS.labels(office, scope.value).inc()
        if LockScope.WA_ID in reached:
            # This failure reached the wa_id's limit: say so now rather than after one more.
            return LookupResult(
                Outcome.LOCKED, lock=LockState(wa_id_seconds=self.lockout.policy.lock_seconds)
            ), None
        return LookupResult(outcome), None

    async def _locked(
        self, office: str, lock: LockState
    ) -> tuple[LookupResult, ApplicationRecord | None]:
        await self._count(office, Outcome.LOCKED)
        return LookupResult(Outcome.LOCKED, lock=lock), None
